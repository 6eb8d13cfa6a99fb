"""The integration against the simulator over loopback: entities, polling, writes, outages."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import DOMAIN


def _device(
    kind: str, title: str, port: int, unit: int, profile: str, serial: str
) -> ConfigSubentryData:
    return ConfigSubentryData(
        data={
            "connection": "tcp",
            "host": "127.0.0.1",
            "port": port,
            "unit_id": unit,
            "profile": profile,
            "serial": serial,
        },
        subentry_type=kind,
        title=title,
        unique_id=f"serial:{serial}",
    )


@pytest.fixture
async def site(hass: HomeAssistant, sim) -> MockConfigEntry:
    """A site with the simulator's battery, PV, meter and relay board; control on the battery."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        unique_id="home",
        data={"import_limit_w": 9000, "export_limit_w": 6000},
        subentries_data=[
            _device("battery", "Battery", sim.port, 1, "generic_bess", "SIMBESS0001"),
            _device("pv", "Roof PV", sim.port, 2, "generic_pv_inverter", "SIMPV0001"),
            _device("meter", "Grid meter", sim.port, 3, "generic_meter_3ph", "SIMMETER0001"),
            _device("relay_board", "Relays", sim.port, 4, "relay_board_4ch", "SIMRELAY0001"),
        ],
    )
    entry.add_to_hass(hass)
    battery_id = next(s for s, sub in entry.subentries.items() if sub.subentry_type == "battery")
    relay_id = next(s for s, sub in entry.subentries.items() if sub.subentry_type == "relay_board")
    hass.config_entries.async_update_entry(
        entry, options={"scan_interval": 5, "control": [battery_id, relay_id]}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    yield entry
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def _poll(hass: HomeAssistant) -> None:
    """Poll every device once (real sockets: no frozen clock, asyncio needs a running one)."""
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    for coordinator in entry.runtime_data.devices.values():
        await coordinator.async_refresh()
    await hass.async_block_till_done()


async def test_entities_devices_and_units(hass: HomeAssistant, site: MockConfigEntry) -> None:
    ent_reg = er.async_get(hass)
    dev_reg = dr.async_get(hass)

    soc = hass.states.get("sensor.battery_state_of_charge")
    assert soc is not None
    assert soc.attributes["unit_of_measurement"] == "%"
    assert soc.attributes["device_class"] == "battery"
    assert 0 <= float(soc.state) <= 100
    power = hass.states.get("sensor.battery_power")
    assert power.attributes["device_class"] == "power"
    assert power.attributes["unit_of_measurement"] == "W"
    energy = hass.states.get("sensor.grid_meter_energy_imported")
    assert energy.attributes["state_class"] == "total_increasing"
    assert energy.attributes["device_class"] == "energy"
    assert energy.attributes["unit_of_measurement"] == "kWh"
    assert hass.states.get("binary_sensor.battery_fault").state == "off"
    assert hass.states.get("binary_sensor.battery_connection").state == "on"
    assert hass.states.get("switch.relays_relay_1_mains").state == "on"
    assert hass.states.get("number.battery_charge_power_limit") is not None
    # No control on the PV inverter: its output limit is not offered.
    assert hass.states.get("number.roof_pv_output_limit") is None

    entity = ent_reg.async_get("sensor.battery_state_of_charge")
    assert entity.unique_id == "SIMBESS0001_soc"
    assert entity.config_subentry_id is not None
    device = dev_reg.async_get(entity.device_id)
    assert device.serial_number == "SIMBESS0001"
    assert device.model == "Generic BESS"
    site_device = dev_reg.async_get_device(identifiers={(DOMAIN, site.entry_id)})
    assert device.via_device_id == site_device.id
    # Disabled by default: not created as a state, and not polled.
    shunt = ent_reg.async_get("sensor.relays_backup_battery_shunt_voltage")
    assert shunt.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    relays = site.runtime_data.devices[shunt.config_subentry_id]
    assert "ch1_shunt_voltage" not in relays.wanted_keys()


async def test_site_totals_balance(hass: HomeAssistant, site: MockConfigEntry) -> None:
    def value(entity_id: str) -> float:
        return float(hass.states.get(entity_id).state)

    load = value("sensor.home_house_load")
    grid = value("sensor.home_grid_power")
    pv = value("sensor.home_pv_power")
    battery = value("sensor.home_battery_power")
    assert load == pytest.approx(grid + pv - battery, abs=1)
    assert value("sensor.home_battery_state_of_charge") == value("sensor.battery_state_of_charge")


async def test_manual_setpoint_moves_the_battery_through_the_limiter(
    hass: HomeAssistant, site: MockConfigEntry, sim
) -> None:
    soc_before = sim.site.battery.soc
    # The battery's own setpoint belongs to the controller; users command it in manual mode.
    assert hass.states.get("number.battery_power_setpoint") is None
    await hass.services.async_call(
        "select", "select_option", {"entity_id": "select.home_mode", "option": "manual"}, True
    )
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.home_charge_from_the_grid"}, True
    )
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.home_manual_battery_setpoint", "value": 3000},
        True,
    )
    controller = site.runtime_data.controller
    for seconds in (5, 10, 15):  # ramps at the site's ramp rate (1 kW per step)
        await controller.async_tick(dt_util.utcnow() + timedelta(seconds=seconds))
    sim.site.step(600)
    await _poll(hass)
    assert sim.site.units[1].get("setpoint") == 3000
    assert float(hass.states.get("sensor.battery_power").state) == pytest.approx(3000, abs=1)
    assert float(hass.states.get("sensor.home_battery_setpoint").state) == 3000
    assert sim.site.battery.soc > soc_before

    # More than the battery reports it can take (5000 W): held at 5000 W, reason shown.
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.home_manual_battery_setpoint", "value": 8000},
        True,
    )
    for seconds in (20, 25, 30):
        await controller.async_tick(dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done()
    assert sim.site.units[1].get("setpoint") == 5000
    assert hass.states.get("sensor.home_limit_reason").state == "power"
    # A direct write past the battery's power limits is refused: nothing reaches the device.
    battery = next(c for c in site.runtime_data.devices.values() if c.kind == "battery")
    with pytest.raises(ServiceValidationError):
        await battery.async_write_setpoint(-9000, now=dt_util.utcnow() + timedelta(seconds=40))
    assert sim.site.units[1].get("setpoint") == 5000


async def test_relay_write_changes_voltages(
    hass: HomeAssistant, site: MockConfigEntry, sim
) -> None:
    sim.site.step(120)
    await _poll(hass)
    assert float(hass.states.get("sensor.relays_charger_current").state) > 0.1
    assert float(hass.states.get("sensor.relays_backup_battery_current").state) > 0
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.relays_relay_2_charge_circuit"}, blocking=True
    )
    sim.site.step(120)
    await _poll(hass)
    assert hass.states.get("switch.relays_relay_2_charge_circuit").state == "off"
    # The charge circuit is open: no charger current, and the battery no longer charges.
    assert float(hass.states.get("sensor.relays_charger_current").state) == pytest.approx(
        0, abs=0.01
    )
    assert float(hass.states.get("sensor.relays_backup_battery_current").state) <= 0


async def test_writes_need_control(hass: HomeAssistant, site: MockConfigEntry) -> None:
    pv = next(c for c in site.runtime_data.devices.values() if c.kind == "pv")
    with pytest.raises(ServiceValidationError) as err:
        await pv.async_write("power_limit", 50)
    assert err.value.translation_key == "control_disabled"


async def test_outage_unavailable_backoff_repair_and_recovery(
    hass: HomeAssistant, site: MockConfigEntry, sim, caplog
) -> None:
    await sim.faults.refuse_connections()
    sim.faults.drop_connections()
    await _poll(hass)
    assert hass.states.get("sensor.battery_state_of_charge").state == STATE_UNAVAILABLE
    assert hass.states.get("binary_sensor.battery_connection").state == "off"
    assert hass.states.get("sensor.home_house_load").state == STATE_UNAVAILABLE
    battery = next(c for c in site.runtime_data.devices.values() if c.kind == "battery")
    assert battery.update_interval > timedelta(seconds=5)  # backing off

    # Ten minutes later (the clock the coordinator reads for outages), a repair issue.
    later = dt_util.utcnow() + timedelta(minutes=11)
    with patch("custom_components.ems.coordinator.dt_util.utcnow", return_value=later):
        await _poll(hass)
    issue_id = battery.repair_issue_id
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    # Logged once per device, not once per poll.
    assert caplog.text.count("Error fetching ems Battery data") == 1

    await sim.faults.accept_connections()
    await _poll(hass)
    assert hass.states.get("sensor.battery_state_of_charge").state != STATE_UNAVAILABLE
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert battery.update_interval == timedelta(seconds=5)


async def test_refused_register_is_narrowed_down(
    hass: HomeAssistant, site: MockConfigEntry, sim
) -> None:
    # The BESS refuses its temperature register (input 6): only that point is lost.
    sim.faults.exception(1, 2, address=6, last=6, table="input")
    await _poll(hass)
    battery = next(c for c in site.runtime_data.devices.values() if c.kind == "battery")
    assert battery.modbus.bad_keys == {"temperature"}
    assert hass.states.get("sensor.battery_temperature").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.battery_state_of_charge").state != STATE_UNAVAILABLE
    assert hass.states.get("sensor.battery_power").state != STATE_UNAVAILABLE


async def test_out_of_range_value_is_unavailable(
    hass: HomeAssistant, site: MockConfigEntry, sim
) -> None:
    sim.faults.override(1, "soc", 150)
    sim.site.refresh()
    await _poll(hass)
    assert hass.states.get("sensor.battery_state_of_charge").state == STATE_UNAVAILABLE
    await sim.faults.clear()
    await _poll(hass)
    assert hass.states.get("sensor.battery_state_of_charge").state != STATE_UNAVAILABLE


async def test_diagnostics_redact(hass: HomeAssistant, site: MockConfigEntry) -> None:
    from custom_components.ems.diagnostics import async_get_config_entry_diagnostics

    diag = await async_get_config_entry_diagnostics(hass, site)
    text = str(diag)
    assert "127.0.0.1" not in text
    assert "SIMBESS0001" not in text
    battery = next(d for d in diag["devices"].values() if d["kind"] == "battery")
    assert battery["reads_per_poll"] == 2
    assert battery["data"]["soc"] is not None


async def test_entity_registry_snapshot(
    hass: HomeAssistant, site: MockConfigEntry, snapshot
) -> None:
    """Entity ids, unique ids, classes and units a user sees, pinned in a snapshot."""
    ent_reg = er.async_get(hass)
    rows = []
    for entry in sorted(
        er.async_entries_for_config_entry(ent_reg, site.entry_id), key=lambda e: e.entity_id
    ):
        state = hass.states.get(entry.entity_id)
        attributes = state.attributes if state else {}
        rows.append(
            {
                "entity_id": entry.entity_id,
                "unique_id": entry.unique_id.replace(site.entry_id, "<site>"),
                "device_class": entry.original_device_class,
                "unit": entry.unit_of_measurement,
                "state_class": attributes.get("state_class"),
                "category": entry.entity_category,
                "disabled": entry.disabled_by,
                "translation_key": entry.translation_key,
            }
        )
    assert rows == snapshot


async def test_busy_device_is_unavailable_then_recovers(
    hass: HomeAssistant, site: MockConfigEntry, sim
) -> None:
    """A passing device error (busy) fails the poll; it does not mark registers as missing."""
    sim.faults.exception(1, 6)
    await _poll(hass)
    battery = next(c for c in site.runtime_data.devices.values() if c.kind == "battery")
    assert battery.modbus.bad_keys == set()
    assert hass.states.get("sensor.battery_state_of_charge").state == STATE_UNAVAILABLE
    assert hass.states.get("binary_sensor.battery_connection").state == "off"
    await sim.faults.clear()
    await _poll(hass)
    assert hass.states.get("sensor.battery_state_of_charge").state != STATE_UNAVAILABLE
    assert hass.states.get("binary_sensor.battery_connection").state == "on"


async def test_unload_closes_links(hass: HomeAssistant, site: MockConfigEntry) -> None:
    transports = list(site.runtime_data.transports.values())
    assert len(transports) == 1  # four units on one TCP link share one client
    assert await hass.config_entries.async_unload(site.entry_id)
    assert not transports[0].connected
    assert await hass.config_entries.async_setup(site.entry_id)
    await hass.async_block_till_done()


async def test_unknown_profile_skips_the_device_with_a_repair(hass: HomeAssistant, sim) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        unique_id="home",
        data={},
        subentries_data=[
            _device("battery", "Battery", sim.port, 1, "generic_bess", "SIMBESS0001"),
            _device("pv", "Old PV", sim.port, 2, "renamed_profile", "SIMPV0001"),
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.battery_state_of_charge") is not None
    assert hass.states.get("sensor.old_pv_power") is None
    pv_id = next(s for s, sub in entry.subentries.items() if sub.subentry_type == "pv")
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"invalid_profile_{pv_id}")
    assert issue is not None
    assert issue.translation_key == "invalid_profile"
    assert await hass.config_entries.async_unload(entry.entry_id)
