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
    starts: list[int] = prepared.data["starts"]
    power = Power.zero(model.horizon.steps)
    kept = repair_include(model, prepared)
    chosen: dict[int, Any] = {}
    if len(starts) == 1 and kept is None:
        # nothing to choose: the profile at its only start
        for offset, watts in enumerate(prepared.spec["profile_w"]):
            power.constant[starts[0] + offset] += watts
    else:
        chosen = _start_binaries(model, prepared, power)
        # exactly one start, or none when left out in repair mode
        terms = [(y, 1.0) for y in chosen.values()]
        if kept is not None:
            model.constrain([*terms, (kept, -1.0)], "==", 0.0)
        else:
            model.constrain(terms, "==", 1.0)

    def result() -> Result:
        if chosen:
            picked = [s for s, y in chosen.items() if on(y)]
            return _result(model.horizon, prepared, picked[0] if picked else None)
        return _result(model.horizon, prepared, starts[0])

    repair = Repair(lambda: on(kept), lambda: 0.0) if kept is not None else None
    return Built(power, result, repair)


def _start_binaries(model: Model, prepared: Prepared, power: Power) -> dict[int, Any]:
    """y_s ∈ {0,1} per admissible start, priced late and later, adding its shifted profile."""
    profile = prepared.spec["profile_w"]
    chosen: dict[int, Any] = {}
    for s in prepared.data["starts"]:
        y = model.var("cycle_start", binary=True)
        chosen[s] = y
        model.cost(y, _start_cost_meur(model, prepared, s))
        for offset, watts in enumerate(profile):
            if watts:
                power.terms[s + offset].append((y, watts))
    return chosen


def _start_cost_meur(model: Model, prepared: Prepared, s: int) -> float:
    """Starting at s: later is a hair dearer, late past the deadline, moved from the last plan."""
    late_meur: dict[int, float] = prepared.data["late_meur"]
    cost = EPSILON_TIME_MEUR * s / model.horizon.steps + late_meur.get(s, 0.0)
    stability = model.stability
    previous_start = stability.appliance_start.get(prepared.ident) if stability else None
    if stability and previous_start is not None and 0 <= previous_start != s:
        cost += stability.move_start_meur
    return cost


def _result(horizon: Horizon, prepared: Prepared, start: int | None) -> Result:
    """The profile from its start, warning when it ends past the deadline."""
    profile = prepared.spec["profile_w"]
    series = [0.0] * horizon.steps
    out = Result(series, start)
    if start is not None:
        for offset, watts in enumerate(profile):
            series[start + offset] = float(watts)
        end = start + len(profile)
        deadline: int = prepared.data["deadline"]
        if end > deadline:
            message = (
                f"cannot end by its deadline {when(horizon, deadline)}: "
                f"ends at {when(horizon, end)}"
            )
            out.warnings.append(PlanWarning("WARN_CONSTRAINT", prepared.ident, message))
    return out


def reduce(prepared: Prepared, shortfall: float) -> None:
    """A cycle runs whole or not at all: nothing to reduce."""
