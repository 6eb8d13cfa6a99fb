"""One community round: every member's plan, chosen for the community's grid flow.

The joint problem (every home's MILP, coupled by the community's import) is solved by block
coordinate descent: each member in turn re-plans its own exact MILP against the others' current
net (`Shared`), so one home's surplus feeds another's load. A pass visits every flexible member;
the first places each one against what is already planned (valley filling), later passes keep a
member's new plan only if it lowers the community's objective, so the objective never rises.
Members' sub-problems run on any `concurrent.futures.Executor` (a local process pool, or a Dask
cluster's executor); a few run at once against the same total, each result applied on arrival.

The objective: `import` (ELFE's: the kWh the community draws from the grid) or `cost` (the
community's import and export at the mean of the members' prices, export clipped to import).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
import logging
import math
import time
from typing import Any

from ems_core.contract import Plan, Scenario
from ems_optimizer.model.site import Shared, SolverSettings
from ems_optimizer.planner import PlanOptions, plan

from .protocol import fixed_net, relaxed

_LOGGER = logging.getLogger(__name__)

COMMUNITY_OBJECTIVES = ("import", "cost")


@dataclass(frozen=True)
class RoundSettings:
    """How a round is solved."""

    objective: str = "import"
    own_share: float = 1e-3  # a member's own objective, as a tie-breaker
    max_passes: int = 4
    budget_s: float = 50.0  # passes after the first stop here
    deadline_s: float = 150.0  # the first pass starts no member after this: they plan alone
    member_time_limit_s: float = 5.0
    tolerance: float = 1e-3  # a later pass keeps a change only if it gains more (kWh or €)


@dataclass
class RoundResult:
    """A solved round: each member's plan, or why it has none."""

    plans: dict[str, Plan]
    failed: dict[str, str]  # member → why no plan could be made for it
    net_w: list[float]  # the community's grid flow per step (+ import)
    objective: float  # the community's objective (kWh imported, or €)
    passes: int
    solves: int
    elapsed_s: float
    history: list[float] = field(default_factory=list)  # the objective after each pass
    pass_s: list[float] = field(default_factory=list)  # when each pass ended (s from the start)


def community_weights(
    scenarios: Iterable[Scenario], objective: str
) -> tuple[list[float], list[float]]:
    """Per-step weights of the community's import and export (per kWh)."""
    items = list(scenarios)
    steps = items[0]["horizon_steps"]
    if objective == "import":
        return [1.0] * steps, [0.0] * steps
    imports = [s["import_price_eur_per_kwh"] or [0.0] * steps for s in items]
    exports = [s["export_price_eur_per_kwh"] or [0.0] * steps for s in items]
    w_in = [sum(p[t] for p in imports) / len(items) for t in range(steps)]
    w_out = [min(sum(p[t] for p in exports) / len(items), w_in[t]) for t in range(steps)]
    return w_in, w_out


def community_objective(
    net_w: list[float], weights: tuple[list[float], list[float]], dt_h: float
) -> float:
    """The community's objective for its net flow (kWh or €)."""
    w_in, w_out = weights
    return sum(
        dt_h / 1000 * (w_in[t] * max(n, 0.0) - w_out[t] * max(-n, 0.0)) for t, n in enumerate(net_w)
    )


def flexibility(scenario: Scenario) -> float:
    """How much a member can move (Wh): its battery and its appliances' energy."""
    battery = scenario["battery"]
    total = battery["capacity_wh"] if battery else 0.0
    dt_h = scenario["step_minutes"] / 60
    for appliance in scenario["appliances"]:
        if "energy_wh" in appliance:
            total += appliance["energy_wh"]
        elif "profile_w" in appliance:
            total += sum(appliance["profile_w"]) * dt_h
        else:
            total += appliance.get("max_power_w", appliance.get("comfort_power_w", 0.0)) * dt_h
    return total


def _checked_net(net: list[float], steps: int) -> list[float]:
    if len(net) != steps or not all(math.isfinite(x) for x in net):
        raise ValueError(f"load and PV need {steps} finite values")
    return net


def solve_member(
    scenario: Scenario, shared: Shared | None, time_limit_s: float
) -> tuple[Plan | None, str | None]:
    """One member's plan (alone without `shared`); a worker's task, so it never raises."""
    options = PlanOptions(solver=SolverSettings(time_limit_s=time_limit_s, threads=1))
    try:
        return plan(scenario, options=options, shared=shared), None
    except Exception as err:  # one member's failure never stops the round
        return None, f"{type(err).__name__}: {err}"[:300]


def _run(
    executor: Executor | None, task: Callable[..., Any], *args: Any
) -> Future[tuple[Plan | None, str | None]]:
    """Submit to the executor, or run here and wrap the result."""
    if executor is not None:
        return executor.submit(task, *args)
    future: Future[tuple[Plan | None, str | None]] = Future()
    future.set_result(task(*args))
    return future


class _Round:
    """The state of a round in progress: the community's total and each member's share of it."""

    def __init__(self, scenarios: Mapping[str, Scenario], settings: RoundSettings) -> None:
        first = next(iter(scenarios.values()))
        self.scenarios = scenarios
        self.settings = settings
        self.steps = first["horizon_steps"]
        self.dt_h = first["step_minutes"] / 60
        self.weights = community_weights(scenarios.values(), settings.objective)
        self.plans: dict[str, Plan] = {}
        self.failed: dict[str, str] = {}
        self.net: dict[str, list[float]] = {}
        for ident, scenario in scenarios.items():
            try:
                self.net[ident] = _checked_net(fixed_net(scenario), self.steps)
            except (TypeError, ValueError, KeyError) as err:
                self.failed[ident] = f"unusable problem: {err}"[:300]
        self.total = [sum(n[t] for n in self.net.values()) for t in range(self.steps)]
        self.solves = 0

    def objective(self, total: list[float] | None = None) -> float:
        return community_objective(total or self.total, self.weights, self.dt_h)

    def shared(self, ident: str) -> Shared:
        own = self.net[ident]
        background = [self.total[t] - own[t] for t in range(self.steps)]
        return Shared(background, *self.weights, own_share=self.settings.own_share)

    def offer(self, ident: str, result: Plan | None, error: str | None, *, first: bool) -> bool:
        """Take a member's new plan: always on its first pass, later only if it gains."""
        self.solves += 1
        if result is None:
            if first:
                self.failed[ident] = error or "no plan"
            return False
        old, new = self.net[ident], result["grid_w"]
        total = [self.total[t] - old[t] + new[t] for t in range(self.steps)]
        if not first and self.objective(total) > self.objective() - self.settings.tolerance:
            return False
        if not first and not relaxed(result) <= relaxed(self.plans[ident]):
            return False  # gains bought by leaving out what the member asked for
        self.total, self.net[ident] = total, list(new)
        self.plans[ident] = result
        return True

    def sweep(
        self,
        order: list[str],
        executor: Executor | None,
        workers: int,
        *,
        first: bool,
        deadline: float = math.inf,
    ) -> int:
        """One pass over `order`, `workers` sub-problems in flight; how many plans changed.

        No sub-problem starts after `deadline`: in the first pass, the members not reached
        have no plan (they plan alone), in later passes they keep theirs.
        """
        limit = self.settings.member_time_limit_s
        pending: dict[Future[Any], str] = {}
        queue = list(order)
        changed = 0
        while queue or pending:
            if time.perf_counter() > deadline:
                for ident in queue:
                    if first:
                        self.failed[ident] = "not reached before the round's deadline"
                queue.clear()
                if not pending:
                    break
            while queue and len(pending) < max(workers, 1):
                ident = queue.pop(0)
                future = _run(
                    executor, solve_member, self.scenarios[ident], self.shared(ident), limit
                )
                pending[future] = ident
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                ident = pending.pop(future)
                changed += self.offer(ident, *future.result(), first=first)
        return changed


def run_round(
    scenarios: Mapping[str, Scenario],
    settings: RoundSettings | None = None,
    executor: Executor | None = None,
    workers: int = 1,
) -> RoundResult:
    """Plan every member of a round (validated scenarios on one step grid) for the community."""
    settings = settings or RoundSettings()
    if not scenarios:
        raise ValueError("a round needs at least one member")
    began = time.perf_counter()
    state = _Round(scenarios, settings)
    order = sorted(state.net, key=lambda i: (-flexibility(scenarios[i]), i))
    state.sweep(order, executor, workers, first=True, deadline=began + settings.deadline_s)
    history = [state.objective()]
    pass_s = [time.perf_counter() - began]
    passes = 1
    flexible = [i for i in order if flexibility(scenarios[i]) > 0 and i in state.plans]
    deadline = began + settings.budget_s
    while passes < settings.max_passes and flexible and time.perf_counter() < deadline:
        changed = state.sweep(flexible, executor, workers, first=False, deadline=deadline)
        passes += 1
        history.append(state.objective())
        pass_s.append(time.perf_counter() - began)
        if not changed:
            break
    elapsed = time.perf_counter() - began
    _LOGGER.debug("round: %d members, %d passes, %.1f s", len(scenarios), passes, elapsed)
    return RoundResult(
        state.plans,
        state.failed,
        state.total,
        state.objective(),
        passes,
        state.solves,
        elapsed,
        history,
        pass_s,
    )


def plan_alone(
    scenarios: Mapping[str, Scenario],
    executor: Executor | None = None,
    time_limit_s: float = 5.0,
    *,
    workers: int = 2,
    cancelled: Callable[[], bool] = lambda: False,
) -> dict[str, Plan]:
    """Each member's plan on its own (what it does without the community).

    At most `workers` in flight, so that a round started meanwhile is not queued behind them;
    stops early when `cancelled()` says so.
    """
    queue = list(scenarios)
    pending: dict[Future[Any], str] = {}
    plans = {}
    while (queue or pending) and not cancelled():
        while queue and len(pending) < max(workers, 1):
            ident = queue.pop(0)
            pending[_run(executor, solve_member, scenarios[ident], None, time_limit_s)] = ident
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            ident = pending.pop(future)
            result, _ = future.result()
            if result is not None:
                plans[ident] = result
    return plans
