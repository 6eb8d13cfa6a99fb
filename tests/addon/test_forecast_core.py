"""The forecast end to end: plan grid, the no-peek rule, DST days, gaps, weather, external PV."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st
import numpy as np
import pandas as pd
import pytest

from ems_optimizer.forecast import forecast, plan_grid, pv_forecast_to_grid, weather_to_grid
from ems_optimizer.forecast.io import read_timeseries_csv, read_weather_sources
from ems_optimizer.forecast.weather import (
    clear_sky_index,
    normalise_weather,
    split_by_resolution,
)

DATA = Path(__file__).parent / "data"
PARIS = "Europe/Paris"


def _site(first_day: str, days: int, step_minutes: int = 15) -> pd.DataFrame:
    """Breakfast at 07:00 local time every day; the sun at its highest at 12:00 UTC."""
    start = pd.Timestamp(first_day).tz_localize(PARIS)
    end = (pd.Timestamp(first_day) + pd.Timedelta(days=days)).tz_localize(PARIS)
    index = pd.date_range(start, end, freq=f"{step_minutes}min", inclusive="left")
    local = index.tz_convert(PARIS)
    hour = np.asarray(local.hour + local.minute / 60)
    utc = index.tz_convert("UTC")
    utc_hour = np.asarray(utc.hour + utc.minute / 60) + step_minutes / 120
    return pd.DataFrame(
        {
            "load_w": 200.0 + 1800.0 * ((hour >= 7) & (hour < 8)),
            "pv_w": 3000.0 * np.clip(np.cos((utc_hour - 12.0) / 24.0 * 2 * np.pi), 0, None),
        },
        index=utc,
    )


def _breakfast_hours(result) -> list[tuple[str, int]]:
    local = result.index.tz_convert(PARIS)
    peak = result.load.power_w > 1000
    return sorted({(str(t.date()), t.hour) for t in local[peak]})


def test_plan_grid_keeps_the_start_offset_across_dst():
    grid = plan_grid("2024-03-31T00:00:00+01:00", 96, 15)
    assert grid[0].isoformat() == "2024-03-31T00:00:00+01:00"
    assert grid[-1] - grid[0] == pd.Timedelta(hours=23, minutes=45)  # absolute time
    local = plan_grid("2024-03-31T00:00:00+01:00", 96, 15, PARIS)
    assert local[-1].isoformat() == "2024-04-01T00:45:00+02:00"  # the 23 h day ends early
    with pytest.raises(ValueError, match="offset"):
        plan_grid("2024-03-31T00:00:00", 4, 15)
    with pytest.raises(ValueError, match="1440"):
        plan_grid("2024-03-31T00:00:00+01:00", 4, 7)
    with pytest.raises(ValueError, match="steps"):
        forecast(_site("2024-03-01", 2), "2024-03-03T00:00:00+01:00", 0, 15)


@pytest.mark.parametrize(
    ("first_day", "start", "day_steps"),
    [
        ("2024-03-10", "2024-03-31T00:00:00+01:00", 92),  # spring: a 23 h day
        ("2024-10-06", "2024-10-27T00:00:00+02:00", 100),  # autumn: a 25 h day
    ],
)
@pytest.mark.parametrize("method", ["persistence", "auto"])
def test_dst_days_keep_local_hours_for_load_and_sun_time_for_pv(
    first_day, start, day_steps, method
):
    history = _site(first_day, 23)
    steps = day_steps + 96  # the DST day and the next one, at 15 min
    result = forecast(history, start, steps, 15, tz=PARIS, load_method=method)
    assert result.index[0].isoformat() == start
    day = str(pd.Timestamp(start).date())
    after = str((pd.Timestamp(start) + pd.Timedelta(days=1)).date())
    assert _breakfast_hours(result) == [(day, 7), (after, 7)]  # not 6 or 8
    assert np.all(result.load.power_w[result.load.power_w <= 1000] == 200.0)
    truth = _site(day, 3, 15)["pv_w"].reindex(result.index.tz_convert("UTC")).to_numpy()
    assert result.pv.power_w == pytest.approx(truth, abs=1e-6)  # no hour shift


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    start_minutes=st.integers(0, 10 * 24 * 4).map(lambda q: q * 15 + 7 * (q % 3 == 0)),
    tamper=st.sampled_from(["noise", "nan", "duplicates", "spikes"]),
)
def test_never_peeks_at_the_future(seed, start_minutes, tamper):
    rng = np.random.default_rng(seed)
    history = _site("2024-05-01", 28)
    history = history + rng.normal(0, 50, history.shape)
    start = pd.Timestamp("2024-05-18T00:00:00+02:00") + pd.Timedelta(minutes=start_minutes)
    future = history.index >= start
    tampered = history.copy()
    if tamper == "noise":
        tampered.loc[future] = rng.uniform(-100, 9000, (future.sum(), 2))
    elif tamper == "nan":
        tampered.loc[future] = np.nan
    elif tamper == "spikes":
        tampered.loc[future] = 1e9
    else:
        tampered = pd.concat([tampered, tampered[future] * 3]).sort_index()
    kwargs = {"tz": PARIS}
    a = forecast(history, start, 96, 15, **kwargs).as_json()
    b = forecast(tampered, start, 96, 15, **kwargs).as_json()
    assert a == b


def test_gaps_fall_back_to_earlier_days():
    history = _site("2024-05-01", 21)
    history.loc["2024-05-20T22:00Z":"2024-05-21T21:59Z"] = np.nan  # the whole last day
    history = history.drop(history.index[100:110])  # rows missing altogether
    result = forecast(history, "2024-05-22T00:00:00+02:00", 96, 15, tz=PARIS)
    assert np.isfinite(result.load.power_w).all()
    assert _breakfast_hours(result) == [("2024-05-22", 7)]
    assert result.load.quality.steps_missing >= 48
    assert result.load.quality.steps_filled == 0  # the gaps are longer than an hour


def test_without_history_the_forecast_is_zero_and_says_so():
    history = _site("2024-05-01", 3)
    result = forecast(history, "2024-04-01T00:00:00+02:00", 8, 60, tz=PARIS)
    assert result.load.method == "none"
    assert np.all(result.load.power_w == 0)
    no_pv = forecast(history[["load_w"]], "2024-05-04T00:00:00+02:00", 8, 60, tz=PARIS)
    assert no_pv.pv.method == "none"
    assert no_pv.as_json()["pv_w"] == [0.0] * 8


def test_on_the_french_house_with_nantes_weather():
    history = read_timeseries_csv(DATA / "household_fr_30min_2024-03-10_2024-04-21.csv")
    weather = read_weather_sources([DATA / "weather_nantes_hourly_2024-03-10_2024-04-22.csv"])
    result = forecast(
        history,
        "2024-04-15T00:00:00+02:00",
        96,
        15,
        weather=weather,
        tz=PARIS,
        load_column="load_base_w",
    )
    out = json.loads(json.dumps(result.as_json(), allow_nan=False))
    assert len(out["load_w"]) == len(out["pv_w"]) == 96
    assert min(out["load_w"]) >= 0
    assert min(out["pv_w"]) >= 0
    assert max(out["pv_w"][:20]) == 0.0  # night
    load, pv = out["method"]["load"], out["method"]["pv"]
    assert set(load["backtest_mae_w"]) == {
        "persistence",
        "weekly",
        "blend",
        "blend_temp",
        "learned",
        "ensemble",
    }
    assert set(pv["backtest_mae_w"]) == {"persistence", "blend", "weather"}  # no place given
    mae = load["backtest_mae_w"]
    best = min(mae, key=mae.get)
    assert load["name"] == (best if mae[best] <= 0.95 * mae["ensemble"] else "ensemble")
    assert 14 <= load["days_scored"] <= 21  # the learned model needs two weeks to fit
    assert load["column"] == "load_base_w"


def test_external_pv_forecast_replaces_the_model_where_it_covers_the_grid():
    history = _site("2024-05-01", 10)
    start = pd.Timestamp("2024-05-11T00:00:00+02:00")
    external = pd.Series(  # Solcast-like: kW per 30 min, labelled at period start
        1234.0, index=pd.date_range(start, periods=24, freq="30min").tz_convert("UTC")
    )
    result = forecast(history, start, 96, 15, tz=PARIS, pv_forecast_w=external)
    assert np.all(result.pv.power_w[:48] == 1234.0)
    assert result.pv.method.startswith("external+")  # the model fills the rest
    assert result.pv.external_steps == 48


def test_pv_forecast_to_grid_labels_and_units():
    grid = plan_grid("2024-06-01T10:00:00+00:00", 4, 15)
    hourly = pd.Series(
        [1.0, 2.0], index=pd.DatetimeIndex(["2024-06-01T10:00Z", "2024-06-01T11:00Z"])
    )
    start = pv_forecast_to_grid(hourly, grid, 15, unit="kW")
    assert list(start) == [1000.0] * 4
    end = pv_forecast_to_grid(hourly, grid, 15, label="end", unit="kW")
    assert list(end) == [2000.0] * 4  # the value stamped 11:00 covers 10:00-11:00
    energy = pv_forecast_to_grid(hourly * 500, grid, 15, unit="Wh")
    assert list(energy) == [500.0] * 4
    point = pv_forecast_to_grid(hourly, grid, 15, label="point", unit="kW")
    assert list(point) == pytest.approx([1125.0, 1375.0, 1625.0, 1875.0], abs=1.0)
    later = plan_grid("2024-06-01T12:00:00+00:00", 2, 15)
    assert pv_forecast_to_grid(hourly, later, 15).isna().all()


def _weather(start: str, periods: int, freq: str, temp: float) -> pd.DataFrame:
    index = pd.date_range(start, periods=periods, freq=freq)
    return pd.DataFrame({"temp_c": temp, "cloud_cover_pct": 50.0}, index=index)


def test_hourly_then_six_hourly_weather_finer_first():
    hourly = _weather("2024-06-01T00:00Z", 48, "h", 10.0)
    six_hourly = _weather("2024-06-01T00:00Z", 20, "6h", 20.0)
    grid = plan_grid("2024-06-01T00:00:00+00:00", 4 * 24 * 4, 15)
    out = weather_to_grid([six_hourly, hourly], grid, 15)
    assert (out["temp_c"].iloc[: 47 * 4] == 10.0).all()  # hourly wins where it exists
    assert (out["temp_c"].iloc[50 * 4 :] == 20.0).all()  # 6-hourly beyond it
    # One file with hourly rows, then 6-hourly rows: two runs, each interpolated on its own.
    ramp = pd.concat([hourly.iloc[:24], _weather("2024-06-02T00:00Z", 8, "6h", 0.0)])
    ramp["temp_c"] = np.arange(len(ramp), dtype=float)
    pieces = split_by_resolution(ramp)
    assert [len(p) for p in pieces] == [25, 8]
    out = weather_to_grid(pieces, plan_grid("2024-06-02T00:00:00+00:00", 24, 15), 15)
    assert out["temp_c"].iloc[12] == pytest.approx(24 + 3.125 / 6)  # 03:00-03:15 mean
    gappy = hourly.drop(hourly.index[5])
    assert len(split_by_resolution(gappy)) == 1  # one missing row is not a new resolution


def test_weather_columns_of_the_shared_data_are_mapped():
    frame = read_timeseries_csv(DATA / "weather_nantes_hourly_2024-03-10_2024-04-22.csv")
    normal = normalise_weather(frame)
    assert set(normal.columns) == {
        "temp_c",
        "cloud_cover_pct",
        "ghi_w_per_m2",
        "ghi_clearsky_w_per_m2",
    }
    assert normal["cloud_cover_pct"].max() <= 100.0
    index = clear_sky_index(normal)
    day = index["2024-04-01T12:00Z"]
    expected = 0.35 + 0.65 * (1 - normal["cloud_cover_pct"]["2024-04-01T12:00Z"] / 100)
    assert day == pytest.approx(expected, abs=0.02)  # ghi / clear-sky: the file's own formula
    cloud_only = clear_sky_index(normal[["cloud_cover_pct"]])
    assert cloud_only.between(0.25, 1.0).all()
