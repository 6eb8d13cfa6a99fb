"""A SunSpec register image: models laid out from the model file, points encoded and decoded.

The one codec of the devices ems serves: the simulator's SunSpec device and the site's Modbus
server (SCADA) both keep their registers here. The image starts with "SunS" at ``base``, then
each model's ID/L header and its L words, then the end marker. Points are read and written by
(model id, SunSpec name) through :mod:`.profile`'s ``encode``/``decode`` with the scale factor
published in the same model; points nobody set hold the SunSpec not-implemented markers.

Client writes are checked here against the model file: :meth:`SunSpecImage.decode_write`
tells which points a write covers and their new values without storing anything, so a server
can refuse the whole write (a partly covered point, a read-only register, a bad value)
before anything changes. No Home Assistant import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .profile import DataType, Point, decode, encode
from .sunspec import END_ID, MODELS, SUNS, TYPES, ModelRef

# Not-implemented words by SunSpec type (accumulators: 0; strings: all zero).
_NOT_IMPLEMENTED: dict[str, list[int]] = {
    "uint16": [0xFFFF],
    "int16": [0x8000],
    "uint32": [0xFFFF, 0xFFFF],
    "int32": [0x8000, 0x0000],
    "acc32": [0, 0],
    "uint64": [0xFFFF] * 4,
    "acc64": [0] * 4,
    "sunssf": [0x8000],
    "enum16": [0xFFFF],
    "bitfield16": [0xFFFF],
    "bitfield32": [0xFFFF, 0xFFFF],
    "pad": [0x8000],
}


class ImageError(ValueError):
    """A write the image cannot take: ``address`` is the first register at fault."""

    def __init__(self, address: int, message: str) -> None:
        """Keep the register at fault."""
        super().__init__(message)
        self.address = address


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one SunSpec point lives in the image and how it is encoded."""

    model: int
    name: str
    point: Point  # absolute address; na so that not-implemented markers decode as None
    sunspec_type: str
    sf: str | None
    access_rw: bool  # writable in the SunSpec definition

    @property
    def first(self) -> int:
        """Address of the point's first register."""
        return self.point.address

    @property
    def last(self) -> int:
        """Address of the point's last register."""
        return self.point.span[1]

    def not_implemented(self) -> list[int]:
        """The point's not-implemented words."""
        if self.sunspec_type == "string":
            return [0] * self.point.count
        return list(_NOT_IMPLEMENTED[self.sunspec_type])


def _slot(model_id: int, start: int, p: Mapping[str, Any]) -> Slot:
    dtype, has_marker = TYPES[p["type"]]
    point = Point(
        key=f"m{model_id}_{p['name'].lower()}",
        address=start + p["offset"],
        type=dtype,
        count=int(p.get("size", 1)),
        na=has_marker and dtype is not DataType.STRING,
    )
    return Slot(model_id, p["name"], point, p["type"], p.get("sf"), p.get("access") == "rw")


class SunSpecImage:
    """The registers of one SunSpec device, laid out from the model file.

    ``writable`` limits client writes to the given (model, point) pairs; by default every
    point the SunSpec definition marks read-write.
    """

    def __init__(
        self,
        model_ids: Sequence[int],
        base: int = 40000,
        *,
        writable: Iterable[tuple[int, str]] | None = None,
        definitions: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> None:
        """Lay out ``model_ids`` in order from ``base``; every point starts not implemented."""
        definitions = definitions if definitions is not None else MODELS["models"]
        self.base = base
        self.models: list[ModelRef] = []
        self.slots: dict[tuple[int, str], Slot] = {}
        self._by_address: dict[int, Slot] = {}
        words = list(SUNS)
        for model_id in model_ids:
            definition = definitions[model_id]
            address = base + len(words)
            length = int(definition["length"])
            body = [0x8000] * length  # a word the file leaves out: an int16 marker
            for p in definition["points"]:
                slot = _slot(model_id, address + 2, p)
                self.slots[(model_id, p["name"])] = slot
                body[p["offset"] : p["offset"] + slot.point.words] = slot.not_implemented()
                for a in range(slot.first, slot.last + 1):
                    self._by_address[a] = slot
            self.models.append(ModelRef(model_id, address, length))
            words += [model_id, length, *body]
        words += [END_ID, 0]
        self._image = words
        if writable is None:
            self.writable_points = {k for k, s in self.slots.items() if s.access_rw}
        else:
            self.writable_points = set(writable)
            if unknown := self.writable_points - self.slots.keys():
                raise KeyError(f"not in the image: {sorted(unknown)}")

    # --- registers ---------------------------------------------------------------------------

    @property
    def end(self) -> int:
        """First address after the image."""
        return self.base + len(self._image)

    def contains(self, address: int, count: int) -> bool:
        """Tell whether the whole range lies in the image."""
        return count >= 1 and self.base <= address and address + count <= self.end

    def read(self, address: int, count: int) -> list[int]:
        """Return ``count`` registers; raise IndexError outside the image."""
        if not self.contains(address, count):
            raise IndexError(f"registers {address}..{address + count - 1} are not mapped")
        first = address - self.base
        return list(self._image[first : first + count])

    def model(self, model_id: int) -> ModelRef:
        """The first model with this id (KeyError when the image has none)."""
        for ref in self.models:
            if ref.id == model_id:
                return ref
        raise KeyError(f"model {model_id} is not in the image")

    def writable(self, address: int, count: int) -> bool:
        """Tell whether every register of the range belongs to a writable point."""
        return count >= 1 and all(
            (slot := self._by_address.get(a)) is not None
            and (slot.model, slot.name) in self.writable_points
            for a in range(address, address + count)
        )

    def decode_write(self, address: int, words: Sequence[int]) -> dict[tuple[int, str], Any]:
        """The points a client write covers and the values it would give them; stores nothing.

        Raise :class:`ImageError` when a register is outside the image or not writable, a
        multi-register point is only partly covered, or a word is not 16 bits.
        """
        if not words:
            raise ImageError(address, "no registers to write")
        last = address + len(words) - 1
        values: dict[tuple[int, str], Any] = {}
        for a in range(address, last + 1):
            if not self.writable(a, 1):
                raise ImageError(a, f"register {a} is not writable")
            slot = self._by_address[a]
            if slot.first < address or slot.last > last:
                raise ImageError(a, f"{slot.model}.{slot.name} must be written whole")
            values[(slot.model, slot.name)] = None
        for w in words:
            if not isinstance(w, int) or not 0 <= w <= 0xFFFF:
                raise ImageError(address, f"{w!r} is not a 16-bit register value")
        for model_id, name in values:
            slot = self.slots[(model_id, name)]
            part = list(words[slot.first - address : slot.last - address + 1])
            values[(model_id, name)] = decode(slot.point, part, self._scale(slot))
        return values

    def store(self, address: int, words: Sequence[int]) -> None:
        """Store registers as they are (after :meth:`decode_write` accepted them)."""
        if not self.contains(address, len(words)):
            raise IndexError(f"registers {address}..{address + len(words) - 1} are not mapped")
        first = address - self.base
        self._image[first : first + len(words)] = [int(w) for w in words]

    # --- points ------------------------------------------------------------------------------

    def _scale(self, slot: Slot) -> int | None:
        """The exponent of a point's scale factor, as published in the image."""
        if slot.sf is None:
            return None
        value = self.get(slot.model, slot.sf)
        return value if isinstance(value, int) else None

    def set(self, model_id: int, name: str, value: Any) -> None:
        """Publish one point (None: the not-implemented marker)."""
        slot = self.slots[(model_id, name)]
        words = slot.not_implemented() if value is None else self.encode(slot, value)
        self.store(slot.first, words)

    def encode(self, slot: Slot, value: Any) -> list[int]:
        """The words of ``value`` for a point, with its published scale factor."""
        return encode(slot.point, value, self._scale(slot))

    def get(self, model_id: int, name: str) -> Any:
        """Decode one point as a client would (None when not implemented)."""
        slot = self.slots[(model_id, name)]
        first = slot.first - self.base
        return decode(slot.point, self._image[first : first + slot.point.words], self._scale(slot))
