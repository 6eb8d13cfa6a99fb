"""Home Assistant's JSON (state history, weather forecasts) as the forecast module's DataFrames.

Pure functions plus a small cache, no HTTP: the serve loop fetches, this module converts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math
from typing import Any

import numpy as np
import pandas as pd

# A reading: (time of the state in Unix seconds, its parsed value). Compact on purpose: ten days
# of a power sensor that changes every few seconds are a few hundred thousand readings.
type Reading = tuple[float, Any]
type Parse = Callable[[Mapping[str, Any]], Any]

# `weather.get_forecasts` / weather attribute names → the forecast module's weather columns.
WEATHER_FIELDS = {"temperature": "temp_c", "cloud_coverage": "cloud_cover_pct"}
POWER_UNITS = {"W": 1.0, "kW": 1000.0, "MW": 1e6}


def _epoch(value: Any) -> float | None:
    """Unix seconds of an ISO 8601 time with offset (HA's last_changed), else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


def _number(value: Any) -> float:
    """A state's value as a float; unavailable, unknown and text are missing (NaN)."""
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else math.nan
    try:
        number = float(str(value))
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def state_value(item: Mapping[str, Any]) -> float:
    """A power sensor's state as a number (NaN when unavailable or unknown)."""
    return _number(item.get("state"))


def weather_value(item: Mapping[str, Any]) -> tuple[float, float]:
    """A weather entity's temperature and cloud cover, from its state's attributes."""
    attributes = item.get("attributes") or {}
    return tuple(_number(attributes.get(key)) for key in WEATHER_FIELDS)  # type: ignore[return-value]


def readings_by_entity(
    history: Iterable[Sequence[Mapping[str, Any]]], parse: Parse = state_value
) -> dict[str, list[Reading]]:
    """HA history JSON (one list per entity; the entity id in its first item) → readings.

    Items without a usable time are skipped; `last_changed` (the minimal response's only time)
    wins over `last_updated`.
    """
    out: dict[str, list[Reading]] = {}
    for states in history:
        if not states:
            continue
        entity_id = states[0].get("entity_id")
        if not isinstance(entity_id, str):
            continue
        readings = out.setdefault(entity_id, [])
        for item in states:
            when = _epoch(item.get("last_changed") or item.get("last_updated"))
            if when is not None:
                readings.append((when, parse(item)))
    return out


def _index(epochs: Sequence[float]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(epochs, dtype=float), unit="s", utc=True))


def power_series(readings: Sequence[Reading], unit: str = "W") -> pd.Series:
    """Readings of a power sensor as W, indexed by UTC time (sorted, last of a time wins)."""
    scale = POWER_UNITS.get(unit, 1.0)
    if not readings:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], tz="UTC"))
    times = _index([when for when, _ in readings])
    values = np.array([value for _, value in readings], dtype=float) * scale
    series = pd.Series(values, index=times).sort_index(kind="stable")
    return series[~series.index.duplicated(keep="last")]


def history_frame(columns: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Power series of several entities as one DataFrame on the union of their times.

    A state holds until the next change, so each column is carried forward onto the other
    columns' times (an `unavailable` state carries as missing); before an entity's first
    state its column is missing.
    """
    present = {name: s for name, s in columns.items() if len(s)}
    if not present:
        return pd.DataFrame(
            {name: pd.Series(dtype=float) for name in columns},
            index=pd.DatetimeIndex([], tz="UTC"),
        )
    index = present[next(iter(present))].index
    for series in present.values():
        index = index.union(series.index)
    frame = pd.DataFrame(index=index)
    for name in columns:
        series = columns[name]
        frame[name] = series.reindex(index, method="ffill") if len(series) else np.nan
    return frame


def _weather_frame(epochs: list[float], rows: list[tuple[float, float]], fahrenheit: bool):
    columns = list(WEATHER_FIELDS.values())
    frame = pd.DataFrame(rows, index=_index(epochs), columns=columns, dtype=float)
    if fahrenheit:
        frame["temp_c"] = (frame["temp_c"] - 32.0) * 5.0 / 9.0
    frame = frame.dropna(axis=1, how="all").sort_index(kind="stable")
    return frame[~frame.index.duplicated(keep="last")]


def weather_forecast_frame(
    items: Sequence[Mapping[str, Any]], *, fahrenheit: bool = False
) -> pd.DataFrame:
    """`weather.get_forecasts` items (datetime, temperature, cloud_coverage…) → weather frame."""
    epochs, rows = [], []
    for item in items:
        when = _epoch(item.get("datetime"))
        if when is not None:
            epochs.append(when)
            rows.append(tuple(_number(item.get(key)) for key in WEATHER_FIELDS))
    return _weather_frame(epochs, rows, fahrenheit)


def weather_history_frame(readings: Sequence[Reading], *, fahrenheit: bool = False) -> pd.DataFrame:
    """A weather entity's recorded readings (parsed with `weather_value`) → weather frame."""
    return _weather_frame([w for w, _ in readings], [v for _, v in readings], fahrenheit)


def _time(reading: Reading) -> float:
    return reading[0]


type Fetch = Callable[[datetime, datetime], list[list[dict[str, Any]]]]


@dataclass
class HistoryCache:
    """The last `days` of some entities' history, fetched once and then incrementally.

    Each update asks HA only for what came since the previous one (one chunk of at most
    `chunk` at a time); a fetch that fails part-way keeps what arrived and raises.
    """

    days: float
    parse: Parse = state_value
    chunk: timedelta = timedelta(days=1)
    overlap: timedelta = timedelta(minutes=5)
    entities: tuple[str, ...] = ()
    until: datetime | None = None
    readings: dict[str, list[Reading]] = field(default_factory=dict)

    def update(self, entities: Sequence[str], now: datetime, fetch: Fetch) -> None:
        """Bring the cache up to `now` for `entities` (a new entity list starts afresh)."""
        if tuple(entities) != self.entities:
            self.entities, self.until, self.readings = tuple(entities), None, {}
        earliest = now - timedelta(days=self.days)
        begin = earliest if self.until is None else max(earliest, self.until - self.overlap)
        while begin < now:
            end = min(begin + self.chunk, now)
            for entity_id, readings in readings_by_entity(fetch(begin, end), self.parse).items():
                self.readings.setdefault(entity_id, []).extend(readings)
            self.until = end
            begin = end
        self._prune(earliest.timestamp())

    def _prune(self, earliest: float) -> None:
        for entity_id, found in self.readings.items():
            # chunks and overlaps repeat states: one per time, the last one read
            readings = sorted({when: (when, item) for when, item in found}.values(), key=_time)
            self.readings[entity_id] = readings
            # keep the last reading before `earliest`: it still holds at `earliest`
            keep = next((k for k, (when, _) in enumerate(readings) if when >= earliest), None)
            if keep is None:
                self.readings[entity_id] = readings[-1:]
            elif keep > 0:
                self.readings[entity_id] = readings[keep - 1 :]

    def get(self, entity_id: str) -> list[Reading]:
        """The cached readings of one entity, oldest first."""
        return self.readings.get(entity_id, [])

    @property
    def empty(self) -> bool:
        """No reading at all."""
        return not any(self.readings.values())
