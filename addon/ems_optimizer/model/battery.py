"""The site battery: AC-side charge/discharge, efficiencies, SOC band, final SOC, wear.

E[t+1] = E[t] + Δt·(ηc·Pch[t] − Pdis[t]/ηd), E in Wh. Charge and discharge are separate
non-negative variables; a direction binary forbids doing both only at the steps where doing both
could pay (energy with a negative value), elsewhere a tiny throughput price makes it never optimal.

The energy left at the end of the horizon is worth something: the plan is redone every step and
the next one will use it. Without a value for it, a rolling 24 h plan is indifferent between
storing PV it will need tomorrow and exporting it for little, and it empties the battery at every
horizon's end. The objective counts −v·(E[N] − E[0]), with v (€ per kWh stored) the scenario's
``stored_energy_value_eur_per_kwh`` or, when it gives none, :func:`stored_energy_value`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .appliances.base import SHORTFALL_MEUR, PlanWarning
from .core import EPSILON_THROUGHPUT_EUR_PER_KWH, Horizon, Model, Power, value

BAND_EUR_PER_KWH_STEP = 1.0  # price of each kWh outside the band, per step, when it starts outside
# Stored energy is valued a little under the cheapest import it can displace: never worth
# buying just to end fuller, always worth more than a PV export paid less than that.
STORED_VALUE_SHARE = 0.99


def stored_energy_value(
    spec: dict[str, Any], import_weights: list[float], margin_eur_per_kwh: float = 0.0
) -> float:
    """€ per kWh stored at the horizon's end: the scenario's, else what it can displace.

    The default is what a kWh in the battery gives back when it covers the cheapest import of
    the horizon: ηd × (0.99 × the lowest import weight − the wear of discharging it), never
    below 0. Buying from the grid to store costs at least that lowest price / ηc, more than this.
    """
    explicit = spec.get("stored_energy_value_eur_per_kwh")
    if explicit is not None:
        return float(explicit)
    if not import_weights:
        return 0.0
    lowest = STORED_VALUE_SHARE * min(import_weights)
    cost = spec["wear_cost_eur_per_kwh"] + margin_eur_per_kwh
    return max(0.0, spec["discharge_efficiency"] * (lowest - cost))


@dataclass
class PreparedBattery:
    """The battery in Wh on the step grid, after the static repairs."""

    spec: dict[str, Any]
    initial_wh: float
    low_wh: float
    high_wh: float
    final_wh: float | None
    warnings: list[PlanWarning] = field(default_factory=list)
    # Per-step charge bound (W) when the battery may not charge from the grid: PV surplus only.
    charge_cap_w: list[float] | None = None

    def warn(self, message: str) -> None:
        """Record a battery warning (appliance: null)."""
        self.warnings.append(PlanWarning("WARN_CONSTRAINT", None, message))

    def reduce_final(self, shortfall_wh: float) -> None:
        """Aim lower at the end, as repair mode found necessary."""
        if self.final_wh is None or shortfall_wh <= 0.5:
            return
        before = self.final_wh
        self.final_wh = max(self.final_wh - shortfall_wh - 1e-3, 0.0)
        capacity = self.spec["capacity_wh"]
        self.warn(
            f"the final SOC {100 * before / capacity:.1f} % cannot be reached "
            "with the site's limits: "
            f"aims at {100 * self.final_wh / capacity:.1f} %"
        )


def prepare(
    spec: dict[str, Any], horizon: Horizon, surplus_w: list[float] | None = None
) -> PreparedBattery:
    """Energies in Wh; a final SOC out of reach is lowered to what full charging can reach.

    ``surplus_w`` (PV minus the fixed load, per step) bounds charging when the battery may not
    charge from the grid (``charge_from_grid`` false).
    """
    capacity = spec["capacity_wh"]
    initial = capacity * spec["soc_initial_pct"] / 100
    low, high = capacity * spec["soc_min_pct"] / 100, capacity * spec["soc_max_pct"] / 100
    final = None if spec["soc_final_pct"] is None else capacity * spec["soc_final_pct"] / 100
    battery = PreparedBattery(spec, initial, low, high, final)
    if not spec.get("charge_from_grid", True):
        surplus = surplus_w if surplus_w is not None else [0.0] * horizon.steps
        battery.charge_cap_w = [min(spec["charge_max_w"], max(0.0, w)) for w in surplus]
    if initial < low - 1e-9 or initial > high + 1e-9:
        battery.warn(
            f"the initial SOC {spec['soc_initial_pct']:g} % is outside "
            f"[{spec['soc_min_pct']:g}, {spec['soc_max_pct']:g}] %: the plan brings it back "
            "as soon as it can"
        )
    if final is not None:
        caps = battery.charge_cap_w or [spec["charge_max_w"]] * horizon.steps
        reachable = min(
            max(high, initial),
            initial + horizon.dt_h * spec["charge_efficiency"] * sum(caps),
        )
        if final > reachable + 1e-6:
            battery.warn(
                f"the final SOC {spec['soc_final_pct']:g} % cannot be reached from "
                f"{spec['soc_initial_pct']:g} % at {spec['charge_max_w']:.0f} W: "
                f"aims at {100 * reachable / capacity:.1f} %"
            )
            battery.final_wh = reachable
    return battery


@dataclass
class BuiltBattery:
    """The battery in a model."""

    power: Power
    charge: list[Any]
    discharge: list[Any]
    result: Callable[[], tuple[list[float], list[float]]]  # (battery_w, energy_wh[N+1])
    final_shortfall: Callable[[], float]


def build(
    model: Model,
    battery: PreparedBattery,
    exclusive_steps: Iterable[int],
    stability_meur_per_wh: float,
    *,
    stored_value_eur_per_kwh: float = 0.0,
    running_w: float | None = None,
    margin_eur_per_kwh: float = 0.0,
) -> BuiltBattery:
    """Charge/discharge/energy variables, the SOC dynamics and band, the final SOC and its value."""
    horizon, spec = model.horizon, battery.spec
    steps, dt_h = horizon.steps, horizon.dt_h
    eta_c, eta_d = spec["charge_efficiency"], spec["discharge_efficiency"]
    exclusive = set(exclusive_steps)
    power = Power.zero(steps)
    throughput = dt_h * EPSILON_THROUGHPUT_EUR_PER_KWH
    # the wear of discharging, and the planning margin (PlanOptions.risk_margin_eur_per_kwh)
    wear = dt_h * (spec["wear_cost_eur_per_kwh"] + margin_eur_per_kwh)
    low = min(battery.low_wh, battery.initial_wh)
    high = max(battery.high_wh, battery.initial_wh)
    charge, discharge, energy = [], [], []
    stability = model.stability
    caps = battery.charge_cap_w or [spec["charge_max_w"]] * steps
    for t in range(steps):
        if t == 0 and running_w is not None:  # the running step keeps its power (stability.py)
            ch = model.var("bat_ch", max(running_w, 0.0), max(running_w, 0.0))
            dis = model.var("bat_dis", max(-running_w, 0.0), max(-running_w, 0.0))
        else:
            ch = model.var("bat_ch", 0.0, caps[t])
            dis = model.var("bat_dis", 0.0, spec["discharge_max_w"])
        e = model.var("bat_wh", low, high)
        charge.append(ch)
        discharge.append(dis)
        energy.append(e)
        power.terms[t] += [(ch, 1.0), (dis, -1.0)]
        model.cost(ch, throughput)
        model.cost(dis, throughput + wear)
        if stability and stability_meur_per_wh:
            direction = stability.battery_direction[t]
            if direction > 0:
                model.cost(dis, dt_h * stability_meur_per_wh)
            elif direction < 0:
                model.cost(ch, dt_h * stability_meur_per_wh)
        terms = [(e, 1.0), (ch, -dt_h * eta_c), (dis, dt_h / eta_d)]
        if t == 0:
            model.constrain(terms, "==", battery.initial_wh)
        else:
            model.constrain([*terms, (energy[t - 1], -1.0)], "==", 0.0)
        if t in exclusive:
            direction = model.var("bat_dir", binary=True)
            model.constrain([(ch, 1.0), (direction, -spec["charge_max_w"])], "<=", 0.0)
            model.constrain(
                [(dis, 1.0), (direction, spec["discharge_max_w"])], "<=", spec["discharge_max_w"]
            )
        # an initial SOC outside the band: a priced slack brings it back as soon as possible
        if battery.initial_wh < battery.low_wh - 1e-9:
            gap = model.var("bat_below", 0.0, battery.low_wh - battery.initial_wh)
            model.constrain([(e, 1.0), (gap, 1.0)], ">=", battery.low_wh)
            model.cost(gap, BAND_EUR_PER_KWH_STEP)
        if battery.initial_wh > battery.high_wh + 1e-9:
            gap = model.var("bat_above", 0.0, battery.initial_wh - battery.high_wh)
            model.constrain([(e, 1.0), (gap, -1.0)], "<=", battery.high_wh)
            model.cost(gap, BAND_EUR_PER_KWH_STEP)
    short = _end(model, battery, energy[-1], stored_value_eur_per_kwh) if steps else None

    def result() -> tuple[list[float], list[float]]:
        net = [value(c) - value(d) for c, d in zip(charge, discharge, strict=True)]
        levels = [battery.initial_wh, *(value(e) for e in energy)]
        return net, levels

    return BuiltBattery(power, charge, discharge, result, lambda: value(short))


def _end(model: Model, battery: PreparedBattery, last: Any, stored_value: float) -> Any:
    """The final SOC (a floor; priced shortfall in repair mode) and the stored energy's value.

    Returns the shortfall variable, or None.
    """
    if stored_value:  # € per kWh × Wh = m€
        model.cost(last, -stored_value)
        model.objective_constant += stored_value * battery.initial_wh
    if battery.final_wh is None:
        return None
    if not model.repair:
        model.constrain([(last, 1.0)], ">=", battery.final_wh)
        return None
    short = model.var("bat_final_short", 0.0, battery.final_wh)
    model.repair_cost(short, SHORTFALL_MEUR / max(battery.final_wh, 1.0))
    model.constrain([(last, 1.0), (short, 1.0)], ">=", battery.final_wh)
    return short


def simultaneous_steps(built: BuiltBattery) -> list[int]:
    """Steps where the solution charges and discharges at once (to be forbidden and re-solved)."""
    return [
        t
        for t, (c, d) in enumerate(zip(built.charge, built.discharge, strict=True))
        if min(value(c), value(d)) > 0.5
    ]
