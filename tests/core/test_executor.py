"""The executor, by hand: each intent, a target reached early or late, and through decide()."""

from __future__ import annotations

import pytest

from ems_core.decide import (
    BatteryInput,
    ControlSettings,
    Fallback,
    Inputs,
    Mode,
    PiMemory,
    PlanStatus,
    SiteLimits,
    decide,
)
from ems_core.executor import Intent, Measured, execute, tracking_power
from ems_core.limiter import BatteryLimits, BatteryState

# 10 kWh at 50 %, 15 minutes left in the step.
HALF = Measured(soc_pct=50.0, capacity_wh=10000.0, net_w=800.0, step_left_s=900.0)


def test_charge_tracks_the_end_of_step_target() -> None:
    # +5 % of 10 kWh = 500 Wh in a quarter hour: 2000 W of stored power, 2105 W on the AC side.
    intent = Intent(kind="charge", power_w=2000.0, soc_target_pct=55.0)
    assert execute(intent, HALF) == pytest.approx(500 / 0.95 / 0.25)


def test_a_late_charge_asks_for_more_and_an_early_one_stops() -> None:
    intent = Intent(kind="charge", power_w=2000.0, soc_target_pct=55.0)
    late = Measured(soc_pct=50.0, capacity_wh=10000.0, net_w=0.0, step_left_s=450.0)
    assert execute(intent, late) == pytest.approx(2 * 500 / 0.95 / 0.25)
    early = Measured(soc_pct=55.5, capacity_wh=10000.0, net_w=0.0, step_left_s=300.0)
    assert execute(intent, early) == 0.0  # past the target: no discharge in a charge step


def test_the_last_minute_is_not_squeezed() -> None:
    intent = Intent(kind="charge", power_w=2000.0, soc_target_pct=51.0)
    last = Measured(soc_pct=50.0, capacity_wh=10000.0, net_w=0.0, step_left_s=5.0)
    assert tracking_power(intent, last) == pytest.approx(100 / 0.95 / (60 / 3600))


def test_discharge_covers_the_house_but_never_exports() -> None:
    intent = Intent(kind="discharge", power_w=-3000.0, soc_target_pct=45.0)
    # The target wants about −1900 W; the house takes only 800 W: no export.
    assert execute(intent, HALF) == pytest.approx(-800.0)
    busy = Measured(soc_pct=50.0, capacity_wh=10000.0, net_w=5000.0, step_left_s=900.0)
    assert execute(intent, busy) == pytest.approx(-500 * 0.95 / 0.25)


def test_storing_pv_surplus_never_imports_to_charge() -> None:
    """The plan stored part of a surplus and exported the rest: less PV than forecast → less charge.

    A ``charge`` for ``store_pv_surplus`` is at most the measured surplus (grid ≤ 0 W), never the
    target bought from the grid; a grid ``charge`` (cheap_grid_now) still tracks its target.
    """
    surplus = Intent(kind="charge", power_w=2000.0, soc_target_pct=55.0, reason="store_pv_surplus")
    cloudy = Measured(soc_pct=50.0, capacity_wh=10000.0, net_w=-600.0, step_left_s=900.0)
    assert execute(surplus, cloudy) == pytest.approx(600.0)
    assert execute(surplus, HALF) == 0.0  # the house imports: nothing to store
    sunny = Measured(soc_pct=50.0, capacity_wh=10000.0, net_w=-5000.0, step_left_s=900.0)
    assert execute(surplus, sunny) == pytest.approx(500 / 0.95 / 0.25)
    bought = Intent(kind="charge", power_w=2000.0, soc_target_pct=55.0, reason="cheap_grid_now")
    assert execute(bought, cloudy) == pytest.approx(500 / 0.95 / 0.25)
    # no meter, no surplus known: nothing stored (never the target bought from the grid)
    blind = Measured(soc_pct=50.0, capacity_wh=10000.0, net_w=None, step_left_s=900.0)
    assert execute(surplus, blind) == 0.0
    assert (
        execute(surplus, Measured(soc_pct=None, capacity_wh=None, net_w=None, step_left_s=None))
        == 0.0
    )


def test_export_sells_towards_its_target() -> None:
    intent = Intent(kind="export", power_w=-3000.0, soc_target_pct=45.0)
    assert execute(intent, HALF) == pytest.approx(-500 * 0.95 / 0.25)


def test_no_soc_falls_back_to_the_planned_power() -> None:
    unknown = Measured(soc_pct=None, capacity_wh=None, net_w=None, step_left_s=None)
    assert execute(Intent(kind="charge", power_w=1200.0, soc_target_pct=60.0), unknown) == 1200.0
    assert execute(Intent(kind="export", power_w=-900.0), unknown) == -900.0
    assert execute(Intent(kind="charge"), unknown) is None


def test_grid_following_kinds_are_left_to_the_pi_loop() -> None:
    assert execute(Intent(kind="self_consumption"), HALF) is None
    assert execute(Intent(kind="hold"), HALF) is None


def test_from_plan() -> None:
    assert Intent.from_plan(None) is None
    intent = Intent.from_plan({"kind": "hold", "power_w": None, "reason": "keep_for_later"})
    assert intent == Intent(kind="hold", reason="keep_for_later")


# --- through decide(): auto follows intents ----------------------------------------------------

LIMITS = BatteryLimits(
    charge_max_w=5000.0,
    discharge_max_w=5000.0,
    soc_min_pct=0.0,
    soc_max_pct=100.0,
    t_charge_min_c=None,
    t_max_c=None,
)


def _auto(intent: Intent | None, grid_w: float, *, battery_w: float = 0.0, planned: float = 0.0):
    battery = BatteryInput(
        key="b",
        limits=LIMITS,
        state=BatteryState(soc_pct=50.0),
        power_w=battery_w,
        capacity_wh=10000.0,
        previous_w=battery_w,
        since_previous_s=5.0,
    )
    return decide(
        Inputs(
            mode=Mode.AUTO,
            grid_w=grid_w,
            batteries=(battery,),
            plan_status=PlanStatus.ACTIVE,
            plan_battery_w=planned,
            plan_intent=intent,
            plan_step_left_s=900.0,
            site_soc_pct=50.0,
        ),
        ControlSettings(ramp_w_per_s=1e5, grid_charging=True),
        SiteLimits(),
        PiMemory(),
    )


def test_self_consumption_intent_follows_the_real_load_not_the_forecast() -> None:
    """The forecast said 500 W; a kettle makes it 2500 W: the battery covers the kettle too."""
    memory, battery_w = PiMemory(), 0.0
    intent = Intent(kind="self_consumption", reason="cover_load")
    for _ in range(40):
        grid = 2500.0 + battery_w
        decision = decide(
            Inputs(
                mode=Mode.AUTO,
                grid_w=grid,
                batteries=(
                    BatteryInput(
                        key="b",
                        limits=LIMITS,
                        state=BatteryState(soc_pct=50.0),
                        power_w=battery_w,
                        capacity_wh=10000.0,
                        previous_w=battery_w,
                        since_previous_s=5.0,
                    ),
                ),
                plan_status=PlanStatus.ACTIVE,
                plan_battery_w=-500.0,
                plan_intent=intent,
                plan_step_left_s=900.0,
                site_soc_pct=50.0,
            ),
            ControlSettings(ramp_w_per_s=1e5),
            SiteLimits(),
            memory,
        )
        memory, battery_w = decision.memory, decision.setpoint_w
    assert 2500.0 + battery_w == pytest.approx(0, abs=15)


def test_hold_never_discharges() -> None:
    decision = _auto(Intent(kind="hold", reason="keep_for_later"), grid_w=1500.0)
    assert decision.setpoint_w == 0


def test_charge_intent_tracks_the_target_through_the_limiter() -> None:
    intent = Intent(kind="charge", power_w=2000.0, soc_target_pct=55.0)
    assert _auto(intent, grid_w=300.0).setpoint_w == pytest.approx(500 / 0.95 / 0.25)
    far = Intent(kind="charge", power_w=2000.0, soc_target_pct=90.0)
    decision = _auto(far, grid_w=300.0)
    assert decision.setpoint_w == 5000.0
    assert decision.reason == "power"


def test_a_plan_without_intents_keeps_its_power() -> None:
    assert _auto(None, grid_w=300.0, planned=1234.0).setpoint_w == pytest.approx(1234.0)


def test_stale_plan_is_self_consumption() -> None:
    battery = BatteryInput(
        key="b", limits=LIMITS, state=BatteryState(soc_pct=50.0), power_w=0.0, capacity_wh=1e4
    )
    decision = decide(
        Inputs(
            mode=Mode.AUTO,
            grid_w=800.0,
            batteries=(battery,),
            plan_status=PlanStatus.STALE,
            plan_intent=Intent(kind="charge", power_w=3000.0, soc_target_pct=90.0),
        ),
        ControlSettings(ramp_w_per_s=1e5),
        SiteLimits(),
        PiMemory(),
    )
    assert decision.fallback is Fallback.PLAN_STALE
    assert decision.setpoint_w < 0  # covering the house, not charging


def test_settled_is_where_the_loop_converges() -> None:
    from ems_core.executor import settled

    assert settled(Intent(kind="self_consumption"), HALF) == -800.0
    exporting = Measured(soc_pct=50.0, capacity_wh=1e4, net_w=-1200.0, step_left_s=900.0)
    assert settled(Intent(kind="self_consumption"), exporting) == 1200.0
    assert settled(Intent(kind="hold"), HALF) == 0.0
    assert settled(Intent(kind="hold"), exporting) == 1200.0
    assert settled(None, HALF, planned_w=-300.0) == -300.0
    charge = Intent(kind="charge", power_w=2000.0, soc_target_pct=55.0)
    assert settled(charge, HALF) == execute(charge, HALF)
