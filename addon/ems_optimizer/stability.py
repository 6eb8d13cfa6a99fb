"""Stable execution: a re-plan keeps the running step, and the previous plan unless changing pays.

``planner.plan`` applies both rules when it is given the previous plan:

1. **The running step.** The previous plan already said what the battery does in the step that
   opens the new horizon, and the controller is carrying it out. The new plan keeps that battery
   power (a bound in the MILP) and that intent, unless reality has left the band the step
   assumed: the SOC now more than ``SOC_BAND_PCT`` outside the previous plan's SOC over the step,
   or the step's forecast net load (load − PV) more than ``max(NET_BAND_W, NET_BAND_SHARE × it)``
   from the one the previous plan had.
2. **The plan.** The previous plan's decisions (battery and appliance powers), carried over onto
   the new horizon with the new forecasts (grid and SOC recomputed, the steps beyond it idle),
   stay unless the newly solved plan is better by more than the threshold (objective value, the
   energy left at the end valued as in the MILP), or unless they no longer fit: the checker finds
   a broken promise against the new scenario (SOC out of its band, a limit, a changed request),
   or an appliance has a temperature to follow (not carried over).

The plan says what happened in its ``replan`` field (decision, running step kept, gain,
threshold): the plan sensors show it in Home Assistant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ems_core.contract import (
    ContractError,
    Plan,
    Scenario,
    format_time,
    parse_time,
    validate_plan,
)

from .checker import check_plan
from .intents import derive_intents
from .model.battery import stored_energy_value
from .model.site import objective_prices
from .report import build_curves, build_report

SOC_BAND_PCT = 3.0  # the SOC now may differ this much from what the running step assumed
NET_BAND_W = 500.0  # and the step's net load forecast this much (or NET_BAND_SHARE of it)
NET_BAND_SHARE = 0.3
DEFAULT_THRESHOLD_EUR = 0.05  # a new plan must save more than this to replace the previous one
SOC_ROUNDING_PCT = 0.01


@dataclass(frozen=True)
class Previous:
    """The previous plan and where the new horizon starts in it (old index = new index + k)."""

    plan: Plan
    offset: int

    @classmethod
    def of(cls, previous: Any, scenario: Scenario) -> Previous | None:
        """The previous plan if it is valid and covers the new horizon's first step."""
        try:
            old = validate_plan(previous)
        except (ContractError, ValueError):
            return None
        if old["step_minutes"] != scenario["step_minutes"]:
            return None
        minutes = (parse_time(scenario["start"]) - parse_time(old["start"])).total_seconds() / 60
        steps = minutes / scenario["step_minutes"]
        if abs(steps - round(steps)) > 1e-6 or not 0 <= round(steps) < old["horizon_steps"]:
            return None
        return cls(old, round(steps))

    def old(self, key: str, t: int) -> Any:
        """The previous plan's value of a per-step series at new step t (None past its end)."""
        series = self.plan[key] if key in self.plan else self.plan["curves"][key]
        index = t + self.offset
        return series[index] if index < len(series) else None


@dataclass(frozen=True)
class RunningStep:
    """What the previous plan does in the step now running."""

    battery_w: float
    intent: dict[str, Any] | None


def running_step(scenario: Scenario, previous: Previous) -> RunningStep | None:
    """The running step to keep, or None when reality has left the band it assumed.

    Also None when the step no longer fits what the scenario allows: the battery's power limits
    or its "charge from the grid" switch changed, or an appliance the step fed is gone.
    """
    battery = scenario["battery"]
    if not battery:
        return None
    assumed = (previous.old("soc_pct", 0), previous.old("soc_pct", 1))
    soc = battery["soc_initial_pct"]
    if not min(assumed) - SOC_BAND_PCT <= soc <= max(assumed) + SOC_BAND_PCT:
        return None
    old_net = previous.old("net_without_flexible_w", 0)
    new_net = scenario["load_w"][0] - scenario["pv_w"][0]
    if abs(new_net - old_net) > max(NET_BAND_W, NET_BAND_SHARE * abs(old_net)):
        return None
    power = float(previous.old("battery_w", 0))
    if not _within_limits(scenario, power) or _fed_appliance_gone(scenario, previous):
        return None
    return RunningStep(power, _consistent_intent(previous, power))


def _within_limits(scenario: Scenario, power: float) -> bool:
    """Whether the step's battery power is allowed by the new scenario's battery at step 0."""
    battery = scenario["battery"]
    high = battery["charge_max_w"]
    if not battery.get("charge_from_grid", True):
        high = min(high, max(0.0, scenario["pv_w"][0] - scenario["load_w"][0]))
    return -battery["discharge_max_w"] <= power <= high


def _fed_appliance_gone(scenario: Scenario, previous: Previous) -> bool:
    """Whether an appliance the previous plan ran in the step is no longer in the scenario."""
    present = {a["id"] for a in scenario["appliances"]}
    running = {
        ident
        for ident, item in previous.plan["appliances"].items()
        if (_at(item["power_w"], previous.offset) or 0.0) > 0.5
    }
    return not running <= present


def _consistent_intent(previous: Previous, power: float) -> dict[str, Any] | None:
    """The previous plan's intent for the step, if its kind agrees with the step's power."""
    intents = previous.plan.get("intents")
    if not intents:
        return None
    intent = dict(intents[previous.offset])
    return intent if _agrees(intent, power) else None


def _agrees(intent: dict[str, Any], power: float) -> bool:
    """Whether an intent's kind fits a battery power (self-consumption fits any)."""
    return {
        "hold": abs(power) <= 1.0,
        "charge": power > 1.0,
        "discharge": power < -1.0,
        "export": power < -1.0,
    }.get(intent["kind"], True)


def carry_over(scenario: Scenario, previous: Previous, new: Plan) -> Plan | None:
    """The previous plan's decisions on the new horizon and forecasts, None if they don't fit.

    The steps past the previous plan's end take the new plan's decisions.
    """
    old, steps = previous.plan, scenario["horizon_steps"]
    if any("temperature_c" in item for item in old["appliances"].values()):
        return None
    if {a["id"] for a in scenario["appliances"]} != set(old["appliances"]):
        return None
    covered = old["horizon_steps"] - previous.offset  # new steps the previous plan covers

    def decided(old_series: list[float], new_series: list[float]) -> list[float]:
        return [
            float(old_series[t + previous.offset]) if t < covered else float(new_series[t])
            for t in range(steps)
        ]

    appliances = {}
    for ident, item in old["appliances"].items():
        power = decided(item["power_w"], new["appliances"][ident]["power_w"])
        appliances[ident] = {"power_w": power, "start": _start(scenario, item, power)}
    battery_w = decided(old["battery_w"], new["battery_w"])
    if not scenario["battery"]:
        battery_w = [0.0] * steps
    kept = _assemble(scenario, battery_w, appliances)
    if kept is None or check_plan(scenario, kept):
        return None
    return kept


def _start(scenario: Scenario, item: dict[str, Any], power: list[float]) -> str | None:
    """The appliance's start on the new horizon.

    As planned, or its first step with power when it started before the horizon (the checker
    then judges what is left of its run).
    """
    start = item["start"]
    if start is None or parse_time(start) >= parse_time(scenario["start"]):
        return start
    first = next((t for t, w in enumerate(power) if w > 0.5), None)
    if first is None:
        return None
    moment = parse_time(scenario["start"]) + timedelta(minutes=first * scenario["step_minutes"])
    return format_time(moment)


def _at(series: list[float], index: int) -> float | None:
    return series[index] if index < len(series) else None


def _assemble(
    scenario: Scenario, battery_w: list[float], appliances: dict[str, dict[str, Any]]
) -> Plan | None:
    """A plan of the contract from fixed decisions: PV, grid and SOC follow from the forecasts."""
    steps, dt_h = scenario["horizon_steps"], scenario["step_minutes"] / 60
    load = scenario["load_w"]
    flexible = [sum(a["power_w"][t] for a in appliances.values()) for t in range(steps)]
    weights = objective_prices(scenario)
    pv_used, grid = [], []
    for t in range(steps):
        demand = load[t] + flexible[t] + battery_w[t]
        used = _pv_used(scenario, t, demand, (weights[0][t], weights[1][t]))
        if used is None:
            return None
        pv_used.append(round(used, 3))
        grid.append(round(demand - used, 3))
    soc = _soc(scenario, battery_w, dt_h)
    if soc is None:
        return None
    plan: Plan = {
        "version": 1,
        "start": scenario["start"],
        "step_minutes": scenario["step_minutes"],
        "horizon_steps": steps,
        "status": "optimal",
        "objective_value": None,
        "solve_time_ms": 0.0,
        "build_time_ms": 0.0,
        "grid_w": grid,
        "battery_w": [round(b, 3) for b in battery_w],
        "soc_pct": soc,
        "pv_used_w": pv_used,
        "appliances": appliances,
        "warnings": [],
        "report": {},
        "curves": build_curves(scenario, appliances),
    }
    counted = sum(1 for a in appliances.values() if any(p > 0 for p in a["power_w"]))
    plan["report"] = build_report(scenario, plan, counted)
    return plan


def _pv_used(
    scenario: Scenario, t: int, demand: float, weights: tuple[float, float]
) -> float | None:
    """The PV to use at step t for a fixed demand, None if impossible.

    All of it, unless a negative price (``weights``: the step's import and export weights)
    makes less pay (no export when exporting costs, none at all when importing pays) or the
    export limit caps it.
    """
    pv = scenario["pv_w"][t]
    import_weight, export_weight = weights
    used = pv
    if import_weight < 0:
        used = 0.0  # paid to import: every watt from the grid
    elif export_weight < 0:
        used = min(pv, max(demand, 0.0))  # paid less than nothing to export: no export
    limit = scenario["grid"]["export_limit_w"]
    if limit is not None:
        used = min(used, demand + limit)
    return used if used >= 0 else None


def _soc(scenario: Scenario, battery_w: list[float], dt_h: float) -> list[float] | None:
    """The SOC trajectory (%) from the scenario's initial SOC, None if it leaves the band."""
    battery = scenario["battery"]
    if not battery:
        return [0.0] * (len(battery_w) + 1)
    capacity = battery["capacity_wh"]
    eta_c, eta_d = battery["charge_efficiency"], battery["discharge_efficiency"]
    soc = [battery["soc_initial_pct"]]
    for b in battery_w:
        stored = b * eta_c if b > 0 else b / eta_d
        soc.append(soc[-1] + 100 * stored * dt_h / capacity)
    # the plans' own rounding (battery power to 1 mW, SOC to 1e-4 %) may step a hair past a bound
    if any(s < -SOC_ROUNDING_PCT or s > 100 + SOC_ROUNDING_PCT for s in soc):
        return None
    return [min(max(round(s, 4), 0.0), 100.0) for s in soc]


def worth(scenario: Scenario, plan: Plan) -> float:
    """What the planner minimises, in €: the objective value less the stored energy's value."""
    battery = scenario["battery"]
    total = float(plan["objective_value"] or 0.0)
    if not battery:
        return total
    weights, _ = objective_prices(scenario)
    value = stored_energy_value(battery, weights)
    change_kwh = (plan["soc_pct"][-1] - plan["soc_pct"][0]) / 100 * battery["capacity_wh"] / 1000
    return total - value * change_kwh


def finish_kept(scenario: Scenario, kept: Plan, previous: Previous) -> Plan:
    """The carried-over plan (its objective value set) completed with the previous intents."""
    derived = derive_intents(scenario, kept)
    old = previous.plan.get("intents")
    if old and scenario["battery"]:  # without a battery, the derived "hold" of each step
        for t in range(len(derived)):
            index = t + previous.offset
            if index < len(old) and _agrees(old[index], kept["battery_w"][t]):
                derived[t] = {**old[index], "soc_target_pct": derived[t]["soc_target_pct"]}
    kept["intents"] = derived
    return kept
