"""The no-optimizer baseline: every appliance as early as allowed, a self-consumption battery.

What a house without an EMS does: appliances start when they may, the water heater heats from the
start of its first window, the EV charges at full power on arrival, the pilot-wire heater is in
comfort from the start of its period, the heating is a thermostat holding t_min, and the battery
charges from PV surplus and covers deficits; the energy it lacks against the final SOC at the
end is bought at the mean import price, what it has in excess sold at the mean export price.
Used to measure what planning is worth.
"""

from __future__ import annotations

from collections.abc import Callable
import math
from typing import Any

from ems_core.contract import Scenario, boundary_at_or_before, first_step_at_or_after


def _earliest(scenario: Scenario, appliance: dict[str, Any]) -> int:
    """The first step the appliance may start at (0 without an earliest start)."""
    if "earliest_start" not in appliance:
        return 0
    return first_step_at_or_after(scenario, appliance["earliest_start"])


def _cycle_early(scenario: Scenario, appliance: dict[str, Any]) -> list[float]:
    """The profile from the earliest start (earlier if it would not fit in the horizon)."""
    steps = scenario["horizon_steps"]
    power = [0.0] * steps
    profile = appliance["profile_w"]
    start = min(max(_earliest(scenario, appliance), 0), max(steps - len(profile), 0))
    for offset, watts in enumerate(profile[: steps - start]):
        power[start + offset] = watts
    return power


def _water_heater_early(scenario: Scenario, appliance: dict[str, Any]) -> list[float]:
    """Full power on the first steps of its windows until the energy is in."""
    steps, dt_h = scenario["horizon_steps"], scenario["step_minutes"] / 60
    power = [0.0] * steps
    allowed = list(range(steps))
    if "windows" in appliance:
        allowed = sorted(
            {
                k
                for start, end in appliance["windows"]
                for k in range(
                    first_step_at_or_after(scenario, start),
                    boundary_at_or_before(scenario, end),
                )
            }
        )
    needed = math.ceil(appliance["energy_wh"] / (appliance["power_w"] * dt_h) - 1e-9)
    for k in allowed[:needed]:
        power[k] = appliance["power_w"]
    return power


def _ev_early(scenario: Scenario, appliance: dict[str, Any]) -> list[float]:
    """Maximum power from the earliest start until the energy is in."""
    steps, dt_h = scenario["horizon_steps"], scenario["step_minutes"] / 60
    power = [0.0] * steps
    left = appliance["energy_wh"]
    for k in range(max(_earliest(scenario, appliance), 0), steps):
        if left <= 1e-9:
            break
        watts = min(appliance["max_power_w"], left / dt_h)
        power[k] = watts
        left -= watts * dt_h
    return power


def _pilot_wire_early(scenario: Scenario, appliance: dict[str, Any]) -> list[float]:
    """Comfort from the start of its period for the comfort steps it needs, then eco."""
    steps = scenario["horizon_steps"]
    power = [0.0] * steps
    first, last = 0, steps
    if "period" in appliance:
        first = first_step_at_or_after(scenario, appliance["period"][0])
        last = boundary_at_or_before(scenario, appliance["period"][1])
    needed = math.ceil(appliance["comfort_ratio"] * (last - first) - 1e-9)
    for k in range(first, last):
        comfort = k - first < needed
        power[k] = appliance["comfort_power_w"] if comfort else appliance["eco_power_w"]
    return power


def _thermal_early(scenario: Scenario, appliance: dict[str, Any]) -> list[float]:
    """A thermostat holding t_min: just the power that keeps the temperature there."""
    steps, dt_h = scenario["horizon_steps"], scenario["step_minutes"] / 60
    power = [0.0] * steps
    temperature = appliance["t_initial_c"]
    gain = dt_h / appliance["thermal_capacity_wh_per_k"]
    ua = appliance["heat_loss_w_per_k"]
    for k in range(steps):
        drift = temperature - gain * ua * (temperature - appliance["outdoor_temp_c"][k])
        needed_w = (appliance["t_min_c"] - drift) / (gain * appliance["cop"])
        power[k] = min(max(needed_w, 0.0), appliance["max_power_w"])
        temperature = drift + gain * appliance["cop"] * power[k]
    return power


_EARLY: dict[str, Callable[[Scenario, dict[str, Any]], list[float]]] = {
    "cycle": _cycle_early,
    "water_heater": _water_heater_early,
    "ev": _ev_early,
    "pilot_wire_heater": _pilot_wire_early,
    "thermal": _thermal_early,
}


def _early_power(scenario: Scenario, appliance: dict[str, Any]) -> list[float]:
    """The appliance's power per step, as early as allowed (0 W for a type without a rule)."""
    early = _EARLY.get(appliance["type"])
    if early is None:
        return [0.0] * scenario["horizon_steps"]
    return early(scenario, appliance)


def baseline_cost(scenario: Scenario) -> dict[str, float]:
    """Grid import, export and cost of the baseline (limits not enforced)."""
    steps, dt_h = scenario["horizon_steps"], scenario["step_minutes"] / 60
    flexible = [0.0] * steps
    for appliance in scenario["appliances"]:
        for k, watts in enumerate(_early_power(scenario, appliance)):
            flexible[k] += watts
    battery = scenario["battery"]
    energy = battery["capacity_wh"] * battery["soc_initial_pct"] / 100 if battery else 0.0
    prices_in = scenario["import_price_eur_per_kwh"] or [0.0] * steps
    prices_out = scenario["export_price_eur_per_kwh"]
    import_wh = export_wh = cost = 0.0
    for k in range(steps):
        net = scenario["load_w"][k] + flexible[k] - scenario["pv_w"][k]
        if battery:
            low = battery["capacity_wh"] * battery["soc_min_pct"] / 100
            high = battery["capacity_wh"] * battery["soc_max_pct"] / 100
            if net < 0:
                room_w = max(high - energy, 0.0) / (dt_h * battery["charge_efficiency"])
                charge = min(-net, battery["charge_max_w"], room_w)
                energy += charge * dt_h * battery["charge_efficiency"]
                net += charge
            else:
                stock_w = max(energy - low, 0.0) * battery["discharge_efficiency"] / dt_h
                discharge = min(net, battery["discharge_max_w"], stock_w)
                energy -= discharge * dt_h / battery["discharge_efficiency"]
                net -= discharge
                cost += discharge * dt_h / 1000 * battery["wear_cost_eur_per_kwh"]
        import_wh += max(net, 0.0) * dt_h
        export_wh += max(-net, 0.0) * dt_h
        cost += dt_h / 1000 * (max(net, 0.0) * prices_in[k] - max(-net, 0.0) * prices_out[k])
    if battery and battery["soc_final_pct"] is not None:
        # the planner must end at or above the final SOC, the baseline need not: it buys what it
        # lacks at the horizon's mean import price and sells what it has over at the mean export
        # price, so both are compared at the same stored energy
        target = battery["capacity_wh"] * battery["soc_final_pct"] / 100
        if energy < target:
            bought_wh = (target - energy) / battery["charge_efficiency"]
            import_wh += bought_wh
            cost += bought_wh / 1000 * sum(prices_in) / steps
        else:
            sold_wh = (energy - target) * battery["discharge_efficiency"]
            export_wh += sold_wh
            cost -= sold_wh / 1000 * sum(prices_out) / steps
    return {"import_wh": import_wh, "export_wh": export_wh, "cost_eur": cost}
