"""Register storage of the simulated units, built from the register profiles.

A :class:`Unit` owns one sequential block per Modbus table, sized from the profile's points
(addresses outside every block answer "illegal address"). Device models write values by point
key through ``encode``; client writes are checked against the profile (writable, min/max) and
read back through ``decode``. :class:`UnitContext` adapts a unit (or any set of blocks, such as
the SunSpec device's) to pymodbus's slave-context interface.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import dataclasses
import logging
from typing import Any, Protocol

from pymodbus.datastore import ModbusSequentialDataBlock
from pymodbus.datastore.context import ModbusBaseSlaveContext

from ems_core.modbus_server import (
    ILLEGAL_ADDRESS,
    ILLEGAL_FUNCTION,
    ILLEGAL_VALUE,
    ExceptionReply,
)
from ems_core.profile import DataType, Point, Profile, Table, decode, encode

_LOGGER = logging.getLogger(__name__)


# Modbus function code → table it reads or writes.
FUNCTION_TABLE: dict[int, Table] = {
    1: Table.COIL,
    5: Table.COIL,
    15: Table.COIL,
    2: Table.DISCRETE,
    3: Table.HOLDING,
    6: Table.HOLDING,
    16: Table.HOLDING,
    22: Table.HOLDING,
    23: Table.HOLDING,
    4: Table.INPUT,
}
_BIT_TABLES = (Table.COIL, Table.DISCRETE)


class DataBlock(Protocol):
    """What :class:`UnitContext` needs from a block (pymodbus's data-block interface)."""

    def validate(self, address: int, count: int = 1) -> bool:
        """Tell whether the whole range exists."""

    def getValues(self, address: int, count: int = 1) -> Sequence[int | bool]:
        """Return count values from address."""

    def setValues(self, address: int, values: Sequence[int | bool]) -> None:
        """Store values from address."""


class UnitContext(ModbusBaseSlaveContext):
    """A pymodbus slave context over one block per table, addressed exactly (no +1 shift)."""

    def __init__(self, blocks: dict[Table, DataBlock]) -> None:
        self.blocks = blocks

    def reset(self) -> None:
        """Do nothing: the simulated state is owned by the models."""

    def _block(self, fc_as_hex: int) -> DataBlock | None:
        table = FUNCTION_TABLE.get(fc_as_hex)
        return None if table is None else self.blocks.get(table)

    def validate(self, fc_as_hex: int, address: int, count: int = 1) -> bool:
        """Tell whether the request stays inside the table's registers."""
        block = self._block(fc_as_hex)
        return block is not None and block.validate(address, count)

    def getValues(self, fc_as_hex: int, address: int, count: int = 1) -> Sequence[int | bool]:
        """Return registers (or bits)."""
        block = self._block(fc_as_hex)
        if block is None:
            raise ExceptionReply(ILLEGAL_FUNCTION)
        return block.getValues(address, count)

    def setValues(self, fc_as_hex: int, address: int, values: Sequence[int | bool]) -> None:
        """Store a client write."""
        block = self._block(fc_as_hex)
        if block is None:
            raise ExceptionReply(ILLEGAL_FUNCTION)
        block.setValues(address, list(values))


class _TableBlock(ModbusSequentialDataBlock):
    """One table of a unit: a sequential block whose client writes the unit checks."""

    def __init__(self, unit: Unit, table: Table, address: int, count: int) -> None:
        super().__init__(address, [False if table in _BIT_TABLES else 0] * count)
        self.unit = unit
        self.table = table

    def setValues(self, address: int, values: Any) -> None:
        """Apply a client write (checked against the profile)."""
        self.unit.client_write(self.table, address, list(values))

    def store(self, address: int, values: Sequence[int | bool]) -> None:
        """Store values without any check (device side)."""
        super().setValues(address, list(values))


def _raw_point(point: Point) -> Point:
    """The whole register of a bit point, as a plain unsigned integer."""
    return dataclasses.replace(point, bit=None, scale=1.0, offset=0.0, precision=None)


def _with_bit(point: Point, words: Sequence[int | bool], on: bool) -> list[int]:
    """The point's register words with its bit set or cleared."""
    raw = _raw_point(point)
    current = int(decode(raw, [int(w) for w in words]))
    mask = 1 << (point.bit or 0)
    return encode(raw, (current | mask) if on else (current & ~mask))


class Unit:
    """The registers of one simulated Modbus unit, laid out by a register profile.

    Two copies of every table are kept: the *model* copy that device models write, and the
    *visible* block that clients read. They are equal except while the unit is frozen or a
    point is overridden (fault injection).
    """

    def __init__(self, unit_id: int, profile: Profile) -> None:
        self.unit_id = unit_id
        self.profile = profile
        self.blocks: dict[Table, _TableBlock] = {}
        self._model: dict[Table, _TableBlock] = {}
        by_table: dict[Table, list[Point]] = {}
        for point in profile.points:
            by_table.setdefault(point.table, []).append(point)
        for table, points in by_table.items():
            first = min(p.span[0] for p in points)
            last = max(p.span[1] for p in points)
            self.blocks[table] = _TableBlock(self, table, first, last - first + 1)
            self._model[table] = _TableBlock(self, table, first, last - first + 1)
        self.context = UnitContext(dict(self.blocks))
        self.frozen = False
        self.overrides: dict[str, list[int] | bool] = {}
        self.on_write: Callable[[Unit, list[Point]], None] | None = None

    def __repr__(self) -> str:
        return f"Unit({self.unit_id}, {self.profile.id})"

    # --- device side ------------------------------------------------------------------------

    def point(self, key: str) -> Point:
        """Return the profile point with this key."""
        return self.profile[key]

    def set(self, key: str, value: Any) -> None:
        """Publish a device value (through ``encode``); clients see it unless frozen."""
        point = self.profile[key]
        model = self._model[point.table]
        if point.bit is not None:
            words = _with_bit(point, model.getValues(point.address, point.words), bool(value))
        else:
            words = encode(point, value)
        model.store(point.address, self._cast(point.table, words))
        if not self.frozen:
            self._show(point.table, point.address, point.words)

    def set_many(self, values: dict[str, Any]) -> None:
        """Publish several device values."""
        for key, value in values.items():
            self.set(key, value)

    def get(self, key: str) -> Any:
        """Decode the point's registers as a client reads them (or last wrote them)."""
        point = self.profile[key]
        return decode(point, self.words(point))

    def model_value(self, key: str) -> Any:
        """Decode the point's registers as the model last wrote them (ignoring faults)."""
        point = self.profile[key]
        return decode(point, list(self._model[point.table].getValues(point.address, point.words)))

    def words(self, point: Point) -> list[int | bool]:
        """Return the raw registers (or bit) a client reads for a point."""
        return list(self.blocks[point.table].getValues(point.address, point.words))

    @staticmethod
    def _cast(table: Table, words: Sequence[int | bool]) -> list[int | bool]:
        if table in _BIT_TABLES:
            return [bool(w) for w in words]
        return [int(w) & 0xFFFF for w in words]

    def _show(self, table: Table, address: int, count: int) -> None:
        """Copy model registers to the visible block, then re-apply overlapping overrides."""
        model = self._model[table]
        self.blocks[table].store(address, model.getValues(address, count))
        last = address + count - 1
        for key, pinned in self.overrides.items():
            point = self.profile[key]
            if point.table != table or point.span[0] > last or point.span[1] < address:
                continue
            if point.bit is not None and point.table not in _BIT_TABLES:
                words = _with_bit(point, self.words(point), bool(pinned))
            else:
                words = list(pinned) if isinstance(pinned, list) else [bool(pinned)]
            self.blocks[table].store(point.address, self._cast(table, words))

    # --- faults -----------------------------------------------------------------------------

    def override(self, key: str, value: Any = None, *, words: Sequence[int] | None = None) -> None:
        """Pin a point to a value (through ``encode``) or to raw words, whatever the model says."""
        point = self.profile[key]
        if words is not None:
            if len(words) != point.words:
                raise ValueError(f"{key} takes {point.words} words, not {len(words)}")
            pinned: list[int] | bool = [int(w) & 0xFFFF for w in words]
        elif point.bit is not None or point.table in _BIT_TABLES:
            pinned = bool(value)
        else:
            pinned = encode(point, value)
        self.overrides[key] = pinned
        self._show(point.table, point.address, point.words)

    def clear_override(self, key: str | None = None) -> None:
        """Release one override (or all) and show the model's value again."""
        for k in list(self.overrides) if key is None else [key]:
            if self.overrides.pop(k, None) is not None and not self.frozen:
                point = self.profile[k]
                self._show(point.table, point.address, point.words)

    def freeze(self) -> None:
        """Stop publishing device values: clients keep reading the same registers."""
        self.frozen = True

    def unfreeze(self) -> None:
        """Publish the model's current values again."""
        self.frozen = False
        for table, model in self._model.items():
            self._show(table, model.address, len(model.values))

    # --- client side ------------------------------------------------------------------------

    def points_at(self, table: Table, first: int, last: int) -> list[Point]:
        """Points of a table that overlap an address range."""
        return [
            p
            for p in self.profile.points
            if p.table == table and p.span[0] <= last and p.span[1] >= first
        ]

    def client_write(self, table: Table, address: int, values: list[int | bool]) -> None:
        """Check and store a client write; raise ExceptionReply when the device would refuse it."""
        last = address + len(values) - 1
        touched = self.points_at(table, address, last)
        covered = {a for p in touched for a in range(p.span[0], p.span[1] + 1)}
        if any(a not in covered for a in range(address, last + 1)):
            raise ExceptionReply(ILLEGAL_ADDRESS, "write to an unmapped register")
        if any(not p.writable for p in touched):
            raise ExceptionReply(ILLEGAL_ADDRESS, "write to a read-only register")
        # Check every fully written value before changing anything.
        for p in touched:
            if p.span[0] < address or p.span[1] > last or p.type is DataType.STRING:
                continue
            chunk = values[p.span[0] - address : p.span[1] - address + 1]
            value = decode(p, chunk)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if number and not p.in_range(value):
                raise ExceptionReply(ILLEGAL_VALUE, f"{p.key}={value} out of range")
        stored = self._cast(table, values)
        self._model[table].store(address, stored)
        self._show(table, address, len(stored))
        _LOGGER.debug("unit %s: client wrote %s", self.unit_id, [p.key for p in touched])
        if self.on_write is not None:
            self.on_write(self, touched)

    def command(self, key: str, value: Any) -> None:
        """Write a writable point as a client would (tests and the CLI)."""
        point = self.profile[key]
        self.client_write(point.table, point.address, list(encode(point, value)))
