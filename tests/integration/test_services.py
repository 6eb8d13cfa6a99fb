"""Actions: get_problem (the scenario without forecasts), request_run, set_appliance_request."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
from plan_helpers import ALL_APPLIANCES, DISHWASHER, EV, NOW, WATER_HEATER, make_plan, setup_site
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.ems.const import DOMAIN
from custom_components.ems.core.contract import validate_plan, validate_scenario

OPTIONS = {
    "peak_price": 0.27,
    "offpeak_price": 0.2,
    "offpeak_hours": "22:00-06:00",
    "export_price": 0.05,
    "weather_entity": "weather.home",
    "objective": "import",
}


async def _problem(hass: HomeAssistant, **data: Any) -> dict[str, Any]:
    return await hass.services.async_call(
        DOMAIN, "get_problem", data, blocking=True, return_response=True
    )


def _with_forecasts(scenario: dict[str, Any], load: float = 400.0) -> dict[str, Any]:
    steps = scenario["horizon_steps"]
    return {**scenario, "load_w": [load] * steps, "pv_w": [0.0] * steps}


async def test_get_problem_scenario(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(NOW + timedelta(minutes=7, seconds=30))
    entry = await setup_site(hass, options=OPTIONS)
    response = await _problem(hass)

    assert response["version"] == 1
    assert response["site"] == {"entry_id": entry.entry_id, "name": "Home"}
    assert response["run_requested_at"] is None
    assert response["sources"] == {
        "load_power_entity": None,  # no meter in this site
        "pv_power_entity": None,
        "weather_entity": "weather.home",
        "timezone": "Europe/Paris",
        "latitude": hass.config.latitude,
        "longitude": hass.config.longitude,
        "pv_peak_w": None,  # no option and no PV device reporting a rated power
        "pv_tilt_deg": None,  # the add-on's default orientation
        "pv_azimuth_deg": None,
        "country": hass.config.country,  # public holidays (None: not set in this test HA)
        "annual_consumption_kwh": None,  # the add-on's fallback scales the typical profile
        "pv_forecast_entities": [],  # no Solcast sensor: the add-on's own PV forecast
    }
    scenario = response["scenario"]
    assert "load_w" not in scenario
    assert "pv_w" not in scenario
    assert scenario["start"] == "2025-01-15T21:00:00+01:00"  # now, floored to the step
    assert scenario["step_minutes"] == 15
    assert scenario["horizon_steps"] == 96
    assert scenario["objective"] == "import"
    assert scenario["grid"] == {"import_limit_w": 9000, "export_limit_w": 6000}
    assert scenario["battery"] is None  # no battery in this site
    prices = scenario["import_price_eur_per_kwh"]
    assert prices[:4] == [0.27] * 4  # 21:00-22:00 peak
    assert prices[4:36] == [0.2] * 32  # 22:00-06:00 off-peak
    assert prices[36] == 0.27
    assert scenario["export_price_eur_per_kwh"] == [0.05] * 96

    appliances = {a["id"]: a for a in scenario["appliances"]}
    # The dishwasher waits to be loaded; the car needs nothing (default energy 0).
    assert set(appliances) == {"water_heater_uid", "heater_uid", "thermal_uid"}
    assert response["appliances"]["dishwasher_uid"] == {"name": "Dishwasher", "type": "cycle"}
    assert appliances["water_heater_uid"] == {
        "id": "water_heater_uid",
        "type": "water_heater",
        "power_w": 3000.0,
        "energy_wh": 6000.0,
        "windows": [["2025-01-15T22:00:00+01:00", "2025-01-16T06:00:00+01:00"]],
        "deadline": "2025-01-16T06:00:00+01:00",
    }
    assert appliances["heater_uid"]["period"] == [
        "2025-01-16T06:00:00+01:00",
        "2025-01-16T21:00:00+01:00",  # clipped to the horizon
    ]
    assert appliances["heater_uid"]["comfort_ratio"] == 0.5
    thermal = appliances["thermal_uid"]
    assert thermal["t_initial_c"] == 20.5
    assert thermal["outdoor_temp_c"] == [4.0] * 96  # the weather's current temperature

    # What the add-on will do: add the forecasts, and it is a valid scenario of contract v1.
    validate_scenario(_with_forecasts(scenario))


async def test_get_problem_carries_the_site_location_and_pv_peak(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """lat/lon from HA's configuration, pv_peak_w from the site option (for a clear-sky PV)."""
    freezer.move_to(NOW)
    await hass.config.async_update(latitude=48.85, longitude=2.35)
    orientation = {
        "pv_tilt_deg": 20.0,
        "pv_azimuth_deg": 225.0,
        "annual_consumption_kwh": 3200.0,
        "pv_forecast_entities": ["sensor.solcast_pv_forecast_forecast_today"],
    }
    await setup_site(hass, options={**OPTIONS, "pv_peak_w": 6000.0, **orientation})
    sources = (await _problem(hass))["sources"]
    assert sources["latitude"] == 48.85
    assert sources["longitude"] == 2.35
    assert sources["pv_peak_w"] == 6000.0
    assert sources["pv_tilt_deg"] == 20.0
    assert sources["pv_azimuth_deg"] == 225.0
    assert sources["annual_consumption_kwh"] == 3200.0
    assert sources["pv_forecast_entities"] == ["sensor.solcast_pv_forecast_forecast_today"]


def test_pv_peak_w_from_the_option_else_the_pv_devices() -> None:
    from types import SimpleNamespace

    from custom_components.ems.problem import pv_peak_w

    def dev(kind: str, **data: Any) -> SimpleNamespace:
        return SimpleNamespace(kind=kind, data=data)

    pv3, pv5 = dev("pv", max_power=3000), dev("pv", rated_power=5000.0)
    battery = dev("battery", max_discharge_power=5000)
    assert pv_peak_w({"pv_peak_w": 6000}, {"a": pv3}) == 6000  # the option wins
    assert pv_peak_w({}, {"a": pv3, "b": pv5, "c": battery}) == 8000
    assert pv_peak_w({"pv_peak_w": 0}, {"a": pv3}) == 3000  # 0 is "not set"
    assert pv_peak_w({}, {"a": pv3, "b": dev("pv", power=1200)}) is None  # one unknown
    assert pv_peak_w({}, {"c": battery}) is None  # no PV device
    assert pv_peak_w({}, {"a": dev("pv")}) is None  # not polled yet (data empty)


async def test_get_problem_lists_requested_appliances(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    await setup_site(hass, [DISHWASHER, EV])
    await hass.services.async_call(
        DOMAIN,
        "set_appliance_request",
        {"appliance": "dishwasher_uid", "finish_by": "07:00"},
        blocking=True,
    )
    await hass.services.async_call(
        DOMAIN,
        "set_appliance_request",
        {"entity_id": "number.car_energy_needed", "energy_wh": 20000, "finish_by": "07:30"},
        blocking=True,
    )
    scenario = (await _problem(hass))["scenario"]
    appliances = {a["id"]: a for a in scenario["appliances"]}
    assert appliances["dishwasher_uid"] == {
        "id": "dishwasher_uid",
        "type": "cycle",
        # 2 kW for 50 min on 15 min steps: the last step holds the remaining 5 min.
        "profile_w": [2000.0, 2000.0, 2000.0, pytest.approx(666.667)],
        "deadline": "2025-01-16T07:00:00+01:00",
    }
    assert appliances["ev_uid"] == {
        "id": "ev_uid",
        "type": "ev",
        "max_power_w": 7400.0,
        "min_power_w": 1400.0,
        "energy_wh": 20000.0,
        "allow_partial": True,
        "deadline": "2025-01-16T07:30:00+01:00",
    }
    assert scenario["objective"] == "cost"
    assert scenario["import_price_eur_per_kwh"] == [0.25] * 96  # no tariff configured
    validate_scenario(_with_forecasts(scenario))
    assert hass.states.get("number.car_energy_needed").state == "20.0"


async def test_get_problem_uses_a_price_sensor(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    hass.states.async_set(
        "sensor.spot_price",
        "0.31",
        {
            "unit_of_measurement": "EUR/kWh",
            "forecast": [
                {"start": "2025-01-15T22:00:00+01:00", "value": 0.11},
                {"start": "2025-01-15T23:00:00+01:00", "value": 0.09},
            ],
        },
    )
    await setup_site(hass, [], options={**OPTIONS, "price_entity": "sensor.spot_price"})
    prices = (await _problem(hass))["scenario"]["import_price_eur_per_kwh"]
    assert prices[0] == 0.31  # the sensor's value: the price now
    assert prices[1:4] == [0.27] * 3  # no dated price: the tariff
    assert prices[4:8] == [0.11] * 4
    assert prices[8:12] == [0.09] * 4
    assert prices[12] == 0.2  # the last dated price is used for an hour at most


async def test_request_run(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [])
    events = async_capture_events(hass, "ems_run_requested")
    await hass.services.async_call(DOMAIN, "request_run", {}, blocking=True)
    assert [e.data for e in events] == [{"entry_id": entry.entry_id}]
    response = await _problem(hass, config_entry_id=entry.entry_id)
    assert dt_util.parse_datetime(response["run_requested_at"]) == NOW


async def test_set_appliance_request_targets_and_errors(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [DISHWASHER, WATER_HEATER])
    manager = entry.runtime_data.plan
    events = async_capture_events(hass, "ems_run_requested")

    async def request(**data: Any) -> None:
        await hass.services.async_call(DOMAIN, "set_appliance_request", data, blocking=True)

    # By device: a datetime with a time zone.
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "water_heater_uid")})
    site = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, entry.entry_id)})
    assert device.via_device_id == site.id
    await request(device_id=device.id, finish_by="2025-01-16T05:00:00+01:00", energy_wh=4000)
    assert manager.finish_by("water_heater_uid", NOW) == datetime.fromisoformat(
        "2025-01-16T05:00:00+01:00"
    )
    assert manager.energy_wh("water_heater_uid", NOW) == 4000
    assert len(events) == 1  # the household changed its mind: re-plan
    # A naive datetime is local time.
    await request(entity_id="switch.water_heater_let_ems_schedule_it", finish_by="2025-01-16 04:00")
    assert manager.finish_by("water_heater_uid", NOW).isoformat() == "2025-01-16T04:00:00+01:00"

    with pytest.raises(ServiceValidationError) as err:
        await request(appliance="dishwasher_uid", energy_wh=1000)
    assert err.value.translation_key == "not_applicable"
    with pytest.raises(ServiceValidationError) as err:
        await request(appliance="dishwasher_uid", finish_by="2025-01-15T20:00:00+01:00")
    assert err.value.translation_key == "finish_by_past"
    with pytest.raises(ServiceValidationError) as err:
        await request(entity_id="sensor.living_room_temperature", enabled=True)
    assert err.value.translation_key == "appliance_not_found"
    with pytest.raises(ServiceValidationError) as err:
        await request(appliance="nope", enabled=True)
    assert err.value.translation_key == "appliance_not_found"
    with pytest.raises(ServiceValidationError) as err:
        await request(device_id=site.id, enabled=True)
    assert err.value.translation_key == "appliance_not_found"

    # Several targets, one refuses: none changes.
    with pytest.raises(ServiceValidationError):
        await request(
            entity_id=[
                "switch.water_heater_let_ems_schedule_it",
                "switch.dishwasher_let_ems_schedule_it",
            ],
            energy_wh=500,
        )
    assert manager.energy_wh("water_heater_uid", NOW) == 4000

    # Once its deadline passed, the request falls back on the configured defaults.
    later = datetime.fromisoformat("2025-01-16T04:00:30+01:00")
    freezer.move_to(later)
    from pytest_homeassistant_custom_component.common import async_fire_time_changed

    async_fire_time_changed(hass, later)
    await hass.async_block_till_done()
    assert manager.request("water_heater_uid").energy_wh is None
    assert manager.energy_wh("water_heater_uid", later) == 6000
    assert manager.finish_by("water_heater_uid", later).isoformat() == "2025-01-16T06:00:00+01:00"


async def test_an_appliance_subentry_the_site_does_not_know(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """An entity of an appliance subentry the plan manager has not (yet) read is not found."""
    freezer.move_to(NOW)
    entry = await setup_site(hass, [DISHWASHER])
    entry.runtime_data.plan.appliances.pop("dishwasher_uid")  # e.g. added while it reloads
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_appliance_request",
            {"entity_id": "switch.dishwasher_let_ems_schedule_it", "enabled": True},
            blocking=True,
        )
    assert err.value.translation_key == "appliance_not_found"


async def test_an_energy_override_without_finish_by_expires(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """No deadline to expire with: the energy asked for holds for one plan horizon (24 h)."""
    freezer.move_to(NOW)
    no_deadline = ConfigSubentryData(
        data={k: v for k, v in WATER_HEATER["data"].items() if k != "finish_by"},
        subentry_type="appliance",
        title="Water heater",
        unique_id=WATER_HEATER["unique_id"],
    )
    entry = await setup_site(hass, [no_deadline])
    manager = entry.runtime_data.plan
    await hass.services.async_call(
        DOMAIN,
        "set_appliance_request",
        {"appliance": "water_heater_uid", "energy_wh": 2000},
        blocking=True,
    )
    assert manager.request("water_heater_uid").expires == NOW + timedelta(hours=24)
    assert manager.energy_wh("water_heater_uid", NOW + timedelta(hours=23)) == 2000
    later = NOW + timedelta(hours=24, seconds=30)
    freezer.move_to(later)
    async_fire_time_changed(hass, later)
    await hass.async_block_till_done()
    assert manager.request("water_heater_uid").energy_wh is None
    assert manager.energy_wh("water_heater_uid", later) == 6000


async def test_appliance_entities(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [DISHWASHER, WATER_HEATER])
    manager = entry.runtime_data.plan
    # Dashboard: a finish-by, an energy, the switch.
    await hass.services.async_call(
        "datetime",
        "set_value",
        {"entity_id": "datetime.water_heater_finish_by", "datetime": "2025-01-16T05:30:00+01:00"},
        blocking=True,
    )
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.water_heater_energy_needed", "value": 4.2},
        blocking=True,
    )
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.dishwasher_let_ems_schedule_it"}, blocking=True
    )
    assert manager.energy_wh("water_heater_uid", NOW) == pytest.approx(4200)
    assert hass.states.get("datetime.water_heater_finish_by").state == "2025-01-16T04:30:00+00:00"
    assert manager.request("dishwasher_uid").enabled
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "datetime",
            "set_value",
            {
                "entity_id": "datetime.water_heater_finish_by",
                "datetime": "2025-01-15T20:00:00+01:00",
            },
            blocking=True,
        )
    assert err.value.translation_key == "finish_by_past"
    # A cycle has no energy to ask; nothing planned yet: no next start (plan stale).
    assert hass.states.get("number.dishwasher_energy_needed") is None
    assert hass.states.get("sensor.dishwasher_next_start").state == STATE_UNAVAILABLE


async def test_planned_with_the_optimizer_end_to_end(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """get_problem → forecasts → the add-on's MILP → set_plan with its scenario → calendar."""
    planner = pytest.importorskip("ems_optimizer.planner")
    freezer.move_to(NOW)
    entry = await setup_site(hass, ALL_APPLIANCES, options=OPTIONS | {"objective": "cost"})
    await hass.services.async_call(
        DOMAIN,
        "set_appliance_request",
        {"appliance": "dishwasher_uid", "finish_by": "07:00"},
        blocking=True,
    )
    scenario = _with_forecasts((await _problem(hass))["scenario"])
    plan = await hass.async_add_executor_job(planner.plan, scenario)
    validate_plan(plan, validate_scenario(scenario))
    await hass.services.async_call(
        DOMAIN, "set_plan", {"plan": plan, "scenario": scenario}, blocking=True
    )
    await hass.async_block_till_done()
    manager = entry.runtime_data.plan
    assert not manager.is_stale(NOW)
    start = manager.next_start("dishwasher_uid", NOW)
    assert start is not None
    assert start >= datetime.fromisoformat("2025-01-15T22:00:00+01:00")  # off-peak is cheaper
    events = await hass.services.async_call(
        "calendar",
        "get_events",
        {"entity_id": "calendar.home_plan", "start_date_time": NOW, "duration": {"hours": 24}},
        blocking=True,
        return_response=True,
    )
    summaries = {e["summary"] for e in events["calendar.home_plan"]["events"]}
    assert {"Dishwasher", "Water heater"} <= summaries


async def test_get_problem_battery_from_the_controller(hass: HomeAssistant, sim) -> None:
    """With the simulator's battery and meter (real TCP, real clock)."""
    from homeassistant.config_entries import ConfigSubentryData

    def device(kind: str, unit: int, profile: str, serial: str) -> ConfigSubentryData:
        return ConfigSubentryData(
            data={
                "connection": "tcp",
                "host": "127.0.0.1",
                "port": sim.port,
                "unit_id": unit,
                "profile": profile,
                "serial": serial,
            },
            subentry_type=kind,
            title=kind.title(),
            unique_id=f"serial:{serial}",
        )

    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        unique_id="home",
        data={"import_limit_w": 9000, "export_limit_w": None},
        subentries_data=[
            device("battery", 1, "generic_bess", "SIMBESS0001"),
            device("pv", 2, "generic_pv_inverter", "SIMPV0001"),
            device("meter", 3, "generic_meter_3ph", "SIMMETER0001"),
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # A battery ems may not command is part of the house, not of the plan.
    assert (await _problem(hass))["scenario"]["battery"] is None
    battery_id = next(s for s, sub in entry.subentries.items() if sub.subentry_type == "battery")
    hass.config_entries.async_update_entry(entry, options={"control": [battery_id]})
    await hass.async_block_till_done()
    response = await _problem(hass)
    battery = response["scenario"]["battery"]
    assert battery is not None
    assert battery["capacity_wh"] > 0
    assert 0 <= battery["soc_initial_pct"] <= 100
    assert response["sources"]["load_power_entity"] == "sensor.home_house_load"
    assert response["sources"]["pv_power_entity"] == "sensor.home_pv_power"
    assert response["sources"]["pv_peak_w"] is None  # the generic inverter has no rated power
    validate_scenario(_with_forecasts(response["scenario"]))
    now = dt_util.now()
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    await hass.services.async_call(DOMAIN, "set_plan", {"plan": make_plan(start)}, blocking=True)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_get_problem_across_the_spring_forward_night(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """96 steps are 24 real hours; off-peak 22:00-06:00 lasts 7 of them that night."""
    freezer.move_to(datetime.fromisoformat("2025-03-29T21:00:00+01:00"))
    await setup_site(hass, [WATER_HEATER], options=OPTIONS)
    scenario = (await _problem(hass))["scenario"]
    prices = scenario["import_price_eur_per_kwh"]
    assert prices[4 : 4 + 28] == [0.2] * 28
    assert prices[4 + 28] == 0.27
    heater = scenario["appliances"][0]
    assert heater["windows"] == [["2025-03-29T22:00:00+01:00", "2025-03-30T06:00:00+02:00"]]
    assert heater["deadline"] == "2025-03-30T06:00:00+02:00"
    validate_scenario(_with_forecasts(scenario))
