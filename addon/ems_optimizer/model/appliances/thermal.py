"""`thermal`: regulated heating with a first-order building model and a comfort band.

T[t+1] = T[t] + Δt/C·(cop·P[t] − UA·(T[t] − Tout[t])). The band is soft (a slack per step at a
high price): a cold snap the heating cannot cover is reported, never an infeasible plan.
"""

from __future__ import annotations

from typing import Any

from ems_optimizer.model.core import Horizon, Model, Power, value

from .base import Built, PlanWarning, Prepared, Result

BAND_EUR_PER_KELVIN_HOUR = 50.0
# when the site cannot serve everything, comfort comes before any other appliance
REPAIR_BAND_EUR_PER_KELVIN_HOUR = 5000.0


def prepare(spec: dict[str, Any], horizon: Horizon) -> Prepared:
    """Nothing to repair up front: the band is soft."""
    return Prepared(spec["id"], "thermal", spec)


def build(model: Model, prepared: Prepared) -> Built:
    """Power P[t] ∈ [0, max], temperature T[1..N] with the band relaxed by priced slacks."""
    horizon, spec = model.horizon, prepared.spec
    steps, dt_h = horizon.steps, horizon.dt_h
    gain = dt_h / spec["thermal_capacity_wh_per_k"]
    loss = gain * spec["heat_loss_w_per_k"]
    outdoor = spec["outdoor_temp_c"]
    t_min, t_max = spec["t_min_c"], spec["t_max_c"]
    band = REPAIR_BAND_EUR_PER_KELVIN_HOUR if model.repair else BAND_EUR_PER_KELVIN_HOUR
    penalty = band * 1000.0 * dt_h  # m€ per kelvin and step
    power = Power.zero(steps)
    heat = [model.var("th_w", 0.0, spec["max_power_w"]) for _ in range(steps)]
    temp = [model.var("th_c", None, None) for _ in range(steps)]
    below = [model.var("th_below") for _ in range(steps)]
    above = [model.var("th_above") for _ in range(steps)]
    for t in range(steps):
        power.terms[t].append((heat[t], 1.0))
        # T[t+1] − (1 − loss)·T[t] − gain·cop·P[t] = loss·Tout[t]
        terms = [(temp[t], 1.0), (heat[t], -gain * spec["cop"])]
        rhs = loss * outdoor[t]
        if t == 0:
            rhs += (1.0 - loss) * spec["t_initial_c"]
        else:
            terms.append((temp[t - 1], -(1.0 - loss)))
        model.constrain(terms, "==", rhs)
        model.constrain([(temp[t], 1.0), (below[t], 1.0)], ">=", t_min)
        model.constrain([(temp[t], 1.0), (above[t], -1.0)], "<=", t_max)
        model.cost(below[t], penalty)
        model.cost(above[t], penalty)

    def result() -> Result:
        series = [max(value(h), 0.0) for h in heat]
        series = [w if w > 1e-3 else 0.0 for w in series]
        temperature = [float(spec["t_initial_c"])]
        for t in range(steps):
            temperature.append(
                temperature[-1]
                + gain * spec["cop"] * series[t]
                - loss * (temperature[-1] - outdoor[t])
            )
        active = [k for k in range(steps) if series[k] > 0]
        out = Result(series, active[0] if active else None, temperature)
        worst_low = max((t_min - x for x in temperature[1:]), default=0.0)
        worst_high = max((x - t_max for x in temperature[1:]), default=0.0)
        if worst_low > 0.01 or worst_high > 0.01:
            parts = []
            if worst_low > 0.01:
                parts.append(f"down to {t_min - worst_low:.1f} °C")
            if worst_high > 0.01:
                parts.append(f"up to {t_max + worst_high:.1f} °C")
            out.warnings.append(
                PlanWarning(
                    "WARN_CONSTRAINT",
                    prepared.ident,
                    f"cannot keep {t_min:g}–{t_max:g} °C ({', '.join(parts)}): "
                    "heating power, start temperature or weather out of reach",
                )
            )
        return out

    return Built(power, result)


def reduce(prepared: Prepared, shortfall: float) -> None:
    """The band is soft already: nothing to reduce."""
