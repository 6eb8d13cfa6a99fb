"""`cycle`: one uninterruptible run of a learned power profile (washing machine, dishwasher…).

One binary per admissible start, exactly one chosen: the convex hull of a single job, and the
power is a fixed combination of those binaries (no power variables at all).
"""

from __future__ import annotations

from typing import Any

from ems_optimizer.model.core import (
    EPSILON_TIME_MEUR,
    LATE_EUR_PER_KWH,
    Horizon,
    Model,
    Power,
    index_of,
    on,
    when,
)

from .base import Built, PlanWarning, Prepared, Repair, Result, repair_include


def prepare(spec: dict[str, Any], horizon: Horizon) -> Prepared:
    """Admissible starts; push the deadline, then the earliest start, if the run cannot fit."""
    prepared = Prepared(spec["id"], "cycle", spec)
    profile = spec["profile_w"]
    length, steps = len(profile), horizon.steps
    earliest = index_of(spec, "earliest_start", horizon, default=0, ceil=True)
    deadline = index_of(spec, "deadline", horizon, default=steps, ceil=False)
    energy_wh = sum(profile) * horizon.dt_h
    late_meur: dict[int, float] = {}
    if length > steps:
        prepared.ignore(f"the cycle lasts {length} steps, longer than the {steps}-step horizon")
        return prepared
    starts = list(range(earliest, deadline - length + 1))
    if not starts and earliest + length <= steps:
        # push the deadline: later starts cost more the later they end
        starts = list(range(earliest, steps - length + 1))
        latest_ok = deadline - length
        late_meur = {
            s: LATE_EUR_PER_KWH * energy_wh * (s - latest_ok) for s in starts if s > latest_ok
        }
    elif not starts:
        starts = [steps - length]
        prepared.warn(
            "WARN_CONSTRAINT",
            f"cannot run {length} steps after {when(horizon, earliest)} within the horizon: "
            f"starts earlier, at {when(horizon, starts[0])}",
        )
    prepared.data = {
        "starts": starts,
        "late_meur": late_meur,
        "deadline": deadline,
    }
    return prepared


def build(model: Model, prepared: Prepared) -> Built:
    """Start binaries, Σ = 1 (or = kept in repair mode); power = Σ y_s · profile shifted by s."""
    horizon = model.horizon
    steps = horizon.steps
    profile = prepared.spec["profile_w"]
    starts: list[int] = prepared.data["starts"]
    late_meur: dict[int, float] = prepared.data["late_meur"]
    power = Power.zero(steps)
    kept = repair_include(model, prepared)
    stability = model.stability
    previous_start = stability.appliance_start.get(prepared.ident) if stability else None
    chosen: dict[int, Any] = {}
    if len(starts) == 1 and kept is None:
        fixed = starts[0]
        for offset, watts in enumerate(profile):
            power.constant[fixed + offset] += watts
    else:
        for s in starts:
            y = model.var("cycle_start", binary=True)
            chosen[s] = y
            cost = EPSILON_TIME_MEUR * s / steps + late_meur.get(s, 0.0)
            if stability and previous_start is not None and 0 <= previous_start != s:
                cost += stability.move_start_meur
            model.cost(y, cost)
            for offset, watts in enumerate(profile):
                if watts:
                    power.terms[s + offset].append((y, watts))
        terms = [(y, 1.0) for y in chosen.values()]
        if kept is not None:
            terms.append((kept, -1.0))
            model.constrain(terms, "==", 0.0)
        else:
            model.constrain(terms, "==", 1.0)

    def result() -> Result:
        if chosen:
            picked = [s for s, y in chosen.items() if on(y)]
            start = picked[0] if picked else None
        else:
            start = starts[0]
        series = [0.0] * steps
        out = Result(series, start)
        if start is not None:
            for offset, watts in enumerate(profile):
                series[start + offset] = float(watts)
            end = start + len(profile)
            if end > prepared.data["deadline"]:
                message = (
                    f"cannot end by its deadline {when(horizon, prepared.data['deadline'])}: "
                    f"ends at {when(horizon, end)}"
                )
                out.warnings.append(PlanWarning("WARN_CONSTRAINT", prepared.ident, message))
        return out

    repair = Repair(lambda: on(kept), lambda: 0.0) if kept is not None else None
    return Built(power, result, repair)


def reduce(prepared: Prepared, shortfall: float) -> None:
    """A cycle runs whole or not at all: nothing to reduce."""
