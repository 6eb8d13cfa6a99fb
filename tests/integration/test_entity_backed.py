"""Entity-backed devices: a battery and a meter built from entities the user already has."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import DOMAIN


@pytest.fixture
async def site(hass: HomeAssistant) -> MockConfigEntry:
    """A site whose battery and meter come from other integrations' entities."""
    assert await async_setup_component(
        hass,
        "input_number",
        {"input_number": {"vendor_setpoint": {"min": -3000, "max": 2000, "step": 10}}},
    )
    # A vendor that reports battery power in kW and + for discharging.
    hass.states.async_set(
        "sensor.vendor_inverter_battery_power",
        "1.2",
        {"unit_of_measurement": "kW", "device_class": "power"},
    )
    hass.states.async_set(
        "sensor.vendor_soc", "55", {"unit_of_measurement": "%", "device_class": "battery"}
    )
    hass.states.async_set(
        "sensor.shelly_grid_power", "300", {"unit_of_measurement": "W", "device_class": "power"}
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        unique_id="home",
        data={"import_limit_w": None, "export_limit_w": None},
        subentries_data=[
            ConfigSubentryData(
                data={
                    "connection": "entities",
                    "power_entity": "sensor.vendor_inverter_battery_power",
                    "invert_power": True,
                    "soc_entity": "sensor.vendor_soc",
                    "capacity_wh": 5000,
                    "max_charge_w": 2500,
                    "max_discharge_w": 2500,
                    "setpoint_entity": "input_number.vendor_setpoint",
                },
                subentry_type="battery",
                title="Vendor battery",
                unique_id="entities:sensor.vendor_inverter_battery_power",
            ),
            ConfigSubentryData(
                data={"connection": "entities", "power_entity": "sensor.shelly_grid_power"},
                subentry_type="meter",
                title="Shelly",
                unique_id="entities:sensor.shelly_grid_power",
            ),
        ],
    )
    entry.add_to_hass(hass)
    battery_id = next(s for s, sub in entry.subentries.items() if sub.subentry_type == "battery")
    hass.config_entries.async_update_entry(entry, options={"control": [battery_id]})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def test_values_in_ems_units_and_signs(hass: HomeAssistant, site: MockConfigEntry) -> None:
    assert float(hass.states.get("sensor.vendor_battery_power").state) == -1200  # discharging
    assert float(hass.states.get("sensor.vendor_battery_state_of_charge").state) == 55
    # House load = grid + PV − battery = 300 + 0 + 1200.
    assert float(hass.states.get("sensor.home_house_load").state) == 1500


async def test_setpoint_goes_to_the_vendor_entity(
    hass: HomeAssistant, site: MockConfigEntry
) -> None:
    # The battery's setpoint belongs to the site controller: no number of its own.
    assert hass.states.get("number.vendor_battery_power_setpoint") is None
    await hass.services.async_call(
        "select", "select_option", {"entity_id": "select.home_mode", "option": "manual"}, True
    )
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.home_charge_from_the_grid"}, True
    )
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.home_manual_battery_setpoint", "value": 2000},
        True,
    )
    controller = site.runtime_data.controller
    for seconds in (5, 10, 15):  # ramps at the site's ramp rate
        await controller.async_tick(dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done()
    # ems + charging becomes the vendor's − charging.
    assert float(hass.states.get("input_number.vendor_setpoint").state) == -2000
    # Beyond what the user said the battery takes: held at 2500 W, and the reason is shown.
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.home_manual_battery_setpoint", "value": 5000},
        True,
    )
    for seconds in (20, 25, 30):
        await controller.async_tick(dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done()
    assert float(hass.states.get("input_number.vendor_setpoint").state) == -2500
    assert hass.states.get("sensor.home_limit_reason").state == "power"
    # Discharging: the vendor entity takes at most +2000 (its own range, sign inverted).
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.home_manual_battery_setpoint", "value": -5000},
        True,
    )
    for seconds in (35, 40, 45):  # stop, then ramp the other way
        await controller.async_tick(dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done()
    assert float(hass.states.get("input_number.vendor_setpoint").state) == 2000


async def test_source_unavailable(hass: HomeAssistant, site: MockConfigEntry) -> None:
    hass.states.async_set("sensor.vendor_inverter_battery_power", STATE_UNAVAILABLE)
    coordinator = next(iter(site.runtime_data.devices.values()))
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get("sensor.vendor_battery_power").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.home_house_load").state == STATE_UNAVAILABLE


async def test_a_silent_meter_gives_the_safe_value(
    hass: HomeAssistant, site: MockConfigEntry
) -> None:
    """A source sensor that stops reporting (without going unavailable) is not trusted."""
    controller = site.runtime_data.controller
    now = dt_util.utcnow()
    await controller.async_tick(now + timedelta(seconds=10))
    assert float(hass.states.get("input_number.vendor_setpoint").state) != 0  # discharging
    later = now + timedelta(minutes=5)
    with patch("custom_components.ems.controller.dt_util.utcnow", return_value=later):
        await controller.async_tick(later)
    await hass.async_block_till_done()
    assert float(hass.states.get("input_number.vendor_setpoint").state) == 0
    assert controller.state == "error"
