"""The plan grid and the local-day view of a series (days × slots of the day), DST-aware."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

import numpy as np
import pandas as pd

MINUTES_PER_DAY = 1440

type TimeZone = str | tzinfo


def parse_start(value: str | datetime) -> pd.Timestamp:
    """An aware timestamp from ISO 8601 text or a datetime; a naive one is an error."""
    moment = pd.Timestamp(value)
    if moment.tzinfo is None:
        raise ValueError(f"{value!s}: needs a UTC offset")
    return moment


def epoch_seconds(index: pd.DatetimeIndex | pd.Index) -> np.ndarray:
    """Seconds since 1970 of each timestamp, whatever the index's time unit."""
    return pd.DatetimeIndex(index).as_unit("ns").asi8 / 1e9


def check_step_minutes(step_minutes: int) -> None:
    """Reject a step that does not divide a day into whole slots."""
    if step_minutes <= 0 or MINUTES_PER_DAY % step_minutes:
        raise ValueError(f"step_minutes must divide 1440, got {step_minutes}")


def plan_grid(
    start: str | datetime, steps: int, step_minutes: int, tz: TimeZone | None = None
) -> pd.DatetimeIndex:
    """Start of each plan step: start + i·step in absolute time, shown in `tz` or start's offset."""
    check_step_minutes(step_minutes)
    first = parse_start(start)
    index = pd.date_range(first, periods=steps, freq=pd.Timedelta(minutes=step_minutes))
    return index.tz_convert(tz) if tz is not None else index


def fixed_offset(moment: pd.Timestamp) -> tzinfo:
    """The fixed UTC offset of `moment`, a zone without DST (sun time stays put)."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("needs a UTC offset")
    return timezone(offset)


def day_slots(
    index: pd.DatetimeIndex, tz: TimeZone, step_minutes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Local calendar day (datetime64[D]) and slot of the day of each timestamp in `tz`."""
    local = index.tz_convert(tz)
    minutes = np.asarray(local.hour * 60 + local.minute, dtype=np.int64)
    days = np.asarray(local.tz_localize(None).normalize(), dtype="datetime64[D]")
    return days, minutes // step_minutes


@dataclass(frozen=True)
class DayMatrix:
    """A series as local days × slots (a 25 h day averages its repeated hour; 23 h leaves holes)."""

    first_day: np.datetime64
    values: np.ndarray
    step_minutes: int

    @property
    def days(self) -> np.ndarray:
        """The calendar day of each row."""
        return self.first_day + np.arange(len(self.values)).astype("timedelta64[D]")

    def rows(self, days: np.ndarray) -> np.ndarray:
        """Row number of each calendar day."""
        return (days - self.first_day).astype(np.int64)


def to_day_matrix(
    series: pd.Series, tz: TimeZone, step_minutes: int, *, last_day: np.datetime64 | None = None
) -> DayMatrix:
    """Arrange a series on the step grid as local days × slots, through `last_day` if later."""
    days, slots = day_slots(pd.DatetimeIndex(series.index), tz, step_minutes)
    first = days.min()
    last = days.max() if last_day is None else max(days.max(), last_day)
    n_rows = int((last - first).astype(np.int64)) + 1
    shape = (n_rows, MINUTES_PER_DAY // step_minutes)
    values = np.asarray(series, dtype=float)
    ok = ~np.isnan(values)
    rows = (days - first).astype(np.int64)
    sums = np.zeros(shape)
    counts = np.zeros(shape)
    np.add.at(sums, (rows[ok], slots[ok]), values[ok])
    np.add.at(counts, (rows[ok], slots[ok]), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.where(counts > 0, sums / counts, np.nan)
    return DayMatrix(first_day=first, values=matrix, step_minutes=step_minutes)


def from_day_matrix(
    matrix: np.ndarray, first_day: np.datetime64, index: pd.DatetimeIndex, tz: TimeZone
) -> np.ndarray:
    """Values of a days × slots matrix at each timestamp of `index` (local day and slot in `tz`)."""
    step_minutes = MINUTES_PER_DAY // matrix.shape[1]
    days, slots = day_slots(index, tz, step_minutes)
    rows = (days - first_day).astype(np.int64)
    inside = (rows >= 0) & (rows < len(matrix))
    out = np.full(len(index), np.nan)
    out[inside] = matrix[rows[inside], slots[inside]]
    return out


def row_mean(values: np.ndarray) -> np.ndarray:
    """Mean of each row of a matrix, missing when under half of the row is known."""
    known = ~np.isnan(values)
    count = known.sum(axis=1)
    total = np.where(known, values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count * 2 >= values.shape[1], total / count, np.nan)
