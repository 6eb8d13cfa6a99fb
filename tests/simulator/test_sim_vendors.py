"""Every vendor battery profile against the simulator serving that vendor's control semantics.

ems's side is the core's ModbusDevice driving the profile's capability table over loopback
TCP; the device's side is ``simulator/vendors.py``, written from the vendors' documents. So a
profile whose table disagrees with its document (a wrong mode value, sign or register) fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import dataclasses

import pytest

from ems_core.capability import Confirm
from ems_core.device import ModbusDevice
from ems_core.profile import ConversionError, builtin_profiles
from ems_core.sunspec import async_discover, build_profile
from ems_core.transport import ModbusTransport, TcpParams, TransportError
from simulator import SUNSPEC_UNIT, Simulator, start_simulator
from simulator.vendors import CONTROLS

PROFILES = builtin_profiles()
BATTERIES = sorted(p.id for p in PROFILES.values() if p.kind == "battery")
LAPSING = [pid for pid in BATTERIES if PROFILES[pid].control.lapse_s]
READ_BACK = [pid for pid in BATTERIES if PROFILES[pid].control.confirm is Confirm.READBACK]
TOLERANCE_W = 60.0


@pytest.fixture(params=BATTERIES)
async def vendor(request: pytest.FixtureRequest, socket_enabled: None) -> AsyncIterator[str]:
    """Each shipped battery profile's id (the simulator has a battery for each)."""
    return request.param


async def _running(pid: str) -> AsyncIterator[tuple[Simulator, ModbusDevice]]:
    async with start_simulator(port=0, auto_tick=False, battery_profile=pid) as sim:
        # A dark house with a flat 1 kW load: the battery's own mode discharges 1 kW.
        sim.site.pv.scale = 0.0
        sim.site.meter.load_scale = 0.0
        sim.site.meter.extra_load_w = 1000.0
        sim.site.refresh()
        link = ModbusTransport(TcpParams(host="127.0.0.1", port=sim.port), timeout=1.0)
        try:
            yield sim, ModbusDevice(link, 1, PROFILES[pid])
        finally:
            link.close()


@pytest.fixture
async def running(vendor: str) -> AsyncIterator[tuple[Simulator, ModbusDevice]]:
    async for pair in _running(vendor):
        yield pair


async def _command(device: ModbusDevice, power: float) -> list:
    """Command as the controller does: with the device's values the command needs (its PV)."""
    values = await device.read(device.profile.control.read_keys)
    return await device.command(power, values)


async def _power(sim: Simulator, device: ModbusDevice, seconds: float = 10.0) -> float:
    sim.site.step(seconds)
    return float((await device.read({"power"}))["power"])


def test_every_battery_profile_has_a_simulated_device() -> None:
    assert set(BATTERIES) == set(CONTROLS)
    assert len([p for p in BATTERIES if PROFILES[p].manufacturer != "ems"]) >= 5


async def test_read_and_commanded_in_every_direction(running) -> None:
    sim, device = running
    values = await device.read({"soc", "power"})
    assert values["soc"] == pytest.approx(50, abs=0.5)
    for power in (2000.0, -1500.0, 0.0):
        checks = await _command(device, power)
        assert await device.confirm(checks) is None
        assert await _power(sim, device) == pytest.approx(power, abs=TOLERANCE_W)
        assert not sim.site.battery.control.own_mode


async def test_release_hands_the_battery_back(running) -> None:
    sim, device = running
    await _command(device, 2000.0)
    assert await _power(sim, device) == pytest.approx(2000.0, abs=TOLERANCE_W)
    checks = await device.release()
    assert await device.confirm(checks) is None
    power = await _power(sim, device)
    if device.profile.id == "generic_bess":  # no own logic: released at 0 W
        assert power == pytest.approx(0.0, abs=TOLERANCE_W)
    else:  # its own self-consumption covers the 1 kW house
        assert sim.site.battery.control.own_mode
        assert power == pytest.approx(-1000.0, abs=TOLERANCE_W)


@pytest.mark.parametrize("pid", LAPSING)
async def test_a_remote_mode_lapses_unless_written_again(pid: str, socket_enabled: None) -> None:
    async for sim, device in _running(pid):
        control = device.profile.control
        await _command(device, 2000.0)
        assert await _power(sim, device, 1.0) == pytest.approx(2000.0, abs=TOLERANCE_W)
        # Written again every rewrite_s: it holds for three lapse times.
        elapsed = 0.0
        while elapsed < 3 * control.lapse_s:
            assert await _power(sim, device, control.rewrite_s) == pytest.approx(2000.0, abs=60)
            await _command(device, 2000.0)
            elapsed += control.rewrite_s
        # Not written again: the device goes back to its own logic after lapse_s.
        await _power(sim, device, control.lapse_s + 5)
        assert sim.site.battery.control.own_mode
        assert await _power(sim, device) == pytest.approx(-1000.0, abs=TOLERANCE_W)


@pytest.mark.parametrize("pid", READ_BACK)
async def test_a_different_read_back_is_not_a_confirmation(pid: str, socket_enabled: None) -> None:
    async for sim, device in _running(pid):
        values = await device.read(device.profile.control.read_keys)
        _, commands = device.plan_command(1500.0, values)
        key = commands[-1].key
        point = device.profile[key]
        # Firmware that reads the register back otherwise (another scale, a clamp, a reset).
        other = point.max if commands[-1].value != point.max else point.min
        sim.faults.override(1, key, other)
        checks = await _command(device, 1500.0)
        mismatch = await device.confirm(checks)
        assert mismatch is not None
        assert key in mismatch


async def test_the_state_register_confirms_solax(socket_enabled: None) -> None:
    async for sim, device in _running("solax_hybrid_g4"):
        assert await device.confirm(await _command(device, 1500.0)) is None
        sim.faults.override(1, "remote_mode_state", 0)  # the device did not take the command
        mismatch = await device.confirm(await _command(device, 1500.0))
        assert mismatch == "wrote remote_mode_state = 1, remote_mode_state reads 0"


async def test_a_battery_that_ignores_commands(running) -> None:
    sim, device = running
    await _command(device, 2000.0)
    assert await _power(sim, device) == pytest.approx(2000.0, abs=TOLERANCE_W)
    sim.faults.ignore_commands()
    await _command(device, -1500.0)  # accepted, and read back where the profile reads back
    assert await _power(sim, device) == pytest.approx(2000.0, abs=TOLERANCE_W)
    assert "unit 1: ignores commands" in sim.faults.active
    await sim.faults.clear()
    await _command(device, -1500.0)
    assert await _power(sim, device) == pytest.approx(-1500.0, abs=TOLERANCE_W)


async def test_out_of_range_commands_write_nothing(running) -> None:
    sim, device = running
    written: list[str] = []
    unit = sim.site.units[1]
    previous = unit.on_write
    unit.on_write = lambda u, points: (written.extend(p.key for p in points), previous(u, points))
    with pytest.raises(ConversionError):
        await _command(device, 250_000.0)
    assert written == []


@pytest.mark.parametrize(
    ("model", "method", "enable"), [(704, "setpoint", "WSetEna"), (124, "forced", "StorCtl_Mod")]
)
async def test_sunspec_storage_control(
    sim: Simulator, transport, model: int, method: str, enable: str
) -> None:
    """A discovered SunSpec hybrid commanded through 704 (when it has it), else through 124."""
    found = await async_discover(transport, SUNSPEC_UNIT)
    if model == 124:  # the same device as one without 704 (Fronius GEN24 style)
        found = dataclasses.replace(found, models=[m for m in found.models if m.id != 704])
    profile = build_profile(found, "battery")
    assert profile.control.method == method
    device = ModbusDevice(transport, SUNSPEC_UNIT, profile)
    sim.site.pv.scale = 0.0  # no PV: what moves the battery is the command
    for power in (1000.0, -1500.0, 0.0):
        assert await device.confirm(await _command(device, power)) is None
        sim.site.step(61)
        assert sim.site.sunspec.battery_w == pytest.approx(power, abs=1)
        assert (await device.read({"power"}))["power"] == pytest.approx(power, abs=1)
    # Written again every minute it holds; left alone it reverts after its revert time.
    await _command(device, 1000.0)
    for _ in range(8):
        sim.site.step(61)
        await _command(device, 1000.0)
    assert sim.site.sunspec.battery_w == pytest.approx(1000.0, abs=1)
    sim.site.step(6 * 61)
    assert sim.site.sunspec.value(model, enable) == 0
    assert sim.site.sunspec.battery_w == 0.0  # no PV: its own logic does nothing
    assert await device.confirm(await device.release()) is None


async def test_a_direction_change_cut_short_never_runs_the_old_way_at_the_new_power(
    running,
) -> None:
    """Whichever write of a direction change fails, the device is told the old command, a hold
    or the new one: never the old direction at the new power (forced modes hold first)."""
    sim, device = running
    transport = device.transport
    write = transport.write
    for failing in range(12):
        await _command(device, -1000.0)
        assert sim.site.battery.control.command_w() == pytest.approx(-1000.0)
        done = 0

        async def cut(*args, _failing=failing):
            nonlocal done
            if done == _failing:
                raise TransportError("link dropped")
            done += 1
            await write(*args)

        transport.write = cut
        try:
            await _command(device, 5000.0)
            completed = True
        except TransportError:
            completed = False
        finally:
            transport.write = write
        told = sim.site.battery.control.command_w()
        assert told in (pytest.approx(-1000.0), pytest.approx(0.0), pytest.approx(5000.0)), (
            failing,
            told,
        )
        if completed:
            assert told == pytest.approx(5000.0)
            break


async def test_solax_active_power_counts_the_pv(socket_enabled: None) -> None:
    """SolaX mode 1's active power is the battery's charge minus the PV: ems sends P - PV."""
    async for sim, device in _running("solax_hybrid_g4"):
        sim.site.pv.scale = 1.0
        sim.site.step(6 * 3600)  # midday
        sim.site.battery.soc = 50.0  # its own mode filled it with the morning's sun
        assert sim.site.pv.power > 1000
        for power in (1000.0, 0.0, -800.0):
            assert await device.confirm(await _command(device, power)) is None
            sim.site.step(1)
            assert sim.site.battery.power == pytest.approx(power, abs=TOLERANCE_W)
