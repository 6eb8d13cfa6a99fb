"""Plan contract v1: the validator accepts good input and names the field of bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from optimizer_helpers import at, battery, scenario
import pytest

from ems_core.contract import (
    MAX_APPLIANCES,
    MAX_HORIZON_STEPS,
    MAX_JSON_BYTES,
    MAX_SITE_APPLIANCES,
    ContractError,
    check_json_size,
    validate_plan,
    validate_scenario,
)
from ems_optimizer.planner import plan


def test_defaults_are_filled_in() -> None:
    data = scenario()
    del data["export_price_eur_per_kwh"], data["grid"], data["battery"], data["appliances"]
    checked = validate_scenario(data)
    assert checked["export_price_eur_per_kwh"] == [0.0] * 4
    assert checked["grid"] == {"import_limit_w": None, "export_limit_w": None}
    assert checked["battery"] is None
    assert checked["appliances"] == []
    assert "grid" not in data  # the input is not modified


def test_import_objective_needs_no_price() -> None:
    data = scenario(objective="import")
    del data["import_price_eur_per_kwh"]
    assert validate_scenario(data)["import_price_eur_per_kwh"] is None


def _error(data: object) -> str:
    with pytest.raises(ContractError) as info:
        validate_scenario(data)
    return str(info.value)


def _appliance(**fields: object) -> dict:
    item = {"id": "wm", "type": "cycle", "profile_w": [1000, 500]}
    item.update(fields)
    return item


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("load_w"), "load_w: required key not provided"),
        (lambda d: d.update(pv_w=[0.0] * 3), "pv_w: must have 4 values"),
        (lambda d: d.update(load_w=[0, -1, 0, 0]), "load_w[1]: must be ≥ 0"),
        (lambda d: d.update(load_w=[0, "x", 0, 0]), "load_w[1]: expected a number"),
        (lambda d: d.update(step_minutes=7), "step_minutes: must be one of"),
        (lambda d: d.update(version=2), "version: must be 1"),
        (lambda d: d.update(objective="profit"), "objective: must be one of"),
        (lambda d: d.update(start="2024-06-15T00:00:00"), "start: expected an ISO 8601 time"),
        (lambda d: d.update(color="red"), "color: extra keys not allowed"),
        (lambda d: d.pop("import_price_eur_per_kwh"), "import_price_eur_per_kwh: required for"),
        (lambda d: d.update(battery=battery(capacity_wh=-5)), "battery.capacity_wh: must be > 0"),
        (lambda d: d.update(battery=battery(charge_efficiency=0)), "battery.charge_efficiency"),
        (
            lambda d: d.update(battery=battery(soc_min_pct=60, soc_max_pct=40)),
            "battery.soc_min_pct: must not exceed soc_max_pct",
        ),
        (
            lambda d: d.update(battery=battery(soc_final_pct=90, soc_max_pct=80)),
            "battery.soc_final_pct: must be within",
        ),
        (lambda d: d.update(grid={"import_limit_w": -1}), "grid.import_limit_w: must be ≥ 0"),
        (
            lambda d: d.update(appliances=[_appliance(), _appliance(type="sauna")]),
            "appliances[1].type: unknown type 'sauna'",
        ),
        (
            lambda d: d.update(appliances=[_appliance(), _appliance(deadline=at(9))]),
            "appliances[1].deadline: must be within the horizon",
        ),
        (
            lambda d: d.update(appliances=[_appliance(earliest_start=at(-1))]),
            "appliances[0].earliest_start: must be within the horizon",
        ),
        (
            lambda d: d.update(appliances=[_appliance(), _appliance()]),
            "appliances[1].id: duplicate",
        ),
        (lambda d: d.update(appliances=[_appliance(profile_w=[])]), "appliances[0].profile_w"),
        (
            lambda d: d.update(
                appliances=[
                    {"id": "t", "type": "water_heater", "power_w": 1000, "energy_wh": 1}
                    | {"windows": [[at(2), at(1)]]}
                ]
            ),
            "appliances[0].windows[0]: end must be after start",
        ),
        (
            lambda d: d.update(
                appliances=[{"id": "car", "type": "ev", "max_power_w": 1000, "min_power_w": 2000}]
            ),
            "appliances[0].energy_wh: required key not provided",
        ),
        (
            lambda d: d.update(
                appliances=[
                    {"id": "car", "type": "ev", "max_power_w": 1000, "min_power_w": 2000}
                    | {"energy_wh": 1}
                ]
            ),
            "appliances[0].min_power_w: must not exceed max_power_w",
        ),
        (
            lambda d: d.update(
                appliances=[
                    {"id": "h", "type": "thermal", "max_power_w": 1000, "cop": 3}
                    | {"heat_loss_w_per_k": 100, "thermal_capacity_wh_per_k": 1000}
                    | {"t_initial_c": 20, "t_min_c": 19, "t_max_c": 22, "outdoor_temp_c": [5]}
                ]
            ),
            "appliances[0].outdoor_temp_c: must have 4 values",
        ),
        (
            lambda d: d.update(battery=battery(stored_energy_value_eur_per_kwh=-0.1)),
            "battery.stored_energy_value_eur_per_kwh",
        ),
    ],
)
def test_bad_input_names_the_field(change, message) -> None:
    data = scenario()
    change(data)
    assert message in _error(data)


def test_not_an_object() -> None:
    assert "must be a JSON object" in _error([1, 2])


def test_plan_validation_against_its_scenario() -> None:
    data = scenario(appliances=[_appliance()])
    result = plan(data)
    assert validate_plan(result, validate_scenario(data))["status"] == "optimal"

    broken = copy.deepcopy(result)
    broken["grid_w"] = broken["grid_w"][:-1]
    with pytest.raises(ContractError, match="grid_w: must have 4 values"):
        validate_plan(broken)

    broken = copy.deepcopy(result)
    broken["appliances"]["ghost"] = broken["appliances"].pop("wm")
    with pytest.raises(ContractError, match=r"appliances\.wm: missing"):
        validate_plan(broken, validate_scenario(data))

    broken = copy.deepcopy(result)
    broken["warnings"] = [{"code": "WARN_OOPS", "appliance": None, "message": "x"}]
    with pytest.raises(ContractError, match=r"warnings\[0\].code"):
        validate_plan(broken)

    broken = copy.deepcopy(result)
    broken["start"] = at(1)
    with pytest.raises(ContractError, match="start: must match the scenario"):
        validate_plan(broken, validate_scenario(data))


# --- bounds and sizes: absurd values never reach a model, an entity or the Store ---------------


def _huge_appliances(count: int) -> list[dict]:
    return [_appliance(id=f"a{i}") for i in range(count)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(load_w=[0, 1e308, 0, 0]), "load_w[1]: must be ≤ 1000000"),
        (lambda d: d.update(pv_w=[0, 0, float("nan"), 0]), "pv_w[2]: must be finite"),
        (lambda d: d.update(pv_w=[0, 0, float("inf"), 0]), "pv_w[2]: must be finite"),
        (lambda d: d.update(load_w=[10**400, 0, 0, 0]), "load_w[0]: must be finite"),
        (
            lambda d: d.update(import_price_eur_per_kwh=[0.2, 0.2, 0.2, -1e6]),
            "import_price_eur_per_kwh[3]: must be ≥ -100",
        ),
        (
            lambda d: d.update(battery=battery(capacity_wh=1e12)),
            "battery.capacity_wh: must be ≤ 1000000000",
        ),
        (
            lambda d: d.update(battery=battery(charge_max_w=float("nan"))),
            "battery.charge_max_w: must be finite",
        ),
        (lambda d: d.update(grid={"export_limit_w": 1e308}), "grid.export_limit_w: must be ≤"),
        (
            lambda d: d.update(peak_import_penalty_eur_per_kw=1e9),
            "peak_import_penalty_eur_per_kw: must be ≤ 10000",
        ),
        (
            lambda d: d.update(appliances=[_appliance(profile_w=[1000, 1e308])]),
            "appliances[0].profile_w[1]: must be ≤ 1000000",
        ),
        (
            lambda d: d.update(
                appliances=[{"id": "t", "type": "water_heater", "power_w": 1000, "energy_wh": 1e12}]
            ),
            "appliances[0].energy_wh: must be ≤ 1000000000",
        ),
        (
            lambda d: d.update(
                appliances=[
                    {"id": "h", "type": "thermal", "max_power_w": 1000, "cop": 3}
                    | {"heat_loss_w_per_k": 100, "thermal_capacity_wh_per_k": 1000}
                    | {"t_initial_c": 20, "t_min_c": 19, "t_max_c": 22}
                    | {"outdoor_temp_c": [5, 5, float("nan"), 5]}
                ]
            ),
            "appliances[0].outdoor_temp_c[2]: must be finite",
        ),
        (lambda d: d.update(start="9999-12-31T23:00:00+00:00"), "start: must be within the years"),
        (
            lambda d: d.update(appliances=[_appliance(id="x" * 65)]),
            "appliances[0].id: must be at most 64 characters",
        ),
        (
            lambda d: d.update(appliances=_huge_appliances(MAX_APPLIANCES + 1)),
            f"appliances: must have at most {MAX_APPLIANCES} appliances",
        ),
        (
            lambda d: d.update(appliances=[_appliance(profile_w=[1.0] * 2017)]),
            "appliances[0].profile_w: must have at most 2016 values, got 2017",
        ),
        (lambda d: d.update(load_w=[0.0] * 3000), "load_w: must have at most 2017 values"),
    ],
)
def test_absurd_values_are_refused_naming_the_field(change, message) -> None:
    data = scenario()
    change(data)
    assert message in _error(data)


def test_the_horizon_is_at_most_a_week() -> None:
    assert validate_scenario(scenario(steps=168))["horizon_steps"] == 168  # a week of hours
    assert "horizon_steps: the horizon must be at most 168 h, got 169 h" in _error(scenario(169))


def test_a_long_unknown_key_is_cut_in_the_message() -> None:
    message = _error(scenario() | {"k" * 100_000: 1})
    assert "extra keys not allowed" in message
    assert len(message) < 200


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["battery_w"].__setitem__(2, 1e308), "battery_w[2]: must be ≤ 1000000"),
        (lambda p: p["grid_w"].__setitem__(1, float("nan")), "grid_w[1]: must be finite"),
        (lambda p: p["soc_pct"].__setitem__(0, float("inf")), "soc_pct[0]: must be finite"),
        (lambda p: p.update(objective_value=1e300), "objective_value: must be ≤"),
        (lambda p: p.update(solve_time_ms=float("inf")), "solve_time_ms: must be finite"),
        (lambda p: p["report"].update(import_wh=1e12), "report.import_wh: must be ≤ 1000000000"),
        (lambda p: p["report"].update(cost_eur=float("nan")), "report.cost_eur: must be finite"),
        (
            lambda p: p.update(
                warnings=[{"code": "WARN_SOURCE", "appliance": None, "message": "x"}] * 101
            ),
            "warnings: must have at most 100 warnings, got 101",
        ),
        (
            lambda p: p.update(
                warnings=[{"code": "WARN_SOURCE", "appliance": None, "message": "x" * 501}]
            ),
            "warnings[0].message: must be at most 500 characters",
        ),
        (
            lambda p: p["appliances"].update(
                {f"a{i}": p["appliances"]["wm"] for i in range(MAX_APPLIANCES)}
            ),
            f"appliances: must have at most {MAX_APPLIANCES} appliances, got {MAX_APPLIANCES + 1}",
        ),
        (
            lambda p: p["appliances"].update({"y" * 100: p["appliances"]["wm"]}),
            "appliances: ids must be strings of 1…64 characters",
        ),
        (
            lambda p: p["appliances"]["wm"]["power_w"].__setitem__(0, float("nan")),
            "appliances.wm.power_w[0]: must be finite",
        ),
    ],
)
def test_absurd_plans_are_refused_naming_the_field(change, message) -> None:
    result = plan(scenario(appliances=[_appliance()]))
    validate_plan(result)
    change(result)
    with pytest.raises(ContractError) as info:
        validate_plan(result)
    assert message in str(info.value)


def test_json_size_limit_names_the_field_and_the_limit() -> None:
    small = plan(scenario())
    check_json_size(small, "plan")
    check_json_size(json.dumps(small), "plan")
    big = small | {
        "warnings": [{"code": "WARN_SOURCE", "appliance": None, "message": "x" * 3_000_000}]
    }
    for value in (big, json.dumps(big)):
        with pytest.raises(ContractError) as info:
            check_json_size(value, "plan")
        assert info.value.path == "plan"
        assert f"more than the limit of {MAX_JSON_BYTES} bytes" in info.value.message
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(ContractError, match="plan: not a JSON value"):
        check_json_size(nested, "plan")


def test_a_week_at_5_minutes_is_within_every_limit() -> None:
    """The largest plan the contract allows, with the most appliances, fits the byte limit."""
    steps = MAX_HORIZON_STEPS
    data = scenario(steps=steps, step_minutes=5, appliances=[])
    checked = validate_scenario(data)
    series = [-123456.789] * steps
    result = {
        "version": 1,
        "start": checked["start"],
        "step_minutes": 5,
        "horizon_steps": steps,
        "status": "optimal",
        "objective_value": 1.0,
        "solve_time_ms": 1.0,
        "build_time_ms": 1.0,
        "grid_w": series,
        "battery_w": series,
        "soc_pct": [55.555] * (steps + 1),
        "pv_used_w": [0.0] * steps,
        "appliances": {
            f"appliance_{i:012x}": {"power_w": [1234.567] * steps, "start": None}
            for i in range(MAX_SITE_APPLIANCES)
        },
        "warnings": [],
        "report": {
            "consumer_count": 0,
            "import_wh": 0.0,
            "export_wh": 0.0,
            "cost_eur": None,
            "self_consumption_pct": 0.0,
            "deficit_min_hour": {"start": None, "w": None},
            "deficit_max_hour": {"start": None, "w": None},
        },
        "curves": {"net_without_flexible_w": series, "net_with_flexible_w": series},
    }
    validate_plan(result)
    check_json_size(result, "plan")


def test_every_benchmark_scenario_is_within_the_contract() -> None:
    """The bounds must not refuse the shipped scenarios (a 200-consumer community included)."""
    folder = Path(__file__).resolve().parents[2] / "benchmarks" / "scenarios"
    files = sorted(folder.glob("*.json"))
    assert files
    for path in files:
        validate_scenario(json.loads(path.read_text()))


def test_intents_are_optional_and_checked() -> None:
    data = scenario(steps=2)
    result = plan(data)
    result.pop("intents", None)
    validate_plan(result, validate_scenario(data))  # plans without intents stay valid
    good = {"kind": "charge", "power_w": 1000.0, "soc_target_pct": 60.0, "reason": "cheap_grid_now"}
    result["intents"] = [good, {"kind": "self_consumption", "reason": "cover_load"}]
    checked = validate_plan(result, validate_scenario(data))
    assert checked["intents"][1] == {
        "kind": "self_consumption",
        "power_w": None,
        "soc_target_pct": None,
        "reason": "cover_load",
    }
    for bad, message in (
        ([good], "intents: must have 2 values"),
        ([good, {**good, "kind": "sell"}], "intents[1].kind: must be one of"),
        ([good, {**good, "reason": "because"}], "intents[1].reason: must be one of"),
        ([good, {**good, "soc_target_pct": 120}], "intents[1].soc_target_pct"),
        ([good, {**good, "power_w": float("nan")}], "intents[1].power_w: must be finite"),
    ):
        result["intents"] = bad
        with pytest.raises(ContractError, match=message.replace("[", r"\[").replace("]", r"\]")):
            validate_plan(result, validate_scenario(data))
