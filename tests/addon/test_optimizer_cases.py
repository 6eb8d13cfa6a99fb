"""Small cases with an optimum computed by hand, for every device and objective."""

from __future__ import annotations

from optimizer_helpers import at, battery, scenario, warning_codes
import pytest

from ems_optimizer.checker import check_plan
from ems_optimizer.planner import PlanOptions, plan


def solve(data: dict, previous: dict | None = None) -> dict:
    result = plan(data, previous)
    assert check_plan(data, result) == []
    return result


def test_cycle_runs_in_the_cheapest_window() -> None:
    prices = [0.30, 0.20, 0.10, 0.10, 0.25, 0.05]
    data = scenario(
        steps=6,
        import_price_eur_per_kwh=prices,
        appliances=[{"id": "wm", "type": "cycle", "profile_w": [2000, 1000]}],
    )
    result = solve(data)
    # start 2: 2 kWh × 0.10 + 1 kWh × 0.10 = 0.30 € (start 1: 0.50, start 4: 0.55)
    assert result["appliances"]["wm"]["start"] == at(2)
    assert result["appliances"]["wm"]["power_w"] == [0, 0, 2000, 1000, 0, 0]
    assert result["report"]["cost_eur"] == pytest.approx(0.30)
    assert result["status"] == "optimal"
    assert warning_codes(result) == set()


def test_cycle_respects_its_window() -> None:
    prices = [0.05, 0.30, 0.20, 0.10, 0.25, 0.05]
    data = scenario(
        steps=6,
        import_price_eur_per_kwh=prices,
        appliances=[
            {"id": "wm", "type": "cycle", "profile_w": [1000, 1000]}
            | {"earliest_start": at(1), "deadline": at(5)}
        ],
    )
    result = solve(data)
    assert result["appliances"]["wm"]["start"] == at(
        2
    )  # 0.20 + 0.10 beats 0.30 + 0.20 and 0.10 + 0.25


def test_battery_arbitrage_lossless() -> None:
    data = scenario(
        steps=2,
        load_w=[0.0, 4000.0],
        import_price_eur_per_kwh=[0.10, 0.30],
        battery=battery(soc_initial_pct=0, charge_max_w=4000, discharge_max_w=4000),
    )
    result = solve(data)
    # buy 4 kWh at 0.10 for the 4 kWh load at 0.30: cost 0.40 € instead of 1.20 €
    assert result["battery_w"] == [4000, -4000]
    assert result["soc_pct"] == [0, 40, 0]
    assert result["objective_value"] == pytest.approx(0.40)


def test_battery_without_grid_charging_stores_only_surplus() -> None:
    """The site's "charge from the grid" off: the cheap hour cannot fill the battery."""
    data = scenario(
        steps=3,
        load_w=[0.0, 1000.0, 4000.0],
        pv_w=[0.0, 2500.0, 0.0],
        import_price_eur_per_kwh=[0.10, 0.20, 0.30],
        battery=battery(soc_initial_pct=0, charge_max_w=4000, discharge_max_w=4000)
        | {"charge_from_grid": False},
    )
    result = solve(data)
    assert result["battery_w"][0] == 0  # no surplus at the cheap hour: no charging
    assert result["battery_w"][1] == pytest.approx(1500)  # the PV surplus only
    assert result["battery_w"][2] == pytest.approx(-1500)
    # With grid charging allowed, the cheap hour is used.
    data["battery"]["charge_from_grid"] = True
    assert solve(data)["battery_w"][0] > 0


def test_battery_efficiency_and_final_soc() -> None:
    data = scenario(
        steps=2,
        load_w=[0.0, 0.0],
        import_price_eur_per_kwh=[0.10, 0.30],
        battery=battery(
            soc_initial_pct=0, soc_final_pct=45, charge_efficiency=0.9, discharge_efficiency=0.9
        ),
    )
    result = solve(data)
    # 4.5 kWh stored needs 5 kWh bought at the cheap step
    assert result["battery_w"] == pytest.approx([5000, 0], abs=0.01)
    assert result["soc_pct"][-1] == pytest.approx(45)
    assert result["report"]["cost_eur"] == pytest.approx(0.50)


def test_battery_wear_cost_stops_small_spreads() -> None:
    data = scenario(
        steps=2,
        load_w=[0.0, 1000.0],
        import_price_eur_per_kwh=[0.20, 0.25],
        battery=battery(soc_initial_pct=0, wear_cost_eur_per_kwh=0.10),
    )
    result = solve(data)
    assert result["battery_w"] == [0, 0]  # a 0.05 €/kWh spread does not pay 0.10 €/kWh of wear


def test_water_heater_cheapest_steps_inside_windows() -> None:
    prices = [0.10, 0.30, 0.05, 0.20, 0.15, 0.01]
    data = scenario(
        steps=6,
        import_price_eur_per_kwh=prices,
        appliances=[
            {"id": "tank", "type": "water_heater", "power_w": 2000, "energy_wh": 5000}
            | {"windows": [[at(0), at(4)]], "deadline": at(5)}
        ],
    )
    result = solve(data)
    # 5 kWh at 2 kW = 3 steps among 0..3 (step 5 is cheaper but outside the window)
    assert result["appliances"]["tank"]["power_w"] == [2000, 0, 2000, 2000, 0, 0]
    assert result["appliances"]["tank"]["start"] == at(0)


def test_ev_semi_continuous_power() -> None:
    prices = [0.30, 0.10, 0.20, 0.40]
    data = scenario(
        steps=4,
        import_price_eur_per_kwh=prices,
        appliances=[
            {"id": "car", "type": "ev", "max_power_w": 7000, "min_power_w": 2000}
            | {"energy_wh": 9000}
        ],
    )
    result = solve(data)
    # 7 kWh in the cheapest step, the other 2 kWh at the minimum power in the next cheapest
    assert result["appliances"]["car"]["power_w"] == pytest.approx([0, 7000, 2000, 0])
    assert result["report"]["cost_eur"] == pytest.approx(0.7 + 0.4)


def test_pilot_wire_heater_comfort_in_cheap_steps() -> None:
    prices = [0.10, 0.30, 0.20, 0.05]
    data = scenario(
        steps=4,
        import_price_eur_per_kwh=prices,
        appliances=[
            {"id": "room", "type": "pilot_wire_heater", "comfort_power_w": 1500}
            | {"eco_power_w": 500, "comfort_ratio": 0.5, "period": [at(0), at(4)]}
        ],
    )
    result = solve(data)
    assert result["appliances"]["room"]["power_w"] == [1500, 500, 500, 1500]


def test_thermal_heats_when_cheap() -> None:
    # no losses, cop 2, C = 1 kWh/K: 1 K more needs 500 Wh of electricity
    data = scenario(
        steps=3,
        import_price_eur_per_kwh=[0.10, 0.30, 0.30],
        appliances=[
            {"id": "hp", "type": "thermal", "max_power_w": 2000, "cop": 2.0}
            | {"heat_loss_w_per_k": 0.0, "thermal_capacity_wh_per_k": 1000.0}
            | {"t_initial_c": 19.0, "t_min_c": 20.0, "t_max_c": 22.0, "outdoor_temp_c": [0.0] * 3}
        ],
    )
    result = solve(data)
    hp = result["appliances"]["hp"]
    assert hp["power_w"] == pytest.approx([500, 0, 0], abs=0.01)
    assert hp["temperature_c"] == pytest.approx([19, 20, 20, 20], abs=1e-3)


def test_negative_export_price_curtails_pv() -> None:
    data = scenario(
        steps=2,
        pv_w=[3000.0, 3000.0],
        load_w=[1000.0, 1000.0],
        export_price_eur_per_kwh=[-0.05, 0.05],
    )
    result = solve(data)
    assert result["pv_used_w"] == [1000, 3000]
    assert result["grid_w"] == [0, -2000]


def test_negative_import_price_never_charges_and_discharges_at_once() -> None:
    # being paid to import: burning energy in battery losses would pay, the plan must not do both
    data = scenario(
        steps=3,
        load_w=[500.0] * 3,
        import_price_eur_per_kwh=[-0.20, -0.20, 0.30],
        battery=battery(soc_initial_pct=50, charge_efficiency=0.9, discharge_efficiency=0.9),
    )
    result = solve(data)  # the checker verifies the SOC from the net power: no hidden losses
    assert result["battery_w"][0] > 0


def test_import_objective() -> None:
    data = scenario(
        steps=2,
        objective="import",
        pv_w=[3000.0, 0.0],
        load_w=[0.0, 1000.0],
        appliances=[{"id": "wm", "type": "cycle", "profile_w": [2000]}],
    )
    del data["import_price_eur_per_kwh"]
    result = solve(data)
    assert result["appliances"]["wm"]["start"] == at(0)  # on the sun
    assert result["objective_value"] == pytest.approx(1.0)  # kWh imported
    assert result["report"]["cost_eur"] is None


def test_self_consumption_objective_prefers_pv_over_a_cheap_hour() -> None:
    data = scenario(
        steps=2,
        objective="self_consumption",
        pv_w=[2000.0, 0.0],
        import_price_eur_per_kwh=[0.30, 0.01],
        export_price_eur_per_kwh=[0.20, 0.20],
        appliances=[{"id": "wm", "type": "cycle", "profile_w": [2000]}],
    )
    result = solve(data)
    assert result["appliances"]["wm"]["start"] == at(0)
    assert result["report"]["self_consumption_pct"] == pytest.approx(100)


def test_peak_penalty_spreads_load() -> None:
    prices = [0.10, 0.11, 0.30]
    appliances = [
        {"id": "a", "type": "cycle", "profile_w": [3000]},
        {"id": "b", "type": "cycle", "profile_w": [3000]},
    ]
    cheap = solve(scenario(steps=3, import_price_eur_per_kwh=prices, appliances=appliances))
    assert max(cheap["grid_w"]) == 6000
    flat = solve(
        scenario(
            steps=3,
            import_price_eur_per_kwh=prices,
            appliances=appliances,
            peak_import_penalty_eur_per_kw=0.5,
        )
    )
    assert max(flat["grid_w"]) == 3000


def test_grid_limits_hold() -> None:
    data = scenario(
        steps=3,
        import_price_eur_per_kwh=[0.1, 0.3, 0.35],
        grid={"import_limit_w": 4000, "export_limit_w": 0},
        pv_w=[0.0, 0.0, 5000.0],
        appliances=[
            {"id": "a", "type": "cycle", "profile_w": [3000]},
            {"id": "b", "type": "cycle", "profile_w": [3000]},
        ],
    )
    result = solve(data)
    assert max(result["grid_w"]) <= 4000
    assert result["pv_used_w"][2] <= 3000  # no export: the rest is curtailed


def test_report_and_curves() -> None:
    data = scenario(
        steps=2,
        step_minutes=30,
        load_w=[1000.0, 1000.0],
        pv_w=[0.0, 3000.0],
        export_price_eur_per_kwh=[0.1, 0.1],
    )
    result = solve(data)
    report = result["report"]
    assert report["import_wh"] == pytest.approx(500)
    assert report["export_wh"] == pytest.approx(1000)
    assert report["cost_eur"] == pytest.approx(0.5 * 0.2 - 1.0 * 0.1)
    assert report["self_consumption_pct"] == pytest.approx(100 * 500 / 1500, abs=1e-3)
    assert report["consumer_count"] == 0
    assert report["deficit_max_hour"] == {"start": at(0), "w": pytest.approx(-500)}
    assert result["curves"]["net_without_flexible_w"] == [1000, -2000]


def test_stable_replanning_keeps_the_previous_start() -> None:
    cycle = {"id": "wm", "type": "cycle", "profile_w": [2000]}
    first = solve(
        scenario(steps=4, import_price_eur_per_kwh=[0.2, 0.1, 0.2, 0.2], appliances=[cycle])
    )
    assert first["appliances"]["wm"]["start"] == at(1)
    # a slightly cheaper hour appears: 2 kWh × 0.005 € = 0.01 € < the 0.02 € move penalty
    slightly = scenario(
        steps=4, import_price_eur_per_kwh=[0.2, 0.1, 0.2, 0.095], appliances=[cycle]
    )
    assert solve(slightly, first)["appliances"]["wm"]["start"] == at(1)
    assert solve(slightly)["appliances"]["wm"]["start"] == at(3)
    # a much cheaper one: worth moving
    much = scenario(steps=4, import_price_eur_per_kwh=[0.2, 0.1, 0.2, 0.05], appliances=[cycle])
    assert solve(much, first)["appliances"]["wm"]["start"] == at(3)


def test_previous_plan_from_another_grid_is_ignored() -> None:
    data = scenario(appliances=[{"id": "wm", "type": "cycle", "profile_w": [1000]}])
    other = plan(scenario(steps=8, step_minutes=30))
    assert solve(data, other)["status"] == "optimal"
    assert solve(data, {"garbage": True})["status"] == "optimal"


def _pv_at_the_end(**battery_fields: float) -> dict:
    """PV surplus in the last two steps, exported for 0.04 €/kWh, imports at 0.20 €/kWh."""
    return scenario(
        steps=3,
        load_w=[500.0, 0.0, 0.0],
        pv_w=[0.0, 2000.0, 2000.0],
        import_price_eur_per_kwh=[0.20] * 3,
        export_price_eur_per_kwh=[0.04] * 3,
        battery=battery(soc_initial_pct=50, **battery_fields),
    )


def test_energy_left_at_the_end_is_worth_keeping() -> None:
    """The next plan will use what is stored at this one's end: PV is kept, not sold for little.

    Without a value for it, storing the surplus of the horizon's last hours is worth nothing and
    exporting it earns 0.04 €/kWh: the plan sells it (what a rolling 24 h plan did every day).
    """
    kept = solve(_pv_at_the_end())
    assert kept["battery_w"] == pytest.approx([-500.0, 2000.0, 2000.0])
    assert kept["grid_w"] == pytest.approx([0.0, 0.0, 0.0])
    # worth nothing: the surplus is sold, and so is the whole battery (for 0.04 €/kWh)
    sold = solve(_pv_at_the_end(stored_energy_value_eur_per_kwh=0.0))
    assert sold["battery_w"][1:] == pytest.approx([0.0, 0.0])
    assert sold["grid_w"][1:] == pytest.approx([-2000.0, -2000.0])
    assert sold["soc_pct"][-1] == pytest.approx(0.0)


def test_the_stored_energy_value_never_pays_for_grid_charging() -> None:
    """Worth a little less than the cheapest import it can displace: buying to store never pays."""
    data = scenario(steps=3, import_price_eur_per_kwh=[0.10, 0.10, 0.10], battery=battery())
    assert solve(data)["battery_w"] == pytest.approx([0.0, 0.0, 0.0])
    # a value the scenario states is the scenario's: above the import price, it buys
    data["battery"]["stored_energy_value_eur_per_kwh"] = 0.50
    assert solve(data)["soc_pct"][-1] == pytest.approx(100.0)


def _small_spread(pv_w: list[float]) -> dict:
    """Buy at 0.10, use at 0.115 €/kWh: 1.5 c/kWh to gain, less than the 2 c planning margin."""
    return scenario(
        steps=3,
        load_w=[0.0, 2000.0, 0.0],
        pv_w=pv_w,
        import_price_eur_per_kwh=[0.10, 0.115, 0.10],
        battery=battery(soc_initial_pct=0, stored_energy_value_eur_per_kwh=0.0),
    )


def test_a_gain_smaller_than_a_pv_forecast_error_is_not_planned() -> None:
    """With a PV forecast in the horizon the plan does not cycle for 1.5 c/kWh; without, it does.

    The margin (PlanOptions.risk_margin_eur_per_kwh) grows with the horizon's PV energy over the
    battery's capacity: prices and the load alone are known well enough to act on small spreads.
    """
    sunny = solve(_small_spread([0.0, 0.0, 20000.0]))
    assert sunny["battery_w"][:2] == pytest.approx([0.0, 0.0])
    dark = solve(_small_spread([0.0, 0.0, 0.0]))
    assert dark["battery_w"][:2] == pytest.approx([2000.0, -2000.0])
    # a perfect forecast needs no margin
    exact = plan(_small_spread([0.0, 0.0, 20000.0]), None, PlanOptions(risk_margin_eur_per_kwh=0))
    assert exact["battery_w"][:2] == pytest.approx([2000.0, -2000.0])
