"""Replaying a stored run: plan its scenario again and say what changed.

A run directory holds what the add-on used and produced for one planning round:
    RUN_DIR/scenario.json   the scenario, as sent to the planner
    RUN_DIR/plan.json       the plan it produced
    RUN_DIR/previous.json   (optional) the previous plan, given for stable re-planning
"""

from __future__ import annotations

from typing import Any

from ems_core.contract import Plan

SCENARIO_FILE = "scenario.json"
PLAN_FILE = "plan.json"
PREVIOUS_FILE = "previous.json"


def _max_diff(old: list[float], new: list[float]) -> tuple[float, int | None]:
    worst, where = 0.0, None
    for t, (a, b) in enumerate(zip(old, new, strict=False)):
        if abs(a - b) > worst:
            worst, where = abs(a - b), t
    return worst, where


def compare_plans(old: Plan, new: Plan) -> list[str]:
    """Human-readable differences between a stored plan and a re-planned one (empty: same)."""
    lines = []
    for key in ("status", "objective_value"):
        if old.get(key) != new.get(key):
            lines.append(f"{key}: {old.get(key)} → {new.get(key)}")
    for key in ("cost_eur", "import_wh", "export_wh", "self_consumption_pct", "consumer_count"):
        a, b = old["report"].get(key), new["report"].get(key)
        if a != b and (a is None or b is None or abs(a - b) > 1e-6 * max(1.0, abs(a))):
            lines.append(f"report.{key}: {a} → {b}")
    for key, unit in (("grid_w", "W"), ("battery_w", "W"), ("soc_pct", "%"), ("pv_used_w", "W")):
        worst, where = _max_diff(old[key], new[key])
        if worst > 1.0 or (unit == "%" and worst > 0.1):
            lines.append(f"{key}: differs by up to {worst:.1f} {unit} (step {where})")
    for ident in sorted(old["appliances"].keys() | new["appliances"].keys()):
        a, b = old["appliances"].get(ident), new["appliances"].get(ident)
        if a is None or b is None:
            lines.append(f"appliance {ident}: {'added' if a is None else 'removed'}")
            continue
        if a["start"] != b["start"]:
            lines.append(f"appliance {ident}: start {a['start']} → {b['start']}")
        worst, where = _max_diff(a["power_w"], b["power_w"])
        if worst > 1.0:
            lines.append(f"appliance {ident}: power differs by up to {worst:.0f} W (step {where})")
    key = "code", "appliance", "message"
    before = {tuple(w[k] for k in key) for w in old["warnings"]}
    after = {tuple(w[k] for k in key) for w in new["warnings"]}
    lines += [
        f"warning gone: {code} {who}: {msg}" for code, who, msg in sorted(before - after, key=str)
    ]
    lines += [
        f"warning new: {code} {who}: {msg}" for code, who, msg in sorted(after - before, key=str)
    ]
    return lines


def summary(plan: Plan) -> str:
    """One line about a plan."""
    report = plan["report"]
    cost = report["cost_eur"]
    return (
        f"status {plan['status']}, objective {plan['objective_value']}, "
        f"cost {'n/a' if cost is None else f'{cost:.4f} €'}, import {report['import_wh']:.0f} Wh, "
        f"export {report['export_wh']:.0f} Wh, {len(plan['warnings'])} warning(s), "
        f"build {plan['build_time_ms']:.0f} ms + solve {plan['solve_time_ms']:.0f} ms"
    )


def describe(data: dict[str, Any]) -> str:
    """A scenario in a few words."""
    kinds: dict[str, int] = {}
    for appliance in data.get("appliances", []):
        kinds[appliance.get("type", "?")] = kinds.get(appliance.get("type", "?"), 0) + 1
    parts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no appliance"
    battery = "battery" if data.get("battery") else "no battery"
    steps = f"{data.get('horizon_steps')} × {data.get('step_minutes')} min"
    return f"{steps} from {data.get('start')}, {battery}, {parts}"
