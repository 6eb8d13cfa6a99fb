"""A PV forecast from Home Assistant (Forecast.Solar, Solcast…) put on the plan grid."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from .clean import infer_step, to_step_grid
from .grid import epoch_seconds

type Label = Literal["start", "end", "point"]
type Unit = Literal["W", "kW", "Wh", "kWh"]


def series_from_records(
    records: Iterable[Mapping[str, Any]], time_key: str, value_key: str
) -> pd.Series:
    """A time series from records such as Solcast's `detailedForecast` attribute items."""
    rows = [(r[time_key], r[value_key]) for r in records if r.get(value_key) is not None]
    if not rows:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], tz="UTC"))
    times, values = zip(*rows, strict=True)
    index = pd.DatetimeIndex(pd.to_datetime(list(times), utc=True, format="ISO8601"))
    return pd.Series(np.asarray(values, dtype=float), index=index).sort_index()


# Attributes of PV forecast sensors that carry a dated series: Solcast's (HACS integration)
# `detailedForecast` (per 30 min) and `detailedHourly`, items {period_start, pv_estimate (kW)}.
SERIES_ATTRIBUTES = ("detailedForecast", "detailedHourly")


def external_pv_w(attributes: Mapping[str, Any]) -> pd.Series | None:
    """A PV forecast sensor's dated series, mean W labelled at period starts (None: none).

    The finest of the attributes it has wins (Solcast's half-hourly list over its hourly one).
    """
    for name in SERIES_ATTRIBUTES:
        records = attributes.get(name)
        if not isinstance(records, list) or not records:
            continue
        usable = [r for r in records if isinstance(r, Mapping) and "period_start" in r]
        series = series_from_records(usable, "period_start", "pv_estimate")
        if not series.empty:
            return (series * 1000.0).clip(lower=0.0)
    return None


def pv_forecast_to_grid(
    series: pd.Series,
    grid: pd.DatetimeIndex,
    step_minutes: int,
    *,
    label: Label = "start",
    unit: Unit = "W",
) -> pd.Series:
    """An external PV forecast as mean W per plan step; steps it does not cover are missing.

    `label` says what a timestamp marks: the start or the end of the period its value covers
    (Solcast's `period_start`; Forecast.Solar's energy per period) or an instantaneous power
    (`point`, interpolated linearly). `unit` W/kW are powers; Wh/kWh are energies per period.
    """
    values = pd.to_numeric(series, errors="coerce").astype(float).sort_index()
    index = pd.DatetimeIndex(values.index)
    if index.tz is None:
        raise ValueError("PV forecast timestamps need a UTC offset")
    values = values[~index.duplicated(keep="last")]
    index = pd.DatetimeIndex(values.index)
    if values.empty or len(grid) == 0:
        return pd.Series(np.nan, index=grid)
    period = infer_step(index)
    scale = {"W": 1.0, "kW": 1000.0, "Wh": 1.0, "kWh": 1000.0}[unit]
    values = values * scale
    if unit in ("Wh", "kWh"):
        values = values / (period / pd.Timedelta(hours=1))
    values = values.clip(lower=0.0)
    if label == "point":
        step = pd.Timedelta(minutes=step_minutes)
        n_sub = max(1, int(step / pd.Timedelta(minutes=5)))
        offsets = (np.arange(n_sub) + 0.5) * step.total_seconds() / n_sub
        query = (epoch_seconds(grid)[:, None] + offsets[None, :]).ravel()
        times = epoch_seconds(index)
        sampled = np.interp(query, times, values.to_numpy())
        sampled[(query < times[0]) | (query > times[-1])] = np.nan
        sampled = sampled.reshape(len(grid), n_sub)
        known = ~np.isnan(sampled)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(known.all(axis=1), np.where(known, sampled, 0).mean(axis=1), np.nan)
        return pd.Series(mean, index=grid)
    if label == "end":
        values.index = index - period
    return to_step_grid(values, grid, pd.Timedelta(minutes=step_minutes), max_hold=period)
