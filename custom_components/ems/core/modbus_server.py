"""A Modbus TCP server on pymodbus: exception replies from the datastore, allowed clients.

pymodbus's server answers a failing datastore with "device failure"; the devices ems serves
(the simulator's units, the site's SunSpec map for a SCADA) must answer the exact exception
a real device gives ("illegal address" for a read-only register, "illegal value" for a value
out of range). A datastore raises :class:`ExceptionReply` and :class:`RegisterServer` answers
with its code. Each request runs in its own task (a slow reply never blocks the others) that
``stop`` cancels; connections from addresses outside ``allowed`` are closed at once. Runs in
the caller's event loop (Home Assistant's, the simulator's). No Home Assistant import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Coroutine
import ipaddress
import logging
from typing import Any

from pymodbus.datastore import ModbusServerContext
from pymodbus.device import ModbusDeviceIdentification
from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler

_LOGGER = logging.getLogger(__name__)

ILLEGAL_FUNCTION = ExceptionResponse.ILLEGAL_FUNCTION
ILLEGAL_ADDRESS = ExceptionResponse.ILLEGAL_ADDRESS
ILLEGAL_VALUE = ExceptionResponse.ILLEGAL_VALUE
DEVICE_FAILURE = ExceptionResponse.SLAVE_FAILURE
GATEWAY_TARGET_FAILED = ExceptionResponse.GATEWAY_NO_RESPONSE  # 0x0B: no such unit id


class ExceptionReply(Exception):
    """Raised by a datastore to make the server answer with a Modbus exception code."""

    def __init__(self, code: int, message: str = "") -> None:
        """Keep the Modbus exception code."""
        super().__init__(message or f"Modbus exception {code}")
        self.code = code


def parse_allowed(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Client addresses or networks, comma separated ("" → every client); ValueError names one."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError as err:
                raise ValueError(f"{item!r} is not an IP address or network") from err
    return networks


class _RequestHandler(ServerRequestHandler):
    """One client connection: decodes frames and answers each request in its own task."""

    server: RegisterServer

    def callback_connected(self) -> None:
        """Close connections from clients that are not allowed."""
        super().callback_connected()
        peer = self.transport.get_extra_info("peername") if self.transport else None
        if peer and not self.server.allows(peer[0]):
            _LOGGER.warning("Modbus server: connection from %s refused (not allowed)", peer[0])
            self.transport.close()

    def callback_data(self, data: bytes, addr: tuple | None = None) -> int:
        """Handle every complete frame in the buffer."""
        used = 0
        try:
            while used < len(data):
                size, pdu = self.framer.processIncomingFrame(data[used:])
                used += size
                if pdu is None:
                    break
                self.server.spawn(self._answer(pdu, addr))
        except ModbusIOException:
            # an unsupported function code: answer "illegal function" and drop the buffer
            frame = data[used:]
            if len(frame) >= 8:
                reply = ExceptionResponse(frame[7], ILLEGAL_FUNCTION)
                reply.transaction_id = int.from_bytes(frame[0:2], "big")
                reply.dev_id = frame[6]
                self.server_send(reply, addr)
            return len(data)
        return used

    async def _answer(self, pdu: ModbusPDU, addr: tuple | None) -> None:
        """Run the request against the unit's datastore and send the reply."""
        if (delay := self.server.delay_for(pdu)) > 0:
            await asyncio.sleep(delay)
        response = await self._execute(pdu)
        if not self.transport:  # dropped while we were waiting
            return
        response.transaction_id = pdu.transaction_id
        response.dev_id = pdu.dev_id
        self.server_send(response, addr)

    async def _execute(self, pdu: ModbusPDU) -> ModbusPDU:
        """The reply to one request."""
        if (code := self.server.refusal(pdu)) is not None:
            return ExceptionResponse(pdu.function_code, code)
        context = self.server.context
        if pdu.dev_id not in context:
            return ExceptionResponse(pdu.function_code, GATEWAY_TARGET_FAILED)
        try:
            return await pdu.update_datastore(context[pdu.dev_id])
        except ExceptionReply as err:
            _LOGGER.debug("unit %s: %s", pdu.dev_id, err)
            return ExceptionResponse(pdu.function_code, err.code)
        except Exception:
            _LOGGER.exception("unit %s: request %s failed", pdu.dev_id, pdu)
            return ExceptionResponse(pdu.function_code, DEVICE_FAILURE)


class RegisterServer(ModbusTcpServer):
    """pymodbus's TCP server with exact exception replies, tracked tasks, allowed clients."""

    def __init__(
        self,
        context: ModbusServerContext,
        host: str,
        port: int,
        *,
        allowed: Collection[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
        identity: ModbusDeviceIdentification | None = None,
    ) -> None:
        """Serve ``context`` on host:port (port 0: any free port, see ``port`` after start)."""
        super().__init__(context, address=(host, port), identity=identity)
        self.host = host
        self.port = port
        self.allowed = list(allowed)
        self._tasks: set[asyncio.Task[None]] = set()

    def allows(self, host: str) -> bool:
        """Tell whether a client address may connect (no list: every client)."""
        if not self.allowed:
            return True
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.allowed)

    def refusal(self, pdu: ModbusPDU) -> int | None:
        """An exception code to answer before the datastore runs (subclasses: faults)."""
        del pdu
        return None

    def delay_for(self, pdu: ModbusPDU) -> float:
        """Seconds to wait before answering (subclasses: faults)."""
        del pdu
        return 0.0

    def callback_new_connection(self) -> _RequestHandler:
        """Create the handler of a new client connection."""
        return _RequestHandler(self)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a reply in a task that shutdown can cancel."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start_listening(self) -> None:
        """Open the listening socket (on the port found at the first start)."""
        if not await self.listen():
            raise OSError(f"cannot listen on {self.host}:{self.port}")
        self.port = self.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        # pin the port so that a later re-listen reuses it
        self.init_setup_connect_listen(self.host, self.port)

    def stop_listening(self) -> None:
        """Close the listening socket only; open connections stay up."""
        if self.transport:
            self.transport.close()
            self.transport = None  # type: ignore[assignment]

    def drop_connections(self) -> int:
        """Abort every client connection."""
        connections = list(self.active_connections.values())
        for conn in connections:
            transport = conn.transport
            conn.close()
            if transport is not None:
                transport.abort()  # type: ignore[attr-defined]
        return len(connections)

    async def stop(self) -> None:
        """Close the listener and every connection, and cancel pending replies."""
        self.drop_connections()
        await self.shutdown()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)  # let the transports run their connection_lost callbacks
