"""What the plan means the battery to do in each step, and why (the plan's ``intents``).

A pure function of the validated scenario and the solved plan. With ``tol`` the grid tolerance of
a step (``max(50 W, 2 % of the house's load with its appliances)``) and ``eps`` = 1 W:

* no battery: ``hold`` / ``at_limit``, 0 W, no SOC target;
* |battery| ≤ eps → ``hold`` (0 W): ``at_limit`` when the SOC sits at its min bound,
  ``keep_for_later`` when keeping the energy pays: a later step discharges at a higher price or
  at the peak, or the plan ends at its final SOC. Otherwise the idle battery (full, or with
  nothing planned to cover) is a tie of the optimizer, not a choice: discharging now or later
  costs the same, so it is ``self_consumption`` / ``cover_load`` and what the forecast missed
  is covered too;
* |grid| ≤ tol → ``self_consumption``: ``store_pv_surplus`` when charging, ``cover_load`` when
  discharging;
* charging while exporting → ``charge`` / ``store_pv_surplus``;
* charging while importing → ``charge``, reason in this order: ``reach_final_soc`` when no
  discharge follows and the plan ends at the scenario's final SOC; ``cheap_grid_now`` when the
  import price now is below that of a later discharging step; ``peak_limit`` when a later step
  discharges at the import limit (or the penalised peak); ``reach_final_soc`` when the final SOC
  binds; else ``cheap_grid_now`` (a free or negative price);
* discharging while exporting → ``export`` / ``sell_high``;
* discharging while importing → ``discharge``: ``peak_limit`` when the import sits at the grid's
  import limit (or at the horizon's peak, when the peak is penalised), else ``expensive_now``.

Prices are the objective's import weights (``objective_prices``), so the ``import`` and
``self_consumption`` objectives compare steps the way the optimizer did. ``power_w`` is the
planned battery power (0.1 W), ``soc_target_pct`` the plan's SOC at the end of the step (0.01 %).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ems_core.contract import Plan, Scenario

from .model.site import objective_prices

BATTERY_EPS_W = 1.0  # a battery power within this is idle
GRID_TOL_W = 50.0  # the grid counts as ~0 W within max(this, GRID_TOL_SHARE × the load)
GRID_TOL_SHARE = 0.02
SOC_TOL_PCT = 0.05  # a SOC within this of a bound sits at it
FINAL_TOL_PCT = 0.5  # the plan ends "at" the final SOC within this
# An idle step holds its energy for a later one only when that one is dearer by more than this.
HOLD_MARGIN_EUR_PER_KWH = 0.005
HOLD_MARGIN_SHARE = 0.10
_NONE = float("-inf")


@dataclass(frozen=True)
class _Context:
    """The per-step facts the rules read, computed once."""

    battery_w: list[float]
    grid_w: list[float]
    soc_pct: list[float]
    tol_w: list[float]
    price: list[float]
    tariff: list[float]  # the scenario's import price (0 without one)
    later_price: list[float]  # highest price of a discharging step after t (-inf: none)
    later_peak: list[bool]  # a step after t discharges at the import limit or the peak
    soc_min: float
    soc_max: float
    final_binds: bool
    import_limit_w: float | None
    peak_w: float | None  # the horizon's peak import when the peak is penalised


def derive_intents(scenario: Scenario, plan: Plan) -> list[dict[str, Any]]:
    """One intent per step (kind, power_w, soc_target_pct, reason) for a solved plan."""
    steps = scenario["horizon_steps"]
    if not scenario["battery"]:
        return [_intent("hold", 0.0, None, "at_limit") for _ in range(steps)]
    ctx = _context(scenario, plan)
    intents = []
    for t in range(steps):
        kind, reason = _kind_reason(ctx, t)
        power = 0.0 if kind == "hold" else ctx.battery_w[t]
        intents.append(_intent(kind, power, ctx.soc_pct[t + 1], reason))
    return intents


def _intent(kind: str, power_w: float, soc_pct: float | None, reason: str) -> dict[str, Any]:
    """An intent dict, rounded as the contract shows it."""
    target = None if soc_pct is None else min(max(round(soc_pct, 2), 0.0), 100.0)
    return {
        "kind": kind,
        "power_w": round(power_w, 1) + 0.0,  # no -0.0
        "soc_target_pct": target,
        "reason": reason,
    }


def _context(scenario: Scenario, plan: Plan) -> _Context:
    """The facts of a plan with a battery."""
    steps = scenario["horizon_steps"]
    battery_w, grid_w = plan["battery_w"], plan["grid_w"]
    house = list(scenario["load_w"])
    for item in plan["appliances"].values():
        house = [h + p for h, p in zip(house, item["power_w"], strict=True)]
    tol = [max(GRID_TOL_W, GRID_TOL_SHARE * h) for h in house]
    price, _ = objective_prices(scenario)
    limit = scenario["grid"]["import_limit_w"]
    penalised = scenario.get("peak_import_penalty_eur_per_kw", 0.0) > 0
    peak = max(grid_w) if penalised and steps else None
    spec = scenario["battery"]
    partial = _Context(
        battery_w=battery_w,
        grid_w=grid_w,
        soc_pct=plan["soc_pct"],
        tol_w=tol,
        price=price,
        tariff=list(scenario["import_price_eur_per_kwh"] or [0.0] * steps),
        later_price=[],
        later_peak=[],
        soc_min=spec["soc_min_pct"],
        soc_max=spec["soc_max_pct"],
        final_binds=_final_binds(spec, plan["soc_pct"][-1]),
        import_limit_w=limit,
        peak_w=peak,
    )
    later_price, later_peak = [_NONE] * steps, [False] * steps
    best, any_peak = _NONE, False
    for t in range(steps - 1, -1, -1):
        later_price[t], later_peak[t] = best, any_peak
        if battery_w[t] < -BATTERY_EPS_W:
            best = max(best, price[t])
            any_peak = any_peak or _at_peak(partial, t)
    return replace(partial, later_price=later_price, later_peak=later_peak)


def _final_binds(spec: dict[str, Any], last_soc: float) -> bool:
    """Whether the plan ends at the scenario's final SOC (so that it needs the charge)."""
    final = spec["soc_final_pct"]
    return final is not None and last_soc <= final + FINAL_TOL_PCT


def _at_peak(ctx: _Context, t: int) -> bool:
    """Whether step t imports at the grid's import limit, or at the penalised peak."""
    grid, tol = ctx.grid_w[t], ctx.tol_w[t]
    if grid <= tol:
        return False
    if ctx.import_limit_w is not None and grid >= ctx.import_limit_w - tol:
        return True
    return ctx.peak_w is not None and grid >= ctx.peak_w - tol


def _kind_reason(ctx: _Context, t: int) -> tuple[str, str]:
    """The kind and reason of step t."""
    battery, grid, tol = ctx.battery_w[t], ctx.grid_w[t], ctx.tol_w[t]
    if abs(battery) <= BATTERY_EPS_W:
        if ctx.soc_pct[t + 1] <= ctx.soc_min + SOC_TOL_PCT:
            return "hold", "at_limit"
        if _keeping_pays(ctx, t):
            return "hold", "keep_for_later"
        return "self_consumption", "cover_load"
    charging = battery > 0
    if abs(grid) <= tol:
        return "self_consumption", "store_pv_surplus" if charging else "cover_load"
    if charging:
        return "charge", "store_pv_surplus" if grid < 0 else _charge_reason(ctx, t)
    if grid < 0:
        return "export", "sell_high"
    return "discharge", "peak_limit" if _at_peak(ctx, t) else "expensive_now"


def _keeping_pays(ctx: _Context, t: int) -> bool:
    """Whether energy kept now is worth clearly more later than used now.

    A later price only a little higher (day-ahead prices differ by fractions of a cent from one
    hour to the next) does not pay for the risk: the load now is real, the later one a forecast,
    and kept energy the forecast did not need ends up spilled as a cheap export.
    """
    later = ctx.later_price[t]
    # the share is of the price itself (the objective's weight adds 1 under self_consumption)
    margin = max(HOLD_MARGIN_EUR_PER_KWH, HOLD_MARGIN_SHARE * abs(ctx.tariff[t]))
    return later > ctx.price[t] + margin or ctx.later_peak[t] or ctx.final_binds


def _charge_reason(ctx: _Context, t: int) -> str:
    """Why the battery charges from the grid."""
    later = ctx.later_price[t]
    if later == _NONE and ctx.final_binds:
        return "reach_final_soc"
    if ctx.price[t] < later - 1e-9:
        return "cheap_grid_now"
    if ctx.later_peak[t]:
        return "peak_limit"
    return "reach_final_soc" if ctx.final_binds else "cheap_grid_now"
