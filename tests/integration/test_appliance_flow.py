"""Appliance subentries (every type, every error, reconfigure) and the site's tariff options."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from plan_helpers import WATER_HEATER, async_setup_driven, setup_site
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import DOMAIN


@pytest.fixture
async def site(hass: HomeAssistant) -> MockConfigEntry:
    """A site not set up (flows only), with the entities appliances may use."""
    await async_setup_driven(hass)
    hass.states.async_set("input_boolean.dryer", "off")
    entry = MockConfigEntry(domain=DOMAIN, title="Home", unique_id="home", data={})
    entry.add_to_hass(hass)
    return entry


async def _start(hass: HomeAssistant, entry: MockConfigEntry, kind: str) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "appliance"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [
        "cycle",
        "water_heater",
        "ev",
        "pilot_wire_heater",
        "thermal",
    ]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": kind}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == kind
    return result


async def _configure(hass: HomeAssistant, flow: dict[str, Any], data: dict[str, Any]) -> dict:
    return await hass.config_entries.subentries.async_configure(flow["flow_id"], data)


CYCLE = {
    "name": "Dishwasher",
    "switch_entity": "input_boolean.dishwasher",
    "power_w": 2000,
    "duration_minutes": 50,
    "profile_step_minutes": 1,
    "finish_by": "07:00:00",
}
WATER = {
    "name": "Water heater",
    "switch_entity": "input_boolean.water_heater",
    "power_w": 3000,
    "energy_wh": 6000,
    "windows": "22:00-06:00",
    "finish_by": "06:00:00",
}
CAR = {
    "name": "Car",
    "switch_entity": "input_boolean.ev_charger",
    "max_power_w": 7400,
    "min_power_w": 1400,
    "energy_wh": 0,
    "finish_by": "07:30:00",
    "allow_partial": True,
}
PILOT = {
    "name": "Heater",
    "switch_entity": "input_select.living_room_pilot_wire",
    "comfort_power_w": 1500,
    "eco_power_w": 600,
    "comfort_ratio": 60,
    "windows": "06:00-22:00",
    "comfort_option": "comfort",
    "eco_option": "eco",
}
THERMAL = {
    "name": "Heat pump",
    "switch_entity": "input_boolean.heat_pump",
    "max_power_w": 2000,
    "cop": 3,
    "heat_loss_w_per_k": 150,
    "thermal_capacity_wh_per_k": 5000,
    "t_min_c": 19,
    "t_max_c": 22,
    "indoor_temperature_entity": "sensor.living_room_temperature",
    "outdoor_temperature_entity": "weather.home",
}


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("cycle", CYCLE),
        ("water_heater", WATER),
        ("ev", CAR),
        ("pilot_wire_heater", PILOT),
        ("thermal", THERMAL),
    ],
)
async def test_add_each_appliance_type(
    hass: HomeAssistant, site: MockConfigEntry, kind: str, values: dict[str, Any]
) -> None:
    result = await _configure(hass, await _start(hass, site, kind), values)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    subentry = next(iter(site.subentries.values()))
    assert subentry.subentry_type == "appliance"
    assert subentry.title == values["name"]
    assert subentry.unique_id == f"appliance:{values['switch_entity']}"
    assert subentry.data["appliance_type"] == kind
    assert subentry.data["uid"].startswith("appliance_")
    for key, value in values.items():
        if key != "name":
            assert subentry.data[key] == value

    # The same switch again: refused.
    result = await _configure(hass, await _start(hass, site, kind), values | {"name": "Again"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_cycle_with_a_learned_profile(hass: HomeAssistant, site: MockConfigEntry) -> None:
    values = {
        "name": "Washing machine",
        "switch_entity": "input_boolean.dryer",
        "profile_w": "2100, 2100; 300 300 150",
        "profile_step_minutes": 10,
        "finish_by": "18:00:00",
    }
    result = await _configure(hass, await _start(hass, site, "cycle"), values)
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("kind", "values", "errors"),
    [
        (
            "cycle",
            CYCLE | {"switch_entity": "switch.nowhere"},
            {"switch_entity": "entity_not_found"},
        ),
        (
            "cycle",
            {k: v for k, v in CYCLE.items() if k != "duration_minutes"},
            {"base": "profile_or_power"},
        ),
        ("cycle", CYCLE | {"profile_w": "2000, lots"}, {"profile_w": "invalid_profile"}),
        ("cycle", CYCLE | {"profile_w": "2000, -5"}, {"profile_w": "invalid_profile"}),
        ("water_heater", WATER | {"windows": "22h-6h"}, {"windows": "invalid_windows"}),
        ("water_heater", WATER | {"windows": "22:00-22:00"}, {"windows": "invalid_windows"}),
        ("water_heater", WATER | {"windows": "25:00-06:00"}, {"windows": "invalid_windows"}),
        ("ev", CAR | {"min_power_w": 8000}, {"min_power_w": "min_above_max"}),
        ("pilot_wire_heater", PILOT | {"eco_power_w": 2000}, {"eco_power_w": "eco_above_comfort"}),
        (
            "pilot_wire_heater",
            PILOT | {"comfort_option": "Confort", "eco_option": "Eco"},
            {"comfort_option": "option_not_found", "eco_option": "option_not_found"},
        ),
        ("thermal", THERMAL | {"t_min_c": 22}, {"t_min_c": "t_min_above_max"}),
        (
            "thermal",
            THERMAL | {"indoor_temperature_entity": "sensor.nowhere"},
            {"indoor_temperature_entity": "entity_not_found"},
        ),
    ],
)
async def test_appliance_errors(
    hass: HomeAssistant,
    site: MockConfigEntry,
    kind: str,
    values: dict[str, Any],
    errors: dict[str, str],
) -> None:
    result = await _configure(hass, await _start(hass, site, kind), values)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    if "comfort_option" in errors:
        assert (
            result["description_placeholders"]["options"] == "comfort, eco, frost_protection, off"
        )
    assert not site.subentries


async def test_error_then_fixed(hass: HomeAssistant, site: MockConfigEntry) -> None:
    flow = await _start(hass, site, "water_heater")
    result = await _configure(hass, flow, WATER | {"windows": "nights"})
    assert result["errors"] == {"windows": "invalid_windows"}
    result = await _configure(hass, flow, WATER)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_reconfigure_keeps_identity(hass: HomeAssistant, site: MockConfigEntry) -> None:
    await _configure(hass, await _start(hass, site, "water_heater"), WATER)
    await _configure(hass, await _start(hass, site, "ev"), CAR)
    water = next(s for s in site.subentries.values() if s.data["appliance_type"] == "water_heater")
    uid = water.data["uid"]

    async def reconfigure() -> dict[str, Any]:
        result = await hass.config_entries.subentries.async_init(
            (site.entry_id, "appliance"),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": water.subentry_id},
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "water_heater"
        return result

    # Errors in reconfigure too, and no taking another appliance's switch.
    result = await _configure(hass, await reconfigure(), WATER | {"windows": "x"})
    assert result["errors"] == {"windows": "invalid_windows"}
    result = await _configure(
        hass, await reconfigure(), WATER | {"switch_entity": "input_boolean.ev_charger"}
    )
    assert result["reason"] == "already_configured"

    result = await _configure(
        hass,
        await reconfigure(),
        WATER | {"name": "Hot water", "power_w": 2400, "switch_entity": "input_boolean.dryer"},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    water = site.subentries[water.subentry_id]
    assert water.title == "Hot water"
    assert water.data["power_w"] == 2400
    assert water.unique_id == "appliance:input_boolean.dryer"
    assert water.data["uid"] == uid  # entities keep their unique ids


async def test_an_added_appliance_gets_its_device_and_entities(hass: HomeAssistant) -> None:
    entry = await setup_site(hass, [])
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "appliance"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "water_heater"}
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], WATER)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()  # the site reloads with its new subentry
    subentry = next(iter(entry.subentries.values()))
    uid = subentry.data["uid"]
    ent_reg = er.async_get(hass)
    entities = {
        e.entity_id: e
        for e in er.async_entries_for_config_entry(ent_reg, entry.entry_id)
        if e.config_subentry_id == subentry.subentry_id
    }
    assert set(entities) == {
        "datetime.water_heater_finish_by",
        "number.water_heater_energy_needed",
        "switch.water_heater_let_ems_schedule_it",
        "sensor.water_heater_next_start",
    }
    assert entities["sensor.water_heater_next_start"].unique_id == f"{uid}_next_start"
    assert entities["sensor.water_heater_next_start"].original_device_class == "timestamp"
    assert entities["number.water_heater_energy_needed"].original_device_class == "energy"
    device = dr.async_get(hass).async_get(entities["sensor.water_heater_next_start"].device_id)
    assert device.name == "Water heater"
    site_device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, entry.entry_id)})
    assert device.via_device_id == site_device.id

    # Removing the appliance removes its entities.
    assert hass.config_entries.async_remove_subentry(entry, subentry.subentry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.water_heater_next_start") is None
    assert ent_reg.async_get("sensor.water_heater_next_start") is None


async def test_site_entities_and_appliance_entities_unique_ids(hass: HomeAssistant) -> None:
    entry = await setup_site(hass, [WATER_HEATER])
    ent_reg = er.async_get(hass)
    assert ent_reg.async_get("calendar.home_plan").unique_id == f"{entry.entry_id}_plan"
    assert ent_reg.async_get("binary_sensor.home_plan_stale").unique_id == (
        f"{entry.entry_id}_plan_stale"
    )
    age = ent_reg.async_get("sensor.home_plan_age")
    assert age.unique_id == f"{entry.entry_id}_plan_age"
    assert age.original_device_class == "duration"
    assert ent_reg.async_get("switch.water_heater_let_ems_schedule_it").unique_id == (
        "water_heater_uid_schedule"
    )


async def test_tariff_options(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, title="Home", unique_id="home", data={})
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    values = {
        "scan_interval": 10,
        "control": [],
        "objective": "import",
        "peak_price": 0.27,
        "offpeak_price": 0.2,
        "offpeak_hours": "bad",
        "export_price": 0.05,
        "weather_entity": "weather.home",
        "pv_peak_w": 6000,
        "pv_tilt_deg": 30,
        "pv_azimuth_deg": 200,
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], values)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"offpeak_hours": "invalid_windows"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], values | {"offpeak_hours": "22:00-06:00, 12:00-14:00"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        "scan_interval": 10,
        "control": [],
        "objective": "import",
        "peak_price": 0.27,
        "offpeak_price": 0.2,
        "offpeak_hours": "22:00-06:00, 12:00-14:00",
        "export_price": 0.05,
        "weather_entity": "weather.home",
        "pv_peak_w": 6000,
        "pv_tilt_deg": 30,
        "pv_azimuth_deg": 200,
    }


async def test_pv_peak_option_is_optional(hass: HomeAssistant) -> None:
    """Left empty, the PV peak power is not stored (get_problem falls back to the devices)."""
    entry = MockConfigEntry(domain=DOMAIN, title="Home", unique_id="home", data={})
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    keys = {str(k) for k in result["data_schema"].schema}
    assert "pv_peak_w" in keys
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 10, "control": []}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert "pv_peak_w" not in entry.options
