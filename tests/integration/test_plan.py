"""The plan: ems.set_plan validation and rejection, staleness, storage and restore, entities."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from plan_helpers import NOW, WATER_HEATER, at, make_plan, run, setup_site
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ems.const import DOMAIN
from custom_components.ems.plan import PLAN_MAX_AGE

ROOT = Path(__file__).resolve().parents[2]
STORE_KEY = f"{DOMAIN}.plan.site_entry_id"


async def _set_plan(hass: HomeAssistant, plan: Any, **extra: Any) -> None:
    await hass.services.async_call(DOMAIN, "set_plan", {"plan": plan, **extra}, blocking=True)
    await hass.async_block_till_done()


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment) -> None:
    freezer.move_to(moment)
    async_fire_time_changed(hass, moment)
    await hass.async_block_till_done()


async def test_set_plan_battery_setpoint_and_staleness(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [])
    manager = entry.runtime_data.plan
    assert manager.is_stale(NOW)
    assert manager.battery_setpoint_w(NOW) is None
    stale = hass.states.get("binary_sensor.home_plan_stale")
    assert stale.state == "on"
    assert stale.attributes["reason"] == "no_plan"
    assert hass.states.get("sensor.home_plan_age").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.home_planned_battery_power").state == STATE_UNAVAILABLE

    battery = run(96, 0, 4, 2000)
    battery[4:6] = [-1500.0, -1500.0]
    await _set_plan(hass, make_plan(NOW, battery_w=battery))
    assert not manager.is_stale(NOW)
    assert manager.battery_setpoint_w(NOW) == 2000
    assert manager.battery_setpoint_w(at(NOW, 4)) == -1500
    assert manager.battery_setpoint_w(NOW - timedelta(minutes=1)) is None  # before the plan
    assert hass.states.get("binary_sensor.home_plan_stale").state == "off"
    assert hass.states.get("sensor.home_plan_status").state == "optimal"
    power = hass.states.get("sensor.home_planned_battery_power")
    assert float(power.state) == 2000
    assert len(power.attributes["series"]) == 96
    assert power.attributes["series"][4] == {"time": at(NOW, 4).isoformat(), "value": -1500.0}
    soc = hass.states.get("sensor.home_planned_state_of_charge")
    assert len(soc.attributes["series"]) == 97  # one per step boundary
    assert float(hass.states.get("sensor.home_planned_cost").state) == 0.42
    # No scenario given: no load forecast to show; PV falls back on the plan's PV.
    assert hass.states.get("sensor.home_load_forecast").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.home_pv_forecast").state == "0.0"

    # The minute tick moves the current step and ages the plan.
    await _tick(hass, freezer, at(NOW, 4))  # exactly PLAN_MAX_AGE old: not yet stale
    assert float(hass.states.get("sensor.home_planned_battery_power").state) == -1500
    assert float(hass.states.get("sensor.home_plan_age").state) == 60.0
    assert hass.states.get("binary_sensor.home_plan_stale").state == "off"

    # More than PLAN_MAX_AGE after it was received: stale, the controller gets nothing.
    later = NOW + PLAN_MAX_AGE + timedelta(minutes=1)
    await _tick(hass, freezer, later)
    assert manager.is_stale(later)
    assert manager.battery_setpoint_w(later) is None
    stale = hass.states.get("binary_sensor.home_plan_stale")
    assert stale.state == "on"
    assert stale.attributes["reason"] == "too_old"


async def test_a_plan_that_ended_is_stale(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [])
    manager = entry.runtime_data.plan
    await _set_plan(hass, make_plan(NOW, steps=2, battery_w=[100.0, 200.0]))
    assert manager.battery_setpoint_w(at(NOW, 1)) == 200
    assert manager.stale_reason(at(NOW, 2)) == "ended"
    assert manager.battery_setpoint_w(at(NOW, 2)) is None
    await _tick(hass, freezer, at(NOW, 2))
    assert hass.states.get("binary_sensor.home_plan_stale").attributes["reason"] == "ended"
    assert hass.states.get("sensor.home_planned_battery_power").state == STATE_UNAVAILABLE


def _bad_plans() -> list[tuple[str, Any, str, str]]:
    """(id, plan, translation key, field named in the error)."""
    good = make_plan(NOW)
    cases: list[tuple[str, Any, str, str]] = [("not_an_object", [1, 2], "invalid_plan", "plan")]

    def variant(case: str, key: str, field: str, change) -> None:
        plan = copy.deepcopy(good)
        change(plan)
        cases.append((case, plan, key, field))

    variant("version", "invalid_plan", "version", lambda p: p.update(version=2))
    variant("missing", "invalid_plan", "report", lambda p: p.pop("report"))
    variant("short_series", "invalid_plan", "battery_w", lambda p: p["battery_w"].pop())
    variant("soc_range", "invalid_plan", "soc_pct[3]", lambda p: p["soc_pct"].__setitem__(3, 120))
    variant("nan", "invalid_plan", "grid_w[0]", lambda p: p["grid_w"].__setitem__(0, float("nan")))
    variant("status", "invalid_plan", "status", lambda p: p.update(status="great"))
    variant("start", "invalid_plan", "start", lambda p: p.update(start="2025-01-15T21:00:00"))
    variant(
        "appliance_power",
        "invalid_plan",
        "appliances.x.power_w",
        lambda p: p["appliances"].update(x={"power_w": [1.0], "start": None}),
    )
    variant(
        "warning_code",
        "invalid_plan",
        "warnings[0].code",
        lambda p: p["warnings"].append({"code": "OOPS", "appliance": None, "message": ""}),
    )
    return cases


@pytest.mark.parametrize(
    ("plan", "key", "field"),
    [pytest.param(p, k, f, id=i) for i, p, k, f in _bad_plans()],
)
async def test_bad_plan_is_rejected_whole(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    plan: Any,
    key: str,
    field: str,
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [])
    manager = entry.runtime_data.plan
    good = make_plan(NOW, battery_w=run(96, 0, 4, 1000))
    await _set_plan(hass, good)
    stored = copy.deepcopy(hass_storage[STORE_KEY])
    updates: list[None] = []
    manager.add_listener(lambda: updates.append(None))

    with pytest.raises(ServiceValidationError) as err:
        await _set_plan(hass, plan)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    assert err.value.translation_placeholders["field"] == field
    assert isinstance(err.value, web.HTTPBadRequest)  # over REST: a 400 naming the field
    assert field in str(err.value)  # the translated message names the field

    # Nothing changed: the plan in force, what is stored, and no listener was told.
    assert manager.plan["battery_w"][0] == 1000
    assert manager.battery_setpoint_w(NOW) == 1000
    assert hass_storage[STORE_KEY] == stored
    assert updates == []


async def test_plan_checked_against_its_scenario(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [])
    scenario = {
        "version": 1,
        "start": NOW.isoformat(),
        "step_minutes": 15,
        "horizon_steps": 96,
        "objective": "cost",
        "load_w": [400.0] * 96,
        "pv_w": [0.0] * 96,
        "import_price_eur_per_kwh": [0.2] * 96,
        "appliances": [
            {"id": "a", "type": "cycle", "profile_w": [1000.0]},
        ],
    }
    plan = make_plan(NOW)
    with pytest.raises(ServiceValidationError) as err:  # the scenario's appliance has no result
        await _set_plan(hass, plan, scenario=scenario)
    assert err.value.translation_key == "invalid_plan"
    assert err.value.translation_placeholders["field"] == "appliances.a"

    bad_scenario = {**scenario, "load_w": [400.0] * 95}
    with pytest.raises(ServiceValidationError) as err:
        await _set_plan(hass, plan, scenario=bad_scenario)
    assert err.value.translation_key == "invalid_scenario"
    assert err.value.translation_placeholders["field"] == "load_w"
    assert entry.runtime_data.plan.plan is None

    plan["appliances"] = {"a": {"power_w": run(96, 8, 9, 1000), "start": at(NOW, 8).isoformat()}}
    await _set_plan(hass, plan, scenario=scenario)
    assert entry.runtime_data.plan.scenario["load_w"][0] == 400
    assert float(hass.states.get("sensor.home_load_forecast").state) == 400
    cost = hass.states.get("sensor.home_planned_cost")
    assert cost.attributes["series"][0]["value"] == pytest.approx(500 / 1000 * 0.25 * 0.2)

    # The plan may also come as JSON text (e.g. from a template).
    import json

    await _set_plan(hass, json.dumps(make_plan(NOW, battery_w=run(96, 0, 1, 700))))
    assert entry.runtime_data.plan.battery_setpoint_w(NOW) == 700


async def test_a_plan_already_over_is_rejected(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    await setup_site(hass, [])
    with pytest.raises(ServiceValidationError) as err:
        await _set_plan(hass, make_plan(NOW - timedelta(hours=2), steps=4))
    assert err.value.translation_key == "plan_expired"


async def test_set_plan_over_rest_answers_400(hass: HomeAssistant, hass_client) -> None:
    """The add-on talks REST: a rejected plan is a 400, a good one a 200 (real clock)."""
    from homeassistant.util import dt as dt_util

    entry = await setup_site(hass, [])
    assert await async_setup_component(hass, "api", {})
    client = await hass_client()
    bad = await client.post("/api/services/ems/set_plan", json={"plan": {"version": 2}})
    assert bad.status == 400
    body = await bad.json()  # the reason, naming the field, not a bare "400: Bad Request"
    assert body["translation_key"] == "invalid_plan"
    assert body["translation_placeholders"]["field"] == "version"
    assert "version" in body["message"]
    assert entry.runtime_data.plan.plan is None
    now = dt_util.now().replace(second=0, microsecond=0)
    start = now - timedelta(minutes=now.minute % 15)
    good = await client.post("/api/services/ems/set_plan", json={"plan": make_plan(start)})
    assert good.status == 200
    assert entry.runtime_data.plan.plan is not None
    problem = await client.post("/api/services/ems/get_problem?return_response", json={})
    assert problem.status == 200
    body = await problem.json()
    assert body["service_response"]["scenario"]["start"] == start.isoformat()
    # Any refused request is a 400 with the reason, not a server error.
    unknown = await client.post(
        "/api/services/ems/set_appliance_request",
        json={"entity_id": "switch.nothing_here", "energy_wh": 1000},
    )
    assert unknown.status == 400
    other = await client.post("/api/services/ems/request_run", json={"config_entry_id": "nope"})
    assert other.status == 400


async def test_plan_and_requests_survive_a_restart(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [WATER_HEATER])
    plan = make_plan(
        NOW,
        battery_w=run(96, 0, 8, 1500),
        appliances={"water_heater_uid": {"power_w": run(96, 4, 8, 3000), "start": None}},
    )
    await _set_plan(hass, plan)
    await hass.services.async_call(
        DOMAIN,
        "set_appliance_request",
        {"entity_id": "switch.water_heater_let_ems_schedule_it", "energy_wh": 4500},
        blocking=True,
    )
    stored = hass_storage[STORE_KEY]["data"]
    assert stored["plan"]["battery_w"][0] == 1500
    assert stored["requests"]["water_heater_uid"]["energy_wh"] == 4500

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    manager = entry.runtime_data.plan
    assert manager.battery_setpoint_w(NOW) == 1500
    assert manager.received_at == NOW
    assert manager.energy_wh("water_heater_uid", NOW) == 4500
    assert float(hass.states.get("number.water_heater_energy_needed").state) == 4.5
    assert hass.states.get("binary_sensor.home_plan_stale").state == "off"


async def test_a_stored_plan_that_no_longer_fits_is_dropped(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    freezer.move_to(NOW)
    bad = make_plan(NOW)
    bad["soc_pct"] = bad["soc_pct"][:-1]
    hass_storage[STORE_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": STORE_KEY,
        "data": {
            "plan": bad,
            "scenario": None,
            "received_at": NOW.isoformat(),
            "requests": {"water_heater_uid": {"enabled": False}, "gone_uid": {"enabled": True}},
            "driven": ["gone_uid"],
        },
    }
    entry = await setup_site(hass, [WATER_HEATER])
    manager = entry.runtime_data.plan
    assert manager.plan is None
    assert "no longer fits" in caplog.text
    assert manager.request("water_heater_uid").enabled is False
    assert hass.states.get("switch.water_heater_let_ems_schedule_it").state == "off"


async def test_stored_absurd_values_are_dropped_at_restart(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What an older version let through (1e12 Wh, 1e308 W) is not brought back."""
    freezer.move_to(NOW)
    plan = make_plan(NOW)
    plan["battery_w"][3] = 1e308
    hass_storage[STORE_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": STORE_KEY,
        "data": {
            "plan": plan,
            "scenario": None,
            "received_at": NOW.isoformat(),
            "requests": {
                "water_heater_uid": {
                    "enabled": True,
                    "energy_wh": 1e12,
                    "expires": (NOW + timedelta(hours=2)).isoformat(),
                }
            },
            "driven": [],
        },
    }
    entry = await setup_site(hass, [WATER_HEATER])
    manager = entry.runtime_data.plan
    assert manager.plan is None
    assert "battery_w[3]" in caplog.text
    assert manager.request("water_heater_uid").energy_wh is None
    assert manager.energy_wh("water_heater_uid", NOW) == 6000  # the configured default
    assert "Stored request of water_heater_uid dropped" in caplog.text


async def test_diagnostics_include_the_plan(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    from custom_components.ems.diagnostics import async_get_config_entry_diagnostics

    freezer.move_to(NOW)
    entry = await setup_site(hass, [WATER_HEATER])
    await _set_plan(hass, make_plan(NOW, battery_w=run(96, 0, 1, 100)))
    diag = await async_get_config_entry_diagnostics(hass, entry)
    plan = diag["plan"]
    assert plan["status"] == "optimal"
    assert plan["stale"] is None
    assert plan["battery_setpoint_w"] == 100
    assert plan["appliances"]["water_heater_uid"]["type"] == "water_heater"
    assert "battery_w" not in plan  # a summary, not the series


async def test_unknown_and_no_site(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [])
    with pytest.raises(ServiceValidationError) as err:
        await _set_plan(hass, make_plan(NOW), config_entry_id="nope")
    assert err.value.translation_key == "site_not_found"
    assert await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _set_plan(hass, make_plan(NOW), config_entry_id=entry.entry_id)
    assert err.value.translation_key == "site_not_loaded"
    with pytest.raises(ServiceValidationError) as err:
        await _set_plan(hass, make_plan(NOW))
    assert err.value.translation_key == "no_site"


async def test_a_second_plan_source_is_reported(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """F16: two optimizers pushing plans fight over the battery; a repair says so."""
    freezer.move_to(NOW)
    entry = await setup_site(hass, [])
    issue_id = f"plan_sources_{entry.entry_id}"
    plan = make_plan(NOW, battery_w=[0.0] * 96)
    await _set_plan(hass, plan, source="ems-optimizer@addon")
    await _set_plan(hass, plan, source="ems-optimizer@addon")
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    freezer.tick(timedelta(minutes=15))
    await _set_plan(hass, plan, source="ems-optimizer@laptop")
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert "laptop" in issue.translation_placeholders["sources"]
    assert set(entry.runtime_data.plan.sources) == {
        "ems-optimizer@addon",
        "ems-optimizer@laptop",
    }
    # An hour with one source only: the repair goes.
    freezer.tick(timedelta(hours=1, minutes=1))
    await _set_plan(hass, plan, source="ems-optimizer@addon")
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_the_plan_status_says_how_the_plan_relates_to_the_previous_one(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The optimizer's ``replan`` field (stable execution) is shown on the plan status."""
    freezer.move_to(NOW)
    await setup_site(hass, [])
    await _set_plan(hass, make_plan(NOW))
    status = hass.states.get("sensor.home_plan_status")
    assert "replan" not in status.attributes  # an older plan without it: nothing invented
    replan = {
        "decision": "kept",
        "running_step_kept": True,
        "gain_eur": 0.012,
        "threshold_eur": 0.05,
    }
    await _set_plan(hass, make_plan(NOW) | {"replan": replan})
    status = hass.states.get("sensor.home_plan_status")
    assert status.attributes["replan"] == "kept"
    assert status.attributes["running_step_kept"] is True
    assert status.attributes["replan_gain_eur"] == 0.012
    assert status.attributes["replan_threshold_eur"] == 0.05
    with pytest.raises(ServiceValidationError, match=r"replan\.decision"):
        await _set_plan(hass, make_plan(NOW) | {"replan": {**replan, "decision": "maybe"}})


async def test_forecast_error_sensors_show_yesterdays_error_and_the_method(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The optimizer's ``forecast`` field: yesterday's error per series, the method in use."""
    freezer.move_to(NOW)
    await setup_site(hass, [])
    await _set_plan(hass, make_plan(NOW))
    for series in ("load", "pv"):  # an older plan without the field: unavailable, not 0
        assert hass.states.get(f"sensor.home_{series}_forecast_error_yesterday").state == (
            STATE_UNAVAILABLE
        )
        assert hass.states.get(f"sensor.home_{series}_forecast_method").state == (STATE_UNAVAILABLE)
    forecast = {
        "load": {
            "method": "ensemble",
            "day": "2024-06-02",
            "mae_w": 240.5,
            "persistence_mae_w": 310.0,
            "method_then": "blend",
        },
        "pv": {"method": "external+physical"},  # no day scored yet
    }
    await _set_plan(hass, make_plan(NOW) | {"forecast": forecast})
    load = hass.states.get("sensor.home_load_forecast_error_yesterday")
    assert float(load.state) == 240.5
    assert load.attributes["unit_of_measurement"] == "W"
    assert load.attributes["method"] == "ensemble"
    assert load.attributes["method_then"] == "blend"
    assert load.attributes["vs_persistence_pct"] == -22.4
    assert hass.states.get("sensor.home_pv_forecast_error_yesterday").state == STATE_UNAVAILABLE
    # the methods in use, as their own sensors: known from the first plan, before a scored day
    assert hass.states.get("sensor.home_load_forecast_method").state == "ensemble"
    pv_method = hass.states.get("sensor.home_pv_forecast_method")
    assert pv_method.state == "external"
    assert "clear_sky" in pv_method.attributes["options"]
    bad = make_plan(NOW) | {"forecast": {"load": {"method": "crystal_ball"}}}
    with pytest.raises(ServiceValidationError, match="forecast"):
        await _set_plan(hass, bad)


async def test_the_planning_sensor_says_community_or_alone(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The plan's ``community`` field: made with the community, or alone and why."""
    freezer.move_to(NOW)
    await setup_site(hass, [])
    assert hass.states.get("sensor.home_planning").state == STATE_UNAVAILABLE  # no plan yet
    await _set_plan(hass, make_plan(NOW))
    state = hass.states.get("sensor.home_planning")
    assert state.state == "alone"  # a home outside any community plans alone
    assert "community" not in state.attributes
    together = {"name": "vilaine", "state": "community", "members": 12, "round": NOW.isoformat()}
    await _set_plan(hass, make_plan(NOW) | {"community": together})
    state = hass.states.get("sensor.home_planning")
    assert state.state == "community"
    assert state.attributes["community"] == "vilaine"
    assert state.attributes["members"] == 12
    alone = {"name": "vilaine", "state": "alone", "reason": "the coordinator did not answer"}
    await _set_plan(hass, make_plan(NOW) | {"community": alone})
    state = hass.states.get("sensor.home_planning")
    assert (state.state, state.attributes["reason"]) == ("alone", alone["reason"])
    with pytest.raises(ServiceValidationError, match=r"community\.state"):
        await _set_plan(hass, make_plan(NOW) | {"community": {**alone, "state": "maybe"}})
