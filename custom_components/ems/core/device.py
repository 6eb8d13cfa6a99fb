"""A Modbus device: one transport, one unit id, one profile; planned reads and checked writes.

No Home Assistant import: the config flow, the coordinators and the benchmark command share it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
import logging
from typing import Any

from .capability import Capabilities, CapabilityError, Check, Command, Direction, Method
from .profile import Block, Point, Profile, check_write, decode_all, encode, plan_reads
from .transport import DeviceError, ModbusTransport

_LOGGER = logging.getLogger(__name__)

# Exception codes that mean "this register is not here": illegal function, address, value.
# Others (device failure, busy, gateway errors) are passing troubles of the whole device.
_REFUSED = (1, 2, 3)
_RETRY_REFUSED_EVERY = 360  # polls (an hour at 10 s): firmware updates can add registers


class ModbusDevice:
    """Reads and writes one device through a shared transport."""

    def __init__(self, transport: ModbusTransport, unit: int, profile: Profile) -> None:
        """Bind a profile to a unit id on a transport."""
        self.transport = transport
        self.unit = unit
        self.profile = profile
        self.bad_keys: set[str] = set()  # points whose registers the device refuses
        self._plans: dict[frozenset[str], list[Block]] = {}
        self._polls = 0
        self._scale_factors: dict[str, int] = {}
        self._direction: Direction | None = None  # of the last whole command; None: unknown

    def reads_for(self, keys: Iterable[str]) -> list[Block]:
        """The block reads that serve these keys (cached per key set)."""
        wanted = frozenset(k for k in keys if k in self.profile) - self.bad_keys
        if (plan := self._plans.get(wanted)) is None:
            plan = self._plans[wanted] = plan_reads(self.profile, wanted)
        return plan

    async def read(self, keys: Iterable[str]) -> dict[str, Any]:
        """Read and decode these points; refused ones are narrowed down and come back None."""
        wanted = {k for k in keys if k in self.profile}
        self._polls += 1
        if self._polls % _RETRY_REFUSED_EVERY == 0 and self.bad_keys:
            self.bad_keys.clear()
            self._plans.clear()
        pairs: list[tuple[Block, Sequence[int | bool]]] = []
        for block in self.reads_for(wanted):
            pairs.extend(await self._read_block(block))
        if wanted and wanted <= self.bad_keys:
            raise DeviceError("the device refuses every register asked for")
        values = decode_all(self.profile, pairs)
        for key in wanted & self.bad_keys:
            values[key] = None
        return values

    async def _read_block(self, block: Block) -> list[tuple[Block, Sequence[int | bool]]]:
        """Read one block; a refused one is bisected until the refused points are isolated."""
        try:
            words = await self.transport.read(self.unit, block.table, block.address, block.count)
        except DeviceError as err:
            if err.code not in _REFUSED:
                raise
            return await self._narrow(block)
        return [(block, words)]

    async def _narrow(self, block: Block) -> list[tuple[Block, Sequence[int | bool]]]:
        """Split a refused block in two and read each half."""
        if len(block.points) == 1:
            point = block.points[0]
            _LOGGER.warning(
                "%s unit %s refuses %s register %s (%s): no longer polled",
                self.transport.params.label,
                self.unit,
                block.table,
                block.address,
                point.key,
            )
            self.bad_keys.add(point.key)
            self._plans.clear()
            return []
        half = len(block.points) // 2
        pairs: list[tuple[Block, Sequence[int | bool]]] = []
        for part in (block.points[:half], block.points[half:]):
            start = min(p.address for p in part)
            end = max(p.address + p.words - 1 for p in part)
            pairs.extend(await self._read_block(Block(block.table, start, end - start + 1, part)))
        return pairs

    async def read_serial(self) -> str | None:
        """Read the device's serial number, when its profile has one."""
        if (key := self.profile.serial_key) is None:
            return None
        try:
            value = (await self.read({key})).get(key)
        except DeviceError:
            return None  # a device without a readable serial is identified by its address
        return str(value) if value else None

    async def write(self, key: str, value: Any) -> None:
        """Range-check a value against the profile and write it (scaled by its SunSpec SF)."""
        point = self.profile[key]
        check_write(point, value)
        sf = await self._scale_factor(point.sf) if point.sf else None
        await self.transport.write(self.unit, point.table, point.address, encode(point, value, sf))

    async def _scale_factor(self, key: str) -> int:
        """A SunSpec scale factor, read once (they are fixed by the device's firmware)."""
        if key not in self._scale_factors:
            value = (await self.read({key})).get(key)
            if not isinstance(value, int) or not -10 <= value <= 10:
                raise DeviceError(f"scale factor {key} cannot be read ({value!r})")
            self._scale_factors[key] = value
        return self._scale_factors[key]

    # --- commands (the profile's capability table) -------------------------------------------

    @property
    def control(self) -> Capabilities:
        """How this device is commanded; CapabilityError when its profile has no control."""
        if self.profile.control is None:
            raise CapabilityError(f"profile {self.profile.id} has no control")
        control: Capabilities = self.profile.control
        return control

    def plan_command(
        self, power_w: float, values: Mapping[str, Any] | None = None
    ) -> tuple[Direction, list[Command]]:
        """The writes of a battery command, each range-checked (nothing is written)."""
        direction, commands = self.control.commands(power_w, values)
        for command in commands:
            check_write(self.profile[command.key], command.value)
        return direction, commands

    async def command(self, power_w: float, values: Mapping[str, Any] | None = None) -> list[Check]:
        """Write a battery command through the capability table; return what must read back.

        Every value is range-checked before the first write: a command is never half-written
        because one of its values is out of range. A forced-mode device changing direction (or
        in a state ems does not know) is put on hold first, so that no moment between two
        writes has it run the old direction at the new power.
        """
        direction, commands = self.plan_command(power_w, values)
        control = self.control
        changing = self._direction is not direction and direction is not Direction.HOLD
        if control.method is Method.FORCED and changing:
            await self._send(self.plan_command(0.0, values)[1])
            self._direction = Direction.HOLD
        await self._send(commands)
        self._direction = direction
        return control.checks(direction, commands)

    async def release(self) -> list[Check]:
        """Hand the battery back to its own logic; return what must read back."""
        commands = self.control.release_commands()
        await self._send(commands)
        return self.control.checks(Direction.RELEASE, commands)

    async def _send(self, commands: Sequence[Command]) -> None:
        """Write commands in order (one multi-register write for a block).

        Until they are all written the device's state is unknown (a failure leaves it so).
        """
        self._direction = None
        if self.control.block:
            await self._write_block(commands)
            return
        for command in commands:
            await self.write(command.key, command.value)

    async def _write_block(self, commands: Sequence[Command]) -> None:
        """Write consecutive registers in one request (devices that take a block or nothing)."""
        ordered = sorted(commands, key=lambda c: self.profile[c.key].address)
        words: list[int] = []
        for command in ordered:
            point = self.profile[command.key]
            check_write(point, command.value)
            sf = await self._scale_factor(point.sf) if point.sf else None
            words.extend(encode(point, command.value, sf))
        first = self.profile[ordered[0].key]
        await self.transport.write(self.unit, first.table, first.address, words)

    async def confirm(self, checks: Sequence[Check]) -> str | None:
        """Read the checks' registers; None when each holds what it should, else what differs.

        A register the device does not let us read (refused) is not a confirmation.
        """
        if not checks:
            return None
        values = await self.read({c.key for c in checks})
        for check in checks:
            back = values.get(check.key)
            point = self.profile[check.key]
            if back is None:
                return f"{check.key} cannot be read back"
            sf = await self._scale_factor(point.sf) if point.sf else None
            if abs(float(back) - check.expected) > tolerance(point, sf):
                return f"wrote {check.written} = {check.expected:g}, {check.key} reads {back:g}"
        return None

    def describe(self, commands: Sequence[Command]) -> list[str]:
        """Commands as an installer reads them: register, key, value (dry run, diagnostics)."""
        lines = []
        for command in commands:
            point = self.profile[command.key]
            unit = f" {point.unit}" if point.unit else ""
            lines.append(f"{point.address} {command.key} = {command.value:g}{unit}")
        return lines


def tolerance(point: Point, sf: int | None = None) -> float:
    """How far a read-back may be from what was written: half a count of the register.

    A SunSpec point counts in units of 10**sf.
    """
    return 0.5 * abs(point.scale) * 10.0 ** (sf or 0) + 1e-9
