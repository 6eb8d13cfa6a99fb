"""The capability table: how a battery is commanded, and how its commands are confirmed.

A battery profile's ``control:`` section declares, in one schema for every brand, the register
writes of a charge, a discharge, a hold (0 W) and a release (back to the device's own logic),
whether the remote mode lapses and must be written again, how a command is confirmed (the
written registers read back, a state register, or only the device's accepted reply), the target
SOC register and the limits the device reports. The site controller drives every battery through
:class:`Capabilities`; no brand-specific code exists anywhere else. Stdlib and voluptuous only:
the profile module, the simulator and the integration share it.

Sign convention: a command is a battery power in W, + charging / - discharging, already inside
every limit (the limiter ran before); the value templates below turn it into register values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
import itertools
import math
from typing import Any, Protocol

import voluptuous as vol

HOLD_BELOW_W = 1.0  # |power| under this is a hold (0 W)


class CapabilityError(ValueError):
    """A control section is invalid, or a command cannot be formed; the message says why."""


class Method(StrEnum):
    """How the power is given to the device."""

    SETPOINT = "setpoint"  # one signed power register
    FORCED = "forced"  # a mode register (charge / discharge / stop) and an unsigned power


class Confirm(StrEnum):
    """How a command is confirmed."""

    READBACK = "readback"  # the written registers (or their read-back registers) read back
    ECHO = "echo"  # write-only registers: the accepted reply, then the measured power


class Direction(StrEnum):
    """What one command asks of the battery."""

    CHARGE = "charge"
    DISCHARGE = "discharge"
    HOLD = "hold"
    RELEASE = "release"


# Value templates: a number is written as is; these are computed from the command P (W).
TEMPLATES = {
    "signed": lambda p, ref: p,
    "-signed": lambda p, ref: -p,
    "power": lambda p, ref: abs(p),
    "-power": lambda p, ref: -abs(p),
    "percent": lambda p, ref: 100.0 * abs(p) / ref,
    "-percent": lambda p, ref: -100.0 * abs(p) / ref,
}
_POWER_TEMPLATES = frozenset(TEMPLATES)


class PointLike(Protocol):
    """What the table needs of a profile point."""

    key: str
    address: int
    table: Any
    writable: bool
    protection: bool
    min: float | None
    max: float | None

    @property
    def span(self) -> tuple[int, int]:
        """First and last register."""

    def in_range(self, value: float) -> bool:
        """Whether a value lies inside the point's min/max."""


class ProfileLike(Protocol):
    """What the table needs of a profile."""

    kind: str

    def __contains__(self, key: object) -> bool:
        """Whether the profile defines this key."""

    def __getitem__(self, key: str) -> Any:
        """The point with this key."""


@dataclass(frozen=True, slots=True)
class Write:
    """One register write of a command: a point key and a number or a template."""

    key: str
    value: float | str

    def resolve(self, power_w: float, reference: float | None) -> float:
        """The value to write for a command of ``power_w`` W."""
        if not isinstance(self.value, str):
            return self.value
        if self.value.endswith("percent") and (
            reference is None or not math.isfinite(reference) or reference <= 0
        ):
            raise CapabilityError(f"{self.key}: the reference power is unknown")
        value = TEMPLATES[self.value](power_w, reference)
        return round(value, 2) if self.value.endswith("percent") else round(value)


@dataclass(frozen=True, slots=True)
class Command:
    """A register value to write, in engineering units."""

    key: str
    value: float


@dataclass(frozen=True, slots=True)
class Check:
    """After a command, ``key`` must read ``expected`` (``written``: the key that was written)."""

    key: str
    expected: float
    written: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    """One profile's control capabilities (see the module docstring)."""

    method: Method
    writes: Mapping[Direction, tuple[Write, ...]]
    confirm: Confirm = Confirm.READBACK
    readback: Mapping[str, str] = field(default_factory=dict)
    state_key: str | None = None
    state: Mapping[Direction, float] = field(default_factory=dict)
    rewrite_s: float | None = None
    lapse_s: float | None = None
    percent_of: str | None = None
    target_soc: str | None = None
    reports: tuple[str, ...] = ()
    block: bool = False  # each command is one write of consecutive registers
    subtract: tuple[str, ...] = ()  # 'signed' is P minus these values (SolaX: P - PV)

    @staticmethod
    def direction(power_w: float) -> Direction:
        """Charge, discharge or hold for a battery power."""
        if not math.isfinite(power_w) or abs(power_w) < HOLD_BELOW_W:
            return Direction.HOLD
        return Direction.CHARGE if power_w > 0 else Direction.DISCHARGE

    def commands(
        self, power_w: float, values: Mapping[str, Any] | None = None
    ) -> tuple[Direction, list[Command]]:
        """The writes, in order, that command ``power_w`` W (``values``: the device's last read)."""
        direction = self.direction(power_w)
        power = 0.0 if direction is Direction.HOLD else float(power_w)
        return direction, self._resolve(direction, power, values)

    def release_commands(self) -> list[Command]:
        """The writes that hand the battery back to its own logic."""
        return self._resolve(Direction.RELEASE, 0.0, None)

    def _resolve(
        self, direction: Direction, power_w: float, values: Mapping[str, Any] | None
    ) -> list[Command]:
        reference = None
        if self.percent_of is not None and values is not None:
            raw = values.get(self.percent_of)
            reference = float(raw) if isinstance(raw, int | float) else None
        if self.subtract and direction is not Direction.RELEASE:
            power_w -= self._subtracted(values)
        return [Command(w.key, w.resolve(power_w, reference)) for w in self.writes[direction]]

    def _subtracted(self, values: Mapping[str, Any] | None) -> float:
        """The sum of the ``subtract`` values now; CapabilityError when one is unknown."""
        total = 0.0
        for key in self.subtract:
            raw = (values or {}).get(key)
            if not isinstance(raw, int | float) or isinstance(raw, bool) or not math.isfinite(raw):
                raise CapabilityError(f"{key} is unknown: the command cannot be formed")
            total += float(raw)
        return total

    def checks(self, direction: Direction, commands: list[Command]) -> list[Check]:
        """What must read back after these commands (nothing for an echo-only device)."""
        found: list[Check] = []
        if self.confirm is Confirm.READBACK:
            last = {c.key: c.value for c in commands}  # a key written twice: its last value
            found = [Check(self.readback.get(k, k), v, k) for k, v in last.items()]
        if self.state_key is not None and direction in self.state:
            found.append(Check(self.state_key, self.state[direction], self.state_key))
        return found

    @property
    def read_keys(self) -> set[str]:
        """Keys the controller must poll to form and confirm commands."""
        keys = {k for k in (self.percent_of, self.state_key, self.target_soc) if k}
        return keys | set(self.reports) | set(self.subtract)

    def power_caps(self, profile: ProfileLike) -> tuple[float, float]:
        """The largest charge and discharge (W, >= 0) the command registers' ranges can carry."""
        caps = []
        for direction, sign in ((Direction.CHARGE, 1.0), (Direction.DISCHARGE, -1.0)):
            cap = math.inf
            for w in self.writes[direction]:
                point = profile[w.key]
                # the register value for a power P of this direction, per unit of P
                per_w = {"signed": sign, "-signed": -sign, "power": 1.0, "-power": -1.0}
                factor = per_w.get(w.value) if isinstance(w.value, str) else None
                bound = point.max if factor is not None and factor > 0 else point.min
                if factor is not None and bound is not None:
                    cap = min(cap, max(0.0, bound / factor))
            caps.append(cap)
        return caps[0], caps[1]

    @property
    def written_keys(self) -> set[str]:
        """Every key a command or a release writes (the controller's registers alone)."""
        return {w.key for writes in self.writes.values() for w in writes}

    def describe(self) -> list[str]:
        """The capabilities in a few words each (README, diagnostics, dry run)."""
        found = ["power setpoint" if self.method is Method.SETPOINT else "forced charge/discharge"]
        if self.rewrite_s is not None:
            lapse = f", lapses after {self.lapse_s:g} s" if self.lapse_s else ""
            found.append(f"remote mode re-written every {self.rewrite_s:g} s{lapse}")
        confirm = "read-back" if self.confirm is Confirm.READBACK else "accepted reply only"
        if self.state_key:
            confirm += f" + state register {self.state_key}"
        found.append(f"confirmed by {confirm}")
        if self.target_soc:
            found.append(f"target SOC ({self.target_soc})")
        if self.reports:
            found.append(f"reports {', '.join(self.reports)}")
        return found


# --- the schema -----------------------------------------------------------------------------

_KEY = vol.Match(r"^[a-z][a-z0-9_]*$", msg="must be lower_snake_case")
_WRITE = vol.Schema(
    {
        vol.Required("key"): _KEY,
        vol.Required("value"): vol.Any(
            vol.In(sorted(_POWER_TEMPLATES)), vol.All(vol.Coerce(float), vol.Range(-1e9, 1e9))
        ),
    }
)
_WRITES = vol.All([_WRITE], vol.Length(min=1, max=16))
CONTROL_SCHEMA = vol.Schema(
    {
        vol.Required("method"): vol.Coerce(Method),
        vol.Optional("set"): _WRITES,
        vol.Optional("charge"): _WRITES,
        vol.Optional("discharge"): _WRITES,
        vol.Optional("hold"): _WRITES,
        vol.Required("release"): _WRITES,
        vol.Optional("confirm", default="readback"): vol.Coerce(Confirm),
        vol.Optional("readback", default=dict): {_KEY: _KEY},
        vol.Optional("state"): {
            vol.Required("key"): _KEY,
            **{vol.Optional(d.value): vol.Coerce(float) for d in Direction},
        },
        vol.Optional("rewrite_s"): vol.All(vol.Coerce(float), vol.Range(min=5, max=3600)),
        vol.Optional("lapse_s"): vol.All(vol.Coerce(float), vol.Range(min=5, max=86400)),
        vol.Optional("percent_of"): _KEY,
        vol.Optional("target_soc"): _KEY,
        vol.Optional("reports", default=list): [_KEY],
        vol.Optional("block", default=False): bool,
        vol.Optional("subtract", default=list): [_KEY],
    }
)


def _writes_by_direction(data: Mapping[str, Any]) -> dict[Direction, tuple[Write, ...]]:
    """Each direction's writes; ``set`` is the one list of a signed setpoint."""
    shared = data.get("set")
    writes: dict[Direction, tuple[Write, ...]] = {}
    for direction in Direction:
        raw = data.get(direction.value, shared if direction is not Direction.RELEASE else None)
        if raw is None:
            raise CapabilityError(f"control: no '{direction.value}' writes (nor 'set')")
        writes[direction] = tuple(Write(w["key"], w["value"]) for w in raw)
    return writes


def _templates(writes: tuple[Write, ...]) -> set[str]:
    return {w.value for w in writes if isinstance(w.value, str)}


def _check_method(caps: Capabilities) -> None:
    """A setpoint writes P signed, forced |P| per direction (a hold writes them at 0 W)."""
    if _templates(caps.writes[Direction.RELEASE]):
        raise CapabilityError("control: 'release' writes fixed values only")
    for direction in (Direction.CHARGE, Direction.DISCHARGE):
        used = _templates(caps.writes[direction])
        if not used:
            raise CapabilityError(f"control: '{direction.value}' writes no power")
        if caps.method is Method.SETPOINT and not used <= {"signed", "-signed"}:
            raise CapabilityError("control: a setpoint writes 'signed' (or '-signed')")
        if any(t.endswith("percent") for t in used) and caps.percent_of is None:
            raise CapabilityError("control: a 'percent' value needs 'percent_of'")


def _check_write(w: Write, profile: ProfileLike) -> None:
    """A written key is a writable, non-protection point; a fixed value lies in its range."""
    if w.key not in profile:
        raise CapabilityError(f"control: '{w.key}' is not a point")
    point = profile[w.key]
    if point.protection:
        raise CapabilityError(f"control: '{w.key}' is a protection setting")
    if not point.writable:
        raise CapabilityError(f"control: '{w.key}' is not writable")
    if not isinstance(w.value, str) and not (math.isfinite(w.value) and point.in_range(w.value)):
        raise CapabilityError(f"control: '{w.key}': {w.value:g} is outside its range")


def _check_block(caps: Capabilities, profile: ProfileLike) -> None:
    """A block command covers consecutive registers of one table, each once."""
    for direction, writes in caps.writes.items():
        spans = sorted(profile[w.key].span for w in writes)
        tables = {profile[w.key].table for w in writes}
        consecutive = all(b[0] == a[1] + 1 for a, b in itertools.pairwise(spans))
        if len(tables) > 1 or not consecutive:
            raise CapabilityError(
                f"control: the '{direction.value}' block must cover consecutive registers"
            )


def _check_points(caps: Capabilities, profile: ProfileLike) -> None:
    """Every write is to a writable point, in range; every read key exists."""
    for writes in caps.writes.values():
        for w in writes:
            _check_write(w, profile)
    for key in [*caps.readback.values(), *caps.read_keys]:
        if key not in profile:
            raise CapabilityError(f"control: '{key}' is not a point")
    if caps.state_key is not None:
        point = profile[caps.state_key]
        for value in caps.state.values():
            if not (math.isfinite(value) and point.in_range(value)):
                raise CapabilityError(f"control: state {value:g} is outside its range")
    if caps.block:
        _check_block(caps, profile)


def parse_control(raw: Any, profile: ProfileLike) -> Capabilities | None:
    """Validate a profile's ``control`` section against its points (None: no control).

    A battery profile without the section but with a writable ``setpoint`` point is commanded
    through it (the generic BESS: one signed register, read back, released at 0 W).
    """
    if raw is None:
        if profile.kind != "battery" or "setpoint" not in profile:
            return None
        if not profile["setpoint"].writable:
            return None
        raw = {
            "method": "setpoint",
            "set": [{"key": "setpoint", "value": "signed"}],
            "release": [{"key": "setpoint", "value": 0}],
        }
    if profile.kind != "battery":
        raise CapabilityError("control: only battery profiles have a 'control' section")
    try:
        data = CONTROL_SCHEMA(raw)
    except vol.Invalid as err:
        path = ".".join(str(p) for p in err.path) or "(root)"
        raise CapabilityError(f"control: {path}: {err.msg}") from err
    state = data.get("state") or {}
    caps = Capabilities(
        method=data["method"],
        writes=_writes_by_direction(data),
        confirm=data["confirm"],
        readback=dict(data["readback"]),
        state_key=state.get("key"),
        state={Direction(k): v for k, v in state.items() if k != "key"},
        rewrite_s=data.get("rewrite_s"),
        lapse_s=data.get("lapse_s"),
        percent_of=data.get("percent_of"),
        target_soc=data.get("target_soc"),
        reports=tuple(data["reports"]),
        block=data["block"],
        subtract=tuple(data["subtract"]),
    )
    _check_method(caps)
    _check_points(caps, profile)
    if caps.rewrite_s and caps.lapse_s and caps.rewrite_s >= caps.lapse_s:
        raise CapabilityError("control: 'rewrite_s' must be shorter than 'lapse_s'")
    if caps.lapse_s and not caps.rewrite_s:
        raise CapabilityError("control: a mode that lapses needs 'rewrite_s'")
    return caps
