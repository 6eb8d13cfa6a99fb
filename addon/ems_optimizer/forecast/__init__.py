"""Forecasts of load and PV for the planner: pure functions on pandas data."""

from .core import AUTO, Forecast, ForecastConfig, SeriesForecast, forecast, forecast_series
from .grid import plan_grid
from .pv import pv_forecast_to_grid, series_from_records
from .weather import weather_to_grid

__all__ = [
    "AUTO",
    "Forecast",
    "ForecastConfig",
    "SeriesForecast",
    "forecast",
    "forecast_series",
    "plan_grid",
    "pv_forecast_to_grid",
    "series_from_records",
    "weather_to_grid",
]
