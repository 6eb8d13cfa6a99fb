"""The whole loop closed over a household's history: forecast, plan, execute, realise, step by step.

Every strategy runs the same loop over the simulation steps. At step k a strategy asks for a
battery request (W, + charge) knowing the SOC now, the history strictly before the step and,
like the Home Assistant controller that measures the grid, the net load of the step itself; then
:func:`realise` applies the request to the actual load and PV of the step (power and SOC limits,
efficiencies, grid limits) and prices the grid energy at the actual prices.

* ``ems``: forecast load and PV from the history before the step (``forecast.forecast``), plan
  a 24 h horizon (``planner.plan``), execute the first step with ``ems_core.executor.settled``
  given the step's intent and the actual net load. Re-planned at every step, with the previous
  plan given, as the add-on does: stable execution (``stability.py``).
* ``ems_unstable``: the same, every plan made from scratch (no previous plan): the reference
  for the flapping figures.
* ``persistence``: ``ems`` with the forecast's ``persistence`` method (same time yesterday).
* ``perfect_foresight``: ``ems`` with the actual load and PV as the forecast (a reference).

Flapping, for the planned strategies: how often the intent carried out in a step differs from
the one the previous plan had for it (``running_changes``), and how many steps of the common
horizon change battery direction (charge / idle / discharge, 50 W) from one plan to the next
(``direction_changes``, per plan).
* ``self_consumption``: no plan, the battery takes the net load (−net) within its limits.
* ``no_battery``: the battery stays at 0 W.

Prices are treated as known over the horizon (a tariff, or day-ahead prices).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
import html
import math
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ems_core.contract import ContractError, validate_scenario
from ems_core.executor import Intent, Measured, settled

from .forecast.core import Site, forecast
from .planner import PlanOptions, plan

STRATEGIES = (
    "ems",
    "ems_unstable",
    "perfect_foresight",
    "persistence",
    "self_consumption",
    "no_battery",
)
HISTORY_COLUMNS = ("load_w", "pv_w")
PRICE_COLUMNS = ("import_price_eur_per_kwh", "export_price_eur_per_kwh")
HORIZON_HOURS = 24
MAX_GAP_STEPS = 4  # gaps in the actual series up to this many steps are interpolated


class SimulationError(ValueError):
    """An input the simulation cannot use; the message names it."""


@dataclass(frozen=True)
class Inputs:
    """Everything a simulation reads, on its step grid."""

    index: pd.DatetimeIndex  # start of each simulated step (in the site's zone)
    actual: pd.DataFrame  # load_w, pv_w, prices on the simulated steps and up to 24 h after
    history: pd.DataFrame  # the raw history (load_w, pv_w), read by the forecasts
    battery: dict[str, Any]
    grid: dict[str, Any]
    step_minutes: int
    tz: ZoneInfo
    weather: Sequence[pd.DataFrame] = ()
    options: PlanOptions = field(default_factory=PlanOptions)
    place: Site = field(default_factory=Site)  # what the forecast knows of the site

    @property
    def hours(self) -> float:
        """Length of a step in hours."""
        return self.step_minutes / 60.0

    @property
    def horizon_steps(self) -> int:
        """Steps of a plan's horizon."""
        return HORIZON_HOURS * 60 // self.step_minutes


@dataclass(frozen=True)
class Step:
    """One realised step."""

    start: str
    load_w: float
    pv_w: float
    battery_w: float
    grid_w: float
    soc_pct: float  # at the end of the step
    cost_eur: float

    def as_json(self) -> dict[str, Any]:
        """The step record of the output JSON."""
        return {
            "start": self.start,
            "load_w": round(self.load_w, 1),
            "pv_w": round(self.pv_w, 1),
            "battery_w": round(self.battery_w, 1),
            "grid_w": round(self.grid_w, 1),
            "soc_pct": round(self.soc_pct, 4),
        }


# --- inputs -------------------------------------------------------------------------------------


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Fail naming the first missing column."""
    for column in columns:
        if column not in frame.columns:
            raise SimulationError(
                f"{what}: no {column!r} column (columns: {', '.join(map(str, frame.columns))})"
            )


def _on_grid(series: pd.Series, index: pd.DatetimeIndex, step: pd.Timedelta) -> pd.Series:
    """Mean of `series` over each step of `index`; a coarser series is held until its next row."""
    values = pd.to_numeric(series, errors="coerce").dropna().sort_index()
    values = values[~values.index.duplicated()]
    utc = index.tz_convert("UTC")
    source_step = values.index.to_series().diff().median() if len(values) > 1 else step
    if source_step > step:
        held = values.reindex(utc, method="ffill", tolerance=source_step)
        return pd.Series(held.to_numpy(), index=index)
    means = values.groupby(values.index.floor(step)).mean()
    return pd.Series(means.reindex(utc).to_numpy(), index=index)


def _place(site: Any) -> Site:
    """The site file's optional `forecast` object (latitude, longitude, pv_peak_w, …, country)."""
    facts = site.get("forecast")
    if facts is None:
        return Site()
    if not isinstance(facts, dict):
        raise SimulationError("site: 'forecast' must be an object (latitude, longitude, …)")
    return Site.of(facts)


def _site(site: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The validated battery and grid objects of a site file."""
    if not isinstance(site, dict) or not isinstance(site.get("battery"), dict):
        raise SimulationError("site: needs a 'battery' object (plan contract)")
    probe = {
        "version": 1,
        "start": "2024-01-01T00:00:00+00:00",
        "step_minutes": 60,
        "horizon_steps": 1,
        "objective": "cost",
        "load_w": [0.0],
        "pv_w": [0.0],
        "import_price_eur_per_kwh": [0.0],
        "battery": site["battery"],
        "grid": site.get("grid") or {},
    }
    try:
        scenario = validate_scenario(probe)
    except ContractError as err:
        raise SimulationError(f"site: {err}") from None
    return scenario["battery"], scenario["grid"]


def _window(
    history: pd.DataFrame, first: date, last: date, tz: ZoneInfo, step: pd.Timedelta
) -> pd.DatetimeIndex:
    """Steps from `first` 00:00 to the end of `last` (local), checked against the history."""
    if last < first:
        raise SimulationError(f"--to {last} is before --from {first}")
    start = pd.Timestamp(first.isoformat()).tz_localize(tz)
    end = pd.Timestamp((last + timedelta(days=1)).isoformat()).tz_localize(tz)
    known = history.dropna(how="all").index
    if known.empty:
        raise SimulationError("history: no values")
    if start < known[0]:
        raise SimulationError(f"--from {first} is before the history's first row ({known[0]})")
    if end > known[-1] + step:
        raise SimulationError(f"--to {last} is after the history's last row ({known[-1]})")
    return pd.date_range(start, end, freq=step, inclusive="left").tz_convert(tz)


def _actual(
    history: pd.DataFrame, prices: pd.DataFrame, index: pd.DatetimeIndex, step: pd.Timedelta
) -> pd.DataFrame:
    """Load, PV and prices on the steps of `index` (and of the day after, as far as known)."""
    last = history.index.max()
    extended = pd.date_range(index[0], index[-1] + pd.Timedelta(hours=HORIZON_HOURS), freq=step)
    extended = extended[extended <= last].tz_convert(index.tz)
    frame = pd.DataFrame(index=extended)
    for column in HISTORY_COLUMNS:
        values = _on_grid(history[column], extended, step)
        frame[column] = values.interpolate(limit=MAX_GAP_STEPS, limit_area="inside").clip(lower=0)
    for column in PRICE_COLUMNS:
        frame[column] = _on_grid(prices[column], extended, step).ffill()
    inside = frame.loc[index]
    for column in frame.columns:
        missing = inside[column].isna()
        if missing.any():
            raise SimulationError(
                f"{column}: no value for {int(missing.sum())} simulated steps "
                f"(first {inside.index[missing][0]})"
            )
    return frame.ffill()


def load_inputs(
    history: pd.DataFrame,
    prices: pd.DataFrame,
    site: Any,
    first: date,
    last: date,
    *,
    tz: str = "UTC",
    step_minutes: int = 60,
    weather: Sequence[pd.DataFrame] = (),
    options: PlanOptions | None = None,
) -> Inputs:
    """Check and align the inputs; SimulationError names what is wrong."""
    if step_minutes not in (5, 10, 15, 30, 60):
        raise SimulationError(f"--step-minutes must be 5, 10, 15, 30 or 60, got {step_minutes}")
    try:
        zone = ZoneInfo(tz)
    except (ValueError, KeyError) as err:
        raise SimulationError(f"--timezone {tz!r}: unknown zone ({err})") from None
    _require(history, HISTORY_COLUMNS, "history")
    _require(prices, PRICE_COLUMNS, "prices")
    battery, grid = _site(site)
    step = pd.Timedelta(minutes=step_minutes)
    raw = history[list(HISTORY_COLUMNS)].apply(pd.to_numeric, errors="coerce").sort_index()
    index = _window(raw, first, last, zone, step)
    actual = _actual(raw, prices, index, step)
    return Inputs(
        index=index,
        actual=actual,
        history=raw,
        battery=battery,
        grid=grid,
        step_minutes=step_minutes,
        tz=zone,
        weather=tuple(weather),
        options=options or PlanOptions(),
        place=_place(site),
    )


# --- realisation: the one place where a request meets the physics --------------------------------


def realise(
    request_w: float | None,
    *,
    load_w: float,
    pv_w: float,
    soc_pct: float,
    battery: dict[str, Any],
    grid: dict[str, Any],
    hours: float,
    import_price: float,
    export_price: float,
) -> tuple[float, float, float, float]:
    """Battery power, grid power, SOC at the end and cost of one step (reads this step only)."""
    capacity = float(battery["capacity_wh"])
    eta_c, eta_d = float(battery["charge_efficiency"]), float(battery["discharge_efficiency"])
    net = load_w - pv_w
    power = 0.0 if request_w is None or not math.isfinite(request_w) else float(request_w)
    room_wh = max(0.0, (battery["soc_max_pct"] - soc_pct) / 100.0 * capacity)
    stock_wh = max(0.0, (soc_pct - battery["soc_min_pct"]) / 100.0 * capacity)
    high = min(float(battery["charge_max_w"]), room_wh / eta_c / hours)
    low = -min(float(battery["discharge_max_w"]), stock_wh * eta_d / hours)
    if not battery.get("charge_from_grid", True):
        high = min(high, max(0.0, -net))
    if grid.get("import_limit_w") is not None:
        high = max(0.0, min(high, grid["import_limit_w"] - net))
    if grid.get("export_limit_w") is not None:
        low = min(0.0, max(low, -grid["export_limit_w"] - net))
    power = min(max(power, low), high)
    stored_wh = (power * eta_c if power > 0 else power / eta_d) * hours
    soc = soc_pct + stored_wh / capacity * 100.0
    grid_w = net + power
    energy_kwh = grid_w * hours / 1000.0
    cost = energy_kwh * (import_price if grid_w > 0 else export_price)
    return power, grid_w, soc, cost


# --- strategies: what each asks for at step k -----------------------------------------------------

type Request = Callable[[Inputs, int, float], float | None]
DIRECTION_W = 50.0  # a battery power within this counts as idle, for the flapping figures


def _measured(inputs: Inputs, k: int, soc: float) -> Measured:
    """What the executor measures at the start of step k (the net load of the step, settled)."""
    row = inputs.actual.iloc[k]
    return Measured(
        soc_pct=soc,
        capacity_wh=float(inputs.battery["capacity_wh"]),
        net_w=float(row["load_w"] - row["pv_w"]),
        step_left_s=inputs.step_minutes * 60.0,
    )


def _scenario(inputs: Inputs, k: int, soc: float, load: np.ndarray, pv: np.ndarray) -> dict:
    """The 24 h scenario planned at step k."""
    steps = len(load)
    prices = inputs.actual.iloc[k : k + steps]
    battery = dict(inputs.battery)
    low, high = battery["soc_min_pct"], battery["soc_max_pct"]
    battery["soc_initial_pct"] = min(max(soc, low), high)
    battery["soc_final_pct"] = None
    return {
        "version": 1,
        "start": inputs.actual.index[k].isoformat(),
        "step_minutes": inputs.step_minutes,
        "horizon_steps": steps,
        "objective": "cost",
        "load_w": [round(float(v), 1) for v in load],
        "pv_w": [round(float(v), 1) for v in pv],
        "import_price_eur_per_kwh": [float(v) for v in prices[PRICE_COLUMNS[0]]],
        "export_price_eur_per_kwh": [float(v) for v in prices[PRICE_COLUMNS[1]]],
        "battery": battery,
        "grid": inputs.grid,
    }


def _steps_ahead(inputs: Inputs, k: int) -> int:
    """Horizon at step k: 24 h, shorter at the end of the known data."""
    return max(1, min(inputs.horizon_steps, len(inputs.actual) - k))


def _direction(watts: float) -> int:
    return 0 if abs(watts) < DIRECTION_W else (1 if watts > 0 else -1)


@dataclass
class Planned:
    """A planned strategy: forecast, plan (from the previous plan if ``stable``), execute."""

    method: str  # the forecast method; "actual" peeks at the actual load and PV
    stable: bool = True
    previous: dict[str, Any] | None = None
    plans: int = 0
    kept: int = 0  # plans that kept the previous plan's decisions
    running_changes: int = 0
    direction_changes: int = 0

    def __call__(self, inputs: Inputs, k: int, soc: float) -> float:
        """The battery request of step k: plan, then settle the first step's intent."""
        load, pv = self._forecast(inputs, k)
        scenario = _scenario(inputs, k, soc, load, pv)
        options = inputs.options
        if self.method == "actual":  # a perfect forecast needs no margin against its errors
            options = replace(options, risk_margin_eur_per_kwh=0.0)
        result = plan(scenario, self.previous if self.stable else None, options)
        self._count(result)
        self.previous = result
        intents = result.get("intents") or [None]
        intent = Intent.from_plan(intents[0])
        request = settled(intent, _measured(inputs, k, soc), float(result["battery_w"][0]))
        return 0.0 if request is None else request

    def _forecast(self, inputs: Inputs, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Load and PV over the horizon: the history strictly before the step, or the actual."""
        if self.method == "actual":
            ahead = inputs.actual.iloc[k : k + _steps_ahead(inputs, k)]
            return ahead["load_w"].to_numpy(), ahead["pv_w"].to_numpy()
        start = inputs.actual.index[k]
        past = inputs.history[inputs.history.index < start]
        result = forecast(
            past,
            start,
            _steps_ahead(inputs, k),
            inputs.step_minutes,
            weather=inputs.weather,
            tz=inputs.tz,
            load_method=self.method,
            pv_method=self.method,
            site=inputs.place,
        )
        return result.load.power_w, result.pv.power_w

    def _count(self, result: dict[str, Any]) -> None:
        """The flapping figures, against the previous plan (one step earlier)."""
        self.plans += 1
        self.kept += (result.get("replan") or {}).get("decision") == "kept"
        old = self.previous
        if old is None:
            return
        old_intents, new_intents = old.get("intents") or [], result.get("intents") or []
        if len(old_intents) > 1 and new_intents:
            self.running_changes += old_intents[1]["kind"] != new_intents[0]["kind"]
        common = zip(old["battery_w"][1:], result["battery_w"], strict=False)
        self.direction_changes += sum(_direction(a) != _direction(b) for a, b in common)

    def flapping(self) -> dict[str, Any]:
        """The figures of the whole run."""
        later = max(1, self.plans - 1)
        return {
            "plans": self.plans,
            "kept_previous": self.kept,
            "running_changes": self.running_changes,
            "running_changes_pct": round(100 * self.running_changes / later, 2),
            "direction_changes_per_plan": round(self.direction_changes / later, 3),
        }


def _self_consumption_request(inputs: Inputs, k: int, soc: float) -> float | None:
    """The battery takes the net load: the executor's self_consumption intent, settled."""
    intent = Intent(kind="self_consumption", reason="cover_load")
    return settled(intent, _measured(inputs, k, soc))


def _no_battery_request(inputs: Inputs, k: int, soc: float) -> float:
    """Nothing."""
    del inputs, k, soc
    return 0.0


# Each run gets a fresh request (the planned ones keep their previous plan and counters).
REQUESTS: dict[str, Callable[[], Request]] = {
    "ems": lambda: Planned("auto"),
    "ems_unstable": lambda: Planned("auto", stable=False),
    "perfect_foresight": lambda: Planned("actual"),
    "persistence": lambda: Planned("persistence"),
    "self_consumption": lambda: _self_consumption_request,
    "no_battery": lambda: _no_battery_request,
}


# --- the loop -------------------------------------------------------------------------------------


def simulate(
    inputs: Inputs,
    strategy: str,
    progress: Callable[[str], None] | None = None,
    request: Request | None = None,
) -> list[Step]:
    """Run one strategy over every simulated step."""
    ask = request or REQUESTS[strategy]()
    soc = float(inputs.battery["soc_initial_pct"])
    steps: list[Step] = []
    day_cost = 0.0
    for k, start in enumerate(inputs.index):
        row = inputs.actual.iloc[k]
        power, grid_w, soc, cost = realise(
            ask(inputs, k, soc),
            load_w=float(row["load_w"]),
            pv_w=float(row["pv_w"]),
            soc_pct=soc,
            battery=inputs.battery,
            grid=inputs.grid,
            hours=inputs.hours,
            import_price=float(row[PRICE_COLUMNS[0]]),
            export_price=float(row[PRICE_COLUMNS[1]]),
        )
        steps.append(Step(start.isoformat(), row["load_w"], row["pv_w"], power, grid_w, soc, cost))
        day_cost += cost
        last_of_day = k + 1 == len(inputs.index) or inputs.index[k + 1].date() != start.date()
        if progress and last_of_day:
            progress(f"{strategy} {start.date()}: {day_cost:.2f} €, SOC {soc:.0f} %")
            day_cost = 0.0
    return steps


def share_captured(cost: float, no_battery: float | None, perfect: float | None) -> float | None:
    """(cost_no_battery − cost) / (cost_no_battery − cost_perfect_foresight), None if unknown."""
    if no_battery is None or perfect is None or abs(no_battery - perfect) < 1e-9:
        return None
    return (no_battery - cost) / (no_battery - perfect)


def _stored_value(inputs: Inputs, steps: Sequence[Step]) -> float:
    """The energy left in the battery beyond the start, at the mean import price (after η)."""
    if not steps:
        return 0.0
    battery = inputs.battery
    change_kwh = (steps[-1].soc_pct - battery["soc_initial_pct"]) / 100.0
    change_kwh *= battery["capacity_wh"] / 1000.0 * battery["discharge_efficiency"]
    price = float(inputs.actual.loc[inputs.index, PRICE_COLUMNS[0]].mean())
    return change_kwh * price


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def run(
    inputs: Inputs,
    strategies: Sequence[str] = STRATEGIES,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every strategy's steps and cost, and the summary (the output JSON)."""
    results: dict[str, list[Step]] = {}
    flapping: dict[str, dict[str, Any]] = {}
    for name in strategies:
        ask = REQUESTS[name]()
        results[name] = simulate(inputs, name, progress, ask)
        if isinstance(ask, Planned):
            flapping[name] = ask.flapping()
    costs = {name: sum(s.cost_eur for s in steps) for name, steps in results.items()}
    adjusted = {name: costs[name] - _stored_value(inputs, steps) for name, steps in results.items()}
    summary: dict[str, Any] = {}
    for name, steps in results.items():
        imported = sum(max(0.0, s.grid_w) for s in steps) * inputs.hours / 1000.0
        exported = sum(max(0.0, -s.grid_w) for s in steps) * inputs.hours / 1000.0
        share = share_captured(costs[name], costs.get("no_battery"), costs.get("perfect_foresight"))
        summary[name] = {
            "cost_eur": round(costs[name], 4),
            "share_of_perfect_foresight": None if share is None else round(share, 4),
            "cost_soc_adjusted_eur": round(adjusted[name], 4),
            "share_soc_adjusted": _rounded(
                share_captured(
                    adjusted[name], adjusted.get("no_battery"), adjusted.get("perfect_foresight")
                )
            ),
            "import_kwh": round(imported, 3),
            "export_kwh": round(exported, 3),
            "soc_final_pct": round(steps[-1].soc_pct, 2) if steps else None,
            "flapping": flapping.get(name),
        }
    return {
        "from": inputs.index[0].isoformat(),
        "to": (inputs.index[-1] + pd.Timedelta(minutes=inputs.step_minutes)).isoformat(),
        "step_minutes": inputs.step_minutes,
        "replanning": "every step, 24 h horizon",
        "strategies": {
            name: {
                "cost_eur": round(costs[name], 4),
                "soc_initial_pct": float(inputs.battery["soc_initial_pct"]),
                "steps": [s.as_json() for s in steps],
            }
            for name, steps in results.items()
        },
        "summary": summary,
    }


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f} %"


def format_table(output: dict[str, Any]) -> str:
    """Strategy, cost and share of perfect foresight captured, as a text table."""
    lines = [
        f"{'strategy':<18} {'cost €':>8} {'captured':>9} {'import kWh':>11} {'SOC end':>8} "
        f"{'cost, SOC valued €':>19} {'captured':>9}  {'kept':>5} {'running Δ':>9} "
        f"{'flips/plan':>10}"
    ]
    for name, row in output["summary"].items():
        flap = row.get("flapping")
        flapping = (
            f"  {flap['kept_previous']:>5} {flap['running_changes_pct']:>8.1f}% "
            f"{flap['direction_changes_per_plan']:>10.2f}"
            if flap
            else ""
        )
        lines.append(
            f"{name:<18} {row['cost_eur']:>8.2f} {_percent(row['share_of_perfect_foresight']):>9} "
            f"{row['import_kwh']:>11.1f} {row['soc_final_pct']:>7.0f}% "
            f"{row['cost_soc_adjusted_eur']:>19.2f} {_percent(row['share_soc_adjusted']):>9}"
            + flapping
        )
    return "\n".join(lines)


# --- the chart ------------------------------------------------------------------------------------

_WIDTH, _HEIGHT, _PAD = 960, 140, 40
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _polyline(values: Sequence[float], low: float, high: float, colour: str) -> str:
    """An SVG polyline of `values` scaled to the panel."""
    n = max(1, len(values) - 1)
    span = (high - low) or 1.0
    points = " ".join(
        f"{_PAD + i * (_WIDTH - 2 * _PAD) / n:.1f},"
        f"{10 + (_HEIGHT - 20) * (1 - (v - low) / span):.1f}"
        for i, v in enumerate(values)
    )
    return f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" points="{points}"/>'


def _panel(title: str, series: dict[str, Sequence[float]], unit: str) -> str:
    """One SVG panel with a line per series, its range and a legend."""
    every = [v for values in series.values() for v in values] or [0.0]
    low, high = min([*every, 0.0]), max(every)
    lines = [
        _polyline(values, low, high, _COLOURS[i % len(_COLOURS)])
        for i, values in enumerate(series.values())
    ]
    legend = " ".join(
        f'<tspan fill="{_COLOURS[i % len(_COLOURS)]}">■ {html.escape(name)}</tspan>'
        for i, name in enumerate(series)
    )
    return (
        f'<h3>{html.escape(title)}</h3><svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{_WIDTH}" height="{_HEIGHT + 20}" role="img">'
        f'<rect x="{_PAD}" y="10" width="{_WIDTH - 2 * _PAD}" height="{_HEIGHT - 20}" '
        f'fill="#fafafa" stroke="#ccc"/>'
        f'<text x="2" y="16" font-size="10">{high:.4g} {unit}</text>'
        f'<text x="2" y="{_HEIGHT - 10}" font-size="10">{low:.4g} {unit}</text>'
        + "".join(lines)
        + f'<text x="{_PAD}" y="{_HEIGHT + 14}" font-size="11">{legend}</text></svg>'
    )


def chart_html(output: dict[str, Any], inputs: Inputs) -> str:
    """A self-contained HTML page: prices, then SOC and grid power of every strategy."""
    prices = inputs.actual.loc[inputs.index]
    strategies = output["strategies"]
    panels = [
        _panel(
            "Prices",
            {
                "import": list(prices[PRICE_COLUMNS[0]]),
                "export": list(prices[PRICE_COLUMNS[1]]),
            },
            "€/kWh",
        ),
        _panel(
            "Net load (load − PV)",
            {"net": list(prices["load_w"] - prices["pv_w"])},
            "W",
        ),
        _panel(
            "State of charge",
            {name: [s["soc_pct"] for s in r["steps"]] for name, r in strategies.items()},
            "%",
        ),
        _panel(
            "Grid power (+ import)",
            {name: [s["grid_w"] for s in r["steps"]] for name, r in strategies.items()},
            "W",
        ),
    ]
    table = html.escape(format_table(output))
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>ems-optimizer simulate</title>'
        "<style>body{font-family:sans-serif;margin:1em}pre{font-size:13px}</style></head><body>"
        f"<h2>Closed loop {html.escape(output['from'])} → {html.escape(output['to'])}</h2>"
        f"<pre>{table}</pre>" + "".join(panels) + "</body></html>\n"
    )
