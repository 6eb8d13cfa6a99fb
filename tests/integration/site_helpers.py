"""A site with the simulator's battery, PV and meter, shared by controller-level tests."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import DOMAIN


def sim_device(kind: str, title: str, port: int, unit: int, profile: str) -> ConfigSubentryData:
    return ConfigSubentryData(
        data={
            "connection": "tcp",
            "host": "127.0.0.1",
            "port": port,
            "unit_id": unit,
            "profile": profile,
            "serial": f"SIM{unit}",
        },
        subentry_type=kind,
        title=title,
        unique_id=f"serial:SIM{unit}",
    )


async def setup_site(hass: HomeAssistant, sim, *, control: bool = True) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        unique_id="home",
        data={"import_limit_w": 9000, "export_limit_w": 6000},
        subentries_data=[
            sim_device("battery", "Battery", sim.port, 1, "generic_bess"),
            sim_device("pv", "Roof PV", sim.port, 2, "generic_pv_inverter"),
            sim_device("meter", "Grid meter", sim.port, 3, "generic_meter_3ph"),
        ],
    )
    entry.add_to_hass(hass)
    battery_id = next(s for s, sub in entry.subentries.items() if sub.subentry_type == "battery")
    hass.config_entries.async_update_entry(
        entry, options={"scan_interval": 5, "control": [battery_id] if control else []}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry
