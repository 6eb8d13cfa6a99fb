"""The site model: grid, PV, battery and every appliance composed into one MILP, and its solve.

Balance per step:  import − export + pv_used − Pch + Pdis − Σ appliance power = load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import time
from typing import Any

import pulp

from . import battery as battery_model
from .appliances import BUILDERS
from .appliances.base import Built, Prepared, Result
from .core import EPSILON_THROUGHPUT_EUR_PER_KWH, OBJECTIVE_SCALE, Horizon, Model, Stability, value

IMPORT_SLACK_MEUR_PER_WH = 1e6  # repair mode: exceeding the import limit is the very last resort


@dataclass(frozen=True)
class SolverSettings:
    """How hard HiGHS tries."""

    time_limit_s: float = 25.0
    gap_rel: float = 5e-4
    gap_abs_eur: float = 1e-4
    threads: int | None = None


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

    def __init__(self, phase: Phase) -> None:
        began = time.perf_counter()
        self.phase = phase
        scenario, horizon = phase.scenario, phase.horizon
        steps, dt_h = horizon.steps, horizon.dt_h
        model = Model(horizon, repair=phase.repair, stability=phase.stability)
        self.model = model
        import_weight, export_weight = objective_prices(scenario)
        load, pv = scenario["load_w"], scenario["pv_w"]
        limit_in = scenario["grid"]["import_limit_w"]
        limit_out = scenario["grid"]["export_limit_w"]

        balance: list[list[Any]] = [[] for _ in range(steps)]
        constant = [float(x) for x in load]  # what the grid side must cover
        imports, pv_used, excess = [], [], []
        for t in range(steps):
            high_in = None if (limit_in is None or phase.import_slack) else limit_in
            imp = model.var("grid_in", 0.0, high_in)
            exp = model.var("grid_out", 0.0, limit_out)
            imports.append(imp)
            model.cost(imp, dt_h * import_weight[t])
            model.cost(exp, -dt_h * export_weight[t])
            balance[t] += [(imp, 1.0), (exp, -1.0)]
            if export_weight[t] > import_weight[t]:
                # importing and exporting at once would pay: forbid it with a direction binary
                way = model.var("grid_dir", binary=True)
                big_in = big_out = sum(load) + sum(pv) + 1e7
                if high_in is not None:
                    big_in = high_in
                if limit_out is not None:
                    big_out = limit_out
                model.constrain([(imp, 1.0), (way, -big_in)], "<=", 0.0)
                model.constrain([(exp, 1.0), (way, big_out)], "<=", big_out)
            if phase.import_slack and limit_in is not None:
                over = model.var("grid_over")
                excess.append(over)
                model.constrain([(imp, 1.0), (over, -1.0)], "<=", limit_in)
                model.repair_cost(over, dt_h * IMPORT_SLACK_MEUR_PER_WH)
            if pv[t] > 0:
                used = model.var("pv_used", 0.0, pv[t])
                pv_used.append(used)
                balance[t].append((used, 1.0))
                # a hair of price on curtailment: keep all PV unless curtailing pays
                model.objective_constant += dt_h * EPSILON_THROUGHPUT_EUR_PER_KWH * pv[t]
                model.cost(used, -dt_h * EPSILON_THROUGHPUT_EUR_PER_KWH)
            else:
                pv_used.append(None)
        self.pv_used, self.excess = pv_used, excess

        penalty = scenario.get("peak_import_penalty_eur_per_kw", 0.0)
        if penalty:
            peak = model.var("peak_in")
            model.cost(peak, penalty)  # € per kW × W = m€
            for imp in imports:
                model.constrain([(peak, 1.0), (imp, -1.0)], ">=", 0.0)

        self.battery = None
        if phase.battery is not None:
            exclusive = (
                range(steps)
                if phase.exclusive_everywhere
                else [t for t in range(steps) if import_weight[t] < 0]
            )
            self.battery = battery_model.build(
                model, phase.battery, exclusive, phase.battery_flip_meur_per_wh
            )
            _subtract(balance, constant, self.battery.power)

        self.built: dict[str, Built] = {}
        for prepared in phase.appliances:
            if prepared.ignored:
                continue
            item = BUILDERS[prepared.kind].build(model, prepared)
            self.built[prepared.ident] = item
            _subtract(balance, constant, item.power)

        for t in range(steps):
            model.constrain(balance[t], "==", constant[t])
        model.finish_objective()
        self.build_ms = (time.perf_counter() - began) * 1000

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


def _subtract(balance: list[list[Any]], constant: list[float], power: Any) -> None:
    """Move a device's power to the load side of the balance."""
    for t, terms in enumerate(power.terms):
        for var, coefficient in terms:
            balance[t].append((var, -coefficient))
        constant[t] += power.constant[t]
