"""The one battery limiter: applied last to every battery setpoint, whatever its source.

Pure Python (stdlib only), so it can be property-tested and reused outside Home Assistant.

Sign convention: + charging, − discharging (W, AC side).

Conservative choices, all documented here:

* A non-finite or non-numeric setpoint gives 0 W with reason ``invalid_input``.
* Unknown state gives 0 W with reason ``unknown_state``: the state of charge is always required;
  the cell voltages are required when the limits define ``cell_v_min``/``cell_v_max``, and the
  temperature when the limits define ``t_charge_min_c``/``t_max_c``. NaN/inf counts as unknown.
  Both reasons are reported even when 0 W was requested, so a "limit reason" sensor shows why the
  battery cannot run.
* Charging that is not allowed from the grid (``can_charge_from_grid`` false: reason
  ``capability``; ``grid_charge_allowed`` false: reason ``grid_charging_off``) is held to
  ``pv_surplus_w``; an unknown surplus means 0 W.
* Stopping is never ramp-limited: any move toward 0 W is applied at once. Crossing zero is a stop
  followed by a ramp from 0 W, so the result lies in
  ``[min(previous, 0) − ramp·dt, max(previous, 0) + ramp·dt]``.
* An unknown or non-finite ``previous_w`` is taken as 0 W; an unknown, negative or non-finite
  ``dt_s`` as 0 s (no increase at all).

The reason is the binding constraint that changed the value (the last one applied); ties between
static constraints are reported in the order power, capability, SOC, cell voltage, temperature.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import math


class LimitReason(StrEnum):
    """Which constraint set the limited value (for a "limit reason" sensor)."""

    NONE = "none"
    POWER = "power"
    SOC_MAX = "soc_max"
    SOC_MIN = "soc_min"
    CELL_VOLTAGE_HIGH = "cell_voltage_high"
    CELL_VOLTAGE_LOW = "cell_voltage_low"
    TEMPERATURE = "temperature"
    RAMP = "ramp"
    CAPABILITY = "capability"
    UNKNOWN_STATE = "unknown_state"
    INVALID_INPUT = "invalid_input"
    GRID_CHARGING_OFF = "grid_charging_off"  # "Charge from the grid" is off: PV surplus only
    GRID_IMPORT_LIMIT = "grid_import_limit"  # the site's grid import limit
    GRID_EXPORT_LIMIT = "grid_export_limit"  # the site's grid export limit
    ALARM = "alarm"  # the battery reports an alarm: held at 0 W
    STALE_VALUES = "stale_values"  # its values stopped changing: held at 0 W
    WRITE_FAILED = "write_failed"  # its setpoint writes fail or do not read back


def _finite(value: object) -> bool:
    """Whether ``value`` is a real, finite number (bool excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _band(distance: float, width: float) -> float:
    """Derating factor in [0, 1]: 0 at the limit, 1 at ``width`` or more inside it."""
    return min(1.0, max(0.0, distance / width))


@dataclass(frozen=True, slots=True)
class BatteryLimits:
    """Static limits and capabilities of one battery; invalid values raise ``ValueError``."""

    charge_max_w: float
    discharge_max_w: float
    soc_min_pct: float = 10.0
    soc_max_pct: float = 100.0
    cell_v_min: float | None = None
    cell_v_max: float | None = None
    cell_v_band: float = 0.05
    t_charge_min_c: float | None = 0.0
    t_max_c: float | None = 50.0
    t_band_c: float = 10.0
    ramp_w_per_s: float | None = None
    can_charge: bool = True
    can_discharge: bool = True
    can_charge_from_grid: bool = True

    def __post_init__(self) -> None:
        """Reject limits that would make the limiter meaningless."""
        for name in ("charge_max_w", "discharge_max_w"):
            value = getattr(self, name)
            if not _finite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (
            _finite(self.soc_min_pct)
            and _finite(self.soc_max_pct)
            and 0 <= self.soc_min_pct <= self.soc_max_pct <= 100
        ):
            raise ValueError("need 0 <= soc_min_pct <= soc_max_pct <= 100")
        for name in ("cell_v_min", "cell_v_max", "t_charge_min_c", "t_max_c"):
            value = getattr(self, name)
            if value is not None and not _finite(value):
                raise ValueError(f"{name} must be finite or None, got {value!r}")
        for name in ("cell_v_band", "t_band_c"):
            value = getattr(self, name)
            if not _finite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if (
            self.cell_v_min is not None
            and self.cell_v_max is not None
            and self.cell_v_min >= self.cell_v_max
        ):
            raise ValueError("cell_v_min must be below cell_v_max")
        if (
            self.t_charge_min_c is not None
            and self.t_max_c is not None
            and self.t_charge_min_c >= self.t_max_c
        ):
            raise ValueError("t_charge_min_c must be below t_max_c")
        if self.ramp_w_per_s is not None and (
            not _finite(self.ramp_w_per_s) or self.ramp_w_per_s <= 0
        ):
            raise ValueError("ramp_w_per_s must be a finite number > 0 or None")


@dataclass(frozen=True, slots=True)
class BatteryState:
    """Measured state of one battery; ``None`` (or NaN) means unknown."""

    soc_pct: float | None = None
    cell_v_min: float | None = None
    cell_v_max: float | None = None
    temperature_c: float | None = None


@dataclass(frozen=True, slots=True)
class LimitResult:
    """A limited setpoint and the constraint that set it."""

    setpoint_w: float
    reason: LimitReason

    @property
    def limited(self) -> bool:
        """Whether any constraint changed the requested value."""
        return self.reason is not LimitReason.NONE


def _state_known(limits: BatteryLimits, state: BatteryState) -> bool:
    """Whether every measurement the limits depend on is known and finite."""
    needed: list[float | None] = [state.soc_pct]
    if limits.cell_v_max is not None:
        needed.append(state.cell_v_max)
    if limits.cell_v_min is not None:
        needed.append(state.cell_v_min)
    if limits.t_charge_min_c is not None or limits.t_max_c is not None:
        needed.append(state.temperature_c)
    return all(_finite(value) for value in needed)


def _binding(candidates: list[tuple[float, LimitReason]]) -> tuple[float, LimitReason]:
    """Smallest cap and its reason (the first listed on a tie)."""
    best = candidates[0]
    for cap, reason in candidates[1:]:
        if cap < best[0]:
            best = (cap, reason)
    return best


def charge_cap(
    limits: BatteryLimits,
    state: BatteryState,
    *,
    grid_charge_allowed: bool = True,
    pv_surplus_w: float | None = None,
) -> tuple[float, LimitReason]:
    """Largest charge power (W, >= 0) allowed now, and the constraint that sets it."""
    top = limits.charge_max_w
    candidates: list[tuple[float, LimitReason]] = [(top, LimitReason.POWER)]
    if not limits.can_charge:
        candidates.append((0.0, LimitReason.CAPABILITY))
    if not (limits.can_charge_from_grid and grid_charge_allowed):
        surplus = max(0.0, pv_surplus_w) if _finite(pv_surplus_w) else 0.0
        why = (
            LimitReason.CAPABILITY
            if not limits.can_charge_from_grid
            else LimitReason.GRID_CHARGING_OFF
        )
        candidates.append((surplus, why))
    soc = state.soc_pct
    if soc is not None and soc >= limits.soc_max_pct:
        candidates.append((0.0, LimitReason.SOC_MAX))
    if limits.cell_v_max is not None and state.cell_v_max is not None:
        factor = _band(limits.cell_v_max - state.cell_v_max, limits.cell_v_band)
        candidates.append((top * factor, LimitReason.CELL_VOLTAGE_HIGH))
    temp = state.temperature_c
    if temp is not None:
        if limits.t_charge_min_c is not None and temp < limits.t_charge_min_c:
            candidates.append((0.0, LimitReason.TEMPERATURE))
        if limits.t_max_c is not None:
            factor = _band(limits.t_max_c - temp, limits.t_band_c)
            candidates.append((top * factor, LimitReason.TEMPERATURE))
    return _binding(candidates)


def discharge_cap(limits: BatteryLimits, state: BatteryState) -> tuple[float, LimitReason]:
    """Largest discharge power (W, >= 0) allowed now, and the constraint that sets it."""
    top = limits.discharge_max_w
    candidates: list[tuple[float, LimitReason]] = [(top, LimitReason.POWER)]
    if not limits.can_discharge:
        candidates.append((0.0, LimitReason.CAPABILITY))
    soc = state.soc_pct
    if soc is not None and soc <= limits.soc_min_pct:
        candidates.append((0.0, LimitReason.SOC_MIN))
    if limits.cell_v_min is not None and state.cell_v_min is not None:
        factor = _band(state.cell_v_min - limits.cell_v_min, limits.cell_v_band)
        candidates.append((top * factor, LimitReason.CELL_VOLTAGE_LOW))
    if limits.t_max_c is not None and state.temperature_c is not None:
        factor = _band(limits.t_max_c - state.temperature_c, limits.t_band_c)
        candidates.append((top * factor, LimitReason.TEMPERATURE))
    return _binding(candidates)


def limit(
    setpoint_w: float,
    limits: BatteryLimits,
    state: BatteryState,
    *,
    previous_w: float | None,
    dt_s: float | None,
    grid_charge_allowed: bool = True,
    pv_surplus_w: float | None = None,
) -> LimitResult:
    """Hold a battery setpoint inside every limit; see the module docstring for the rules."""
    if not _finite(setpoint_w):
        return LimitResult(0.0, LimitReason.INVALID_INPUT)
    if not _state_known(limits, state):
        return LimitResult(0.0, LimitReason.UNKNOWN_STATE)
    value = float(setpoint_w)
    reason = LimitReason.NONE
    if value > 0:
        cap, why = charge_cap(
            limits, state, grid_charge_allowed=grid_charge_allowed, pv_surplus_w=pv_surplus_w
        )
        if value > cap:
            value, reason = cap, why
    elif value < 0:
        cap, why = discharge_cap(limits, state)
        if -value > cap:
            value, reason = -cap, why
    if limits.ramp_w_per_s is not None:
        previous = float(previous_w) if _finite(previous_w) else 0.0
        dt = float(dt_s) if _finite(dt_s) and dt_s > 0 else 0.0
        step = limits.ramp_w_per_s * dt
        low = min(previous, 0.0) - step
        high = max(previous, 0.0) + step
        if value > high:
            value, reason = high, LimitReason.RAMP
        elif value < low:
            value, reason = low, LimitReason.RAMP
    if value == 0.0:
        value = 0.0  # never report -0.0
    return LimitResult(value, reason)
