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
from ems_optimizer.forecast.solar import (
    CLEAR_SKY_PERFORMANCE,
    clear_sky_factor,
    clear_sky_pv_w,
    solar_elevation_deg,
    usable_location,
)

PARIS = (48.85, 2.35)
PEAK = 6000.0


# --- solar geometry ----------------------------------------------------------------------------


def test_solar_elevation_matches_known_values() -> None:
    # Paris at the March equinox: solar noon ≈ 12:00 UTC − 9 min (longitude) + 7 min (EoT).
    noon = datetime(2024, 3, 20, 11, 58, tzinfo=UTC)
    assert solar_elevation_deg(noon, *PARIS) == pytest.approx(90 - 48.85, abs=1.0)
    # June solstice noon: 90 − lat + 23.44.
    june = datetime(2024, 6, 21, 11, 52, tzinfo=UTC)
    assert solar_elevation_deg(june, *PARIS) == pytest.approx(90 - 48.85 + 23.44, abs=1.0)
    # Midnight: well below the horizon, so no light.
    midnight = datetime(2024, 3, 20, 23, 50, tzinfo=UTC)
    assert solar_elevation_deg(midnight, *PARIS) < -30
    assert clear_sky_factor(midnight, *PARIS) == 0.0
    # A time zone does not move the sun.
    local = noon.astimezone(datetime.fromisoformat(START).tzinfo)
    assert solar_elevation_deg(local, *PARIS) == solar_elevation_deg(noon, *PARIS)
    with pytest.raises(ValueError, match="aware"):
        solar_elevation_deg(datetime(2024, 3, 20, 12), *PARIS)


@pytest.mark.parametrize(
    ("day", "lat", "lon"),
    [
        ("2024-04-01T00:00:00+02:00", *PARIS),
        ("2024-12-21T00:00:00+01:00", *PARIS),
        ("2024-06-21T00:00:00+02:00", 60.17, 24.94),  # Helsinki, midsummer
        ("2024-01-15T00:00:00-05:00", 40.71, -74.0),  # New York
        ("2024-07-01T00:00:00+10:00", -33.87, 151.21),  # Sydney, southern winter
    ],
)
def test_clear_sky_pv_is_zero_at_night_peaks_at_solar_noon_and_stays_under_peak(
    day: str, lat: float, lon: float
) -> None:
    start = datetime.fromisoformat(day)
    pv = clear_sky_pv_w(start, 96, 15, peak_w=PEAK, latitude=lat, longitude=lon)
    assert len(pv) == 96
    assert min(pv) >= 0.0
    assert max(pv) <= PEAK * CLEAR_SKY_PERFORMANCE <= PEAK
    assert max(pv) > 0.1 * PEAK  # some sun every day at these latitudes
    # Zero while the sun is down (local 00:00-03:00 at all these places).
    assert pv[:12] == [0.0] * 12
    # The best step is within half an hour of solar noon (12:00 UTC − lon/15 h ± EoT).
    best = start + timedelta(minutes=15 * pv.index(max(pv)) + 7.5)
    solar_noon = datetime(start.year, start.month, start.day, 12, tzinfo=UTC) - timedelta(
        hours=lon / 15
    )
    offset_h = (best - solar_noon).total_seconds() / 3600
    offset_h = (offset_h + 12) % 24 - 12  # the same clock time on either side of a date line
    assert abs(offset_h) <= 0.5


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
    assert 0.6 * PEAK * CLEAR_SKY_PERFORMANCE < max(pv) <= PEAK * CLEAR_SKY_PERFORMANCE
    messages = _warnings(body)
    assert f"no usable history of {PV}: PV forecast from a clear-sky estimate (6000 W peak)" in (
        messages
    )
    assert not any("PV forecast 0 W" in m for m in messages)
    (run,) = service.store.runs()
    assert json.loads((run / "run.json").read_text())["inputs"]["pv_fallback"] == "clear_sky"


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
    assert max(body["scenario"]["pv_w"]) > 0.6 * PEAK * CLEAR_SKY_PERFORMANCE
    (message,) = [m for m in _warnings(body) if PV in m]
    assert message.startswith(f"history of {PV} too short (4.0 h): ")
    assert "clear-sky estimate (6000 W peak)" in message


def test_a_long_pv_history_is_used_not_the_clear_sky(fresh: FakeHA, tmp_path: Path) -> None:
    fresh.states[PV] = household_states("2024-03-31T22:00:00+00:00")[PV]
    assert _service(fresh, tmp_path).once() == serve.EXIT_OK
    (body,) = fresh.plans
    assert _warnings(body) == []
    assert max(body["scenario"]["pv_w"]) > 500
