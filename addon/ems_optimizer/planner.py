"""Scenario → plan: the pure core of the optimizer (no I/O).

1. Validate; map every appliance onto the step grid and repair what is impossible on its own
   (push a deadline, widen windows, then reduce energy), with WARN_CONSTRAINT.
2. Solve the whole site. If that is infeasible (limits shared by all appliances), solve a repair
   model where appliances may deliver less or be left out (least certain first) and, as a last
   resort, the import limit may be exceeded (WARN_IMPOSSIBLE); then solve again with those
   decisions fixed, for the best plan under them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import math
import time
from typing import Any

from ems_core.contract import (
    Plan,
    Scenario,
    format_time,
    parse_time,
    validate_plan,
    validate_scenario,
)

from .intents import derive_intents
from .model import battery as battery_model
from .model.appliances import BUILDERS
from .model.appliances.base import PlanWarning, Prepared, Result
from .model.core import OBJECTIVE_SCALE, Horizon, Stability
from .model.site import Phase, Shared, SiteModel, Solution, SolverSettings, objective_prices
from .report import build_curves, build_report
from .stability import (
    DEFAULT_THRESHOLD_EUR,
    Previous,
    RunningStep,
    carry_over,
    finish_kept,
    running_step,
    worth,
)

RISK_MARGIN_EUR_PER_KWH = 0.02


@dataclass(frozen=True)
class PlanOptions:
    """Solver and re-planning settings."""

    solver: SolverSettings = field(default_factory=SolverSettings)
    move_start_eur: float = 0.02  # keeping an appliance's previous start is worth this much
    step_change_eur: float = 0.002  # per step switched against the previous plan
    battery_flip_eur_per_kwh: float = 0.01  # per kWh moved against the previous direction
    # a new plan replaces the previous one only when it saves more than this (stability.py)
    replace_threshold_eur: float = DEFAULT_THRESHOLD_EUR
    # Forecasts err, PV's most: a kWh discharged must earn this much more than it costs to be
    # planned, scaled by how much of the horizon rests on a PV forecast (see _risk_margin), so
    # the plan does not buy or sell for gains smaller than a PV forecast error. Planning only
    # (not in the plan's cost); 0 with a perfect forecast.
    risk_margin_eur_per_kwh: float = RISK_MARGIN_EUR_PER_KWH


def plan(
    scenario_data: Any,
    previous: Any | None = None,
    options: PlanOptions | None = None,
    shared: Shared | None = None,
) -> Plan:
    """The plan for a scenario (dict in, dict out); raises ContractError on bad input.

    With `shared`, the plan of a community member: priced on the community's grid flow.
    """
    options = options or PlanOptions()
    began = time.perf_counter()
    scenario = validate_scenario(scenario_data)
    horizon = Horizon.of(scenario)
    if shared is not None:
        _check_shared(shared, horizon.steps)
    stability = (
        _align_previous(previous, scenario, horizon, options) if previous is not None else None
    )
    before = Previous.of(previous, scenario) if previous is not None else None
    running = running_step(scenario, before) if before is not None else None
    phase = replace(
        prepare_phase(scenario, options, shared),
        stability=stability,
        battery_flip_meur_per_wh=options.battery_flip_eur_per_kwh if stability else 0.0,
        running_battery_w=running.battery_w if running is not None else None,
    )
    budget = options.solver.time_limit_s
    spent: list[Solution] = []

    def left() -> float:
        return budget - (time.perf_counter() - began)

    def run(site: SiteModel, *, warm: bool = False, share: float = 1.0) -> Solution:
        solution = site.solve(options.solver, share * left(), warm=warm)
        spent.append(solution)
        return solution

    solution = run(SiteModel(phase))
    if not solution.solved and running is not None:  # the running step does not fit any more
        running = None
        phase = replace(phase, running_battery_w=None)
        solution = run(SiteModel(phase))
    if solution.solved and solution.simultaneous:
        # a degenerate solution charged and discharged at once: forbid it everywhere
        solution = run(SiteModel(replace(phase, exclusive_everywhere=True)))
    impossible: list[PlanWarning] = []
    if not solution.solved:
        # what can the site serve? Leave out, reduce, exceed the import limit: at a price
        repair = SiteModel(replace(phase, repair=True, import_slack=True))
        repaired = run(repair, share=0.7)  # the rest for the plan under its decisions
        if repaired.solved:
            phase = _apply_repairs(phase, repaired, impossible)
            # the best plan under those decisions, from the repair solution
            repair.model.settle_repairs(slack=1e-6)
            final = run(repair, warm=True)
            solution = final if final.solved else repaired
            if solution.simultaneous:
                solution = run(SiteModel(replace(phase, exclusive_everywhere=True)))
    if not solution.solved:
        impossible.append(
            PlanWarning(
                "WARN_IMPOSSIBLE",
                None,
                "no plan found within the time limit: every appliance left out, battery idle",
            )
        )
        solution = _idle_solution(phase)
    result = _assemble(phase, solution, impossible, spent)
    if shared is None:  # a member's plan is the community's choice, not its own saving
        result = _stable(scenario, result, before, running, options.replace_threshold_eur)
    validate_plan(result, scenario)
    return result


def _stable(
    scenario: Scenario,
    result: Plan,
    before: Previous | None,
    running: RunningStep | None,
    threshold: float,
) -> Plan:
    """The running step's intent kept; the previous plan kept unless the new one pays enough."""
    info: dict[str, Any] = {
        "decision": "first",
        "running_step_kept": None,
        "gain_eur": None,
        "threshold_eur": threshold,
    }
    if before is None:
        result["replan"] = info
        return result
    pinned = running is not None and abs(result["battery_w"][0] - running.battery_w) <= 1.0
    info["running_step_kept"] = pinned
    if pinned and running.intent is not None and result.get("intents"):
        target = result["intents"][0]["soc_target_pct"]
        result["intents"][0] = {**running.intent, "soc_target_pct": target}
    info["decision"] = "replaced"
    kept = carry_over(scenario, before, result) if not result["warnings"] else None
    if kept is not None:
        kept["objective_value"] = objective_value(scenario, kept)
        gain = worth(scenario, kept) - worth(scenario, result)
        info["gain_eur"] = round(gain, 4)
        if gain <= threshold:
            info["decision"] = "kept"
            result = finish_kept(scenario, kept, before) | {
                "status": result["status"],
                "solve_time_ms": result["solve_time_ms"],
                "build_time_ms": result["build_time_ms"],
            }
    result["replan"] = info
    return result


def prepare_phase(scenario: Scenario, options: PlanOptions, shared: Shared | None) -> Phase:
    """A validated scenario's devices on its step grid, repaired where impossible alone."""
    horizon = Horizon.of(scenario)
    prepared = [BUILDERS[a["type"]].prepare(a, horizon) for a in scenario["appliances"]]
    surplus_w = [pv - load for pv, load in zip(scenario["pv_w"], scenario["load_w"], strict=True)]
    battery = (
        battery_model.prepare(scenario["battery"], horizon, surplus_w)
        if scenario["battery"]
        else None
    )
    return Phase(
        scenario,
        horizon,
        battery,
        prepared,
        risk_margin_eur_per_kwh=_risk_margin(scenario, options.risk_margin_eur_per_kwh),
        shared=shared,
    )


def _check_shared(shared: Shared, steps: int) -> None:
    """The community's series cover the horizon, finite, with export worth at most import."""
    for name in ("background_w", "import_weight", "export_weight"):
        values = getattr(shared, name)
        if values is None and name == "background_w":
            continue
        if len(values) != steps or not all(math.isfinite(v) for v in values):
            raise ValueError(f"community {name}: needs {steps} finite values")
    if any(e > i for i, e in zip(shared.import_weight, shared.export_weight, strict=True)):
        raise ValueError("community export_weight: must not exceed import_weight")


def _risk_margin(scenario: Scenario, margin: float) -> float:
    """The margin × the horizon's PV energy over the battery's capacity (at most 1).

    Without PV (a winter night, a house without panels) the plan's gains rest on prices and the
    load, known well enough: no margin. With a PV forecast worth a battery or more, the full one.
    """
    battery = scenario["battery"]
    if not margin or not battery:
        return 0.0
    pv_wh = sum(scenario["pv_w"]) * scenario["step_minutes"] / 60
    return margin * min(1.0, pv_wh / battery["capacity_wh"])


def _apply_repairs(phase: Phase, repaired: Solution, impossible: list[PlanWarning]) -> Phase:
    """Fix the repair model's decisions (left out, reduced, limit exceeded) into a new phase."""
    for prepared in phase.appliances:
        if prepared.ignored:
            continue
        if not repaired.kept.get(prepared.ident, True):
            prepared.ignore("the site's limits cannot supply it alongside the others: left out")
            continue
        BUILDERS[prepared.kind].reduce(prepared, repaired.shortfall.get(prepared.ident, 0.0))
    if phase.battery is not None:
        phase.battery.reduce_final(repaired.final_shortfall_wh)
    worst = max(repaired.import_excess_w, default=0.0)
    slack = worst > 0.5
    if slack:
        impossible.append(
            PlanWarning(
                "WARN_IMPOSSIBLE",
                None,
                f"the import limit is exceeded by up to {worst:.0f} W even with the flexible "
                "appliances left out or reduced",
            )
        )
    return replace(phase, repair=False, import_slack=slack)


def _idle_solution(phase: Phase) -> Solution:
    """The last-resort plan: no appliance, battery idle, all PV used."""
    steps = phase.horizon.steps
    solution = Solution(True, False, 0.0, 0.0)
    scenario = phase.scenario
    export_limit = scenario["grid"]["export_limit_w"]
    solution.pv_used_w = [
        pv if export_limit is None else min(pv, load + export_limit)
        for pv, load in zip(scenario["pv_w"], scenario["load_w"], strict=True)
    ]
    for prepared in phase.appliances:
        if not prepared.ignored:
            prepared.ignore("no plan could be found: left out")
    if phase.battery is not None:
        solution.battery_w = [0.0] * steps
        solution.battery_wh = [phase.battery.initial_wh] * (steps + 1)
        if phase.battery.final_wh is not None and phase.battery.final_wh > phase.battery.initial_wh:
            phase.battery.warn("no plan could be found: the battery stays idle")
    return solution


def _align_previous(
    previous: Any, scenario: Scenario, horizon: Horizon, options: PlanOptions
) -> Stability | None:
    """The previous plan on the new step grid (None if it cannot be aligned)."""
    try:
        old = validate_plan(previous)
    except ValueError:
        return None
    if old["step_minutes"] != scenario["step_minutes"]:
        return None
    shift_steps = (
        (parse_time(old["start"]) - horizon.start).total_seconds() / 60 / horizon.step_minutes
    )
    if abs(shift_steps - round(shift_steps)) > 1e-6:
        return None
    shift = round(shift_steps)  # new index k ↔ old index k − shift

    def aligned(series: list[float]) -> list[float | None]:
        return [
            series[k - shift] if 0 <= k - shift < len(series) else None
            for k in range(horizon.steps)
        ]

    power = {ident: aligned(item["power_w"]) for ident, item in old["appliances"].items()}
    starts = {}
    for ident, item in old["appliances"].items():
        if item["start"] is not None:
            offset = (parse_time(item["start"]) - horizon.start).total_seconds() / 60
            starts[ident] = round(offset / horizon.step_minutes)
    direction = [
        0 if w is None or abs(w) < 1 else (1 if w > 0 else -1) for w in aligned(old["battery_w"])
    ]
    scale = OBJECTIVE_SCALE
    return Stability(
        power,
        starts,
        direction,
        options.move_start_eur * scale,
        options.step_change_eur * scale,
        options.battery_flip_eur_per_kwh,  # €/kWh == m€/Wh
    )


def _clean(x: float, digits: int = 3) -> float:
    value = round(x, digits)
    return 0.0 if value == 0 else value


def _assemble(
    phase: Phase, solution: Solution, impossible: list[PlanWarning], spent: list[Solution]
) -> Plan:
    """The plan dict of the contract from a solved phase."""
    scenario, horizon = phase.scenario, phase.horizon
    steps = horizon.steps
    results: dict[str, Result] = {}
    warnings: list[PlanWarning] = []
    if phase.battery is not None:
        warnings += phase.battery.warnings
    for prepared in phase.appliances:
        warnings += prepared.warnings
        result = solution.appliances.get(prepared.ident)
        if prepared.ignored or result is None:
            result = _left_out(prepared, horizon)
        else:
            warnings += result.warnings
        results[prepared.ident] = result
    warnings += impossible

    pv_used = [_clean(x) for x in solution.pv_used_w]
    if phase.battery is not None:
        battery_w = [_clean(x) for x in solution.battery_w]
        capacity = phase.battery.spec["capacity_wh"]
        soc = [min(max(_clean(100 * e / capacity, 4), 0.0), 100.0) for e in solution.battery_wh]
    else:
        battery_w, soc = [0.0] * steps, [0.0] * (steps + 1)
    appliance_w = [0.0] * steps
    plan_appliances = {}
    for ident, result in results.items():
        power = [_clean(x) for x in result.power_w]
        for t in range(steps):
            appliance_w[t] += power[t]
        item: dict[str, Any] = {
            "power_w": power,
            "start": None if result.start is None else format_time(horizon.time(result.start)),
        }
        if result.temperature_c is not None:
            item["temperature_c"] = [_clean(x, 4) for x in result.temperature_c]
        plan_appliances[ident] = item
    load = scenario["load_w"]
    grid = [_clean(load[t] + appliance_w[t] + battery_w[t] - pv_used[t]) for t in range(steps)]

    codes = {w.code for w in warnings}
    if "WARN_IMPOSSIBLE" in codes:
        status = "infeasible"
    elif codes & {"WARN_CONSTRAINT", "WARN_IGNORED"}:
        status = "relaxed"
    else:
        status = "optimal" if solution.proven else "feasible"
    counted = sum(1 for p in phase.appliances if not p.ignored)
    result_plan: Plan = {
        "version": 1,
        "start": scenario["start"],
        "step_minutes": scenario["step_minutes"],
        "horizon_steps": steps,
        "status": status,
        "objective_value": None,
        "solve_time_ms": round(sum(s.solve_ms for s in spent), 1),
        "build_time_ms": round(sum(s.build_ms for s in spent), 1),
        "grid_w": grid,
        "battery_w": battery_w,
        "soc_pct": soc,
        "pv_used_w": pv_used,
        "appliances": plan_appliances,
        "warnings": [w.as_dict() for w in warnings],
        "report": {},
        "curves": build_curves(scenario, plan_appliances),
    }
    result_plan["report"] = build_report(scenario, result_plan, counted)
    result_plan["objective_value"] = objective_value(scenario, result_plan)
    result_plan["intents"] = derive_intents(scenario, result_plan)
    return result_plan


def _left_out(prepared: Prepared, horizon: Horizon) -> Result:
    """An appliance that is not in the plan: no power; thermal drifts with the weather."""
    steps = horizon.steps
    temperature = None
    if prepared.kind == "thermal":
        spec = prepared.spec
        gain = horizon.dt_h / spec["thermal_capacity_wh_per_k"]
        loss = gain * spec["heat_loss_w_per_k"]
        temperature = [float(spec["t_initial_c"])]
        for t in range(steps):
            temperature.append(
                temperature[-1] - loss * (temperature[-1] - spec["outdoor_temp_c"][t])
            )
    return Result([0.0] * steps, None, temperature)


def objective_value(scenario: Scenario, result_plan: Plan) -> float:
    """The scenario's objective for a plan, without tie-breakers or soft-constraint prices."""
    steps, dt_h = scenario["horizon_steps"], scenario["step_minutes"] / 60
    if scenario["objective"] == "import":
        return round(sum(max(g, 0.0) for g in result_plan["grid_w"]) * dt_h / 1000, 6)
    import_weight, export_weight = objective_prices(scenario)
    total = 0.0
    for t in range(steps):
        g = result_plan["grid_w"][t]
        total += dt_h / 1000 * (max(g, 0.0) * import_weight[t] - max(-g, 0.0) * export_weight[t])
    battery = scenario["battery"]
    if battery:
        discharged = sum(max(-b, 0.0) for b in result_plan["battery_w"]) * dt_h / 1000
        total += discharged * battery["wear_cost_eur_per_kwh"]
    penalty = scenario.get("peak_import_penalty_eur_per_kw", 0.0)
    if penalty:
        total += penalty * max(*result_plan["grid_w"], 0.0) / 1000
    return round(total, 6) if math.isfinite(total) else 0.0
