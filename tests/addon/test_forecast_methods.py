"""Each forecast method on days × slots matrices, and the selection by rolling backtest."""

from __future__ import annotations

import numpy as np
import pytest

from ems_optimizer.forecast.candidates import load_methods, pv_methods
from ems_optimizer.forecast.core import select_method
from ems_optimizer.forecast.methods import (
    DayContext,
    heating_slope_w_per_k,
    persistence,
    pv_weather,
    recent_days,
    weekly_persistence,
    weighted_quantile,
)

SLOTS = 48


def _ctx(n_rows, first_weekday=0, **kwargs):
    weekend = (np.arange(n_rows) + first_weekday) % 7 >= 5
    return DayContext(day_off=weekend, **kwargs)


def test_persistence_is_the_last_24_hours_repeated_from_a_midday_origin():
    values = np.full((4, SLOTS), np.nan)
    values[0] = 1.0
    values[1] = 2.0  # yesterday
    values[2, :28] = 3.0  # today until 14:00, the origin
    ctx = _ctx(4)
    today = persistence(values, 2, ctx)
    tomorrow = persistence(values, 3, ctx)
    assert np.all(today == 2.0)  # today after 14:00: yesterday at the same time
    assert np.all(tomorrow[:28] == 3.0)  # tomorrow before 14:00: today
    assert np.all(tomorrow[28:] == 2.0)  # tomorrow after 14:00: yesterday (48 h back)


def test_persistence_skips_a_missing_day():
    values = np.vstack([np.full(SLOTS, 5.0), np.full(SLOTS, np.nan), np.full(SLOTS, np.nan)])
    assert np.all(persistence(values, 2, _ctx(3)) == 5.0)
    assert np.all(np.isnan(persistence(values[:1], 0, _ctx(1))))


def test_weekly_persistence_uses_the_same_weekday():
    values = np.repeat(np.arange(21.0)[:, None], SLOTS, axis=1)
    ctx = _ctx(22)
    full = np.vstack([values, np.full(SLOTS, np.nan)])
    assert np.all(weekly_persistence(full, 21, ctx) == 14.0)
    full[14, :10] = np.nan  # that weekday missing last week at night: two weeks back
    out = weekly_persistence(full, 21, ctx)
    assert np.all(out[:10] == 7.0)
    assert np.all(out[10:] == 14.0)
    assert np.all(weekly_persistence(full[:5], 5, _ctx(6)) == 4.0)  # under a week: daily


def test_weighted_quantile():
    samples = np.array([[1.0, 10.0], [2.0, np.nan], [3.0, 30.0], [100.0, 40.0]])
    assert list(weighted_quantile(samples, np.ones((4, 1)))) == [2.0, 30.0]
    heavy_last = np.array([[1.0], [1.0], [1.0], [10.0]])
    assert weighted_quantile(samples, heavy_last)[0] == 100.0
    assert np.isnan(weighted_quantile(np.full((2, 1), np.nan), np.ones((2, 1)))[0])


def test_blend_shrugs_off_an_unusual_day_and_weighs_day_types():
    rng = np.random.default_rng(1)
    n = 29
    ctx = _ctx(n)
    values = 300.0 + rng.normal(0, 20, (n, SLOTS))
    values[ctx.day_off] += 400.0  # weekends: people at home
    values[n - 2] = 5000.0  # yesterday (a Saturday): a party
    values[n - 1] = np.nan
    weekday = recent_days(values, n - 1, ctx)  # row 28 is a Monday
    assert np.all(np.abs(weekday - 300.0) < 60.0)
    assert ctx.day_off[26]  # the Saturday before, from weekend days only
    only_weekends = recent_days(values, 26, ctx, other_daytype_weight=0.0)
    assert np.all(np.abs(only_weekends - 700.0) < 80.0)


def test_heating_term_follows_temperature():
    rng = np.random.default_rng(2)
    n = 50
    temp = rng.uniform(-2.0, 14.0, n)
    base = 400.0 + 150.0 * np.maximum(0.0, 16.0 - temp)
    values = base[:, None] + rng.normal(0, 30, (n, SLOTS))
    values[-1] = np.nan
    temp[-1] = -5.0  # a cold snap tomorrow
    ctx = _ctx(n, temp_c=temp)
    assert heating_slope_w_per_k(values, n - 1, temp) == pytest.approx(150.0, rel=0.1)
    truth = 400.0 + 150.0 * 21.0
    with_temp = recent_days(values, n - 1, ctx, temperature=True)
    without = recent_days(values, n - 1, ctx)
    assert np.abs(with_temp - truth).mean() < 150.0
    assert np.abs(without - truth).mean() > 1000.0


def test_no_heating_term_without_a_clear_relation():
    rng = np.random.default_rng(3)
    values = rng.normal(500, 50, (50, SLOTS))
    temp = rng.uniform(-2.0, 14.0, 50)
    assert heating_slope_w_per_k(values, 49, temp) == 0.0
    assert heating_slope_w_per_k(values, 49, np.full(50, 10.0)) == 0.0  # no spread


def _sun(slots=SLOTS):
    hours = (np.arange(slots) + 0.5) * 24 / slots
    return np.clip(np.cos((hours - 13.0) / 12.0 * np.pi) * 4000.0, 0.0, None) ** 1.0


def test_pv_weather_recovers_a_cloud_driven_day():
    rng = np.random.default_rng(4)
    n = 40
    kw = np.clip(rng.uniform(0.1, 1.0, (n, 1)) + rng.normal(0, 0.05, (n, SLOTS)), 0, 1)
    values = _sun()[None, :] * (0.1 + 0.9 * kw)
    truth = values[-1].copy()
    values[-1] = np.nan
    out = pv_weather(values, n - 1, _ctx(n, clear_sky_index=kw))
    assert np.abs(out - truth).mean() < 0.1 * truth.mean()
    assert np.all(out[_sun() == 0] == 0.0)
    no_weather = pv_weather(values, n - 1, _ctx(n))
    assert np.all(np.isnan(no_weather))


def test_pv_weather_falls_back_to_the_mean_day_when_weather_says_nothing():
    rng = np.random.default_rng(5)
    n = 40
    share = rng.uniform(0.2, 1.0, (n, 1))
    values = _sun()[None, :] * share
    unrelated = rng.uniform(0.0, 1.0, (n, SLOTS))
    out = pv_weather(values, n - 1, _ctx(n, clear_sky_index=unrelated))
    envelope_share = out.sum() / _sun().sum()
    assert 0.4 < envelope_share < 0.9  # about the mean share (over the 90 % clear-day profile)


def _select(values, methods, ctx, origin_row):
    return select_method(methods, values, ctx, origin_row, 21)


def test_selection_picks_weekly_for_a_weekly_household():
    rng = np.random.default_rng(6)
    n = 60
    week = rng.uniform(100, 3000, (7, SLOTS))
    values = week[np.arange(n) % 7] + rng.normal(0, 30, (n, SLOTS))
    chosen, mae, days = _select(values, load_methods(), _ctx(n), n - 1)
    assert chosen == "weekly"
    assert days == 21
    assert mae["weekly"] < mae["persistence"]


def test_selection_picks_the_blend_for_a_noisy_routine():
    rng = np.random.default_rng(7)
    n = 60
    values = 400.0 + rng.exponential(300.0, (n, SLOTS))
    chosen, mae, _ = _select(values, load_methods(), _ctx(n), n - 1)
    assert chosen in ("blend", "ensemble")  # the ensemble is the blend and the learned model
    assert mae[chosen] < 0.85 * mae["persistence"]


def test_selection_picks_persistence_when_days_drift():
    rng = np.random.default_rng(8)
    n = 60
    level = np.cumsum(rng.normal(0, 300, n)) + 5000.0
    values = level[:, None] + np.linspace(0, 500, SLOTS)[None, :]
    chosen, _, _ = _select(values, load_methods(), _ctx(n), n - 1)
    assert chosen == "persistence"


def test_selection_without_enough_history_keeps_persistence():
    values = np.full((3, SLOTS), 100.0)
    chosen, _, days = _select(values, pv_methods(), _ctx(3), 2)
    assert chosen == "persistence"
    assert days < 3
