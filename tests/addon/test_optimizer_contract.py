"""Plan contract v1: the validator accepts good input and names the field of bad input."""

from __future__ import annotations

import copy

from optimizer_helpers import at, battery, scenario
import pytest

from ems_core.contract import ContractError, validate_plan, validate_scenario
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


