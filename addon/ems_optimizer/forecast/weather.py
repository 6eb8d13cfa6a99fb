"""Weather on the plan grid: known column names, mixed resolutions (finer wins), clear-sky index."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .clean import infer_step
from .grid import epoch_seconds, row_mean

WEATHER_COLUMNS = ("temp_c", "cloud_cover_pct", "ghi_w_per_m2", "ghi_clearsky_w_per_m2")

WEATHER_ALIASES = {
    "temperature_2m": "temp_c",
    "temperature_c": "temp_c",
    "cloud_cover": "cloud_cover_pct",
    "cloudcover": "cloud_cover_pct",
    "shortwave_radiation": "ghi_w_per_m2",
    "ghi_from_cloudcover_est_w_per_m2": "ghi_w_per_m2",
    "ghi_clearsky_model_w_per_m2": "ghi_clearsky_w_per_m2",
}
"""Other names for the weather columns (Open-Meteo's and those of ../shared/data)."""

VALID_RANGE = {
    "temp_c": (-60.0, 60.0),
    "cloud_cover_pct": (0.0, 100.0),
    "ghi_w_per_m2": (0.0, 1400.0),
    "ghi_clearsky_w_per_m2": (0.0, 1400.0),
}

# Interpolation never bridges a hole longer than this many steps of the source.
MAX_GAP_SOURCE_STEPS = 2.5
# Sub-samples per plan step are this far apart at most (a step's mean, not its start value).
SUBSAMPLE = pd.Timedelta(minutes=15)


def normalise_weather(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical weather columns (aliases mapped), numeric, out-of-range readings dropped.

    Cloud cover a little over 100 % (some models give 101) is capped, not dropped.
    """
    renamed = frame.rename(
        columns={
            alias: name
            for alias, name in WEATHER_ALIASES.items()
            if alias in frame.columns and name not in frame.columns
        }
    )
    out = pd.DataFrame(index=renamed.index)
    for name in WEATHER_COLUMNS:
        if name not in renamed.columns:
            continue
        values = pd.to_numeric(renamed[name], errors="coerce").astype(float)
        lo, hi = VALID_RANGE[name]
        if name == "cloud_cover_pct":
            values = values.mask(values.between(hi, hi + 5.0), hi)
        out[name] = values.where(values.between(lo, hi))
    index = pd.DatetimeIndex(out.index)
    if index.tz is None:
        raise ValueError("weather timestamps need a UTC offset")
    return out[index.notna()]


def split_by_resolution(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """Runs of rows with one spacing, in file order (hourly rows, then 6-hourly rows…).

    A row where the spacing changes for good belongs to both runs; a single missing row does
    not start a run; time going backwards (a second source appended) always does.
    """
    if len(frame) < 3:
        return [frame]
    gaps = np.diff(epoch_seconds(frame.index))
    spacing = pd.Series(gaps).rolling(5, center=True, min_periods=1).median().to_numpy()
    pieces: list[pd.DataFrame] = []
    begin = 0
    for k in range(1, len(gaps)):
        if gaps[k] <= 0:
            pieces.append(frame.iloc[begin : k + 1])
            begin = k + 1
        elif spacing[k] != spacing[k - 1] and gaps[k] == spacing[k] and k > begin:
            pieces.append(frame.iloc[begin : k + 1])
            begin = k
    pieces.append(frame.iloc[begin:])
    return [piece for piece in pieces if len(piece)]


def _interpolate(
    times_s: np.ndarray, values: np.ndarray, query_s: np.ndarray, max_gap_s: float, edge_s: float
) -> np.ndarray:
    """Linear interpolation of point values, missing across long holes and beyond the ends."""
    known = ~np.isnan(values)
    t, v = times_s[known], values[known]
    out = np.full(len(query_s), np.nan)
    if len(t) == 0:
        return out
    if len(t) == 1:
        near = np.abs(query_s - t[0]) <= edge_s
        out[near] = v[0]
        return out
    right = np.clip(np.searchsorted(t, query_s), 1, len(t) - 1)
    gap = t[right] - t[right - 1]
    inside = (query_s >= t[0] - edge_s) & (query_s <= t[-1] + edge_s) & (gap <= max_gap_s)
    out[inside] = np.interp(query_s[inside], t, v)
    return out


def _source_to_grid(source: pd.DataFrame, grid: pd.DatetimeIndex, step: pd.Timedelta):
    """One weather source as step means on the grid (sub-sampled linear interpolation)."""
    source = source[~pd.DatetimeIndex(source.index).duplicated(keep="last")].sort_index()
    source_step = infer_step(pd.DatetimeIndex(source.index))
    n_sub = max(1, int(np.ceil(step / SUBSAMPLE)))
    offsets = (np.arange(n_sub) + 0.5) * step.total_seconds() / n_sub
    base = epoch_seconds(grid)
    query = (base[:, None] + offsets[None, :]).ravel()
    times = epoch_seconds(source.index)
    max_gap = MAX_GAP_SOURCE_STEPS * source_step.total_seconds()
    edge = source_step.total_seconds() / 2
    out = pd.DataFrame(index=grid)
    for name in source.columns:
        sampled = _interpolate(times, source[name].to_numpy(float), query, max_gap, edge)
        sampled = sampled.reshape(len(grid), n_sub)
        out[name] = row_mean(sampled)
    return out, source_step


def weather_to_grid(
    sources: Sequence[pd.DataFrame], grid: pd.DatetimeIndex, step_minutes: int
) -> pd.DataFrame:
    """Weather as step means on the grid; where sources overlap, the finer one wins.

    Values are taken as readings at their timestamps and interpolated linearly in time, never
    across a hole of more than 2.5 source steps and never beyond a source's ends.
    """
    step = pd.Timedelta(minutes=step_minutes)
    resampled = []
    for source in sources:
        frame = normalise_weather(source)
        if frame.empty or len(grid) == 0:
            continue
        lo, hi = grid[0] - pd.Timedelta(days=1), grid[-1] + pd.Timedelta(days=1)
        frame = frame[(frame.index >= lo) & (frame.index <= hi)]
        if frame.empty:
            continue
        resampled.append(_source_to_grid(frame, grid, step))
    out = pd.DataFrame(index=grid, columns=list(WEATHER_COLUMNS), dtype=float)
    for frame, _ in sorted(resampled, key=lambda item: item[1]):
        out = out.fillna(frame)
    return out[[c for c in WEATHER_COLUMNS if out[c].notna().any()]]


def clear_sky_index(weather: pd.DataFrame) -> pd.Series | None:
    """Share of clear-sky irradiance expected per step, from irradiance or cloud cover.

    GHI over its clear-sky value when both are given (daylight only, filled across the night);
    else 1 − 0.75·(cloud/100)^3.4 (Kasten and Czeplak); else GHI over its highest value at that
    step of the day over the surrounding fortnight. None without any of these.
    """
    if {"ghi_w_per_m2", "ghi_clearsky_w_per_m2"} <= set(weather.columns):
        clear = weather["ghi_clearsky_w_per_m2"]
        index = (weather["ghi_w_per_m2"] / clear.where(clear >= 50.0)).clip(0.0, 1.2)
        if index.notna().any():
            return index.interpolate(limit_direction="both")
    if "cloud_cover_pct" in weather.columns and weather["cloud_cover_pct"].notna().any():
        return 1.0 - 0.75 * (weather["cloud_cover_pct"] / 100.0) ** 3.4
    if "ghi_w_per_m2" in weather.columns and weather["ghi_w_per_m2"].notna().any():
        ghi = weather["ghi_w_per_m2"]
        index = pd.DatetimeIndex(ghi.index)
        slot = (index - index[0]) % pd.Timedelta(days=1)
        envelope = ghi.groupby(slot).transform(
            lambda s: s.rolling(15, center=True, min_periods=1).max()
        )
        return (ghi / envelope.where(envelope >= 50.0)).clip(0.0, 1.2)
    return None
