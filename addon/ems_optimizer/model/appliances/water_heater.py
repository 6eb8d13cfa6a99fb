"""`water_heater`: an on/off tank heater that must deliver its energy inside windows by a deadline.

One binary per admissible step and a cardinality constraint Σ x = n (n = ⌈energy / step energy⌉):
totally unimodular on its own, so the relaxation is tight for a lone heater.
"""

from __future__ import annotations

import math
from typing import Any

from ems_optimizer.model.core import (
    EPSILON_TIME_MEUR,
    LATE_EUR_PER_KWH,
    OUT_OF_WINDOW_EUR_PER_KWH,
    Horizon,
    Model,
    Power,
    index_of,
    on,
    step_index,
    value,
    when,
)

from .base import Built, PlanWarning, Prepared, Repair, Result, repair_include, shortfall_meur
from .replanning import flip_cost_meur


def _window_steps(spec: dict[str, Any], horizon: Horizon) -> set[int]:
    windows = spec.get("windows")
    if windows is None:
        return set(range(horizon.steps))
    allowed: set[int] = set()
    for start, end in windows:
        first = step_index(horizon, start, ceil=True)
        last = step_index(horizon, end, ceil=False)
        allowed.update(range(max(first, 0), min(last, horizon.steps)))
    return allowed


def prepare(spec: dict[str, Any], horizon: Horizon) -> Prepared:
    """Admissible steps and their soft costs: windows first, then outside them, then late."""
    prepared = Prepared(spec["id"], "water_heater", spec)
    steps, step_wh = horizon.steps, spec["power_w"] * horizon.dt_h
    needed = math.ceil(spec["energy_wh"] / step_wh - 1e-9)
    deadline = index_of(spec, "deadline", horizon, default=steps, ceil=False)
    in_window = {k for k in _window_steps(spec, horizon) if k < deadline}
    costs = dict.fromkeys(in_window, 0.0)
    if needed > steps:
        prepared.warn(
            "WARN_CONSTRAINT",
            f"{spec['energy_wh']:.0f} Wh needs {needed} steps at {spec['power_w']:.0f} W, "
            f"more than the horizon: energy reduced to {steps * step_wh:.0f} Wh",
        )
        needed = steps
    if len(costs) < needed:
        # widen the windows up to the deadline, then push the deadline: each at a price
        for k in range(steps):
            if k not in costs and k < deadline:
                costs[k] = OUT_OF_WINDOW_EUR_PER_KWH * step_wh
    if len(costs) < needed:
        for k in range(deadline, steps):
            costs[k] = LATE_EUR_PER_KWH * step_wh + (
                0.0 if k in in_window else OUT_OF_WINDOW_EUR_PER_KWH * step_wh
            )
    prepared.data = {
        "needed": needed,
        "costs": costs,
        "in_window": in_window,
        "deadline": deadline,
    }
    return prepared


def build(model: Model, prepared: Prepared) -> Built:
    """x_k ∈ {0,1} on admissible steps, Σ x = n; power = power_w · x."""
    # the step count as built: repair mode may lower the prepared one before this model is read
    needed: int = prepared.data["needed"]
    costs: dict[int, float] = prepared.data["costs"]
    power = Power.zero(model.horizon.steps)
    kept = repair_include(model, prepared)
    switch: dict[int, Any] = {}
    short = None
    if kept is None and needed in (0, len(costs)):
        # nothing to choose: no step at all, or every admissible step
        if needed:
            for k in costs:
                power.constant[k] += prepared.spec["power_w"]
    else:
        switch = _heating_steps(model, prepared, power)
        if kept is None:
            model.constrain([(x, 1.0) for x in switch.values()], "==", float(needed))
        else:
            short = _partial_heating(model, prepared, switch, kept)

    def result() -> Result:
        if switch:
            on_steps = sorted(k for k, x in switch.items() if on(x))
        else:
            on_steps = sorted(costs) if needed and needed == len(costs) else []
        return _result(model.horizon, prepared, on_steps)

    repair = Repair(lambda: on(kept), lambda: value(short)) if kept is not None else None
    return Built(power, result, repair)


def _heating_steps(model: Model, prepared: Prepared, power: Power) -> dict[int, Any]:
    """x_k ∈ {0,1} per admissible step, at its soft cost, earlier first, re-planning price."""
    steps = model.horizon.steps
    costs: dict[int, float] = prepared.data["costs"]
    stability = model.stability
    switch: dict[int, Any] = {}
    for k in sorted(costs):
        x = model.var("wh_on", binary=True)
        switch[k] = x
        was = stability.was_on(prepared.ident, k) if stability else None
        model.cost(x, costs[k] + EPSILON_TIME_MEUR * k / steps + flip_cost_meur(model, was))
        power.terms[k].append((x, prepared.spec["power_w"]))
    return switch


def _partial_heating(model: Model, prepared: Prepared, switch: dict[int, Any], kept: Any) -> Any:
    """Repair mode: Σ x + short = n·kept, short ∈ [0, n] steps missed at a price."""
    needed: int = prepared.data["needed"]
    short = model.var("wh_short", 0.0, float(needed))
    model.repair_cost(short, shortfall_meur(prepared.kind) / max(needed, 1))
    terms = [(x, 1.0) for x in switch.values()]
    model.constrain([*terms, (short, 1.0), (kept, -float(needed))], "==", 0.0)
    return short


def _result(horizon: Horizon, prepared: Prepared, on_steps: list[int]) -> Result:
    """The heating steps' power, warning about steps outside the windows or past the deadline."""
    spec, deadline = prepared.spec, prepared.data["deadline"]
    series = [0.0] * horizon.steps
    for k in on_steps:
        series[k] = float(spec["power_w"])
    out = Result(series, on_steps[0] if on_steps else None)
    outside = [k for k in on_steps if k not in prepared.data["in_window"] and k < deadline]
    late = [k for k in on_steps if k >= deadline]
    if outside:
        out.warnings.append(
            PlanWarning(
                "WARN_CONSTRAINT",
                prepared.ident,
                f"the windows are too short for {spec['energy_wh']:.0f} Wh: "
                f"{len(outside)} step(s) outside them, from {when(horizon, outside[0])}",
            )
        )
    if late:
        out.warnings.append(
            PlanWarning(
                "WARN_CONSTRAINT",
                prepared.ident,
                f"cannot deliver {spec['energy_wh']:.0f} Wh by {when(horizon, deadline)}: "
                f"heats until {when(horizon, late[-1] + 1)}",
            )
        )
    return out


def reduce(prepared: Prepared, shortfall: float) -> None:
    """Heat fewer steps, as repair mode found necessary."""
    missing = round(shortfall)
    if missing <= 0:
        return
    watts = prepared.spec["power_w"]
    before = prepared.data["needed"]
    prepared.data["needed"] = max(before - missing, 0)
    if prepared.data["needed"] == 0:
        prepared.ignore("the site's limits cannot supply it alongside the others: left out")
        return
    prepared.warn(
        "WARN_CONSTRAINT",
        f"the site cannot supply all of it: {before - prepared.data['needed']} step(s) at "
        f"{watts:.0f} W fewer than the {prepared.spec['energy_wh']:.0f} Wh asked",
    )
