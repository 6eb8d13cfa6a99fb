"""The control decision: measurements, settings and the plan step in, battery commands out.

Pure: no I/O, no clock, no Home Assistant. The site controller reads the devices, calls
:func:`decide` once per tick, writes what it returns and verifies the writes. The limiter is
applied here, once per battery per tick, whatever the mode; so are the site's grid import and
export limits and the "charge from the grid" switch.

Sign convention: battery + charging / − discharging; grid + import / − export (W).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
import math

from .control import PIController, peak_shaving_setpoint, self_consumption_step, split_setpoint
from .executor import Intent, Measured, execute
from .grid_support import narrowed_soc_window, stack_response
from .limiter import BatteryLimits, BatteryState, LimitReason, charge_cap, discharge_cap, limit

# PI gains for self-consumption, per W of grid error (measured on the simulator).
PI_KP = 0.1
PI_KI_PER_S = 0.15
DEADBAND_W = 10.0


class Mode(StrEnum):
    """The site modes (docs/ARCHITECTURE.md)."""

    AUTO = "auto"
    SELF_CONSUMPTION = "self_consumption"
    PEAK_SHAVING = "peak_shaving"
    CHARGE_ONLY = "charge_only"
    EXTERNAL = "external"
    BACKUP = "backup"
    PASSIVE = "passive"
    MANUAL = "manual"


# Modes whose setpoint is computed from the grid meter.
NEEDS_METER = frozenset({Mode.SELF_CONSUMPTION, Mode.PEAK_SHAVING, Mode.CHARGE_ONLY, Mode.BACKUP})
_PI_MODES = frozenset({Mode.SELF_CONSUMPTION, Mode.CHARGE_ONLY, Mode.BACKUP})


class Fallback(StrEnum):
    """Why what runs is not simply the chosen mode."""

    PLAN_STALE = "plan_stale"  # auto without a fresh plan: self-consumption
    PLAN_PENDING = "plan_pending"  # auto with a plan that starts later: self-consumption
    NO_METER = "no_meter"  # the mode needs the grid meter: 0 W
    EXTERNAL_TIMEOUT = "external_timeout"  # external setpoint not refreshed: 0 W
    NO_BATTERY = "no_battery"  # no battery answers
    NOT_COMMANDABLE = "not_commandable"  # no battery is in "Devices ems may command": dry run
    BATTERY_UNTRUSTED = "battery_untrusted"  # every battery is held at 0 W (alarm, stale, …)


class Distrust(StrEnum):
    """Why a battery's values or commands cannot be trusted: it is held at 0 W."""

    ALARM = "alarm"  # the device reports an alarm or fault
    STALE = "stale_values"  # its values stopped changing while power was commanded
    WRITE_FAILED = "write_failed"  # its setpoint writes fail or do not read back


class PlanStatus(StrEnum):
    """The plan as the controller sees it at this moment."""

    ACTIVE = "active"
    NONE = "none"
    STALE = "stale"
    NOT_STARTED = "not_started"


_BOOL_SETTINGS = frozenset({"grid_charging", "voltage_support", "frequency_response"})
_SETTING_BOUNDS: dict[str, tuple[float, float]] = {
    "grid_target_w": (-1e6, 1e6),
    "peak_import_threshold_w": (0.0, 1e6),
    "peak_recharge_threshold_w": (0.0, 1e6),
    "export_cap_w": (0.0, 1e6),
    "target_soc_pct": (0.0, 100.0),
    "reserve_soc_pct": (0.0, 100.0),
    "manual_setpoint_w": (-1e6, 1e6),
    "external_setpoint_w": (-1e6, 1e6),
    "soc_min_pct": (0.0, 100.0),
    "soc_max_pct": (0.0, 100.0),
    "ramp_w_per_s": (1.0, 1e5),
}


@dataclass(kw_only=True)
class ControlSettings:
    """What the user tunes: kept by the controller in its own store, checked on every change."""

    grid_target_w: float = 0.0
    peak_import_threshold_w: float = 3000.0
    peak_recharge_threshold_w: float = 1000.0
    export_cap_w: float = 0.0  # 0 = no cap (peak shaving)
    target_soc_pct: float = 80.0
    reserve_soc_pct: float = 30.0
    manual_setpoint_w: float = 0.0
    external_setpoint_w: float = 0.0
    soc_min_pct: float = 10.0
    soc_max_pct: float = 100.0
    grid_charging: bool = False
    ramp_w_per_s: float = 200.0  # how fast a battery's power may grow (after an alarm too)
    voltage_support: bool = False  # Q(V) armed (grid_support.py)
    frequency_response: bool = False  # P(f) armed

    @staticmethod
    def check(name: str, value: object) -> float | bool:
        """Return ``value`` for setting ``name``, or raise ``ValueError`` naming what is wrong."""
        if name in _BOOL_SETTINGS:
            if not isinstance(value, bool):
                raise ValueError(f"{name}: must be true or false, got {value!r}")
            return value
        if name not in _SETTING_BOUNDS:
            raise ValueError(f"{name}: not a control setting")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name}: must be a number, got {value!r}")
        low, high = _SETTING_BOUNDS[name]
        if not math.isfinite(value) or not low <= value <= high:
            raise ValueError(f"{name}: must be a finite number in [{low:g}, {high:g}], got {value}")
        return float(value)

    @classmethod
    def restore(cls, stored: object) -> ControlSettings:
        """Settings from a stored dict: unknown keys and invalid values are left at defaults."""
        settings = cls()
        if isinstance(stored, dict):
            for item in fields(cls):
                if item.name in stored:
                    try:
                        setattr(settings, item.name, cls.check(item.name, stored[item.name]))
                    except ValueError:
                        continue
        return settings

    def soc_window(self) -> tuple[float, float]:
        """The SOC window the limiter keeps every battery in."""
        return min(self.soc_min_pct, self.soc_max_pct), self.soc_max_pct


@dataclass(frozen=True, kw_only=True)
class SiteLimits:
    """Grid connection limits (W, >= 0); None: no limit. They hold in every mode."""

    import_limit_w: float | None = None
    export_limit_w: float | None = None


@dataclass(frozen=True, kw_only=True)
class BatteryInput:
    """One battery as read this tick."""

    key: str
    limits: BatteryLimits | None  # the device's own limits; None: unknown → 0 W
    state: BatteryState = field(default_factory=BatteryState)
    power_w: float | None = None
    capacity_wh: float | None = None
    online: bool = True  # answered its last poll
    commandable: bool = True  # listed in "Devices ems may command"
    distrust: Distrust | None = None
    previous_w: float | None = None  # the command of ours in force, if any
    since_previous_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class Inputs:
    """Everything a tick decides from."""

    mode: Mode
    grid_w: float | None  # None: no meter, or its value cannot be trusted
    batteries: Sequence[BatteryInput] = ()
    plan_status: PlanStatus = PlanStatus.NONE
    plan_battery_w: float | None = None
    plan_intent: Intent | None = None  # the step's intent (None: an older plan, its power only)
    plan_step_left_s: float | None = None
    external_fresh: bool = False
    site_soc_pct: float | None = None
    dt_s: float = 5.0
    # Grid support (grid_support.py): the frequency response now (+ charging; None: none), and
    # the SOC reserve P(f) keeps out of the modes' window while it is armed.
    grid_response_w: float | None = None
    grid_reserve_pct: float = 0.0
    grid_p_limit_w: float | None = None  # Q(V) with Q priority: |P| at most this (S − Q)

    @property
    def responding(self) -> bool:
        """Whether a frequency response is under way this tick."""
        return _finite(self.grid_response_w) and self.grid_response_w != 0.0


@dataclass(frozen=True)
class PiMemory:
    """The self-consumption loop's state, carried from one tick to the next."""

    mode: Mode | None = None
    integral: float = 0.0
    output: float = 0.0
    proportional: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Command:
    """What one battery is told this tick (``write`` false: shown only, never written)."""

    key: str
    requested_w: float
    setpoint_w: float
    reason: LimitReason
    write: bool


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The outcome of one tick."""

    mode: Mode
    effective_mode: Mode
    fallback: Fallback | None = None
    requested_w: float | None = None
    setpoint_w: float | None = None
    reason: LimitReason = LimitReason.NONE
    commands: tuple[Command, ...] = ()
    memory: PiMemory = field(default_factory=PiMemory)


_DISTRUST_REASON = {
    Distrust.ALARM: LimitReason.ALARM,
    Distrust.STALE: LimitReason.STALE_VALUES,
    Distrust.WRITE_FAILED: LimitReason.WRITE_FAILED,
}


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def effective_mode(inputs: Inputs) -> tuple[Mode, Fallback | None]:
    """The mode actually run and why it differs from the chosen one."""
    if inputs.mode is not Mode.AUTO:
        return inputs.mode, None
    if inputs.plan_status is PlanStatus.ACTIVE and _finite(inputs.plan_battery_w):
        return Mode.AUTO, None
    if inputs.plan_status is PlanStatus.NOT_STARTED:
        return Mode.SELF_CONSUMPTION, Fallback.PLAN_PENDING
    return Mode.SELF_CONSUMPTION, Fallback.PLAN_STALE


def effective_limits(
    limits: BatteryLimits,
    settings: ControlSettings,
    mode: Mode,
    *,
    reserve_pct: float = 0.0,
    responding: bool = False,
) -> BatteryLimits:
    """A device's limits narrowed by the site's SOC window, the backup reserve and the ramp.

    ``reserve_pct``: kept at both ends for grid support (armed P(f)). ``responding``: a
    frequency response is under way: the whole window and the device's own ramp are its, not
    the modes' comfort ramp (the grid will not wait at 200 W/s).
    """
    low, high = settings.soc_window()
    if mode is Mode.BACKUP:
        low = max(low, settings.reserve_soc_pct)
    soc_max = min(limits.soc_max_pct, high)
    soc_min = min(max(limits.soc_min_pct, low), soc_max)
    if not responding:
        soc_min, soc_max = narrowed_soc_window(soc_min, soc_max, reserve_pct)
    ramp = settings.ramp_w_per_s
    if limits.ramp_w_per_s is not None:
        ramp = limits.ramp_w_per_s if responding else min(ramp, limits.ramp_w_per_s)
    return replace(limits, soc_min_pct=soc_min, soc_max_pct=soc_max, ramp_w_per_s=ramp)


def _room_wh(battery: BatteryInput, limits: BatteryLimits, *, up: bool) -> float:
    """Energy a battery can still take (up) or give above its floor (down)."""
    soc, capacity = battery.state.soc_pct, battery.capacity_wh
    if not _finite(soc) or not _finite(capacity):
        return 0.0
    span = (limits.soc_max_pct - soc) if up else (soc - limits.soc_min_pct)
    return max(0.0, float(capacity) * span / 100.0)


@dataclass(frozen=True, kw_only=True)
class _Site:
    """What the mode rules see of the site this tick."""

    net_w: float | None  # grid power with these batteries at 0 W; None: no meter
    grid_w: float
    battery_w: float  # measured power of the batteries that share the setpoint
    charge_w: float  # their static maxima
    discharge_w: float
    capacity_wh: float | None = None  # their total capacity, when every one is known
    response_w: float | None = None  # the frequency response in force this tick (None: none)
    mode_room: tuple[float, float] = (math.inf, math.inf)  # the mode's discharge, charge caps


def _pi(memory: PiMemory, mode: Mode, battery_w: float, low: float, high: float) -> PIController:
    """The PI loop for ``mode``: continued from the last tick, or started afresh."""
    pi = PIController(PI_KP, PI_KI_PER_S, low, high)
    if memory.mode is mode:
        pi.restore(memory.integral, memory.output, memory.proportional)
    else:  # bumpless start from what the batteries do now
        pi.reset(battery_w)
    return pi


def _site_request(
    mode: Mode, inputs: Inputs, settings: ControlSettings, site: _Site, memory: PiMemory
) -> tuple[float | None, PIController | None]:
    """The site setpoint the mode asks for (before limits), and its PI loop if one ran."""
    if mode is Mode.AUTO:
        return _auto_request(inputs, site, memory)
    if mode is Mode.MANUAL:
        return settings.manual_setpoint_w, None
    if mode is Mode.EXTERNAL:
        return (settings.external_setpoint_w if inputs.external_fresh else None), None
    if mode is Mode.PEAK_SHAVING:
        recharge = min(settings.peak_recharge_threshold_w, settings.peak_import_threshold_w)
        value = peak_shaving_setpoint(
            site.grid_w,
            site.battery_w,
            settings.peak_import_threshold_w,
            recharge,
            settings.export_cap_w or None,
            charge_max_w=site.charge_w,
            discharge_max_w=site.discharge_w,
        )
        return value, None
    soc = inputs.site_soc_pct
    low = -site.discharge_w
    if mode is Mode.CHARGE_ONLY:
        if settings.grid_charging and _finite(soc) and soc < settings.target_soc_pct:
            return site.charge_w, None
        low = 0.0
    elif mode is Mode.BACKUP and _finite(soc) and soc < settings.reserve_soc_pct:
        return site.charge_w, None  # refill the reserve first
    pi = _pi(memory, mode, site.battery_w, low, site.charge_w)
    target = settings.grid_target_w if mode is Mode.SELF_CONSUMPTION else 0.0
    value = self_consumption_step(site.grid_w, target, pi, inputs.dt_s, deadband_w=DEADBAND_W)
    return value, pi


def _auto_request(
    inputs: Inputs, site: _Site, memory: PiMemory
) -> tuple[float | None, PIController | None]:
    """The plan step: its intent through the executor, or (older plans) its battery power."""
    intent = inputs.plan_intent
    if intent is None:
        return inputs.plan_battery_w, None
    if intent.follows_grid:
        low = 0.0 if intent.kind == "hold" else -site.discharge_w
        pi = _pi(memory, Mode.AUTO, site.battery_w, low, site.charge_w)
        value = self_consumption_step(site.grid_w, 0.0, pi, inputs.dt_s, deadband_w=DEADBAND_W)
        return value, pi
    measured = Measured(
        soc_pct=inputs.site_soc_pct,
        capacity_wh=site.capacity_wh,
        net_w=site.net_w,
        step_left_s=inputs.plan_step_left_s,
    )
    request = execute(intent, measured)
    return (request if request is not None else inputs.plan_battery_w), None


def grid_bounds(net_w: float | None, limits: SiteLimits) -> tuple[float, float]:
    """Site battery power range that keeps the grid inside its limits, given the net load.

    ``net_w`` is the grid power the site would have with the batteries at 0 W. Importing more
    than the limit needs the batteries to discharge, exporting more needs them to charge: the
    range may then exclude 0 W.
    """
    low, high = -math.inf, math.inf
    if net_w is not None:
        if limits.import_limit_w is not None:
            high = limits.import_limit_w - net_w
        if limits.export_limit_w is not None:
            low = -limits.export_limit_w - net_w
    return low, high


def _within_grid(
    request: float, net_w: float | None, limits: SiteLimits
) -> tuple[float, LimitReason]:
    """The request held inside the grid limits (the import limit wins if both cannot hold)."""
    low, high = grid_bounds(net_w, limits)
    if request > high:
        return high, LimitReason.GRID_IMPORT_LIMIT
    if request < low:
        return min(low, high), LimitReason.GRID_EXPORT_LIMIT
    return request, LimitReason.NONE


@dataclass(frozen=True, kw_only=True)
class _Shared:
    """The site setpoint shared between the trusted batteries."""

    requested_w: float | None
    commands: tuple[Command, ...]
    reasons: tuple[LimitReason, ...]
    fallback: Fallback | None
    memory: PiMemory


def _site_target(
    mode: Mode,
    inputs: Inputs,
    *,
    settings: ControlSettings,
    site_limits: SiteLimits,
    site: _Site,
    memory: PiMemory,
) -> tuple[float | None, float, LimitReason, float | None, PIController | None, Fallback | None]:
    """Request of the mode, then the site-wide limits: grid-charging switch and grid limits."""
    fallback = None
    pi = None
    if mode in NEEDS_METER and site.net_w is None:
        requested: float | None = None
        fallback = Fallback.NO_METER
    else:
        requested, pi = _site_request(mode, inputs, settings, site, memory)
        if requested is None and mode is Mode.EXTERNAL:
            fallback = Fallback.EXTERNAL_TIMEOUT
    target = float(requested) if _finite(requested) else 0.0
    reason = LimitReason.NONE
    surplus = None if site.net_w is None else max(0.0, -site.net_w)
    if target > 0 and not settings.grid_charging and target > (surplus or 0.0):
        target, reason = surplus or 0.0, LimitReason.GRID_CHARGING_OFF
    if site.response_w is not None:
        # The mode's part keeps out of the P(f) reserve (the batteries' limits are the whole
        # window while responding); the response is a grid service: what it absorbs is not
        # "grid charging" (the mode's part was held to the rule above).
        low, high = site.mode_room
        target = stack_response(min(max(target, -low), high), site.response_w)
        if target > 0:
            surplus = max(surplus or 0.0, target)
    if _finite(inputs.grid_p_limit_w):  # Q priority: P gives way to the reactive power
        bound = max(0.0, float(inputs.grid_p_limit_w))  # type: ignore[arg-type]
        if abs(target) > bound:
            target, reason = math.copysign(bound, target), LimitReason.POWER
    target, grid_reason = _within_grid(target, site.net_w, site_limits)
    if grid_reason is not LimitReason.NONE:
        reason = grid_reason
        if target > 0:  # absorbing an export beyond the limit is solar surplus, not grid power
            surplus = max(surplus or 0.0, target)
    return requested, target, reason, surplus, pi, fallback


def _share(
    mode: Mode,
    inputs: Inputs,
    *,
    settings: ControlSettings,
    site_limits: SiteLimits,
    memory: PiMemory,
    sharing: Sequence[BatteryInput],
    write: bool,
) -> _Shared:
    """Site target → split by available energy → the limiter, once per battery."""
    grid = inputs.grid_w if _finite(inputs.grid_w) else None
    battery_w = sum(float(b.power_w) for b in sharing if _finite(b.power_w))
    net_w = None if grid is None else grid - battery_w
    # No response without the grid power when the site has grid limits: they could not hold.
    limited = site_limits.import_limit_w is not None or site_limits.export_limit_w is not None
    responding = inputs.responding and not (net_w is None and limited)

    def limits_for(b: BatteryInput, *, full: bool) -> BatteryLimits:
        return effective_limits(
            b.limits,  # type: ignore[arg-type]
            settings,
            mode,
            reserve_pct=inputs.grid_reserve_pct,
            responding=full,
        )

    limits = {b.key: limits_for(b, full=responding) for b in sharing}
    mode_room = (math.inf, math.inf)
    if responding:
        narrowed = {b.key: limits_for(b, full=False) for b in sharing}
        mode_room = (
            sum(discharge_cap(narrowed[b.key], b.state)[0] for b in sharing),
            sum(charge_cap(narrowed[b.key], b.state)[0] for b in sharing),
        )
    site = _Site(
        net_w=net_w,
        grid_w=grid or 0.0,
        battery_w=battery_w,
        charge_w=sum(limit_.charge_max_w for limit_ in limits.values()),
        discharge_w=sum(limit_.discharge_max_w for limit_ in limits.values()),
        capacity_wh=sum(float(b.capacity_wh) for b in sharing)  # type: ignore[arg-type]
        if all(_finite(b.capacity_wh) for b in sharing)
        else None,
        response_w=float(inputs.grid_response_w) if responding else None,  # type: ignore[arg-type]
        mode_room=mode_room,
    )
    requested, target, site_reason, surplus, pi, fallback = _site_target(
        mode, inputs, settings=settings, site_limits=site_limits, site=site, memory=memory
    )
    up = target >= 0
    caps = {
        b.key: charge_cap(
            limits[b.key],
            b.state,
            grid_charge_allowed=settings.grid_charging,
            pv_surplus_w=surplus,
        )
        if up
        else discharge_cap(limits[b.key], b.state)
        for b in sharing
    }
    shares = split_setpoint(
        target, [(_room_wh(b, limits[b.key], up=up), caps[b.key][0]) for b in sharing]
    )
    commands = []
    for battery, share in zip(sharing, shares, strict=True):
        previous = battery.previous_w if _finite(battery.previous_w) else battery.power_w
        since = battery.since_previous_s if _finite(battery.previous_w) else None
        dt = min(since, inputs.dt_s) if _finite(since) and since >= 0 else inputs.dt_s
        result = limit(
            share,
            limits[battery.key],
            battery.state,
            previous_w=previous,
            dt_s=dt,
            grid_charge_allowed=settings.grid_charging,
            pv_surplus_w=surplus,
        )
        commands.append(
            Command(
                key=battery.key,
                requested_w=share,
                setpoint_w=result.setpoint_w,
                reason=result.reason,
                write=write,
            )
        )
    if target != 0 and abs(sum(shares)) + 1 < abs(target):
        # The batteries may do less than the site asks: their limit binds, not the site's.
        binding = [caps[b.key][1] for b in sharing if caps[b.key][1] is not LimitReason.POWER]
        site_reason = binding[0] if binding else LimitReason.POWER
    reasons = [site_reason, *(c.reason for c in commands)]
    new_memory = PiMemory()
    if pi is not None:  # anti-windup against what the limits let through
        pi.track(sum(c.setpoint_w for c in commands))
        new_memory = PiMemory(mode, *pi.snapshot())
    return _Shared(
        requested_w=requested,
        commands=tuple(commands),
        reasons=tuple(reasons),
        fallback=fallback,
        memory=new_memory,
    )


def _held(battery: BatteryInput, *, write: bool) -> Command:
    """0 W for a battery that cannot be trusted, with the reason."""
    reason = (
        _DISTRUST_REASON[battery.distrust]
        if battery.distrust is not None
        else LimitReason.UNKNOWN_STATE
    )
    return Command(key=battery.key, requested_w=0.0, setpoint_w=0.0, reason=reason, write=write)


def decide(
    inputs: Inputs, settings: ControlSettings, site_limits: SiteLimits, memory: PiMemory
) -> Decision:
    """One control tick (see the module docstring); odd measurements never make it raise."""
    mode, fallback = effective_mode(inputs)
    base = Decision(mode=inputs.mode, effective_mode=mode, fallback=fallback)
    if mode is Mode.PASSIVE:
        return base  # the controller hands the batteries back once, then writes nothing
    online = [b for b in inputs.batteries if b.online]
    if not online:
        return replace(base, fallback=fallback or Fallback.NO_BATTERY)
    # Batteries ems may not command are part of the house: only the others share the setpoint.
    # Without any, the tick is a dry run: it shows what it would do and writes nothing.
    commandable = [b for b in online if b.commandable]
    write = bool(commandable)
    pool = commandable or online
    if not write:
        fallback = fallback or Fallback.NOT_COMMANDABLE
    held = [_held(b, write=write) for b in pool if b.distrust is not None or b.limits is None]
    held_keys = {c.key for c in held}
    sharing = [b for b in pool if b.key not in held_keys]
    if not sharing:
        return replace(
            base,
            fallback=fallback or Fallback.BATTERY_UNTRUSTED,
            setpoint_w=0.0,
            reason=held[0].reason,
            commands=tuple(held),
        )
    shared = _share(
        mode,
        inputs,
        settings=settings,
        site_limits=site_limits,
        memory=memory,
        sharing=sharing,
        write=write,
    )
    commands = (*held, *shared.commands)
    reasons = (*shared.reasons, *(c.reason for c in held))
    return Decision(
        mode=inputs.mode,
        effective_mode=mode,
        fallback=fallback or shared.fallback,
        requested_w=shared.requested_w,
        setpoint_w=sum(c.setpoint_w for c in shared.commands),
        reason=next((r for r in reasons if r is not LimitReason.NONE), LimitReason.NONE),
        commands=commands,
        memory=shared.memory,
    )
