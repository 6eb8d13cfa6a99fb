"""The plan's report and curves: figures a person reads, computed from the plan's own series."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ems_core.contract import Plan, Scenario, format_time, parse_time


def build_curves(
    scenario: Scenario, appliances: dict[str, dict[str, Any]]
) -> dict[str, list[float]]:
    """Net demand (load − PV forecast) without and with the planned flexible appliances."""
    steps = scenario["horizon_steps"]
    without = [round(scenario["load_w"][t] - scenario["pv_w"][t], 3) for t in range(steps)]
    flexible = [sum(item["power_w"][t] for item in appliances.values()) for t in range(steps)]
    return {
        "net_without_flexible_w": without,
        "net_with_flexible_w": [round(without[t] + flexible[t], 3) for t in range(steps)],
    }


def hourly_means(scenario: Scenario, series: list[float]) -> list[tuple[str, float]]:
    """(clock-hour start, mean W) over the steps of each clock hour of the horizon."""
    start = parse_time(scenario["start"])
    step = timedelta(minutes=scenario["step_minutes"])
    buckets: dict[str, list[float]] = {}
    for t, watts in enumerate(series):
        moment = start + t * step
        hour = moment.replace(minute=0, second=0, microsecond=0)
        buckets.setdefault(format_time(hour), []).append(watts)
    return [(hour, sum(values) / len(values)) for hour, values in buckets.items()]


def build_report(scenario: Scenario, plan: Plan, consumer_count: int) -> dict[str, Any]:
    """Import, export, cost, PV self-consumption, and the hours of least and most deficit."""
    dt_h = scenario["step_minutes"] / 60
    grid = plan["grid_w"]
    import_wh = sum(max(g, 0.0) for g in grid) * dt_h
    export_wh = sum(max(-g, 0.0) for g in grid) * dt_h
    prices_in = scenario["import_price_eur_per_kwh"]
    cost = None
    if prices_in is not None:
        prices_out = scenario["export_price_eur_per_kwh"]
        cost = round(
            sum(
                dt_h / 1000 * (max(g, 0.0) * prices_in[t] - max(-g, 0.0) * prices_out[t])
                for t, g in enumerate(grid)
            ),
            6,
        )
    pv_wh = sum(plan["pv_used_w"]) * dt_h
    self_pct = 0.0 if pv_wh <= 0 else min(max(100 * (pv_wh - export_wh) / pv_wh, 0.0), 100.0)
    hours = hourly_means(scenario, plan["curves"]["net_with_flexible_w"])
    low = min(hours, key=lambda h: h[1])
    high = max(hours, key=lambda h: h[1])
    return {
        "consumer_count": consumer_count,
        "import_wh": round(import_wh, 3),
        "export_wh": round(export_wh, 3),
        "cost_eur": cost,
        "self_consumption_pct": round(self_pct, 3),
        "deficit_min_hour": {"start": low[0], "w": round(low[1], 3)},
        "deficit_max_hour": {"start": high[0], "w": round(high[1], 3)},
    }
