"""The edges: CSV files in, JSON out (the only module of the package that touches files)."""

from __future__ import annotations

import json
from pathlib import Path
import re

import pandas as pd

from .weather import split_by_resolution

KNOWN_LOAD_COLUMNS = ("load_w", "load_base_w", "load_total_w")
"""Load columns tried in order when none is named (the shared data's `load_base_w` second)."""
KNOWN_PV_COLUMNS = ("pv_w",)

_OFFSET = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")


def read_timeseries_csv(path: str | Path, time_column: str = "timestamp") -> pd.DataFrame:
    """A CSV with ISO 8601 timestamps carrying their UTC offset, indexed by aware timestamps."""
    frame = pd.read_csv(path, dtype={time_column: str})
    if time_column not in frame.columns:
        raise ValueError(f"{path}: no {time_column!r} column")
    frame = frame[frame[time_column].notna()]
    stamps = frame[time_column].astype(str).str.strip()
    naive = ~stamps.str.contains(_OFFSET)
    if naive.any():
        example = stamps[naive].iloc[0]
        raise ValueError(f"{path}: timestamp {example!r} has no UTC offset")
    index = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True, format="ISO8601"), name=time_column)
    return frame.drop(columns=[time_column]).set_index(index)


def pick_column(frame: pd.DataFrame, requested: str | None, known: tuple[str, ...]) -> str | None:
    """The requested column (an error if absent), else the first known name present."""
    if requested is not None:
        if requested not in frame.columns:
            raise ValueError(f"no column {requested!r} (columns: {', '.join(frame.columns)})")
        return requested
    return next((name for name in known if name in frame.columns), None)


def read_weather_sources(paths: list[str | Path]) -> list[pd.DataFrame]:
    """Weather files split into runs of one resolution (hourly, then 6-hourly…)."""
    sources: list[pd.DataFrame] = []
    for path in paths:
        sources.extend(split_by_resolution(read_timeseries_csv(path)))
    return sources


def write_json(data: object, path: str | Path | None) -> str:
    """JSON text of `data`, also written to `path` when given."""
    text = json.dumps(data, indent=1, allow_nan=False)
    if path is not None:
        Path(path).write_text(text + "\n", encoding="utf-8")
    return text
