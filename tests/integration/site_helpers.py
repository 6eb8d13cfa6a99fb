"""A site with the simulator's battery, PV and meter, shared by controller-level tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Self
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ems.const import CONTROL_INTERVAL_S, DOMAIN
from custom_components.ems.controller import SiteController


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


class HaClock:
    """Home Assistant's clock moved by hand (timers fire when it moves)."""

    def __init__(self) -> None:
        self.now = dt_util.utcnow()
        self._patch = patch("homeassistant.util.dt.utcnow", lambda: self.now)

    def __enter__(self) -> Self:
        self._patch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._patch.stop()

    async def tick(self, hass: HomeAssistant, seconds: float) -> None:
        """Move on and run what was due (background jobs too)."""
        self.now += timedelta(seconds=seconds)
        async_fire_time_changed(hass, self.now)
        await hass.async_block_till_done(wait_background_tasks=True)


class ControlClock:
    """Simulated time shared by the controller and the simulator (one control step at a time).

    Ticks run at ``now``; so do the immediate ticks of a mode change (the controller's clock is
    patched), else they would fall between simulated steps.
    """

    def __init__(self, controller: SiteController, sim) -> None:
        self.controller = controller
        self.sim = sim
        self.now = dt_util.utcnow() + timedelta(seconds=60)
        patcher = patch("custom_components.ems.controller.dt_util.utcnow", lambda: self.now)
        patcher.start()
        controller.entry.async_on_unload(patcher.stop)

    async def run(self, cycles: int) -> list[float]:
        """Tick, then let the site run one control interval; return the grid power seen."""
        grid: list[float] = []
        for _ in range(cycles):
            await self.controller.async_tick(self.now)
            grid.append(self.controller.grid_w())  # what the controller measured
            self.sim.site.step(CONTROL_INTERVAL_S)
            self.now += timedelta(seconds=CONTROL_INTERVAL_S)
        return grid


async def setup_site(
    hass: HomeAssistant,
    sim,
    *,
    control: bool = True,
    options: dict | None = None,
    battery_profile: str = "generic_bess",
    battery_data: dict | None = None,
) -> MockConfigEntry:
    """The site entry with the simulator's battery (its profile and extra data), PV and meter."""
    battery = sim_device("battery", "Battery", sim.port, 1, battery_profile)
    battery["data"] = {**battery["data"], **(battery_data or {})}
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        unique_id="home",
        data={"import_limit_w": 9000, "export_limit_w": 6000},
        subentries_data=[
            battery,
            sim_device("pv", "Roof PV", sim.port, 2, "generic_pv_inverter"),
            sim_device("meter", "Grid meter", sim.port, 3, "generic_meter_3ph"),
        ],
    )
    entry.add_to_hass(hass)
    battery_id = next(s for s, sub in entry.subentries.items() if sub.subentry_type == "battery")
    hass.config_entries.async_update_entry(
        entry,
        options={
            "scan_interval": 5,
            "control": [battery_id] if control else [],
            **(options or {}),
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def manual_setpoint(hass: HomeAssistant, watts: float) -> None:
    """The site "Home" in manual mode at ``watts``, grid charging allowed."""
    await hass.services.async_call(
        "select", "select_option", {"entity_id": "select.home_mode", "option": "manual"}, True
    )
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.home_charge_from_the_grid"}, blocking=True
    )
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.home_manual_battery_setpoint", "value": watts},
        True,
    )
