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
    horizon, spec = model.horizon, prepared.spec
    steps, watts = horizon.steps, spec["power_w"]
    needed: int = prepared.data["needed"]
    costs: dict[int, float] = prepared.data["costs"]
    power = Power.zero(steps)
    kept = repair_include(model, prepared)
    stability = model.stability
    switch: dict[int, Any] = {}
    short = None
    if needed == 0 and kept is None:
        pass
    elif needed == len(costs) and kept is None:
        for k in costs:
            power.constant[k] += watts
    else:
        for k in sorted(costs):
            x = model.var("wh_on", binary=True)
            switch[k] = x
            cost = costs[k] + EPSILON_TIME_MEUR * k / steps
            if stability:
                was = stability.was_on(prepared.ident, k)
                if was is not None:
                    # penalise flipping against the previous plan: (1 − x) if it was on, x if off
                    if was:
                        model.objective_constant += stability.step_change_meur
                        cost -= stability.step_change_meur
                    else:
                        cost += stability.step_change_meur
            model.cost(x, cost)
            power.terms[k].append((x, watts))
        terms = [(x, 1.0) for x in switch.values()]
        if kept is not None:
            short = model.var("wh_short", 0.0, float(needed))
            model.repair_cost(short, shortfall_meur(prepared.kind) / max(needed, 1))
            model.constrain([*terms, (short, 1.0), (kept, -float(needed))], "==", 0.0)
        else:
            model.constrain(terms, "==", float(needed))

    def result() -> Result:
        if switch:
            on_steps = sorted(k for k, x in switch.items() if on(x))
        else:
            on_steps = sorted(costs) if needed and needed == len(costs) else []
        series = [0.0] * steps
        for k in on_steps:
            series[k] = float(watts)
        out = Result(series, on_steps[0] if on_steps else None)
        outside = [
            k
            for k in on_steps
            if k not in prepared.data["in_window"] and k < prepared.data["deadline"]
        ]
        late = [k for k in on_steps if k >= prepared.data["deadline"]]
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
                    f"cannot deliver {spec['energy_wh']:.0f} Wh by "
                    f"{when(horizon, prepared.data['deadline'])}: "
                    f"heats until {when(horizon, late[-1] + 1)}",
                )
            )
        return out

    repair = Repair(lambda: on(kept), lambda: value(short)) if kept is not None else None
    return Built(power, result, repair)


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
