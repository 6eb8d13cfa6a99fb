"""Benchmark: plan every scenario of a folder, with cost, status and times per scenario.

A scenario's kind is its file name without the trailing `_<tag>` (house_2024-03-05.json → house),
so the summary gives the median and max build+solve time per kind. "cost €" is the plan's grid
cost plus battery wear, the same accounting as the early-start baseline ("early €", see
baseline.py); "save %" compares the two; "in kWh" is the energy imported by each.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import statistics
from typing import Any

from ems_core.contract import validate_scenario

from .baseline import baseline_cost
from .checker import check_plan
from .planner import PlanOptions, plan

REFERENCE_S = 180.0  # time budget of a gap-0 reference solve


@dataclass
class BenchRow:
    """One scenario's figures."""

    name: str
    kind: str
    status: str
    objective: float | None
    cost_eur: float | None
    baseline_eur: float | None
    import_kwh: float
    baseline_import_kwh: float
    total_ms: float
    build_ms: float
    solve_ms: float
    problems: int
    reference_objective: float | None = None
    reference_ms: float | None = None
    reference_status: str | None = None


def _cost_with_wear(scenario: dict[str, Any], result: dict[str, Any]) -> float | None:
    cost = result["report"]["cost_eur"]
    if cost is None or scenario["battery"] is None:
        return cost
    dt_h = scenario["step_minutes"] / 60
    discharged_kwh = sum(max(-b, 0.0) for b in result["battery_w"]) * dt_h / 1000
    return cost + discharged_kwh * scenario["battery"]["wear_cost_eur_per_kwh"]


def kind_of(name: str) -> str:
    """The scenario kind from its file stem."""
    return name.rsplit("_", 1)[0] if "_" in name else name


def run_one(
    name: str, data: dict[str, Any], options: PlanOptions, *, reference: bool = False
) -> BenchRow:
    """Plan one scenario (and, with `reference`, again at MIP gap 0)."""
    result = plan(data, options=options)
    scenario = validate_scenario(data)
    early = baseline_cost(scenario)
    row = BenchRow(
        name=name,
        kind=kind_of(name),
        status=result["status"],
        objective=result["objective_value"],
        cost_eur=_cost_with_wear(scenario, result),
        baseline_eur=early["cost_eur"] if scenario["import_price_eur_per_kwh"] else None,
        import_kwh=result["report"]["import_wh"] / 1000,
        baseline_import_kwh=early["import_wh"] / 1000,
        total_ms=result["build_time_ms"] + result["solve_time_ms"],
        build_ms=result["build_time_ms"],
        solve_ms=result["solve_time_ms"],
        problems=len(check_plan(data, result)),
    )
    if reference:
        exact = replace(
            options,
            solver=replace(options.solver, gap_rel=0.0, gap_abs_eur=0.0, time_limit_s=REFERENCE_S),
        )
        best = plan(data, options=exact)
        row.reference_objective = best["objective_value"]
        row.reference_ms = best["build_time_ms"] + best["solve_time_ms"]
        row.reference_status = best["status"]
    return row


def format_table(rows: list[BenchRow]) -> str:
    """The per-scenario table and the per-kind summary, as text."""
    head = (
        f"{'scenario':32} {'status':10} {'objective':>11} {'cost €':>9} {'early €':>9} "
        f"{'save %':>7} {'in kWh':>7} {'early':>7} {'build ms':>9} {'solve ms':>9} {'check':>5}"
    )
    if any(r.reference_objective is not None for r in rows):
        head += f" {'gap0 obj':>11} {'Δ %':>8} {'gap0 ms':>9}"
    lines = [head]
    for r in rows:
        save = ""
        if r.cost_eur is not None and r.baseline_eur:
            save = f"{100 * (r.baseline_eur - r.cost_eur) / abs(r.baseline_eur):.1f}"
        line = (
            f"{r.name:32} {r.status:10} {_f(r.objective, 11, 4)} {_f(r.cost_eur, 9, 3)} "
            f"{_f(r.baseline_eur, 9, 3)} {save:>7} "
            f"{r.import_kwh:7.1f} {r.baseline_import_kwh:7.1f} "
            f"{r.build_ms:9.0f} {r.solve_ms:9.0f} "
            f"{'ok' if not r.problems else r.problems:>5}"
        )
        if r.reference_objective is not None:
            delta = ""
            if r.objective is not None and r.reference_objective:
                change = (r.objective - r.reference_objective) / abs(r.reference_objective)
                delta = f"{100 * change:.4f}"
            proven = "" if r.reference_status in ("optimal", "relaxed") else "*"
            reference = f"{_f(r.reference_objective, 11, 4)}{proven:1}"
            line += f" {reference} {delta:>8} {r.reference_ms or 0:9.0f}"
        lines.append(line)
    lines.append("")
    lines.append(
        f"{'kind':24} {'n':>3} {'median ms':>10} {'max ms':>9} {'cost €':>10} "
        f"{'early €':>10} {'save %':>7} {'in kWh':>8} {'early':>8}"
    )
    for kind in sorted({r.kind for r in rows}):
        group = [r for r in rows if r.kind == kind]
        times = [r.total_ms for r in group]
        cost = sum(r.cost_eur or 0.0 for r in group)
        early = sum(r.baseline_eur or 0.0 for r in group)
        save = f"{100 * (early - cost) / abs(early):.1f}" if early else ""
        imported = sum(r.import_kwh for r in group)
        imported_early = sum(r.baseline_import_kwh for r in group)
        lines.append(
            f"{kind:24} {len(group):3} {statistics.median(times):10.0f} {max(times):9.0f} "
            f"{cost:10.3f} {early:10.3f} {save:>7} {imported:8.1f} {imported_early:8.1f}"
        )
    return "\n".join(lines)


def _f(x: float | None, width: int, digits: int) -> str:
    return f"{'—':>{width}}" if x is None else f"{x:{width}.{digits}f}"
