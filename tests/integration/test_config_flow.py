"""Config flow: the site, each device connection type, errors, reconfigure and options."""

from __future__ import annotations

import asyncio
from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import DOMAIN

BESS_UNIT, PV_UNIT, METER_UNIT, RELAY_UNIT, SUNSPEC_UNIT = 1, 2, 3, 4, 5


def _site(
    hass: HomeAssistant, subentries: list[ConfigSubentryData] | None = None
) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        unique_id="home",
        data={"import_limit_w": 9000, "export_limit_w": 6000},
        subentries_data=subentries or [],
    )
    entry.add_to_hass(hass)
    return entry


async def _start_device_flow(
    hass: HomeAssistant, entry: MockConfigEntry, kind: str, step: str
) -> dict:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, kind), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step
    return result


async def _tcp(
    hass: HomeAssistant, entry: MockConfigEntry, kind: str, values: dict[str, Any]
) -> dict:
    result = await _start_device_flow(hass, entry, kind, "modbus_tcp")
    return await hass.config_entries.subentries.async_configure(result["flow_id"], values)


async def test_site_flow_creates_entry_once(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "My House", "import_limit_w": 9000}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "My House"
    assert result["data"] == {"import_limit_w": 9000, "export_limit_w": None}
    assert result["result"].unique_id == "my_house"

    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"name": "My house"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_site_reconfigure(hass: HomeAssistant) -> None:
    entry = _site(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Home", "import_limit_w": 6000, "export_limit_w": 0}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {"import_limit_w": 6000, "export_limit_w": 0}

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"name": "Cottage"})
    assert result["reason"] == "reconfigure_successful"
    assert entry.title == "Cottage"
    assert entry.unique_id == "cottage"

    # Renaming onto another site's name is refused.
    other = MockConfigEntry(domain=DOMAIN, title="Barn", unique_id="barn", data={})
    other.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"name": "Barn"})
    assert result["reason"] == "already_configured"
    assert entry.title == "Cottage"


async def test_add_modbus_battery(hass: HomeAssistant, sim) -> None:
    entry = _site(hass)
    values = {
        "name": "House battery",
        "host": "127.0.0.1",
        "port": sim.port,
        "unit_id": BESS_UNIT,
        "profile": "generic_bess",
    }
    result = await _tcp(hass, entry, "battery", values)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    subentry = next(iter(entry.subentries.values()))
    assert subentry.title == "House battery"
    assert subentry.unique_id == "battery:serial:SIMBESS0001"
    assert subentry.data["uid"] == "serial_SIMBESS0001_battery"
    assert subentry.data["serial"] == "SIMBESS0001"
    assert subentry.data["connection"] == "tcp"

    # The same device again (same serial) is refused.
    result = await _tcp(hass, entry, "battery", values | {"name": "Again"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_add_a_vendor_battery_with_its_ratings(hass: HomeAssistant, socket_enabled) -> None:
    """A vendor profile without capacity registers: the installer gives the capacity."""
    from simulator import start_simulator

    async with start_simulator(port=0, auto_tick=False, battery_profile="sungrow_sh_rt") as sim:
        entry = _site(hass)
        values = {
            "name": "Sungrow",
            "host": "127.0.0.1",
            "port": sim.port,
            "unit_id": BESS_UNIT,
            "profile": "sungrow_sh_rt",
            "capacity_wh": 9600,
            "max_charge_w": 5000,
        }
        result = await _tcp(hass, entry, "battery", values)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        subentry = next(iter(entry.subentries.values()))
        assert subentry.data["capacity_wh"] == 9600
        assert subentry.data["max_charge_w"] == 5000
        assert "max_discharge_w" not in subentry.data


async def test_modbus_errors(hass: HomeAssistant, sim) -> None:
    entry = _site(hass)
    base = {"name": "B", "host": "127.0.0.1", "port": sim.port, "unit_id": BESS_UNIT}

    await sim.faults.refuse_connections()
    result = await _tcp(hass, entry, "battery", base | {"profile": "generic_bess"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    await sim.faults.accept_connections()

    # A PV profile on a battery subentry is refused before anything is read.
    flow = await _start_device_flow(hass, entry, "battery", "modbus_tcp")
    with pytest.raises(InvalidData, match=r"profile"):
        await hass.config_entries.subentries.async_configure(
            flow["flow_id"], base | {"profile": "generic_pv_inverter"}
        )

    # The battery profile on the meter's unit: the main values are not there.
    result = await _tcp(
        hass, entry, "battery", base | {"unit_id": METER_UNIT, "profile": "generic_bess"}
    )
    assert result["errors"] == {"base": "profile_mismatch"}

    # A device answering Modbus exceptions for everything.
    sim.faults.exception(BESS_UNIT, code=4)
    result = await _tcp(hass, entry, "battery", base | {"profile": "generic_bess"})
    assert result["errors"] == {"base": "device_error"}
    await sim.faults.clear()
    assert not entry.subentries


async def test_a_link_that_misses_one_request_is_tried_again(hass: HomeAssistant, sim) -> None:
    """A gateway busy for a moment (a shared link, another client) does not fail the form."""
    entry = _site(hass)
    base = {"name": "B", "host": "127.0.0.1", "port": sim.port, "unit_id": BESS_UNIT}
    await sim.faults.refuse_connections()

    async def back() -> None:
        await asyncio.sleep(0.2)
        await sim.faults.accept_connections()

    task = asyncio.create_task(back())
    result = await _tcp(hass, entry, "battery", base | {"profile": "generic_bess"})
    await task
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_rtu_step_reports_missing_port(hass: HomeAssistant) -> None:
    entry = _site(hass)
    result = await _start_device_flow(hass, entry, "meter", "modbus_rtu")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "name": "Meter",
            "serial_port": "/dev/ems-no-such-port",
            "baudrate": "9600",
            "parity": "none",
            "stopbits": 1,
            "bytesize": 8,
            "unit_id": 1,
            "profile": "generic_meter_3ph",
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_relay_board_menu_has_no_entity_option(hass: HomeAssistant) -> None:
    entry = _site(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "relay_board"), context={"source": SOURCE_USER}
    )
    assert result["menu_options"] == ["modbus_tcp", "modbus_rtu"]


async def test_sunspec_discovery(hass: HomeAssistant, sim) -> None:
    entry = _site(hass)
    link = {"host": "127.0.0.1", "port": sim.port}

    result = await _start_device_flow(hass, entry, "meter", "sunspec")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "M", **link, "unit_id": SUNSPEC_UNIT}
    )
    assert result["errors"] == {"base": "no_sunspec"}

    result = await _start_device_flow(hass, entry, "pv", "sunspec")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "M", **link, "unit_id": BESS_UNIT}
    )
    assert result["errors"] == {"base": "no_sunspec"}

    result = await _start_device_flow(hass, entry, "pv", "sunspec")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Hybrid", **link, "unit_id": SUNSPEC_UNIT}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    subentry = next(iter(entry.subentries.values()))
    assert subentry.data["profile"] == "sunspec"
    assert subentry.data["serial"] == "SIMSUNSPEC01"

    # The same hybrid inverter is also the site's battery: a second device of another kind.
    result = await _start_device_flow(hass, entry, "battery", "sunspec")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Hybrid battery", **link, "unit_id": SUNSPEC_UNIT}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    uids = {sub.data["uid"] for sub in entry.subentries.values()}
    assert uids == {"serial_SIMSUNSPEC01_pv", "serial_SIMSUNSPEC01_battery"}


async def test_entity_backed_battery(hass: HomeAssistant) -> None:
    entry = _site(hass)
    hass.states.async_set(
        "sensor.solax_power", "-1.5", {"unit_of_measurement": "kW", "device_class": "power"}
    )
    hass.states.async_set(
        "sensor.solax_soc", "64", {"unit_of_measurement": "%", "device_class": "battery"}
    )
    result = await _start_device_flow(hass, entry, "battery", "entities")
    values = {
        "name": "SolaX battery",
        "power_entity": "sensor.solax_power",
        "soc_entity": "sensor.solax_missing",
        "capacity_wh": 5800,
    }
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], values)
    assert result["errors"] == {"soc_entity": "entity_not_found"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], values | {"soc_entity": "sensor.solax_soc"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    subentry = next(iter(entry.subentries.values()))
    assert subentry.unique_id == "battery:entities:sensor.solax_power"
    assert subentry.data["capacity_wh"] == 5800


async def test_reconfigure_device(hass: HomeAssistant, sim) -> None:
    entry = _site(
        hass,
        [
            ConfigSubentryData(
                data={
                    "connection": "tcp",
                    "host": "127.0.0.1",
                    "port": 1,
                    "unit_id": METER_UNIT,
                    "profile": "generic_meter_3ph",
                    "serial": None,
                },
                subentry_type="meter",
                title="Meter",
                unique_id="tcp:127.0.0.1:1:3",
            )
        ],
    )
    subentry = next(iter(entry.subentries.values()))
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "meter"),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry.subentry_id},
    )
    assert result["step_id"] == "modbus_tcp"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "name": "Grid meter",
            "host": "127.0.0.1",
            "port": sim.port,
            "unit_id": METER_UNIT,
            "profile": "generic_meter_3ph",
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    subentry = entry.subentries[subentry.subentry_id]
    assert subentry.title == "Grid meter"
    assert subentry.data["port"] == sim.port
    assert subentry.data["serial"] == "SIMMETER0001"
    # The serial became readable, yet the entities keep their identity.
    assert subentry.data["uid"] == "127.0.0.1:1:3"


async def test_options_flow(hass: HomeAssistant) -> None:
    entry = _site(
        hass,
        [
            ConfigSubentryData(
                data={
                    "connection": "tcp",
                    "host": "127.0.0.1",
                    "port": 1,
                    "unit_id": 1,
                    "profile": "generic_bess",
                },
                subentry_type="battery",
                title="Battery",
                unique_id="tcp:127.0.0.1:1:1",
            )
        ],
    )
    battery_id = next(iter(entry.subentries))
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 5, "control": [battery_id]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {"scan_interval": 5, "control": [battery_id]}


async def test_reconfigure_entity_backed_meter(hass: HomeAssistant) -> None:
    hass.states.async_set("sensor.shelly_power", "120", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.shelly_power_2", "80", {"unit_of_measurement": "W"})
    entry = _site(
        hass,
        [
            ConfigSubentryData(
                data={"connection": "entities", "power_entity": "sensor.shelly_power"},
                subentry_type="meter",
                title="Shelly",
                unique_id="entities:sensor.shelly_power",
            )
        ],
    )
    subentry = next(iter(entry.subentries.values()))
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "meter"),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry.subentry_id},
    )
    assert result["step_id"] == "entities"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"name": "Shelly 3EM", "power_entity": "sensor.shelly_power_2", "invert_power": True},
    )
    assert result["reason"] == "reconfigure_successful"
    subentry = entry.subentries[subentry.subentry_id]
    assert subentry.data["power_entity"] == "sensor.shelly_power_2"
    assert subentry.data["invert_power"] is True
    assert subentry.unique_id == "meter:entities:sensor.shelly_power_2"
    # Reconfiguring keeps the identity entities hang on.
    assert subentry.data["uid"] == subentry.subentry_id
