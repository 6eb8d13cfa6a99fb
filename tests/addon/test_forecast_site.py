"""The forecast with what it knows of the site: holidays, the learned load model, physical PV."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st
import numpy as np
import pandas as pd
import pytest

from ems_optimizer.forecast.candidates import load_methods
from ems_optimizer.forecast.core import Site, forecast, off_days
from ems_optimizer.forecast.learned import LearnedLoad, lad_fit
from ems_optimizer.forecast.methods import (
    DayContext,
    calibration,
    clear_sky_blend,
    pv_physical,
    recent_days,
)
from ems_optimizer.forecast.physical import PvArray, PvSite, clear_sky_days

PARIS = "Europe/Paris"
NANTES = PvSite(47.2, -1.55, PvArray(4500.0))
SLOTS = 48


def test_off_days_are_weekends_and_the_countrys_public_holidays():
    days = np.arange(np.datetime64("2024-04-29"), np.datetime64("2024-05-13"))
    plain = off_days(days, None)
    french = off_days(days, "fr")
    named = {str(d) for d in days[french & ~plain]}
    assert named == {"2024-05-01", "2024-05-08", "2024-05-09"}  # Labour, VE, Ascension
    assert {str(d) for d in days[plain]} == {"2024-05-04", "2024-05-05", "2024-05-11", "2024-05-12"}
    assert np.array_equal(off_days(days, "XX"), plain)  # unknown country: weekends only


def test_lad_fit_is_the_median_regression():
    rng = np.random.default_rng(3)
    x = np.column_stack([np.ones(400), rng.uniform(0, 10, 400)])
    y = 100.0 + 20.0 * x[:, 1] + rng.laplace(0, 5, 400)
    y[:40] += 5000.0  # a tenth of wild outliers: least squares would follow them
    fit = lad_fit(x, y)
    assert fit == pytest.approx([100.0, 20.0], abs=3.0)


def _ctx(n, temp=None, **kwargs):
    return DayContext(day_off=(np.arange(n) % 7) >= 5, temp_c=temp, **kwargs)


def test_the_learned_model_follows_the_heating_the_blend_lags_behind():
    rng = np.random.default_rng(5)
    n = 70
    temp = np.concatenate([np.full(60, 14.0), np.full(10, 0.0)])  # a cold snap on day 60
    temp = temp + rng.normal(0, 2.0, n)
    degrees = np.maximum(0.0, 16.0 - temp)
    values = 300.0 + 60.0 * degrees[:, None] + rng.exponential(100.0, (n, SLOTS))
    ctx = _ctx(n, temp)
    learned = load_methods()["learned"]
    target = 63  # the fourth cold day: the fit ends at day 63, three cold days in it
    actual = values[target]
    err_learned = np.abs(learned(values, target, ctx) - actual).mean()
    err_blend = np.abs(recent_days(values, target, ctx, half_life_days=2.0) - actual).mean()
    assert err_learned < 0.6 * err_blend


def test_the_learned_model_never_fits_on_the_day_it_predicts():
    values = np.full((40, SLOTS), 500.0)
    ctx = _ctx(40)
    model = load_methods()["learned"]
    assert isinstance(model, LearnedLoad)
    before = model(values, 30, ctx)
    changed = values.copy()
    changed[30:] = 9000.0  # the target day and after
    assert np.array_equal(model(changed, 30, ctx), before)
    assert np.isnan(load_methods()["learned"](values[:10], 9, _ctx(10))).all()  # too short


def _clear(days: int, first: str = "2024-03-01") -> tuple[np.ndarray, np.ndarray]:
    tz = pd.Timestamp("2024-03-01T00:00:00+01:00").tzinfo
    dates = np.arange(np.datetime64(first), np.datetime64(first) + days)
    return dates, clear_sky_days(NANTES, dates, tz, 30)


def test_calibration_learns_a_shaded_afternoon():
    _, model = _clear(30)
    values = model * 0.9
    values[:, 30:] *= 0.5  # a tree shades the panels after 15:00
    ratio = calibration(values, 29, model)
    lit = model[29] > 200
    assert ratio[lit & (np.arange(SLOTS) < 30)] == pytest.approx(0.9, abs=0.01)
    assert ratio[lit & (np.arange(SLOTS) >= 30)] == pytest.approx(0.45, abs=0.01)


def test_physical_pv_follows_the_sun_where_the_plain_blend_lags():
    _, model = _clear(60)  # March and April: the days lengthen
    values = 0.8 * model
    ctx = _ctx(60, clear_sky_w=model)
    target = 59
    for method in (pv_physical, clear_sky_blend):
        predicted = method(values, target, ctx)
        assert np.abs(predicted - values[target]).max() < 30.0
    blend = recent_days(values, target, ctx, window_days=28, half_life_days=7.0)
    assert (
        np.abs(blend - values[target]).mean()
        > 3 * np.abs(pv_physical(values, target, ctx) - values[target]).mean()
    )


def _history(first_day: str, days: int) -> pd.DataFrame:
    index = pd.date_range(
        pd.Timestamp(first_day).tz_localize(PARIS), periods=days * 96, freq="15min"
    ).tz_convert("UTC")
    _, model = _clear(days + 1, first_day)
    pv = model.repeat(2, axis=1).ravel()[: len(index)] * 0.7
    hour = np.asarray(index.tz_convert(PARIS).hour)
    return pd.DataFrame({"load_w": 200.0 + 1500.0 * (hour == 19), "pv_w": pv}, index=index)


def _weather(first_day: str, days: int, rng: np.random.Generator) -> pd.DataFrame:
    index = pd.date_range(pd.Timestamp(first_day, tz="UTC"), periods=days * 24, freq="h")
    return pd.DataFrame(
        {
            "temp_c": rng.normal(12, 4, len(index)),
            "cloud_cover_pct": rng.uniform(0, 100, len(index)),
        },
        index=index,
    )


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    start_minutes=st.integers(0, 6 * 24 * 4).map(lambda q: q * 15),
)
def test_no_method_peeks_with_weather_and_the_site_known(seed, start_minutes):
    rng = np.random.default_rng(seed)
    history = _history("2024-04-01", 40) + rng.normal(0, 30, (40 * 96, 2)).clip(0)
    weather = [_weather("2024-03-31", 45, rng)]
    start = pd.Timestamp("2024-05-03T00:00:00+02:00") + pd.Timedelta(minutes=start_minutes)
    tampered = history.copy()
    tampered.loc[history.index >= start] = rng.uniform(0, 9000, ((history.index >= start).sum(), 2))
    site = Site(pv=NANTES, country="FR")
    a = forecast(history, start, 96, 15, tz=PARIS, weather=weather, site=site)
    b = forecast(tampered, start, 96, 15, tz=PARIS, weather=weather, site=site)
    assert a.as_json() == b.as_json()
    for series in (a.load, a.pv):
        assert set(series.candidates) >= {"ensemble"}
    assert {"learned", "ensemble"} <= set(a.load.mae_w)
    assert {"physical", "clear_sky_blend", "ensemble"} <= set(a.pv.mae_w)


def test_a_few_cool_days_do_not_make_a_heating_slope():
    """Two days just under the heating base that happened to use more: no slope from them.

    Without the bound, the learned model gave them 385 W/K and forecast 3.8 kW for the first
    cold day of a house using 570 W (the hostile review's case).
    """
    rng = np.random.default_rng(5)
    start = pd.Timestamp("2024-10-15", tz=PARIS)
    index = pd.date_range(start - pd.Timedelta(days=45), start, freq="15min", inclusive="left")
    hours = np.asarray(index.hour + index.minute / 60)
    load = 400 + 300 * np.sin(np.pi * hours / 24) ** 2 + rng.normal(0, 60, len(index))
    cool = [start - pd.Timedelta(days=d) for d in (6, 5)]
    load[np.isin(index.normalize(), cool)] += 150
    history = pd.DataFrame({"load_w": np.clip(load, 0, None)}, index=index)
    hourly = pd.date_range(start - pd.Timedelta(days=45), start + pd.Timedelta(days=2), freq="h")
    temp = np.full(len(hourly), 19.0)
    temp[np.isin(hourly.normalize(), cool)] = 15.6
    temp[hourly >= start] = 8.0  # the forecast: the first cold day
    weather = [pd.DataFrame({"temp_c": temp}, index=hourly)]
    result = forecast(history, start, 96, 15, tz=PARIS, weather=weather)
    blend = float(np.mean(result.load.candidates["blend"]))
    assert float(np.mean(result.load.candidates["learned"])) < 1.3 * blend
    assert float(np.mean(result.load.power_w)) < 1.3 * blend
