"""Data quality: duplicates, negative and absurd readings, any source step to the plan step."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
import numpy as np
import pandas as pd
import pytest

from ems_optimizer.forecast.clean import (
    clean_power,
    fill_short_gaps,
    infer_step,
    prepare_history,
    to_step_grid,
)

START = pd.Timestamp("2024-06-01T00:00:00+00:00")


def _series(values, step="30min", start=START):
    index = pd.date_range(start, periods=len(values), freq=step)
    return pd.Series(np.asarray(values, dtype=float), index=index)


def test_duplicates_are_averaged_and_rows_sorted():
    s = _series([100, 200, 300])
    messy = pd.concat([s.iloc[[2, 0]], pd.Series([400.0], index=[s.index[0]]), s.iloc[[1]]])
    cleaned, quality = clean_power(messy)
    assert list(cleaned) == [250.0, 200.0, 300.0]
    assert cleaned.index.is_monotonic_increasing
    assert quality.duplicate_rows == 1


def test_negative_and_absurd_readings():
    values = [500.0] * 200 + [-20.0, -3000.0, 1e7, "unavailable"]
    s = pd.Series(values, index=pd.date_range(START, periods=len(values), freq="5min"))
    cleaned, quality = clean_power(s)
    assert cleaned.iloc[200] == 0.0  # meter noise → 0
    assert np.isnan(cleaned.iloc[201])  # large negative → missing
    assert np.isnan(cleaned.iloc[202])  # 10 MW in a house → missing
    assert np.isnan(cleaned.iloc[203])  # HA's "unavailable"
    assert (quality.negative_clipped, quality.negative_dropped, quality.absurd_dropped) == (1, 1, 1)
    assert quality.non_numeric_rows == 1
    capped, _ = clean_power(_series([100, 900]), max_w=500)
    assert np.isnan(capped.iloc[1])


def test_naive_timestamps_are_refused():
    s = pd.Series([1.0, 2.0], index=pd.date_range("2024-01-01", periods=2, freq="h"))
    with pytest.raises(ValueError, match="UTC offset"):
        clean_power(s)


@pytest.mark.parametrize("source_minutes", [1, 5, 10, 15, 30, 60])
@pytest.mark.parametrize("plan_minutes", [5, 15, 30, 60])
def test_any_source_step_to_any_plan_step_keeps_energy(source_minutes, plan_minutes):
    rng = np.random.default_rng(source_minutes * 100 + plan_minutes)
    n = 24 * 60 // source_minutes
    s = _series(rng.uniform(0, 3000, n), step=f"{source_minutes}min")
    grid = pd.date_range(START, periods=24 * 60 // plan_minutes, freq=f"{plan_minutes}min")
    out = to_step_grid(s, grid, pd.Timedelta(minutes=plan_minutes))
    assert out.notna().all()
    energy_in = s.sum() * source_minutes / 60
    assert out.sum() * plan_minutes / 60 == pytest.approx(energy_in, rel=1e-9)
    if plan_minutes < source_minutes:  # a coarser source is held, not smoothed
        assert out.iloc[0] == pytest.approx(s.iloc[0])


def test_misaligned_and_irregular_readings_are_time_weighted():
    # HA-like state changes: 100 W from 00:00, 400 W from 00:10, 0 W from 00:40.
    s = pd.Series(
        [100.0, 400.0, 0.0],
        index=pd.DatetimeIndex(["2024-06-01T00:00Z", "2024-06-01T00:10Z", "2024-06-01T00:40Z"]),
    )
    grid = pd.date_range(START, periods=4, freq="15min")
    out = to_step_grid(s, grid, pd.Timedelta(minutes=15), max_hold=pd.Timedelta(hours=2))
    assert out.iloc[0] == pytest.approx((10 * 100 + 5 * 400) / 15)
    assert out.iloc[1] == pytest.approx(400.0)
    assert out.iloc[2] == pytest.approx((10 * 400 + 5 * 0) / 15)
    assert out.iloc[3] == pytest.approx(0.0)


def test_gaps_stay_missing_and_a_missing_row_stops_the_hold():
    s = _series([100, 100, np.nan, np.nan, 100, 100])
    grid = pd.date_range(START, periods=12, freq="15min")
    out = to_step_grid(s, grid, pd.Timedelta(minutes=15))
    assert out.iloc[4:8].isna().all()
    assert out.iloc[[0, 1, 2, 3, 8, 9, 10, 11]].eq(100).all()
    missing_rows = s.drop(s.index[2:4])  # rows absent rather than empty: hold is one step
    out = to_step_grid(missing_rows, grid, pd.Timedelta(minutes=15))
    assert out.iloc[4:8].isna().all()


def test_short_gaps_are_interpolated_long_ones_left():
    s = _series([0, np.nan, 20, np.nan, np.nan, np.nan, 60, np.nan])
    filled, n = fill_short_gaps(s, max_gap_steps=2)
    assert filled.iloc[1] == pytest.approx(10.0)
    assert filled.iloc[3:6].isna().all()  # 3 steps: too long
    assert np.isnan(filled.iloc[7])  # trailing: nothing to interpolate towards
    assert n == 1


def test_infer_step():
    assert infer_step(_series([1, 2, 3, 4], step="30min").index) == pd.Timedelta(minutes=30)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(0, 5000), min_size=4, max_size=60),
    st.sampled_from([5, 15, 30, 60]),
    st.integers(1, 3000),
)
def test_prepare_history_never_reads_rows_at_or_after_start(values, step_minutes, offset_s):
    s = _series(values, step="10min")
    start = START + pd.Timedelta(seconds=offset_s * 7)
    past, _ = prepare_history(s, start, step_minutes)
    garbage = s.copy()
    garbage[garbage.index >= start] = 1e6 - garbage[garbage.index >= start]
    again, _ = prepare_history(garbage, start, step_minutes)
    pd.testing.assert_series_equal(past, again)
    if len(past):
        assert past.index[-1] + pd.Timedelta(minutes=step_minutes) == start
