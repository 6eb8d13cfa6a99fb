"""Fault injection: every fault works, and every fault can be undone."""

from __future__ import annotations

import asyncio

from pymodbus.client import AsyncModbusTcpClient
import pytest
from sim_helpers import profile_of, read_point, write_point

from ems_core.profile import decode_all, plan_reads
from ems_core.transport import (
    DeviceError,
    ModbusTransport,
    TcpParams,
    TransportError,
)
from simulator import Simulator


def _link(sim: Simulator, timeout: float = 1.0) -> ModbusTransport:
    return ModbusTransport(TcpParams(host="127.0.0.1", port=sim.port), timeout=timeout)


async def test_refuse_and_accept_connections(sim: Simulator, transport: ModbusTransport) -> None:
    await sim.faults.refuse_connections()
    assert "refusing connections" in sim.faults.active
    fresh = _link(sim)
    with pytest.raises(TransportError):
        await fresh.connect()
    # a connection opened before keeps working
    assert await read_point(transport, 1, "soc") == 50
    await sim.faults.accept_connections()
    await fresh.connect()
    assert await read_point(fresh, 1, "soc") == 50
    fresh.close()


async def test_drop_connections(sim: Simulator) -> None:
    client = AsyncModbusTcpClient(
        "127.0.0.1", port=sim.port, timeout=1, retries=0, reconnect_delay=0
    )
    assert await client.connect()
    assert sim.faults.drop_connections() == 1
    for _ in range(50):
        if not client.connected:
            break
        await asyncio.sleep(0.01)
    assert not client.connected
    client.close()
    # the project's transport reconnects on its next call
    link = _link(sim)
    assert await read_point(link, 1, "soc") == 50
    assert sim.faults.drop_connections() == 1
    for _ in range(50):
        if not link.connected:
            break
        await asyncio.sleep(0.01)
    assert await read_point(link, 1, "soc") == 50  # reconnected
    link.close()


async def test_delay_replies_of_one_unit(sim: Simulator) -> None:
    sim.faults.delay(1, 0.6)
    slow = _link(sim, timeout=0.2)
    with pytest.raises(TransportError):
        await read_point(slow, 1, "soc")
    # other units answer at once (a fresh link: the timed-out one was closed)
    assert await read_point(slow, 3, "serial") == "SIMMETER0001"
    patient = _link(sim, timeout=2.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await read_point(patient, 1, "soc") == 50
    assert loop.time() - started >= 0.55
    sim.faults.clear_delay(1)
    started = loop.time()
    assert await read_point(patient, 1, "soc") == 50
    assert loop.time() - started < 0.3
    slow.close()
    patient.close()


async def test_exception_for_a_whole_unit(sim: Simulator, transport: ModbusTransport) -> None:
    sim.faults.exception(1, 4)
    with pytest.raises(DeviceError) as err:
        await read_point(transport, 1, "soc")
    assert err.value.code == 4
    with pytest.raises(DeviceError):
        await write_point(transport, 1, "setpoint", 1000)
    assert sim.site.units[1].get("setpoint") == 0  # the write never reached the device
    assert await read_point(transport, 2, "serial") == "SIMPV0001"
    sim.faults.clear_exception(1)
    assert await read_point(transport, 1, "soc") == 50


async def test_exception_for_an_address_range(sim: Simulator, transport: ModbusTransport) -> None:
    sim.faults.exception(1, 2, table="holding", address=102, last=103)
    assert await read_point(transport, 1, "soc") == 50  # input table: untouched
    await write_point(transport, 1, "setpoint", 1000)  # 100..101: untouched
    with pytest.raises(DeviceError) as err:
        await read_point(transport, 1, "charge_limit")
    assert err.value.code == 2
    with pytest.raises(DeviceError):
        # one block read over the whole control block overlaps the range
        await transport.read(1, profile_of(1)["setpoint"].table, 100, 4)
    sim.faults.clear_exception()
    assert await read_point(transport, 1, "charge_limit") == 5000


async def test_exception_for_writes_only(sim: Simulator, transport: ModbusTransport) -> None:
    """A device that rejects every command but still answers reads."""
    sim.faults.exception(1, 4, table="holding", writes_only=True)
    assert await read_point(transport, 1, "setpoint") == 0
    with pytest.raises(DeviceError) as err:
        await write_point(transport, 1, "setpoint", 1000)
    assert err.value.code == 4
    assert sim.site.units[1].get("setpoint") == 0
    sim.faults.clear_exception(1)
    await write_point(transport, 1, "setpoint", 1000)
    assert await read_point(transport, 1, "setpoint") == 1000


async def test_override_with_an_out_of_range_value(
    sim: Simulator, transport: ModbusTransport
) -> None:
    sim.faults.override(1, "soc", 150.0)
    assert await read_point(transport, 1, "soc") == 150
    # the integration's decoder flags it as no value
    profile = profile_of(1)
    block = next(b for b in plan_reads(profile, ["soc"]))
    words = await transport.read(1, block.table, block.address, block.count)
    assert decode_all(profile, [(block, words)])["soc"] is None
    # the model goes on underneath
    sim.site.units[1].command("setpoint", 2000)
    sim.site.step(3600)
    assert await read_point(transport, 1, "soc") == 150
    sim.faults.clear_override(1, "soc")
    assert await read_point(transport, 1, "soc") == 69


async def test_override_raw_words_and_bits(sim: Simulator, transport: ModbusTransport) -> None:
    sim.faults.override(1, "temperature", words=[0x8000])
    assert await read_point(transport, 1, "temperature") == pytest.approx(-3276.8)
    sim.faults.override(1, "alarm_over_current", True)
    assert await read_point(transport, 1, "alarm_over_current") is True
    assert await read_point(transport, 1, "alarm_fault") is False
    # the model re-publishing other bits of the same register keeps the pinned bit
    sim.faults.device_fault(1)
    sim.site.step(10)
    assert await read_point(transport, 1, "alarm_fault") is True
    assert await read_point(transport, 1, "alarm_over_current") is True
    sim.faults.device_fault(1, False)
    sim.faults.clear_override(1)
    assert await read_point(transport, 1, "alarm_over_current") is False
    assert await read_point(transport, 1, "temperature") == pytest.approx(25, abs=0.2)


async def test_freeze_a_unit(sim: Simulator, transport: ModbusTransport) -> None:
    sim.faults.freeze(1)
    await write_point(transport, 1, "setpoint", 3000)  # writes are still accepted
    assert await read_point(transport, 1, "setpoint") == 3000
    sim.site.step(1800)
    assert sim.site.battery.soc > 60
    assert await read_point(transport, 1, "soc") == 50  # stale
    assert await read_point(transport, 1, "power") == 0
    sim.faults.unfreeze(1)
    assert await read_point(transport, 1, "soc") == pytest.approx(64.3, abs=0.1)
    assert await read_point(transport, 1, "power") == 3000


async def test_cut_the_grid(sim: Simulator, transport: ModbusTransport) -> None:
    sim.site.step(6 * 3600)
    sim.faults.cut_grid()
    assert await read_point(transport, 4, "mains_present") is False
    assert await read_point(transport, 4, "ch2_current") == 0
    assert await read_point(transport, 3, "voltage_l1") == 0
    assert await read_point(transport, 3, "power") == 0
    assert await read_point(transport, 2, "power") == 0  # anti-islanding
    sim.faults.restore_grid()
    assert await read_point(transport, 4, "mains_present") is True
    assert await read_point(transport, 3, "voltage_l1") > 220
    assert await read_point(transport, 2, "power") > 1000


async def test_device_fault(sim: Simulator, transport: ModbusTransport) -> None:
    await write_point(transport, 1, "setpoint", 2000)
    sim.faults.device_fault(1)
    assert await read_point(transport, 1, "alarm_fault") is True
    assert await read_point(transport, 1, "power") == 0
    sim.faults.device_fault(1, False)
    assert await read_point(transport, 1, "power") == 2000
    with pytest.raises(ValueError, match="no internal fault"):
        sim.faults.device_fault(3)


async def test_clear_undoes_everything(sim: Simulator) -> None:
    faults = sim.faults
    await faults.refuse_connections()
    faults.delay(2, 5.0)
    faults.exception(1, 4)
    faults.override(1, "soc", 150.0)
    faults.freeze(3)
    faults.freeze(5)
    faults.cut_grid()
    faults.device_fault(2)
    assert len(faults.active) == 8
    await faults.clear()
    assert faults.active == []
    link = _link(sim)
    assert await read_point(link, 1, "soc") == 50
    assert await read_point(link, 2, "alarm_fault") is False
    link.close()


async def test_pending_delayed_reply_does_not_outlive_the_server(socket_enabled: None) -> None:
    from simulator import start_simulator

    async with start_simulator(port=0, auto_tick=False) as sim:
        sim.faults.delay(1, 30.0)
        link = _link(sim, timeout=0.2)
        with pytest.raises(TransportError):
            await read_point(link, 1, "soc")
        link.close()
    # leaving the block cancelled the sleeping reply: no lingering task
