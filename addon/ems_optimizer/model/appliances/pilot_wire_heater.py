"""`pilot_wire_heater`: a non-regulated heater switched between comfort and eco by a pilot wire.

Inside its period each step is comfort (binary 1) or eco; at least ⌈ratio × steps⌉ comfort steps.
Outside the period the plan does not drive it (0 W here; its use is in the base load). Left out
in repair mode means the pilot wire's "off" order (load shedding): 0 W.
"""

from __future__ import annotations

import math
from typing import Any

from ems_optimizer.model.core import EPSILON_TIME_MEUR, Horizon, Model, Power, on, step_index, value

from .base import Built, Prepared, Repair, Result, repair_include, shortfall_meur
from .replanning import flip_cost_meur


def prepare(spec: dict[str, Any], horizon: Horizon) -> Prepared:
    """The period's steps and the number of comfort steps it needs."""
    prepared = Prepared(spec["id"], "pilot_wire_heater", spec)
    if "period" in spec:
        first = step_index(horizon, spec["period"][0], ceil=True)
        last = step_index(horizon, spec["period"][1], ceil=False)
    else:
        first, last = 0, horizon.steps
    period = list(range(max(first, 0), min(last, horizon.steps)))
    comfort = math.ceil(spec["comfort_ratio"] * len(period) - 1e-9)
    prepared.data = {
        "period": period,
        "comfort": comfort,
    }
    return prepared


def build(model: Model, prepared: Prepared) -> Built:
    """c_t ∈ {0,1} in the period, Σ c ≥ n; power = eco + (comfort − eco)·c."""
    spec = prepared.spec
    eco_w, comfort_w = spec["eco_power_w"], spec["comfort_power_w"]
    extra_w = comfort_w - eco_w
    period: list[int] = prepared.data["period"]
    needed: int = prepared.data["comfort"]
    power = Power.zero(model.horizon.steps)
    kept = repair_include(model, prepared)
    comfort: dict[int, Any] = {}
    free = extra_w > 0 and (needed < len(period) or kept is not None)
    for k in period:
        _eco_power(power, k, eco_w, kept)
        if free:
            comfort[k] = _comfort_step(model, prepared, power, k, kept)
        elif extra_w > 0:
            power.constant[k] += extra_w  # all steps comfort: nothing to choose
    short = _comfort_count(model, prepared, comfort, kept) if comfort and needed else None

    def result() -> Result:
        series = [0.0] * model.horizon.steps
        for k in period:
            if comfort:
                series[k] = float(comfort_w if on(comfort[k]) else eco_w)
            else:
                series[k] = float(comfort_w if extra_w > 0 else eco_w)
        active = [k for k in range(model.horizon.steps) if series[k] > 0]
        return Result(series, active[0] if active else None)

    repair = Repair(lambda: on(kept), lambda: value(short)) if kept is not None else None
    return Built(power, result, repair)


def _eco_power(power: Power, k: int, eco_w: float, kept: Any) -> None:
    """Eco power at every step of the period (× kept in repair mode: 0 W when left out)."""
    if kept is not None:
        power.terms[k].append((kept, eco_w))
    else:
        power.constant[k] += eco_w


def _comfort_step(model: Model, prepared: Prepared, power: Power, k: int, kept: Any) -> Any:
    """c_k ∈ {0,1}: comfort − eco more power, earlier first; c ≤ kept in repair mode."""
    spec = prepared.spec
    c = model.var("pw_comfort", binary=True)
    power.terms[k].append((c, spec["comfort_power_w"] - spec["eco_power_w"]))
    was = _was_comfort(model, prepared, k)
    model.cost(c, EPSILON_TIME_MEUR * k / model.horizon.steps + flip_cost_meur(model, was))
    if kept is not None:
        model.constrain([(c, 1.0), (kept, -1.0)], "<=", 0.0)
    return c


def _was_comfort(model: Model, prepared: Prepared, k: int) -> bool | None:
    """Whether step k was in comfort in the previous plan: its power above eco (None: unknown)."""
    stability = model.stability
    if stability is None or stability.was_on(prepared.ident, k) is None:
        return None
    previous = stability.appliance_power_w[prepared.ident][k] or 0.0
    return previous > prepared.spec["eco_power_w"] + 0.5


def _comfort_count(model: Model, prepared: Prepared, comfort: dict[int, Any], kept: Any) -> Any:
    """Σ c ≥ n; in repair mode Σ c + short ≥ n·kept, short ∈ [0, n] steps missed at a price."""
    needed: int = prepared.data["comfort"]
    terms = [(c, 1.0) for c in comfort.values()]
    if kept is None:
        model.constrain(terms, ">=", float(needed))
        return None
    short = model.var("pw_short", 0.0, float(needed))
    model.repair_cost(short, shortfall_meur(prepared.kind) / needed)
    model.constrain([*terms, (short, 1.0), (kept, -float(needed))], ">=", 0.0)
    return short


def reduce(prepared: Prepared, shortfall: float) -> None:
    """Fewer comfort steps, as repair mode found necessary."""
    missing = round(shortfall)
    if missing <= 0:
        return
    before = prepared.data["comfort"]
    prepared.data["comfort"] = max(before - missing, 0)
    prepared.warn(
        "WARN_CONSTRAINT",
        f"the site cannot supply comfort for {before} steps: "
        f"{prepared.data['comfort']} steps in comfort",
    )
