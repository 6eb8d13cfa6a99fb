"""Water-heater daily energy (the ELFE "ECS acquisition") from a power or an energy history."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ems_optimizer.forecast.clean import clean_power, to_step_grid
from ems_optimizer.forecast.grid import TimeZone

STEP = pd.Timedelta(minutes=5)


def daily_energy_from_power(
    power: pd.Series,
    tz: TimeZone,
    *,
    max_hold: pd.Timedelta | None = None,
    min_coverage: float = 0.9,
) -> pd.Series:
    """Wh per local calendar day (23 and 25 h days included) from power readings in W.

    A day less than `min_coverage` covered by readings is missing, not underestimated.
    """
    values, _ = clean_power(power)
    known = values.dropna()
    if known.empty:
        return pd.Series(dtype=float, name="energy_wh")
    local = known.index.tz_convert(tz)
    first = local[0].normalize()
    last = local[-1].normalize() + pd.Timedelta(days=1)
    first = pd.Timestamp(first.tz_localize(None)).tz_localize(tz, nonexistent="shift_forward")
    last = pd.Timestamp(last.tz_localize(None)).tz_localize(tz, nonexistent="shift_forward")
    grid = pd.date_range(first, last, freq=STEP, inclusive="left")
    on_grid = to_step_grid(values, grid, STEP, max_hold=max_hold)
    days = grid.tz_convert(tz).tz_localize(None).normalize()
    frame = pd.DataFrame({"wh": on_grid.to_numpy() * STEP / pd.Timedelta(hours=1)}, index=days)
    grouped = frame.groupby(level=0)["wh"]
    energy = grouped.sum(min_count=1)
    coverage = grouped.count() / grouped.size()
    energy = energy.where(coverage >= min_coverage)
    energy.index = pd.DatetimeIndex(energy.index).date
    return energy.rename("energy_wh")


def daily_energy_from_meter(
    energy: pd.Series,
    tz: TimeZone,
    *,
    unit: str = "kWh",
    max_power_w: float = 20_000.0,
    reset_fraction: float = 0.5,
) -> pd.Series:
    """Wh per local day from a cumulative energy meter (HA `total_increasing`).

    A drop to under `reset_fraction` of the last reading is a reset (counting restarts from
    0); a smaller drop is jitter (no energy). A reading implying more than `max_power_w` since
    the last accepted one is a glitch and is skipped. Each increment is spread evenly over the
    time since the last accepted reading.
    """
    scale = {"Wh": 1.0, "kWh": 1000.0}[unit]
    index = pd.DatetimeIndex(energy.index)
    if index.tz is None:
        raise ValueError("meter timestamps need a UTC offset")
    meter = (pd.to_numeric(energy, errors="coerce").astype(float) * scale).dropna().sort_index()
    meter = meter[~pd.DatetimeIndex(meter.index).duplicated(keep="last")]
    if len(meter) < 2:
        return pd.Series(dtype=float, name="energy_wh")
    seconds = pd.DatetimeIndex(meter.index).as_unit("s").asi8.astype(float)
    values = meter.to_numpy()
    starts, powers = [], []
    last_t, last_v = seconds[0], values[0]
    for t, v in zip(seconds[1:], values[1:], strict=True):
        increment = v - last_v
        if increment < 0:
            increment = v if v < reset_fraction * last_v else 0.0
        power = increment * 3600.0 / (t - last_t)
        if power > max_power_w:
            continue
        starts.append(last_t)
        powers.append(power)
        jitter = reset_fraction * last_v <= v < last_v
        last_t, last_v = t, (last_v if jitter else v)
    index = pd.to_datetime(np.asarray([*starts, last_t]), unit="s", utc=True)
    series = pd.Series(np.asarray([*powers, np.nan]), index=index)
    hold = pd.Timedelta(seconds=float(np.diff(seconds).max()) * 2)
    return daily_energy_from_power(series, tz, max_hold=hold)


def typical_daily_energy_wh(daily: pd.Series, *, days: int = 14, quantile: float = 0.5) -> float:
    """A robust daily need: the `quantile` of the last `days` known days (0 without any)."""
    known = daily.dropna().sort_index().iloc[-days:]
    return float(np.quantile(known, quantile)) if len(known) else 0.0
