"""Grid support that stacks on any mode: voltage support Q(V) and frequency response P(f).

Pure: no I/O, no clock, no Home Assistant. Each function has its own state machine
(off / armed / active / error) and a SOC reserve it keeps for itself: while a function is
armed, the modes may use the battery only inside ``[soc_min + reserve, soc_max − reserve]``
(:func:`narrowed_soc_window`, applied by ``decide``), so the function still has energy to
give and room to take when the grid needs it. The result is an *offset* added to whatever the
mode asks (P) and a reactive setpoint (Q); both then go through the one limiter, never around
it.

Signs: P + charging (ems); Q + injection (over-excited, raises the voltage: SunSpec's
convention for DER reactive power). Voltages per unit of the nominal voltage.

Q(V) follows a SunSpec / IEEE 1547 volt-var curve (points V1..V4 with a deadband between V2
and V3), limited by the inverter's apparent power S with P priority (Q ≤ √(S² − P²)) or Q
priority (P ≤ √(S² − Q²)). P(f) is a droop with a deadband (f2 … f3: no response), full
discharge at or below f1 and full charge at or above f4 (linear in between), and a fast
frequency response (FFR) mode: below the FFR trigger the full discharge power is given at once
and held for ``ffr_hold_s`` even if the frequency recovers, then released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
import math


class SupportState(StrEnum):
    """State of one grid-support function."""

    OFF = "off"  # not armed
    ARMED = "armed"  # armed, measurements good, nothing to do now
    ACTIVE = "active"  # responding
    ERROR = "error"  # armed but cannot act (no measurement, battery untrusted, SOC outside band)


class SupportError(StrEnum):
    """Why an armed function cannot act."""

    NO_VOLTAGE = "no_voltage"
    NO_FREQUENCY = "no_frequency"
    BATTERY_UNTRUSTED = "battery_untrusted"
    SOC_UNKNOWN = "soc_unknown"
    NO_GRID_POWER = "no_grid_power"  # the site has grid limits and its grid power is unknown


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _interp(points: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise-linear through ``points`` (sorted by x), flat beyond the ends."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in pairwise(points):
        if x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


@dataclass(frozen=True, slots=True)
class VoltVar:
    """A volt-var curve: (V in pu, Q as a fraction of S) points, and who wins at the S limit.

    The default is IEEE 1547-2018 category B: 0.92 / 0.98 / 1.02 / 1.08 pu, ±44 % of S.
    """

    points: tuple[tuple[float, float], ...] = (
        (0.92, 0.44),
        (0.98, 0.0),
        (1.02, 0.0),
        (1.08, -0.44),
    )
    v_nominal: float = 230.0
    q_priority: bool = False  # False: active power first (Q from what S leaves)
    reserve_pct: float = 0.0  # Q needs no energy; a reserve only for Q priority's P cut

    def __post_init__(self) -> None:
        """Refuse a curve that is not a function of V or asks more than S."""
        xs = [p[0] for p in self.points]
        if len(xs) < 2 or xs != sorted(xs) or len(set(xs)) != len(xs):
            raise ValueError("volt-var points: at least two, V strictly increasing")
        if not all(_finite(v) and _finite(q) and -1.0 <= q <= 1.0 for v, q in self.points):
            raise ValueError("volt-var points: Q between -1 and 1 of the apparent power")
        if not _finite(self.v_nominal) or self.v_nominal <= 0:
            raise ValueError("volt-var: the nominal voltage must be > 0")

    def target_q(self, voltage_v: float, s_max_va: float) -> float:
        """Q the curve asks at this voltage (var, + injection), before the S limit."""
        return _interp(self.points, voltage_v / self.v_nominal) * s_max_va


@dataclass(frozen=True, slots=True)
class FreqWatt:
    """Frequency response: f1 < f2 ≤ f3 < f4 (Hz), the SOC reserve, the FFR trigger."""

    f1: float = 49.5  # full discharge at or below
    f2: float = 49.9  # no response from f2 to f3 (the deadband)
    f3: float = 50.1
    f4: float = 50.5  # full charge at or above
    reserve_pct: float = 10.0  # SOC kept at each end for the response
    ffr_trigger_hz: float | None = None  # FFR: full discharge at once below this frequency
    ffr_hold_s: float = 5.0

    def __post_init__(self) -> None:
        """Refuse thresholds out of order, a trigger outside the band, a negative reserve."""
        values = (self.f1, self.f2, self.f3, self.f4)
        if not all(_finite(f) and 40.0 <= f <= 70.0 for f in values):
            raise ValueError("frequency thresholds must be finite, between 40 and 70 Hz")
        if not self.f1 < self.f2 <= self.f3 < self.f4:
            raise ValueError("frequency thresholds: f1 < f2 <= f3 < f4")
        if self.ffr_trigger_hz is not None and not self.f1 <= self.ffr_trigger_hz < self.f2:
            raise ValueError("FFR trigger: between f1 and f2")
        if not _finite(self.reserve_pct) or not 0.0 <= self.reserve_pct <= 50.0:
            raise ValueError("SOC reserve: between 0 and 50 %")
        if not _finite(self.ffr_hold_s) or self.ffr_hold_s < 0:
            raise ValueError("FFR hold: 0 s or more")

    def droop_share(self, frequency_hz: float) -> float:
        """Share of the full power the droop asks: −1 full discharge … +1 full charge."""
        if frequency_hz < self.f2:
            return -min(1.0, (self.f2 - frequency_hz) / (self.f2 - self.f1))
        if frequency_hz > self.f3:
            return min(1.0, (frequency_hz - self.f3) / (self.f4 - self.f3))
        return 0.0


@dataclass(frozen=True, slots=True)
class GridMeasure:
    """What the grid-support step sees: the grid at the meter and the battery side."""

    voltage_v: float | None
    frequency_hz: float | None
    battery_p_w: float  # the mode's request (+ charging) the offset stacks on
    s_max_va: float  # the inverters' apparent power
    charge_max_w: float
    discharge_max_w: float
    soc_pct: float | None
    soc_min_pct: float
    soc_max_pct: float
    trusted: bool = True  # False: a battery is held at 0 W (alarm, stale, write failed)


@dataclass(frozen=True, slots=True)
class FfrMemory:
    """The FFR's latch, carried from one step to the next."""

    until_s: float | None = None  # hold the full response until this time


@dataclass(frozen=True, slots=True)
class SupportResult:
    """One step of both functions."""

    p_state: SupportState
    q_state: SupportState
    p_offset_w: float = 0.0  # added to the mode's request (+ charging)
    p_w: float = 0.0  # the request with the offset (before the limiter)
    q_var: float = 0.0
    p_error: SupportError | None = None
    q_error: SupportError | None = None
    ffr: FfrMemory = FfrMemory()


def narrowed_soc_window(
    soc_min_pct: float, soc_max_pct: float, reserve_pct: float
) -> tuple[float, float]:
    """The SOC window the modes may use while P(f) is armed (its reserve kept at both ends)."""
    if not _finite(reserve_pct) or reserve_pct <= 0:
        return soc_min_pct, soc_max_pct
    low = min(soc_min_pct + reserve_pct, soc_max_pct)
    high = max(soc_max_pct - reserve_pct, low)
    return low, high


def reserve_of(freq: FreqWatt | None) -> float:
    """The SOC reserve an armed P(f) keeps (0 when it is not armed)."""
    return freq.reserve_pct if freq is not None else 0.0


def _frequency_offset(
    freq: FreqWatt, m: GridMeasure, now_s: float, memory: FfrMemory
) -> tuple[float, FfrMemory]:
    """The power P(f) asks (+ charging), the FFR latch updated."""
    f = float(m.frequency_hz)  # type: ignore[arg-type]
    share = freq.droop_share(f)
    until = memory.until_s
    if freq.ffr_trigger_hz is not None and f <= freq.ffr_trigger_hz:
        until = now_s + freq.ffr_hold_s
    if until is not None and f > freq.f3:
        until = None  # the frequency swung above the band: the full discharge would worsen it
    if until is not None and now_s <= until:
        share = -1.0
    elif until is not None:
        until = None
    room_up = m.soc_pct is not None and m.soc_pct < m.soc_max_pct
    room_down = m.soc_pct is not None and m.soc_pct > m.soc_min_pct
    if share < 0:
        return (share * m.discharge_max_w if room_down else 0.0), FfrMemory(until)
    return (share * m.charge_max_w if room_up else 0.0), FfrMemory(until)


def _reactive(volt: VoltVar, m: GridMeasure, p_w: float) -> tuple[float, float]:
    """Q the curve asks within S, and P (cut only with Q priority)."""
    s = max(0.0, m.s_max_va)
    q = max(-s, min(s, volt.target_q(float(m.voltage_v), s)))  # type: ignore[arg-type]
    if volt.q_priority:
        p_room = math.sqrt(max(0.0, s * s - q * q))
        return q, max(-p_room, min(p_room, p_w))
    q_room = math.sqrt(max(0.0, s * s - p_w * p_w))
    return max(-q_room, min(q_room, q)), p_w


def support_step(
    m: GridMeasure,
    *,
    freq: FreqWatt | None,
    volt: VoltVar | None,
    now_s: float,
    memory: FfrMemory | None = None,
) -> SupportResult:
    """One step of P(f) then Q(V) (``None``: the function is not armed)."""
    memory = memory or FfrMemory()
    p_state = q_state = SupportState.OFF
    p_error = q_error = None
    offset = 0.0
    if freq is not None:
        p_error = _p_error(m)
        if p_error is not None:  # the FFR latch survives a missed reading (it holds by time)
            p_state = SupportState.ERROR
        else:
            offset, memory = _frequency_offset(freq, m, now_s, memory)
            p_state = SupportState.ACTIVE if offset != 0.0 else SupportState.ARMED
    # The response replaces the mode's request when they pull apart (a mode charging while the
    # grid asks for discharge gives way), and adds to it when they agree.
    p_w = m.battery_p_w if offset == 0.0 else stack_response(m.battery_p_w, offset)
    p_w = max(-m.discharge_max_w, min(m.charge_max_w, p_w))
    q = 0.0
    if volt is not None:
        if not m.trusted:
            q_state, q_error = SupportState.ERROR, SupportError.BATTERY_UNTRUSTED
        elif not _finite(m.voltage_v):
            q_state, q_error = SupportState.ERROR, SupportError.NO_VOLTAGE
        else:
            q, p_w = _reactive(volt, m, p_w)
            q_state = SupportState.ACTIVE if abs(q) > 0.5 else SupportState.ARMED
    return SupportResult(
        p_state=p_state,
        q_state=q_state,
        p_offset_w=p_w - m.battery_p_w,
        p_w=p_w,
        q_var=q + 0.0,
        p_error=p_error,
        q_error=q_error,
        ffr=memory,
    )


def _p_error(m: GridMeasure) -> SupportError | None:
    """Why P(f) cannot act now (None: it can)."""
    if not m.trusted:
        return SupportError.BATTERY_UNTRUSTED
    if not _finite(m.frequency_hz):
        return SupportError.NO_FREQUENCY
    if not _finite(m.soc_pct):
        return SupportError.SOC_UNKNOWN
    return None


def stack_response(mode_w: float, response_w: float) -> float:
    """The mode's request with the response: the response wins where they disagree."""
    if (mode_w >= 0) == (response_w >= 0):
        return mode_w + response_w
    return response_w
