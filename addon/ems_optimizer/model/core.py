"""The shared MILP: a thin layer over PuLP that builders add variables, costs and power to.

Units inside the model: powers in W, energies in Wh, temperatures in °C, time steps of `dt_h`
hours. The objective is in milli-euros (W × h × €/kWh = m€), which keeps its coefficients near 1
for HiGHS' tolerances; `OBJECTIVE_SCALE` converts back to euros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math
from typing import Any

import pulp

from ems_core.contract import parse_time

OBJECTIVE_SCALE = 1000.0  # model units (m€) per euro

# Soft-constraint prices, in € per kWh moved outside what the user asked for.
OUT_OF_WINDOW_EUR_PER_KWH = 5.0
LATE_EUR_PER_KWH = 20.0
# Tie-breakers: far below any real price difference, above HiGHS' tolerances.
EPSILON_TIME_MEUR = 1e-3  # per appliance over the whole horizon: earlier is better on ties
EPSILON_THROUGHPUT_EUR_PER_KWH = 1e-4  # battery throughput and PV curtailment
EPSILON_ENERGY_EUR_PER_KWH = 1e-4  # continuous appliance power: earlier is better on ties

type Term = tuple[pulp.LpVariable, float]


@dataclass(frozen=True)
class Horizon:
    """The step grid of a scenario."""

    start: datetime
    step_minutes: int
    steps: int

    @property
    def dt_h(self) -> float:
        """Length of one step in hours."""
        return self.step_minutes / 60.0

    def time(self, index: int) -> datetime:
        """Start of step `index` (or boundary `index`)."""
        return self.start + timedelta(minutes=self.step_minutes * index)

    @classmethod
    def of(cls, scenario: dict[str, Any]) -> Horizon:
        """The horizon of a validated scenario."""
        return cls(
            parse_time(scenario["start"]), scenario["step_minutes"], scenario["horizon_steps"]
        )


@dataclass(frozen=True)
class Stability:
    """A previous plan aligned on the new step grid, for the re-planning penalties."""

    appliance_power_w: dict[str, list[float | None]]  # per new step; None where not covered
    appliance_start: dict[str, int | None]  # start as a new step index (may be < 0)
    battery_direction: list[int]  # +1 charging, -1 discharging, 0 idle or unknown
    move_start_meur: float
    step_change_meur: float
    battery_flip_meur_per_wh: float

    def was_on(self, ident: str, step: int) -> bool | None:
        """Whether the appliance drew power at `step` in the previous plan (None: unknown)."""
        series = self.appliance_power_w.get(ident)
        if series is None or series[step] is None:
            return None
        return series[step] > 0.5


@dataclass
class Model:
    """A MILP under construction: variables, constraints, objective terms, site power terms."""

    horizon: Horizon
    repair: bool = False  # repair mode: appliances may be left out or reduced, at a price
    stability: Stability | None = None
    problem: pulp.LpProblem = field(default_factory=lambda: pulp.LpProblem("ems", pulp.LpMinimize))
    objective: list[Term] = field(default_factory=list)
    objective_constant: float = 0.0
    repair_terms: list[Term] = field(default_factory=list)  # repair-mode prices, kept apart
    repair_constant: float = 0.0
    _count: int = 0

    def var(
        self, tag: str, low: float | None = 0.0, high: float | None = None, *, binary: bool = False
    ) -> pulp.LpVariable:
        """A new variable; `tag` only helps reading LP dumps."""
        self._count += 1
        cat = pulp.LpBinary if binary else pulp.LpContinuous
        if binary:
            low, high = 0, 1
        return self.problem.add_variable(f"{tag}_{self._count}", low, high, cat)

    def constrain(self, terms: list[Term], sense: str, rhs: float) -> None:
        """Add Σ terms (sense) rhs, with sense one of '<=', '>=', '=='."""
        expr = pulp.lpSum_vars_coefs(terms) if terms else pulp.LpAffineExpression.empty()
        if sense == "<=":
            self.problem.addConstraint(expr <= rhs)
        elif sense == ">=":
            self.problem.addConstraint(expr >= rhs)
        else:
            self.problem.addConstraint(expr == rhs)

    def cost(self, var: pulp.LpVariable, coefficient_meur: float) -> None:
        """Add coefficient × var to the objective (m€)."""
        if coefficient_meur:
            self.objective.append((var, coefficient_meur))

    def repair_cost(self, var: pulp.LpVariable, coefficient_meur: float) -> None:
        """Add coefficient × var to the objective as the price of a repair decision."""
        self.repair_terms.append((var, coefficient_meur))

    def finish_objective(self) -> None:
        """Hand the collected objective (with the repair prices, if any) to PuLP."""
        terms = self.objective + self.repair_terms
        expr = pulp.lpSum_vars_coefs(terms) if terms else pulp.LpAffineExpression.empty()
        self.problem.setObjective(expr + self.objective_constant + self.repair_constant)

    def settle_repairs(self, slack: float = 0.0) -> None:
        """Fix every repair decision at its solution value and drop its price from the objective.

        What remains is the plain objective under those decisions, solved again from the
        current solution as a warm start. `slack` loosens the fixed values a hair.
        """
        for var, _ in self.repair_terms:
            level = value(var)
            if var.cat == pulp.LpInteger:
                var.lowBound = var.upBound = round(level)
            else:
                var.lowBound = max(level - slack, 0.0)
                var.upBound = level + slack
        self.repair_terms = []
        self.repair_constant = 0.0
        self.finish_objective()


@dataclass
class Power:
    """A device's power per step, as linear terms plus a constant (W)."""

    terms: list[list[Term]]
    constant: list[float]

    @classmethod
    def zero(cls, steps: int) -> Power:
        """No power at any step."""
        return cls([[] for _ in range(steps)], [0.0] * steps)


def value(var: pulp.LpVariable | None) -> float:
    """A variable's solution value (0 when unset)."""
    if var is None:
        return 0.0
    return float(var.varValue or 0.0)


def on(var: pulp.LpVariable | None) -> bool:
    """Whether a binary is set in the solution."""
    return value(var) > 0.5


def when(horizon: Horizon, index: int) -> str:
    """A step boundary as a short local time for messages."""
    return horizon.time(index).strftime("%Y-%m-%d %H:%M")


def step_index(horizon: Horizon, moment: str, *, ceil: bool) -> int:
    """An ISO time as the first step starting at/after it (ceil) or the boundary at/before it."""
    offset = (parse_time(moment) - horizon.start) / timedelta(minutes=horizon.step_minutes)
    return math.ceil(offset - 1e-9) if ceil else math.floor(offset + 1e-9)


def index_of(spec: dict[str, Any], key: str, horizon: Horizon, *, default: int, ceil: bool) -> int:
    """An appliance's time field as a step index (`default` when the field is absent)."""
    return step_index(horizon, spec[key], ceil=ceil) if key in spec else default
