"""Data quality: duplicates, negative and absurd values, any source step to the plan step, gaps."""

from __future__ import annotations

from dataclasses import asdict, dataclass
import math

import numpy as np
import pandas as pd

from .grid import epoch_seconds

# A reading this many times the 99.5th percentile of its own history is a glitch, not a load.
ABSURD_FACTOR = 10.0
# A step is known when at least this share of it is covered by readings.
MIN_COVERAGE = 0.5


@dataclass(frozen=True)
class Quality:
    """What cleaning found and did, in rows of the source and steps of the grid."""

    rows: int = 0
    duplicate_rows: int = 0
    non_numeric_rows: int = 0
    negative_clipped: int = 0
    negative_dropped: int = 0
    absurd_dropped: int = 0
    steps: int = 0
    steps_filled: int = 0
    steps_missing: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


def infer_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The typical spacing of a time index (median of its positive differences)."""
    diffs = np.diff(epoch_seconds(index))
    diffs = diffs[diffs > 0]
    if len(diffs) == 0:
        return pd.Timedelta(hours=1)
    return pd.Timedelta(seconds=float(np.median(diffs)))


def clean_power(
    series: pd.Series, *, max_w: float | None = None, negative_tolerance_w: float = 50.0
) -> tuple[pd.Series, Quality]:
    """Numeric, time-sorted and de-duplicated power with negative and absurd readings handled.

    Duplicated timestamps are averaged; readings slightly below zero (meter noise, inverter
    standby) become 0, larger negatives and readings above `max_w` (default: ten times the
    99.5th percentile) become missing.
    """
    index = pd.DatetimeIndex(series.index)
    if index.tz is None:
        raise ValueError("history timestamps need a UTC offset")
    raw = pd.Series(series.to_numpy(), index=index)
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    non_numeric = int((values.isna() & raw.notna()).sum())
    values = values[values.index.notna()].replace([np.inf, -np.inf], np.nan)
    rows = len(values)
    values = values.sort_index(kind="stable")
    duplicates = int(values.index.duplicated().sum())
    if duplicates:
        values = values.groupby(level=0).mean()
    small_negative = (values < 0) & (values >= -negative_tolerance_w)
    large_negative = values < -negative_tolerance_w
    values = values.mask(small_negative, 0.0).mask(large_negative)
    limit = max_w
    if limit is None:
        positive = values[values > 0]
        limit = ABSURD_FACTOR * float(np.quantile(positive, 0.995)) if len(positive) else math.inf
    absurd = values > limit
    values = values.mask(absurd)
    quality = Quality(
        rows=rows,
        duplicate_rows=duplicates,
        non_numeric_rows=non_numeric,
        negative_clipped=int(small_negative.sum()),
        negative_dropped=int(large_negative.sum()),
        absurd_dropped=int(absurd.sum()),
    )
    return values, quality


def to_step_grid(
    series: pd.Series,
    grid: pd.DatetimeIndex,
    step: pd.Timedelta,
    *,
    max_hold: pd.Timedelta | None = None,
    end: pd.Timestamp | None = None,
) -> pd.Series:
    """Time-weighted mean power over each step [t, t + step) of `grid`, from any source step.

    Each reading holds from its timestamp until the next one, for at most `max_hold` (default:
    the source's typical step) and never past `end`. A step less than half covered is missing.
    """
    values = series.dropna()
    if values.empty or len(grid) == 0:
        return pd.Series(np.nan, index=grid)
    hold = infer_step(pd.DatetimeIndex(series.index)) if max_hold is None else max_hold
    starts = epoch_seconds(values.index)
    following = epoch_seconds(series.index)
    # A reading ends at the next row of the source (missing or not), its hold, or `end`.
    nxt = np.searchsorted(following, starts, side="right")
    next_time = np.where(
        nxt < len(following), following[np.minimum(nxt, len(following) - 1)], np.inf
    )
    ends = np.minimum(next_time, starts + hold.total_seconds())
    if end is not None:
        ends = np.minimum(ends, pd.Timestamp(end).as_unit("ns").value / 1e9)
    ends = np.maximum(ends, starts)
    power = values.to_numpy(dtype=float)
    # Cumulative energy and covered time, piecewise linear with knots at every start and end.
    knots = np.empty(2 * len(starts))
    knots[0::2] = starts
    knots[1::2] = ends
    durations = ends - starts
    energy_before = np.concatenate([[0.0], np.cumsum(power * durations)[:-1]])
    covered_before = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    energy = np.empty_like(knots)
    energy[0::2] = energy_before
    energy[1::2] = energy_before + power * durations
    covered = np.empty_like(knots)
    covered[0::2] = covered_before
    covered[1::2] = covered_before + durations
    bounds = epoch_seconds(grid)
    bounds = np.append(bounds, bounds[-1] + step.total_seconds())
    e = np.interp(bounds, knots, energy)
    c = np.interp(bounds, knots, covered)
    delta_e = np.diff(e)
    delta_c = np.diff(c)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(delta_c >= MIN_COVERAGE * step.total_seconds(), delta_e / delta_c, np.nan)
    return pd.Series(mean, index=grid)


def fill_short_gaps(series: pd.Series, max_gap_steps: int) -> tuple[pd.Series, int]:
    """Interpolate runs of at most `max_gap_steps` missing steps between known values."""
    missing = series.isna().to_numpy()
    if max_gap_steps <= 0 or not missing.any():
        return series, 0
    run_id = np.cumsum(~missing)
    run_length = pd.Series(missing.astype(int)).groupby(run_id).transform("sum").to_numpy()
    inside = series.interpolate(limit_area="inside").notna().to_numpy()
    fillable = missing & (run_length <= max_gap_steps) & inside
    filled = series.copy()
    filled[fillable] = series.interpolate(limit_area="inside")[fillable]
    return filled, int(fillable.sum())


def prepare_history(
    series: pd.Series,
    start: pd.Timestamp,
    step_minutes: int,
    *,
    max_w: float | None = None,
    max_hold: pd.Timedelta | None = None,
    max_gap_minutes: int = 60,
    lookback_days: int | None = None,
) -> tuple[pd.Series, Quality]:
    """History strictly before `start`, cleaned, on the step grid that ends at `start`.

    Rows at or after `start` are dropped before anything else, so nothing from the future can
    reach the result, not even through the cleaning thresholds.
    """
    step = pd.Timedelta(minutes=step_minutes)
    index = pd.DatetimeIndex(series.index)
    if index.tz is None:
        raise ValueError("history timestamps need a UTC offset")
    past = series[index < start]
    if lookback_days is not None:
        past = past[pd.DatetimeIndex(past.index) >= start - pd.Timedelta(days=lookback_days)]
    values, quality = clean_power(past, max_w=max_w)
    if values.dropna().empty:
        return pd.Series(np.nan, index=pd.DatetimeIndex([], tz=start.tz), dtype=float), quality
    n_steps = math.ceil((start - values.dropna().index[0]) / step)
    grid = pd.date_range(end=start - step, periods=n_steps, freq=step)
    on_grid = to_step_grid(values, grid, step, max_hold=max_hold, end=start)
    filled, n_filled = fill_short_gaps(on_grid, max_gap_minutes // step_minutes)
    quality = Quality(
        **{
            **quality.as_dict(),
            "steps": len(filled),
            "steps_filled": n_filled,
            "steps_missing": int(filled.isna().sum()),
        }
    )
    return filled, quality
