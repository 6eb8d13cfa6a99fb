"""The site model: grid, PV, battery and every appliance composed into one MILP, and its solve.

Balance per step:  import − export + pv_used − Pch + Pdis − Σ appliance power = load.

A community member (`Shared`) is planned for the community's grid flow instead of its own: the
community's import and export, given the other members' net, carry the price, and the home's own
objective only breaks ties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import time
from typing import Any

import pulp

from . import battery as battery_model
from .appliances import BUILDERS
from .appliances.base import Built, Prepared, Result
from .core import (
    EPSILON_THROUGHPUT_EUR_PER_KWH,
    OBJECTIVE_SCALE,
    Horizon,
    Model,
    Power,
    Stability,
    value,
)

IMPORT_SLACK_MEUR_PER_WH = 1e6  # repair mode: exceeding the import limit is the very last resort


@dataclass(frozen=True)
class SolverSettings:
    """How hard HiGHS tries."""

    time_limit_s: float = 25.0
    gap_rel: float = 5e-4
    gap_abs_eur: float = 1e-4
    threads: int | None = None


@dataclass(frozen=True)
class Shared:
    """What a community member's plan is priced on: the community's grid flow, not its own.

    Per step, the community's flow is `background_w` (the other members' net, + import) plus this
    home's net; its import costs `import_weight`, its export earns `export_weight` (per kWh,
    export ≤ import so the cost stays convex). The home's own objective keeps `own_share`.
    """

    background_w: list[float] | None  # None: the caller prices the community (a joint model)
    import_weight: list[float]
    export_weight: list[float]
    own_share: float = 1e-3


@dataclass
class Phase:
    """What one solve is about: the prepared devices and the mode."""

    scenario: dict[str, Any]
    horizon: Horizon
    battery: battery_model.PreparedBattery | None
    appliances: list[Prepared]
    stability: Stability | None = None
    repair: bool = False
    import_slack: bool = False  # allow (at a huge price) exceeding the import limit
    exclusive_everywhere: bool = False  # battery direction binaries at every step
    battery_flip_meur_per_wh: float = 0.0
    running_battery_w: float | None = None  # the running step's battery power, kept
    risk_margin_eur_per_kwh: float = 0.0  # planning-only price per kWh discharged
    shared: Shared | None = None  # a community member: the community's flow is priced


@dataclass
class Solution:
    """A solved phase, read back into plain numbers."""

    solved: bool
    proven: bool  # optimal within the gap (not stopped by the time limit)
    build_ms: float
    solve_ms: float
    pv_used_w: list[float] = field(default_factory=list)
    battery_w: list[float] = field(default_factory=list)
    battery_wh: list[float] = field(default_factory=list)
    appliances: dict[str, Result] = field(default_factory=dict)
    import_excess_w: list[float] = field(default_factory=list)
    kept: dict[str, bool] = field(default_factory=dict)
    shortfall: dict[str, float] = field(default_factory=dict)
    final_shortfall_wh: float = 0.0
    simultaneous: list[int] = field(default_factory=list)
    model_objective_eur: float | None = None


def objective_prices(scenario: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Per-step € per kWh weights of import and export for the scenario's objective."""
    steps = scenario["horizon_steps"]
    imp = scenario["import_price_eur_per_kwh"] or [0.0] * steps
    exp = scenario["export_price_eur_per_kwh"]
    kind = scenario["objective"]
    if kind == "cost":
        return list(imp), list(exp)
    if kind == "import":
        # 1 per kWh imported; prices only break ties
        return [1.0 + 1e-3 * p for p in imp], [1e-3 * p for p in exp]
    # self_consumption: export is worth nothing, import weighs far more than its price
    return [1.0 + p for p in imp], [0.0] * steps


class SiteModel:
    """One phase built into a MILP, solvable (again) with HiGHS."""

    def __init__(self, phase: Phase, model: Model | None = None) -> None:
        """Build the phase into a new model, or into `model` (joint: its owner finishes it)."""
        began = time.perf_counter()
        self.phase = phase
        joint = model is not None
        self.model = model or Model(phase.horizon, repair=phase.repair, stability=phase.stability)
        self.import_weight, self.export_weight = objective_prices(phase.scenario)
        # what a kWh drawn at each step is worth to the objective (the battery's stored value)
        self.value_weight = self.import_weight
        if phase.shared is not None:
            share = phase.shared.own_share
            self.import_weight = [share * w for w in self.import_weight]
            self.export_weight = [share * w for w in self.export_weight]
            self.value_weight = phase.shared.import_weight
        balance = _Balance.of_load(phase.scenario["load_w"])
        imports: list[Any] = []
        self.pv_used: list[Any] = []
        self.excess: list[Any] = []
        self.net: list[list[Any]] = []  # the home's grid flow per step (+ import), as terms
        for t in range(phase.horizon.steps):  # step by step: the variables keep their order
            imports.append(self._grid(balance, t))
            self.pv_used.append(self._pv(balance, t))
        self._peak_import(imports)
        if phase.shared is not None and phase.shared.background_w is not None:
            self._community(phase.shared, self.net)
        self.battery = self._battery(balance)
        self.built = self._appliances(balance)
        balance.constrain(self.model)
        if not joint:
            self.model.finish_objective()
        self.build_ms = (time.perf_counter() - began) * 1000

    def _grid(self, balance: _Balance, t: int) -> Any:
        """Import and export at step t, priced by the objective's weights; the import variable."""
        model, dt_h = self.model, self.phase.horizon.dt_h
        imp = model.var("grid_in", 0.0, self._import_bound_w())
        exp = model.var("grid_out", 0.0, self.phase.scenario["grid"]["export_limit_w"])
        model.cost(imp, dt_h * self.import_weight[t])
        model.cost(exp, -dt_h * self.export_weight[t])
        balance.terms[t] += [(imp, 1.0), (exp, -1.0)]
        self.net.append([(imp, 1.0), (exp, -1.0)])
        if self.export_weight[t] > self.import_weight[t]:
            self._one_direction(imp, exp)
        if self.phase.import_slack and self.phase.scenario["grid"]["import_limit_w"] is not None:
            self._import_excess(imp)
        return imp

    def _import_bound_w(self) -> float | None:
        """The import variable's upper bound: the limit, unless repair mode may exceed it."""
        limit_in = self.phase.scenario["grid"]["import_limit_w"]
        return None if (limit_in is None or self.phase.import_slack) else limit_in

    def _one_direction(self, imp: Any, exp: Any) -> None:
        """Importing and exporting at once would pay: forbid it with a direction binary."""
        scenario = self.phase.scenario
        high_in, limit_out = self._import_bound_w(), scenario["grid"]["export_limit_w"]
        way = self.model.var("grid_dir", binary=True)
        big_in = big_out = sum(scenario["load_w"]) + sum(scenario["pv_w"]) + 1e7
        if high_in is not None:
            big_in = high_in
        if limit_out is not None:
            big_out = limit_out
        self.model.constrain([(imp, 1.0), (way, -big_in)], "<=", 0.0)
        self.model.constrain([(exp, 1.0), (way, big_out)], "<=", big_out)

    def _import_excess(self, imp: Any) -> None:
        """Repair mode: import − over ≤ limit, the excess at the very last resort's price."""
        over = self.model.var("grid_over")
        self.excess.append(over)
        limit_in = self.phase.scenario["grid"]["import_limit_w"]
        self.model.constrain([(imp, 1.0), (over, -1.0)], "<=", limit_in)
        self.model.repair_cost(over, self.phase.horizon.dt_h * IMPORT_SLACK_MEUR_PER_WH)

    def _pv(self, balance: _Balance, t: int) -> Any:
        """PV used at step t, up to the forecast (None when there is none)."""
        pv_w, dt_h = self.phase.scenario["pv_w"][t], self.phase.horizon.dt_h
        if pv_w <= 0:
            return None
        used = self.model.var("pv_used", 0.0, pv_w)
        balance.terms[t].append((used, 1.0))
        # a hair of price on curtailment: keep all PV unless curtailing pays
        self.model.objective_constant += dt_h * EPSILON_THROUGHPUT_EUR_PER_KWH * pv_w
        self.model.cost(used, -dt_h * EPSILON_THROUGHPUT_EUR_PER_KWH)
        return used

    def _peak_import(self, imports: list[Any]) -> None:
        """The peak-import penalty: peak ≥ import at every step, priced per kW."""
        penalty = self.phase.scenario.get("peak_import_penalty_eur_per_kw", 0.0)
        if not penalty:
            return
        peak = self.model.var("peak_in")
        self.model.cost(peak, penalty)  # € per kW × W = m€
        for imp in imports:
            self.model.constrain([(peak, 1.0), (imp, -1.0)], ">=", 0.0)

    def _community(self, shared: Shared, net: list[list[Any]]) -> None:
        """The community's cost given the others' flow (see `community_cost`)."""
        assert shared.background_w is not None
        community_cost(self.model, shared, net, shared.background_w)

    def _battery(self, balance: _Balance) -> battery_model.BuiltBattery | None:
        """The battery, with direction binaries where they are needed (or everywhere)."""
        phase = self.phase
        if phase.battery is None:
            return None
        steps = phase.horizon.steps
        exclusive = (
            range(steps)
            if phase.exclusive_everywhere
            else [t for t in range(steps) if self.value_weight[t] < 0]
        )
        built = battery_model.build(
            self.model,
            phase.battery,
            exclusive,
            phase.battery_flip_meur_per_wh,
            stored_value_eur_per_kwh=battery_model.stored_energy_value(
                phase.battery.spec, self.value_weight, phase.risk_margin_eur_per_kwh
            ),
            running_w=phase.running_battery_w,
            margin_eur_per_kwh=phase.risk_margin_eur_per_kwh,
        )
        balance.subtract(built.power)
        return built

    def _appliances(self, balance: _Balance) -> dict[str, Built]:
        """Every appliance not left out, by id."""
        built: dict[str, Built] = {}
        for prepared in self.phase.appliances:
            if prepared.ignored:
                continue
            item = BUILDERS[prepared.kind].build(self.model, prepared)
            built[prepared.ident] = item
            balance.subtract(item.power)
        return built

    def solve(
        self, settings: SolverSettings, time_left_s: float, *, warm: bool = False
    ) -> Solution:
        """Solve with HiGHS (from the current solution if `warm`) and read the solution back."""
        began = time.perf_counter()
        solver = pulp.HiGHS(
            msg=False,
            timeLimit=max(time_left_s, 0.5),
            gapRel=settings.gap_rel,
            gapAbs=settings.gap_abs_eur * OBJECTIVE_SCALE,
            threads=settings.threads,
            warmStart=warm,
        )
        stats = self.model.problem.solve(solver)
        solve_ms = (time.perf_counter() - began) * 1000
        build_ms, self.build_ms = self.build_ms, 0.0  # counted once
        if not stats.has_solution:
            return Solution(False, False, build_ms, solve_ms)
        proven = stats.status in (pulp.LpSolveStatus.Optimal, pulp.LpSolveStatus.GapLimit)
        solution = Solution(True, proven, build_ms, solve_ms)
        solution.model_objective_eur = (stats.objective or 0.0) / OBJECTIVE_SCALE
        pv = self.phase.scenario["pv_w"]
        solution.pv_used_w = [
            pv[t] if u is None else min(max(value(u), 0.0), pv[t])
            for t, u in enumerate(self.pv_used)
        ]
        if self.battery is not None:
            solution.battery_w, solution.battery_wh = self.battery.result()
            solution.final_shortfall_wh = self.battery.final_shortfall()
            solution.simultaneous = battery_model.simultaneous_steps(self.battery)
        solution.import_excess_w = [value(x) for x in self.excess]
        for prepared in self.phase.appliances:
            item = self.built.get(prepared.ident)
            if item is None:
                continue
            solution.appliances[prepared.ident] = item.result()
            if item.repair is not None:
                solution.kept[prepared.ident] = item.repair.included()
                solution.shortfall[prepared.ident] = item.repair.shortfall()
        return solution


def community_cost(
    model: Model, shared: Shared, net: list[list[Any]], background_w: list[float]
) -> None:
    """Per step, c ≥ weight × dt × (background + net) for the import and the export weight.

    `net` holds the terms of one home's grid flow per step, or of every home's (a joint model).
    """
    dt_h = model.horizon.dt_h
    for t, terms in enumerate(net):
        cost = model.var("community", None, None)
        model.cost(cost, 1.0)
        for weight in {shared.import_weight[t], shared.export_weight[t]}:
            factor = dt_h * weight
            model.constrain(
                [(cost, 1.0)] + [(var, -factor * k) for var, k in terms],
                ">=",
                factor * background_w[t],
            )


@dataclass
class _Balance:
    """The site balance per step: grid-side terms = what they must cover (W)."""

    terms: list[list[Any]]
    constant: list[float]  # the load, plus every device's fixed power

    @classmethod
    def of_load(cls, load_w: list[float]) -> _Balance:
        """Nothing on the grid side yet; the load to cover."""
        return cls([[] for _ in load_w], [float(x) for x in load_w])

    def subtract(self, power: Power) -> None:
        """Move a device's power to the load side of the balance."""
        for t, terms in enumerate(power.terms):
            for var, coefficient in terms:
                self.terms[t].append((var, -coefficient))
            self.constant[t] += power.constant[t]

    def constrain(self, model: Model) -> None:
        """Σ grid-side terms = load side, at every step."""
        for t, terms in enumerate(self.terms):
            model.constrain(terms, "==", self.constant[t])
