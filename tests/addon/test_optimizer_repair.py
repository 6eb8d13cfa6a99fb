"""Impossible user constraints: repaired in the order a user accepts, always said, never a crash."""

from __future__ import annotations

from optimizer_helpers import at, battery, scenario, warning_codes
import pytest

from ems_optimizer.checker import check_plan
from ems_optimizer.planner import plan


def solve(data: dict) -> dict:
    result = plan(data)
    assert check_plan(data, result) == []
    return result


def test_cycle_deadline_pushed_as_little_as_possible() -> None:
    data = scenario(
        steps=6,
        appliances=[
            {"id": "dw", "type": "cycle", "profile_w": [1000, 1000, 1000]}
            | {"earliest_start": at(2), "deadline": at(4)}
        ],
    )
    result = solve(data)
    assert result["appliances"]["dw"]["start"] == at(2)  # ends at 5, one step late
    assert result["status"] == "relaxed"
    (warning,) = result["warnings"]
    assert warning["code"] == "WARN_CONSTRAINT"
    assert warning["appliance"] == "dw"
    assert "deadline" in warning["message"]


def test_cycle_deadline_before_earliest_start() -> None:
    data = scenario(
        steps=6,
        appliances=[
            {"id": "dw", "type": "cycle", "profile_w": [1000]}
            | {"earliest_start": at(4), "deadline": at(2)}
        ],
    )
    result = solve(data)
    assert result["appliances"]["dw"]["start"] == at(4)
    assert warning_codes(result, "dw") == {"WARN_CONSTRAINT"}


def test_cycle_too_late_in_the_horizon_starts_earlier() -> None:
    data = scenario(
        steps=4,
        appliances=[{"id": "dw", "type": "cycle", "profile_w": [1, 2, 3], "earliest_start": at(3)}],
    )
    result = solve(data)
    assert result["appliances"]["dw"]["start"] == at(1)
    assert warning_codes(result, "dw") == {"WARN_CONSTRAINT"}


def test_cycle_longer_than_the_horizon_is_left_out() -> None:
    data = scenario(steps=2, appliances=[{"id": "dw", "type": "cycle", "profile_w": [1, 2, 3]}])
    result = solve(data)
    assert result["appliances"]["dw"] == {"power_w": [0, 0], "start": None}
    assert warning_codes(result, "dw") == {"WARN_IGNORED"}
    assert result["report"]["consumer_count"] == 0


def test_water_heater_windows_widened_then_deadline_pushed() -> None:
    prices = [0.1, 0.2, 0.3, 0.05, 0.4, 0.01]
    tank = {"id": "tank", "type": "water_heater", "power_w": 1000, "energy_wh": 3000}
    data = scenario(
        steps=6,
        import_price_eur_per_kwh=prices,
        appliances=[tank | {"windows": [[at(0), at(1)]], "deadline": at(4)}],
    )
    result = solve(data)
    # one window step, two more before the deadline (the cheapest: 3, then 1)
    assert result["appliances"]["tank"]["power_w"] == [1000, 1000, 0, 1000, 0, 0]
    assert warning_codes(result, "tank") == {"WARN_CONSTRAINT"}

    data["appliances"] = [tank | {"energy_wh": 5000, "deadline": at(3)}]
    result = solve(data)
    assert sum(result["appliances"]["tank"]["power_w"]) == 5000
    assert "after" not in result["warnings"][0]["message"] or result["status"] == "relaxed"
    assert warning_codes(result, "tank") == {"WARN_CONSTRAINT"}


def test_water_heater_energy_beyond_the_horizon_is_reduced() -> None:
    data = scenario(
        steps=3,
        appliances=[{"id": "tank", "type": "water_heater", "power_w": 1000, "energy_wh": 9000}],
    )
    result = solve(data)
    assert result["appliances"]["tank"]["power_w"] == [1000, 1000, 1000]
    assert warning_codes(result, "tank") == {"WARN_CONSTRAINT"}


@pytest.mark.parametrize("partial", [True, False])
def test_ev_that_cannot_be_charged(partial: bool) -> None:
    car = {"id": "car", "type": "ev", "max_power_w": 3000, "min_power_w": 1000, "energy_wh": 20000}
    data = scenario(steps=4, appliances=[car | {"deadline": at(2), "allow_partial": partial}])
    result = solve(data)
    if partial:
        assert result["appliances"]["car"]["power_w"] == [3000] * 4
        assert warning_codes(result, "car") == {"WARN_CONSTRAINT"}
    else:
        assert result["appliances"]["car"]["start"] is None
        assert warning_codes(result, "car") == {"WARN_IGNORED"}


def test_ev_late_rather_than_partial() -> None:
    car = {"id": "car", "type": "ev", "max_power_w": 3000, "energy_wh": 7000, "deadline": at(2)}
    data = scenario(steps=4, appliances=[car])
    result = solve(data)
    assert result["appliances"]["car"]["power_w"] == pytest.approx([3000, 3000, 1000, 0])
    assert warning_codes(result, "car") == {"WARN_CONSTRAINT"}


def test_ev_energy_below_one_minimum_step() -> None:
    car = {"id": "car", "type": "ev", "max_power_w": 7000, "min_power_w": 2000, "energy_wh": 500}
    result = solve(scenario(steps=2, appliances=[car]))
    assert sorted(result["appliances"]["car"]["power_w"]) == [0, 2000]
    assert warning_codes(result, "car") == {"WARN_CONSTRAINT"}


def test_shared_import_limit_leaves_out_the_least_certain() -> None:
    # 3 kW of import: the cycle (3 kW) and the heater (eco 1 kW at least) cannot both run
    data = scenario(
        steps=1,
        grid={"import_limit_w": 3000, "export_limit_w": None},
        appliances=[
            {"id": "wm", "type": "cycle", "profile_w": [3000]},
            {"id": "room", "type": "pilot_wire_heater", "comfort_power_w": 2000}
            | {"eco_power_w": 1000, "comfort_ratio": 1.0},
        ],
    )
    result = solve(data)
    assert warning_codes(result, "room") == {"WARN_IGNORED"}
    assert warning_codes(result, "wm") == set()
    assert result["status"] == "relaxed"


def test_comfort_reduced_before_the_heater_is_left_out() -> None:
    data = scenario(
        steps=2,
        grid={"import_limit_w": 3000, "export_limit_w": None},
        appliances=[
            {"id": "tank", "type": "water_heater", "power_w": 3000, "energy_wh": 6000},
            {"id": "room", "type": "pilot_wire_heater", "comfort_power_w": 2000}
            | {"eco_power_w": 0, "comfort_ratio": 1.0},
        ],
    )
    result = solve(data)
    assert warning_codes(result, "room") == {"WARN_CONSTRAINT"}
    assert result["appliances"]["tank"]["power_w"] == [3000, 3000]


def test_shared_import_limit_reduces_energy_before_leaving_out() -> None:
    data = scenario(
        steps=2,
        grid={"import_limit_w": 5000, "export_limit_w": None},
        appliances=[
            {"id": "tank", "type": "water_heater", "power_w": 3000, "energy_wh": 6000},
            {"id": "car", "type": "ev", "max_power_w": 3000, "energy_wh": 6000}
            | {"allow_partial": True},
        ],
    )
    result = solve(data)
    assert "WARN_IGNORED" not in warning_codes(result)
    assert result["report"]["consumer_count"] == 2
    assert max(result["grid_w"]) <= 5000


def test_base_load_above_the_import_limit_is_impossible() -> None:
    data = scenario(
        steps=2,
        load_w=[5000.0, 1000.0],
        grid={"import_limit_w": 4000, "export_limit_w": None},
        appliances=[{"id": "wm", "type": "cycle", "profile_w": [500]}],
    )
    result = solve(data)
    assert result["status"] == "infeasible"
    assert "WARN_IMPOSSIBLE" in warning_codes(result)
    assert result["appliances"]["wm"]["start"] == at(1)  # still planned where it fits


def test_battery_below_its_minimum_is_brought_back() -> None:
    data = scenario(
        steps=3,
        import_price_eur_per_kwh=[0.3, 0.1, 0.1],
        battery=battery(soc_initial_pct=5, soc_min_pct=20, charge_max_w=1000),
    )
    result = solve(data)
    assert result["soc_pct"] == pytest.approx([5, 15, 20, 20])  # back at once, price or not
    assert warning_codes(result) == {"WARN_CONSTRAINT"}


def test_unreachable_final_soc_is_lowered() -> None:
    data = scenario(
        steps=2, battery=battery(soc_initial_pct=0, soc_final_pct=90, charge_max_w=1000)
    )
    result = solve(data)
    assert result["soc_pct"][-1] == pytest.approx(20)
    assert warning_codes(result) == {"WARN_CONSTRAINT"}


def test_final_soc_blocked_by_the_import_limit() -> None:
    data = scenario(
        steps=2,
        load_w=[1000.0, 1000.0],
        grid={"import_limit_w": 1500, "export_limit_w": None},
        battery=battery(soc_initial_pct=0, soc_final_pct=50, charge_max_w=5000),
    )
    result = solve(data)
    assert result["soc_pct"][-1] == pytest.approx(10)
    assert result["status"] == "relaxed"


def test_thermal_cold_snap_is_reported() -> None:
    data = scenario(
        steps=4,
        appliances=[
            {"id": "hp", "type": "thermal", "max_power_w": 500, "cop": 2.0}
            | {"heat_loss_w_per_k": 200.0, "thermal_capacity_wh_per_k": 2000.0}
            | {"t_initial_c": 20.0, "t_min_c": 19.5, "t_max_c": 22.0, "outdoor_temp_c": [-15.0] * 4}
        ],
    )
    result = solve(data)
    assert result["appliances"]["hp"]["power_w"] == pytest.approx([500] * 4, abs=0.01)
    assert warning_codes(result, "hp") == {"WARN_CONSTRAINT"}


def test_every_warning_has_the_contract_shape() -> None:
    data = scenario(
        steps=2,
        load_w=[5000.0, 5000.0],
        grid={"import_limit_w": 1000, "export_limit_w": None},
        battery=battery(soc_initial_pct=0, soc_final_pct=100),
        appliances=[
            {"id": "car", "type": "ev", "max_power_w": 3000, "energy_wh": 6000},
            {"id": "dw", "type": "cycle", "profile_w": [100]},
        ],
    )
    result = solve(data)
    assert result["status"] == "infeasible"
    for warning in result["warnings"]:
        assert set(warning) == {"code", "appliance", "message"}
        assert warning["message"]
