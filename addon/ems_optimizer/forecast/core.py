"""History (+ weather) → load and PV forecasts on the plan grid, each method chosen by backtest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import holidays
import numpy as np
import pandas as pd

from .candidates import load_methods, pv_methods
from .clean import Quality, prepare_history
from .grid import (
    DayMatrix,
    TimeZone,
    fixed_offset,
    from_day_matrix,
    parse_start,
    plan_grid,
    row_mean,
    to_day_matrix,
)
from .methods import DayContext, Method
from .physical import PvArray, PvSite, clear_sky_days, number_in, usable_location
from .pv import pv_forecast_to_grid
from .weather import clear_sky_index, weather_to_grid

AUTO = "auto"
# Picking the best of seven methods on three weeks of days is noisy: the ensemble (the mean of
# the two strongest, see candidates.py) stays unless another method beat it by 5 % or more.
PREFERRED = "ensemble"
PREFER_MARGIN = 0.05


@dataclass(frozen=True)
class ForecastConfig:
    """Tuning of the forecast; the defaults are the ones benchmarked."""

    selection_days: int = 21
    load_half_life_days: float = 2.0
    load_window_days: int = 21
    pv_half_life_days: float = 7.0
    pv_window_days: int = 28
    lookback_days: int = 70
    max_gap_minutes: int = 60
    max_hold: pd.Timedelta | None = None
    load_max_w: float | None = None
    pv_max_w: float | None = None


@dataclass(frozen=True)
class Site:
    """What the forecast may know about the place: its panels and its public holidays.

    `pv`: the physical model's site (None: no place or peak power known); `country`: ISO
    3166 code whose public holidays count as days off (None: weekends only).
    """

    pv: PvSite | None = None
    country: str | None = None

    @classmethod
    def of(cls, facts: Mapping[str, Any], fallback: Mapping[str, Any] | None = None) -> Site:
        """The site from get_problem's sources (or a simulation's site file).

        Keys: latitude, longitude, pv_peak_w, pv_tilt_deg, pv_azimuth_deg, country; the place
        and country, when missing, from `fallback` (Home Assistant's core config). The PV model
        needs both the place and the peak power.
        """
        fallback = fallback or {}
        place = usable_location(facts.get("latitude"), facts.get("longitude"))
        place = place or usable_location(fallback.get("latitude"), fallback.get("longitude"))
        peak = number_in(facts.get("pv_peak_w"), 1.0, 1e7, None)
        pv = None
        if place is not None and peak is not None:
            pv = PvSite(place[0], place[1], PvArray.of(peak, facts))
        country = facts.get("country") or fallback.get("country")
        return cls(pv=pv, country=country if isinstance(country, str) and country else None)


@dataclass(frozen=True)
class SeriesForecast:
    """One series' forecast, the method that made it and why it was chosen."""

    power_w: np.ndarray
    method: str
    candidates: Mapping[str, np.ndarray] = field(default_factory=dict)
    mae_w: Mapping[str, float] = field(default_factory=dict)
    days_scored: int = 0
    quality: Quality = field(default_factory=Quality)
    column: str | None = None
    external_steps: int = 0

    def describe(self) -> dict[str, object]:
        """The method record of the output JSON."""
        return {
            "name": self.method,
            "column": self.column,
            "selected_by": "rolling backtest MAE" if self.days_scored else "fallback",
            "days_scored": self.days_scored,
            "backtest_mae_w": {k: round(v, 1) for k, v in self.mae_w.items()},
            "external_steps": self.external_steps,
            "quality": self.quality.as_dict(),
        }


@dataclass(frozen=True)
class Forecast:
    """Load and PV forecasts on the plan grid."""

    index: pd.DatetimeIndex
    step_minutes: int
    timezone: str
    load: SeriesForecast
    pv: SeriesForecast

    def as_json(self) -> dict[str, object]:
        """The CLI's output: `load_w`, `pv_w` and `method`, plus the grid they sit on."""
        return {
            "start": self.index[0].isoformat() if len(self.index) else None,
            "step_minutes": self.step_minutes,
            "load_w": [round(float(v), 1) for v in self.load.power_w],
            "pv_w": [round(float(v), 1) for v in self.pv.power_w],
            "method": {
                "timezone": self.timezone,
                "load": self.load.describe(),
                "pv": self.pv.describe(),
            },
        }


def _score(
    methods: Mapping[str, Method], values: np.ndarray, ctx: DayContext, rows: range
) -> dict[str, np.ndarray]:
    """Day-ahead MAE of each method on each of `rows`, each predicted from the rows before it."""
    scores = {name: np.full(len(rows), np.nan) for name in methods}
    for k, row in enumerate(rows):
        actual = values[row]
        known = ~np.isnan(actual)
        if known.sum() * 2 < len(actual):
            continue
        for name, method in methods.items():
            error = np.abs(method(values, row, ctx) - actual)[known]
            if np.isnan(error).sum() * 2 <= len(error):
                scores[name][k] = np.nanmean(error)
    return scores


def select_method(
    methods: Mapping[str, Method], values: np.ndarray, ctx: DayContext, origin_row: int, days: int
) -> tuple[str, dict[str, float], int]:
    """The method with the lowest MAE over the last `days` days before the origin's day.

    Every method predicts each of those days from the days before it (the same day-ahead
    question it answers for the plan). Methods are compared on the days all of them could
    predict; one that fails on more than half of the days persistence could score is out.
    Without three scored days, persistence (the ELFE default) stays; the ensemble stays
    unless another method beat it by PREFER_MARGIN.
    """
    rows = range(max(1, origin_row - days), origin_row)
    scores = _score(methods, values, ctx, rows)
    reference = np.isfinite(scores["persistence"])
    qualified = [
        name
        for name, s in scores.items()
        if reference.sum() and np.isfinite(s[reference]).sum() * 2 >= reference.sum()
    ]
    if not qualified:
        return "persistence", {}, 0
    common = np.logical_and.reduce([np.isfinite(scores[name]) for name in qualified])
    mae = {name: float(np.mean(scores[name][common])) for name in qualified if common.any()}
    if common.sum() < 3:
        return "persistence", mae, int(common.sum())
    best = min(mae, key=lambda name: mae[name])
    if PREFERRED in mae and mae[best] > (1.0 - PREFER_MARGIN) * mae[PREFERRED]:
        best = PREFERRED
    return best, mae, int(common.sum())


def _predict(
    method: Method, values: np.ndarray, ctx: DayContext, target_rows: np.ndarray
) -> np.ndarray:
    """A days × slots matrix holding the method's prediction for each target row."""
    out = np.full_like(values, np.nan)
    for row in target_rows:
        out[row] = method(values, int(row), ctx)
    return out


def forecast_series(
    history: pd.Series | None,
    grid: pd.DatetimeIndex,
    step_minutes: int,
    *,
    kind: str,
    tz: TimeZone,
    weather: Sequence[pd.DataFrame] = (),
    method: str = AUTO,
    config: ForecastConfig = ForecastConfig(),
    column: str | None = None,
    site: Site = Site(),
) -> SeriesForecast:
    """Forecast one series (`kind` "load" or "pv") on the plan grid from its history.

    Load is arranged by local days of `tz` (people live by the clock: a DST day keeps its
    hours); PV by days of the start's fixed UTC offset (the sun ignores DST).
    """
    start = grid[0]
    zeros = np.zeros(len(grid))
    if history is None:
        return SeriesForecast(zeros, "none", column=column)
    max_w = config.load_max_w if kind == "load" else config.pv_max_w
    past, quality = prepare_history(
        history,
        start,
        step_minutes,
        max_w=max_w,
        max_hold=config.max_hold,
        max_gap_minutes=config.max_gap_minutes,
        lookback_days=config.lookback_days,
    )
    if past.notna().sum() == 0:
        return SeriesForecast(zeros, "none", quality=quality, column=column)
    full_index = past.index.tz_convert("UTC").append(grid.tz_convert("UTC"))
    series = pd.Series(np.concatenate([past.to_numpy(), np.full(len(grid), np.nan)]), full_index)
    day_tz = tz if kind == "load" else fixed_offset(start)
    matrix = to_day_matrix(series, day_tz, step_minutes)
    ctx = _context(
        matrix,
        kind=kind,
        weather=weather,
        index=full_index,
        day_tz=day_tz,
        step_minutes=step_minutes,
        site=site,
    )
    methods = (
        load_methods(config.load_half_life_days, config.load_window_days)
        if kind == "load"
        else pv_methods(config.pv_half_life_days, config.pv_window_days)
    )
    origin_row = int(matrix.rows(np.array([np.datetime64(start.tz_convert(day_tz).date())]))[0])
    index = ctx.clear_sky_index
    if ctx.temp_c is None or np.isnan(ctx.temp_c[:origin_row]).all():
        methods.pop("blend_temp", None)
    if index is None or np.isnan(index[origin_row:]).all():
        methods.pop("weather", None)
    if ctx.clear_sky_w is None:
        methods.pop("physical", None)
        methods.pop("clear_sky_blend", None)
        if kind == "pv":  # the PV ensemble is made of those two
            methods.pop("ensemble", None)
    if method != AUTO and method not in methods:
        raise ValueError(f"{kind} method {method!r} not available; choose from {sorted(methods)}")
    chosen, mae, days_scored = select_method(
        methods, matrix.values, ctx, origin_row, config.selection_days
    )
    if method != AUTO:
        chosen = method
    target_rows = np.unique(matrix.rows(_days_of(grid, day_tz)))
    candidates = {
        name: from_day_matrix(
            _predict(m, matrix.values, ctx, target_rows), matrix.first_day, grid, day_tz
        )
        for name, m in methods.items()
    }
    power = candidates[chosen].copy()
    fallback = [candidates["persistence"], np.full(len(grid), float(np.nanmedian(past)))]
    for values in fallback:
        missing = np.isnan(power)
        power[missing] = values[missing]
    power = np.clip(np.nan_to_num(power), 0.0, None)
    return SeriesForecast(
        power_w=power,
        method=chosen,
        candidates={name: np.clip(v, 0.0, None) for name, v in candidates.items()},
        mae_w=mae,
        days_scored=days_scored,
        quality=quality,
        column=column,
    )


def _context(
    matrix: DayMatrix,
    *,
    kind: str,
    weather: Sequence[pd.DataFrame],
    index: pd.DatetimeIndex,
    day_tz: TimeZone,
    step_minutes: int,
    site: Site,
) -> DayContext:
    """What the methods may know about each row: days off, weather, the clear-sky PV."""
    day_off = off_days(matrix.days, site.country)
    temp = kw = None
    if weather:
        on_grid = weather_to_grid(weather, index, step_minutes)
        if "temp_c" in on_grid.columns:
            temp = row_mean(to_day_matrix(on_grid["temp_c"], day_tz, step_minutes).values)
        sky = clear_sky_index(on_grid)
        if sky is not None:
            kw = to_day_matrix(sky, day_tz, step_minutes).values
    clear = None
    if kind == "pv" and site.pv is not None and isinstance(day_tz, tzinfo):
        clear = clear_sky_days(site.pv, matrix.days, day_tz, step_minutes)
    return DayContext(day_off=day_off, temp_c=temp, clear_sky_index=kw, clear_sky_w=clear)


def off_days(days: np.ndarray, country: str | None) -> np.ndarray:
    """Weekends and, with a country, its public holidays (the `holidays` package)."""
    off = (days.astype("int64") + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    if not country or len(days) == 0:
        return off
    years = range(int(str(days[0])[:4]), int(str(days[-1])[:4]) + 1)
    try:
        calendar = holidays.country_holidays(country.upper(), years=years)
    except NotImplementedError:  # a country the package does not know: weekends only
        return off
    public = np.array([np.datetime64(day, "D") for day in calendar], dtype="datetime64[D]")
    return off | np.isin(days, public)


def _days_of(index: pd.DatetimeIndex, tz: TimeZone) -> np.ndarray:
    """Local calendar day of each timestamp."""
    return np.asarray(index.tz_convert(tz).tz_localize(None).normalize(), dtype="datetime64[D]")


def forecast(
    history: pd.DataFrame,
    start: str | datetime,
    steps: int,
    step_minutes: int,
    *,
    weather: Sequence[pd.DataFrame] = (),
    tz: TimeZone | None = None,
    pv_forecast_w: pd.Series | None = None,
    load_column: str = "load_w",
    pv_column: str = "pv_w",
    load_method: str = AUTO,
    pv_method: str = AUTO,
    config: ForecastConfig = ForecastConfig(),
    site: Site = Site(),
) -> Forecast:
    """Load and PV forecasts for `steps` steps from `start`, using only history before `start`.

    `history` is indexed by aware timestamps (interval starts) with a load column and an
    optional PV column; `weather` frames may cover past and future, finer ones win. An
    external PV forecast (`pv_forecast_w`, mean W labelled at period starts) replaces the
    model wherever it covers the grid. `tz` is the site's zone (default: start's offset);
    `site` adds the physical PV model and the public holidays.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    first = parse_start(start)
    zone: TimeZone = tz if tz is not None else fixed_offset(first)
    grid = plan_grid(first, steps, step_minutes)
    load = forecast_series(
        history[load_column] if load_column in history.columns else None,
        grid,
        step_minutes,
        kind="load",
        tz=zone,
        weather=weather,
        method=load_method,
        config=config,
        column=load_column if load_column in history.columns else None,
        site=site,
    )
    pv = forecast_series(
        history[pv_column] if pv_column in history.columns else None,
        grid,
        step_minutes,
        kind="pv",
        tz=zone,
        weather=weather,
        method=pv_method,
        config=config,
        column=pv_column if pv_column in history.columns else None,
        site=site,
    )
    if pv_forecast_w is not None:
        external = pv_forecast_to_grid(pv_forecast_w, grid, step_minutes).to_numpy()
        covered = ~np.isnan(external)
        if covered.any():
            power = np.where(covered, external, pv.power_w)
            pv = SeriesForecast(
                power_w=power,
                method="external" if covered.all() else f"external+{pv.method}",
                candidates=pv.candidates,
                mae_w=pv.mae_w,
                days_scored=pv.days_scored,
                quality=pv.quality,
                column=pv.column,
                external_steps=int(covered.sum()),
            )
    return Forecast(index=grid, step_minutes=step_minutes, timezone=str(zone), load=load, pv=pv)
