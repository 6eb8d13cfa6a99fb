"""decide(): one row per situation (mode, SOC, alarms, grid, plan step → command and reason).

Then a property: whatever the inputs, no command leaves the battery's limits, the SOC window
or the ramp, and a battery that cannot be trusted is commanded 0 W.
"""

from __future__ import annotations

from dataclasses import replace
import math
from typing import Any

from hypothesis import given, settings as hyp_settings, strategies as st
import pytest

from ems_core.contract import INTENT_KINDS
from ems_core.decide import (
    BatteryInput,
    ControlSettings,
    Distrust,
    Fallback,
    Inputs,
    Mode,
    PiMemory,
    PlanStatus,
    SiteLimits,
    decide,
    grid_bounds,
)
from ems_core.executor import Intent
from ems_core.limiter import BatteryLimits, BatteryState

LIMITS = BatteryLimits(
    charge_max_w=3000.0,
    discharge_max_w=3000.0,
    soc_min_pct=0.0,
    soc_max_pct=100.0,
    t_charge_min_c=None,
    t_max_c=None,
)
NO_LIMITS = SiteLimits()


def _battery(**changes: Any) -> BatteryInput:
    base = BatteryInput(
        key="b1",
        limits=LIMITS,
        state=BatteryState(soc_pct=50.0),
        power_w=0.0,
        capacity_wh=10000.0,
        previous_w=0.0,
        since_previous_s=5.0,
    )
    return replace(base, **changes)


def _settings(**changes: Any) -> ControlSettings:
    # A ramp fast enough not to matter unless a row is about the ramp.
    values = {"ramp_w_per_s": 1e5, "grid_charging": True, **changes}
    return ControlSettings(**values)


def _decide(
    mode: Mode,
    *,
    grid_w: float | None = 500.0,
    batteries: tuple[BatteryInput, ...] | None = None,
    settings: ControlSettings | None = None,
    limits: SiteLimits = NO_LIMITS,
    **inputs: Any,
):
    return decide(
        Inputs(
            mode=mode,
            grid_w=grid_w,
            batteries=batteries if batteries is not None else (_battery(),),
            **inputs,
        ),
        settings or _settings(),
        limits,
        PiMemory(),
    )


# (id, call kwargs, expected setpoint W, expected reason, expected fallback)
ROWS = [
    (
        "manual follows the setpoint",
        dict(mode=Mode.MANUAL, settings=_settings(manual_setpoint_w=1200)),
        1200,
        "none",
        None,
    ),
    (
        "manual past the power limit",
        dict(mode=Mode.MANUAL, settings=_settings(manual_setpoint_w=9000)),
        3000,
        "power",
        None,
    ),
    (
        "manual at the SOC floor",
        dict(mode=Mode.MANUAL, settings=_settings(manual_setpoint_w=-1000, soc_min_pct=50)),
        0,
        "soc_min",
        None,
    ),
    (
        "manual at the SOC ceiling",
        dict(mode=Mode.MANUAL, settings=_settings(manual_setpoint_w=1000, soc_max_pct=50)),
        0,
        "soc_max",
        None,
    ),
    (
        "grid charging off holds in manual",
        dict(mode=Mode.MANUAL, settings=_settings(manual_setpoint_w=2000, grid_charging=False)),
        0,
        "grid_charging_off",
        None,
    ),
    (
        "grid charging off leaves the PV surplus",
        dict(
            mode=Mode.MANUAL,
            grid_w=-800.0,
            settings=_settings(manual_setpoint_w=2000, grid_charging=False),
        ),
        800,
        "grid_charging_off",
        None,
    ),
    (
        "import limit holds in manual",
        dict(
            mode=Mode.MANUAL,
            grid_w=5000.0,
            settings=_settings(manual_setpoint_w=3000),
            limits=SiteLimits(import_limit_w=6000),
        ),
        1000,
        "grid_import_limit",
        None,
    ),
    (
        "export limit holds in manual",
        dict(
            mode=Mode.MANUAL,
            grid_w=-500.0,
            settings=_settings(manual_setpoint_w=-3000),
            limits=SiteLimits(export_limit_w=1000),
        ),
        -500,
        "grid_export_limit",
        None,
    ),
    (
        "export limit makes the battery absorb PV, even with grid charging off",
        dict(
            mode=Mode.MANUAL,
            grid_w=-7300.0,
            settings=_settings(grid_charging=False),
            limits=SiteLimits(export_limit_w=6000),
        ),
        1300,
        "grid_export_limit",
        None,
    ),
    (
        "auto follows the plan",
        dict(mode=Mode.AUTO, plan_status=PlanStatus.ACTIVE, plan_battery_w=-1500.0),
        -1500,
        "none",
        None,
    ),
    (
        "grid charging off holds in auto",
        dict(
            mode=Mode.AUTO,
            plan_status=PlanStatus.ACTIVE,
            plan_battery_w=2000.0,
            settings=_settings(grid_charging=False),
        ),
        0,
        "grid_charging_off",
        None,
    ),
    (
        "auto without a plan: self-consumption",
        dict(mode=Mode.AUTO, plan_status=PlanStatus.STALE),
        None,
        None,
        Fallback.PLAN_STALE,
    ),
    (
        "auto with a later plan: waiting",
        dict(mode=Mode.AUTO, plan_status=PlanStatus.NOT_STARTED),
        None,
        None,
        Fallback.PLAN_PENDING,
    ),
    (
        "alarm: 0 W",
        dict(
            mode=Mode.MANUAL,
            settings=_settings(manual_setpoint_w=3000),
            batteries=(_battery(distrust=Distrust.ALARM),),
        ),
        0,
        "alarm",
        Fallback.BATTERY_UNTRUSTED,
    ),
    (
        "frozen values: 0 W",
        dict(
            mode=Mode.MANUAL,
            settings=_settings(manual_setpoint_w=3000),
            batteries=(_battery(distrust=Distrust.STALE),),
        ),
        0,
        "stale_values",
        Fallback.BATTERY_UNTRUSTED,
    ),
    (
        "failed writes: 0 W",
        dict(
            mode=Mode.MANUAL,
            settings=_settings(manual_setpoint_w=3000),
            batteries=(_battery(distrust=Distrust.WRITE_FAILED),),
        ),
        0,
        "write_failed",
        Fallback.BATTERY_UNTRUSTED,
    ),
    (
        "unknown SOC: 0 W",
        dict(
            mode=Mode.MANUAL,
            settings=_settings(manual_setpoint_w=3000),
            batteries=(_battery(state=BatteryState(soc_pct=None)),),
        ),
        0,
        "unknown_state",
        None,
    ),
    (
        "no meter in self-consumption: 0 W",
        dict(mode=Mode.SELF_CONSUMPTION, grid_w=None),
        0,
        "none",
        Fallback.NO_METER,
    ),
    (
        "NaN meter is no meter",
        dict(mode=Mode.PEAK_SHAVING, grid_w=math.nan),
        0,
        "none",
        Fallback.NO_METER,
    ),
    (
        "external without heartbeat: 0 W",
        dict(
            mode=Mode.EXTERNAL, settings=_settings(external_setpoint_w=2000), external_fresh=False
        ),
        0,
        "none",
        Fallback.EXTERNAL_TIMEOUT,
    ),
    (
        "external with heartbeat",
        dict(
            mode=Mode.EXTERNAL, settings=_settings(external_setpoint_w=-2000), external_fresh=True
        ),
        -2000,
        "none",
        None,
    ),
    (
        "uncommandable battery: dry run",
        dict(
            mode=Mode.MANUAL,
            settings=_settings(manual_setpoint_w=1000),
            batteries=(_battery(commandable=False),),
        ),
        1000,
        "none",
        Fallback.NOT_COMMANDABLE,
    ),
    (
        "battery offline",
        dict(mode=Mode.MANUAL, batteries=(_battery(online=False),)),
        None,
        "none",
        Fallback.NO_BATTERY,
    ),
    (
        "backup refills the reserve",
        dict(mode=Mode.BACKUP, site_soc_pct=20.0, settings=_settings(reserve_soc_pct=30)),
        3000,
        "none",
        None,
    ),
    (
        "backup never discharges below the reserve",
        dict(
            mode=Mode.BACKUP,
            grid_w=2000.0,
            site_soc_pct=30.0,
            batteries=(_battery(state=BatteryState(soc_pct=30.0)),),
            settings=_settings(reserve_soc_pct=30),
        ),
        0,
        "soc_min",
        None,
    ),
    (
        "charge only never discharges",
        dict(mode=Mode.CHARGE_ONLY, grid_w=2000.0, site_soc_pct=90.0),
        0,
        "none",
        None,
    ),
    (
        "peak shaving shaves the peak",
        dict(
            mode=Mode.PEAK_SHAVING, grid_w=5000.0, settings=_settings(peak_import_threshold_w=3000)
        ),
        -2000,
        "none",
        None,
    ),
    (
        "ramp: a step up is spread",
        dict(mode=Mode.MANUAL, settings=_settings(manual_setpoint_w=3000, ramp_w_per_s=100)),
        500,
        "ramp",
        None,
    ),
]


@pytest.mark.parametrize(
    ("call", "setpoint", "reason", "fallback"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_table(
    call: dict[str, Any], setpoint: float | None, reason: str | None, fallback: Fallback | None
) -> None:
    decision = _decide(**call)
    assert decision.fallback == fallback
    if setpoint is not None:
        assert decision.setpoint_w == pytest.approx(setpoint, abs=1)
    if reason is not None:
        assert decision.reason == reason


def test_passive_commands_nothing() -> None:
    decision = _decide(Mode.PASSIVE, settings=_settings(manual_setpoint_w=3000))
    assert decision.commands == ()
    assert decision.effective_mode is Mode.PASSIVE


def test_self_consumption_converges_on_a_house() -> None:
    """A PI loop against a simple house: 800 W load, the battery does what it is told."""
    memory, battery_w = PiMemory(), 0.0
    for _ in range(40):
        grid = 800.0 + battery_w
        decision = decide(
            Inputs(
                mode=Mode.SELF_CONSUMPTION,
                grid_w=grid,
                batteries=(_battery(power_w=battery_w, previous_w=battery_w),),
            ),
            _settings(),
            NO_LIMITS,
            memory,
        )
        memory, battery_w = decision.memory, decision.setpoint_w
    assert 800.0 + battery_w == pytest.approx(0, abs=15)


def test_untrusted_battery_is_held_while_the_other_shares() -> None:
    good, bad = _battery(key="good"), _battery(key="bad", distrust=Distrust.ALARM)
    decision = _decide(
        Mode.MANUAL, batteries=(good, bad), settings=_settings(manual_setpoint_w=2500)
    )
    by_key = {c.key: c for c in decision.commands}
    assert by_key["bad"].setpoint_w == 0
    assert by_key["bad"].reason == "alarm"
    assert by_key["good"].setpoint_w == 2500
    assert decision.fallback is None


def test_the_split_follows_available_energy() -> None:
    low = _battery(key="low", state=BatteryState(soc_pct=20.0))
    high = _battery(key="high", state=BatteryState(soc_pct=80.0))
    decision = _decide(
        Mode.MANUAL, batteries=(low, high), settings=_settings(manual_setpoint_w=-3000)
    )
    by_key = {c.key: c.setpoint_w for c in decision.commands}
    assert by_key["high"] < by_key["low"] < 0  # the fuller battery gives more
    assert sum(by_key.values()) == pytest.approx(-3000)


def test_frequency_response_stacks_on_the_mode() -> None:
    """The response wins over a mode pulling the other way, adds to one pulling its way."""
    charging = _settings(manual_setpoint_w=2000)
    decision = _decide(Mode.MANUAL, settings=charging, grid_response_w=-1500.0)
    assert decision.setpoint_w == -1500.0
    discharging = _settings(manual_setpoint_w=-1000)
    decision = _decide(Mode.MANUAL, settings=discharging, grid_response_w=-1500.0)
    assert decision.setpoint_w == -2500.0
    # Absorbing over-frequency is a grid service, not "charge from the grid".
    no_grid_charging = _settings(grid_charging=False)
    decision = _decide(Mode.MANUAL, settings=no_grid_charging, grid_response_w=1200.0)
    assert decision.setpoint_w == 1200.0


def test_frequency_reserve_narrows_the_modes_not_the_response() -> None:
    low = _battery(state=BatteryState(soc_pct=15.0))
    asks = _settings(manual_setpoint_w=-2000, soc_min_pct=10.0)
    kept = _decide(Mode.MANUAL, batteries=(low,), settings=asks, grid_reserve_pct=10.0)
    assert kept.setpoint_w == 0.0  # the mode may not dip into the reserve (floor 20 %)
    assert kept.reason == "soc_min"
    responding = _decide(
        Mode.MANUAL,
        batteries=(low,),
        settings=asks,
        grid_reserve_pct=10.0,
        grid_response_w=-3000.0,
    )
    assert responding.setpoint_w == -3000.0  # the response may, down to the real floor


def test_a_small_response_opens_no_door_for_the_mode() -> None:
    """The response's own part gets the grid and the reserve, not the mode's (review, issue 15)."""
    off = _settings(manual_setpoint_w=5000, grid_charging=False)
    alone = _decide(Mode.MANUAL, settings=off)
    assert alone.setpoint_w == 0.0  # importing to charge: not allowed
    with_response = _decide(Mode.MANUAL, settings=off, grid_response_w=60.0)
    assert with_response.setpoint_w == 60.0  # only what the grid service absorbs
    low = _battery(state=BatteryState(soc_pct=15.0))
    asks = _settings(manual_setpoint_w=-3000, soc_min_pct=10.0)
    dipping = _decide(
        Mode.MANUAL, batteries=(low,), settings=asks, grid_reserve_pct=10.0, grid_response_w=-60.0
    )
    assert dipping.setpoint_w == -60.0  # the mode stays out of the reserve


def test_no_response_without_grid_power_when_the_site_has_limits() -> None:
    limits = SiteLimits(import_limit_w=3000.0)
    blind = _decide(Mode.MANUAL, grid_w=None, limits=limits, grid_response_w=5000.0)
    assert blind.setpoint_w == 0.0  # the import limit could not be held
    seen = _decide(Mode.MANUAL, grid_w=2500.0, limits=limits, grid_response_w=5000.0)
    assert seen.setpoint_w == 500.0  # held inside the import limit
    free = _decide(Mode.MANUAL, grid_w=None, grid_response_w=-2000.0)
    assert free.setpoint_w == -2000.0  # no limits to hold: the response goes


def test_frequency_response_uses_the_device_ramp() -> None:
    fast_device = replace(LIMITS, ramp_w_per_s=2000.0)
    battery = _battery(limits=fast_device, previous_w=0.0, since_previous_s=1.0)
    slow = _settings(ramp_w_per_s=200.0)
    mode_only = _decide(
        Mode.MANUAL, batteries=(battery,), settings=replace(slow, manual_setpoint_w=-3000), dt_s=1.0
    )
    assert mode_only.setpoint_w == -200.0  # the user's comfort ramp
    response = _decide(
        Mode.MANUAL, batteries=(battery,), settings=slow, grid_response_w=-3000.0, dt_s=1.0
    )
    assert response.setpoint_w == -2000.0  # the device's own ramp


def test_grid_bounds() -> None:
    assert grid_bounds(None, SiteLimits(import_limit_w=1, export_limit_w=1)) == (
        -math.inf,
        math.inf,
    )
    assert grid_bounds(1000.0, SiteLimits(import_limit_w=6000, export_limit_w=0)) == (-1000, 5000)


def test_settings_check_names_the_field() -> None:
    for bad in (math.nan, math.inf, -math.inf, 1e308, "12", None):
        with pytest.raises(ValueError, match="soc_min_pct"):
            ControlSettings.check("soc_min_pct", bad)
    with pytest.raises(ValueError, match="grid_charging"):
        ControlSettings.check("grid_charging", 1)
    assert ControlSettings.check("manual_setpoint_w", -2000) == -2000.0


def test_settings_restore_keeps_good_values_and_drops_bad_ones() -> None:
    restored = ControlSettings.restore({"soc_min_pct": 20, "soc_max_pct": math.nan, "bogus": 1})
    assert restored.soc_min_pct == 20
    assert restored.soc_max_pct == ControlSettings().soc_max_pct
    assert ControlSettings.restore(None) == ControlSettings()


# --- the property: nothing leaves the limits ------------------------------------------------

ODD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.none(),
    st.floats(min_value=-20000, max_value=20000),
)


@st.composite
def batteries(draw: st.DrawFn, key: str) -> BatteryInput:
    limits = BatteryLimits(
        charge_max_w=draw(st.floats(0, 10000)),
        discharge_max_w=draw(st.floats(0, 10000)),
        soc_min_pct=draw(st.floats(0, 40)),
        soc_max_pct=draw(st.floats(60, 100)),
        t_charge_min_c=None,
        t_max_c=None,
        ramp_w_per_s=draw(st.one_of(st.none(), st.floats(1, 5000))),
        can_charge=draw(st.booleans()),
        can_discharge=draw(st.booleans()),
    )
    return BatteryInput(
        key=key,
        limits=draw(st.one_of(st.just(limits), st.none())),
        state=BatteryState(soc_pct=draw(ODD)),
        power_w=draw(ODD),
        capacity_wh=draw(st.one_of(st.none(), st.floats(0, 50000))),
        online=draw(st.booleans()),
        commandable=draw(st.booleans()),
        distrust=draw(st.one_of(st.none(), st.sampled_from(Distrust))),
        previous_w=draw(ODD),
        since_previous_s=draw(st.one_of(st.none(), st.floats(-10, 1e6))),
    )


def finite(value: object) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def responding_ok(response: float | None) -> bool:
    return response is not None and response != 0


def sum_power(bats: tuple[BatteryInput, ...]) -> float:
    return sum(b.power_w for b in bats if finite(b.power_w))


@hyp_settings(max_examples=400, deadline=None)
@given(
    mode=st.sampled_from(Mode),
    grid=ODD,
    bats=st.lists(st.integers(0, 5), min_size=0, max_size=3).flatmap(
        lambda keys: st.tuples(*(batteries(f"b{i}") for i in range(len(keys))))
    ),
    plan_w=ODD,
    plan_status=st.sampled_from(PlanStatus),
    manual=st.floats(-1e6, 1e6),
    ramp=st.floats(1, 1e5),
    soc_window=st.tuples(st.floats(0, 100), st.floats(0, 100)),
    grid_charging=st.booleans(),
    dt=st.floats(0, 10),
    intent=st.one_of(
        st.none(),
        st.builds(
            Intent,
            kind=st.sampled_from(INTENT_KINDS),
            power_w=ODD,
            soc_target_pct=ODD,
        ),
    ),
    step_left=ODD,
    response=st.one_of(st.none(), st.floats(-20_000, 20_000)),
    reserve=st.floats(0, 30),
)
def test_no_command_leaves_the_limits(
    mode,
    grid,
    bats,
    plan_w,
    plan_status,
    manual,
    ramp,
    soc_window,
    grid_charging,
    dt,
    intent,
    step_left,
    response,
    reserve,
) -> None:
    settings = ControlSettings(
        manual_setpoint_w=manual,
        external_setpoint_w=manual,
        ramp_w_per_s=ramp,
        soc_min_pct=min(soc_window),
        soc_max_pct=max(soc_window),
        grid_charging=grid_charging,
    )
    decision = decide(
        Inputs(
            mode=mode,
            grid_w=grid,
            batteries=bats,
            plan_status=plan_status,
            plan_battery_w=plan_w,
            plan_intent=intent,
            plan_step_left_s=step_left,
            external_fresh=True,
            site_soc_pct=50.0,
            dt_s=dt,
            grid_response_w=response,
            grid_reserve_pct=reserve,
        ),
        settings,
        SiteLimits(import_limit_w=9000, export_limit_w=6000),
        PiMemory(),
    )
    by_key = {b.key: b for b in bats}
    for command in decision.commands:
        battery = by_key[command.key]
        value = command.setpoint_w
        assert math.isfinite(value)
        if battery.distrust is not None or battery.limits is None:
            assert value == 0
            continue
        limits = battery.limits
        assert -limits.discharge_max_w - 1e-6 <= value <= limits.charge_max_w + 1e-6
        soc = battery.state.soc_pct
        if not isinstance(soc, float) or not math.isfinite(soc):
            assert value == 0
            continue
        if value > 0:
            assert limits.can_charge
            assert soc < min(limits.soc_max_pct, settings.soc_max_pct)
            simple = all(
                b.commandable and b.online and b.distrust is None and b.limits for b in bats
            )
            if simple and not grid_charging and not responding_ok(response):
                surplus = max(0.0, -(grid - sum_power(bats))) if finite(grid) else 0.0
                assert value <= surplus + 1e-6
        if value < 0:
            assert limits.can_discharge
            assert soc > max(limits.soc_min_pct, min(settings.soc_min_pct, settings.soc_max_pct))
        # The ramp: at most ramp·dt beyond the command in force (or 0 W) per tick; a frequency
        # response ramps at the device's own rate when it has one.
        responding = responding_ok(response)
        rate = min(ramp, limits.ramp_w_per_s or math.inf)
        if responding and limits.ramp_w_per_s is not None:
            rate = limits.ramp_w_per_s
        ramp_w = rate * dt + 1e-6
        previous = (
            battery.previous_w
            if isinstance(battery.previous_w, float) and math.isfinite(battery.previous_w)
            else battery.power_w
        )
        previous = previous if isinstance(previous, float) and math.isfinite(previous) else 0.0
        assert min(previous, 0.0) - ramp_w <= value <= max(previous, 0.0) + ramp_w
    if mode is Mode.PASSIVE:
        assert decision.commands == ()
