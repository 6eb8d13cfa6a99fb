"""The plan's intents: what the battery is meant to do in each step, and why."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from optimizer_helpers import battery, scenario
import pytest

from ems_core.contract import INTENT_KINDS, INTENT_REASONS, validate_plan, validate_scenario
from ems_optimizer.checker import check_plan
from ems_optimizer.intents import BATTERY_EPS_W, derive_intents
from ems_optimizer.planner import plan

SCENARIOS = Path(__file__).resolve().parents[2] / "benchmarks" / "scenarios"
SMALL = sorted(p for p in SCENARIOS.glob("*.json") if not p.name.startswith(("community", "tight")))
# The reasons each kind may give.
REASONS = {
    "self_consumption": {"store_pv_surplus", "cover_load"},
    "hold": {"at_limit", "keep_for_later"},
    "charge": {"store_pv_surplus", "cheap_grid_now", "reach_final_soc", "peak_limit"},
    "discharge": {"expensive_now", "peak_limit"},
    "export": {"sell_high"},
}


def solve(data: dict[str, Any]) -> dict[str, Any]:
    """The plan of a scenario, checked against it and against the contract."""
    result = plan(data)
    assert check_plan(data, result) == []
    validate_plan(result, validate_scenario(data))
    assert len(result["intents"]) == data["horizon_steps"]
    return result


def kinds(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, reason) per step."""
    return [(i["kind"], i["reason"]) for i in result["intents"]]


def test_arbitrage_charges_cheap_and_covers_the_load_later() -> None:
    data = scenario(
        steps=2,
        load_w=[0.0, 4000.0],
        import_price_eur_per_kwh=[0.10, 0.30],
        battery=battery(soc_initial_pct=0, charge_max_w=4000, discharge_max_w=4000),
    )
    result = solve(data)
    assert kinds(result) == [("charge", "cheap_grid_now"), ("self_consumption", "cover_load")]
    first, second = result["intents"]
    assert first["power_w"] == 4000.0
    assert first["soc_target_pct"] == 40.0
    assert second["power_w"] == -4000.0
    assert second["soc_target_pct"] == 0.0


def test_discharge_that_cannot_cover_the_load_is_expensive_now() -> None:
    data = scenario(
        steps=2,
        load_w=[0.0, 6000.0],
        import_price_eur_per_kwh=[0.10, 0.30],
        battery=battery(soc_initial_pct=0, charge_max_w=4000, discharge_max_w=4000),
    )
    result = solve(data)
    assert kinds(result) == [("charge", "cheap_grid_now"), ("discharge", "expensive_now")]
    assert result["grid_w"][1] == pytest.approx(2000.0)


def test_pv_surplus_is_stored_then_covers_the_evening() -> None:
    data = scenario(
        steps=2,
        load_w=[1000.0, 2000.0],
        pv_w=[3000.0, 0.0],
        import_price_eur_per_kwh=[0.30, 0.30],
        battery=battery(soc_initial_pct=0),
    )
    result = solve(data)
    assert kinds(result) == [
        ("self_consumption", "store_pv_surplus"),
        ("self_consumption", "cover_load"),
    ]
    assert result["intents"][0]["power_w"] == 2000.0


def test_pv_surplus_beyond_the_charge_limit_is_charge_store_pv_surplus() -> None:
    data = scenario(
        steps=2,
        load_w=[1000.0, 1000.0],
        pv_w=[4000.0, 0.0],
        import_price_eur_per_kwh=[0.30, 0.30],
        battery=battery(soc_initial_pct=0, charge_max_w=1000),
    )
    result = solve(data)
    assert result["grid_w"][0] == pytest.approx(-2000.0)
    assert kinds(result)[0] == ("charge", "store_pv_surplus")
    assert result["intents"][0]["power_w"] == 1000.0


def test_a_high_feed_in_price_is_an_export() -> None:
    data = scenario(
        steps=1,
        export_price_eur_per_kwh=[0.50],
        battery=battery(soc_initial_pct=50),
    )
    result = solve(data)
    assert kinds(result) == [("export", "sell_high")]
    assert result["intents"][0]["power_w"] == -5000.0
    assert result["intents"][0]["soc_target_pct"] == 0.0


def test_the_import_limit_is_held_by_the_battery() -> None:
    data = scenario(
        steps=2,
        load_w=[0.0, 5000.0],
        import_price_eur_per_kwh=[0.21, 0.20],
        grid={"import_limit_w": 3000.0, "export_limit_w": None},
        battery=battery(soc_initial_pct=0),
    )
    result = solve(data)
    # 2 kWh bought at a higher price only to keep the 5 kW step at the 3 kW limit
    assert result["battery_w"] == [2000.0, -2000.0]
    assert kinds(result) == [("charge", "peak_limit"), ("discharge", "peak_limit")]


def test_the_final_soc_is_a_reason_to_charge() -> None:
    data = scenario(
        steps=2,
        import_price_eur_per_kwh=[0.20, 0.30],
        battery=battery(soc_initial_pct=0, soc_final_pct=50),
    )
    result = solve(data)
    assert kinds(result) == [("charge", "reach_final_soc"), ("hold", "keep_for_later")]
    assert result["intents"][0]["soc_target_pct"] == 50.0


def test_an_idle_battery_holds_for_later_or_at_its_limit() -> None:
    data = scenario(
        steps=3,
        load_w=[1000.0, 1000.0, 1000.0],
        import_price_eur_per_kwh=[0.20, 0.50, 0.20],
        battery=battery(soc_initial_pct=10),
    )
    result = solve(data)
    assert kinds(result) == [
        ("hold", "keep_for_later"),
        ("self_consumption", "cover_load"),
        ("hold", "at_limit"),
    ]
    assert [i["power_w"] for i in result["intents"]] == [0.0, -1000.0, 0.0]


def test_an_idle_battery_with_nothing_to_keep_for_self_consumes() -> None:
    """Idle only because the forecast shows nothing to cover (or the battery is full): a tie.

    Discharging now or later is worth the same, so the step self-consumes: a load the forecast
    missed is covered by the battery rather than bought at the same price.
    """
    data = scenario(
        steps=3,
        load_w=[0.0, 1000.0, 0.0],
        pv_w=[0.0, 1000.0, 2000.0],
        import_price_eur_per_kwh=[0.20, 0.20, 0.20],
        battery=battery(soc_initial_pct=50),
    )
    result = solve(data)
    assert result["battery_w"][:2] == [0.0, 0.0]
    assert kinds(result)[:2] == [("self_consumption", "cover_load")] * 2
    # the same step before a dearer one keeps its energy for it
    data["import_price_eur_per_kwh"] = [0.20, 0.20, 0.50]
    data["load_w"] = [0.0, 0.0, 3000.0]
    data["pv_w"] = [0.0, 0.0, 0.0]
    result = solve(data)
    assert kinds(result)[:2] == [("hold", "keep_for_later")] * 2
    # a later step dearer by a fraction of a cent is not worth the risk: it self-consumes
    data["import_price_eur_per_kwh"] = [0.20, 0.20, 0.203]
    result = solve(data)
    assert result["battery_w"][:2] == [0.0, 0.0]
    assert kinds(result)[:2] == [("self_consumption", "cover_load")] * 2


def test_the_self_consumption_objective_still_holds_for_the_evening_peak() -> None:
    """Its weights are 1 + price: the hold margin is a share of the price, not of the weight."""
    data = scenario(
        steps=4,
        objective="self_consumption",
        load_w=[1000.0] * 4,
        import_price_eur_per_kwh=[0.15, 0.15, 0.25, 0.25],
        battery=battery(soc_initial_pct=20),
    )
    result = solve(data)
    assert result["battery_w"] == [0.0, 0.0, -1000.0, -1000.0]
    assert kinds(result)[:2] == [("hold", "keep_for_later")] * 2


def test_no_battery_holds_at_its_limit() -> None:
    data = scenario(steps=3, load_w=[500.0, 800.0, 0.0])
    result = solve(data)
    assert (
        result["intents"]
        == [{"kind": "hold", "power_w": 0.0, "soc_target_pct": None, "reason": "at_limit"}] * 3
    )


def check_consistent(data: dict[str, Any], result: dict[str, Any]) -> None:
    """Each intent agrees with the step's battery and grid powers and SOC."""
    assert len(result["intents"]) == data["horizon_steps"]
    for t, intent in enumerate(result["intents"]):
        kind, reason = intent["kind"], intent["reason"]
        battery_w, grid_w = result["battery_w"][t], result["grid_w"][t]
        assert kind in INTENT_KINDS
        assert reason in INTENT_REASONS
        assert reason in REASONS[kind], (t, intent)
        assert intent["soc_target_pct"] == round(result["soc_pct"][t + 1], 2)
        idle = abs(battery_w) <= BATTERY_EPS_W
        if kind == "hold" or (kind == "self_consumption" and idle):
            # an idle battery holds on purpose, or it is a tie: self-consumption covers the load
            assert idle
            assert intent["power_w"] == 0.0
            assert kind == "hold" or reason == "cover_load"
            continue
        assert not idle
        assert intent["power_w"] == round(battery_w, 1)
        if kind == "charge":
            assert battery_w > 0
            assert (grid_w < 0) == (reason == "store_pv_surplus")
        elif kind in ("discharge", "export"):
            assert battery_w < 0
            assert (grid_w > 0) == (kind == "discharge")
        else:
            assert (battery_w > 0) == (reason == "store_pv_surplus")


@pytest.mark.parametrize("path", SMALL, ids=lambda p: p.stem)
def test_benchmark_plans_have_one_consistent_intent_per_step(path: Path) -> None:
    data = json.loads(path.read_text())
    result = plan(data)
    validate_plan(result, validate_scenario(data))
    check_consistent(data, result)
    # a pure function of the scenario and the plan: the same intents again, nothing changed
    before = copy.deepcopy(result)
    assert derive_intents(validate_scenario(data), result) == result["intents"]
    assert result == before
