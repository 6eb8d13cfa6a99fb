"""The one Modbus transport of ems: pymodbus's async client, TCP or RTU (serial).

Everything else talks to devices through :class:`ModbusTransport`; pymodbus names stay here
(``slave=`` became ``device_id=`` in pymodbus 3.10). No Home Assistant import, so the site
simulator's tests and the benchmark command can use it too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import inspect
import logging
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ExceptionResponse

from .profile import Table

_LOGGER = logging.getLogger(__name__)


class TransportError(Exception):
    """The device cannot be reached (refused, dropped, timed out)."""


class DeviceError(Exception):
    """The device answered with a Modbus exception (e.g. illegal address)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        """Keep the Modbus exception code."""
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, kw_only=True, slots=True)
class TcpParams:
    """Where a Modbus TCP device listens."""

    host: str
    port: int = 502

    @property
    def label(self) -> str:
        """Short human name of the link."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, kw_only=True, slots=True)
class SerialParams:
    """A Modbus RTU serial line."""

    port: str
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    bytesize: int = 8

    @property
    def label(self) -> str:
        """The serial port: one client per port, whatever the line settings."""
        return self.port


class ModbusTransport:
    """A connection to one Modbus link; several unit ids may share it."""

    def __init__(self, params: TcpParams | SerialParams, *, timeout: float = 3.0) -> None:
        """Create the client; nothing is opened until :meth:`connect`."""
        self.params = params
        self._lock = asyncio.Lock()
        self._closed = False
        self.requests = 0  # Modbus requests sent, for benchmarks and diagnostics
        common: dict[str, Any] = {"timeout": timeout, "retries": 0, "reconnect_delay": 0}
        if isinstance(params, TcpParams):
            self._client: Any = AsyncModbusTcpClient(params.host, port=params.port, **common)
        else:
            self._client = AsyncModbusSerialClient(
                params.port,
                baudrate=params.baudrate,
                parity=params.parity,
                stopbits=params.stopbits,
                bytesize=params.bytesize,
                **common,
            )

        # pymodbus 3.10 renamed the unit argument ``slave`` to ``device_id``.
        params = inspect.signature(self._client.read_holding_registers).parameters
        self._unit_kw = "device_id" if "device_id" in params else "slave"

    @property
    def connected(self) -> bool:
        """Tell whether the link is open."""
        return bool(self._client.connected)

    async def connect(self) -> None:
        """Open the link; raise TransportError when it cannot be opened."""
        if self._closed:
            raise TransportError(f"{self.params.label}: the link is closed")
        if self.connected:
            return
        try:
            ok = await self._client.connect()
        except (OSError, ModbusException) as err:
            raise TransportError(f"cannot connect to {self.params.label}: {err}") from err
        if not ok:
            raise TransportError(f"cannot connect to {self.params.label}")

    def close(self) -> None:
        """Close the link for good (a later call raises instead of reopening it)."""
        self._closed = True
        self._client.close()

    async def read(self, unit: int, table: Table, address: int, count: int) -> list[int | bool]:
        """Read ``count`` registers (or bits) of one table starting at ``address``."""
        method = {
            Table.HOLDING: self._client.read_holding_registers,
            Table.INPUT: self._client.read_input_registers,
            Table.COIL: self._client.read_coils,
            Table.DISCRETE: self._client.read_discrete_inputs,
        }[table]
        result = await self._call(method, address, unit, count=count)
        if table in (Table.COIL, Table.DISCRETE):
            return list(result.bits[:count])
        if len(result.registers) != count:
            raise DeviceError(f"short reply: {len(result.registers)} of {count} registers")
        return list(result.registers)

    async def write(self, unit: int, table: Table, address: int, values: list[int]) -> None:
        """Write registers (function 16) or coils (function 5/15)."""
        if table is Table.COIL:
            if len(values) == 1:
                await self._call(self._client.write_coil, address, unit, bool(values[0]))
            else:
                bits = [bool(v) for v in values]
                await self._call(self._client.write_coils, address, unit, bits)
        elif table is Table.HOLDING:
            await self._call(self._client.write_registers, address, unit, values)
        else:
            raise DeviceError(f"{table} registers cannot be written")

    async def _call(self, method: Any, address: int, unit: int, *args: Any, **kwargs: Any) -> Any:
        kwargs[self._unit_kw] = unit
        async with self._lock:
            await self.connect()
            self.requests += 1
            try:
                result = await method(address, *args, **kwargs)
            except ModbusException as err:
                # pymodbus reports time-outs and dropped links as ModbusIOException;
                # close so that the next call reconnects from scratch.
                self._client.close()
                raise TransportError(f"{self.params.label}: {err}") from err
            except (TimeoutError, OSError) as err:
                self._client.close()
                raise TransportError(f"{self.params.label}: {err}") from err
        if isinstance(result, ExceptionResponse) or result.isError():
            code = getattr(result, "exception_code", None)
            raise DeviceError(f"Modbus exception {code} at {address}", code)
        return result
