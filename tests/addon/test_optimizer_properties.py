"""Generated scenarios: every plan passes the independent checker, whatever the constraints."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
from optimizer_helpers import at

from ems_core.contract import validate_plan, validate_scenario
from ems_optimizer.checker import check_plan
from ems_optimizer.model.site import SolverSettings
from ems_optimizer.planner import PlanOptions, plan

OPTIONS = PlanOptions(solver=SolverSettings(time_limit_s=20.0))
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

watts = st.floats(0, 6000, allow_nan=False).map(lambda x: round(x, 1))
prices = st.floats(-0.1, 0.5, allow_nan=False).map(lambda x: round(x, 4))


@st.composite
def times(draw: st.DrawFn, steps: int, minutes: int) -> tuple[str, str]:
    """Two ordered times within the horizon, sometimes off the step grid."""
    first = draw(st.integers(0, steps))
    last = draw(st.integers(0, steps))
    nudge = draw(st.sampled_from([0, 0, 0, 0.4]))
    early, late = sorted((first, last))
    if early + nudge >= late:
        nudge = 0
    return at(early + nudge, minutes), at(late, minutes)


@st.composite
def appliances(draw: st.DrawFn, steps: int, minutes: int) -> list[dict[str, Any]]:
    """A few appliances of any type, with constraints that may be impossible."""
    items = []
    for index in range(draw(st.integers(0, 4))):
        kind = draw(
            st.sampled_from(["cycle", "water_heater", "ev", "pilot_wire_heater", "thermal"])
        )
        item: dict[str, Any] = {"id": f"a{index}", "type": kind}
        begin, end = draw(times(steps, minutes))
        if kind == "cycle":
            item["profile_w"] = draw(st.lists(watts, min_size=1, max_size=4))
            item |= {"earliest_start": begin, "deadline": end}
        elif kind == "water_heater":
            item["power_w"] = draw(st.floats(500, 4000).map(round))
            item["energy_wh"] = draw(st.floats(0, 8000).map(round))
            if draw(st.booleans()):
                item["windows"] = [list(draw(times(steps, minutes)))]
                if item["windows"][0][0] == item["windows"][0][1]:
                    del item["windows"]
            if draw(st.booleans()):
                item["deadline"] = end
        elif kind == "ev":
            high = draw(st.floats(1000, 8000).map(round))
            item |= {
                "max_power_w": high,
                "min_power_w": draw(st.sampled_from([0, 0.2 * high, high])),
            }
            item["energy_wh"] = draw(st.floats(0, 15000).map(round))
            item |= {"earliest_start": begin, "deadline": end, "allow_partial": draw(st.booleans())}
        elif kind == "pilot_wire_heater":
            eco = draw(st.floats(0, 1000).map(round))
            item |= {
                "eco_power_w": eco,
                "comfort_power_w": eco + draw(st.sampled_from([0, 500, 1500])),
            }
            item["comfort_ratio"] = draw(st.sampled_from([0, 0.3, 0.5, 1.0]))
            if begin < end:
                item["period"] = [begin, end]
        else:
            item |= {
                "max_power_w": draw(st.sampled_from([0, 1000, 3000])),
                "cop": draw(st.sampled_from([1.0, 3.0])),
                "heat_loss_w_per_k": draw(st.sampled_from([50.0, 150.0])),
                "thermal_capacity_wh_per_k": draw(st.sampled_from([2000.0, 5000.0])),
                "t_initial_c": draw(st.sampled_from([17.0, 19.5, 23.0])),
                "t_min_c": 19.0,
                "t_max_c": 22.0,
                "outdoor_temp_c": draw(
                    st.lists(
                        st.sampled_from([-5.0, 5.0, 15.0, 28.0]), min_size=steps, max_size=steps
                    )
                ),
            }
        items.append(item)
    return items


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A small scenario of any shape the contract allows."""
    minutes = draw(st.sampled_from([15, 30, 60]))
    steps = draw(st.integers(1, 12))
    series = st.lists(watts, min_size=steps, max_size=steps)
    data: dict[str, Any] = {
        "version": 1,
        "start": at(0),
        "step_minutes": minutes,
        "horizon_steps": steps,
        "objective": draw(st.sampled_from(["cost", "cost", "import", "self_consumption"])),
        "load_w": draw(series),
        "pv_w": draw(series),
        "import_price_eur_per_kwh": draw(st.lists(prices, min_size=steps, max_size=steps)),
        "export_price_eur_per_kwh": draw(st.lists(prices, min_size=steps, max_size=steps)),
        "grid": {
            "import_limit_w": draw(st.sampled_from([None, 2000, 6000, 15000])),
            "export_limit_w": draw(st.sampled_from([None, 0, 3000])),
        },
        "peak_import_penalty_eur_per_kw": draw(st.sampled_from([0.0, 0.0, 0.2])),
        "appliances": draw(appliances(steps, minutes)),
    }
    if draw(st.booleans()):
        low = draw(st.sampled_from([0, 10, 20]))
        high = draw(st.sampled_from([80, 90, 100]))
        data["battery"] = {
            "capacity_wh": draw(st.sampled_from([2000, 10000])),
            "soc_initial_pct": draw(st.sampled_from([0, 5, 50, 95, 100])),
            "soc_min_pct": low,
            "soc_max_pct": high,
            "soc_final_pct": draw(st.sampled_from([None, low, 50, high])),
            "charge_max_w": draw(st.sampled_from([0, 1000, 5000])),
            "discharge_max_w": draw(st.sampled_from([1000, 5000])),
            "charge_efficiency": draw(st.sampled_from([0.9, 1.0])),
            "discharge_efficiency": draw(st.sampled_from([0.85, 1.0])),
            "wear_cost_eur_per_kwh": draw(st.sampled_from([0.0, 0.02])),
        }
    return data


@SETTINGS
@given(scenarios())
def test_every_plan_passes_the_checker(data: dict[str, Any]) -> None:
    result = plan(data, options=OPTIONS)
    validate_plan(result, validate_scenario(data))
    assert check_plan(data, result) == []


@settings(max_examples=15, deadline=None, derandomize=True)
@given(scenarios())
def test_replanning_against_the_previous_plan_passes_the_checker(data: dict[str, Any]) -> None:
    first = plan(data, options=OPTIONS)
    again = plan(data, first, options=OPTIONS)
    assert check_plan(data, again) == []
    if first["status"] == again["status"] == "optimal":
        # same problem: keeping the previous plan costs nothing more
        assert again["objective_value"] <= first["objective_value"] + 1e-3 + 1e-3 * abs(
            first["objective_value"]
        )
