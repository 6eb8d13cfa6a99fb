"""When the problem changed (the hash), and the add-on's own step, horizon and objective."""

from __future__ import annotations

import copy
from typing import Any

from optimizer_helpers import battery, scenario
import pytest
from test_serve_fakeha import problem

from ems_core.contract import validate_scenario
from ems_optimizer.planner import plan
from ems_optimizer.problem import (
    adapt_scenario,
    floor_to_step,
    problem_changed,
    problem_hash,
    resample,
    resample_profile,
)

START = "2024-04-01T00:00:00+02:00"


def _next_step(data: dict[str, Any]) -> dict[str, Any]:
    """The same problem a quarter hour later: start moved, series shifted, SOC moved."""
    later = copy.deepcopy(data)
    sc = later["scenario"]
    sc["start"] = "2024-04-01T00:15:00+02:00"
    for key in ("import_price_eur_per_kwh", "export_price_eur_per_kwh"):
        sc[key] = [*sc[key][1:], sc[key][-1]]
    sc["battery"]["soc_initial_pct"] = 51.5
    return later


def test_time_passing_is_not_a_change() -> None:
    base = problem(START, 96, 15)
    assert not problem_changed(base, copy.deepcopy(base))
    assert not problem_changed(base, _next_step(base))
    assert problem_hash(base) == problem_hash(copy.deepcopy(base))


def test_fast_moving_values_are_left_out() -> None:
    base = problem(START, 96, 15, appliances=[_thermal(), _ev(10000)])
    moved = copy.deepcopy(base)
    moved["scenario"]["battery"]["soc_initial_pct"] = 80
    moved["scenario"]["appliances"][0]["t_initial_c"] = 19.7
    moved["scenario"]["appliances"][1]["energy_wh"] = 9600  # charging: a little less to go
    assert not problem_changed(base, moved)
    moved["scenario"]["appliances"][1]["energy_wh"] = 4000  # the user asked for less
    assert problem_changed(base, moved)


def _thermal() -> dict[str, Any]:
    return {
        "id": "heat",
        "type": "thermal",
        "max_power_w": 3000,
        "cop": 3,
        "heat_loss_w_per_k": 100,
        "thermal_capacity_wh_per_k": 5000,
        "t_initial_c": 19.5,
        "t_min_c": 18,
        "t_max_c": 22,
        "outdoor_temp_c": [8.0] * 96,
    }


def _ev(energy: float) -> dict[str, Any]:
    return {
        "id": "ev",
        "type": "ev",
        "max_power_w": 7000,
        "energy_wh": energy,
        "deadline": "2024-04-01T07:00:00+02:00",
    }


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["scenario"]["import_price_eur_per_kwh"].__setitem__(40, 0.9),
        lambda p: p["scenario"]["appliances"].append(
            {"id": "x", "type": "cycle", "profile_w": [1]}
        ),
        lambda p: p["scenario"]["grid"].__setitem__("import_limit_w", 6000),
        lambda p: p["scenario"]["battery"].__setitem__("soc_min_pct", 30),
        lambda p: p.__setitem__("run_requested_at", "2024-04-01T00:03:00+02:00"),
        lambda p: p["scenario"].__setitem__("objective", "import"),
        lambda p: p["sources"].__setitem__("weather_entity", None),
        lambda p: p["scenario"].__setitem__("step_minutes", 30),
    ],
)
def test_a_real_change_is_seen(change: Any) -> None:
    base = problem(START, 96, 15)
    later = _next_step(base)
    change(later)
    assert problem_changed(base, later)


def test_a_changed_price_after_time_moved_is_seen() -> None:
    base = problem(START, 96, 15)
    later = _next_step(base)
    later["scenario"]["import_price_eur_per_kwh"][-1] = 0.5  # beyond the old horizon: new info
    assert not problem_changed(base, later)  # only where both horizons overlap
    later["scenario"]["import_price_eur_per_kwh"][0] = 0.5
    assert problem_changed(base, later)


def test_no_previous_problem_or_a_broken_one_is_a_change() -> None:
    assert problem_changed(None, problem())
    assert problem_changed({"scenario": {}}, problem())
    assert not problem_changed({"odd": 1}, {"odd": 1})


# --- the add-on's grid -------------------------------------------------------------------------


def test_floor_and_resample() -> None:
    from datetime import datetime

    moment = datetime.fromisoformat("2024-04-01T10:37:12+02:00")
    assert floor_to_step(moment, 15).isoformat() == "2024-04-01T10:30:00+02:00"
    assert floor_to_step(moment, 60).isoformat() == "2024-04-01T10:00:00+02:00"
    start = datetime.fromisoformat("2024-04-01T00:00:00+00:00")
    quarter = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert resample(quarter, start, 15, new_start=start, new_step_minutes=60, new_steps=2) == [
        2.5,
        6.5,
    ]
    assert resample([1.0, 2.0], start, 60, new_start=start, new_step_minutes=30, new_steps=4) == [
        1.0,
        1.0,
        2.0,
        2.0,
    ]
    # beyond the series: a day earlier if known, else the last value
    day = [float(h) for h in range(24)]
    assert resample(day, start, 60, new_start=start, new_step_minutes=60, new_steps=26)[24:] == [
        0.0,
        1.0,
    ]
    assert (
        resample([3.0], start, 60, new_start=start, new_step_minutes=60, new_steps=3) == [3.0] * 3
    )


def test_profiles_keep_their_energy() -> None:
    profile = [2000.0, 1000.0, 500.0]  # 15-min steps: 875 Wh
    hourly = resample_profile(profile, 15, 60)
    assert hourly == [875.0]
    assert resample_profile([1200.0], 60, 15) == [1200.0] * 4
    assert resample_profile(profile, 15, 15) == profile


def test_auto_keeps_the_problem_as_sent() -> None:
    data = problem(START, 96, 15)["scenario"]
    adapted, notes = adapt_scenario(data)
    assert adapted == data
    assert notes == []


def test_objective_override() -> None:
    data = problem(START, 8, 60)["scenario"]
    adapted, _ = adapt_scenario(data, objective="import")
    assert adapted["objective"] == "import"
    no_prices = {k: v for k, v in data.items() if k != "import_price_eur_per_kwh"}
    no_prices["objective"] = "import"
    with pytest.raises(ValueError, match="needs import prices"):
        adapt_scenario(no_prices, objective="cost")


def test_a_coarser_step_and_a_shorter_horizon_with_their_warnings() -> None:
    cycle = {
        "id": "wm",
        "type": "cycle",
        "profile_w": [2000.0, 2000.0, 400.0, 400.0],
        "earliest_start": "2024-04-01T00:15:00+02:00",
        "deadline": "2024-04-01T20:00:00+02:00",
    }
    heater = {
        "id": "ecs",
        "type": "water_heater",
        "power_w": 2000,
        "energy_wh": 3000,
        "windows": [
            ["2024-04-01T01:00:00+02:00", "2024-04-01T06:00:00+02:00"],
            ["2024-04-01T13:00:00+02:00", "2024-04-01T16:00:00+02:00"],
        ],
    }
    late = {
        "id": "late",
        "type": "pilot_wire_heater",
        "comfort_power_w": 1000,
        "eco_power_w": 200,
        "period": ["2024-04-01T18:00:00+02:00", "2024-04-01T22:00:00+02:00"],
        "comfort_ratio": 0.5,
    }
    source = problem("2024-04-01T00:15:00+02:00", 96, 15, appliances=[cycle, heater, late])
    adapted, notes = adapt_scenario(source["scenario"], step_minutes=60, horizon_hours=12)
    assert adapted["start"] == START
    assert adapted["step_minutes"] == 60
    assert adapted["horizon_steps"] == 12
    assert len(adapted["import_price_eur_per_kwh"]) == 12
    wm, ecs = adapted["appliances"]
    assert wm["profile_w"] == [1200.0]
    assert wm["earliest_start"] == "2024-04-01T00:15:00+02:00"  # inside: kept
    assert wm["deadline"] == "2024-04-01T12:00:00+02:00"
    assert ecs["windows"] == [["2024-04-01T01:00:00+02:00", "2024-04-01T06:00:00+02:00"]]
    assert {(n["code"], n["appliance"]) for n in notes} == {
        ("WARN_CONSTRAINT", "wm"),
        ("WARN_IGNORED", None),
    }
    assert any("late" in n["message"] for n in notes)
    full = {**adapted, "load_w": [300.0] * 12, "pv_w": [0.0] * 12}
    validate_scenario(full)
    assert plan(full)["appliances"]["wm"]["start"] is not None


def test_a_finer_step_keeps_the_prices() -> None:
    data = scenario(
        steps=4,
        step_minutes=60,
        import_price_eur_per_kwh=[0.1, 0.2, 0.3, 0.4],
        battery=battery(),
    )
    adapted, notes = adapt_scenario(data, step_minutes=15)
    assert notes == []
    assert adapted["horizon_steps"] == 16
    assert adapted["import_price_eur_per_kwh"] == [0.1] * 4 + [0.2] * 4 + [0.3] * 4 + [0.4] * 4
    assert adapted["load_w"] == [0.0] * 16
    validate_scenario(adapted)
