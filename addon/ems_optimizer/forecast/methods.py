"""Forecast methods on a days × slots matrix: each predicts one day from the rows before it.

A method gets the whole matrix (rows from the forecast origin on are missing: the future is
unknown) and the row to predict, and reads only rows before that row. The same call serves
the forecast and the rolling backtest that selects a method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .grid import row_mean

# Heating degree base for the temperature term, °C (French regulation uses 18; houses with
# internal gains start heating lower, and the fit only keeps a clear slope anyway).
HEATING_BASE_C = 16.0


@dataclass(frozen=True)
class DayContext:
    """What a method may know about each row beyond the series: day type, weather, the sun.

    `day_off`: weekends and the public holidays of the site's country. `clear_sky_w`: days ×
    slots of the physical model's clear-sky PV power (PV only, when the site's place is known).
    """

    day_off: np.ndarray
    temp_c: np.ndarray | None = None
    clear_sky_index: np.ndarray | None = None
    clear_sky_w: np.ndarray | None = None
    info: dict[str, float] = field(default_factory=dict)


type Method = Callable[[np.ndarray, int, DayContext], np.ndarray]


def _last_known(rows: np.ndarray) -> np.ndarray:
    """Per slot, the first known value scanning `rows` from its first row on."""
    if len(rows) == 0:
        return np.full(rows.shape[1], np.nan)
    known = ~np.isnan(rows)
    first = np.argmax(known, axis=0)
    out = rows[first, np.arange(rows.shape[1])]
    out[~known.any(axis=0)] = np.nan
    return out


def persistence(values: np.ndarray, target: int, ctx: DayContext) -> np.ndarray:
    """ELFE persistence: the last known value at the same time of day (last 24 h, repeated)."""
    del ctx
    return _last_known(values[max(0, target - 60) : target][::-1])


def weekly_persistence(values: np.ndarray, target: int, ctx: DayContext) -> np.ndarray:
    """The last known value at the same time on the same weekday, else daily persistence."""
    same_weekday = values[target - 7 :: -7][:9] if target >= 7 else values[:0]
    out = _last_known(same_weekday)
    missing = np.isnan(out)
    if missing.any():
        out[missing] = persistence(values, target, ctx)[missing]
    return out


def weighted_quantile(samples: np.ndarray, weights: np.ndarray, q: float = 0.5) -> np.ndarray:
    """Per column, the weighted `q`-quantile of `samples` (rows × columns), ignoring missing."""
    w = np.broadcast_to(weights, samples.shape).astype(float).copy()
    w[np.isnan(samples)] = 0.0
    ordered = np.argsort(np.where(np.isnan(samples), np.inf, samples), axis=0)
    s = np.take_along_axis(samples, ordered, axis=0)
    cw = np.cumsum(np.take_along_axis(w, ordered, axis=0), axis=0)
    total = cw[-1]
    pick = np.minimum((cw < q * total).sum(axis=0), len(samples) - 1)
    out = s[pick, np.arange(samples.shape[1])]
    out[total <= 0] = np.nan
    return out


def _with_neighbours(
    rows: np.ndarray, weights: np.ndarray, neighbour_weight: float, minutes: float = 30.0
) -> tuple[np.ndarray, np.ndarray]:
    """Each slot's samples joined by those up to `minutes` before and after (wrapping at midnight).

    The neighbours count `neighbour_weight`; whatever the step, the same half hour either side.
    """
    if neighbour_weight <= 0:
        return rows, weights[:, None]
    step_minutes = 1440 / rows.shape[1]
    reach = max(1, round(minutes / step_minutes))
    shifts = [s for s in range(-reach, reach + 1) if s != 0]
    samples = np.concatenate([rows, *(np.roll(rows, s, axis=1) for s in shifts)])
    w = np.concatenate([weights, *(weights * neighbour_weight for _ in shifts)])
    return samples, w[:, None]


def heating_slope_w_per_k(
    values: np.ndarray, target: int, temp_c: np.ndarray, *, fit_days: int = 42
) -> float:
    """W per heating degree from a fit of daily mean load on degrees below HEATING_BASE_C.

    0 unless the fit is clear: enough days, a real spread of temperature, a positive slope that
    explains at least a quarter of the day-to-day variance.
    """
    lo = max(0, target - fit_days)
    rows = values[lo:target]
    complete = np.isnan(rows).mean(axis=1) <= 0.1
    degrees = np.maximum(0.0, HEATING_BASE_C - temp_c[lo:target])
    load = row_mean(np.where(complete[:, None], rows, np.nan))
    ok = complete & ~np.isnan(degrees)
    if ok.sum() < 14 or np.ptp(degrees[ok]) < 3.0:
        return 0.0
    slope, intercept = np.polyfit(degrees[ok], load[ok], 1)
    residual = load[ok] - (slope * degrees[ok] + intercept)
    r2 = 1.0 - residual.var() / load[ok].var() if load[ok].var() > 0 else 0.0
    return float(slope) if slope > 0 and r2 >= 0.25 else 0.0


def recent_days(
    values: np.ndarray,
    target: int,
    ctx: DayContext,
    *,
    window_days: int = 21,
    half_life_days: float = 3.0,
    other_daytype_weight: float = 0.5,
    neighbour_weight: float = 0.5,
    temperature: bool = False,
) -> np.ndarray:
    """Robust blend of recent comparable days: a weighted median per slot.

    Weights halve every `half_life_days`, days of the other type (weekday/weekend) count
    `other_daytype_weight`, slots within half an hour count `neighbour_weight`. With
    `temperature`, each past day is first moved to the target day's heating degrees with the
    slope of `heating_slope_w_per_k` (spread over the day in proportion to the mean profile).
    """
    lo = max(0, target - window_days)
    rows = values[lo:target].copy()
    if len(rows) == 0:
        return np.full(values.shape[1], np.nan)
    age = target - np.arange(lo, target)
    weights = 0.5 ** (age / half_life_days)
    same_type = ctx.day_off[lo:target] == ctx.day_off[target]
    weights = weights * np.where(same_type, 1.0, other_daytype_weight)
    if temperature and ctx.temp_c is not None and not np.isnan(ctx.temp_c[target]):
        slope = heating_slope_w_per_k(values, target, ctx.temp_c)
        if slope > 0:
            degrees = np.maximum(0.0, HEATING_BASE_C - ctx.temp_c)
            shift = slope * (degrees[target] - degrees[lo:target])
            profile = np.nan_to_num(row_mean(rows.T))
            mean = float(profile.mean())
            shape = profile / mean if mean > 0 else np.ones_like(profile)
            rows = np.maximum(0.0, rows + np.nan_to_num(shift)[:, None] * shape[None, :])
    samples, w = _with_neighbours(rows, weights, neighbour_weight)
    return weighted_quantile(samples, w)


def clear_sky_envelope(
    values: np.ndarray, target: int, *, window_days: int = 14, q: float = 0.9
) -> np.ndarray:
    """A clear-day PV profile fitted from history: a high quantile per slot over recent days."""
    rows = values[max(0, target - window_days) : target]
    if len(rows) == 0:
        return np.full(values.shape[1], np.nan)
    samples, w = _with_neighbours(rows, np.ones(len(rows)), 1.0)
    return weighted_quantile(samples, w, q)


def _weather_share(
    past: np.ndarray,
    past_envelope: np.ndarray,
    past_index: np.ndarray | None,
    envelope: np.ndarray,
    index: np.ndarray | None,
    *,
    night: float = 0.05,
) -> np.ndarray:
    """The day's PV as its envelope × (a + b · clear-sky index), a and b fitted on the past.

    Slots where the envelope is under `night` × its peak are night (0 W); the fit leaves out
    those under 5 % (low sun: noisy shares).

    `past` rows were produced under `past_envelope` (same shape) with the weather's clear-sky
    index `past_index`; the day to predict has `envelope` and `index`. A least-squares fit maps
    the index to the share of the envelope produced; when the weather says little about this
    site the slope comes out near 0 and the forecast near the mean share. Without weather, the
    mean share.
    """
    peak = np.nanmax(envelope) if np.isfinite(envelope).any() else np.nan
    if not np.isfinite(peak) or peak <= 0:
        return np.zeros(len(envelope))
    lit = past_envelope > 0.05 * peak
    share = past / np.where(lit, past_envelope, np.nan)
    ok = ~np.isnan(share)
    if past_index is not None:
        ok &= ~np.isnan(past_index)
    a, b = (float(np.mean(share[ok])) if ok.any() else 0.7), 0.0
    if past_index is not None and ok.sum() >= 20 and np.ptp(past_index[ok]) > 0.05:
        b, a = np.polyfit(past_index[ok], share[ok], 1)
        b = float(np.clip(b, 0.0, 1.5))
        a = float(np.mean(share[ok]) - b * np.mean(past_index[ok]))
    daylight = envelope > night * peak
    if index is None:
        return np.where(daylight, envelope * np.clip(a, 0.0, 1.2), 0.0)
    if not daylight.any() or np.isnan(index[daylight]).all():
        return np.full(len(envelope), np.nan)
    index = np.where(np.isnan(index), np.nanmean(index[daylight]), index)
    return np.where(daylight, envelope * np.clip(a + b * index, 0.0, 1.2), 0.0)


def pv_weather(
    values: np.ndarray, target: int, ctx: DayContext, *, fit_days: int = 28
) -> np.ndarray:
    """PV from the weather: clear-day profile of the last two weeks × (a + b · clear-sky index).

    The clear-day profile (a high quantile per slot) carries the system size, orientation and
    shading as they were lately; see `_weather_share` for the fit.
    """
    kw = ctx.clear_sky_index
    if kw is None:
        return np.full(values.shape[1], np.nan)
    envelope = clear_sky_envelope(values, target)
    if np.all(np.isnan(envelope)) or np.nanmax(envelope) <= 0:
        return np.zeros(values.shape[1])
    lo = max(0, target - fit_days)
    past = values[lo:target]
    return _weather_share(
        past, np.broadcast_to(envelope, past.shape), kw[lo:target], envelope, kw[target]
    )


def _lit(clear_w: np.ndarray, target: int) -> np.ndarray:
    """Where the clear-sky model gives over 2 % of the target day's peak (shares are sound)."""
    return clear_w > 0.02 * max(float(np.nanmax(clear_w[target])), 1.0)


def calibration(
    values: np.ndarray, target: int, clear_w: np.ndarray, *, days: int = 21, q: float = 0.9
) -> np.ndarray:
    """Per slot, measured over clear-sky-model power on the site's clearest recent days.

    A high quantile of the ratio over `days` days: it carries what the model does not know
    (real orientation, shading, soiling, a wrong peak power). Slots without sun in the model
    or without history get the median of the others (1 without any).
    """
    lo = max(0, target - days)
    model = clear_w[lo:target]
    lit = _lit(clear_w, target)[lo:target]
    ratio = np.where(lit, values[lo:target] / np.where(lit, model, np.nan), np.nan)
    if len(ratio) == 0:
        return np.ones(values.shape[1])
    out = weighted_quantile(ratio, np.ones((len(ratio), 1)), q)
    fill = float(np.nanmedian(out)) if np.isfinite(out).any() else 1.0
    return np.clip(np.where(np.isnan(out), fill, out), 0.0, 1.5)


def pv_physical(
    values: np.ndarray, target: int, ctx: DayContext, *, fit_days: int = 28
) -> np.ndarray:
    """The physical clear-sky model, calibrated on the site's history, × the weather's share.

    Unlike the history's clear-day envelope, the model follows the sun day by day (no lag as
    the days lengthen or shorten); the calibration keeps what only the history knows.
    """
    clear = ctx.clear_sky_w
    if clear is None:
        return np.full(values.shape[1], np.nan)
    envelope = clear * calibration(values, target, clear)[None, :]
    lo = max(0, target - fit_days)
    kw = ctx.clear_sky_index
    return _weather_share(
        values[lo:target],
        envelope[lo:target],
        None if kw is None else kw[lo:target],
        envelope[target],
        None if kw is None else kw[target],
        night=0.001,  # the model knows when the sun is up
    )


def clear_sky_blend(
    values: np.ndarray,
    target: int,
    ctx: DayContext,
    *,
    window_days: int = 42,
    half_life_days: float = 14.0,
) -> np.ndarray:
    """The blend of recent days applied to the clear-sky index, not to the power.

    Each past day's share of the physical clear-sky power is blended (weighted median per
    slot) and applied to the day's own clear-sky power: the sun's seasonal change is the
    model's, the weather's habits are the history's.
    """
    clear = ctx.clear_sky_w
    if clear is None:
        return np.full(values.shape[1], np.nan)
    lit = _lit(clear, target)
    share = np.where(lit, values / np.where(lit, clear, np.nan), np.nan)
    blended = recent_days(
        share,
        target,
        ctx,
        window_days=window_days,
        half_life_days=half_life_days,
        other_daytype_weight=1.0,
    )
    return np.where(lit[target], clear[target] * np.nan_to_num(blended), 0.0)
