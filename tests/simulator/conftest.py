"""Fixtures: a simulator on a free loopback port (manual clock) and clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ems_core.transport import ModbusTransport, TcpParams
from simulator import Simulator, start_simulator


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncIterator[Simulator]:
    """A simulator with a manual clock on a free port."""
    async with start_simulator(host="127.0.0.1", port=0, auto_tick=False) as simulator:
        yield simulator


@pytest.fixture
async def transport(sim: Simulator) -> AsyncIterator[ModbusTransport]:
    """The project's Modbus transport, connected to the simulator."""
    link = ModbusTransport(TcpParams(host="127.0.0.1", port=sim.port), timeout=1.0)
    await link.connect()
    yield link
    link.close()
