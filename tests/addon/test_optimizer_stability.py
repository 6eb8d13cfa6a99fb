"""Stable execution: the running step and the previous plan are kept unless changing pays."""

from __future__ import annotations

import copy

from optimizer_helpers import at, battery, scenario
import pytest

from ems_core.contract import validate_plan, validate_scenario
from ems_optimizer.checker import check_plan
from ems_optimizer.planner import PlanOptions, plan
from ems_optimizer.stability import SOC_BAND_PCT


def _house(**fields: object) -> dict:
    """Four hours: cheap, dear, dear, cheap; a 10 kWh battery at 50 %."""
    data = scenario(
        steps=4,
        load_w=[1000.0, 2000.0, 2000.0, 1000.0],
        import_price_eur_per_kwh=[0.10, 0.30, 0.30, 0.10],
        battery=battery(soc_initial_pct=50, charge_max_w=3000, discharge_max_w=3000),
    )
    data.update(fields)
    return data


def _next_hour(data: dict, previous: dict, **battery_fields: float) -> dict:
    """The scenario one hour later (horizon moved by a step), SOC where the plan put it."""
    later = copy.deepcopy(data)
    later["start"] = at(1)
    for key in ("load_w", "pv_w", "import_price_eur_per_kwh", "export_price_eur_per_kwh"):
        later[key] = [*later[key][1:], later[key][-1]]
    later["battery"]["soc_initial_pct"] = previous["soc_pct"][1]
    later["battery"].update(battery_fields)
    return later


def _sound(data: dict, result: dict) -> dict:
    assert check_plan(data, result) == []
    validate_plan(result, validate_scenario(data))
    return result


def test_a_first_plan_says_so() -> None:
    result = _sound(_house(), plan(_house()))
    assert result["replan"] == {
        "decision": "first",
        "running_step_kept": None,
        "gain_eur": None,
        "threshold_eur": 0.05,
    }


def test_the_same_forecast_keeps_the_previous_plan_and_its_running_step() -> None:
    data = _house()
    first = plan(data)
    later = _next_hour(data, first)
    again = _sound(later, plan(later, first))
    assert again["replan"]["decision"] == "kept"
    assert again["replan"]["running_step_kept"] is True
    assert abs(again["replan"]["gain_eur"]) <= 0.05
    assert again["battery_w"][:3] == first["battery_w"][1:]
    assert again["intents"][0]["kind"] == first["intents"][1]["kind"]


def test_a_new_plan_that_saves_more_than_the_threshold_replaces_the_previous_one() -> None:
    data = _house()
    first = plan(data)
    later = _next_hour(data, first)
    later["import_price_eur_per_kwh"][2] = 0.90  # much dearer than thought: move energy there
    replaced = _sound(later, plan(later, first))
    assert replaced["replan"]["decision"] == "replaced"
    assert replaced["replan"]["gain_eur"] > 0.05
    # with a threshold above the gain, the previous plan stays
    high = PlanOptions(replace_threshold_eur=replaced["replan"]["gain_eur"] + 0.01)
    assert plan(later, first, high)["replan"]["decision"] == "kept"


def test_the_running_step_is_released_when_the_soc_left_its_band() -> None:
    data = _house()
    first = plan(data)
    low = min(first["soc_pct"][1:3])  # the SOC over the step now running, as planned
    assert low > SOC_BAND_PCT + 1
    later = _next_hour(data, first, soc_initial_pct=low - SOC_BAND_PCT - 1)
    result = _sound(later, plan(later, first))
    assert result["replan"]["running_step_kept"] is False
    assert result["replan"]["decision"] == "replaced"  # the old decisions do not fit either


def test_the_running_step_is_released_when_the_net_load_left_its_band() -> None:
    data = _house()
    first = plan(data)
    later = _next_hour(data, first)
    later["load_w"][0] += 2500.0  # a big load the previous forecast did not know
    result = _sound(later, plan(later, first))
    assert result["replan"]["running_step_kept"] is False


def test_the_running_step_keeps_its_power_even_when_the_rest_changes() -> None:
    data = _house()
    first = plan(data)
    later = _next_hour(data, first)
    later["import_price_eur_per_kwh"][2] = 0.90
    result = _sound(later, plan(later, first))
    assert result["replan"]["decision"] == "replaced"
    assert result["replan"]["running_step_kept"] is True
    assert result["battery_w"][0] == first["battery_w"][1]
    assert result["intents"][0]["kind"] == first["intents"][1]["kind"]


def test_a_changed_request_never_keeps_the_previous_plan() -> None:
    data = _house()
    first = plan(data)
    later = _next_hour(data, first)
    later["appliances"] = [{"id": "wm", "type": "cycle", "profile_w": [1000]}]
    result = _sound(later, plan(later, first))
    assert result["replan"]["decision"] == "replaced"
    assert result["appliances"]["wm"]["start"] is not None


def test_a_kept_plan_curtails_pv_when_exporting_costs() -> None:
    """Carried over, the previous plan's decisions get the PV use that fits the new prices.

    (Found by the re-planning property test: a kept plan exported 65 W at a negative price.)
    """
    data = scenario(
        steps=4,
        step_minutes=15,
        pv_w=[65.0, 0.0, 0.0, 0.0],
        import_price_eur_per_kwh=[0.0] * 4,
        export_price_eur_per_kwh=[-0.0625, 0.0, 0.0, 0.0],
    )
    first = plan(data)
    again = _sound(data, plan(data, first))
    assert again["replan"]["decision"] == "kept"
    assert again["pv_used_w"][0] == 0.0
    assert again["grid_w"][0] == 0.0
    assert again["objective_value"] == first["objective_value"] == 0.0


# --- found by a hostile review -----------------------------------------------------------------


def test_the_running_step_never_outgrows_the_new_limits() -> None:
    """Grid charging switched off, or a lower inverter limit: the running step is released."""
    empty = battery(soc_initial_pct=0, charge_max_w=3000, discharge_max_w=3000)
    data = _house(battery=empty)  # charges in the cheap first hour
    first = plan(data)
    assert first["battery_w"][0] > 0
    for change in ({"charge_from_grid": False}, {"charge_max_w": 1000}):
        again = copy.deepcopy(data)
        again["battery"].update(change)
        result = _sound(again, plan(again, first))
        assert result["replan"]["running_step_kept"] is False
        assert result["battery_w"][0] <= (0.0 if "charge_from_grid" in change else 1000.0)


def test_without_a_battery_nothing_of_the_old_battery_plan_is_kept() -> None:
    data = _house()
    first = plan(data)
    again = copy.deepcopy(data)
    again["battery"] = None
    result = _sound(again, plan(again, first))
    assert {i["kind"] for i in result["intents"]} == {"hold"}
    assert all(i["power_w"] == 0.0 for i in result["intents"])


def test_the_running_step_is_released_when_the_appliance_it_fed_is_gone() -> None:
    """The step discharged into an EV that has since been unplugged (left the scenario)."""
    data = scenario(
        steps=4,
        load_w=[500.0] * 4,
        import_price_eur_per_kwh=[0.30, 0.10, 0.10, 0.10],
        battery=battery(soc_initial_pct=100),
        appliances=[
            {"id": "ev", "type": "ev", "max_power_w": 4500, "energy_wh": 4500, "deadline": at(1)}
        ],
    )
    first = plan(data)
    assert first["appliances"]["ev"]["power_w"][0] > 0
    again = copy.deepcopy(data)
    again["appliances"] = []
    result = _sound(again, plan(again, first))
    assert result["replan"]["running_step_kept"] is False
    assert result["battery_w"][0] == pytest.approx(-500.0)  # the house only, no export


def test_a_plan_that_fills_the_battery_can_be_kept() -> None:
    """Rounding in a plan (1 mW, 1e-4 %) may carry the SOC a hair past 100 %: still kept."""
    steps = 24
    price = [0.12] * 6 + [0.30] * 4 + [0.18] * 6 + [0.35] * 5 + [0.15] * 3
    pv = [0] * 7 + [800, 2000, 3500, 4500, 5000, 5000, 4500, 3500, 2000, 800] + [0] * 7
    load = [400] * 6 + [900] * 3 + [500] * 8 + [1500] * 5 + [600] * 2
    data = scenario(
        steps=steps,
        load_w=[float(x) for x in load],
        pv_w=[float(x) for x in pv],
        import_price_eur_per_kwh=price,
        export_price_eur_per_kwh=[0.07] * steps,
        battery=battery(
            soc_initial_pct=40,
            charge_efficiency=0.95,
            discharge_efficiency=0.95,
            wear_cost_eur_per_kwh=0.01,
        ),
    )
    first = plan(data)
    assert max(first["soc_pct"]) == pytest.approx(100.0)
    later = _next_hour(data, first)
    result = _sound(later, plan(later, first))
    assert result["replan"]["decision"] == "kept"


def test_a_started_appliance_and_a_pilot_wire_heater_do_not_stop_keeping() -> None:
    """Their runs began before the new horizon: the carried-over start is their first step in it."""
    steps = 6
    data = scenario(
        steps=steps,
        load_w=[300.0] * steps,
        import_price_eur_per_kwh=[0.1, 0.1, 0.3, 0.3, 0.3, 0.3],
        battery=battery(soc_initial_pct=50),
        appliances=[
            {"id": "ev", "type": "ev", "max_power_w": 3000, "energy_wh": 6000, "deadline": at(6)},
            {
                "id": "rad",
                "type": "pilot_wire_heater",
                "eco_power_w": 300,
                "comfort_power_w": 1000,
                "comfort_ratio": 0.25,
            },
        ],
    )
    first = plan(data)
    assert first["appliances"]["ev"]["start"] == at(0)
    later = _next_hour(data, first)
    later["appliances"][0]["energy_wh"] = 3000  # delivered in the first hour
    result = _sound(later, plan(later, first))
    assert result["replan"]["decision"] == "kept"
    assert result["appliances"]["ev"]["start"] == at(1)


def test_an_intent_that_contradicts_its_power_is_not_carried_over() -> None:
    data = _house()
    first = plan(data)
    assert first["battery_w"][1] != 0
    forged = copy.deepcopy(first)
    wrong = "charge" if first["battery_w"][1] < 0 else "export"
    forged["intents"][1] = {**forged["intents"][1], "kind": wrong, "reason": "sell_high"}
    later = _next_hour(data, first)
    result = _sound(later, plan(later, forged))
    assert result["intents"][0]["kind"] != wrong
