"""Unit 5 serves the SunSpec device's holding registers, ticked with the site's PV."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pymodbus.client import AsyncModbusTcpClient
import pytest

from simulator import SUNSPEC_UNIT, Simulator

BASE = 40000


async def _walk(client: AsyncModbusTcpClient) -> list[int]:
    """Walk the SunSpec model chain over Modbus; return the model ids."""
    reply = await client.read_holding_registers(BASE, count=2, slave=SUNSPEC_UNIT)
    assert reply.registers == [0x5375, 0x6E53]  # "SunS"
    address, ids = BASE + 2, []
    while True:
        reply = await client.read_holding_registers(address, count=2, slave=SUNSPEC_UNIT)
        model_id, length = reply.registers
        if model_id == 0xFFFF:
            return ids
        ids.append(model_id)
        address += 2 + length


async def _image(client: AsyncModbusTcpClient) -> list[int]:
    """Read the whole image, 100 registers at a time, then one by one to its end."""
    words: list[int] = []
    address = BASE
    while True:
        count = 100
        reply = await client.read_holding_registers(address, count=count, slave=SUNSPEC_UNIT)
        if reply.isError():
            count = 1
            reply = await client.read_holding_registers(address, count=1, slave=SUNSPEC_UNIT)
            if reply.isError():
                return words
        words += reply.registers
        address += count


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[AsyncModbusTcpClient]:
    """A raw pymodbus client."""
    client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=1, retries=0)
    assert await client.connect()
    yield client
    client.close()


async def test_sunspec_map_is_served(sim: Simulator, client: AsyncModbusTcpClient) -> None:
    assert await _walk(client) == [1, 103, 124, 704, 802]
    reply = await client.read_holding_registers(BASE - 1, count=1, slave=SUNSPEC_UNIT)
    assert reply.isError()
    assert reply.exception_code == 2
    reply = await client.read_input_registers(0, count=1, slave=SUNSPEC_UNIT)
    assert reply.exception_code == 2  # SunSpec is holding registers only
    reply = await client.write_register(BASE, 1, slave=SUNSPEC_UNIT)  # the "SunS" marker
    assert reply.exception_code == 2


async def test_sunspec_ticks_with_the_site_and_freezes(
    sim: Simulator, client: AsyncModbusTcpClient
) -> None:
    before = await _image(client)
    sim.site.step(6 * 3600)  # noon: PV
    after = await _image(client)
    assert len(after) == len(before) > 100
    assert after != before
    sim.faults.freeze(SUNSPEC_UNIT)
    sim.site.step(600)
    assert await _image(client) == after
    sim.faults.unfreeze(SUNSPEC_UNIT)
    sim.site.step(600)
    assert await _image(client) != after
