"""The checker is not a rubber stamp: it catches every kind of broken promise."""

from __future__ import annotations

from collections.abc import Callable
import copy

from optimizer_helpers import at, battery, scenario
import pytest

from ems_optimizer.checker import check_plan
from ems_optimizer.planner import plan

DATA = scenario(
    steps=4,
    load_w=[500.0, 500.0, 500.0, 500.0],
    pv_w=[0.0, 2000.0, 3000.0, 0.0],
    import_price_eur_per_kwh=[0.3, 0.2, 0.1, 0.4],
    export_price_eur_per_kwh=[0.05] * 4,
    grid={"import_limit_w": 9000, "export_limit_w": 5000},
    battery=battery(soc_initial_pct=20, soc_min_pct=10, soc_final_pct=20),
    appliances=[
        {"id": "wm", "type": "cycle", "profile_w": [1000, 500], "deadline": at(4)},
        {"id": "tank", "type": "water_heater", "power_w": 2000, "energy_wh": 3000}
        | {"windows": [[at(0), at(3)]]},
        {"id": "car", "type": "ev", "max_power_w": 3000, "min_power_w": 1000, "energy_wh": 4000},
        {"id": "room", "type": "pilot_wire_heater", "comfort_power_w": 1500, "eco_power_w": 500}
        | {"comfort_ratio": 0.5},
        {"id": "hp", "type": "thermal", "max_power_w": 2000, "cop": 3.0}
        | {"heat_loss_w_per_k": 100.0, "thermal_capacity_wh_per_k": 3000.0}
        | {"t_initial_c": 20.0, "t_min_c": 19.0, "t_max_c": 22.0, "outdoor_temp_c": [5.0] * 4},
    ],
)


@pytest.fixture(scope="module")
def good() -> dict:
    result = plan(DATA)
    assert check_plan(DATA, result) == []
    return result


def _shift_grid(p: dict) -> None:
    p["grid_w"][1] += 100


def _soc_jump(p: dict) -> None:
    p["soc_pct"][2] += 5


def _cycle_shape(p: dict) -> None:
    power = p["appliances"]["wm"]["power_w"]
    k = next(t for t, w in enumerate(power) if w > 0)
    power[k] = 900
    p["grid_w"][k] -= 100


def _tank_energy(p: dict) -> None:
    power = p["appliances"]["tank"]["power_w"]
    k = next(t for t, w in enumerate(power) if w > 0)
    power[k] = 0
    p["grid_w"][k] -= 2000


def _ev_below_min(p: dict) -> None:
    power = p["appliances"]["car"]["power_w"]
    k = next(t for t, w in enumerate(power) if w > 0)
    power[k] = 500
    p["grid_w"][k] -= 500  # (the energy is now wrong too)


def _heater_level(p: dict) -> None:
    p["appliances"]["room"]["power_w"][0] = 1000


def _temperature(p: dict) -> None:
    p["appliances"]["hp"]["temperature_c"][3] += 1


def _import_limit(p: dict) -> None:
    p["grid_w"][0] = 9500
    p["pv_used_w"][0] = p["pv_used_w"][0]  # balance broken as well, both must be reported


def _status(p: dict) -> None:
    p["status"] = "relaxed"


def _report(p: dict) -> None:
    p["report"]["import_wh"] += 50


def _curves(p: dict) -> None:
    p["curves"]["net_with_flexible_w"][0] += 10


def _start(p: dict) -> None:
    p["appliances"]["tank"]["start"] = at(3)


def _missing(p: dict) -> None:
    del p["appliances"]["car"]


def _pv_over(p: dict) -> None:
    p["pv_used_w"][2] = 3500
    p["grid_w"][2] -= 500


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_shift_grid, "balance"),
        (_soc_jump, "SOC goes"),
        (_cycle_shape, "not the profile"),
        (_tank_energy, "delivers"),
        (_ev_below_min, "outside {0}"),
        (_heater_level, "neither eco nor comfort"),
        (_temperature, "model gives"),
        (_import_limit, "above the limit"),
        (_status, "status relaxed without"),
        (_report, "report.import_wh"),
        (_curves, "curves.net_with_flexible_w"),
        (_start, "first step with power"),
        (_missing, "contract: appliances.car: missing"),
        (_pv_over, "pv_used"),
    ],
)
def test_tampered_plans_are_caught(
    good: dict, tamper: Callable[[dict], None], expected: str
) -> None:
    broken = copy.deepcopy(good)
    tamper(broken)
    problems = check_plan(DATA, broken)
    assert any(expected in p for p in problems), problems


def test_warnings_excuse_only_what_they_name(good: dict) -> None:
    broken = copy.deepcopy(good)
    _tank_energy(broken)
    broken["status"] = "relaxed"
    broken["warnings"] = [{"code": "WARN_CONSTRAINT", "appliance": "wm", "message": "x"}]
    assert any("tank: delivers" in p for p in check_plan(DATA, broken))
    broken["warnings"] = [{"code": "WARN_CONSTRAINT", "appliance": "tank", "message": "x"}]
    assert not any("tank: delivers" in p for p in check_plan(DATA, broken))
