"""Stable execution: the running step and the previous plan are kept unless changing pays."""

from __future__ import annotations

import copy

from optimizer_helpers import at, battery, scenario

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
