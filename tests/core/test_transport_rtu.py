"""Modbus RTU over a real serial line: two pseudo-terminals joined back to back.

The simulator's register store is served by pymodbus's serial server on one end; the
integration's transport reads and writes through the other, with RTU framing and CRCs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import os
import select
import threading
import tty

from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer
import pytest

from ems_core.device import ModbusDevice
from ems_core.profile import builtin_profiles
from ems_core.transport import ModbusTransport, SerialParams, TransportError
from simulator import Site


class NullModem:
    """Two pseudo-terminals whose masters are wired together by a thread."""

    def __init__(self) -> None:
        self._a_master, a_slave = os.openpty()
        self._b_master, b_slave = os.openpty()
        for fd in (a_slave, self._b_master, self._a_master, b_slave):
            tty.setraw(fd)
        self.a, self.b = os.ttyname(a_slave), os.ttyname(b_slave)
        self._slaves = (a_slave, b_slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        peers = {self._a_master: self._b_master, self._b_master: self._a_master}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(peers), [], [], 0.05)
            for fd in ready:
                try:
                    os.write(peers[fd], os.read(fd, 4096))
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._a_master, self._b_master, *self._slaves):
            os.close(fd)


@pytest.fixture
async def rtu_site() -> AsyncIterator[tuple[Site, str]]:
    """The simulated site served over RTU at 19200 baud; yields the client's port."""
    modem = NullModem()
    site = Site(sunspec=False)
    server = ModbusSerialServer(
        site.server_context(), framer=FramerType.RTU, port=modem.a, baudrate=19200
    )
    task = asyncio.create_task(server.serve_forever())
    await asyncio.sleep(0.2)
    try:
        yield site, modem.b
    finally:
        await server.shutdown()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        modem.close()


async def test_rtu_read_and_write(rtu_site: tuple[Site, str]) -> None:
    site, port = rtu_site
    transport = ModbusTransport(SerialParams(port=port, baudrate=19200), timeout=2)
    try:
        bess = ModbusDevice(transport, 1, builtin_profiles()["generic_bess"])
        values = await bess.read({"soc", "power", "temperature", "alarm_fault"})
        assert values["soc"] == pytest.approx(site.battery.soc, abs=0.1)
        assert values["alarm_fault"] is False
        assert await bess.read_serial() == "SIMBESS0001"

        await bess.write("setpoint", -1500)
        site.step(60)
        values = await bess.read({"setpoint", "power"})
        assert values["setpoint"] == -1500
        assert values["power"] == pytest.approx(-1500, abs=1)

        relays = ModbusDevice(transport, 4, builtin_profiles()["relay_board_4ch"])
        await relays.write("relay_3", True)
        assert (await relays.read({"relay_3"}))["relay_3"] is True
        # One request per planned block, the same as over TCP.
        before = transport.requests
        await bess.read({"soc", "power", "cell_voltage_min", "setpoint"})
        assert transport.requests - before == 2
    finally:
        transport.close()


async def test_rtu_missing_port() -> None:
    transport = ModbusTransport(SerialParams(port="/dev/ems-no-such-tty"))
    with pytest.raises(TransportError):
        await transport.connect()
