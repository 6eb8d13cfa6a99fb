"""The re-planning price of an on/off binary: switching against the previous plan costs a little."""

from __future__ import annotations

from ems_optimizer.model.core import Model


def flip_cost_meur(model: Model, was_on: bool | None) -> float:
    """The coefficient on a binary x of switching against the previous plan (m€).

    (1 − x) if it was on: the constant goes into the objective, −price is returned; x if it was
    off: +price; 0 when there is no previous plan for the step.
    """
    stability = model.stability
    if stability is None or was_on is None:
        return 0.0
    if was_on:
        model.objective_constant += stability.step_change_meur
        return -stability.step_change_meur
    return stability.step_change_meur
