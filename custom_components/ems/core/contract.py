"""Plan contract v1: the one validator for scenarios and plans (stdlib + voluptuous only).

The Home Assistant integration reuses this module for its `ems.set_plan` action, so it must not
import pulp, pandas or anything else from the optimizer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import copy
from datetime import date, datetime, timedelta
import json
import math
from typing import Any

import voluptuous as vol

CONTRACT_VERSION = 1
STEP_MINUTES = (5, 10, 15, 30, 60)

# --- bounds: the one place for every physical and size limit -----------------------------------
# Finite values only (NaN and ±inf are refused everywhere). The physical bounds sit far above any
# home or small site, so no real input meets them, yet 1e308 W or 1e12 Wh never reach a model, an
# entity or the Store. The integration's actions, entities and forms use the same constants.
MAX_POWER_W = 1_000_000.0  # 1 MW: any power (series, grid limits, battery, appliances)
MAX_ENERGY_WH = 1_000_000_000.0  # 1 GWh: any energy (battery capacity, appliance energy, report)
# |price|: day-ahead markets clear within [-0.5, 4] €/kWh; 100 €/kWh leaves room for any tariff.
MAX_PRICE_EUR_PER_KWH = 100.0
MAX_PEAK_PENALTY_EUR_PER_KW = 10_000.0  # demand charges are tens of € per kW
MAX_COST_EUR = 1_000_000_000.0  # |cost|, |objective|: 1 MW at 100 €/kWh for a week is 1.7e7 €
MIN_TEMPERATURE_C, MAX_TEMPERATURE_C = -100.0, 200.0
MAX_COP = 20.0
MAX_HEAT_LOSS_W_PER_K = 100_000.0
MAX_THERMAL_CAPACITY_WH_PER_K = 100_000_000.0
MAX_DURATION_MS = 86_400_000.0  # solve and build times: one day
FIRST_YEAR, LAST_YEAR = 2000, 2100  # any time of a scenario or plan
MAX_HORIZON = timedelta(days=7)  # horizon_steps × step_minutes (the add-on plans ≤ 168 h)
# Sizes: what a plan or scenario may hold, so that a 10 MB plan never becomes a sensor state.
MAX_HORIZON_STEPS = 2016  # one week at 5 minutes
MAX_APPLIANCES = 500  # a scenario: a community of ELFE's size (200 consumers) fits
MAX_SITE_APPLIANCES = 50  # one home's appliances: its largest plan fits MAX_JSON_BYTES
MAX_WARNINGS = 100
MAX_WINDOWS = 100  # windows of one appliance
MAX_ID_LENGTH = 64  # appliance ids
MAX_MESSAGE_LENGTH = 500  # a warning's message
MAX_JSON_BYTES = 2 * 1024 * 1024  # a plan, or a scenario, as compact JSON (ems.set_plan's edge)
# The household's requests and the integration's forms (appliances of one home).
MAX_APPLIANCE_POWER_W = 100_000.0  # one appliance (a cycle's profile, a heater, an EV charger)
MAX_REQUEST_ENERGY_WH = 200_000.0  # an energy asked for: above the largest EV battery sold
MAX_DEADLINE_AHEAD = MAX_HORIZON  # a finish-by time asked for: within a week
MAX_PROFILE_VALUES = 1440  # a cycle's power profile as typed: one day at 1 minute
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

# What the plan means the battery to do in each step (plan field ``intents``, optional):
#   self_consumption  keep the grid near 0 W: cover the house, store the surplus (real ones)
#   hold              keep the energy for later: no discharge; store only PV surplus
#   charge            charge, towards soc_target_pct at the end of the step (power_w planned)
#   discharge         discharge towards soc_target_pct, never exporting more than planned
#   export            discharge at power_w to sell, towards soc_target_pct
INTENT_KINDS = ("self_consumption", "hold", "charge", "discharge", "export")
# Why, as the optimizer justifies it from its own solution.
INTENT_REASONS = (
    "store_pv_surplus",  # PV beyond the house's needs is stored
    "cover_load",  # the battery covers the house instead of the grid
    "cheap_grid_now",  # grid energy is cheaper now than when it will be used
    "expensive_now",  # import is expensive now: use the stored energy
    "keep_for_later",  # the stored energy is worth more later
    "sell_high",  # the feed-in price is worth discharging for
    "peak_limit",  # the import limit (or peak) is held by the battery
    "reach_final_soc",  # the plan must end at its final state of charge
    "at_limit",  # full or empty: nothing to do
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


def _show(value: float) -> str:
    """A bound as people read it: 1000000, not 1e+06."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else f"{value:g}"


def finite_number(value: Any) -> float:
    """``value`` as a finite float; ValueError ("expected a number", "must be finite") if not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        raise ValueError("must be finite") from None
    if not math.isfinite(number):
        raise ValueError("must be finite")
    return number


def check_number(
    value: Any, low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> float:
    """``value`` as a finite float within the bounds; ValueError naming the bound if not."""
    number = finite_number(value)
    if number < low or (low_open and number == low):
        raise ValueError(f"must be {'>' if low_open else '≥'} {_show(low)}")
    if number > high or (high_open and number == high):
        raise ValueError(f"must be {'<' if high_open else '≤'} {_show(high)}")
    return number


def _number(value: Any) -> float:
    try:
        return finite_number(value)
    except ValueError as err:
        raise vol.Invalid(str(err)) from None


def _between(
    low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        try:
            return check_number(value, low, high, low_open=low_open, high_open=high_open)
        except ValueError as err:
            raise vol.Invalid(str(err)) from None

    return check


_POWER = _between(0, MAX_POWER_W)
_POSITIVE_POWER = _between(0, MAX_POWER_W, low_open=True)
_SIGNED_POWER = _between(-MAX_POWER_W, MAX_POWER_W)
_ENERGY = _between(0, MAX_ENERGY_WH)
_PRICE = _between(-MAX_PRICE_EUR_PER_KWH, MAX_PRICE_EUR_PER_KWH)
_MONEY = _between(-MAX_COST_EUR, MAX_COST_EUR)
_TEMPERATURE = _between(MIN_TEMPERATURE_C, MAX_TEMPERATURE_C)
_PERCENT = _between(0, 100)
_SHARE = _between(0, 1)
_EFFICIENCY = _between(0, 1, low_open=True)
_DURATION_MS = _between(0, MAX_DURATION_MS)


def _text(max_length: int, *, min_length: int = 0) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid("expected a string")
        if len(value) < min_length:
            raise vol.Invalid("must not be empty")
        if len(value) > max_length:
            raise vol.Invalid(f"must be at most {max_length} characters, got {len(value)}")
        return value

    return check


_ID = _text(MAX_ID_LENGTH, min_length=1)


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def optional(value: Any) -> Any:
        return None if value is None else check(value)

    return optional


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid("expected an integer")
    return value


def _time(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise vol.Invalid("expected an ISO 8601 time with offset")
    try:
        moment = parse_time(value)
    except ValueError as err:
        raise vol.Invalid(f"expected an ISO 8601 time with offset ({err})") from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise vol.Invalid(f"must be within the years {FIRST_YEAR}…{LAST_YEAR}")
    return value


def _series(
    item: Callable[[Any], Any], max_length: int = MAX_HORIZON_STEPS + 1
) -> Callable[[Any], list[Any]]:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise vol.Invalid("expected a list")
        if len(value) > max_length:
            raise vol.Invalid(f"must have at most {max_length} values, got {len(value)}")
        out = []
        for index, element in enumerate(value):
            try:
                out.append(item(element))
            except vol.Invalid as err:
                raise vol.Invalid(err.msg, path=[index, *err.path]) from None
        return out

    return check


def _list(max_items: int, what: str) -> Callable[[Any], list[Any]]:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise vol.Invalid("expected a list")
        if len(value) > max_items:
            raise vol.Invalid(f"must have at most {max_items} {what}, got {len(value)}")
        return value

    return check


def _mapping(max_items: int, what: str) -> Callable[[Any], dict[str, Any]]:
    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise vol.Invalid("expected an object")
        if len(value) > max_items:
            raise vol.Invalid(f"must have at most {max_items} {what}, got {len(value)}")
        for key in value:
            if not isinstance(key, str) or not 1 <= len(key) <= MAX_ID_LENGTH:
                raise vol.Invalid(f"ids must be strings of 1…{MAX_ID_LENGTH} characters")
        return value

    return check


def _interval(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise vol.Invalid("expected [start, end]")
    start, end = _time(value[0]), _time(value[1])
    if parse_time(end) <= parse_time(start):
        raise vol.Invalid("end must be after start")
    return [start, end]


_POWERS = _series(_POWER)
_SIGNED_POWERS = _series(_SIGNED_POWER)
_PRICES = _series(_PRICE)
_TEMPERATURES = _series(_TEMPERATURE)

_BATTERY = vol.Schema(
    {
        vol.Required("capacity_wh"): _between(0, MAX_ENERGY_WH, low_open=True),
        vol.Required("soc_initial_pct"): _PERCENT,
        vol.Required("soc_min_pct"): _PERCENT,
        vol.Required("soc_max_pct"): _PERCENT,
        vol.Optional("soc_final_pct", default=None): _optional(_PERCENT),
        vol.Required("charge_max_w"): _POWER,
        vol.Required("discharge_max_w"): _POWER,
        vol.Required("charge_efficiency"): _EFFICIENCY,
        vol.Required("discharge_efficiency"): _EFFICIENCY,
        vol.Optional("wear_cost_eur_per_kwh", default=0.0): _between(0, MAX_PRICE_EUR_PER_KWH),
        # false: the battery may charge from PV surplus only (the site's "charge from the grid")
        vol.Optional("charge_from_grid", default=True): bool,
        # € per kWh of energy left in the battery at the end of the horizon, beyond the start;
        # None: the optimizer's own value (see the add-on's model/battery.py), 0: none
        vol.Optional("stored_energy_value_eur_per_kwh", default=None): _optional(
            _between(0, MAX_PRICE_EUR_PER_KWH)
        ),
    }
)

_GRID = vol.Schema(
    {
        vol.Optional("import_limit_w", default=None): _optional(_POWER),
        vol.Optional("export_limit_w", default=None): _optional(_POWER),
    }
)

_APPLIANCE_COMMON = {vol.Required("id"): _ID, vol.Required("type"): str}

APPLIANCE_SCHEMAS: dict[str, vol.Schema] = {
    "cycle": vol.Schema(
        {
            **_APPLIANCE_COMMON,
            vol.Required("profile_w"): vol.All(
                _series(_POWER, MAX_HORIZON_STEPS), vol.Length(min=1)
            ),
            vol.Optional("earliest_start"): _time,
            vol.Optional("deadline"): _time,
        }
    ),
    "water_heater": vol.Schema(
        {
            **_APPLIANCE_COMMON,
            vol.Required("power_w"): _POSITIVE_POWER,
            vol.Required("energy_wh"): _ENERGY,
            vol.Optional("windows"): _series(_interval, MAX_WINDOWS),
            vol.Optional("deadline"): _time,
        }
    ),
    "ev": vol.Schema(
        {
            **_APPLIANCE_COMMON,
            vol.Required("max_power_w"): _POSITIVE_POWER,
            vol.Optional("min_power_w", default=0.0): _POWER,
            vol.Required("energy_wh"): _ENERGY,
            vol.Optional("earliest_start"): _time,
            vol.Optional("deadline"): _time,
            vol.Optional("allow_partial", default=False): bool,
        }
    ),
    "pilot_wire_heater": vol.Schema(
        {
            **_APPLIANCE_COMMON,
            vol.Required("comfort_power_w"): _POWER,
            vol.Required("eco_power_w"): _POWER,
            vol.Optional("period"): _interval,
            vol.Required("comfort_ratio"): _SHARE,
        }
    ),
    "thermal": vol.Schema(
        {
            **_APPLIANCE_COMMON,
            vol.Required("max_power_w"): _POWER,
            vol.Required("cop"): _between(0, MAX_COP, low_open=True),
            vol.Required("heat_loss_w_per_k"): _between(0, MAX_HEAT_LOSS_W_PER_K),
            vol.Required("thermal_capacity_wh_per_k"): _between(
                0, MAX_THERMAL_CAPACITY_WH_PER_K, low_open=True
            ),
            vol.Required("t_initial_c"): _TEMPERATURE,
            vol.Required("t_min_c"): _TEMPERATURE,
            vol.Required("t_max_c"): _TEMPERATURE,
            vol.Required("outdoor_temp_c"): _TEMPERATURES,
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
        vol.Required("load_w"): _POWERS,
        vol.Required("pv_w"): _POWERS,
        vol.Optional("import_price_eur_per_kwh"): _PRICES,
        vol.Optional("export_price_eur_per_kwh"): _PRICES,
        vol.Optional("grid", default=dict): vol.Any(None, _GRID),
        vol.Optional("battery", default=None): vol.Any(None, dict),
        vol.Optional("appliances", default=list): vol.All(
            list,
            vol.Length(max=MAX_APPLIANCES, msg=f"must have at most {MAX_APPLIANCES} appliances"),
        ),
        # Extension to v1: the peak-import penalty (0: none), € per kW of the horizon's peak.
        vol.Optional("peak_import_penalty_eur_per_kw", default=0.0): _between(
            0, MAX_PEAK_PENALTY_EUR_PER_KW
        ),
    }
)


def short_text(value: Any, limit: int = MAX_ID_LENGTH) -> str:
    """A value shown in a message, cut so that an error never echoes megabytes."""
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


def format_path(parts: Sequence[Any]) -> str:
    """A voluptuous error path as a field name: ``battery_w[12]``, ``battery.soc_min_pct``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{short_text(part)}" if out else short_text(part)
    return out


def _run(schema: Callable[[Any], Any], data: Any, prefix: Sequence[Any]) -> Any:
    try:
        return schema(data)
    except vol.MultipleInvalid as err:
        first = err.errors[0]
        raise ContractError(format_path([*prefix, *first.path]), first.msg) from None
    except vol.Invalid as err:
        raise ContractError(format_path([*prefix, *err.path]), err.msg) from None


def _within_horizon(scenario: Scenario, path: str, value: str) -> None:
    offset = step_offset(scenario, value)
    if offset < -1e-9 or offset > scenario["horizon_steps"] + 1e-9:
        raise ContractError(path, "must be within the horizon")


def _check_length(path: str, values: Sequence[Any], length: int) -> None:
    if len(values) != length:
        raise ContractError(path, f"must have {length} values (one per step), got {len(values)}")


def _check_horizon(data: Mapping[str, Any]) -> None:
    minutes = data["horizon_steps"] * data["step_minutes"]
    if timedelta(minutes=minutes) > MAX_HORIZON:
        hours = MAX_HORIZON / timedelta(hours=1)
        raise ContractError(
            "horizon_steps", f"the horizon must be at most {_show(hours)} h, got {minutes / 60:g} h"
        )


def check_json_size(data: Any, path: str, limit: int = MAX_JSON_BYTES) -> None:
    """ContractError naming ``path`` if ``data`` (JSON value or text) is over ``limit`` bytes."""
    if isinstance(data, str | bytes):
        size = len(data.encode() if isinstance(data, str) else data)
    else:
        try:
            size = len(
                json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str).encode()
            )
        except (RecursionError, TypeError, ValueError) as err:
            raise ContractError(path, f"not a JSON value ({short_text(err)})") from None
    if size > limit:
        raise ContractError(path, f"is {size} bytes, more than the limit of {limit} bytes")


def validate_scenario(data: Any) -> Scenario:
    """A checked, normalised copy of a scenario (defaults filled in); ContractError if bad."""
    if not isinstance(data, Mapping):
        raise ContractError("", "a scenario must be a JSON object")
    scenario = _run(_SCENARIO, copy.deepcopy(dict(data)), [])
    _check_horizon(scenario)
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
            f"{prefix}.type",
            f"unknown type {short_text(repr(kind))} (one of {', '.join(APPLIANCE_TYPES)})",
        )
    appliance = _run(APPLIANCE_SCHEMAS[kind], dict(raw), ["appliances", index])
    for path, moment in _appliance_times(prefix, appliance):
        _within_horizon(scenario, path, moment)
    _check_appliance_fields(scenario, prefix, kind, appliance)
    return appliance


def _appliance_times(prefix: str, appliance: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every time of an appliance (start, deadline, windows, period) with its path."""
    times = [
        (f"{prefix}.{k}", appliance[k]) for k in ("earliest_start", "deadline") if k in appliance
    ]
    for w, window in enumerate(appliance.get("windows", [])):
        times += [(f"{prefix}.windows[{w}][{side}]", window[side]) for side in (0, 1)]
    if "period" in appliance:
        times += [(f"{prefix}.period[{side}]", appliance["period"][side]) for side in (0, 1)]
    return times


def _check_appliance_fields(
    scenario: Scenario, prefix: str, kind: str, appliance: dict[str, Any]
) -> None:
    """Rules between the fields of one appliance type."""
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


# --- plans ------------------------------------------------------------------------------------

_WARNING = vol.Schema(
    {
        vol.Required("code"): vol.In(
            WARNING_CODES, msg=f"must be one of {', '.join(WARNING_CODES)}"
        ),
        vol.Required("appliance"): _optional(_ID),
        vol.Required("message"): _text(MAX_MESSAGE_LENGTH),
    }
)

_HOUR = vol.Schema(
    {vol.Required("start"): _optional(_time), vol.Required("w"): _optional(_SIGNED_POWER)}
)

_REPORT = vol.Schema(
    {
        vol.Required("consumer_count"): vol.All(
            _integer, vol.Range(min=0, max=MAX_APPLIANCES + 1000)
        ),
        vol.Required("import_wh"): _ENERGY,
        vol.Required("export_wh"): _ENERGY,
        vol.Required("cost_eur"): _optional(_MONEY),
        vol.Required("self_consumption_pct"): _PERCENT,
        vol.Required("deficit_min_hour"): _HOUR,
        vol.Required("deficit_max_hour"): _HOUR,
    }
)

_PLAN_APPLIANCE = vol.Schema(
    {
        vol.Required("power_w"): _POWERS,
        vol.Required("start"): _optional(_time),
        vol.Optional("temperature_c"): _TEMPERATURES,
    }
)

_INTENT = vol.Schema(
    {
        vol.Required("kind"): vol.In(INTENT_KINDS, msg=f"must be one of {', '.join(INTENT_KINDS)}"),
        vol.Optional("power_w", default=None): _optional(_SIGNED_POWER),
        vol.Optional("soc_target_pct", default=None): _optional(_PERCENT),
        vol.Required("reason"): vol.In(
            INTENT_REASONS, msg=f"must be one of {', '.join(INTENT_REASONS)}"
        ),
    }
)

# How a re-plan related to the plan before it (plan field ``replan``, optional).
REPLAN_DECISIONS = (
    "first",  # no previous plan to compare with
    "replaced",  # better by more than the threshold, or the previous plan no longer fits
    "kept",  # the previous plan's decisions, carried over: the new one was not better enough
)
_REPLAN = vol.Schema(
    {
        vol.Required("decision"): vol.In(
            REPLAN_DECISIONS, msg=f"must be one of {', '.join(REPLAN_DECISIONS)}"
        ),
        # the running step kept the previous plan's intent (false: reality had left its band)
        vol.Optional("running_step_kept", default=None): _optional(bool),
        # what the newly solved plan saves over keeping the previous one (€, objective terms)
        vol.Optional("gain_eur", default=None): _optional(_MONEY),
        vol.Required("threshold_eur"): _between(0, MAX_COST_EUR),
    }
)

# The forecasts a plan was made with (plan field ``forecast``, optional): per series, the
# method in use and yesterday's day-ahead error (the forecast made at yesterday's local
# midnight against what was measured), beside same-time-yesterday persistence's.
FORECAST_METHODS = (
    "persistence",
    "weekly",
    "blend",
    "blend_temp",
    "learned",
    "ensemble",
    "weather",
    "physical",
    "clear_sky_blend",
    "external",
    "typical",  # a typical household profile (cold start: under a day of load history)
    "clear_sky",  # the panels' clear-sky model (cold start: under a day of PV history)
)


def _forecast_method(value: Any) -> str:
    """A method name, or `external+NAME` (an external PV forecast filled by NAME)."""
    name = _text(40, min_length=1)(value)
    if name.removeprefix("external+") not in FORECAST_METHODS:
        raise vol.Invalid(f"must be one of {', '.join(FORECAST_METHODS)} (or external+…)")
    return name


def _day(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 10:
        raise vol.Invalid("expected a date YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError as err:
        raise vol.Invalid(f"expected a date YYYY-MM-DD ({err})") from None
    return value


_FORECAST_SERIES = vol.Schema(
    {
        vol.Required("method"): _forecast_method,
        vol.Optional("day", default=None): _optional(_day),
        vol.Optional("mae_w", default=None): _optional(_POWER),
        vol.Optional("persistence_mae_w", default=None): _optional(_POWER),
        vol.Optional("method_then", default=None): _optional(_forecast_method),
    }
)
_FORECAST = vol.Schema(
    {vol.Optional("load"): _FORECAST_SERIES, vol.Optional("pv"): _FORECAST_SERIES}
)

# Where a plan was made (plan field ``community``, optional): by the community's coordinator
# for a member ("community"), or by the home itself while in a community ("alone", with why).
COMMUNITY_STATES = ("community", "alone")
MAX_COMMUNITY_MEMBERS = 100_000
_COMMUNITY = vol.Schema(
    {
        vol.Required("name"): _ID,
        vol.Required("state"): vol.In(
            COMMUNITY_STATES, msg=f"must be one of {', '.join(COMMUNITY_STATES)}"
        ),
        vol.Optional("members", default=None): _optional(
            vol.All(_integer, vol.Range(min=1, max=MAX_COMMUNITY_MEMBERS))
        ),
        vol.Optional("round", default=None): _optional(_time),
        vol.Optional("reason", default=None): _optional(_text(MAX_MESSAGE_LENGTH)),
    }
)

_PLAN = vol.Schema(
    {
        vol.Required("version"): vol.All(_integer, vol.In([CONTRACT_VERSION], msg="must be 1")),
        vol.Required("start"): _time,
        vol.Required("step_minutes"): vol.All(_integer, vol.In(STEP_MINUTES)),
        vol.Required("horizon_steps"): vol.All(_integer, vol.Range(min=1, max=MAX_HORIZON_STEPS)),
        vol.Required("status"): vol.In(STATUSES, msg=f"must be one of {', '.join(STATUSES)}"),
        vol.Required("objective_value"): _optional(_MONEY),
        vol.Required("solve_time_ms"): _DURATION_MS,
        vol.Required("build_time_ms"): _DURATION_MS,
        vol.Required("grid_w"): _SIGNED_POWERS,
        vol.Required("battery_w"): _SIGNED_POWERS,
        vol.Required("soc_pct"): _series(_PERCENT),
        vol.Required("pv_used_w"): _POWERS,
        vol.Required("appliances"): vol.All(
            _mapping(MAX_APPLIANCES, "appliances"), vol.Schema({_ID: _PLAN_APPLIANCE})
        ),
        vol.Required("warnings"): vol.All(_list(MAX_WARNINGS, "warnings"), [_WARNING]),
        vol.Required("report"): _REPORT,
        # Optional (plans without it stay valid): one intent per step, see INTENT_KINDS.
        vol.Optional("intents"): _series(_INTENT),
        vol.Optional("replan"): _REPLAN,
        vol.Optional("forecast"): _FORECAST,
        vol.Optional("community"): _COMMUNITY,
        vol.Required("curves"): vol.Schema(
            {
                vol.Required("net_without_flexible_w"): _SIGNED_POWERS,
                vol.Required("net_with_flexible_w"): _SIGNED_POWERS,
            }
        ),
    }
)


def validate_plan(data: Any, scenario: Scenario | None = None) -> Plan:
    """A checked copy of a plan; with its (validated) scenario, also the horizon and the ids."""
    if not isinstance(data, Mapping):
        raise ContractError("", "a plan must be a JSON object")
    plan = _run(_PLAN, copy.deepcopy(dict(data)), [])
    _check_horizon(plan)
    if scenario is not None:
        _check_same_grid(plan, scenario)
    _check_plan_lengths(plan)
    if scenario is not None:
        _check_plan_ids(plan, scenario)
    return plan


def _check_same_grid(plan: Plan, scenario: Scenario) -> None:
    """The plan is on its scenario's step grid."""
    for key in ("step_minutes", "horizon_steps"):
        if plan[key] != scenario[key]:
            raise ContractError(key, f"must match the scenario ({scenario[key]})")
    if parse_time(plan["start"]) != parse_time(scenario["start"]):
        raise ContractError("start", f"must match the scenario ({scenario['start']})")


def _check_plan_lengths(plan: Plan) -> None:
    """One value per step (per boundary for SOC and temperatures); starts inside the horizon."""
    steps = plan["horizon_steps"]
    for key in ("grid_w", "battery_w", "pv_used_w"):
        _check_length(key, plan[key], steps)
    _check_length("soc_pct", plan["soc_pct"], steps + 1)
    for key in ("net_without_flexible_w", "net_with_flexible_w"):
        _check_length(f"curves.{key}", plan["curves"][key], steps)
    if "intents" in plan:
        _check_length("intents", plan["intents"], steps)
    for ident, result in plan["appliances"].items():
        _check_length(f"appliances.{ident}.power_w", result["power_w"], steps)
        if "temperature_c" in result:
            _check_length(f"appliances.{ident}.temperature_c", result["temperature_c"], steps + 1)
        if result["start"] is not None:
            _within_horizon(plan, f"appliances.{ident}.start", result["start"])


def _check_plan_ids(plan: Plan, scenario: Scenario) -> None:
    """A result for every scenario appliance and for nothing else; warnings name real ones."""
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
