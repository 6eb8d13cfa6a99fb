"""A Modbus device: one transport, one unit id, one profile; planned reads and checked writes.

No Home Assistant import: the config flow, the coordinators and the benchmark command share it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import logging
from typing import Any

from .profile import Block, Profile, check_write, decode_all, encode, plan_reads
from .transport import DeviceError, ModbusTransport

_LOGGER = logging.getLogger(__name__)


class ModbusDevice:
    """Reads and writes one device through a shared transport."""

    def __init__(self, transport: ModbusTransport, unit: int, profile: Profile) -> None:
        """Bind a profile to a unit id on a transport."""
        self.transport = transport
        self.unit = unit
        self.profile = profile
        self.bad_keys: set[str] = set()  # points whose registers the device refuses
        self._plans: dict[frozenset[str], list[Block]] = {}

    def reads_for(self, keys: Iterable[str]) -> list[Block]:
        """The block reads that serve these keys (cached per key set)."""
        wanted = frozenset(k for k in keys if k in self.profile) - self.bad_keys
        if (plan := self._plans.get(wanted)) is None:
            plan = self._plans[wanted] = plan_reads(self.profile, wanted)
        return plan

    async def read(self, keys: Iterable[str]) -> dict[str, Any]:
        """Read and decode these points; refused ones are narrowed down and come back None."""
        wanted = set(keys)
        pairs: list[tuple[Block, Sequence[int | bool]]] = []
        for block in self.reads_for(wanted):
            try:
                words = await self.transport.read(
                    self.unit, block.table, block.address, block.count
                )
            except DeviceError:
                pairs.extend(await self._narrow(block))
            else:
                pairs.append((block, words))
        values = decode_all(self.profile, pairs)
        for key in wanted & self.bad_keys:
            values[key] = None
        return values

    async def _narrow(self, block: Block) -> list[tuple[Block, Sequence[int | bool]]]:
        """Bisect a refused block until the refused points are isolated."""
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
            sub = Block(block.table, start, end - start + 1, part)
            try:
                words = await self.transport.read(self.unit, sub.table, sub.address, sub.count)
            except DeviceError:
                pairs.extend(await self._narrow(sub))
            else:
                pairs.append((sub, words))
        return pairs

    async def read_serial(self) -> str | None:
        """Read the device's serial number, when its profile has one."""
        if (key := self.profile.serial_key) is None:
            return None
        value = (await self.read({key})).get(key)
        return str(value) if value else None

    async def write(self, key: str, value: Any) -> None:
        """Range-check a value against the profile and write it."""
        point = self.profile[key]
        check_write(point, value)
        await self.transport.write(self.unit, point.table, point.address, encode(point, value))
