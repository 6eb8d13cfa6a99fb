"""Real household time series (house load and PV) interpolated in time, and the day a date plays.

The sources, in the order they are preferred:

1. ``household_fr_30min_2023-12_2024-09.csv`` of the shared data folder: the house's measured
   ``load_base_w`` and ``pv_w``, March → September 2024 (its PV starts at the end of February);
2. for autumn and winter, which that file lacks: the same house's measured ``load_base_w`` of
   ``household_fr_load_30min_2022-06_2023-02.csv`` with its PV modelled from the Nantes weather
   file (``ghi_from_cloudcover_est_w_per_m2``, hourly, at mid-hour) times ``PV_W_PER_GHI``,
   the ratio of the house's measured PV to that estimate over March → September 2024.

Without the shared folder (neither ``$EMS_DATA_DIR`` nor ``<repo>/../shared/data``), two small
bundled slices in ``simulator/data/`` stand in for them: five June days of the first source and
five December days of the second (see that folder's README). ``pick_day`` chooses the day of the
data a date plays: a day of the same season (the nearest day of the year, the same month when
one is near), the sunniest of the week around it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
import functools
import itertools
import logging
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

_LOGGER = logging.getLogger(__name__)

DATA_FILE = "household_fr_30min_2023-12_2024-09.csv"
WINTER_LOAD_FILE = "household_fr_load_30min_2022-06_2023-02.csv"
WEATHER_FILE = "weather_nantes_hourly_2021-03_2025-05.csv"
GHI_COLUMN = "ghi_from_cloudcover_est_w_per_m2"
BUNDLED_DIR = Path(__file__).parent / "data"
BUNDLED_FILE = BUNDLED_DIR / "household_fr_30min_2024-06-12_2024-06-16.csv"
BUNDLED_WINTER_FILE = BUNDLED_DIR / "household_fr_30min_2022-12-08_2022-12-12_pv_modelled.csv"
ENV_VAR = "EMS_DATA_DIR"
DAY_S = 86400.0
# W of the house's PV per W/m² of the weather file's irradiance estimate: the ratio of their
# sums over the hours of March → September 2024 that both have (5.68).
PV_W_PER_GHI = 5.7
WINDOW_DAYS = 7  # the sunniest day within a week of the nearest day of the year
MAX_GAP_S = 3 * 3600.0  # a day with a longer gap in either series is not played
MIN_PV_KWH = 0.5  # nor a day without PV (the measured PV's first days read 0)


def _shared_dirs() -> list[Path]:
    """The folders searched for the shared data: $EMS_DATA_DIR, then <repo>/../shared/data."""
    dirs = [Path(env)] if (env := os.environ.get(ENV_VAR)) else []
    return [*dirs, REPO_ROOT.parent / "shared" / "data"]


def _find(name: str) -> Path | None:
    """The first shared data folder's file of that name, if any."""
    return next((d / name for d in _shared_dirs() if (d / name).is_file()), None)


def find_data_file() -> Path:
    """Return the household CSV: $EMS_DATA_DIR, <repo>/../shared/data, else the bundled slice."""
    if found := _find(DATA_FILE):
        return found
    _LOGGER.info("%s not found in %s; using the bundled slice", DATA_FILE, _shared_dirs())
    return BUNDLED_FILE


@dataclass(frozen=True, slots=True)
class Series:
    """One quantity sampled in time (epoch seconds), linearly interpolated between samples."""

    name: str
    times: tuple[float, ...]
    values: tuple[float, ...]

    @property
    def start(self) -> float:
        """First sample time (epoch s)."""
        return self.times[0]

    @property
    def end(self) -> float:
        """Last sample time (epoch s)."""
        return self.times[-1]

    def at(self, t: float) -> float:
        """Value at epoch time t; after the end the series repeats whole days from its start."""
        if t > self.end:
            span = max(DAY_S, (self.end - self.start) // DAY_S * DAY_S)
            t = self.start + (t - self.start) % span
        if t <= self.start:
            return self.values[0]
        i = bisect_right(self.times, t)
        if i >= len(self.times):
            return self.values[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        v0, v1 = self.values[i - 1], self.values[i]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)

    def max_gap(self, begin: float, end: float) -> float:
        """The longest stretch of [begin, end] without a sample (s)."""
        inside = self.times[bisect_left(self.times, begin) : bisect_right(self.times, end)]
        marks = (begin, *inside, end)
        return max(b - a for a, b in itertools.pairwise(marks))


@dataclass(frozen=True, slots=True)
class HouseData:
    """The series the site needs: house base load and PV output, both in W."""

    path: Path
    load_w: Series
    pv_w: Series
    pv_modelled: bool = False  # PV from the weather file's irradiance, not measured

    @property
    def start(self) -> datetime:
        """First time both series have data."""
        return datetime.fromtimestamp(max(self.load_w.start, self.pv_w.start), UTC)

    @property
    def end(self) -> datetime:
        """Last time both series have data."""
        return datetime.fromtimestamp(min(self.load_w.end, self.pv_w.end), UTC)

    def covers(self, when: datetime) -> bool:
        """Whether a time lies within the data."""
        return self.start <= when <= self.end

    def describe(self) -> str:
        """The file's name, and how its PV was obtained when it was not measured."""
        return self.path.name + (" (PV modelled from weather)" if self.pv_modelled else "")

    def check_start(self, when: datetime) -> None:
        """Raise ValueError when a start time lies outside the data."""
        if not self.covers(when):
            raise ValueError(
                f"start {when.isoformat()} is outside the data in {self.path.name} "
                f"({self.start.isoformat()} → {self.end.isoformat()}); set ${ENV_VAR} to the "
                "shared data folder for the full period"
            )

    def pv_kwh(self, begin: float, end: float) -> float:
        """PV energy between two epoch times (kWh, from 30 min samples)."""
        steps = int((end - begin) // 1800)
        return sum(self.pv_w.at(begin + 1800 * i) for i in range(steps)) * 0.5 / 1000

    def days(self) -> list[date]:
        """The whole UTC days within the data, without a long gap in either series, with PV."""
        found = []
        for n in range((self.end.date() - self.start.date()).days + 1):
            day = self.start.date() + timedelta(days=n)
            begin = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
            end = begin + DAY_S
            if (
                self.start.timestamp() <= begin
                and end <= self.end.timestamp()
                and max(self.load_w.max_gap(begin, end), self.pv_w.max_gap(begin, end)) <= MAX_GAP_S
                and self.pv_kwh(begin, end) >= MIN_PV_KWH
            ):
                found.append(day)
        return found


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _series(
    name: str, rows: list[dict[str, str]], *, scale: float = 1.0, shift_s: float = 0.0
) -> Series:
    times: list[float] = []
    values: list[float] = []
    for row in rows:
        raw = row.get(name) or ""
        if raw.strip():
            times.append(datetime.fromisoformat(row["timestamp"]).timestamp() + shift_s)
            values.append(max(0.0, float(raw) * scale))
    if len(times) < 2:
        raise ValueError(f"column {name} has fewer than two values")
    return Series(name, tuple(times), tuple(values))


@functools.cache
def load_house_data(path: Path | None = None) -> HouseData:
    """Read a household CSV with ``load_base_w`` and ``pv_w`` (blocking; cached per path)."""
    path = path or find_data_file()
    rows = _rows(path)
    modelled = path.name.endswith("_pv_modelled.csv")
    return HouseData(path, _series("load_base_w", rows), _series("pv_w", rows), modelled)


@functools.cache
def load_winter_data(load_path: Path, weather_path: Path) -> HouseData:
    """The house's measured load with PV modelled from the weather file's irradiance (blocking)."""
    load = _series("load_base_w", _rows(load_path))
    lo, hi = load.start - DAY_S, load.end + DAY_S
    weather = [
        row
        for row in _rows(weather_path)
        if lo <= datetime.fromisoformat(row["timestamp"]).timestamp() <= hi
    ]
    # An hour's mean irradiance is placed at the middle of its hour.
    pv = _series(GHI_COLUMN, weather, scale=PV_W_PER_GHI, shift_s=1800.0)
    return HouseData(load_path, load, Series("pv_w", pv.times, pv.values), pv_modelled=True)


def available_data() -> tuple[HouseData, ...]:
    """Every source, in the order they are preferred (blocking: reads the files once)."""
    load, weather = _find(WINTER_LOAD_FILE), _find(WEATHER_FILE)
    if load is not None and weather is not None:
        winter = load_winter_data(load, weather)
    else:
        winter = load_house_data(BUNDLED_WINTER_FILE)
    return load_house_data(find_data_file()), winter


def data_for(when: datetime, sources: Sequence[HouseData] | None = None) -> HouseData:
    """The first source whose data covers a time; ValueError naming them when none does."""
    if sources is None:
        main = load_house_data(find_data_file())  # the usual case: no need to read the others
        sources = (main,) if main.covers(when) else available_data()
    for data in sources:
        if data.covers(when):
            return data
    spans = "; ".join(
        f"{d.path.name}: {d.start.isoformat()} → {d.end.isoformat()}" for d in sources
    )
    raise ValueError(
        f"start {when.isoformat()} is outside the data ({spans}); set ${ENV_VAR} to the shared "
        "data folder for the full period"
    )


def _day_of_year(day: date) -> int:
    """The day's rank in a common year (29 February counts as the 28th)."""
    return (
        date(2001, day.month, min(day.day, 28) if day.month == 2 else day.day).timetuple().tm_yday
    )


def season_distance(a: date, b: date) -> int:
    """Days between two dates' days of the year, around the year's end (0 → 182)."""
    gap = abs(_day_of_year(a) - _day_of_year(b))
    return min(gap, 365 - gap)


@dataclass(frozen=True, slots=True)
class DataDay:
    """A day of a source's data, chosen to play a date."""

    data: HouseData
    day: date

    @property
    def start(self) -> datetime:
        """The day's first instant (UTC)."""
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)


def pick_day(when: date, sources: Sequence[HouseData] | None = None) -> DataDay:
    """The day of the data that plays a date: same season, preferred source, sunniest.

    The nearest day of the year in any source sets the distance; the first source with a day
    within a week of it is used; among its days within that week (of the date's month, if any
    is), the sunniest is played.
    """
    sources = available_data() if sources is None else sources
    days = {id(data): data.days() for data in sources}
    if not any(days.values()):
        raise ValueError("no whole day with load and PV in the data")
    nearest = min(season_distance(when, d) for found in days.values() for d in found)
    limit = nearest + WINDOW_DAYS
    for data in sources:
        near = [d for d in days[id(data)] if season_distance(when, d) <= limit]
        if near:
            same_month = [d for d in near if d.month == when.month]
            candidates = same_month or near

            def sun(day: date, data: HouseData = data) -> tuple[float, int]:
                begin = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
                return data.pv_kwh(begin, begin + DAY_S), -season_distance(when, day)

            return DataDay(data, max(candidates, key=sun))
    raise AssertionError("unreachable: the nearest day belongs to a source")  # pragma: no cover


def season_start(
    now: datetime | None = None, sources: Sequence[HouseData] | None = None
) -> datetime:
    """The simulated start: now's UTC time of day on the data's day for today's date."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return pick_day(now.date(), sources).start + (now - midnight)
