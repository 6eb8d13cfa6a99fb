"""HA's JSON → DataFrames → forecasts: history, the incremental cache, weather."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import math

import numpy as np
import pandas as pd
import pytest
from test_serve_fakeha import DATA, LOAD, PV, FakeHA, household_states, weather_items

from ems_optimizer.forecast import ForecastConfig, forecast
from ems_optimizer.ha_data import (
    HistoryCache,
    history_frame,
    power_series,
    readings_by_entity,
    weather_forecast_frame,
    weather_history_frame,
    weather_value,
)
from ems_optimizer.serve import HISTORY_MAX_HOLD

NOW = datetime(2024, 3, 31, 22, 0, 5, tzinfo=UTC)


def _minimal(entity: str, rows: list[tuple[str, str]]) -> list[dict]:
    first, *rest = rows
    return [
        {"entity_id": entity, "state": first[1], "last_changed": first[0]},
        *({"state": s, "last_changed": t} for t, s in rest),
    ]


def test_history_json_to_readings_and_series() -> None:
    history = [
        _minimal(
            LOAD,
            [
                ("2024-04-01T00:00:00+00:00", "100"),
                ("2024-04-01T00:10:00+02:00", "unavailable"),
                ("2024-04-01T00:20:00+00:00", "250.5"),
                ("not a time", "1"),
            ],
        ),
        [],
    ]
    readings = readings_by_entity(history)
    assert list(readings) == [LOAD]
    series = power_series(readings[LOAD])
    assert str(series.index.tz) == "UTC"
    assert series.index[0] == pd.Timestamp("2024-03-31T22:10:00+00:00")  # sorted
    assert math.isnan(series.iloc[0])
    assert series.tolist()[1:] == [100.0, 250.5]
    assert power_series(readings[LOAD], "kW").iloc[-1] == 250500.0


def test_the_frame_carries_each_state_until_it_changes() -> None:
    t = pd.to_datetime(["2024-04-01T00:00Z", "2024-04-01T00:30Z", "2024-04-01T01:00Z"])
    load = pd.Series([100.0, np.nan, 300.0], index=t)
    pv = pd.Series([0.0, 800.0], index=pd.to_datetime(["2024-04-01T00:15Z", "2024-04-01T00:45Z"]))
    frame = history_frame({"load_w": load, "pv_w": pv})
    assert frame.index.tolist() == sorted(t.tolist() + pv.index.tolist())
    assert frame["load_w"].tolist()[:2] == [100.0, 100.0]  # held at PV's time
    assert math.isnan(frame["load_w"].iloc[2])
    assert math.isnan(frame["load_w"].iloc[3])
    assert math.isnan(frame["pv_w"].iloc[0])  # before PV's first state
    assert frame["pv_w"].tolist()[1:] == [0.0, 0.0, 800.0, 800.0]
    empty = history_frame({"load_w": power_series([])})
    assert empty.empty
    assert list(empty.columns) == ["load_w"]


def test_household_history_from_ha_forecasts_the_next_day() -> None:
    fake = FakeHA(states=household_states("2024-04-10T22:00:00+00:00"))
    cache = HistoryCache(days=14)
    now = datetime(2024, 4, 10, 22, 0, tzinfo=UTC)
    cache.update([LOAD, PV], now, lambda a, b: fake.history(a, _query(b, LOAD, PV)))
    frame = history_frame(
        {"load_w": power_series(cache.get(LOAD)), "pv_w": power_series(cache.get(PV))}
    )
    result = forecast(
        frame,
        "2024-04-11T00:00:00+02:00",
        96,
        15,
        tz="Europe/Paris",
        config=ForecastConfig(max_hold=HISTORY_MAX_HOLD),
    )
    assert result.load.method != "none"
    assert result.pv.method != "none"
    actual = pd.read_csv(
        DATA / "household_fr_30min_2024-03-10_2024-04-21.csv",
        index_col="timestamp",
        parse_dates=True,
    ).loc["2024-04-10T22:00:00+00:00":"2024-04-11T21:30:00+00:00"]
    mean = actual["load_base_w"].mean()
    assert abs(result.load.power_w.mean() - mean) < 0.4 * mean
    night = result.pv.power_w[:16]  # midnight to 4 am: no sun
    assert np.allclose(night, 0.0)
    assert result.pv.power_w.max() > 500


def _query(end: datetime, *entities: str) -> dict[str, list[str]]:
    return {
        "filter_entity_id": [",".join(entities)],
        "end_time": [end.isoformat()],
        "minimal_response": [""],
    }


def test_the_cache_reads_in_chunks_then_only_what_is_new() -> None:
    fake = FakeHA(states=household_states("2024-03-31T22:00:00+00:00"))
    asked: list[tuple[datetime, datetime]] = []

    def fetch(begin: datetime, end: datetime) -> list[list[dict]]:
        asked.append((begin, end))
        return fake.history(begin, _query(end, LOAD))

    cache = HistoryCache(days=3)
    cache.update([LOAD], NOW, fetch)
    assert [(b.isoformat(), e.isoformat()) for b, e in asked] == [
        ("2024-03-28T22:00:05+00:00", "2024-03-29T22:00:05+00:00"),
        ("2024-03-29T22:00:05+00:00", "2024-03-30T22:00:05+00:00"),
        ("2024-03-30T22:00:05+00:00", "2024-03-31T22:00:05+00:00"),
    ]
    count = len(cache.get(LOAD))
    cache.update([LOAD], NOW + timedelta(minutes=15), fetch)
    assert asked[-1] == (NOW - timedelta(minutes=5), NOW + timedelta(minutes=15))
    assert len(cache.get(LOAD)) >= count
    # older than `days` is dropped, except the state that still holds at the window's start
    cache.update([LOAD], NOW + timedelta(days=1), fetch)
    times = [when for when, _ in cache.get(LOAD)]
    assert times[0] <= (NOW - timedelta(days=2)).timestamp() <= times[1]
    assert len(set(times)) == len(times)
    # another entity list starts afresh
    cache.update([PV], NOW, fetch)
    assert cache.entities == (PV,)
    assert asked[-3][0] == NOW - timedelta(days=3)


def test_a_failing_fetch_keeps_what_arrived() -> None:
    fake = FakeHA(states=household_states("2024-03-31T22:00:00+00:00"))
    calls = []

    def fetch(begin: datetime, end: datetime) -> list[list[dict]]:
        calls.append(begin)
        if len(calls) == 2:
            raise OSError("gone")
        return fake.history(begin, _query(end, LOAD))

    cache = HistoryCache(days=3)
    with pytest.raises(OSError, match="gone"):
        cache.update([LOAD], NOW, fetch)
    assert cache.until == NOW - timedelta(days=2)
    assert not cache.empty
    cache.update([LOAD], NOW, fetch)  # resumes where it stopped
    assert calls[2] == NOW - timedelta(days=2, minutes=5)


def test_weather_forecast_and_history_frames() -> None:
    items = weather_items("2024-04-01T00:00:00+00:00", 3)
    frame = weather_forecast_frame(items)
    assert list(frame.columns) == ["temp_c", "cloud_cover_pct"]
    assert len(frame) == 3
    assert str(frame.index.tz) == "UTC"
    fahrenheit = weather_forecast_frame(
        [{"datetime": "2024-04-01T00:00:00+00:00", "temperature": 50, "condition": "sunny"}],
        fahrenheit=True,
    )
    assert list(fahrenheit.columns) == ["temp_c"]
    assert fahrenheit["temp_c"].iloc[0] == pytest.approx(10.0)
    readings = readings_by_entity(
        [
            [
                {
                    "entity_id": "weather.home",
                    "state": "rainy",
                    "last_changed": "2024-04-01T00:00:00+00:00",
                    "attributes": {"temperature": 7.5, "cloud_coverage": 90},
                },
                {
                    "entity_id": "weather.home",
                    "state": "rainy",
                    "last_updated": "2024-04-01T00:30:00+00:00",
                    "attributes": {"temperature": "unknown"},
                },
            ]
        ],
        weather_value,
    )
    past = weather_history_frame(readings["weather.home"])
    assert past["temp_c"].iloc[0] == 7.5
    assert math.isnan(past["temp_c"].iloc[1])
    assert past["cloud_cover_pct"].iloc[0] == 90
    assert weather_forecast_frame([]).empty
