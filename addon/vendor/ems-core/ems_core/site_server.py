"""The site as a SunSpec device for a SCADA: the served map, its values and its write whitelist.

``sunspec_site.yaml`` says which SunSpec models the site serves, which site value each point
shows and the few points a client may write (the whitelist). :class:`SiteImage` keeps the
registers in the core's :class:`~.sunspec_image.SunSpecImage`: :meth:`SiteImage.update`
publishes the site's values, :meth:`SiteImage.check_write` turns a client write into the
actions it asks for, or refuses the whole write with the Modbus exception code to answer
(an address outside the whitelist, a value out of range): nothing is half applied. What the
actions do (change the mode, hand a setpoint to the limiter) is the caller's. No Home Assistant
import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
import math
from pathlib import Path
from typing import Any

import voluptuous as vol
import yaml

from .sunspec import MODELS
from .sunspec_image import ImageError, SunSpecImage

SITE_MAP_FILE = Path(__file__).parent / "sunspec_site.yaml"
EMS_MODEL_ID = 64900

# Modbus exception codes a refused write is answered with.
ILLEGAL_ADDRESS = 0x02
ILLEGAL_VALUE = 0x03

# The site values the map may show (the integration fills them; None → not implemented).
SITE_VALUES = frozenset(
    {
        "version",
        "serial",
        "unit_id",
        "operating",
        "inverter_state",
        "connected",
        "der_alarms",
        "battery_w",
        "grid_voltage_v",
        "grid_frequency_hz",
        "max_charge_w",
        "max_discharge_w",
        "setpoint_enabled",
        "setpoint_mode",
        "external_setpoint_w",
        "heartbeat_timeout_s",
        "heartbeat_left_s",
        "remote_control",
        "server_heartbeat",
        "client_heartbeat",
        "soc_min_pct",
        "soc_pct",
        "charge_status",
        "mode",
        "effective_mode",
        "controller_state",
        "fallback",
        "plan_status",
        "alarms",
        "grid_w",
        "pv_w",
        "load_w",
        "heartbeat_state",
        "fallback_mode",
        "voltage_support_state",
        "frequency_response_state",
        "reactive_var",
        "frequency_response_w",
        "grid_reserve_pct",
        "reactive_enabled",
        "external_reactive_var",
        "battery_va",
        "battery_var",
        "s_max_va",
        "vv_enabled",
        "vv_points",
        "vv_priority",
        "vv_response_s",
        *(f"vv_v{i}" for i in range(1, 5)),
        *(f"vv_q{i}" for i in range(1, 5)),
        "fd_enabled",
        "fd_db_over_hz",
        "fd_db_under_hz",
        "fd_k_over",
        "fd_k_under",
    }
)
# What a client write may ask for. Anything else in the image answers "illegal address".
WRITE_ACTIONS = frozenset(
    {
        "mode",
        "setpoint_enable",
        "setpoint_mode",
        "active_power",
        "reactive_enable",
        "reactive_power",
        "heartbeat",
    }
)
SETPOINT_IN_WATTS = 1  # 704.WSetMod: the only setpoint mode served (no % of WMax)

# Integer ranges a value is clamped to (the not-implemented markers stay out of reach).
_RANGES = {
    "int16": (-0x7FFF, 0x7FFF),
    "uint16": (0, 0xFFFE),
    "enum16": (0, 0xFFFE),
    "bitfield16": (0, 0x7FFF),
    "int32": (-0x7FFFFFFF, 0x7FFFFFFF),
    "uint32": (0, 0xFFFFFFFE),
    "bitfield32": (0, 0x7FFFFFFF),
}


class WriteRefused(Exception):
    """A client write the site will not take: answer Modbus exception ``code``."""

    def __init__(self, code: int, message: str) -> None:
        """Keep the exception code for the reply."""
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ServedPoint:
    """One point of the served map."""

    model: int
    name: str
    value: str | None = None
    const: Any = None
    sf: str | None = None
    scale: float = 1.0
    enum: str | None = None
    write: str | None = None
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Write:
    """One action a client write asks for, its value in ems units."""

    action: str
    value: Any
    point: str  # "model.Point", for the log


_POINT_SCHEMA = vol.Schema(
    {
        vol.Exclusive("value", "source"): vol.In(SITE_VALUES),
        vol.Exclusive("const", "source"): vol.Any(str, int, float),
        vol.Exclusive("sf", "source"): "power",
        vol.Optional("scale"): vol.All(vol.Coerce(float), vol.NotIn([0.0])),
        vol.Optional("enum"): str,
        vol.Optional("write"): vol.In(WRITE_ACTIONS),
        vol.Optional("doc"): str,
    }
)
_FILE_SCHEMA = vol.Schema(
    {
        vol.Required("base"): vol.All(int, vol.Range(min=0, max=0xFFFF)),
        vol.Required("models"): vol.All([int], vol.Length(min=1)),
        vol.Required("enums"): {str: vol.All([str], vol.Length(min=1))},
        vol.Required("points"): {str: _POINT_SCHEMA},
    }
)


@dataclass(frozen=True, slots=True)
class SiteMap:
    """The served map, checked against the SunSpec model file."""

    base: int
    models: tuple[int, ...]
    enums: Mapping[str, tuple[str, ...]]
    points: Mapping[tuple[int, str], ServedPoint]

    @property
    def writes(self) -> list[ServedPoint]:
        """The whitelist: the points a client may write, in map order."""
        return [p for p in self.points.values() if p.write]


def _served(key: str, raw: Mapping[str, Any], site_map: Mapping[str, Any]) -> ServedPoint:
    model_text, _, name = key.partition(".")
    if not model_text.isdigit() or int(model_text) not in site_map["models"]:
        raise ValueError(f"{key}: not a point of a served model")
    model = int(model_text)
    definition = {p["name"]: p for p in MODELS["models"][model]["points"]}
    if name not in definition:
        raise ValueError(f"{key}: model {model} has no point {name}")
    if "value" not in raw and "const" not in raw and "sf" not in raw:
        raise ValueError(f"{key}: needs value, const or sf")
    if raw.get("enum") is not None and raw["enum"] not in site_map["enums"]:
        raise ValueError(f"{key}: unknown enum {raw['enum']}")
    if raw.get("write") and definition[name].get("access") != "rw":
        raise ValueError(f"{key}: read-only in SunSpec, cannot be written")
    if raw.get("write") and "value" not in raw:
        raise ValueError(f"{key}: a written point shows a site value")
    return ServedPoint(model=model, name=name, **raw)


@cache
def load_site_map(path: Path = SITE_MAP_FILE) -> SiteMap:
    """Read and check the served map (blocking: reads a file; cached)."""
    try:
        raw = _FILE_SCHEMA(yaml.safe_load(path.read_text(encoding="utf-8")))
        for model in raw["models"]:
            if model not in MODELS["models"]:
                raise ValueError(f"model {model} is not in the SunSpec model file")
        points = {}
        for key, spec in raw["points"].items():
            served = _served(key, spec, raw)
            points[(served.model, served.name)] = served
    except (vol.Invalid, ValueError) as err:
        raise ValueError(f"{path.name}: {err}") from err
    enums = {k: tuple(v) for k, v in raw["enums"].items()}
    return SiteMap(raw["base"], tuple(raw["models"]), enums, points)


def power_sf(largest_w: float) -> int:
    """The scale factor (0 or more) that fits ``largest_w`` in a signed 16-bit register."""
    sf = 0
    while abs(largest_w) / 10.0**sf > 0x7FFF and sf < 6:
        sf += 1
    return sf


class SiteImage:
    """The registers the site's Modbus server serves."""

    def __init__(self, site_map: SiteMap, *, writable: bool, power_sf: int = 0) -> None:
        """Lay out the map; ``writable`` False refuses every write (a read-only server)."""
        self.map = site_map
        allowed = [(p.model, p.name) for p in site_map.writes] if writable else []
        self.image = SunSpecImage(site_map.models, site_map.base, writable=allowed)
        for point in site_map.points.values():  # scale factors first: values use them
            if point.sf == "power":
                self.image.set(point.model, point.name, power_sf)
            elif point.const is not None:
                self.image.set(point.model, point.name, point.const)

    def update(self, values: Mapping[str, Any]) -> None:
        """Publish the site's values (a missing or None value: not implemented)."""
        for point in self.map.points.values():
            if point.value is not None:
                self._publish(point, values.get(point.value))

    def _publish(self, point: ServedPoint, value: Any) -> None:
        slot = self.image.slots[(point.model, point.name)]
        if point.enum is not None and value is not None:
            members = self.map.enums[point.enum]
            value = members.index(str(value)) if str(value) in members else None
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int | float) and slot.sunspec_type in _RANGES:
            if not math.isfinite(value):
                value = None
            else:
                sf = self.image.get(point.model, slot.sf) if slot.sf else 0
                low, high = _RANGES[slot.sunspec_type]
                step = 10.0 ** (sf or 0)
                value = min(max(value * point.scale, low * step), high * step)
        self.image.set(point.model, point.name, value)

    def check_write(self, address: int, words: list[int], values: Mapping[str, Any]) -> list[Write]:
        """The actions a client write asks for; WriteRefused when it is refused as a whole."""
        try:
            decoded = self.image.decode_write(address, words)
        except ImageError as err:
            raise WriteRefused(ILLEGAL_ADDRESS, str(err)) from err
        writes = []
        for (model, name), raw in decoded.items():
            point = self.map.points[(model, name)]
            value = self._action_value(point, raw, values)
            writes.append(Write(point.write or "", value, f"{model}.{name}"))
        return writes

    def _action_value(self, point: ServedPoint, raw: Any, values: Mapping[str, Any]) -> Any:
        """A written value in ems units, checked for its action."""
        where = f"{point.model}.{point.name}"
        if raw is None:
            raise WriteRefused(ILLEGAL_VALUE, f"{where}: the not-implemented marker")
        if point.enum is not None:
            members = self.map.enums[point.enum]
            if not 0 <= int(raw) < len(members):
                raise WriteRefused(ILLEGAL_VALUE, f"{where}: {raw} is not a {point.enum}")
            return members[int(raw)]
        if point.write in ("setpoint_enable", "reactive_enable"):
            if raw not in (0, 1):
                raise WriteRefused(ILLEGAL_VALUE, f"{where}: {raw} is not 0 or 1")
            return bool(raw)
        if point.write == "setpoint_mode":
            if raw != SETPOINT_IN_WATTS:
                raise WriteRefused(ILLEGAL_VALUE, f"{where}: only {SETPOINT_IN_WATTS} (watts)")
            return raw
        if point.write == "reactive_power":
            s_max = values.get("s_max_va") or 0.0
            if not -s_max <= float(raw) <= s_max:
                raise WriteRefused(
                    ILLEGAL_VALUE, f"{where}: {raw} var is beyond the apparent power {s_max:g} VA"
                )
            return float(raw) + 0.0
        if point.write == "active_power":
            low, high = -(values.get("max_charge_w") or 0.0), values.get("max_discharge_w") or 0.0
            if not low <= float(raw) <= high:
                raise WriteRefused(
                    ILLEGAL_VALUE, f"{where}: {raw} W is outside [{low:g}, {high:g}] W"
                )
            return float(raw) / point.scale + 0.0
        return raw

    def commit(self, address: int, words: list[int]) -> None:
        """Store an accepted write (what was written reads back until the next update)."""
        self.image.store(address, words)

    def read(self, address: int, count: int) -> list[int]:
        """Registers as served; IndexError outside the image."""
        return self.image.read(address, count)
