"""Learning: the ELFE cycle learner, water-heater daily energy and EV sessions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ems_optimizer.forecast.io import read_timeseries_csv
from ems_optimizer.learn import (
    daily_energy_from_meter,
    daily_energy_from_power,
    detect_cycles,
    ev_sessions,
    learn_cycle,
    summarise_sessions,
    typical_daily_energy_wh,
)

DATA = Path(__file__).parent / "data"
KONSTANZ = DATA / "appliances_de_konstanz_hourly_2016-02_2016-03.csv"
ELFE = {"threshold_start_w": 50.0, "threshold_end_w": 10.0, "period_count": 5, "period_s": 60.0}


def _washer_cycle() -> np.ndarray:
    """One 90-minute wash at 1-minute resolution: heat, wash with short pauses, spin."""
    cycle = np.full(90, 200.0)
    cycle[:20] = 2000.0
    for pause in range(25, 80, 10):
        cycle[pause : pause + 2] = 3.0  # 2-minute drum pauses: not the end of the cycle
    cycle[80:] = 500.0
    return cycle


def _washer_history(starts_min: list[int], days: int = 8, scale=None) -> pd.Series:
    minutes = days * 24 * 60
    power = np.full(minutes, 2.0)  # standby
    for k, start in enumerate(starts_min):
        factor = 1.0 if scale is None else scale[k]
        stretch = power[start : start + 90]
        stretch[:] = (_washer_cycle() * factor)[: len(stretch)]
    index = pd.date_range("2024-05-01T00:00Z", periods=minutes, freq="min")
    return pd.Series(power, index=index)


STARTS = [600 + 7, 1440 + 1000 + 3, 2 * 1440 + 420, 4 * 1440 + 1200 + 11, 6 * 1440 + 61]


def test_learner_finds_known_cycles_and_their_profile():
    history = _washer_history(STARTS)
    cycles = detect_cycles(history, **ELFE)
    assert [c.start for c in cycles] == [history.index[s] for s in STARTS]
    assert all(c.duration_minutes == 90 for c in cycles)
    truth = _washer_cycle()
    assert cycles[0].energy_wh == pytest.approx(truth.sum() / 60)
    profile = learn_cycle(history, step_minutes=15, **ELFE)
    assert len(profile.cycles) == 5
    assert profile.profile_w == pytest.approx(truth.reshape(6, 15).mean(axis=1))
    assert profile.energy_wh == pytest.approx(truth.sum() / 60)
    out = profile.as_json()
    assert out["cycles"] == 5
    assert out["step_minutes"] == 15
    assert len(out["profile_w"]) == 6


def test_learner_on_a_state_change_history():
    history = _washer_history(STARTS)
    changes = history[history.diff().ne(0)]  # Home Assistant records changes only…
    changes = pd.concat([changes, history.iloc[-1:]])  # …and the state at the end of the query
    assert len(changes) < len(history) / 20
    cycles = detect_cycles(changes, **ELFE, max_hold=pd.Timedelta(days=7))
    assert [c.start for c in cycles] == [history.index[s] for s in STARTS]
    profile = learn_cycle(changes, step_minutes=15, **ELFE, max_hold=pd.Timedelta(days=7))
    assert profile.profile_w == pytest.approx(_washer_cycle().reshape(6, 15).mean(axis=1))


def test_the_median_ignores_an_odd_cycle():
    history = _washer_history(STARTS, scale=[1.0, 1.0, 3.0, 1.0, 1.0])
    profile = learn_cycle(history, step_minutes=30, **ELFE)
    assert profile.profile_w == pytest.approx(_washer_cycle().reshape(3, 30).mean(axis=1))


def test_period_count_decides_what_ends_a_cycle():
    history = _washer_history(STARTS[:1])
    # Quiet for 1 period ends a cycle: every 2-minute pause splits the wash.
    split = detect_cycles(history, **{**ELFE, "period_count": 1})
    assert len(split) == 7
    # Quiet periods of 5 minutes: the 2-minute pauses do not end it.
    assert len(detect_cycles(history, **{**ELFE, "period_count": 1, "period_s": 300.0})) == 1


def test_unfinished_and_broken_cycles_are_not_counted():
    history = _washer_history([*STARTS[:2], 8 * 1440 - 30])  # the last one still running
    assert len(detect_cycles(history, **ELFE)) == 2
    gap = history.copy()
    gap.iloc[STARTS[1] + 30 : STARTS[1] + 40] = np.nan  # the recorder lost 10 minutes
    assert [c.start for c in detect_cycles(gap, **ELFE)] == [history.index[STARTS[0]]]
    mid_run = history.iloc[STARTS[0] + 30 :]  # the history starts during a wash
    assert [c.start for c in detect_cycles(mid_run, **ELFE)] == [history.index[STARTS[1]]]


def test_learner_parameters_are_checked():
    history = _washer_history(STARTS[:1])
    with pytest.raises(ValueError, match="threshold"):
        detect_cycles(history, **{**ELFE, "threshold_end_w": 100.0})
    with pytest.raises(ValueError, match="period"):
        detect_cycles(history, **{**ELFE, "period_count": 0})
    nothing = learn_cycle(history * 0, step_minutes=15, **ELFE)
    assert nothing.as_json()["cycles"] == 0
    assert nothing.energy_wh == 0.0


@pytest.mark.parametrize(
    ("column", "energy_range"),
    [("washing_machine_w", (300, 2500)), ("dishwasher_w", (300, 2000))],
)
def test_learner_on_hourly_appliance_data(column, energy_range):
    history = read_timeseries_csv(KONSTANZ)
    hourly = {"threshold_start_w": 50.0, "threshold_end_w": 15.0, "period_count": 1}
    profile = learn_cycle(history[column], period_s=3600.0, step_minutes=60, **hourly)
    assert 10 <= len(profile.cycles) <= 60  # two months of a household
    energies = [c.energy_wh for c in profile.cycles]
    assert energy_range[0] <= np.median(energies) <= energy_range[1]
    assert all(c.start.minute == 0 for c in profile.cycles)
    assert all(c.duration_minutes % 60 == 0 for c in profile.cycles)
    assert 1 <= len(profile.profile_w) <= 4
    assert profile.energy_wh == pytest.approx(np.median(energies))


def _tank(first_day: str, days: int, tz: str = "Europe/Paris") -> pd.Series:
    """A 3 kW water heater on from 02:00 to 04:00 local time (off-peak) every night."""
    start = pd.Timestamp(first_day).tz_localize(tz)
    end = (pd.Timestamp(first_day) + pd.Timedelta(days=days)).tz_localize(tz)
    index = pd.date_range(start, end, freq="15min", inclusive="left")
    hour = index.tz_convert(tz).hour
    return pd.Series(np.where((hour >= 4) & (hour < 6), 3000.0, 0.0), index=index.tz_convert("UTC"))


@pytest.mark.parametrize("first_day", ["2024-03-29", "2024-10-25"])  # 23 h and 25 h days
def test_water_heater_daily_energy_across_dst(first_day):
    power = _tank(first_day, 5)
    daily = daily_energy_from_power(power, "Europe/Paris")
    assert len(daily) == 5
    assert daily.to_numpy() == pytest.approx([6000.0] * 5)
    assert typical_daily_energy_wh(daily) == pytest.approx(6000.0)


def test_water_heater_daily_energy_from_a_meter_with_a_reset():
    power = _tank("2024-03-29", 5)
    meter_kwh = (power * 0.25 / 1000).cumsum().shift(1, fill_value=0.0)
    meter_kwh = meter_kwh.iloc[::2]  # read every 30 minutes
    reset_at = meter_kwh.index[100]
    meter_kwh[meter_kwh.index >= reset_at] -= meter_kwh[reset_at]  # the meter restarted at 0
    meter_kwh.iloc[50] = 1e6  # one glitch
    daily = daily_energy_from_meter(meter_kwh, "Europe/Paris")
    assert daily.iloc[:4].to_numpy() == pytest.approx([6000.0] * 4)
    holes = power.drop(power.index[:48])  # the first day half recorded
    assert np.isnan(daily_energy_from_power(holes, "Europe/Paris").iloc[0])


def test_ev_sessions_join_short_pauses_and_drop_blips():
    index = pd.date_range("2024-05-01T00:00Z", periods=3 * 24 * 4, freq="15min")
    power = pd.Series(0.0, index=index)
    power["2024-05-01T18:00Z":"2024-05-01T19:29Z"] = 7000.0
    power["2024-05-01T20:00Z":"2024-05-01T21:29Z"] = 7000.0  # after a 30-minute pause
    power["2024-05-02T12:00Z":"2024-05-02T12:14Z"] = 800.0  # 200 Wh: a 12 V top-up
    power["2024-05-03T07:00Z":"2024-05-03T08:59Z"] = 3700.0
    sessions = ev_sessions(power)
    assert len(sessions) == 2
    first, second = sessions.iloc[0], sessions.iloc[1]
    assert first["start"] == pd.Timestamp("2024-05-01T18:00Z")
    assert first["end"] == pd.Timestamp("2024-05-01T21:30Z")
    assert first["energy_wh"] == pytest.approx(7000.0 * 3)
    assert second["energy_wh"] == pytest.approx(3700.0 * 2)
    summary = summarise_sessions(sessions, "Europe/Paris")
    assert summary["sessions"] == 2
    assert summary["energy_wh_median"] == pytest.approx(14200.0)


def test_ev_sessions_on_hourly_charger_data():
    history = read_timeseries_csv(KONSTANZ)
    sessions = ev_sessions(history["ev_charging_w"])
    assert 10 <= len(sessions) <= 80
    assert sessions["energy_wh"].between(500, 40_000).all()
    assert sessions["max_power_w"].max() <= 4000  # this charger's ~3.7 kW
    assert date(2016, 3, 3) in set(sessions["start"].dt.date)
