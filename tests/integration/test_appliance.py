"""Appliance logic without Home Assistant running: windows, profiles, requests, contract v1."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigSubentry
from plan_helpers import ALL_APPLIANCES
import pytest

from custom_components.ems.appliance import (
    ApplianceConfig,
    ApplianceRequest,
    contract_appliance,
    in_windows,
    next_time_of_day,
    parse_profile,
    parse_windows,
    resample_profile,
    windows_between,
)
from custom_components.ems.core.contract import validate_scenario
from custom_components.ems.problem import floor_to_step, import_prices

PARIS = ZoneInfo("Europe/Paris")


def _appliance(index: int) -> ApplianceConfig:
    data = ALL_APPLIANCES[index]
    return ApplianceConfig.from_subentry(
        ConfigSubentry(
            data=MappingProxyType(data["data"]),
            subentry_type="appliance",
            title=data["title"],
            unique_id=data["unique_id"],
        )
    )


def test_parse_windows() -> None:
    assert parse_windows("22:00-06:00, 12:30 - 14:00;") == [
        (time(22), time(6)),
        (time(12, 30), time(14)),
    ]
    assert parse_windows("") == []
    assert parse_windows(None) == []
    assert parse_windows("18:00-24:00") == [(time(18), time(0))]
    for bad in ("22-6", "22:00", "22:00-22:00", "24:30-01:00", "10:60-11:00", "8:00-24:01"):
        with pytest.raises(ValueError):  # noqa: PT011
            parse_windows(bad)


def test_parse_profile() -> None:
    assert parse_profile("2000, 2000;150 0") == [2000, 2000, 150, 0]
    for bad in ("", "a", "1, -1", "nan", "inf"):
        with pytest.raises(ValueError):  # noqa: PT011
            parse_profile(bad)


def test_windows_across_midnight_and_dst() -> None:
    windows = parse_windows("22:00-06:00")
    start = datetime(2025, 3, 29, 21, 0, tzinfo=PARIS)  # the night clocks go forward
    end = (start.astimezone(UTC) + timedelta(hours=24)).astimezone(PARIS)  # 22:00 local
    intervals = windows_between(windows, start, end, PARIS)
    assert intervals == [
        (datetime(2025, 3, 29, 22, tzinfo=PARIS), datetime(2025, 3, 30, 6, tzinfo=PARIS)),
    ]
    assert intervals[0][1] - intervals[0][0] == timedelta(hours=7)  # one hour skipped
    assert end.hour == 22  # 24 real hours later, the clocks show 22:00
    assert windows_between(parse_windows("21:30-23:59"), start, end, PARIS)[-1] == (
        datetime(2025, 3, 30, 21, 30, tzinfo=PARIS),
        end,
    )
    assert in_windows(datetime(2025, 3, 29, 23, tzinfo=PARIS), windows, PARIS)
    assert in_windows(datetime(2025, 3, 30, 5, 59, tzinfo=PARIS), windows, PARIS)
    assert not in_windows(datetime(2025, 3, 30, 6, tzinfo=PARIS), windows, PARIS)
    # Overlapping windows merge.
    merged = windows_between(parse_windows("01:00-03:00, 02:00-04:00"), start, end, PARIS)
    assert merged == [
        (datetime(2025, 3, 30, 1, tzinfo=PARIS), datetime(2025, 3, 30, 4, tzinfo=PARIS))
    ]


def test_next_time_of_day() -> None:
    now = datetime(2025, 1, 15, 21, 0, tzinfo=PARIS)
    assert next_time_of_day(time(7), now, PARIS) == datetime(2025, 1, 16, 7, tzinfo=PARIS)
    assert next_time_of_day(time(22), now, PARIS) == datetime(2025, 1, 15, 22, tzinfo=PARIS)
    assert next_time_of_day(time(21), now, PARIS) == datetime(2025, 1, 16, 21, tzinfo=PARIS)


def test_next_time_of_day_on_the_dst_nights() -> None:
    """Compared in UTC: on the fall-back night 02:00-03:00 comes twice, in spring not at all."""

    def utc(at: time, now: datetime) -> datetime:
        # Compared in UTC: == between zones is always False for a time shown twice (PEP 495).
        return next_time_of_day(at, now, PARIS).astimezone(UTC)

    # 2025-10-26, Paris: 03:00 summer time becomes 02:00 winter time (01:00 UTC).
    first = datetime(2025, 10, 26, 0, 10, tzinfo=UTC)  # 02:10 summer time
    second = datetime(2025, 10, 26, 1, 10, tzinfo=UTC)  # 02:10 winter time
    assert utc(time(2, 20), first) == datetime(2025, 10, 26, 0, 20, tzinfo=UTC)
    assert utc(time(2, 20), second) == datetime(2025, 10, 26, 1, 20, tzinfo=UTC)
    assert utc(time(2, 5), second) == datetime(2025, 10, 27, 1, 5, tzinfo=UTC)
    for now in (first, second):
        for at in (time(2, 5), time(2, 20), time(2, 59), time(3), time(1, 30)):
            assert next_time_of_day(at, now, PARIS) > now, (now, at)
    # 2025-03-30: 02:30 does not exist; it is taken as 03:30 summer time.
    spring = datetime(2025, 3, 30, 0, 0, tzinfo=UTC)  # 01:00 winter time
    assert utc(time(2, 30), spring) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert utc(time(7), spring) == datetime(2025, 3, 30, 5, tzinfo=UTC)


def test_resample_profile_keeps_energy() -> None:
    minute = [100.0] * 10 + [2000.0] * 30 + [50.0] * 7  # 47 min
    resampled = resample_profile(minute, 1, 15)
    assert len(resampled) == 4
    assert sum(resampled) * 15 == pytest.approx(sum(minute), rel=1e-6)
    assert resampled[0] == pytest.approx((100 * 10 + 2000 * 5) / 15)
    assert resample_profile([1000.0], 50, 15) == [1000.0, 1000.0, 1000.0, pytest.approx(333.333)]
    # Coarser to finer: the power is kept step by step.
    assert resample_profile([600.0, 300.0], 30, 15) == [600.0, 600.0, 300.0, 300.0]


def test_request_defaults_and_expiry() -> None:
    water = _appliance(1)
    now = datetime(2025, 1, 15, 21, tzinfo=PARIS)
    request = ApplianceRequest.default(water)
    assert request.enabled
    assert request.finish_by_at(water, now, PARIS) == datetime(2025, 1, 16, 6, tzinfo=PARIS)
    assert request.energy_at(water, now) == 6000
    request.energy_wh, request.expires = 2000, datetime(2025, 1, 16, 6, tzinfo=PARIS)
    assert request.energy_at(water, now) == 2000
    assert not request.expire(now)
    later = datetime(2025, 1, 16, 6, tzinfo=PARIS)
    assert request.expire(later)
    assert request.energy_at(water, later) == 6000
    assert not ApplianceRequest.default(_appliance(0)).enabled  # a cycle waits to be loaded
    copy = ApplianceRequest.from_dict(request.as_dict())
    assert copy == request


def test_every_type_fits_contract_v1() -> None:
    now = datetime(2025, 1, 15, 21, 7, tzinfo=PARIS)
    start = floor_to_step(now, 15, PARIS)
    appliances = []
    for index in range(len(ALL_APPLIANCES)):
        appliance = _appliance(index)
        request = ApplianceRequest(enabled=True, energy_wh=5000, expires=None)
        item = contract_appliance(
            appliance,
            request,
            start=start,
            step_minutes=15,
            steps=96,
            now=now,
            tz=PARIS,
            temperatures=(20.0, 5.0),
        )
        assert item is not None, appliance.kind
        appliances.append(item)
    scenario = validate_scenario(
        {
            "version": 1,
            "start": start.isoformat(),
            "step_minutes": 15,
            "horizon_steps": 96,
            "objective": "cost",
            "load_w": [0.0] * 96,
            "pv_w": [0.0] * 96,
            "import_price_eur_per_kwh": import_prices({}, [start] * 96, PARIS),
            "appliances": appliances,
        }
    )
    assert [a["type"] for a in scenario["appliances"]] == [
        "cycle",
        "water_heater",
        "ev",
        "pilot_wire_heater",
        "thermal",
    ]


def test_nothing_to_do() -> None:
    now = datetime(2025, 1, 15, 21, tzinfo=PARIS)
    common = {"start": now, "step_minutes": 15, "steps": 96, "now": now, "tz": PARIS}
    off = ApplianceRequest(enabled=False)
    assert contract_appliance(_appliance(1), off, **common) is None
    no_energy = ApplianceRequest(enabled=True, energy_wh=0)
    assert contract_appliance(_appliance(2), no_energy, **common) is None
    # Thermal without a room temperature: left out rather than guessed.
    on = ApplianceRequest(enabled=True)
    assert contract_appliance(_appliance(4), on, **common, temperatures=(None, 5.0)) is None
    # A deadline beyond the horizon is clipped to its end.
    short = {**common, "steps": 8}
    item = contract_appliance(_appliance(1), on, **short)
    assert item["deadline"] == "2025-01-15T23:00:00+01:00"
