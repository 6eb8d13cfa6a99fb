"""`ev`: EV charging, power 0 or within [min, max], a target energy by a deadline.

Semi-continuous power: a binary per step only when min_power_w > 0, plus the valid cuts
⌈E/(max·Δt)⌉ ≤ Σ on ≤ ⌊E/(min·Δt)⌋ that tighten the relaxation.
"""

from __future__ import annotations

import math
from typing import Any

from ems_optimizer.model.core import (
    EPSILON_ENERGY_EUR_PER_KWH,
    LATE_EUR_PER_KWH,
    Horizon,
    Model,
    Power,
    index_of,
    on,
    value,
    when,
)

from .base import Built, PlanWarning, Prepared, Repair, Result, repair_include, shortfall_meur
from .replanning import flip_cost_meur


def prepare(spec: dict[str, Any], horizon: Horizon) -> Prepared:
    """Admissible steps; push the deadline, then deliver less (allow_partial) or leave out."""
    prepared = Prepared(spec["id"], "ev", spec)
    steps, dt_h = horizon.steps, horizon.dt_h
    low_w, high_w = spec["min_power_w"], spec["max_power_w"]
    energy_wh = float(spec["energy_wh"])
    earliest = max(index_of(spec, "earliest_start", horizon, default=0, ceil=True), 0)
    deadline = min(index_of(spec, "deadline", horizon, default=steps, ceil=False), steps)
    late_eur_per_kwh: dict[int, float] = {}
    window = list(range(earliest, deadline))
    if energy_wh > 0 and energy_wh < low_w * dt_h:
        prepared.warn(
            "WARN_CONSTRAINT",
            f"{energy_wh:.0f} Wh is less than one step at the minimum {low_w:.0f} W: "
            f"raised to {low_w * dt_h:.0f} Wh",
        )
        energy_wh = low_w * dt_h
    if high_w * len(window) * dt_h < energy_wh - 1e-6:
        window = list(range(earliest, steps))
        late_eur_per_kwh = {k: LATE_EUR_PER_KWH for k in window if k >= deadline}
        possible_wh = high_w * len(window) * dt_h
        if possible_wh < energy_wh - 1e-6:
            if spec["allow_partial"]:
                prepared.warn(
                    "WARN_CONSTRAINT",
                    f"only {possible_wh:.0f} of {energy_wh:.0f} Wh can be charged within the "
                    "horizon: charging as much as possible",
                )
                energy_wh = possible_wh
            else:
                prepared.ignore(
                    f"{energy_wh:.0f} Wh cannot be charged within the horizon at "
                    f"{high_w:.0f} W and partial charging is not allowed"
                )
                return prepared
    prepared.data = {
        "window": window,
        "late": late_eur_per_kwh,
        "energy_wh": energy_wh,
        "deadline": deadline,
    }
    return prepared


def build(model: Model, prepared: Prepared) -> Built:
    """p_k ∈ {0} ∪ [min, max] on admissible steps, Σ p·Δt = energy."""
    # the energy as built: repair mode may lower the prepared one before this model is read
    energy_wh: float = prepared.data["energy_wh"]
    power = Power.zero(model.horizon.steps)
    kept = repair_include(model, prepared)
    full = _needs_full_power(model.horizon, prepared)
    charge: dict[int, Any] = {}
    switch: dict[int, Any] = {}
    short = None
    if kept is None and (energy_wh <= 0 or full):
        # nothing to choose: no charge at all, or full power on every admissible step
        if energy_wh > 0:
            for k in prepared.data["window"]:
                power.constant[k] += prepared.spec["max_power_w"]
    else:
        charge, switch = _charging_power(model, prepared, power)
        if kept is None:
            _energy_requirement(model, prepared, charge, switch)
        else:
            short = _partial_delivery(model, prepared, charge, kept)

    def result() -> Result:
        at_max = full and energy_wh > 0
        series = _charged_w(model.horizon, prepared, charge, switch, at_max=at_max)
        return _late_warning(model.horizon, prepared, energy_wh, series)

    repair = Repair(lambda: on(kept), lambda: value(short)) if kept is not None else None
    return Built(power, result, repair)


def _needs_full_power(horizon: Horizon, prepared: Prepared) -> bool:
    """Whether the energy takes the maximum power on every admissible step."""
    window_wh = prepared.spec["max_power_w"] * len(prepared.data["window"]) * horizon.dt_h
    return prepared.data["energy_wh"] >= window_wh - 1e-6


def _charging_power(
    model: Model, prepared: Prepared, power: Power
) -> tuple[dict[int, Any], dict[int, Any]]:
    """p_k ∈ [0, max] per admissible step (late steps priced), on/off binaries if min > 0."""
    steps, dt_h = model.horizon.steps, model.horizon.dt_h
    late: dict[int, float] = prepared.data["late"]
    charge: dict[int, Any] = {}
    switch: dict[int, Any] = {}
    for k in prepared.data["window"]:
        p = model.var("ev_w", 0.0, prepared.spec["max_power_w"])
        charge[k] = p
        # €/kWh × W × h = m€; the tie-breaker prefers earlier charging
        model.cost(p, dt_h * (late.get(k, 0.0) + EPSILON_ENERGY_EUR_PER_KWH * (1 + k / steps)))
        power.terms[k].append((p, 1.0))
        if prepared.spec["min_power_w"] > 0:
            switch[k] = _semi_continuous(model, prepared, k, p)
    return charge, switch


def _semi_continuous(model: Model, prepared: Prepared, k: int, p: Any) -> Any:
    """u_k ∈ {0,1} with min·u ≤ p ≤ max·u: the power is 0 or within [min, max]."""
    low_w, high_w = prepared.spec["min_power_w"], prepared.spec["max_power_w"]
    u = model.var("ev_on", binary=True)
    model.constrain([(p, 1.0), (u, -high_w)], "<=", 0.0)
    model.constrain([(p, 1.0), (u, -low_w)], ">=", 0.0)
    stability = model.stability
    was = stability.was_on(prepared.ident, k) if stability else None
    model.cost(u, flip_cost_meur(model, was))
    return u


def _energy_requirement(
    model: Model, prepared: Prepared, charge: dict[int, Any], switch: dict[int, Any]
) -> None:
    """Σ p·Δt = E, and the cuts ⌈E/(max·Δt)⌉ ≤ Σ u ≤ ⌊E/(min·Δt)⌋ when semi-continuous."""
    dt_h = model.horizon.dt_h
    energy_wh: float = prepared.data["energy_wh"]
    low_w, high_w = prepared.spec["min_power_w"], prepared.spec["max_power_w"]
    model.constrain([(p, dt_h) for p in charge.values()], "==", energy_wh)
    if switch:
        count = [(u, 1.0) for u in switch.values()]
        model.constrain(count, ">=", float(math.ceil(energy_wh / (high_w * dt_h) - 1e-9)))
        model.constrain(count, "<=", float(math.floor(energy_wh / (low_w * dt_h) + 1e-9)))


def _partial_delivery(model: Model, prepared: Prepared, charge: dict[int, Any], kept: Any) -> Any:
    """Repair mode: Σ p·Δt + short = E·kept, short ∈ [0, E] only with allow_partial (else None)."""
    energy_wh: float = prepared.data["energy_wh"]
    terms = [(p, model.horizon.dt_h) for p in charge.values()]
    kept_terms = [(kept, -energy_wh)]
    short = None
    if prepared.spec["allow_partial"]:
        short = model.var("ev_short", 0.0, energy_wh)
        model.repair_cost(short, shortfall_meur(prepared.kind) / max(energy_wh, 1.0))
        kept_terms.append((short, 1.0))
    model.constrain(terms + kept_terms, "==", 0.0)
    return short


def _charged_w(
    horizon: Horizon,
    prepared: Prepared,
    charge: dict[int, Any],
    switch: dict[int, Any],
    *,
    at_max: bool,
) -> list[float]:
    """The solved power per step (at least the minimum when on); `at_max`: fixed at full power."""
    low_w, high_w = prepared.spec["min_power_w"], prepared.spec["max_power_w"]
    series = [0.0] * horizon.steps
    if charge:
        for k, p in charge.items():
            watts = value(p)
            if (switch and on(switch[k])) or (not switch and watts > 1e-3):
                series[k] = max(watts, low_w)
    elif at_max:
        for k in prepared.data["window"]:
            series[k] = float(high_w)
    return series


def _late_warning(
    horizon: Horizon, prepared: Prepared, energy_wh: float, series: list[float]
) -> Result:
    """The result of a charge, warning when it goes on past the deadline."""
    active = [k for k in range(horizon.steps) if series[k] > 0]
    out = Result(series, active[0] if active else None)
    deadline: int = prepared.data["deadline"]
    late_steps = [k for k in active if k >= deadline]
    if late_steps:
        out.warnings.append(
            PlanWarning(
                "WARN_CONSTRAINT",
                prepared.ident,
                f"cannot charge {energy_wh:.0f} Wh by {when(horizon, deadline)}: "
                f"charges until {when(horizon, late_steps[-1] + 1)}",
            )
        )
    return out


def reduce(prepared: Prepared, shortfall: float) -> None:
    """Charge less, as repair mode found necessary (allow_partial only)."""
    if shortfall <= 0.5:
        return
    before = prepared.data["energy_wh"]
    prepared.data["energy_wh"] = max(before - shortfall, 0.0)
    if prepared.data["energy_wh"] < 0.5:
        prepared.ignore("the site's limits cannot supply it alongside the others: left out")
        return
    prepared.warn(
        "WARN_CONSTRAINT",
        f"the site cannot supply all of it: charges {prepared.data['energy_wh']:.0f} "
        f"of {before:.0f} Wh",
    )
