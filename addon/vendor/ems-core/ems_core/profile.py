"""Declarative Modbus register profiles: schema, loading, read planning and value conversion.

This module is the one place where register words become engineering values and back. It has
no Home Assistant import so that the site simulator can load it by path and serve exactly the
registers the integration reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
import math
from pathlib import Path
import struct
from typing import Any

import voluptuous as vol
import yaml

from .capability import CapabilityError, parse_control

PROFILES_DIR = Path(__file__).parent / "profiles"

KINDS = ("battery", "pv", "meter", "relay_board")
# Keys every profile of a kind must define, so site totals and the controller find them.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "battery": ("soc", "power"),
    "pv": ("power",),
    "meter": ("power",),
    "relay_board": (),
}


class Table(StrEnum):
    """Modbus data table of a point."""

    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"


class DataType(StrEnum):
    """Register data type of a point."""

    U16 = "u16"
    I16 = "i16"
    U32 = "u32"
    I32 = "i32"
    U64 = "u64"
    FLOAT32 = "float32"
    STRING = "string"
    BOOL = "bool"


class Platform(StrEnum):
    """Entity platform a point is exposed as (``none``: read for others, not an entity)."""

    SENSOR = "sensor"
    BINARY_SENSOR = "binary_sensor"
    SWITCH = "switch"
    NUMBER = "number"
    NONE = "none"


_WORDS = {
    DataType.U16: 1,
    DataType.I16: 1,
    DataType.U32: 2,
    DataType.I32: 2,
    DataType.U64: 4,
    DataType.FLOAT32: 2,
    DataType.BOOL: 1,
}
_STRUCT = {
    DataType.U16: "H",
    DataType.I16: "h",
    DataType.U32: "I",
    DataType.I32: "i",
    DataType.U64: "Q",
    DataType.FLOAT32: "f",
}
# SunSpec "not implemented" markers; a plain profile may opt in with ``na``.
_NOT_IMPLEMENTED = {
    DataType.U16: 0xFFFF,
    DataType.I16: -0x8000,
    DataType.U32: 0xFFFFFFFF,
    DataType.I32: -0x80000000,
    DataType.U64: 0xFFFFFFFFFFFFFFFF,
}
_BIT_TABLES = (Table.COIL, Table.DISCRETE)
MAX_READ = {
    Table.HOLDING: 125,
    Table.INPUT: 125,
    Table.COIL: 2000,
    Table.DISCRETE: 2000,
}


class ProfileError(ValueError):
    """A register profile is invalid; the message names the profile and the field."""


class ConversionError(ValueError):
    """A value cannot be converted to or from its registers."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Point:
    """One value of a device: where it lives, how it is encoded, how it is shown."""

    key: str
    address: int
    table: Table = Table.HOLDING
    type: DataType = DataType.U16
    word_order: str = "big"
    count: int = 1  # words, for strings
    scale: float = 1.0
    offset: float = 0.0
    sf: str | None = None  # key of a SunSpec scale-factor point (value × 10**sf)
    bit: int | None = None  # a single bit of an integer register
    na: bool = False  # treat the type's "not implemented" marker as no value
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    platform: Platform = Platform.SENSOR
    block: str | None = None
    writable: bool = False
    min: float | None = None
    max: float | None = None
    step: float | None = None
    precision: int | None = None
    enabled_default: bool = True
    diagnostic: bool = False
    # A protection setting (trip curves, enter service, anti-islanding): never written by ems.
    protection: bool = False

    @property
    def words(self) -> int:
        """Number of 16-bit registers (or bits) the point occupies."""
        if self.table in _BIT_TABLES:
            return 1
        if self.type is DataType.STRING:
            return self.count
        return _WORDS[self.type]

    @property
    def span(self) -> tuple[int, int]:
        """First and last address used by the point."""
        return self.address, self.address + self.words - 1

    def in_range(self, value: float) -> bool:
        """Tell whether a value lies inside the point's min/max."""
        if self.min is not None and value < self.min:
            return False
        return not (self.max is not None and value > self.max)


@dataclass(frozen=True, kw_only=True, slots=True)
class Profile:
    """A device's register map."""

    id: str
    kind: str
    name: str
    manufacturer: str = "ems"
    model: str | None = None
    serial_key: str | None = None
    max_gap: int = 8
    max_block: int = 100
    points: tuple[Point, ...] = ()
    # Battery safety limits of this model for the limiter (cell voltages, temperatures, ramp).
    limits: dict[str, float] = field(default_factory=dict)
    # Where the register map comes from: document, version, firmware (vendor profiles).
    source: dict[str, str] = field(default_factory=dict)
    # How a battery is commanded (the capability table, see ``control.py``); None: read only.
    control: Any = None
    _index: dict[str, Point] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        """Index points by key."""
        self._index.update({p.key: p for p in self.points})

    def __getitem__(self, key: str) -> Point:
        """Return the point with this key."""
        return self._index[key]

    def __contains__(self, key: object) -> bool:
        """Tell whether the profile defines this key."""
        return key in self._index

    @property
    def writable_points(self) -> tuple[Point, ...]:
        """Points a controller may write."""
        return tuple(p for p in self.points if p.writable)


def _key(value: Any) -> str:
    value = vol.Match(r"^[a-z][a-z0-9_]*$", msg="must be lower_snake_case")(value)
    return str(value)


# Optional battery limits a profile may carry (see limiter.BatteryLimits for their meaning).
LIMIT_KEYS = ("cell_v_min", "cell_v_max", "t_charge_min_c", "t_max_c", "ramp_w_per_s")

POINT_SCHEMA = vol.Schema(
    {
        vol.Required("key"): _key,
        vol.Required("address"): vol.All(int, vol.Range(min=0, max=0xFFFF)),
        vol.Optional("table", default="holding"): vol.Coerce(Table),
        vol.Optional("type"): vol.Coerce(DataType),
        vol.Optional("word_order", default="big"): vol.In(("big", "little")),
        vol.Optional("count", default=1): vol.All(int, vol.Range(min=1, max=64)),
        vol.Optional("scale", default=1.0): vol.All(vol.Coerce(float), vol.NotIn([0.0])),
        vol.Optional("offset", default=0.0): vol.Coerce(float),
        vol.Optional("sf"): _key,
        vol.Optional("bit"): vol.All(int, vol.Range(min=0, max=31)),
        vol.Optional("na", default=False): bool,
        vol.Optional("unit"): vol.Any(None, str),
        vol.Optional("device_class"): vol.Any(None, str),
        vol.Optional("state_class"): vol.Any(
            None, vol.In(("measurement", "total", "total_increasing"))
        ),
        vol.Optional("platform", default="sensor"): vol.Coerce(Platform),
        vol.Optional("block"): str,
        vol.Optional("writable", default=False): bool,
        vol.Optional("min"): vol.Coerce(float),
        vol.Optional("max"): vol.Coerce(float),
        vol.Optional("step"): vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False)),
        vol.Optional("precision"): vol.All(int, vol.Range(min=0, max=6)),
        vol.Optional("enabled_default", default=True): bool,
        vol.Optional("diagnostic", default=False): bool,
        vol.Optional("protection", default=False): bool,
    }
)

# Where a vendor's register map comes from: a register map is a fact, so it names its source.
SOURCE_SCHEMA = vol.Schema(
    {
        vol.Required("document"): str,
        vol.Required("version"): str,
        vol.Required("firmware"): str,
        vol.Optional("url"): str,
        vol.Optional("notes"): str,
    }
)

PROFILE_SCHEMA = vol.Schema(
    {
        vol.Required("id"): _key,
        vol.Required("kind"): vol.In(KINDS),
        vol.Required("name"): str,
        vol.Optional("manufacturer", default="ems"): str,
        vol.Optional("model"): str,
        vol.Optional("serial_key"): _key,
        vol.Optional("max_gap", default=8): vol.All(int, vol.Range(min=0, max=100)),
        vol.Optional("max_block", default=100): vol.All(int, vol.Range(min=1, max=125)),
        vol.Required("points"): vol.All([POINT_SCHEMA], vol.Length(min=1)),
        vol.Optional("limits", default=dict): {
            vol.Optional(name): vol.Coerce(float) for name in LIMIT_KEYS
        },
        vol.Optional("source"): SOURCE_SCHEMA,
        vol.Optional("control"): dict,  # checked by control.parse_control, against the points
    }
)


def _build_point(raw: Mapping[str, Any]) -> Point:
    data = dict(raw)
    table = data["table"]
    if "type" not in data:
        data["type"] = DataType.BOOL if table in _BIT_TABLES else DataType.U16
    return Point(**data)


def _point_problem(p: Point, profile: Profile) -> str | None:
    """What is wrong with one point in its profile, or None."""
    bits = p.table in _BIT_TABLES
    unsigned = (DataType.U16, DataType.U32, DataType.U64, DataType.BOOL)
    read_only = p.table in (Table.INPUT, Table.DISCRETE)
    unbounded = p.min is None or p.max is None
    problems = (
        (bits and p.type is not DataType.BOOL, f"{p.table} points must have type bool"),
        (not bits and p.type is DataType.BOOL and p.bit is None, "a bool register needs 'bit'"),
        (p.bit is not None and p.type not in unsigned, "'bit' needs an unsigned register"),
        (p.writable and read_only, f"{p.table} registers are read-only"),
        (
            p.writable and p.platform is Platform.NUMBER and unbounded,
            "a writable number needs 'min' and 'max'",
        ),
        (not unbounded and p.min > p.max, "'min' is above 'max'"),  # type: ignore[operator]
        (p.sf is not None and p.sf not in profile, f"scale factor point '{p.sf}' is not defined"),
        (p.words > profile.max_block, "longer than max_block"),
        (p.writable and p.protection, "a protection setting cannot be writable"),
    )
    return next((message for broken, message in problems if broken), None)


def _check(profile: Profile) -> None:
    """Cross-field rules a schema alone cannot express."""
    seen: set[str] = set()
    for p in profile.points:
        if p.key in seen:
            raise ProfileError(f"point '{p.key}': duplicate key")
        seen.add(p.key)
        if (problem := _point_problem(p, profile)) is not None:
            raise ProfileError(f"point '{p.key}': {problem}")
    if profile.serial_key is not None and profile.serial_key not in profile:
        raise ProfileError(f"serial_key '{profile.serial_key}' is not a point")
    if profile.limits and profile.kind != "battery":
        raise ProfileError("'limits' are only for battery profiles")
    if profile.manufacturer != "ems" and not profile.source:
        raise ProfileError("a vendor profile must name its 'source' (document, version, firmware)")
    for key in REQUIRED_KEYS[profile.kind]:
        if key not in profile:
            raise ProfileError(f"a {profile.kind} profile must define point '{key}'")


def parse_profile(raw: Any, source: str = "profile") -> Profile:
    """Validate raw data (e.g. parsed YAML) and return a Profile."""
    try:
        data = PROFILE_SCHEMA(raw)
    except vol.Invalid as err:
        path = ".".join(str(p) for p in err.path) or "(root)"
        raise ProfileError(f"{source}: {path}: {err.msg}") from err
    profile = Profile(
        id=data["id"],
        kind=data["kind"],
        name=data["name"],
        manufacturer=data["manufacturer"],
        model=data.get("model"),
        serial_key=data.get("serial_key"),
        max_gap=data["max_gap"],
        max_block=data["max_block"],
        points=tuple(_build_point(p) for p in data["points"]),
        limits=dict(data["limits"]),
        source=dict(data.get("source", {})),
    )
    try:
        _check(profile)
        control = parse_control(data.get("control"), profile)
    except (ProfileError, CapabilityError) as err:
        raise ProfileError(f"{source}: {err}") from None
    return dataclasses.replace(profile, control=control) if control is not None else profile


def load_profile_file(path: Path) -> Profile:
    """Load and validate one profile file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ProfileError(f"{path.name}: cannot be read: {err}") from err
    return parse_profile(raw, path.name)


def builtin_profiles() -> dict[str, Profile]:
    """Return the profiles shipped with ems, by id (blocking: reads files)."""
    profiles = [load_profile_file(p) for p in sorted(PROFILES_DIR.glob("*.yaml"))]
    return {p.id: p for p in profiles}


def load_profiles(
    directory: Path, known: Iterable[str]
) -> tuple[dict[str, Profile], dict[str, str]]:
    """Load a user's profiles from a folder (blocking); an id may not shadow another.

    Returns the valid profiles by id, and for each file that does not load, why (by file name):
    one broken file does not take the others with it.
    """
    taken = set(known)
    found: dict[str, Profile] = {}
    broken: dict[str, str] = {}
    files = [*directory.glob("*.yaml"), *directory.glob("*.yml")] if directory.is_dir() else []
    for path in sorted(files):
        try:
            profile = load_profile_file(path)
            if profile.id in taken or profile.id in found:
                raise ProfileError(f"{path.name}: id '{profile.id}' is already taken")
        except ProfileError as err:
            broken[path.name] = str(err)
            continue
        found[profile.id] = profile
    return found, broken


# --- read planning -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Block:
    """One Modbus read: a table, a start address, a length, and the points it serves."""

    table: Table
    address: int
    count: int
    points: tuple[Point, ...]


def plan_reads(profile: Profile, keys: Iterable[str] | None = None) -> list[Block]:
    """Group the wanted points (and the scale factors they need) into the fewest reads.

    Points of one table are merged while the gap between them stays within ``max_gap`` and the
    read within ``max_block``; points that name a ``block`` are only merged with points of the
    same block (devices that reject reads across some boundaries).
    """
    wanted = {p.key for p in profile.points} if keys is None else set(keys)
    for key in list(wanted):
        if (sf := profile[key].sf) is not None:
            wanted.add(sf)
    points = [p for p in profile.points if p.key in wanted]
    groups: dict[tuple[Table, str | None], list[Point]] = {}
    for p in points:
        groups.setdefault((p.table, p.block), []).append(p)
    blocks: list[Block] = []
    for (table, _), members in sorted(groups.items(), key=lambda i: (i[0][0], i[0][1] or "")):
        limit = min(profile.max_block, MAX_READ[table])
        members.sort(key=lambda p: p.span)
        current: list[Point] = []
        start = end = 0
        for p in members:
            first, last = p.span
            if current and first - end - 1 <= profile.max_gap and last - start + 1 <= limit:
                current.append(p)
                end = max(end, last)
                continue
            if current:
                blocks.append(Block(table, start, end - start + 1, tuple(current)))
            current, start, end = [p], first, last
        if current:
            blocks.append(Block(table, start, end - start + 1, tuple(current)))
    return blocks


# --- value conversion ----------------------------------------------------------------------


def _words_to_raw(point: Point, words: Sequence[int]) -> int | float | str:
    if point.type is DataType.STRING:
        data = b"".join(w.to_bytes(2, "big") for w in words)
        return data.split(b"\x00", 1)[0].decode("ascii", "replace").strip()
    if len(words) != point.words:
        raise ConversionError(f"{point.key}: expected {point.words} registers, got {len(words)}")
    ordered = list(words) if point.word_order == "big" else list(reversed(words))
    data = b"".join(int(w & 0xFFFF).to_bytes(2, "big") for w in ordered)
    fmt = _STRUCT[DataType.U16 if point.type is DataType.BOOL else point.type]
    return struct.unpack(">" + fmt, data)[0]


def _raw_to_words(point: Point, raw: int | float | str) -> list[int]:
    if point.type is DataType.STRING:
        data = str(raw).encode("ascii")[: point.count * 2].ljust(point.count * 2, b"\x00")
        return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    fmt = _STRUCT[DataType.U16 if point.type is DataType.BOOL else point.type]
    try:
        data = struct.pack(">" + fmt, raw)
    except struct.error as err:
        raise ConversionError(f"{point.key}: {raw!r} does not fit {point.type}") from err
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words if point.word_order == "big" else list(reversed(words))


def _decimals(scale: float) -> int:
    """Decimals a scale can produce (0.1 → 1, 0.001 → 3, 10 → 0)."""
    return max(0, -math.floor(math.log10(abs(scale)) + 1e-9))


def decode(point: Point, words: Sequence[int | bool], sf: int | None = None) -> Any:
    """Turn a point's registers (or bit) into its value; None when the device reports none."""
    if point.table in _BIT_TABLES:
        return bool(words[0])
    raw = _words_to_raw(point, [int(w) for w in words])
    if isinstance(raw, str):
        return raw
    if point.na and raw == _NOT_IMPLEMENTED.get(point.type):
        return None
    if point.bit is not None:
        return bool((int(raw) >> point.bit) & 1)
    if isinstance(raw, float) and not math.isfinite(raw):
        return None
    value = raw * point.scale + point.offset
    if sf is not None:
        value *= 10.0**sf
    if point.precision is not None:
        return round(value, point.precision)
    if point.type is DataType.FLOAT32:
        return value
    value = round(value, _decimals(point.scale) + max(0, -(sf or 0)))
    return int(value) if float(value).is_integer() else value


def encode(point: Point, value: Any, sf: int | None = None) -> list[int]:
    """Turn a value into the registers that represent it (bits: a one-item list of 0/1)."""
    if point.table in _BIT_TABLES or point.bit is not None:
        return [1 if value else 0]
    if point.type is DataType.STRING:
        return _raw_to_words(point, value)
    scaled = (float(value) - point.offset) / point.scale
    if sf is not None:
        scaled /= 10.0**sf
    raw: int | float = scaled if point.type is DataType.FLOAT32 else round(scaled)
    return _raw_to_words(point, raw)


def decode_block(block: Block, words: Sequence[int | bool], scale: Mapping[str, int]) -> dict:
    """Decode every point of a block read; ``scale`` holds SunSpec scale factors by key."""
    values: dict[str, Any] = {}
    for p in block.points:
        first = p.address - block.address
        chunk = words[first : first + p.words]
        values[p.key] = decode(p, chunk, scale.get(p.sf) if p.sf else None)
    return values


def decode_all(profile: Profile, blocks: Iterable[tuple[Block, Sequence[int | bool]]]) -> dict:
    """Decode several block reads, scale factors first, and flag out-of-range values as None.

    Returns ``{key: value}``; a value outside the point's min/max becomes None.
    """
    pairs = list(blocks)
    scale: dict[str, int] = {}
    sf_keys = {p.sf for p in profile.points if p.sf}
    for block, words in pairs:
        for p in block.points:
            if p.key in sf_keys:
                first = p.address - block.address
                sf_value = decode(p, words[first : first + p.words])
                if isinstance(sf_value, int) and -10 <= sf_value <= 10:
                    scale[p.key] = sf_value
    values: dict[str, Any] = {}
    for block, words in pairs:
        for key, decoded in decode_block(block, words, scale).items():
            point = profile[key]
            missing_sf = point.sf is not None and point.sf not in scale
            numeric = isinstance(decoded, int | float) and not isinstance(decoded, bool)
            values[key] = (
                None if missing_sf or (numeric and not point.in_range(decoded)) else decoded
            )
    return values


def check_write(point: Point, value: Any) -> Any:
    """Validate a value before it is written; raise ConversionError naming the limit."""
    if not point.writable:
        raise ConversionError(f"{point.key} is not writable")
    if point.table is Table.COIL or point.bit is not None:
        if not isinstance(value, bool):
            raise ConversionError(f"{point.key} takes on/off, not {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConversionError(f"{point.key} takes a number, not {value!r}")
    if not point.in_range(value):
        limits = f"[{point.min}, {point.max}] {point.unit or ''}".rstrip()
        raise ConversionError(f"{point.key}: {value} is outside {limits}")
    encode(point, value)  # raises when the value does not fit the register
    return value
