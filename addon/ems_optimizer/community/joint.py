"""The reference: every member's MILP in one joint model, solved at once (benchmarks only).

The same objective as the rounds (the community's cost plus each member's own objective at its
`own_share`), so the rounds' result can be measured against it: its optimum where HiGHS proves
one, else HiGHS' bound. Practical for tens to a few hundred members, not for a thousand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import time

import pulp

from ems_core.contract import Scenario
from ems_optimizer.model.core import OBJECTIVE_SCALE, Horizon, Model, value
from ems_optimizer.model.site import Shared, SiteModel, community_cost
from ems_optimizer.planner import PlanOptions, prepare_phase

from .rounds import community_weights


@dataclass
class JointResult:
    """The joint model's solution: each member's grid flow, the community's, and the bound."""

    solved: bool
    proven: bool
    net_w: list[float]
    members_w: dict[str, list[float]]
    objective: float | None  # the model's objective (€ or kWh, with the tie-breakers)
    bound: float | None  # HiGHS' lower bound on it
    build_s: float
    solve_s: float


def solve_joint(
    scenarios: Mapping[str, Scenario],
    objective: str = "import",
    own_share: float = 1e-3,
    time_limit_s: float = 300.0,
    gap_rel: float = 1e-4,
) -> JointResult:
    """Every member in one MILP, the community's flow priced once."""
    began = time.perf_counter()
    first = next(iter(scenarios.values()))
    horizon = Horizon.of(first)
    weights = community_weights(scenarios.values(), objective)
    shared = Shared(None, *weights, own_share=own_share)
    model = Model(horizon)
    sites = {
        ident: SiteModel(prepare_phase(scenario, PlanOptions(), shared), model)
        for ident, scenario in scenarios.items()
    }
    fixed = [0.0] * horizon.steps  # every home's net is in the terms: nothing in the background
    terms = [
        [term for site in sites.values() for term in site.net[t]] for t in range(horizon.steps)
    ]
    community_cost(model, shared, terms, fixed)
    model.finish_objective()
    build_s = time.perf_counter() - began
    began = time.perf_counter()
    solver = pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=gap_rel)
    stats = model.problem.solve(solver)
    solve_s = time.perf_counter() - began
    if not stats.has_solution:
        return JointResult(False, False, [], {}, None, None, build_s, solve_s)
    members_w = {
        ident: [sum(value(var) * k for var, k in site.net[t]) for t in range(horizon.steps)]
        for ident, site in sites.items()
    }
    net = [sum(w[t] for w in members_w.values()) for t in range(horizon.steps)]
    info = model.problem.solverModel.getInfo()
    proven = stats.status in (pulp.LpSolveStatus.Optimal, pulp.LpSolveStatus.GapLimit)
    return JointResult(
        True,
        proven,
        net,
        members_w,
        (stats.objective or 0.0) / OBJECTIVE_SCALE,
        info.mip_dual_bound / OBJECTIVE_SCALE,
        build_s,
        solve_s,
    )
