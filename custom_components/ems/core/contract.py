"""Plan contract v1: the one validator for scenarios and plans (stdlib + voluptuous only).

The Home Assistant integration reuses this module for its `ems.set_plan` action, so it must not
import pulp, pandas or anything else from the optimizer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import copy
from datetime import datetime, timedelta
import math
from typing import Any

import voluptuous as vol

CONTRACT_VERSION = 1
STEP_MINUTES = (5, 10, 15, 30, 60)
MAX_HORIZON_STEPS = 2016  # one week at 5 minutes
OBJECTIVES = ("cost", "import", "self_consumption")
APPLIANCE_TYPES = ("cycle", "water_heater", "ev", "pilot_wire_heater", "thermal")
STATUSES = ("optimal", "feasible", "relaxed", "infeasible")
WARNING_CODES = (
    "WARN_CONSTRAINT",
    "WARN_IGNORED",
    "WARN_IMPOSSIBLE",
    "WARN_DATABASE",
    "WARN_SOURCE",
)

type Scenario = dict[str, Any]
type Plan = dict[str, Any]


class ContractError(ValueError):
    """A scenario or plan that breaks the contract; `path` names the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


# --- time helpers (shared by the optimizer, the checker and the integration) -----------------


def parse_time(value: str) -> datetime:
    """An ISO 8601 string with a UTC offset as an aware datetime."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("needs a UTC offset")
    return moment


def format_time(moment: datetime) -> str:
    """An aware datetime as ISO 8601 with its offset, to the second."""
    return moment.isoformat(timespec="seconds")


def step_offset(scenario: Mapping[str, Any], value: str) -> float:
    """Where `value` falls on the scenario's step grid, in (fractional) steps from its start."""
    delta = parse_time(value) - parse_time(scenario["start"])
    return delta / timedelta(minutes=scenario["step_minutes"])


def first_step_at_or_after(scenario: Mapping[str, Any], value: str) -> int:
    """Index of the first step that starts at or after `value`."""
    return math.ceil(step_offset(scenario, value) - 1e-9)


def boundary_at_or_before(scenario: Mapping[str, Any], value: str) -> int:
    """Index of the last step boundary at or before `value` (steps before it end by `value`)."""
    return math.floor(step_offset(scenario, value) + 1e-9)


def step_time(scenario: Mapping[str, Any], index: int) -> str:
    """ISO time of step boundary `index`, in the offset of the scenario's start."""
    start = parse_time(scenario["start"])
    return format_time(start + timedelta(minutes=scenario["step_minutes"] * index))


# --- schema building blocks -------------------------------------------------------------------


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("expected a number")
    if not math.isfinite(value):
        raise vol.Invalid("must be finite")
    return float(value)


def _at_least(low: float, *, strict: bool = False) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        number = _number(value)
        if number < low or (strict and number == low):
            raise vol.Invalid(f"must be {'>' if strict else '≥'} {low:g}")
        return number

    return check


def _between(low: float, high: float, *, low_open: bool = False) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        number = _number(value)
        if number > high or number < low or (low_open and number == low):
            raise vol.Invalid(f"must be in {'(' if low_open else '['}{low:g}, {high:g}]")
        return number

    return check


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def optional(value: Any) -> Any:
        return None if value is None else check(value)

    return optional


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid("expected an integer")
    return value


def _time(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid("expected an ISO 8601 time with offset")
    try:
        parse_time(value)
    except ValueError as err:
        raise vol.Invalid(f"expected an ISO 8601 time with offset ({err})") from None
    return value


def _series(item: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise vol.Invalid("expected a list")
        out = []
        for index, element in enumerate(value):
            try:
                out.append(item(element))
            except vol.Invalid as err:
                raise vol.Invalid(err.msg, path=[index, *err.path]) from None
        return out

    return check


def _interval(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise vol.Invalid("expected [start, end]")
    start, end = _time(value[0]), _time(value[1])
    if parse_time(end) <= parse_time(start):
        raise vol.Invalid("end must be after start")
    return [start, end]


_NUMBERS = _series(_number)
_NON_NEGATIVE = _series(_at_least(0))

_BATTERY = vol.Schema(
    {
        vol.Required("capacity_wh"): _at_least(0, strict=True),
        vol.Required("soc_initial_pct"): _between(0, 100),
        vol.Required("soc_min_pct"): _between(0, 100),
        vol.Required("soc_max_pct"): _between(0, 100),
        vol.Optional("soc_final_pct", default=None): _optional(_between(0, 100)),
        vol.Required("charge_max_w"): _at_least(0),
        vol.Required("discharge_max_w"): _at_least(0),
        vol.Required("charge_efficiency"): _between(0, 1, low_open=True),
        vol.Required("discharge_efficiency"): _between(0, 1, low_open=True),
        vol.Optional("wear_cost_eur_per_kwh", default=0.0): _at_least(0),
    }
)

_GRID = vol.Schema(
    {
        vol.Optional("import_limit_w", default=None): _optional(_at_least(0)),
        vol.Optional("export_limit_w", default=None): _optional(_at_least(0)),
    }
)

_APPLIANCE_COMMON = {vol.Required("id"): vol.All(str, vol.Length(min=1)), vol.Required("type"): str}

APPLIANCE_SCHEMAS: dict[str, vol.Schema] = {
    "cycle": vol.Schema(
        {
            **_APPLIANCE_COMMON,
            vol.Required("profile_w"): vol.All(_NON_NEGATIVE, vol.Length(min=1)),
            vol.Optional("earliest_start"): _time,
            vol.Optional("deadline"): _time,
        }
    ),
    "water_heater": vol.Schema(
        {
            **_APPLIANCE_COMMON,
            vol.Required("power_w"): _at_least(0, strict=True),
            vol.Required("energy_wh"): _at_least(0),
            vol.Optional("windows"): _series(_interval),
            vol.Optional("deadline"): _time,
        }
    ),
    "ev": vol.Schema(
        {
            **_APPLIANCE_COMMON,
            vol.Required("max_power_w"): _at_least(0, strict=True),
            vol.Optional("min_power_w", default=0.0): _at_least(0),
            vol.Required("energy_wh"): _at_least(0),
            vol.Optional("earliest_start"): _time,
            vol.Optional("deadline"): _time,
            vol.Optional("allow_partial", default=False): bool,
        }
    ),
    "pilot_wire_heater": vol.Schema(
        {
            **_APPLIANCE_COMMON,
            vol.Required("comfort_power_w"): _at_least(0),
            vol.Required("eco_power_w"): _at_least(0),
            vol.Optional("period"): _interval,
            vol.Required("comfort_ratio"): _between(0, 1),
        }
    ),
    "thermal": vol.Schema(
        {
            **_APPLIANCE_COMMON,
            vol.Required("max_power_w"): _at_least(0),
            vol.Required("cop"): _at_least(0, strict=True),
            vol.Required("heat_loss_w_per_k"): _at_least(0),
            vol.Required("thermal_capacity_wh_per_k"): _at_least(0, strict=True),
            vol.Required("t_initial_c"): _number,
            vol.Required("t_min_c"): _number,
            vol.Required("t_max_c"): _number,
            vol.Required("outdoor_temp_c"): _NUMBERS,
        }
    ),
}

_SCENARIO = vol.Schema(
    {
        vol.Required("version"): vol.All(_integer, vol.In([CONTRACT_VERSION], msg="must be 1")),
        vol.Required("start"): _time,
        vol.Required("step_minutes"): vol.All(
            _integer,
            vol.In(STEP_MINUTES, msg=f"must be one of {', '.join(map(str, STEP_MINUTES))}"),
        ),
        vol.Required("horizon_steps"): vol.All(
            _integer, vol.Range(min=1, max=MAX_HORIZON_STEPS, msg=f"must be 1…{MAX_HORIZON_STEPS}")
        ),
        vol.Required("objective"): vol.In(
            OBJECTIVES, msg=f"must be one of {', '.join(OBJECTIVES)}"
        ),
        vol.Required("load_w"): _NON_NEGATIVE,
        vol.Required("pv_w"): _NON_NEGATIVE,
        vol.Optional("import_price_eur_per_kwh"): _NUMBERS,
        vol.Optional("export_price_eur_per_kwh"): _NUMBERS,
        vol.Optional("grid", default=dict): vol.Any(None, _GRID),
        vol.Optional("battery", default=None): vol.Any(None, dict),
        vol.Optional("appliances", default=list): list,
        # Extension to v1: the peak-import penalty (0: none), € per kW of the horizon's peak.
        vol.Optional("peak_import_penalty_eur_per_kw", default=0.0): _at_least(0),
    }
)


def _path(parts: Sequence[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _run(schema: Callable[[Any], Any], data: Any, prefix: Sequence[Any]) -> Any:
    try:
        return schema(data)
    except vol.MultipleInvalid as err:
        first = err.errors[0]
        raise ContractError(_path([*prefix, *first.path]), first.msg) from None
    except vol.Invalid as err:
        raise ContractError(_path([*prefix, *err.path]), err.msg) from None


def _within_horizon(scenario: Scenario, path: str, value: str) -> None:
    offset = step_offset(scenario, value)
    if offset < -1e-9 or offset > scenario["horizon_steps"] + 1e-9:
        raise ContractError(path, "must be within the horizon")


def _check_length(path: str, values: Sequence[Any], length: int) -> None:
    if len(values) != length:
        raise ContractError(path, f"must have {length} values (one per step), got {len(values)}")


def validate_scenario(data: Any) -> Scenario:
    """A checked, normalised copy of a scenario (defaults filled in); ContractError if bad."""
    if not isinstance(data, Mapping):
        raise ContractError("", "a scenario must be a JSON object")
    scenario = _run(_SCENARIO, copy.deepcopy(dict(data)), [])
    steps = scenario["horizon_steps"]
    for key in ("load_w", "pv_w", "import_price_eur_per_kwh", "export_price_eur_per_kwh"):
        if key in scenario:
            _check_length(key, scenario[key], steps)
    if "import_price_eur_per_kwh" not in scenario:
        if scenario["objective"] != "import":
            raise ContractError(
                "import_price_eur_per_kwh", f"required for objective {scenario['objective']}"
            )
        scenario["import_price_eur_per_kwh"] = None
    scenario.setdefault("export_price_eur_per_kwh", [0.0] * steps)
    scenario["grid"] = _run(_GRID, scenario["grid"] or {}, ["grid"])
    if scenario["battery"] is not None:
        battery = _run(_BATTERY, scenario["battery"], ["battery"])
        if battery["soc_min_pct"] > battery["soc_max_pct"]:
            raise ContractError("battery.soc_min_pct", "must not exceed soc_max_pct")
        final = battery["soc_final_pct"]
        if final is not None and not battery["soc_min_pct"] <= final <= battery["soc_max_pct"]:
            raise ContractError(
                "battery.soc_final_pct", "must be within [soc_min_pct, soc_max_pct]"
            )
        scenario["battery"] = battery
    seen: set[str] = set()
    appliances = []
    for index, raw in enumerate(scenario["appliances"]):
        appliance = _validate_appliance(scenario, index, raw)
        if appliance["id"] in seen:
            raise ContractError(f"appliances[{index}].id", f"duplicate id {appliance['id']!r}")
        seen.add(appliance["id"])
        appliances.append(appliance)
    scenario["appliances"] = appliances
    return scenario


def _validate_appliance(scenario: Scenario, index: int, raw: Any) -> dict[str, Any]:
    prefix = f"appliances[{index}]"
    if not isinstance(raw, Mapping):
        raise ContractError(prefix, "expected an object")
    kind = raw.get("type")
    if kind not in APPLIANCE_SCHEMAS:
        raise ContractError(
            f"{prefix}.type", f"unknown type {kind!r} (one of {', '.join(APPLIANCE_TYPES)})"
        )
    appliance = _run(APPLIANCE_SCHEMAS[kind], dict(raw), ["appliances", index])
    for key in ("earliest_start", "deadline"):
        if key in appliance:
            _within_horizon(scenario, f"{prefix}.{key}", appliance[key])
    for key in ("windows",):
        for w, window in enumerate(appliance.get(key, [])):
            for side in (0, 1):
                _within_horizon(scenario, f"{prefix}.{key}[{w}][{side}]", window[side])
    if "period" in appliance:
        for side in (0, 1):
            _within_horizon(scenario, f"{prefix}.period[{side}]", appliance["period"][side])
    if kind == "ev" and appliance["min_power_w"] > appliance["max_power_w"]:
        raise ContractError(f"{prefix}.min_power_w", "must not exceed max_power_w")
    if kind == "pilot_wire_heater" and appliance["eco_power_w"] > appliance["comfort_power_w"]:
        raise ContractError(f"{prefix}.eco_power_w", "must not exceed comfort_power_w")
    if kind == "thermal":
        if appliance["t_min_c"] > appliance["t_max_c"]:
            raise ContractError(f"{prefix}.t_min_c", "must not exceed t_max_c")
        _check_length(
            f"{prefix}.outdoor_temp_c", appliance["outdoor_temp_c"], scenario["horizon_steps"]
        )
    return appliance


# --- plans ------------------------------------------------------------------------------------

_WARNING = vol.Schema(
    {
        vol.Required("code"): vol.In(
            WARNING_CODES, msg=f"must be one of {', '.join(WARNING_CODES)}"
        ),
        vol.Required("appliance"): vol.Any(None, str),
        vol.Required("message"): str,
    }
)

_HOUR = vol.Schema(
    {vol.Required("start"): vol.Any(None, _time), vol.Required("w"): vol.Any(None, _number)}
)

_REPORT = vol.Schema(
    {
        vol.Required("consumer_count"): vol.All(_integer, vol.Range(min=0)),
        vol.Required("import_wh"): _at_least(0),
        vol.Required("export_wh"): _at_least(0),
        vol.Required("cost_eur"): vol.Any(None, _number),
        vol.Required("self_consumption_pct"): _between(0, 100),
        vol.Required("deficit_min_hour"): _HOUR,
        vol.Required("deficit_max_hour"): _HOUR,
    }
)

_PLAN_APPLIANCE = vol.Schema(
    {
        vol.Required("power_w"): _NON_NEGATIVE,
        vol.Required("start"): vol.Any(None, _time),
        vol.Optional("temperature_c"): _NUMBERS,
    }
)

_PLAN = vol.Schema(
    {
        vol.Required("version"): vol.All(_integer, vol.In([CONTRACT_VERSION], msg="must be 1")),
        vol.Required("start"): _time,
        vol.Required("step_minutes"): vol.All(_integer, vol.In(STEP_MINUTES)),
        vol.Required("horizon_steps"): vol.All(_integer, vol.Range(min=1, max=MAX_HORIZON_STEPS)),
        vol.Required("status"): vol.In(STATUSES, msg=f"must be one of {', '.join(STATUSES)}"),
        vol.Required("objective_value"): vol.Any(None, _number),
        vol.Required("solve_time_ms"): _at_least(0),
        vol.Required("build_time_ms"): _at_least(0),
        vol.Required("grid_w"): _NUMBERS,
        vol.Required("battery_w"): _NUMBERS,
        vol.Required("soc_pct"): _series(_between(0, 100)),
        vol.Required("pv_used_w"): _NON_NEGATIVE,
        vol.Required("appliances"): vol.Schema({str: _PLAN_APPLIANCE}),
        vol.Required("warnings"): [_WARNING],
        vol.Required("report"): _REPORT,
        vol.Required("curves"): vol.Schema(
            {
                vol.Required("net_without_flexible_w"): _NUMBERS,
                vol.Required("net_with_flexible_w"): _NUMBERS,
            }
        ),
    }
)


def validate_plan(data: Any, scenario: Scenario | None = None) -> Plan:
    """A checked copy of a plan; with its (validated) scenario, also the horizon and the ids."""
    if not isinstance(data, Mapping):
        raise ContractError("", "a plan must be a JSON object")
    plan = _run(_PLAN, copy.deepcopy(dict(data)), [])
    if scenario is not None:
        for key in ("step_minutes", "horizon_steps"):
            if plan[key] != scenario[key]:
                raise ContractError(key, f"must match the scenario ({scenario[key]})")
        if parse_time(plan["start"]) != parse_time(scenario["start"]):
            raise ContractError("start", f"must match the scenario ({scenario['start']})")
    steps = plan["horizon_steps"]
    for key in ("grid_w", "battery_w", "pv_used_w"):
        _check_length(key, plan[key], steps)
    _check_length("soc_pct", plan["soc_pct"], steps + 1)
    for key in ("net_without_flexible_w", "net_with_flexible_w"):
        _check_length(f"curves.{key}", plan["curves"][key], steps)
    for ident, result in plan["appliances"].items():
        _check_length(f"appliances.{ident}.power_w", result["power_w"], steps)
        if "temperature_c" in result:
            _check_length(f"appliances.{ident}.temperature_c", result["temperature_c"], steps + 1)
        if result["start"] is not None:
            _within_horizon(plan, f"appliances.{ident}.start", result["start"])
    if scenario is None:
        return plan
    kinds = {appliance["id"]: appliance["type"] for appliance in scenario["appliances"]}
    for ident in kinds.keys() - plan["appliances"].keys():
        raise ContractError(
            f"appliances.{ident}", "missing (every scenario appliance needs a result)"
        )
    for ident, result in plan["appliances"].items():
        if ident not in kinds:
            raise ContractError(f"appliances.{ident}", "not an appliance of the scenario")
        if (kinds[ident] == "thermal") != ("temperature_c" in result):
            raise ContractError(
                f"appliances.{ident}.temperature_c", "required for thermal appliances only"
            )
    for index, warning in enumerate(plan["warnings"]):
        if warning["appliance"] is not None and warning["appliance"] not in kinds:
            raise ContractError(f"warnings[{index}].appliance", "not an appliance of the scenario")
    return plan
