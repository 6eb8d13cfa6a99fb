"""The early-start baseline, one rule per appliance type, and the re-planning price of a binary."""

from __future__ import annotations

from typing import Any

from optimizer_helpers import at, battery, scenario
import pytest

from ems_core.contract import validate_scenario
from ems_optimizer.baseline import _early_power, baseline_cost
from ems_optimizer.model.appliances.replanning import flip_cost_meur
from ems_optimizer.model.core import Horizon, Model, Stability


def early(steps: int, appliance: dict[str, Any]) -> list[float]:
    data = validate_scenario(scenario(steps, appliances=[appliance]))
    return _early_power(data, data["appliances"][0])


def test_cycle_starts_at_its_earliest_start() -> None:
    cycle = {"id": "wm", "type": "cycle", "profile_w": [2000, 1000], "earliest_start": at(1)}
    assert early(5, cycle) == [0, 2000, 1000, 0, 0]


def test_cycle_starts_earlier_when_it_would_not_fit() -> None:
    cycle = {"id": "wm", "type": "cycle", "profile_w": [2000, 1000], "earliest_start": at(3)}
    assert early(4, cycle) == [0, 0, 2000, 1000]


def test_water_heater_heats_from_the_start_of_its_windows() -> None:
    tank = {"id": "tank", "type": "water_heater", "power_w": 2000, "energy_wh": 5000}
    tank["windows"] = [[at(1), at(2)], [at(3), at(6)]]
    assert early(6, tank) == [0, 2000, 0, 2000, 2000, 0]


def test_ev_charges_at_full_power_on_arrival() -> None:
    car = {"id": "car", "type": "ev", "max_power_w": 7000, "min_power_w": 0}
    car |= {"energy_wh": 9000, "earliest_start": at(1)}
    assert early(4, car) == pytest.approx([0, 7000, 2000, 0])


def test_pilot_wire_heater_is_in_comfort_from_the_start_of_its_period() -> None:
    room = {"id": "room", "type": "pilot_wire_heater", "comfort_power_w": 1500}
    room |= {"eco_power_w": 500, "comfort_ratio": 0.5, "period": [at(1), at(5)]}
    assert early(6, room) == [0, 1500, 1500, 500, 500, 0]


def test_thermal_holds_t_min() -> None:
    # no losses, cop 2, C = 1 kWh/K: 1 K more needs 500 Wh of electricity
    hp = {"id": "hp", "type": "thermal", "max_power_w": 2000, "cop": 2.0}
    hp |= {"heat_loss_w_per_k": 0.0, "thermal_capacity_wh_per_k": 1000.0}
    hp |= {"t_initial_c": 19.0, "t_min_c": 20.0, "t_max_c": 22.0, "outdoor_temp_c": [0.0] * 3}
    assert early(3, hp) == pytest.approx([500, 0, 0])


def test_baseline_cost_buys_what_the_battery_lacks_at_the_end() -> None:
    # 1 kW of load for 2 h from a 10 kWh battery at 50 %: it covers the load, then lacks 2 kWh
    # against a 50 % final SOC, bought at the mean import price
    data = scenario(
        2,
        load_w=[1000.0, 1000.0],
        battery=battery(soc_final_pct=50, wear_cost_eur_per_kwh=0.0),
    )
    figures = baseline_cost(validate_scenario(data))
    assert figures["import_wh"] == pytest.approx(2000)
    assert figures["cost_eur"] == pytest.approx(2 * 0.2)


def stable_model() -> Model:
    horizon = Horizon.of(validate_scenario(scenario(2)))
    stability = Stability({}, {}, [], 20.0, 2.0, 0.0)
    return Model(horizon, stability=stability)


def test_switching_off_what_was_on_costs_one_minus_x() -> None:
    model = stable_model()
    assert flip_cost_meur(model, was_on=True) == -2.0
    assert model.objective_constant == 2.0


def test_switching_on_what_was_off_costs_x() -> None:
    model = stable_model()
    assert flip_cost_meur(model, was_on=False) == 2.0
    assert model.objective_constant == 0.0


def test_no_previous_plan_costs_nothing() -> None:
    model = stable_model()
    assert flip_cost_meur(model, was_on=None) == 0.0
    assert flip_cost_meur(Model(model.horizon), was_on=True) == 0.0
    assert model.objective_constant == 0.0
