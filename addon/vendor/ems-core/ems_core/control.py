"""Pure controllers for the site controller (stdlib only, no Home Assistant import).

Sign convention: battery + charging / − discharging; grid + import / − export (W).
The battery limiter (``limiter.limit``) is applied after these, always.
"""

from __future__ import annotations

import math


def _finite(value: object) -> bool:
    """Whether ``value`` is a real, finite number (bool excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _clamp(value: float, low: float, high: float) -> float:
    """``value`` held inside [low, high]."""
    return min(high, max(low, value))


class PIController:
    """Positional PI controller with clamped output and anti-windup.

    Anti-windup is conditional integration (while the error pushes the output into saturation
    the integral advances only up to the saturation point, never beyond) plus an integral held
    inside the output range; ``track`` adds back-calculation when a later stage (the limiter)
    changed the output actually applied.
    """

    def __init__(self, kp: float, ki: float, output_min: float, output_max: float) -> None:
        if not all(_finite(v) for v in (kp, ki, output_min, output_max)):
            raise ValueError("kp, ki, output_min and output_max must be finite")
        if kp < 0 or ki < 0 or output_min > output_max:
            raise ValueError("need kp >= 0, ki >= 0 and output_min <= output_max")
        self.kp = float(kp)
        self.ki = float(ki)
        self.output_min = float(output_min)
        self.output_max = float(output_max)
        self.integral = 0.0
        self.output = 0.0
        self._proportional = 0.0

    def reset(self, output: float = 0.0) -> None:
        """Restart from ``output`` (bumpless: e.g. the battery power measured now)."""
        start = float(output) if _finite(output) else 0.0
        self.integral = _clamp(start, self.output_min, self.output_max)
        self.output = self.integral
        self._proportional = 0.0

    def step(self, error: float, dt_s: float) -> float:
        """Advance ``dt_s`` seconds with ``error`` (target − measurement); return the output."""
        if not _finite(error) or not _finite(dt_s) or dt_s < 0:
            return self.output  # hold: a bad sample must not kick the loop
        proportional = self.kp * error
        candidate = self.integral + self.ki * error * dt_s
        unsaturated = proportional + candidate
        if unsaturated > self.output_max and error > 0:
            # integrate only up to saturation, never deeper into it
            candidate = max(self.integral, self.output_max - proportional)
        elif unsaturated < self.output_min and error < 0:
            candidate = min(self.integral, self.output_min - proportional)
        self.integral = _clamp(candidate, self.output_min, self.output_max)
        self._proportional = proportional
        self.output = _clamp(proportional + self.integral, self.output_min, self.output_max)
        return self.output

    def snapshot(self) -> tuple[float, float, float]:
        """The loop's state (integral, output, last proportional term), to carry between ticks."""
        return self.integral, self.output, self._proportional

    def restore(self, integral: float, output: float, proportional: float) -> None:
        """Continue from a :meth:`snapshot` (values held inside the output range)."""
        self.integral = _clamp(float(integral), self.output_min, self.output_max)
        self.output = _clamp(float(output), self.output_min, self.output_max)
        self._proportional = float(proportional) if _finite(proportional) else 0.0

    def track(self, applied: float) -> None:
        """Back-calculate the integral so the last output equals what was actually applied."""
        if not _finite(applied) or applied == self.output:
            return
        applied = _clamp(float(applied), self.output_min, self.output_max)
        self.integral = _clamp(applied - self._proportional, self.output_min, self.output_max)
        self.output = applied


def self_consumption_step(
    grid_w: float,
    target_w: float,
    controller: PIController,
    dt_s: float,
    *,
    deadband_w: float = 0.0,
) -> float:
    """Battery setpoint driving grid power to ``target_w``: importing above it → discharge more."""
    if not _finite(grid_w) or not _finite(target_w):
        return controller.output
    error = target_w - grid_w
    if abs(error) <= deadband_w:
        error = 0.0
    return controller.step(error, dt_s)


def peak_shaving_setpoint(
    grid_w: float,
    battery_w: float,
    import_threshold_w: float,
    recharge_threshold_w: float,
    export_cap_w: float | None = None,
    *,
    charge_max_w: float = math.inf,
    discharge_max_w: float = math.inf,
) -> float:
    """Battery setpoint for peak shaving, from the site load seen without the battery.

    Discharge so that grid import does not exceed ``import_threshold_w``; below
    ``recharge_threshold_w`` charge so that import rises to it; otherwise idle. With
    ``export_cap_w`` set, never export more than it (charge more / discharge less). Using the
    net load (grid − battery) makes the rule stateless and free of on/off oscillation.
    Non-finite measurements give 0 W.
    """
    if recharge_threshold_w > import_threshold_w:
        raise ValueError("recharge_threshold_w must not exceed import_threshold_w")
    if not _finite(grid_w) or not _finite(battery_w):
        return 0.0
    net = grid_w - battery_w
    if net > import_threshold_w:
        setpoint = import_threshold_w - net
    elif net < recharge_threshold_w:
        setpoint = recharge_threshold_w - net
    else:
        setpoint = 0.0
    if export_cap_w is not None and net + setpoint < -export_cap_w:
        setpoint = -export_cap_w - net
    return _clamp(setpoint, -discharge_max_w, charge_max_w)


def split_setpoint(total_w: float, batteries: list[tuple[float, float]]) -> list[float]:
    """Share a site setpoint between batteries, as a cluster master does.

    ``batteries`` holds, per battery, the energy it has available in the requested direction
    (Wh: room to charge, or energy above its floor to discharge) and its power cap in that
    direction (W, >= 0). Power goes in proportion to available energy, never above a cap; what a
    capped battery cannot take is shared again among the others. The result has the sign of
    ``total_w`` and sums to it, or to the sum of the caps if that is smaller.
    """
    count = len(batteries)
    if not _finite(total_w) or total_w == 0 or count == 0:
        return [0.0] * count
    sign = 1.0 if total_w > 0 else -1.0
    caps = [max(0.0, c) if _finite(c) else 0.0 for _, c in batteries]
    # Below a milliwatt-hour an "available energy" is rounding noise (and denormals misbehave).
    weights = [e if _finite(e) and e > 1e-3 else 0.0 for e, _ in batteries]
    if not any(w > 0 and c > 0 for w, c in zip(weights, caps, strict=True)):
        weights = caps  # no energy information: share by power
    shares = [0.0] * count
    remaining = min(abs(total_w), sum(caps))
    open_ = {i for i in range(count) if caps[i] > 0 and weights[i] > 0}
    while remaining > 1e-9 and open_:
        weight = sum(weights[i] for i in open_)
        capped = {i for i in open_ if shares[i] + remaining * weights[i] / weight >= caps[i]}
        if not capped:
            for i in open_:
                shares[i] += remaining * weights[i] / weight
            remaining = 0.0
            break
        for i in capped:
            remaining -= caps[i] - shares[i]
            shares[i] = caps[i]
        open_ -= capped
    if remaining > 1e-9:  # only batteries reporting no available energy have room left
        for i in range(count):
            take = min(caps[i] - shares[i], remaining)
            shares[i] += take
            remaining -= take
    return [sign * s for s in shares]
