"""The site controller drives each vendor's battery through its profile's capability table.

Home Assistant with ems, against the simulator serving that vendor's control semantics
(``simulator/vendors.py``): the same controller code for every brand, the vendor's registers on
the wire, confirmations as the profile declares them, lapsing modes written again in time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from site_helpers import ControlClock, manual_setpoint as _manual, setup_site

from custom_components.ems.const import CONTROL_INTERVAL_S, DOMAIN
from ems_core.capability import Confirm, Direction
from ems_core.profile import builtin_profiles
from simulator import Simulator, start_simulator

PROFILES = builtin_profiles()
VENDORS = sorted(p.id for p in PROFILES.values() if p.kind == "battery" and p.manufacturer != "ems")
LAPSING = [pid for pid in VENDORS if PROFILES[pid].control.lapse_s]
READ_BACK = [pid for pid in VENDORS if PROFILES[pid].control.confirm is Confirm.READBACK]
# What the installer enters for a battery whose registers do not give it.
BATTERY_DATA = {"capacity_wh": 10000, "max_charge_w": 5000, "max_discharge_w": 5000}
TOLERANCE_W = 60.0


async def _vendor_site(
    hass: HomeAssistant, pid: str, *, control: bool = True
) -> AsyncIterator[tuple[Simulator, object, ControlClock, list[str]]]:
    async with start_simulator(port=0, auto_tick=False, battery_profile=pid) as sim:
        sim.site.pv.scale = 0.0
        sim.site.meter.load_scale = 0.0
        sim.site.meter.extra_load_w = 1000.0
        sim.site.refresh()
        written: list[str] = []  # every point a client writes to the battery
        unit = sim.site.units[1]
        previous = unit.on_write
        unit.on_write = lambda u, pts: (written.extend(p.key for p in pts), previous(u, pts))
        entry = await setup_site(
            hass, sim, control=control, battery_profile=pid, battery_data=BATTERY_DATA
        )
        clock = ControlClock(entry.runtime_data.controller, sim)
        try:
            yield sim, entry, clock, written
        finally:
            assert await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()


def _registers(hass: HomeAssistant) -> list[str]:
    state = hass.states.get("sensor.home_battery_setpoint")
    return state.attributes["batteries"]["Battery"]["registers"]


@pytest.mark.parametrize("pid", VENDORS)
async def test_the_controller_commands_every_vendor(
    hass: HomeAssistant, pid: str, socket_enabled: None
) -> None:
    async for sim, _entry, clock, written in _vendor_site(hass, pid):
        for watts in (2000.0, -1500.0):
            await _manual(hass, watts)
            await clock.run(int(40 / CONTROL_INTERVAL_S))  # the ramp, then steady
            assert sim.site.battery.power == pytest.approx(watts, abs=TOLERANCE_W)
            assert not sim.site.battery.control.own_mode
        # The vendor's registers, as the entity shows them.
        keys = {line.split()[1] for line in _registers(hass)}
        assert keys == {c.key for c in PROFILES[pid].control.writes[Direction.DISCHARGE]}
        assert hass.states.get("binary_sensor.battery_control_problem").state == "off"
        # Passive: the release hands the battery back to its own logic (it covers the house).
        await hass.services.async_call(
            "select", "select_option", {"entity_id": "select.home_mode", "option": "passive"}, True
        )
        sim.site.step(10)
        assert sim.site.battery.control.own_mode
        assert sim.site.battery.power == pytest.approx(-1000.0, abs=TOLERANCE_W)
        count = len(written)
        await clock.run(6)
        assert len(written) == count  # and ems writes no more


@pytest.mark.parametrize("pid", LAPSING)
async def test_a_lapsing_mode_is_written_again_in_time(
    hass: HomeAssistant, pid: str, socket_enabled: None
) -> None:
    control = PROFILES[pid].control
    async for sim, _entry, clock, written in _vendor_site(hass, pid):
        await _manual(hass, 2000.0)
        await clock.run(int(40 / CONTROL_INTERVAL_S))
        trigger = control.writes[Direction.DISCHARGE][-1].key  # the write that makes it act
        before = written.count(trigger)
        # Three lapse times with a steady command: it never lapses, ems re-writes it.
        for _ in range(int(3 * control.lapse_s / CONTROL_INTERVAL_S)):
            await clock.run(1)
            assert not sim.site.battery.control.own_mode
        assert sim.site.battery.power == pytest.approx(2000.0, abs=TOLERANCE_W)
        rewrites = written.count(trigger) - before
        assert rewrites >= 3 * control.lapse_s / control.rewrite_s - 1


@pytest.mark.parametrize("pid", READ_BACK)
async def test_a_different_read_back_holds_the_battery(
    hass: HomeAssistant, pid: str, socket_enabled: None
) -> None:
    async for sim, entry, clock, _written in _vendor_site(hass, pid):
        await _manual(hass, 2000.0)
        await clock.run(int(40 / CONTROL_INTERVAL_S))
        # Firmware reads the command register back otherwise (whatever is written to it).
        control = PROFILES[pid].control
        key = control.commands(2000.0)[1][-1].key
        point = PROFILES[pid][key]
        used = {c.value for p in (2000.0, 0.0) for c in control.commands(p)[1] if c.key == key}
        other = next(v for v in (point.max, point.min, point.min + 1) if v not in used)
        sim.faults.override(1, key, other)
        await clock.run(int(120 / CONTROL_INTERVAL_S))
        problem = hass.states.get("binary_sensor.battery_control_problem")
        assert problem.state == "on"
        assert "battery_write_failed" in problem.attributes["problems"]
        assert hass.states.get("sensor.home_status").state == "batteries_held"
        battery_id = next(s for s, sub in entry.subentries.items() if sub.title == "Battery")
        assert ir.async_get(hass).async_get_issue(DOMAIN, f"battery_write_failed_{battery_id}")


async def test_solax_unconfirmed_by_its_mode_register(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    async for sim, _entry, clock, _written in _vendor_site(hass, "solax_hybrid_g4"):
        await _manual(hass, 2000.0)
        await clock.run(int(40 / CONTROL_INTERVAL_S))
        sim.faults.override(1, "remote_mode_state", 0)  # the device says no mode is active
        await clock.run(int(120 / CONTROL_INTERVAL_S))
        problems = hass.states.get("binary_sensor.battery_control_problem").attributes["problems"]
        assert "battery_write_failed" in problems


@pytest.mark.parametrize("pid", VENDORS)
async def test_a_battery_that_ignores_its_commands_is_reported(
    hass: HomeAssistant, pid: str, socket_enabled: None
) -> None:
    async for sim, _entry, clock, _written in _vendor_site(hass, pid):
        await _manual(hass, 2000.0)
        await clock.run(int(40 / CONTROL_INTERVAL_S))
        sim.faults.ignore_commands()  # keeps charging when told to discharge
        await _manual(hass, -1500.0)
        await clock.run(int(150 / CONTROL_INTERVAL_S))
        assert sim.site.battery.power == pytest.approx(2000.0, abs=TOLERANCE_W)
        problems = hass.states.get("binary_sensor.battery_control_problem").attributes["problems"]
        assert "battery_not_following" in problems


@pytest.mark.parametrize("pid", VENDORS)
async def test_the_dry_run_shows_the_vendor_writes_and_writes_nothing(
    hass: HomeAssistant, pid: str, socket_enabled: None
) -> None:
    async for _sim, _entry, clock, written in _vendor_site(hass, pid, control=False):
        await _manual(hass, -1500.0)
        await clock.run(3)
        assert hass.states.get("sensor.home_status").state == "dry_run"
        battery = hass.states.get("sensor.home_battery_setpoint").attributes["batteries"]
        assert battery["Battery"]["dry_run"] is True
        registers = _registers(hass)
        writes = PROFILES[pid].control.writes[Direction.DISCHARGE]
        address = {w.key: PROFILES[pid][w.key].address for w in writes}
        assert registers
        for line in registers:
            number, key, _eq, _value, *_ = line.split()
            assert int(number) == address[key]
        assert written == []


async def test_a_forced_mode_left_behind_is_released_at_the_next_start(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """GoodWe keeps its EMS mode for ever: a release that failed is done at the next start."""
    async for sim, entry, clock, _written in _vendor_site(hass, "goodwe_et"):
        await _manual(hass, 2000.0)
        await clock.run(int(40 / CONTROL_INTERVAL_S))
        assert sim.site.units[1].get("ems_mode") == 11
        sim.faults.exception(1, 4, table="holding", writes_only=True)
        assert await hass.config_entries.async_unload(entry.entry_id)  # the release fails
        await hass.async_block_till_done()
        assert sim.site.units[1].get("ems_mode") == 11
        sim.faults.clear_exception(1)
        # Back with the battery out of "Devices ems may command": it is handed back at once.
        hass.config_entries.async_update_entry(entry, options={**entry.options, "control": []})
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        again = ControlClock(entry.runtime_data.controller, sim)
        await again.run(2)
        assert sim.site.units[1].get("ems_mode") == 1  # auto: its own logic
        assert sim.site.battery.control.own_mode
        written = len(_written)
        await again.run(6)
        assert len(_written) == written  # and nothing more is written
