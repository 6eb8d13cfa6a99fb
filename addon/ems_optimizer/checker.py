"""An independent plan checker: whether a plan keeps every promise of its scenario.

It knows nothing of the model; it re-derives every constraint from the contract's text: energy
balance per step, battery power and SOC dynamics and bounds, grid limits, each appliance's rules,
the report and the curves. Anything broken must be excused by a warning naming it.
"""

from __future__ import annotations

from datetime import timedelta
import math
from typing import Any

from ems_core.contract import (
    ContractError,
    Plan,
    Scenario,
    boundary_at_or_before,
    first_step_at_or_after,
    format_time,
    parse_time,
    validate_plan,
    validate_scenario,
)

TOL_W = 1.0
TOL_SOC_PCT = 0.1
TOL_K = 0.05


def check_plan(scenario_data: Any, plan_data: Any) -> list[str]:
    """Every unexcused violation of the scenario by the plan (empty: the plan is sound)."""
    scenario = validate_scenario(scenario_data)
    try:
        plan = validate_plan(plan_data, scenario)
    except ContractError as err:
        return [f"contract: {err}"]
    checker = _Checker(scenario, plan)
    checker.run()
    return checker.problems


class _Checker:
    def __init__(self, scenario: Scenario, plan: Plan) -> None:
        self.scenario = scenario
        self.plan = plan
        self.steps = scenario["horizon_steps"]
        self.dt_h = scenario["step_minutes"] / 60
        self.problems: list[str] = []
        self.codes: dict[str | None, set[str]] = {}
        for warning in plan["warnings"]:
            self.codes.setdefault(warning["appliance"], set()).add(warning["code"])
        self.impossible = "WARN_IMPOSSIBLE" in {w["code"] for w in plan["warnings"]}

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def excused(self, ident: str | None, *codes: str) -> bool:
        return bool(self.codes.get(ident, set()) & set(codes))

    def run(self) -> None:
        self.check_balance()
        self.check_battery()
        for appliance in self.scenario["appliances"]:
            result = self.plan["appliances"][appliance["id"]]
            if self.excused(appliance["id"], "WARN_IGNORED"):
                if any(abs(p) > TOL_W for p in result["power_w"]) or result["start"] is not None:
                    self.fail(
                        f"{appliance['id']}: left out (WARN_IGNORED) but has power or a start"
                    )
                if appliance["type"] == "thermal":
                    self.check_thermal(appliance, result, ignored=True)
                continue
            getattr(self, f"check_{appliance['type']}")(appliance, result)
        self.check_status()
        self.check_report()

    # --- site ---------------------------------------------------------------------------------

    def check_balance(self) -> None:
        s, p = self.scenario, self.plan
        limit_in, limit_out = s["grid"]["import_limit_w"], s["grid"]["export_limit_w"]
        for t in range(self.steps):
            flexible = sum(item["power_w"][t] for item in p["appliances"].values())
            expected = s["load_w"][t] + flexible + p["battery_w"][t] - p["pv_used_w"][t]
            if abs(p["grid_w"][t] - expected) > TOL_W:
                self.fail(
                    f"step {t}: grid {p['grid_w'][t]:.1f} W but the balance gives {expected:.1f} W"
                )
            if not -TOL_W <= p["pv_used_w"][t] <= s["pv_w"][t] + TOL_W:
                self.fail(
                    f"step {t}: pv_used {p['pv_used_w'][t]:.1f} W outside [0, {s['pv_w'][t]:.1f}]"
                )
            if limit_in is not None and p["grid_w"][t] > limit_in + TOL_W and not self.impossible:
                self.fail(
                    f"step {t}: import {p['grid_w'][t]:.1f} W above the limit {limit_in:.0f} W"
                )
            if limit_out is not None and -p["grid_w"][t] > limit_out + TOL_W:
                self.fail(
                    f"step {t}: export {-p['grid_w'][t]:.1f} W above the limit {limit_out:.0f} W"
                )

    def check_grid_charging(self) -> None:
        """Without grid charging, the battery charges from the PV surplus over the fixed load."""
        battery, scenario = self.scenario["battery"], self.scenario
        if battery.get("charge_from_grid", True):
            return
        for t in range(self.steps):
            surplus = max(0.0, scenario["pv_w"][t] - scenario["load_w"][t])
            if self.plan["battery_w"][t] > surplus + TOL_W:
                self.fail(
                    f"step {t}: charging {self.plan['battery_w'][t]:.1f} W from the grid "
                    f"(surplus {surplus:.0f} W) while charge_from_grid is false"
                )

    def check_battery(self) -> None:
        battery, p = self.scenario["battery"], self.plan
        if battery is None:
            if any(abs(b) > TOL_W for b in p["battery_w"]):
                self.fail("battery power planned but the scenario has no battery")
            return
        capacity = battery["capacity_wh"]
        soc = p["soc_pct"]
        site_relaxed = self.excused(None, "WARN_CONSTRAINT", "WARN_IMPOSSIBLE")
        if abs(soc[0] - battery["soc_initial_pct"]) > TOL_SOC_PCT:
            self.fail(f"soc_pct[0] {soc[0]} is not the initial SOC {battery['soc_initial_pct']}")
        low = battery["soc_min_pct"]
        high = battery["soc_max_pct"]
        if site_relaxed:
            low = min(low, battery["soc_initial_pct"])
            high = max(high, battery["soc_initial_pct"])
        self.check_grid_charging()
        for t in range(self.steps):
            b = p["battery_w"][t]
            if b > battery["charge_max_w"] + TOL_W:
                self.fail(f"step {t}: charging {b:.1f} W above {battery['charge_max_w']:.0f} W")
            if -b > battery["discharge_max_w"] + TOL_W:
                self.fail(
                    f"step {t}: discharging {-b:.1f} W above {battery['discharge_max_w']:.0f} W"
                )
            stored = self.dt_h * (
                battery["charge_efficiency"] * max(b, 0.0)
                - max(-b, 0.0) / battery["discharge_efficiency"]
            )
            expected = soc[t] + 100 * stored / capacity
            if abs(soc[t + 1] - expected) > TOL_SOC_PCT:
                self.fail(
                    f"step {t}: SOC goes {soc[t]:.3f} → {soc[t + 1]:.3f} %, "
                    f"dynamics give {expected:.3f}"
                )
            if not low - TOL_SOC_PCT <= soc[t + 1] <= high + TOL_SOC_PCT:
                self.fail(f"soc_pct[{t + 1}] {soc[t + 1]:.3f} outside [{low}, {high}] %")
        final = battery["soc_final_pct"]
        if final is not None and soc[-1] < final - TOL_SOC_PCT and not site_relaxed:
            self.fail(f"final SOC {soc[-1]:.3f} % below the asked {final} %")

    # --- appliances ---------------------------------------------------------------------------

    def index(self, appliance: dict[str, Any], key: str, default: int, *, ceil: bool) -> int:
        if key not in appliance:
            return default
        if ceil:
            return first_step_at_or_after(self.scenario, appliance[key])
        return boundary_at_or_before(self.scenario, appliance[key])

    def start_index(self, result: dict[str, Any]) -> int | None:
        if result["start"] is None:
            return None
        offset = (parse_time(result["start"]) - parse_time(self.scenario["start"])) / timedelta(
            minutes=self.scenario["step_minutes"]
        )
        return round(offset)

    def check_first_on(self, ident: str, result: dict[str, Any]) -> None:
        active = [t for t, w in enumerate(result["power_w"]) if w > 1e-6]
        expected = active[0] if active else None
        if self.start_index(result) != expected:
            self.fail(f"{ident}: start {result['start']} is not its first step with power")

    def energy_tolerance(self, energy_wh: float) -> float:
        return max(1.0, 1e-5 * energy_wh) + TOL_W * self.dt_h * self.steps * 1e-3

    def check_cycle(self, appliance: dict[str, Any], result: dict[str, Any]) -> None:
        ident, profile, power = appliance["id"], appliance["profile_w"], result["power_w"]
        start = self.start_index(result)
        if start is None:
            self.fail(f"{ident}: the cycle is not scheduled and no WARN_IGNORED says so")
            return
        if start < 0 or start + len(profile) > self.steps:
            self.fail(f"{ident}: the run does not fit in the horizon")
            return
        expected = [0.0] * self.steps
        expected[start : start + len(profile)] = profile
        if any(abs(a - b) > TOL_W for a, b in zip(power, expected, strict=True)):
            self.fail(f"{ident}: power is not the profile run once from {result['start']}")
        earliest = self.index(appliance, "earliest_start", 0, ceil=True)
        deadline = self.index(appliance, "deadline", self.steps, ceil=False)
        if (start < earliest or start + len(profile) > deadline) and not self.excused(
            ident, "WARN_CONSTRAINT"
        ):
            self.fail(f"{ident}: runs outside [earliest_start, deadline]")

    def check_water_heater(self, appliance: dict[str, Any], result: dict[str, Any]) -> None:
        ident, power = appliance["id"], result["power_w"]
        watts = appliance["power_w"]
        relaxed = self.excused(ident, "WARN_CONSTRAINT")
        deadline = self.index(appliance, "deadline", self.steps, ceil=False)
        allowed = set(range(self.steps))
        if "windows" in appliance:
            allowed = set()
            for start, end in appliance["windows"]:
                first = first_step_at_or_after(self.scenario, start)
                last = boundary_at_or_before(self.scenario, end)
                allowed.update(range(first, last))
        for t, w in enumerate(power):
            if abs(w) > TOL_W and abs(w - watts) > TOL_W:
                self.fail(f"{ident}: step {t} at {w:.1f} W, neither 0 nor {watts:.0f} W")
            if w > TOL_W and (t not in allowed or t >= deadline) and not relaxed:
                self.fail(f"{ident}: heats at step {t}, outside its windows or after its deadline")
        delivered = sum(power) * self.dt_h
        asked = appliance["energy_wh"]
        tolerance = self.energy_tolerance(asked)
        if delivered > asked + watts * self.dt_h - 1e-6 + tolerance:
            self.fail(f"{ident}: delivers {delivered:.0f} Wh, more than a step over {asked:.0f} Wh")
        if delivered < asked - tolerance and not relaxed:
            self.fail(f"{ident}: delivers {delivered:.0f} Wh of {asked:.0f} Wh")
        self.check_first_on(ident, result)

    def check_ev(self, appliance: dict[str, Any], result: dict[str, Any]) -> None:
        ident, power = appliance["id"], result["power_w"]
        relaxed = self.excused(ident, "WARN_CONSTRAINT")
        earliest = self.index(appliance, "earliest_start", 0, ceil=True)
        deadline = self.index(appliance, "deadline", self.steps, ceil=False)
        low, high = appliance["min_power_w"], appliance["max_power_w"]
        for t, w in enumerate(power):
            if w > TOL_W and not low - TOL_W <= w <= high + TOL_W:
                self.fail(
                    f"{ident}: step {t} at {w:.1f} W, outside {{0}} ∪ [{low:.0f}, {high:.0f}] W"
                )
            if w > TOL_W and not earliest <= t < deadline and not relaxed:
                self.fail(f"{ident}: charges at step {t}, outside [earliest_start, deadline)")
        delivered = sum(power) * self.dt_h
        asked = appliance["energy_wh"]
        tolerance = self.energy_tolerance(asked)
        if relaxed:
            if delivered > max(asked, low * self.dt_h) + tolerance:
                self.fail(
                    f"{ident}: charges {delivered:.0f} Wh, more than the {asked:.0f} Wh asked"
                )
        elif abs(delivered - asked) > tolerance:
            self.fail(f"{ident}: charges {delivered:.0f} Wh instead of {asked:.0f} Wh")
        self.check_first_on(ident, result)

    def check_pilot_wire_heater(self, appliance: dict[str, Any], result: dict[str, Any]) -> None:
        ident, power = appliance["id"], result["power_w"]
        eco, comfort = appliance["eco_power_w"], appliance["comfort_power_w"]
        if "period" in appliance:
            first = first_step_at_or_after(self.scenario, appliance["period"][0])
            last = boundary_at_or_before(self.scenario, appliance["period"][1])
        else:
            first, last = 0, self.steps
        period = range(max(first, 0), min(last, self.steps))
        comfort_steps = 0
        for t, w in enumerate(power):
            if t not in period:
                if abs(w) > TOL_W:
                    self.fail(f"{ident}: {w:.1f} W at step {t}, outside its period")
                continue
            if abs(w - comfort) <= TOL_W and comfort > eco:
                comfort_steps += 1
            elif abs(w - eco) > TOL_W and abs(w - comfort) > TOL_W:
                self.fail(f"{ident}: step {t} at {w:.1f} W, neither eco nor comfort")
            elif comfort == eco:
                comfort_steps += 1
        needed = math.ceil(appliance["comfort_ratio"] * len(period) - 1e-9)
        if comfort_steps < needed and not self.excused(ident, "WARN_CONSTRAINT"):
            self.fail(f"{ident}: {comfort_steps} comfort steps, fewer than {needed}")
        self.check_first_on(ident, result)

    def check_thermal(
        self, appliance: dict[str, Any], result: dict[str, Any], *, ignored: bool = False
    ) -> None:
        ident, power = appliance["id"], result["power_w"]
        temperature = result["temperature_c"]
        gain = self.dt_h / appliance["thermal_capacity_wh_per_k"]
        if abs(temperature[0] - appliance["t_initial_c"]) > TOL_K:
            self.fail(f"{ident}: temperature_c[0] is not t_initial_c")
        relaxed = ignored or self.excused(ident, "WARN_CONSTRAINT")
        for t in range(self.steps):
            if not -TOL_W <= power[t] <= appliance["max_power_w"] + TOL_W:
                self.fail(f"{ident}: step {t} at {power[t]:.1f} W outside [0, max_power_w]")
            expected = temperature[t] + gain * (
                appliance["cop"] * power[t]
                - appliance["heat_loss_w_per_k"] * (temperature[t] - appliance["outdoor_temp_c"][t])
            )
            if abs(temperature[t + 1] - expected) > TOL_K:
                self.fail(
                    f"{ident}: step {t}: temperature {temperature[t + 1]:.3f}, "
                    f"model gives {expected:.3f}"
                )
            if not relaxed and not (
                appliance["t_min_c"] - TOL_K <= temperature[t + 1] <= appliance["t_max_c"] + TOL_K
            ):
                self.fail(
                    f"{ident}: temperature {temperature[t + 1]:.2f} °C outside the band at {t + 1}"
                )
        if not ignored:
            self.check_first_on(ident, result)

    # --- status, report, curves ---------------------------------------------------------------

    def check_status(self) -> None:
        codes = {w["code"] for w in self.plan["warnings"]}
        status = self.plan["status"]
        if "WARN_IMPOSSIBLE" in codes and status != "infeasible":
            self.fail(f"status {status} with a WARN_IMPOSSIBLE warning")
        elif codes & {"WARN_CONSTRAINT", "WARN_IGNORED"} and status not in (
            "relaxed",
            "infeasible",
        ):
            self.fail(f"status {status} although constraints were relaxed")
        elif status == "relaxed" and not codes & {"WARN_CONSTRAINT", "WARN_IGNORED"}:
            self.fail("status relaxed without a warning saying what was relaxed")

    def check_report(self) -> None:
        s, p = self.scenario, self.plan
        report, dt_h = p["report"], self.dt_h
        import_wh = sum(max(g, 0.0) for g in p["grid_w"]) * dt_h
        export_wh = sum(max(-g, 0.0) for g in p["grid_w"]) * dt_h
        if abs(report["import_wh"] - import_wh) > 1 + 1e-6 * import_wh:
            self.fail(
                f"report.import_wh {report['import_wh']} but the grid series gives {import_wh:.1f}"
            )
        if abs(report["export_wh"] - export_wh) > 1 + 1e-6 * export_wh:
            self.fail(
                f"report.export_wh {report['export_wh']} but the grid series gives {export_wh:.1f}"
            )
        prices_in = s["import_price_eur_per_kwh"]
        if prices_in is not None:
            cost = sum(
                dt_h
                / 1000
                * (max(g, 0.0) * prices_in[t] - max(-g, 0.0) * s["export_price_eur_per_kwh"][t])
                for t, g in enumerate(p["grid_w"])
            )
            if report["cost_eur"] is None or abs(report["cost_eur"] - cost) > 1e-3:
                self.fail(
                    f"report.cost_eur {report['cost_eur']} but the grid series gives {cost:.4f}"
                )
        kept = sum(1 for a in s["appliances"] if not self.excused(a["id"], "WARN_IGNORED"))
        if report["consumer_count"] != kept:
            self.fail(
                f"report.consumer_count {report['consumer_count']}, {kept} appliances planned"
            )
        without = [s["load_w"][t] - s["pv_w"][t] for t in range(self.steps)]
        flexible = [
            sum(item["power_w"][t] for item in p["appliances"].values()) for t in range(self.steps)
        ]
        for key, series in (
            ("net_without_flexible_w", without),
            ("net_with_flexible_w", [without[t] + flexible[t] for t in range(self.steps)]),
        ):
            if any(abs(a - b) > TOL_W for a, b in zip(p["curves"][key], series, strict=True)):
                self.fail(f"curves.{key} does not match load, PV and the appliances")
        start = parse_time(s["start"])
        hours: dict[str, list[float]] = {}
        for t in range(self.steps):
            moment = start + timedelta(minutes=s["step_minutes"] * t)
            hour = format_time(moment.replace(minute=0, second=0, microsecond=0))
            hours.setdefault(hour, []).append(without[t] + flexible[t])
        means = {hour: sum(v) / len(v) for hour, v in hours.items()}
        for key, pick in (("deficit_min_hour", min), ("deficit_max_hour", max)):
            expected = pick(means.values())
            if abs(report[key]["w"] - expected) > TOL_W:
                self.fail(
                    f"report.{key}.w {report[key]['w']} but the hourly means give {expected:.1f}"
                )
