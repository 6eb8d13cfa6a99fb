"""Bad input: refused whole, naming the field (a 400 with it over REST); control goes on.

Values a hostile caller sent to a real Home Assistant: NaN on a number, 1e308 W and 1e12 Wh in
actions, a 10 MB plan, absurd options. Each is refused, nothing changes, nothing is stored.
"""

from __future__ import annotations

import copy
from datetime import timedelta
import json
import logging
from typing import Any

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.number import DATA_COMPONENT as NUMBER_COMPONENT
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from plan_helpers import NOW, WATER_HEATER, async_setup_driven, make_plan, run, setup_site
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from site_helpers import setup_site as setup_sim_site

from custom_components.ems.const import CONTROL_INTERVAL_S, DOMAIN
from custom_components.ems.core.contract import MAX_JSON_BYTES
from custom_components.ems.plan_entities import MAX_SERIES_POINTS
from custom_components.ems.validation import EmsValidationError

RECORDER_ATTRIBUTES_LIMIT = 16 * 1024  # bytes of attributes the recorder keeps per state


def _setting(hass: HomeAssistant, entry: MockConfigEntry, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id("number", DOMAIN, f"{entry.entry_id}_{key}")
    assert entity_id is not None
    return entity_id


async def _set_number(hass: HomeAssistant, entity_id: str, value: Any) -> None:
    await hass.services.async_call(
        "number", "set_value", {"entity_id": entity_id, "value": value}, blocking=True
    )


def _refusal(err: pytest.ExceptionInfo[ServiceValidationError], field: str) -> None:
    """The error is ours, translated or readable, naming the field; a 400 over REST."""
    assert isinstance(err.value, EmsValidationError)
    assert isinstance(err.value, web.HTTPBadRequest)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_placeholders["field"] == field
    assert field in str(err.value)


# --- F4: numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", float("nan"), "NaN"])
async def test_nan_on_a_setting_number_is_refused_and_control_goes_on(
    hass: HomeAssistant, hass_storage: dict[str, Any], value: Any
) -> None:
    entry = await setup_site(hass, [])
    controller = entry.runtime_data.controller
    entity_id = _setting(hass, entry, "soc_min")
    await _set_number(hass, entity_id, 20)
    await hass.async_block_till_done()
    before_state = hass.states.get(entity_id).state
    before_setting = controller.settings.soc_min_pct
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=30))  # delayed saves
    await hass.async_block_till_done()
    stored = copy.deepcopy(hass_storage)

    with pytest.raises(ServiceValidationError) as err:
        await _set_number(hass, entity_id, value)
    _refusal(err, entity_id)
    assert err.value.translation_key == "invalid_value"
    assert "must be finite" in str(err.value)

    # Nothing changed, nothing stored, and the controller still steps without error.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=60))
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state == before_state == "20.0"
    assert controller.settings.soc_min_pct == before_setting == 20
    assert hass_storage == stored


async def test_nan_on_soc_min_leaves_control_running(
    hass: HomeAssistant, sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The hostile case on a real site: refused, and the controller keeps controlling, quietly."""
    sim.site.pv.scale = 0.0
    sim.site.meter.load_scale = 0.0
    sim.site.meter.extra_load_w = 800.0
    sim.site.battery.soc = 60.0
    sim.site.refresh()
    entry = await setup_sim_site(hass, sim)
    controller = entry.runtime_data.controller
    entity_id = _setting(hass, entry, "soc_min")
    await _set_number(hass, entity_id, 20)
    caplog.clear()
    with pytest.raises(ServiceValidationError) as err:
        await _set_number(hass, entity_id, "nan")
    _refusal(err, entity_id)
    now = dt_util.utcnow()
    for step in range(1, 6):
        await controller.async_tick(now + timedelta(seconds=CONTROL_INTERVAL_S * step))
        sim.site.step(CONTROL_INTERVAL_S)
    assert controller.state == "running"
    assert controller.settings.soc_min_pct == 20
    assert hass.states.get(entity_id).state == "20.0"
    assert sim.site.battery.power < -100  # discharging into the house load
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.parametrize("value", ["inf", "-inf", 1e308, 51])
async def test_infinite_or_out_of_range_setting_is_refused(hass: HomeAssistant, value: Any) -> None:
    """Home Assistant's own range check refuses these (its error); the controller keeps its own."""
    entry = await setup_site(hass, [])
    entity_id = _setting(hass, entry, "soc_min")
    before = entry.runtime_data.controller.settings.soc_min_pct
    with pytest.raises(ServiceValidationError):
        await _set_number(hass, entity_id, value)
    assert entry.runtime_data.controller.settings.soc_min_pct == before


async def test_a_setting_entity_checks_the_value_itself(hass: HomeAssistant) -> None:
    """Called directly (not through number.set_value), the entity still refuses ±inf and range."""
    entry = await setup_site(hass, [])
    entity_id = _setting(hass, entry, "grid_target")
    entity = hass.data[NUMBER_COMPONENT].get_entity(entity_id)
    assert entity is not None
    before = entry.runtime_data.controller.settings.grid_target_w
    for value in (float("inf"), -1e308, 20001):
        with pytest.raises(EmsValidationError) as err:
            await entity.async_set_native_value(value)
        assert err.value.translation_placeholders["field"] == entity_id
    assert entry.runtime_data.controller.settings.grid_target_w == before


async def test_nan_over_rest_is_a_400_naming_the_entity(
    hass: HomeAssistant, hass_client: Any
) -> None:
    entry = await setup_site(hass, [])
    assert await async_setup_component(hass, "api", {})
    entity_id = _setting(hass, entry, "soc_min")
    before = hass.states.get(entity_id).state
    client = await hass_client()
    response = await client.post(
        "/api/services/number/set_value", json={"entity_id": entity_id, "value": "nan"}
    )
    assert response.status == 400
    body = await response.json()
    assert body["translation_placeholders"]["field"] == entity_id
    assert entity_id in body["message"]
    assert "must be finite" in body["message"]
    assert hass.states.get(entity_id).state == before


async def test_nan_over_websocket_is_a_translated_validation_error(
    hass: HomeAssistant, hass_ws_client: Any
) -> None:
    """The UI calls actions over the websocket: a service validation error with its key."""
    entry = await setup_site(hass, [])
    entity_id = _setting(hass, entry, "soc_min")
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "call_service",
            "domain": "number",
            "service": "set_value",
            "service_data": {"entity_id": entity_id, "value": "nan"},
        }
    )
    reply = await client.receive_json()
    assert not reply["success"]
    assert reply["error"]["code"] == "service_validation_error"
    assert reply["error"]["translation_key"] == "invalid_value"
    assert reply["error"]["translation_placeholders"]["field"] == entity_id
    assert entity_id in reply["error"]["message"]


async def test_energy_needed_nan_is_refused_naming_the_entity(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [WATER_HEATER])
    manager = entry.runtime_data.plan
    entity_id = "number.water_heater_energy_needed"
    before = hass.states.get(entity_id).state
    stored = copy.deepcopy(hass_storage)
    with pytest.raises(ServiceValidationError) as err:
        await _set_number(hass, entity_id, "nan")
    _refusal(err, entity_id)
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state == before
    assert manager.request("water_heater_uid").energy_wh is None
    assert hass_storage == stored


async def test_finish_by_far_ahead_is_refused(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [WATER_HEATER])
    entity_id = "datetime.water_heater_finish_by"
    before = hass.states.get(entity_id).state
    for moment in ("2025-02-15T05:00:00+01:00", "9999-12-31T23:00:00+00:00"):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                "datetime", "set_value", {"entity_id": entity_id, "datetime": moment}, blocking=True
            )
        _refusal(err, entity_id)
        assert "within 7 days" in str(err.value)
    assert hass.states.get(entity_id).state == before
    assert entry.runtime_data.plan.request("water_heater_uid").finish_by is None


# --- F11 / F13 / F10: actions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"energy_wh": 1e12}, "energy_wh", "must be ≤ 200000"),
        ({"energy_wh": "nan"}, "energy_wh", "must be finite"),
        ({"energy_wh": "inf"}, "energy_wh", "must be finite"),
        ({"energy_wh": -1}, "energy_wh", "must be ≥ 0"),
        ({"finish_by": "2099-01-01T07:00:00+01:00"}, "finish_by", "within 7 days"),
        ({"appliance": "x" * 300}, "appliance", "length of value must be at most 255"),
    ],
)
async def test_set_appliance_request_refuses_absurd_values(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    data: dict[str, Any],
    field: str,
    error: str,
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [WATER_HEATER])
    manager = entry.runtime_data.plan
    request = copy.deepcopy(manager.request("water_heater_uid"))
    stored = copy.deepcopy(hass_storage)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_appliance_request",
            {"appliance": "water_heater_uid", **data},
            blocking=True,
        )
    _refusal(err, field)
    assert error in str(err.value)
    await hass.async_block_till_done()
    assert manager.request("water_heater_uid") == request
    assert hass_storage == stored


async def test_set_plan_refuses_1e308_w_naming_the_step(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [])
    plan = make_plan(NOW)
    plan["battery_w"][12] = 1e308
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "set_plan", {"plan": plan}, blocking=True)
    _refusal(err, "battery_w[12]")
    assert err.value.translation_key == "invalid_plan"
    assert "must be ≤ 1000000" in str(err.value)
    assert entry.runtime_data.plan.plan is None


async def test_set_plan_refuses_a_scenario_of_1e12_wh(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [])
    scenario = {
        "version": 1,
        "start": NOW.isoformat(),
        "step_minutes": 15,
        "horizon_steps": 96,
        "objective": "import",
        "load_w": [400.0] * 96,
        "pv_w": [0.0] * 96,
        "battery": {
            "capacity_wh": 1e15,
            "soc_initial_pct": 50,
            "soc_min_pct": 10,
            "soc_max_pct": 90,
            "charge_max_w": 3000,
            "discharge_max_w": 3000,
            "charge_efficiency": 0.95,
            "discharge_efficiency": 0.95,
        },
    }
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "set_plan", {"plan": make_plan(NOW), "scenario": scenario}, blocking=True
        )
    _refusal(err, "battery.capacity_wh")
    assert err.value.translation_key == "invalid_scenario"
    assert entry.runtime_data.plan.plan is None


@pytest.mark.parametrize("as_text", [False, True])
async def test_a_10_mb_plan_is_refused_at_the_edge(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, as_text: bool
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [])
    plan = make_plan(NOW)
    plan["warnings"] = [{"code": "WARN_SOURCE", "appliance": None, "message": "x" * 10_000_000}]
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "set_plan", {"plan": json.dumps(plan) if as_text else plan}, blocking=True
        )
    _refusal(err, "plan")
    assert f"more than the limit of {MAX_JSON_BYTES} bytes" in str(err.value)
    assert len(str(err.value)) < 500
    assert entry.runtime_data.plan.plan is None


async def test_rest_400_bodies_name_the_field(hass: HomeAssistant, hass_client: Any) -> None:
    """The add-on talks REST: every refusal is a 400 whose body names the field."""
    entry = await setup_site(hass, [WATER_HEATER])
    assert await async_setup_component(hass, "api", {})
    client = await hass_client()
    now = dt_util.now().replace(second=0, microsecond=0)
    start = now - timedelta(minutes=now.minute % 15)
    # NaN cannot travel in JSON as a number, but it can in a plan given as JSON text.
    text = json.dumps(make_plan(start)).replace('"battery_w": [0.0, 0.0', '"battery_w": [0.0, NaN')
    assert "NaN" in text
    cases = [
        ("set_plan", {"plan": text}, "battery_w[1]", "must be finite"),
        ("set_plan", {"plan": {"version": 2}}, "version", "must be 1"),
        ("set_plan", {"plan": make_plan(start) | {"grid_w": [1e308] * 96}}, "grid_w[0]", "≤"),
        (
            "set_appliance_request",
            {"appliance": "water_heater_uid", "energy_wh": 1e12},
            "energy_wh",
            "≤ 200000",
        ),
        ("set_appliance_request", {"energy_wh": 10}, "entity_id/device_id/appliance", "one of"),
        (
            "set_appliance_request",
            {"entity_id": "switch.nothing_here", "energy_wh": 1000},
            None,
            "switch.nothing_here",
        ),
        ("request_run", {"config_entry_id": "nope"}, None, "nope"),
    ]
    for action, data, field, words in cases:
        response = await client.post(f"/api/services/ems/{action}", json=data)
        assert response.status == 400, (action, data)
        body = await response.json()
        if field is not None:
            assert body["translation_placeholders"]["field"] == field
            assert field in body["message"]
        assert words in body["message"], body
    assert entry.runtime_data.plan.plan is None
    assert entry.runtime_data.plan.request("water_heater_uid").energy_wh is None


# --- F7: the plan sensors' attributes ---------------------------------------------------------


def _attributes_size(hass: HomeAssistant, entity_id: str) -> int:
    return len(json.dumps(dict(hass.states.get(entity_id).attributes)).encode())


async def test_plan_attributes_stay_under_the_recorder_limit(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A week at 5 minutes with many long warnings: attributes capped and rounded, plan kept."""
    freezer.move_to(NOW)
    entry = await setup_site(hass, [])
    steps = 2016
    plan = make_plan(NOW, steps=steps, step_minutes=5, battery_w=run(steps, 0, 4, -999_999.123))
    plan["grid_w"] = [-999_999.987654321] * steps
    plan["warnings"] = [
        {"code": "WARN_CONSTRAINT", "appliance": None, "message": "m" * 500} for _ in range(100)
    ]
    await hass.services.async_call(DOMAIN, "set_plan", {"plan": plan}, blocking=True)
    await hass.async_block_till_done()
    assert len(entry.runtime_data.plan.plan["battery_w"]) == steps  # the whole plan is kept

    for entity_id in (
        "sensor.home_planned_battery_power",
        "sensor.home_planned_grid_power",
        "sensor.home_planned_state_of_charge",
        "sensor.home_pv_forecast",
        "sensor.home_plan_status",
    ):
        assert _attributes_size(hass, entity_id) < RECORDER_ATTRIBUTES_LIMIT * 0.75, entity_id
    grid = hass.states.get("sensor.home_planned_grid_power").attributes
    assert grid["truncated"] is True
    assert len(grid["series"]) == MAX_SERIES_POINTS
    assert grid["series"][0]["value"] == -1_000_000.0  # rounded to 0.1 W
    soc = hass.states.get("sensor.home_planned_state_of_charge").attributes
    assert len(soc["series"]) == MAX_SERIES_POINTS + 1  # boundaries stay aligned with the steps
    status = hass.states.get("sensor.home_plan_status").attributes
    assert status["warning_count"] == 100
    assert len(status["warnings"]) == 10
    assert len(status["warnings"][0]["message"]) == 200


# --- options and forms ------------------------------------------------------------------------


def _site_entry(hass: HomeAssistant) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        unique_id="home",
        data={"import_limit_w": 9000, "export_limit_w": 6000},
    )
    entry.add_to_hass(hass)
    return entry


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"scan_interval": "nan"}, "scan_interval"),
        ({"peak_price": float("nan")}, "peak_price"),
        ({"export_price": "NaN"}, "export_price"),
        ({"pv_peak_w": float("nan")}, "pv_peak_w"),
    ],
)
async def test_options_refuse_nan_on_the_field(
    hass: HomeAssistant, values: dict[str, Any], field: str
) -> None:
    entry = _site_entry(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 5} | values
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: "invalid_number"}
    assert entry.options == {}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 5, "peak_price": 0.25}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {"scan_interval": 5, "control": [], "peak_price": 0.25}


async def test_site_limits_refuse_nan(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Home", "import_limit_w": "nan"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"import_limit_w": "invalid_number"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Home", "import_limit_w": 9000}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {"import_limit_w": 9000, "export_limit_w": None}


async def test_site_reconfigure_refuses_nan(hass: HomeAssistant) -> None:
    entry = _site_entry(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Home", "export_limit_w": float("nan")}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"export_limit_w": "invalid_number"}
    assert entry.data == {"import_limit_w": 9000, "export_limit_w": 6000}


async def test_entity_backed_battery_refuses_nan_capacity(hass: HomeAssistant) -> None:
    entry = _site_entry(hass)
    hass.states.async_set("sensor.p", "1", {"unit_of_measurement": "W", "device_class": "power"})
    hass.states.async_set("sensor.s", "50", {"unit_of_measurement": "%", "device_class": "battery"})
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "battery"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "entities"}
    )
    values = {"name": "B", "power_entity": "sensor.p", "soc_entity": "sensor.s"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], values | {"capacity_wh": "nan", "max_charge_w": float("nan")}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"capacity_wh": "invalid_number", "max_charge_w": "invalid_number"}
    assert not entry.subentries


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        ({"power_w": float("nan")}, {"power_w": "invalid_number"}),
        ({"energy_wh": "nan"}, {"energy_wh": "invalid_number"}),
    ],
)
async def test_appliance_form_refuses_nan(
    hass: HomeAssistant, values: dict[str, Any], errors: dict[str, str]
) -> None:
    await async_setup_driven(hass)
    entry = _site_entry(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "appliance"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "water_heater"}
    )
    water = {
        "name": "Water heater",
        "switch_entity": "input_boolean.water_heater",
        "power_w": 3000,
        "energy_wh": 6000,
        "finish_by": "06:00:00",
    }
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], water | values)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert not entry.subentries


@pytest.mark.parametrize("profile", ["1e308", "400, inf", " ".join(["100"] * 1441)])
async def test_cycle_profile_refuses_absurd_powers(hass: HomeAssistant, profile: str) -> None:
    await async_setup_driven(hass)
    entry = _site_entry(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "appliance"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "cycle"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "name": "Dishwasher",
            "switch_entity": "input_boolean.dishwasher",
            "profile_w": profile,
            "profile_step_minutes": 1,
            "finish_by": "07:00:00",
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"profile_w": "invalid_profile"}


# --- the error itself -------------------------------------------------------------------------


async def test_refusal_reads_well_without_its_translation(hass: HomeAssistant) -> None:
    err = EmsValidationError("no_such_key", field="battery_w[12]", error="must be finite")
    assert str(err) == "battery_w[12]: must be finite"
    assert err.status == 400
    body = json.loads(err.text)
    assert body["message"] == "battery_w[12]: must be finite"
    assert body["translation_placeholders"] == {"field": "battery_w[12]", "error": "must be finite"}
    long = EmsValidationError("no_such_key", field="x" * 10_000, error="e")
    assert len(str(long)) < 100
