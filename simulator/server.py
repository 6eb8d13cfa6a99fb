"""The Modbus TCP server of the simulator, its clock and its fault injection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass
from datetime import datetime
import logging
from pathlib import Path
from typing import Any

from pymodbus.device import ModbusDeviceIdentification
from pymodbus.pdu import ModbusPDU

from ems_core.modbus_server import DEVICE_FAILURE, RegisterServer
from ems_core.profile import Table

from .datastore import FUNCTION_TABLE
from .models import Battery, PvInverter
from .site import SUNSPEC_UNIT, Site

_LOGGER = logging.getLogger(__name__)

DEFAULT_TICK_S = 0.5


def _ranges(pdu: ModbusPDU) -> list[tuple[int, int]]:
    """Address ranges (first, last) a request touches."""
    if hasattr(pdu, "read_address"):  # function 23: read/write multiple registers
        rw: Any = pdu
        return [
            (rw.read_address, rw.read_address + max(1, rw.read_count) - 1),
            (rw.write_address, rw.write_address + max(1, rw.write_count) - 1),
        ]
    count = max(1, pdu.count or len(pdu.bits) or len(pdu.registers))
    return [(pdu.address, pdu.address + count - 1)]


# Modbus write function codes: coil(s) 5, 15; register(s) 6, 16; mask write 22; read/write 23.
WRITE_FUNCTIONS = frozenset({5, 6, 15, 16, 22, 23})


@dataclass(frozen=True, slots=True)
class ExceptionFault:
    """Answer a Modbus exception for matching requests to one unit."""

    code: int
    table: Table | None = None
    first: int | None = None
    last: int | None = None
    writes_only: bool = False

    def matches(self, pdu: ModbusPDU) -> bool:
        """Tell whether a request falls under this fault."""
        if self.table is not None and FUNCTION_TABLE.get(pdu.function_code) != self.table:
            return False
        if self.writes_only and pdu.function_code not in WRITE_FUNCTIONS:
            return False
        if self.first is None:
            return True
        last = self.first if self.last is None else self.last
        return any(a <= last and b >= self.first for a, b in _ranges(pdu))


class Faults:
    """Fault injection: each fault has its undo; ``clear()`` undoes them all."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self.delays: dict[int, float] = {}
        self.exceptions: dict[int, list[ExceptionFault]] = {}
        self.refusing = False

    # --- connections ------------------------------------------------------------------------

    async def refuse_connections(self) -> None:
        """Close the listening socket: new connections are refused, open ones keep working."""
        if not self.refusing:
            self.refusing = True
            self._sim.server.stop_listening()

    async def accept_connections(self) -> None:
        """Listen again on the same port."""
        if self.refusing:
            await self._sim.server.start_listening()
            self.refusing = False

    def drop_connections(self) -> int:
        """Abort every open client connection (clients may reconnect); return how many."""
        return self._sim.server.drop_connections()

    # --- replies ----------------------------------------------------------------------------

    def delay(self, unit: int, seconds: float) -> None:
        """Delay every reply of a unit by ``seconds`` (real time)."""
        self.delays[unit] = seconds

    def clear_delay(self, unit: int | None = None) -> None:
        """Reply without delay again (one unit, or all)."""
        if unit is None:
            self.delays.clear()
        else:
            self.delays.pop(unit, None)

    def exception(
        self,
        unit: int,
        code: int = DEVICE_FAILURE,
        *,
        address: int | None = None,
        last: int | None = None,
        table: Table | str | None = None,
        writes_only: bool = False,
    ) -> None:
        """Answer exception ``code`` to a unit (optionally one table, addresses, writes only)."""
        fault = ExceptionFault(code, Table(table) if table else None, address, last, writes_only)
        self.exceptions.setdefault(unit, []).append(fault)

    def clear_exception(self, unit: int | None = None) -> None:
        """Answer normally again (one unit, or all)."""
        if unit is None:
            self.exceptions.clear()
        else:
            self.exceptions.pop(unit, None)

    def delay_for(self, unit: int) -> float:
        """Current reply delay of a unit (s)."""
        return self.delays.get(unit, 0.0)

    def exception_for(self, pdu: ModbusPDU) -> int | None:
        """The exception code to answer to this request, if a fault applies."""
        for fault in self.exceptions.get(pdu.dev_id, ()):
            if fault.matches(pdu):
                return fault.code
        return None

    # --- values -----------------------------------------------------------------------------

    def override(
        self, unit: int, key: str, value: Any = None, *, words: list[int] | None = None
    ) -> None:
        """Pin a point to a value (e.g. SOC 150 %) or to raw words, whatever the model does."""
        self._sim.site.units[unit].override(key, value, words=words)

    def clear_override(self, unit: int | None = None, key: str | None = None) -> None:
        """Release an override (one point, one unit's, or all)."""
        units = self._sim.site.units
        for uid in [unit] if unit is not None else list(units):
            units[uid].clear_override(key)

    def ignore_commands(self, on: bool = True) -> None:
        """The battery keeps doing what it does now, whatever it is told (writes still accepted)."""
        self._sim.site.battery.control.ignoring = on

    def freeze(self, unit: int) -> None:
        """Freeze a unit: its registers stop changing (writes are still accepted)."""
        site = self._sim.site
        if unit == SUNSPEC_UNIT and site.sunspec_block is not None:
            site.sunspec_block.frozen = True
        else:
            site.units[unit].freeze()

    def unfreeze(self, unit: int | None = None) -> None:
        """Let a unit (or all) publish live values again."""
        site = self._sim.site
        if unit in (None, SUNSPEC_UNIT) and site.sunspec_block is not None:
            site.sunspec_block.frozen = False
        for uid, u in site.units.items():
            if unit in (None, uid):
                u.unfreeze()

    def cut_grid(self) -> None:
        """Grid outage: mains_present false, charger unpowered, meter at 0 V, PV off."""
        self._sim.site.grid_available = False

    def restore_grid(self) -> None:
        """End the grid outage."""
        self._sim.site.grid_available = True

    def device_fault(self, unit: int, on: bool = True) -> None:
        """Raise (or clear) the internal fault of the BESS (unit 1) or the PV inverter (unit 2)."""
        site = self._sim.site
        models: dict[int, Battery | PvInverter] = {1: site.battery, 2: site.pv}
        if unit not in models:
            raise ValueError(f"unit {unit} has no internal fault")
        models[unit].fault = on
        site.refresh()

    # --- all --------------------------------------------------------------------------------

    @property
    def active(self) -> list[str]:
        """Human-readable list of the faults in force."""
        site = self._sim.site
        out: list[str] = []
        if self.refusing:
            out.append("refusing connections")
        out += [f"unit {u}: replies delayed {s} s" for u, s in self.delays.items()]
        for u, faults in self.exceptions.items():
            out += [f"unit {u}: exception {f.code} ({f.table or 'all'} {f.first})" for f in faults]
        for uid, unit in site.units.items():
            out += [f"unit {uid}: {key} overridden" for key in unit.overrides]
            if unit.frozen:
                out.append(f"unit {uid}: frozen")
        if site.sunspec_frozen:
            out.append(f"unit {SUNSPEC_UNIT}: frozen")
        if not site.grid_available:
            out.append("grid cut")
        if site.battery.fault:
            out.append("unit 1: device fault")
        if site.battery.control.ignoring:
            out.append("unit 1: ignores commands")
        if site.pv.fault:
            out.append("unit 2: device fault")
        return out

    async def clear(self) -> None:
        """Undo every fault."""
        await self.accept_connections()
        self.clear_delay()
        self.clear_exception()
        self.clear_override()
        self.unfreeze()
        site = self._sim.site
        site.battery.fault = site.pv.fault = False
        site.battery.control.ignoring = False
        site.grid_available = True


class SimServer(RegisterServer):
    """The core's Modbus server with the simulator's fault injection."""

    def __init__(self, site: Site, faults: Faults, host: str, port: int) -> None:
        identity = ModbusDeviceIdentification(
            info_name={"VendorName": "ems", "ProductName": "ems site simulator"}
        )
        super().__init__(site.server_context(), host, port, identity=identity)
        self.faults = faults

    def refusal(self, pdu: ModbusPDU) -> int | None:
        """An injected exception fault for this request."""
        return self.faults.exception_for(pdu)

    def delay_for(self, pdu: ModbusPDU) -> float:
        """An injected reply delay for this request's unit."""
        return self.faults.delay_for(pdu.dev_id)


class Simulator:
    """A running simulator: the site, its Modbus server, its clock and its faults."""

    def __init__(
        self,
        site: Site,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        auto_tick: bool = True,
        tick_s: float = DEFAULT_TICK_S,
    ) -> None:
        self.site = site
        self.host = host
        self.speed = speed
        self.auto_tick = auto_tick
        self.tick_s = tick_s
        self.faults = Faults(self)
        self._port = port
        self._server: SimServer | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def server(self) -> SimServer:
        """The Modbus server (once started)."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return self._server

    @property
    def port(self) -> int:
        """The TCP port the server listens on (the real one when started with port 0)."""
        return self._server.port if self._server is not None else self._port

    async def start(self) -> None:
        """Start listening and, with auto_tick, the clock."""
        self._server = SimServer(self.site, self.faults, self.host, self._port)
        try:
            await self._server.start_listening()
        except OSError:
            await self._server.stop()
            self._server = None
            raise
        if self.auto_tick:
            self._ticker = asyncio.get_running_loop().create_task(
                self._tick_loop(), name="ems simulator clock"
            )

    async def stop(self) -> None:
        """Stop the clock and the server; no task or socket is left behind."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.tick_s)
            now = loop.time()
            try:
                self.site.step((now - last) * self.speed)
            except Exception:
                _LOGGER.exception("simulation step failed")
            last = now


@contextlib.asynccontextmanager
async def start_simulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    speed: float = 1.0,
    auto_tick: bool = True,
    tick_s: float = DEFAULT_TICK_S,
    start: datetime | None = None,
    seed: int = 1,
    data_path: Path | None = None,
    sunspec: bool = True,
    battery_profile: str = "generic_bess",
) -> AsyncIterator[Simulator]:
    """Run the simulator for the duration of an ``async with`` block."""
    site = await asyncio.to_thread(
        Site.create,
        start=start,
        data_path=data_path,
        seed=seed,
        sunspec=sunspec,
        battery_profile=battery_profile,
    )
    sim = Simulator(site, host=host, port=port, speed=speed, auto_tick=auto_tick, tick_s=tick_s)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
