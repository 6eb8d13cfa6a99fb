"""A fresh install without PV history: serve forecasts a clear-sky PV from the site's peak power."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
from typing import Any

import pytest
from test_serve import NOW, START, Clock, _service, _warnings
from test_serve_fakeha import (
    PV,
    WEATHER,
    FakeHA,
    household_states,
    problem,
    serve_fake,
    weather_items,
    weather_states,
)

from ems_optimizer import serve
from ems_optimizer.forecast.physical import PvArray, physical_pv_w, usable_location

PARIS = (48.85, 2.35)
PEAK = 6000.0


# --- the physical model (pvlib) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "lat", "lon", "azimuth"),
    [
        ("2024-04-01T00:00:00+02:00", *PARIS, 180.0),
        ("2024-12-21T00:00:00+01:00", *PARIS, 180.0),
        ("2024-06-21T00:00:00+02:00", 60.17, 24.94, 180.0),  # Helsinki, midsummer
        ("2024-01-15T00:00:00-05:00", 40.71, -74.0, 180.0),  # New York
        ("2024-07-01T00:00:00+10:00", -33.87, 151.21, 0.0),  # Sydney, panels facing north
    ],
)
def test_clear_sky_pv_is_zero_at_night_peaks_at_solar_noon_and_stays_under_peak(
    day: str, lat: float, lon: float, azimuth: float
) -> None:
    start = datetime.fromisoformat(day)
    array = PvArray(PEAK, azimuth_deg=azimuth)
    pv = physical_pv_w(start, 96, 15, array, latitude=lat, longitude=lon)
    assert len(pv) == 96
    assert min(pv) >= 0.0
    assert max(pv) <= PEAK
    assert max(pv) > 0.1 * PEAK  # some sun every day at these latitudes
    # Zero while the sun is down (local 00:00-03:00 at all these places).
    assert pv[:12] == [0.0] * 12
    # Panels facing the equator: the best step is within half an hour of solar noon.
    best = start + timedelta(minutes=15 * pv.index(max(pv)) + 7.5)
    solar_noon = datetime(start.year, start.month, start.day, 12, tzinfo=UTC) - timedelta(
        hours=lon / 15
    )
    offset_h = (best - solar_noon).total_seconds() / 3600
    offset_h = (offset_h + 12) % 24 - 12  # the same clock time on either side of a date line
    assert abs(offset_h) <= 0.5


def _day(array: PvArray, weather: Any = None) -> list[float]:
    start = datetime.fromisoformat("2024-06-21T00:00:00+02:00")
    return physical_pv_w(
        start, 96, 15, array, latitude=PARIS[0], longitude=PARIS[1], weather=weather
    )


def test_orientation_moves_the_peak_and_the_inverter_clips_it() -> None:
    south, east, west = (_day(PvArray(PEAK, azimuth_deg=a)) for a in (180.0, 90.0, 270.0))
    assert east.index(max(east)) < south.index(max(south)) < west.index(max(west))
    clipped = _day(PvArray(PEAK, inverter_w=3000.0))
    assert max(clipped) <= 3000.0
    assert max(clipped) == pytest.approx(3000.0, rel=0.01)  # a June noon saturates it
    # a summer day on a south roof at 35°: a clear day gives 6-8 kWh per kWp
    assert 6.0 < sum(south) / 4 / PEAK < 8.0


def test_clouds_and_heat_lower_the_output() -> None:
    import pandas as pd

    clear = _day(PvArray(PEAK))
    grid = pd.date_range("2024-06-20T22:00:00+00:00", periods=96, freq="15min")
    overcast = _day(PvArray(PEAK), pd.DataFrame({"cloud_cover_pct": 100.0}, index=grid))
    hot = _day(PvArray(PEAK), pd.DataFrame({"temp_c": 38.0}, index=grid))
    assert sum(overcast) < 0.5 * sum(clear)
    assert sum(hot) < sum(clear)
    with pytest.raises(ValueError, match="aware"):
        physical_pv_w(datetime(2024, 6, 21), 4, 15, PvArray(PEAK), latitude=0, longitude=0)


def test_array_options_fall_back_on_defaults() -> None:
    array = PvArray.of(5000, {"pv_tilt_deg": 20, "pv_azimuth_deg": "90", "pv_inverter_w": 4000})
    assert (array.tilt_deg, array.azimuth_deg, array.inverter_w) == (20.0, 90.0, 4000.0)
    wild = PvArray.of(5000, {"pv_tilt_deg": 120, "pv_azimuth_deg": "north", "pv_inverter_w": -1})
    assert (wild.tilt_deg, wild.azimuth_deg, wild.inverter_w) == (35.0, 180.0, None)


def test_usable_location() -> None:
    assert usable_location(48.85, "2.35") == PARIS
    assert usable_location(None, 2.35) is None
    assert usable_location(95, 2.35) is None
    assert usable_location(float("nan"), 2.35) is None


# --- serve ---------------------------------------------------------------------------------------


def _sources(body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**body["sources"], **extra}


@pytest.fixture
def fresh(socket_enabled: None) -> Iterator[FakeHA]:
    """A fake HA of a fresh install: load history, but no PV history at all."""
    del socket_enabled
    fake = FakeHA()
    fake.problem = problem(START, 24, 60)
    fake.problem["sources"] = _sources(
        fake.problem, latitude=PARIS[0], longitude=PARIS[1], pv_peak_w=PEAK
    )
    fake.states = household_states("2024-03-31T22:00:00+00:00")
    del fake.states[PV]
    fake.states[WEATHER] = weather_states("2024-03-31T22:00:00+00:00")
    fake.weather = {WEATHER: weather_items("2024-03-31T22:00:00+00:00", 48)}
    with serve_fake(fake) as running:
        yield running


def test_no_pv_history_uses_the_clear_sky_estimate(fresh: FakeHA, tmp_path: Path) -> None:
    service = _service(fresh, tmp_path)
    assert service.once() == serve.EXIT_OK
    (body,) = fresh.plans
    pv = body["scenario"]["pv_w"]
    assert len(pv) == 24
    # 2024-04-01 in Paris (UTC+2): night until ~07:30, solar noon ≈ 13:55, sunset ~20:20.
    assert pv[:6] == [0.0] * 6
    assert pv[22:] == [0.0] * 2
    assert pv.index(max(pv)) in (13, 14)
    assert 0.45 * PEAK < max(pv) <= PEAK
    messages = _warnings(body)
    assert f"no usable history of {PV}: PV forecast from a clear-sky estimate (6000 W peak)" in (
        messages
    )
    assert not any("PV forecast 0 W" in m for m in messages)
    assert body["plan"]["forecast"]["pv"] == {"method": "clear_sky"}  # shown in HA
    (run,) = service.store.runs()
    assert json.loads((run / "run.json").read_text())["inputs"]["pv_fallback"] == "clear_sky"


def test_the_panels_orientation_from_ha_is_used(fresh: FakeHA, tmp_path: Path) -> None:
    """Panels facing east (the site's orientation options): the clear-sky peak comes earlier."""
    assert _service(fresh, tmp_path).once() == serve.EXIT_OK
    south = fresh.plans[-1]["scenario"]["pv_w"]
    fresh.problem["sources"].update(pv_tilt_deg=40, pv_azimuth_deg=90)
    assert _service(fresh, tmp_path / "east").once() == serve.EXIT_OK
    east = fresh.plans[-1]["scenario"]["pv_w"]
    assert east.index(max(east)) < south.index(max(south))


def test_without_a_peak_power_the_pv_forecast_stays_0_w(fresh: FakeHA, tmp_path: Path) -> None:
    fresh.problem["sources"]["pv_peak_w"] = None
    assert _service(fresh, tmp_path).once() == serve.EXIT_OK
    (body,) = fresh.plans
    assert body["scenario"]["pv_w"] == [0.0] * 24
    assert f"no usable history of {PV}: PV forecast 0 W" in _warnings(body)


def test_the_place_falls_back_to_ha_config(fresh: FakeHA, tmp_path: Path) -> None:
    """An ems that sends no lat/lon: /api/config has them."""
    del fresh.problem["sources"]["latitude"], fresh.problem["sources"]["longitude"]
    fresh.config = {**fresh.config, "latitude": PARIS[0], "longitude": PARIS[1]}
    assert _service(fresh, tmp_path).once() == serve.EXIT_OK
    assert max(fresh.plans[0]["scenario"]["pv_w"]) > 0


def test_no_place_at_all_keeps_0_w(fresh: FakeHA, tmp_path: Path) -> None:
    del fresh.problem["sources"]["latitude"], fresh.problem["sources"]["longitude"]
    assert _service(fresh, tmp_path).once() == serve.EXIT_OK
    (body,) = fresh.plans
    assert body["scenario"]["pv_w"] == [0.0] * 24
    assert f"no usable history of {PV}: PV forecast 0 W" in _warnings(body)


def test_a_few_hours_of_pv_history_is_too_short(fresh: FakeHA, tmp_path: Path) -> None:
    """Installed this evening: a few readings, all 0 W, would forecast a day without sun."""
    fresh.states[PV] = [
        ("2024-03-31T18:00:00+00:00", "150.0", None),
        ("2024-03-31T18:30:00+00:00", "0.0", None),
    ]
    assert _service(fresh, tmp_path, Clock(NOW)).once() == serve.EXIT_OK
    (body,) = fresh.plans
    assert max(body["scenario"]["pv_w"]) > 0.45 * PEAK
    (message,) = [m for m in _warnings(body) if PV in m]
    assert message.startswith(f"history of {PV} too short (4.0 h): ")
    assert "clear-sky estimate (6000 W peak)" in message


def test_a_long_pv_history_is_used_not_the_clear_sky(fresh: FakeHA, tmp_path: Path) -> None:
    fresh.states[PV] = household_states("2024-03-31T22:00:00+00:00")[PV]
    assert _service(fresh, tmp_path).once() == serve.EXIT_OK
    (body,) = fresh.plans
    assert _warnings(body) == []
    assert max(body["scenario"]["pv_w"]) > 500
