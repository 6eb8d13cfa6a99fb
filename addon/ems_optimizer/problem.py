"""The problem from `ems.get_problem`: when it changed, and the add-on's own grid and objective.

`problem_changed` compares two answers of `ems.get_problem` by a hash that leaves out what
moves by itself (the start, the battery's current SOC, a thermal zone's current temperature)
and looks at per-step series only where both horizons overlap, so time passing is not a change
but a new price, a new appliance request or a changed limit is.

`adapt_scenario` applies the add-on's options: another objective, another step or horizon (the
prices and outdoor temperatures are resampled, cycle profiles too; appliance times are kept
within the new horizon, and anything that had to change is said with a plan warning).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import copy
from datetime import datetime, timedelta
import hashlib
import json
import math
from typing import Any

from ems_core.contract import OBJECTIVES, STEP_MINUTES, format_time, parse_time

# Energies are compared in buckets of this size: an EV's remaining energy falls while it
# charges, which must not re-plan every poll.
ENERGY_QUANTUM_WH = 1000.0
SERIES_KEYS = ("import_price_eur_per_kwh", "export_price_eur_per_kwh")
TIME_KEYS = ("earliest_start", "deadline")
SUBSTEP = timedelta(minutes=5)  # every plan step is a multiple of 5 min


# --- change detection ---------------------------------------------------------------------------


def _horizon(scenario: Mapping[str, Any]) -> tuple[datetime, datetime]:
    start = parse_time(scenario["start"])
    return start, start + timedelta(minutes=scenario["step_minutes"] * scenario["horizon_steps"])


def _epoch(moment: datetime) -> int:
    return round(moment.timestamp())


def _series_in(
    values: Any, start: datetime, step: int, lo: datetime, hi: datetime
) -> dict[str, Any] | Any:
    if not isinstance(values, list):
        return values
    out = {}
    for k, value in enumerate(values):
        moment = start + timedelta(minutes=step * k)
        if lo <= moment < hi:
            out[str(_epoch(moment))] = value
    return out


def _clamped(value: Any, lo: datetime) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return _epoch(max(parse_time(value), lo))
    except ValueError:
        return value


def _normalise(problem: Mapping[str, Any], lo: datetime, hi: datetime) -> dict[str, Any]:
    data = copy.deepcopy(dict(problem))
    scenario = data.get("scenario") or {}
    start, step = parse_time(scenario["start"]), scenario["step_minutes"]
    scenario.pop("start", None)
    for key in SERIES_KEYS:
        if key in scenario:
            scenario[key] = _series_in(scenario[key], start, step, lo, hi)
    if isinstance(scenario.get("battery"), dict):
        scenario["battery"].pop("soc_initial_pct", None)
    for appliance in scenario.get("appliances") or []:
        if not isinstance(appliance, dict):
            continue
        appliance.pop("t_initial_c", None)
        if "outdoor_temp_c" in appliance:
            appliance["outdoor_temp_c"] = _series_in(
                appliance["outdoor_temp_c"], start, step, lo, hi
            )
        if isinstance(appliance.get("energy_wh"), int | float):
            appliance["energy_wh"] = round(appliance["energy_wh"] / ENERGY_QUANTUM_WH)
        for key in TIME_KEYS:
            if key in appliance:
                appliance[key] = _clamped(appliance[key], lo)
        if isinstance(appliance.get("windows"), list):
            appliance["windows"] = [
                [_clamped(t, lo) for t in w] if isinstance(w, list) else w
                for w in appliance["windows"]
            ]
        if isinstance(appliance.get("period"), list):
            appliance["period"] = [_clamped(t, lo) for t in appliance["period"]]
    return data


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def problem_hash(
    problem: Mapping[str, Any], lo: datetime | None = None, hi: datetime | None = None
) -> str:
    """Hash of a get_problem answer without its fast-moving values, over [lo, hi) for series."""
    try:
        start, end = _horizon(problem["scenario"])
        return _digest(_normalise(problem, lo or start, hi or end))
    except (KeyError, TypeError, ValueError, AttributeError):
        return _digest(problem)


def problem_changed(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether `new` asks for another plan than `old` did (time passing alone does not)."""
    if old is None:
        return True
    try:
        old_start, old_end = _horizon(old["scenario"])
        new_start, new_end = _horizon(new["scenario"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return _digest(old) != _digest(new)
    lo, hi = max(old_start, new_start), min(old_end, new_end)
    if hi <= lo:
        return True
    return problem_hash(old, lo, hi) != problem_hash(new, lo, hi)


# --- the add-on's grid and objective -------------------------------------------------------------


def _warning(code: str, appliance: str | None, message: str) -> dict[str, Any]:
    return {"code": code, "appliance": appliance, "message": message}


def _sampler(values: list[float], start: datetime, step: timedelta) -> Callable[[datetime], float]:
    """A step series as a function of time.

    Before the series: its first value; after it: the value one day earlier (prices and
    temperatures repeat daily), else its last value.
    """
    n = len(values)

    def value_at(moment: datetime) -> float:
        for _ in range(60):
            k = math.floor((moment - start) / step)
            if k < 0:
                return values[0]
            if k < n:
                return values[k]
            earlier = moment - timedelta(days=1)
            if earlier < start:
                return values[-1]
            moment = earlier
        return values[-1]

    return value_at


def resample(
    values: list[float],
    start: datetime,
    step_minutes: int,
    *,
    new_start: datetime,
    new_step_minutes: int,
    new_steps: int,
) -> list[float]:
    """Time-weighted mean of a step series over each step of another grid (5-min sub-steps)."""
    if not values:
        return [0.0] * new_steps
    value_at = _sampler(values, start, timedelta(minutes=step_minutes))
    sub = int(timedelta(minutes=new_step_minutes) / SUBSTEP)
    out = []
    for i in range(new_steps):
        begin = new_start + timedelta(minutes=new_step_minutes * i)
        samples = [value_at(begin + SUBSTEP * (j + 0.5)) for j in range(sub)]
        out.append(round(sum(samples) / sub, 6))
    return out


def resample_profile(profile: list[float], step_minutes: int, new_step_minutes: int) -> list[float]:
    """A cycle's power profile on another step, keeping its energy (zeros after its end)."""
    if step_minutes == new_step_minutes:
        return list(profile)
    length = len(profile) * step_minutes
    steps = max(1, math.ceil(length / new_step_minutes))
    sub = new_step_minutes // 5
    out = []
    for i in range(steps):
        total = 0.0
        for j in range(sub):
            minute = i * new_step_minutes + (j + 0.5) * 5
            k = int(minute // step_minutes)
            total += profile[k] if k < len(profile) else 0.0
        out.append(round(total / sub, 3))
    return out


def floor_to_step(moment: datetime, step_minutes: int) -> datetime:
    """The start of the step (of the local clock hour) containing `moment`."""
    minute = moment.minute - moment.minute % step_minutes
    return moment.replace(minute=minute, second=0, microsecond=0)


def _regrid_appliance(
    appliance: dict[str, Any], lo: datetime, hi: datetime, old_step: int, new_step: int
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """An appliance on the new horizon [lo, hi]; None when nothing of it is left in it."""
    ident = appliance.get("id")
    notes: list[dict[str, Any]] = []
    out = dict(appliance)
    if "earliest_start" in out:
        earliest = parse_time(out["earliest_start"])
        if earliest >= hi:
            return None, [_warning("WARN_IGNORED", None, f"{ident}: starts after the horizon")]
        out["earliest_start"] = format_time(max(earliest, lo))
    if "deadline" in out:
        deadline = parse_time(out["deadline"])
        if deadline > hi:
            notes.append(
                _warning(
                    "WARN_CONSTRAINT",
                    ident,
                    f"deadline {out['deadline']} is beyond the add-on's horizon: "
                    f"planned to finish by {format_time(hi)}",
                )
            )
        out["deadline"] = format_time(min(max(deadline, lo), hi))
    if "windows" in out:
        windows = []
        for begin, end in out["windows"]:
            b, e = max(parse_time(begin), lo), min(parse_time(end), hi)
            if e > b:
                windows.append([format_time(b), format_time(e)])
        if out["windows"] and not windows:
            return None, [_warning("WARN_IGNORED", None, f"{ident}: no window in the horizon")]
        out["windows"] = windows
    if "period" in out:
        b = max(parse_time(out["period"][0]), lo)
        e = min(parse_time(out["period"][1]), hi)
        if e <= b:
            return None, [_warning("WARN_IGNORED", None, f"{ident}: period outside the horizon")]
        out["period"] = [format_time(b), format_time(e)]
    if "profile_w" in out:
        out["profile_w"] = resample_profile(out["profile_w"], old_step, new_step)
    return out, notes


def adapt_scenario(
    scenario: Mapping[str, Any],
    *,
    objective: str | None = None,
    step_minutes: int | None = None,
    horizon_hours: float | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The scenario with the add-on's objective, step and horizon (None: as HA sent it).

    Returns the new scenario and the plan warnings the changes call for.
    """
    out = copy.deepcopy(dict(scenario))
    notes: list[dict[str, Any]] = []
    if objective is not None and objective != out.get("objective"):
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
        if objective != "import" and not out.get("import_price_eur_per_kwh"):
            raise ValueError(f"objective {objective} needs import prices; HA sent none")
        out["objective"] = objective
    old_step, old_steps = out["step_minutes"], out["horizon_steps"]
    new_step = step_minutes or old_step
    if new_step not in STEP_MINUTES:
        raise ValueError(f"step must be one of {', '.join(map(str, STEP_MINUTES))} minutes")
    new_steps = (
        max(1, round(horizon_hours * 60 / new_step))
        if horizon_hours
        else max(1, round(old_steps * old_step / new_step))
    )
    if new_step == old_step and new_steps == old_steps:
        return out, notes
    start = parse_time(out["start"])
    new_start = floor_to_step(start, new_step)
    hi = new_start + timedelta(minutes=new_step * new_steps)
    grid = {"new_start": new_start, "new_step_minutes": new_step, "new_steps": new_steps}
    for key in (*SERIES_KEYS, "load_w", "pv_w"):
        if isinstance(out.get(key), list):
            out[key] = resample(out[key], start, old_step, **grid)
    appliances = []
    for appliance in out.get("appliances") or []:
        if "outdoor_temp_c" in appliance:
            appliance["outdoor_temp_c"] = resample(
                appliance["outdoor_temp_c"], start, old_step, **grid
            )
        adapted, more = _regrid_appliance(appliance, new_start, hi, old_step, new_step)
        notes += more
        if adapted is not None:
            appliances.append(adapted)
    out["appliances"] = appliances
    out["start"] = format_time(new_start)
    out["step_minutes"] = new_step
    out["horizon_steps"] = new_steps
    return out, notes
