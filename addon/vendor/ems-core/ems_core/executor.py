"""The one executor: the plan step's intent and what is measured now → the site battery request.

Pure, like ``decide`` that calls it in ``auto``. Kinds (``contract.INTENT_KINDS``):

* ``self_consumption``: the grid to 0 W (``decide`` runs its PI loop on the real grid power);
* ``hold``: no discharge; PV surplus may be stored (the PI loop, never below 0 W);
* ``charge`` / ``discharge`` / ``export``: the power that brings the measured SOC to the step's
  ``soc_target_pct`` by the end of the step (so a late or early start is caught up, and a
  target reached early stops the battery), the planned ``power_w`` when the SOC is not known.
  ``charge`` never discharges, and when its reason is ``store_pv_surplus`` (the plan exported
  the rest) it never imports to charge either: at most the measured surplus; ``discharge`` never
  discharges into the grid (at most the house's net load); ``export`` may.

The request goes through the limiter afterwards, like every other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import math
from typing import Any

# The last minute of a step is not squeezed: a target is tracked over at least this long.
MIN_TRACKING_S = 60.0
EFFICIENCY = 0.95  # one way, when a device gives none (SOC ↔ AC power, the plan's model)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, kw_only=True)
class Intent:
    """One step's intent, as in the plan."""

    kind: str
    power_w: float | None = None
    soc_target_pct: float | None = None
    reason: str | None = None

    @classmethod
    def from_plan(cls, data: Mapping[str, Any] | None) -> Intent | None:
        """The intent of a validated plan step, or None."""
        if not data:
            return None
        return cls(
            kind=str(data["kind"]),
            power_w=data.get("power_w"),
            soc_target_pct=data.get("soc_target_pct"),
            reason=data.get("reason"),
        )

    @property
    def follows_grid(self) -> bool:
        """Whether the grid power drives it (a PI loop), not a power of its own."""
        return self.kind in ("self_consumption", "hold")


@dataclass(frozen=True, kw_only=True)
class Measured:
    """What the executor reads of the site now."""

    soc_pct: float | None
    capacity_wh: float | None
    net_w: float | None  # grid power with the batteries at 0 W (+ import)
    step_left_s: float | None  # time to the end of the plan step


def tracking_power(intent: Intent, measured: Measured) -> float | None:
    """AC power (+ charge) that brings the SOC to the step's target at its end, or None."""
    soc, capacity, target = measured.soc_pct, measured.capacity_wh, intent.soc_target_pct
    left = measured.step_left_s
    if not (_finite(soc) and _finite(capacity) and _finite(target) and _finite(left)):
        return None
    if capacity <= 0:  # type: ignore[operator]
        return None
    energy_wh = (target - soc) / 100.0 * capacity  # type: ignore[operator]
    hours = max(left, MIN_TRACKING_S) / 3600.0  # type: ignore[type-var]
    if energy_wh >= 0:
        return energy_wh / EFFICIENCY / hours
    return energy_wh * EFFICIENCY / hours


def execute(intent: Intent, measured: Measured) -> float | None:
    """The site request for a ``charge``, ``discharge`` or ``export`` intent (W, + charge).

    None for the kinds that follow the grid (``decide`` runs its PI loop for them) and when
    nothing sensible can be asked (no SOC and no planned power).
    """
    if intent.follows_grid:
        return None
    power = tracking_power(intent, measured)
    if power is None:
        power = intent.power_w if _finite(intent.power_w) else None
    if power is None:
        return None
    if intent.kind == "charge":
        power = max(0.0, float(power))
        if intent.reason == "store_pv_surplus":  # an unknown surplus stores nothing
            net = measured.net_w
            surplus = -float(net) if _finite(net) else 0.0  # type: ignore[arg-type]
            power = min(power, max(0.0, surplus))
        return power
    power = min(0.0, float(power))
    if intent.kind == "discharge" and _finite(measured.net_w):
        power = max(power, min(0.0, -float(measured.net_w)))  # type: ignore[arg-type]
    return power


def settled(
    intent: Intent | None, measured: Measured, planned_w: float | None = None
) -> float | None:
    """The request once settled, for a whole step (``ems-optimizer simulate``).

    For the grid-following kinds it is where ``decide``'s PI loop converges: the battery takes
    the net load (``self_consumption``: −net; ``hold``: only a surplus, max(0, −net)). For the
    others it is :func:`execute`. Without an intent (an older plan): the planned power.
    """
    if intent is None:
        return planned_w
    if intent.follows_grid:
        if not _finite(measured.net_w):
            return None
        balance = -float(measured.net_w)  # type: ignore[arg-type]
        return max(0.0, balance) if intent.kind == "hold" else balance
    return execute(intent, measured)
