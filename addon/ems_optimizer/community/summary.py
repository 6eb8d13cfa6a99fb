"""The community's summary: what a round planned, as the community view shows it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ems_core.contract import Plan, Scenario, format_time

from .protocol import PROTOCOL_VERSION, fixed_net


def _kwh(watts: float, dt_h: float) -> float:
    return round(watts * dt_h / 1000, 3)


def member_view(scenario: Scenario, result: Plan | None, state: str) -> dict[str, Any]:
    """One member in the summary: its flexible loads and their planned runs, its grid energy.

    Appliances appear by type only (members may name them anything): what the view needs.
    """
    kinds = {a["id"]: a["type"] for a in scenario["appliances"]}
    view: dict[str, Any] = {
        "state": state,
        "flexible": len(kinds),
        "battery": scenario["battery"] is not None,
        "pv": any(pv > 0 for pv in scenario["pv_w"]),
        "runs": [],
        "import_kwh": None,
        "export_kwh": None,
    }
    if result is None:
        return view
    dt_h = scenario["step_minutes"] / 60
    view["import_kwh"] = _kwh(sum(max(g, 0.0) for g in result["grid_w"]), dt_h)
    view["export_kwh"] = _kwh(sum(max(-g, 0.0) for g in result["grid_w"]), dt_h)
    for ident, item in result["appliances"].items():
        energy = _kwh(sum(item["power_w"]), dt_h)
        if energy > 0:
            view["runs"].append({"type": kinds.get(ident), "start": item["start"], "kwh": energy})
    return view


def build_summary(
    community: str,
    round_start: datetime,
    scenarios: Mapping[str, Scenario],
    plans: Mapping[str, Plan],
    *,
    objective: str,
    refused: Mapping[str, str],
    round_s: float,
    passes: int,
    solved_at: datetime,
    alone_import_kwh: float | None = None,
) -> dict[str, Any]:
    """The whole community after a round (members without a plan count with their load − PV)."""
    first = next(iter(scenarios.values()), None)
    steps = first["horizon_steps"] if first else 0
    dt_h = first["step_minutes"] / 60 if first else 0.25
    net = [0.0] * steps
    production_wh = consumption_wh = shared_wh = 0.0
    for ident, scenario in scenarios.items():
        result = plans.get(ident)
        grid = result["grid_w"] if result else fixed_net(scenario)
        pv_used = result["pv_used_w"] if result else scenario["pv_w"]
        for t in range(steps):
            net[t] += grid[t]
        produced = sum(pv_used) * dt_h
        production_wh += produced
        consumption_wh += (sum(grid) * dt_h) + produced
        if not any(load > 0 for load in scenario["load_w"]):
            shared_wh += produced  # a member that only produces: shared production
    import_kwh = _kwh(sum(max(n, 0.0) for n in net), dt_h)
    export_kwh = _kwh(sum(max(-n, 0.0) for n in net), dt_h)
    production_kwh = round(production_wh / 1000, 3)
    consumption_kwh = round(consumption_wh / 1000, 3)
    gain = None if alone_import_kwh is None else round(alone_import_kwh - import_kwh, 3)
    return {
        "version": PROTOCOL_VERSION,
        "community": community,
        "round": format_time(round_start),
        "solved_at": format_time(solved_at),
        "objective": objective,
        "members": len(scenarios),
        "planned": len(plans),
        "import_kwh": import_kwh,
        "export_kwh": export_kwh,
        "production_kwh": production_kwh,
        "shared_production_kwh": round(shared_wh / 1000, 3),
        "consumption_kwh": consumption_kwh,
        "self_consumption_pct": (
            None
            if production_kwh <= 0
            else round(100 * max(production_kwh - export_kwh, 0.0) / production_kwh, 1)
        ),
        "self_sufficiency_pct": (
            None
            if consumption_kwh <= 0
            else round(100 * max(consumption_kwh - import_kwh, 0.0) / consumption_kwh, 1)
        ),
        "alone_import_kwh": alone_import_kwh,
        "gain_kwh": gain,
        "gain_pct": (
            None
            if gain is None or not alone_import_kwh
            else round(100 * gain / alone_import_kwh, 1)
        ),
        "round_s": round(round_s, 2),
        "passes": passes,
        "net_w": [round(n, 1) for n in net],
        "refused": dict(refused),
        "member": {
            ident: member_view(
                scenarios[ident], plans.get(ident), "planned" if ident in plans else "failed"
            )
            for ident in scenarios
        },
    }
