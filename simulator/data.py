"""Real household time series (house load and PV) interpolated in time."""

from __future__ import annotations

from bisect import bisect_right
import csv
from dataclasses import dataclass
from datetime import UTC, datetime
import functools
import logging
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

_LOGGER = logging.getLogger(__name__)

DATA_FILE = "household_fr_30min_2023-12_2024-09.csv"
BUNDLED_FILE = Path(__file__).parent / "data" / "household_fr_30min_2024-06-12_2024-06-16.csv"
ENV_VAR = "EMS_DATA_DIR"
DAY_S = 86400.0


def find_data_file() -> Path:
    """Return the household CSV: $EMS_DATA_DIR, <repo>/../shared/data, else the bundled slice."""
    candidates: list[Path] = []
    if env := os.environ.get(ENV_VAR):
        candidates.append(Path(env) / DATA_FILE)
    candidates.append(REPO_ROOT.parent / "shared" / "data" / DATA_FILE)
    for path in candidates:
        if path.is_file():
            return path
    _LOGGER.info("%s not found in %s; using the bundled slice", DATA_FILE, candidates)
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


@dataclass(frozen=True, slots=True)
class HouseData:
    """The series the site needs: house base load and PV output, both in W."""

    path: Path
    load_w: Series
    pv_w: Series

    @property
    def start(self) -> datetime:
        """First time both series have data."""
        return datetime.fromtimestamp(max(self.load_w.start, self.pv_w.start), UTC)

    @property
    def end(self) -> datetime:
        """Last time both series have data."""
        return datetime.fromtimestamp(min(self.load_w.end, self.pv_w.end), UTC)

    def check_start(self, when: datetime) -> None:
        """Raise ValueError when a start time lies outside the data."""
        if not self.start <= when <= self.end:
            raise ValueError(
                f"start {when.isoformat()} is outside the data in {self.path.name} "
                f"({self.start.isoformat()} → {self.end.isoformat()}); set ${ENV_VAR} to the "
                "shared data folder for the full period"
            )


def _series(name: str, rows: list[dict[str, str]]) -> Series:
    times: list[float] = []
    values: list[float] = []
    for row in rows:
        raw = row.get(name) or ""
        if raw.strip():
            times.append(datetime.fromisoformat(row["timestamp"]).timestamp())
            values.append(max(0.0, float(raw)))
    if len(times) < 2:
        raise ValueError(f"column {name} has fewer than two values")
    return Series(name, tuple(times), tuple(values))


@functools.cache
def load_house_data(path: Path | None = None) -> HouseData:
    """Read the household CSV (blocking; cached per path)."""
    path = path or find_data_file()
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return HouseData(path, _series("load_base_w", rows), _series("pv_w", rows))
