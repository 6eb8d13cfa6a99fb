"""Forecasts of load and PV for the planner: pure functions on pandas data.

Names are imported on first use, so that the CLI can list the forecast commands without
loading pandas for the others.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import AUTO, Forecast, ForecastConfig, SeriesForecast, forecast, forecast_series
    from .grid import plan_grid
    from .pv import pv_forecast_to_grid, series_from_records
    from .weather import weather_to_grid

_HOME = {
    "AUTO": ".core",
    "Forecast": ".core",
    "ForecastConfig": ".core",
    "SeriesForecast": ".core",
    "forecast": ".core",
    "forecast_series": ".core",
    "plan_grid": ".grid",
    "pv_forecast_to_grid": ".pv",
    "series_from_records": ".pv",
    "weather_to_grid": ".weather",
}

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


def __getattr__(name: str) -> Any:
    """The public names, from their modules on first use."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOME[name], __name__), name)
