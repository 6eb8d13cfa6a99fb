"""SunSpec devices: find the SunSpec register map, walk its models, build a register profile.

A SunSpec device starts its map with "SunS" at a base address (40000, 0 or 50000), followed by
models, each a 2-word header (ID, length L) and L words, until the end marker 0xFFFF. The
points ems reads are described as data in ``sunspec_models.yaml``; :func:`build_profile`
turns the models a device has into an ordinary :class:`~.profile.Profile` (absolute
addresses, SunSpec scale factors, not-implemented markers), so polling and conversion go
through the same code as every other device. No Home Assistant import.

Sign conventions follow the generic profiles: battery power and current + charging (SunSpec
802 and inverter power are + discharging/output: scale -1), meter power + import (as SunSpec
meters: no change), PV power + production (as SunSpec inverters). The scales live in the
model file, next to the points they convert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import logging
from pathlib import Path
from typing import Any, NamedTuple

import voluptuous as vol
import yaml

from .profile import (
    REQUIRED_KEYS,
    DataType,
    Point,
    Profile,
    ProfileError,
    Table,
    decode,
    parse_profile,
)
from .transport import DeviceError, ModbusTransport

_LOGGER = logging.getLogger(__name__)

# Keys of a stored discovery result (the integration stores them as subentry data).
CONF_SUNSPEC_BASE = "sunspec_base"
CONF_SERIAL = "serial"

MODELS_FILE = Path(__file__).parent / "sunspec_models.yaml"
DEFAULT_BASES = (40000, 0, 50000)
SUNS = (0x5375, 0x6E53)  # "SunS"
END_ID = 0xFFFF
MAX_MODELS = 100  # a real device has a handful; more means a garbage chain
MAX_BLOCK = 125  # longest holding-register read Modbus allows
MAX_GAP = 100  # unused words a read may span (the profile schema's maximum)
COMMON_ID = 1
# Subentry data keys besides CONF_SUNSPEC_BASE and CONF_SERIAL: what discovery found, so the
# profile is rebuilt at setup without discovering again.
CONF_SUNSPEC_MODELS = "sunspec_models"  # [[id, address, length], ...]
CONF_SUNSPEC_MANUFACTURER = "sunspec_manufacturer"
CONF_SUNSPEC_MODEL = "sunspec_model"
CONF_SUNSPEC_VERSION = "sunspec_version"

# SunSpec type → (profile type, has a not-implemented marker). acc32 has none: 0 means unused.
TYPES: dict[str, tuple[DataType, bool]] = {
    "uint16": (DataType.U16, True),
    "int16": (DataType.I16, True),
    "uint32": (DataType.U32, True),
    "int32": (DataType.I32, True),
    "acc32": (DataType.U32, False),
    "uint64": (DataType.U64, True),
    "acc64": (DataType.U64, False),
    "sunssf": (DataType.I16, True),
    "enum16": (DataType.U16, True),
    "bitfield16": (DataType.U16, True),
    "bitfield32": (DataType.U32, True),
    "pad": (DataType.I16, True),
    "string": (DataType.STRING, False),
}
_PRESENTATION = (
    "unit",
    "device_class",
    "state_class",
    "platform",
    "min",
    "max",
    "precision",
    "diagnostic",
    "writable",
)

# Storage control through model 124 (Fronius GEN24 and other SunSpec hybrids): StorCtl_Mod = 3
# makes both rates apply; a rate below 0 forces the other direction (OutWRte = -P % forces a
# charge of P % of WChaMax). InOutWRte_RvrtTms makes the device drop the rates by itself when
# ems stops writing (Fronius defaults it to 3600 s): ems sets 300 s and writes every 60 s.
_REVERT_S = 300
STORAGE_CONTROL: dict[str, Any] = {
    "method": "forced",
    "charge": [
        {"key": "rate_revert_s", "value": _REVERT_S},
        {"key": "charge_rate_pct", "value": "percent"},
        {"key": "discharge_rate_pct", "value": "-percent"},
        {"key": "storage_control", "value": 3},
    ],
    "discharge": [
        {"key": "rate_revert_s", "value": _REVERT_S},
        {"key": "discharge_rate_pct", "value": "percent"},
        {"key": "charge_rate_pct", "value": "-percent"},
        {"key": "storage_control", "value": 3},
    ],
    "hold": [
        {"key": "rate_revert_s", "value": _REVERT_S},
        {"key": "charge_rate_pct", "value": 0},
        {"key": "discharge_rate_pct", "value": 0},
        {"key": "storage_control", "value": 3},
    ],
    "release": [{"key": "storage_control", "value": 0}],
    "rewrite_s": 60,
    "lapse_s": _REVERT_S,
    "percent_of": "max_charge_power",
    "reports": ["max_charge_power"],
}
# The DER active power setpoint of model 704 (IEEE 1547 devices): WSetMod = 1 (watts), WSet the
# power (+ charging once through the model file's scale -1), WSetRvrtTms the revert time.
DER_CONTROL: dict[str, Any] = {
    "method": "setpoint",
    "set": [
        {"key": "der_power_revert_s", "value": _REVERT_S},
        {"key": "der_power_setpoint", "value": "signed"},
        {"key": "der_power_mode", "value": 1},
        {"key": "der_power_enable", "value": 1},
    ],
    "release": [{"key": "der_power_enable", "value": 0}],
    "rewrite_s": 60,
    "lapse_s": _REVERT_S,
}
# A battery is commanded through 704 when the device has it, else through 124.
_CONTROLS = (
    (DER_CONTROL, {w["key"] for w in DER_CONTROL["set"]}),
    (STORAGE_CONTROL, {w["key"] for w in STORAGE_CONTROL["charge"]} | {"max_charge_power"}),
)


class SunSpecError(ValueError):
    """The device has no SunSpec map, a broken one, or no model for what was asked."""


class ModelRef(NamedTuple):
    """One model found on a device: its id, the address of its header, its length L."""

    id: int
    address: int
    length: int


@dataclass(kw_only=True, slots=True)
class SunSpecDevice:
    """What discovery found: where the map starts, its models, the common model's identity."""

    base: int
    models: list[ModelRef] = field(default_factory=list)
    manufacturer: str = ""
    model: str = ""
    options: str = ""
    version: str = ""
    serial: str = ""

    @property
    def model_ids(self) -> list[int]:
        """Model ids in map order."""
        return [m.id for m in self.models]

    def find(self, model_id: int) -> ModelRef | None:
        """Return the first model with this id, or None."""
        return next((m for m in self.models if m.id == model_id), None)


# --- the model file ------------------------------------------------------------------------

_KEY = vol.Any(None, vol.Match(r"^[a-z][a-z0-9_]*$"))
_POINT_SCHEMA = vol.Schema(
    {
        vol.Required("name"): str,
        vol.Required("offset"): vol.All(int, vol.Range(min=0)),
        vol.Required("type"): vol.In(TYPES),
        vol.Optional("size"): vol.All(int, vol.Range(min=1, max=64)),
        vol.Optional("sf"): str,
        vol.Optional("unit"): str,
        vol.Optional("access", default="r"): vol.In(("r", "rw")),
        vol.Required("key"): _KEY,
        vol.Optional("scale", default=1.0): vol.All(vol.Coerce(float), vol.NotIn([0.0])),
        vol.Optional("bits", default=dict): {vol.Match(r"^[a-z][a-z0-9_]*$"): vol.Range(0, 31)},
    }
)
_MODEL_SCHEMA = vol.Schema(
    {
        vol.Required("name"): str,
        vol.Required("length"): vol.All(int, vol.Range(min=0, max=0xFFFE)),
        # Repeating groups (curves, points) are listed flat; counts says how many of each.
        vol.Optional("counts"): {str: vol.All(int, vol.Range(min=1, max=100))},
        vol.Required("points"): [_POINT_SCHEMA],
    }
)
_SOURCE_SCHEMA = vol.Schema(
    {
        vol.Required("models"): vol.All([int], vol.Length(min=1)),
        vol.Optional("keys"): [str],
        vol.Optional("scale", default=1.0): vol.All(vol.Coerce(float), vol.NotIn([0.0])),
        vol.Optional("extra", default=False): bool,
    }
)
_FILE_SCHEMA = vol.Schema(
    {
        vol.Required("keys"): {str: dict},
        vol.Required("kinds"): {str: [_SOURCE_SCHEMA]},
        vol.Required("models"): {int: _MODEL_SCHEMA},
    }
)


def load_models(path: Path = MODELS_FILE) -> dict[str, Any]:
    """Read and check the SunSpec model file (blocking: reads a file)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        data: dict[str, Any] = _FILE_SCHEMA(raw)
    except vol.Invalid as err:
        where = ".".join(str(p) for p in err.path) or "(root)"
        raise SunSpecError(f"{path.name}: {where}: {err.msg}") from err
    for model_id, model in data["models"].items():
        names = {p["name"] for p in model["points"]}
        for p in model["points"]:
            words = p.get("size", 1) if p["type"] == "string" else _type_words(p["type"])
            if p["offset"] + words > model["length"]:
                raise SunSpecError(f"{path.name}: model {model_id} {p['name']}: past length")
            if p.get("sf") and p["sf"] not in names:
                raise SunSpecError(f"{path.name}: model {model_id} {p['name']}: unknown sf")
            for key in [p["key"], *p["bits"]]:
                if key is not None and key not in data["keys"]:
                    raise SunSpecError(f"{path.name}: model {model_id}: key {key} not in keys")
    return data


def _type_words(sunspec_type: str) -> int:
    """Words of a fixed-size SunSpec type."""
    return {DataType.U32: 2, DataType.I32: 2, DataType.U64: 4}.get(TYPES[sunspec_type][0], 1)


# Read once at import (the integration is imported in an executor, never in the event loop).
MODELS: dict[str, Any] = load_models()


# --- discovery -----------------------------------------------------------------------------


async def async_discover(
    transport: ModbusTransport, unit: int, bases: Sequence[int] = DEFAULT_BASES
) -> SunSpecDevice:
    """Find the SunSpec map of a unit and list its models.

    Raise SunSpecError when no base holds "SunS" or the model chain is broken; a
    TransportError (device unreachable) passes through.
    """
    base = await _find_base(transport, unit, bases)
    device = SunSpecDevice(base=base)
    address = base + 2
    for _ in range(MAX_MODELS):
        if address + 1 > 0xFFFF:
            raise SunSpecError(
                f"unit {unit}: SunSpec model chain from {base} runs past register 65535"
            )
        try:
            model_id, length = await transport.read(unit, Table.HOLDING, address, 2)
        except DeviceError:
            # Some devices omit the end marker and refuse reads past their last model.
            _LOGGER.debug("unit %s: SunSpec chain ends at %s without end marker", unit, address)
            break
        model_id, length = int(model_id), int(length)
        if model_id == END_ID:
            break
        if model_id == 0:  # not a model id: garbage, stop here
            _LOGGER.warning("unit %s: SunSpec model id 0 at %s, chain stopped", unit, address)
            break
        device.models.append(ModelRef(model_id, address, length))
        address += 2 + length
    else:
        raise SunSpecError(
            f"unit {unit}: no SunSpec end marker after {MAX_MODELS} models from {base}"
        )
    if (common := device.find(COMMON_ID)) is not None:
        await _read_common(transport, unit, common, device)
    _LOGGER.debug("unit %s: SunSpec at %s, models %s", unit, base, device.model_ids)
    return device


async def _find_base(transport: ModbusTransport, unit: int, bases: Sequence[int]) -> int:
    """Return the first base address holding "SunS"."""
    for base in bases:
        try:
            words = await transport.read(unit, Table.HOLDING, base, 2)
        except DeviceError:
            continue
        if tuple(int(w) for w in words) == SUNS:
            return base
    where = ", ".join(str(b) for b in bases)
    raise SunSpecError(f"unit {unit}: no SunSpec map ('SunS' not found at {where})")


async def _read_common(
    transport: ModbusTransport, unit: int, common: ModelRef, device: SunSpecDevice
) -> None:
    """Fill the device's identity from its common model (model 1)."""
    fields = {
        "Mn": "manufacturer",
        "Md": "model",
        "Opt": "options",
        "Vr": "version",
        "SN": "serial",
    }
    points = [
        (p, fields[p["name"]]) for p in MODELS["models"][COMMON_ID]["points"] if p["name"] in fields
    ]
    count = min(common.length, max(p["offset"] + p["size"] for p, _ in points))
    if count <= 0:
        return
    try:
        words = await transport.read(unit, Table.HOLDING, common.address + 2, count)
    except DeviceError as err:
        _LOGGER.warning("unit %s: SunSpec common model unreadable: %s", unit, err)
        return
    for p, attr in points:
        if p["offset"] + p["size"] > count:
            continue
        point = Point(key="s", address=0, type=DataType.STRING, count=p["size"])
        value = decode(point, words[p["offset"] : p["offset"] + p["size"]])
        setattr(device, attr, str(value))


# --- profile -------------------------------------------------------------------------------


def build_profile(device: SunSpecDevice, kind: str) -> Profile:
    """Build a validated register profile for one kind (battery, pv, meter) of a device.

    Points carry absolute addresses, ``sf`` scale-factor keys and ``na``, and the same ems keys
    and sign conventions as the generic profiles. Raise SunSpecError when the device has no
    model for this kind or lacks a key the kind requires.
    """
    sources = MODELS["kinds"].get(kind)
    if sources is None:
        raise SunSpecError(f"SunSpec devices serve {', '.join(MODELS['kinds'])}, not {kind!r}")
    primary = sorted({m for s in sources if not s["extra"] for m in s["models"]})
    if not any(device.find(m) for m in primary):
        raise SunSpecError(
            f"this SunSpec device (models {device.model_ids}) has no {kind} model"
            f" ({', '.join(str(m) for m in primary)})"
        )
    points: dict[str, dict[str, Any]] = {}
    for source in sources:
        ref = next((r for m in source["models"] if (r := device.find(m)) is not None), None)
        if ref is not None:
            _add_model(points, ref, source)
    missing = [k for k in REQUIRED_KEYS[kind] if k not in points]
    if missing:
        raise SunSpecError(
            f"this SunSpec device (models {device.model_ids}) gives no {kind}"
            f" {' or '.join(missing)}"
        )
    raw: dict[str, Any] = {
        "id": f"sunspec_{kind}",
        "kind": kind,
        "name": f"SunSpec {kind}",
        "manufacturer": device.manufacturer or "SunSpec",
        # A SunSpec map is contiguous and every word of a model is readable: read whole
        # stretches of it, up to the Modbus limit, rather than many small blocks.
        "max_gap": MAX_GAP,
        "max_block": MAX_BLOCK,
        "points": list(points.values()),
    }
    if device.model:
        raw["model"] = device.model
    if "serial" in points:
        raw["serial_key"] = "serial"
    if kind == "battery":
        control = next((c for c, keys in _CONTROLS if set(points) >= keys), None)
        if control is not None:
            raw["control"] = control
    raw["source"] = {
        "document": "SunSpec Information Model Specification (models discovered on the device)",
        "version": f"models {', '.join(str(m) for m in device.model_ids)}",
        "firmware": device.version or "not reported",
    }
    try:
        return parse_profile(raw, f"SunSpec {kind} profile")
    except ProfileError as err:  # a bug in the model file, not in the device
        raise SunSpecError(str(err)) from err


@dataclass
class _ModelPoints:
    """Points of one device model, added to a profile's points (first source wins a key)."""

    points: dict[str, dict[str, Any]]
    ref: ModelRef
    model: Mapping[str, Any]
    wanted: set[str] | None

    def fits(self, p: Mapping[str, Any]) -> bool:
        """Tell whether the device's (maybe older, shorter) model holds the point."""
        words = p.get("size", 1) if p["type"] == "string" else _type_words(p["type"])
        return p["offset"] + words <= self.ref.length

    def address(self, p: Mapping[str, Any]) -> int:
        """Register address of a model point."""
        return self.ref.address + 2 + p["offset"]

    def take(self, key: str | None) -> bool:
        """Whether this source provides ``key`` (not taken yet, and wanted)."""
        return (
            key is not None
            and key not in self.points
            and (self.wanted is None or key in self.wanted)
        )

    def sf_key(self, p: Mapping[str, Any]) -> str | None:
        """Add the point's scale factor (once) and return its key; None if the model lacks it."""
        if not (name := p.get("sf")):
            return None
        sf = next(q for q in self.model["points"] if q["name"] == name)
        if not self.fits(sf):
            return None
        key = f"m{self.ref.id}_{name.lower()}"
        self.points.setdefault(
            key,
            {
                "key": key,
                "address": self.address(sf),
                "type": "i16",
                "na": True,
                "platform": "none",
            },
        )
        return key

    def add_value(self, p: Mapping[str, Any], scale: float) -> None:
        """Add a value point (with its scale factor) if it is taken and readable."""
        key = p["key"]
        if not self.take(key):
            return
        sf = self.sf_key(p)
        if p.get("sf") and sf is None:
            return  # its scale factor is missing on this device: the value means nothing
        dtype, na = TYPES[p["type"]]
        entry: dict[str, Any] = {"key": key, "address": self.address(p), "type": dtype.value}
        if dtype is DataType.STRING:
            entry["count"] = p["size"]
        if na:
            entry["na"] = True
        if (total := p["scale"] * scale) != 1.0:
            entry["scale"] = total
        if sf is not None:
            entry["sf"] = sf
        presentation = _presentation(key)
        if p["access"] != "rw":  # only what the SunSpec model lets a client write
            presentation.pop("writable", None)
        self.points[key] = entry | presentation

    def add_bits(self, p: Mapping[str, Any]) -> None:
        """Add the bit points of a bitfield point."""
        dtype, _ = TYPES[p["type"]]
        for bit_key, bit in p["bits"].items():
            if self.take(bit_key):
                self.points[bit_key] = {
                    "key": bit_key,
                    "address": self.address(p),
                    "type": dtype.value,
                    "bit": bit,
                    **_presentation(bit_key),
                }


def _add_model(points: dict[str, dict[str, Any]], ref: ModelRef, source: Mapping) -> None:
    """Add the points of one model a source gives that are not taken yet."""
    model = MODELS["models"].get(ref.id)
    if model is None:
        return
    wanted = set(source["keys"]) if "keys" in source else None
    adder = _ModelPoints(points, ref, model, wanted)
    for p in model["points"]:
        if adder.fits(p):
            adder.add_value(p, source["scale"])
            adder.add_bits(p)


def _presentation(key: str) -> dict[str, Any]:
    """How ems shows a key (unit, device class, range...), from the model file."""
    meta = MODELS["keys"][key]
    return {k: meta[k] for k in _PRESENTATION if k in meta}


# --- config subentries ---------------------------------------------------------------------

_SUBENTRY_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_SUNSPEC_BASE): vol.All(int, vol.Range(min=0, max=0xFFFF)),
        vol.Required(CONF_SUNSPEC_MODELS): [
            vol.All(
                vol.ExactSequence([int, int, int]),
                lambda m: ModelRef(*m),
            )
        ],
        vol.Optional(CONF_SUNSPEC_MANUFACTURER, default=""): str,
        vol.Optional(CONF_SUNSPEC_MODEL, default=""): str,
        vol.Optional(CONF_SUNSPEC_VERSION, default=""): str,
        vol.Optional(CONF_SERIAL): vol.Any(None, str),
    },
    extra=vol.ALLOW_EXTRA,
)


def sunspec_subentry_data(device: SunSpecDevice) -> dict[str, Any]:
    """What a device subentry stores of a discovery (JSON-serialisable)."""
    return {
        CONF_SUNSPEC_BASE: device.base,
        CONF_SUNSPEC_MODELS: [[m.id, m.address, m.length] for m in device.models],
        CONF_SUNSPEC_MANUFACTURER: device.manufacturer,
        CONF_SUNSPEC_MODEL: device.model,
        CONF_SUNSPEC_VERSION: device.version,
        CONF_SERIAL: device.serial or None,
    }


def device_from_subentry(data: Mapping[str, Any]) -> SunSpecDevice:
    """Rebuild a discovery from subentry data; SunSpecError when the data is unusable."""
    try:
        valid = _SUBENTRY_SCHEMA(dict(data))
    except vol.Invalid as err:
        raise SunSpecError(
            f"stored SunSpec discovery is unusable ({err}): add the device again"
        ) from err
    return SunSpecDevice(
        base=valid[CONF_SUNSPEC_BASE],
        models=list(valid[CONF_SUNSPEC_MODELS]),
        manufacturer=valid[CONF_SUNSPEC_MANUFACTURER],
        model=valid[CONF_SUNSPEC_MODEL],
        version=valid[CONF_SUNSPEC_VERSION],
        serial=valid.get(CONF_SERIAL) or "",
    )


def profile_from_subentry(data: Mapping[str, Any], kind: str) -> Profile:
    """Build a device subentry's profile from its stored discovery (no device access)."""
    return build_profile(device_from_subentry(data), kind)
