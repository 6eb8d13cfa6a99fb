"""What every appliance builder shares: warnings, the prepared spec, the built result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ems_optimizer.model.core import Horizon, Model, Power

# Which appliance is left out first when the site cannot serve them all (least certain first).
EXCLUSION_RANK = {"pilot_wire_heater": 0, "cycle": 1, "ev": 2, "water_heater": 3}
EXCLUSION_MEUR = 1e6  # × (rank + 1), the price of leaving an appliance out (repair mode)
SHORTFALL_MEUR = 1e5  # the battery's whole final SOC missed: relaxed before any appliance


def shortfall_meur(kind: str) -> float:
    """Price of missing an appliance's whole target: half the price of leaving it out."""
    # a little less energy comes before leaving anything out, but a sure appliance is not
    # emptied to keep an unsure one
    return 0.5 * EXCLUSION_MEUR * (EXCLUSION_RANK.get(kind, 4) + 1)


@dataclass
class PlanWarning:
    """One plan warning (contract codes)."""

    code: str
    appliance: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The warning as the plan contract writes it."""
        return {"code": self.code, "appliance": self.appliance, "message": self.message}


@dataclass
class Prepared:
    """An appliance after the static checks and repairs, on the step grid."""

    ident: str
    kind: str
    spec: dict[str, Any]
    warnings: list[PlanWarning] = field(default_factory=list)
    ignored: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # the builder's own index-based data

    def warn(self, code: str, message: str) -> None:
        """Record a warning about this appliance."""
        self.warnings.append(PlanWarning(code, self.ident, message))

    def ignore(self, message: str) -> None:
        """Leave the appliance out of the plan, saying why."""
        self.ignored = True
        self.warn("WARN_IGNORED", message)


@dataclass
class Result:
    """What the plan says about one appliance."""

    power_w: list[float]
    start: int | None
    temperature_c: list[float] | None = None
    warnings: list[PlanWarning] = field(default_factory=list)


@dataclass
class Repair:
    """Repair-mode decisions of one appliance: kept or not, and how much of its target is missed."""

    included: Callable[[], bool]
    shortfall: Callable[[], float]  # in the builder's own target units


@dataclass
class Built:
    """An appliance in a model: its power, how to read its result, its repair decisions."""

    power: Power
    result: Callable[[], Result]
    repair: Repair | None = None


class Builder(Protocol):
    """One appliance type: a static preparation and a model builder."""

    def prepare(self, spec: dict[str, Any], horizon: Horizon) -> Prepared:
        """Map the spec onto the step grid and repair what is impossible on its own."""
        ...

    def build(self, model: Model, prepared: Prepared) -> Built:
        """Add variables and constraints; return the power expression and result reader."""
        ...

    def reduce(self, prepared: Prepared, shortfall: float) -> None:
        """Lower the target by a repair-mode shortfall (and warn)."""
        ...


def repair_include(model: Model, prepared: Prepared) -> Any:
    """In repair mode, a binary 'kept' for the appliance with its exclusion cost; else None."""
    if not model.repair:
        return None
    kept = model.var(f"keep_{prepared.kind}", binary=True)
    # cost of leaving out = EXCLUSION × (rank+1) × (1 − kept): a constant plus a negative term
    weight = EXCLUSION_MEUR * (EXCLUSION_RANK.get(prepared.kind, 4) + 1)
    model.repair_constant += weight
    model.repair_cost(kept, -weight)
    return kept
