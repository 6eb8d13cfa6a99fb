"""Property and example tests for the battery limiter (pure Python, no Home Assistant)."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from ems_core.limiter import (
    BatteryLimits,
    BatteryState,
    LimitReason,
    charge_cap,
    discharge_cap,
    limit,
)

PROPS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

LIMITS = BatteryLimits(
    charge_max_w=5000.0,
    discharge_max_w=4000.0,
    soc_min_pct=10.0,
    soc_max_pct=95.0,
    cell_v_min=2.9,
    cell_v_max=3.55,
    t_charge_min_c=0.0,
    t_max_c=50.0,
)
OK = BatteryState(soc_pct=50.0, cell_v_min=3.2, cell_v_max=3.3, temperature_c=25.0)

anything = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e7, max_value=1e7),
    st.sampled_from([0.0, -0.0, 1e308, -1e308]),
)
maybe = st.one_of(st.none(), anything)


@st.composite
def limits_strategy(draw: st.DrawFn) -> BatteryLimits:
    """Any valid set of limits."""
    power = st.floats(min_value=0.0, max_value=1e6)
    soc_lo = draw(st.floats(min_value=0.0, max_value=100.0))
    soc_hi = draw(st.floats(min_value=soc_lo, max_value=100.0))
    v_lo = draw(st.one_of(st.none(), st.floats(min_value=2.0, max_value=3.0)))
    v_hi = draw(st.one_of(st.none(), st.floats(min_value=3.1, max_value=4.5)))
    t_lo = draw(st.one_of(st.none(), st.floats(min_value=-20.0, max_value=10.0)))
    t_hi = draw(st.one_of(st.none(), st.floats(min_value=20.0, max_value=80.0)))
    return BatteryLimits(
        charge_max_w=draw(power),
        discharge_max_w=draw(power),
        soc_min_pct=soc_lo,
        soc_max_pct=soc_hi,
        cell_v_min=v_lo,
        cell_v_max=v_hi,
        cell_v_band=draw(st.floats(min_value=0.001, max_value=0.5)),
        t_charge_min_c=t_lo,
        t_max_c=t_hi,
        t_band_c=draw(st.floats(min_value=0.1, max_value=30.0)),
        ramp_w_per_s=draw(st.one_of(st.none(), st.floats(min_value=0.01, max_value=1e6))),
        can_charge=draw(st.booleans()),
        can_discharge=draw(st.booleans()),
        can_charge_from_grid=draw(st.booleans()),
    )


states = st.builds(
    BatteryState, soc_pct=maybe, cell_v_min=maybe, cell_v_max=maybe, temperature_c=maybe
)
finite_states = st.builds(
    BatteryState,
    soc_pct=st.floats(min_value=0.0, max_value=100.0),
    cell_v_min=st.floats(min_value=2.0, max_value=4.5),
    cell_v_max=st.floats(min_value=2.0, max_value=4.5),
    temperature_c=st.floats(min_value=-40.0, max_value=100.0),
)


@PROPS
@given(
    setpoint=anything,
    limits=limits_strategy(),
    state=st.one_of(states, finite_states),
    previous=maybe,
    dt=maybe,
    grid_ok=st.booleans(),
    surplus=maybe,
)
def test_output_always_finite_and_inside_every_bound(
    setpoint: float,
    limits: BatteryLimits,
    state: BatteryState,
    previous: float | None,
    dt: float | None,
    grid_ok: bool,
    surplus: float | None,
) -> None:
    result = limit(
        setpoint,
        limits,
        state,
        previous_w=previous,
        dt_s=dt,
        grid_charge_allowed=grid_ok,
        pv_surplus_w=surplus,
    )
    value = result.setpoint_w
    assert math.isfinite(value)
    assert isinstance(result.reason, LimitReason)
    assert -limits.discharge_max_w <= value <= limits.charge_max_w
    if result.reason in (LimitReason.INVALID_INPUT, LimitReason.UNKNOWN_STATE):
        assert value == 0.0
        return
    # every static derating holds
    c_cap, _ = charge_cap(limits, state, grid_charge_allowed=grid_ok, pv_surplus_w=surplus)
    d_cap, _ = discharge_cap(limits, state)
    assert -d_cap <= value <= c_cap
    # the result never goes beyond the request, nor flips its sign
    assert (0.0 <= value <= setpoint) or (setpoint <= value <= 0.0)
    if result.reason is LimitReason.NONE:
        assert value == setpoint
    # ramp: away from zero at most ramp·dt; toward zero always allowed
    if limits.ramp_w_per_s is not None:
        prev = previous if previous is not None and math.isfinite(previous) else 0.0
        step = limits.ramp_w_per_s * (dt if dt is not None and math.isfinite(dt) and dt > 0 else 0)
        assert min(prev, 0.0) - step * (1 + 1e-12) <= value <= max(prev, 0.0) + step * (1 + 1e-12)


@PROPS
@given(setpoint=anything, limits=limits_strategy(), state=finite_states, surplus=maybe)
def test_static_limits_are_idempotent(
    setpoint: float, limits: BatteryLimits, state: BatteryState, surplus: float | None
) -> None:
    kwargs = {"previous_w": None, "dt_s": None, "pv_surplus_w": surplus}
    static = BatteryLimits(**{**_fields(limits), "ramp_w_per_s": None})
    once = limit(setpoint, static, state, **kwargs)
    twice = limit(once.setpoint_w, static, state, **kwargs)
    assert twice.setpoint_w == once.setpoint_w
    if once.reason is not LimitReason.INVALID_INPUT:
        assert twice.reason in (LimitReason.NONE, LimitReason.UNKNOWN_STATE)


def _fields(limits: BatteryLimits) -> dict[str, object]:
    return {name: getattr(limits, name) for name in BatteryLimits.__slots__}


def _limit(setpoint: float, state: BatteryState = OK, **kwargs: object) -> tuple[float, str]:
    limits = kwargs.pop("limits", LIMITS)
    kwargs.setdefault("previous_w", setpoint)
    kwargs.setdefault("dt_s", 1.0)
    result = limit(setpoint, limits, state, **kwargs)
    return result.setpoint_w, result.reason


def _with(**changes: float | None) -> BatteryState:
    return BatteryState(**{**{n: getattr(OK, n) for n in BatteryState.__slots__}, **changes})


def test_within_limits_passes_unchanged() -> None:
    assert _limit(3000.0) == (3000.0, "none")
    assert _limit(-3000.0) == (-3000.0, "none")
    assert _limit(0.0) == (0.0, "none")


def test_power_limits() -> None:
    assert _limit(9000.0) == (5000.0, "power")
    assert _limit(-9000.0) == (-4000.0, "power")


def test_soc_bounds() -> None:
    full = _with(soc_pct=95.0)
    assert _limit(2000.0, full) == (0.0, "soc_max")
    assert _limit(-2000.0, full) == (-2000.0, "none")
    empty = _with(soc_pct=10.0)
    assert _limit(-2000.0, empty) == (0.0, "soc_min")
    assert _limit(2000.0, empty) == (2000.0, "none")


def test_cell_voltage_derating() -> None:
    assert _limit(5000.0, _with(cell_v_max=3.525)) == (pytest.approx(2500.0), "cell_voltage_high")
    assert _limit(5000.0, _with(cell_v_max=3.6)) == (0.0, "cell_voltage_high")
    assert _limit(-4000.0, _with(cell_v_min=2.925)) == (
        pytest.approx(-2000.0),
        "cell_voltage_low",
    )
    assert _limit(-4000.0, _with(cell_v_min=2.8)) == (0.0, "cell_voltage_low")
    assert _limit(-4000.0, _with(cell_v_max=3.6)) == (-4000.0, "none")  # discharging is fine


def test_temperature() -> None:
    cold = _with(temperature_c=-5.0)
    assert _limit(1000.0, cold) == (0.0, "temperature")
    assert _limit(-1000.0, cold) == (-1000.0, "none")
    hot = _with(temperature_c=45.0)  # half-way through the 40..50 °C derating band
    assert _limit(5000.0, hot) == (pytest.approx(2500.0), "temperature")
    assert _limit(-4000.0, hot) == (pytest.approx(-2000.0), "temperature")
    assert _limit(1000.0, hot) == (1000.0, "none")
    assert _limit(1000.0, _with(temperature_c=60.0)) == (0.0, "temperature")


def test_unknown_state_and_invalid_input() -> None:
    assert _limit(1000.0, _with(soc_pct=None)) == (0.0, "unknown_state")
    assert _limit(-1000.0, _with(temperature_c=math.nan)) == (0.0, "unknown_state")
    assert _limit(-1000.0, _with(cell_v_min=None)) == (0.0, "unknown_state")
    assert _limit(math.nan, previous_w=0.0) == (0.0, "invalid_input")
    assert _limit(math.inf, previous_w=0.0) == (0.0, "invalid_input")
    # limits without cell/temperature bounds do not need those readings
    plain = BatteryLimits(
        charge_max_w=3000.0, discharge_max_w=3000.0, t_charge_min_c=None, t_max_c=None
    )
    assert _limit(1000.0, BatteryState(soc_pct=50.0), limits=plain) == (1000.0, "none")


def test_capability_and_grid_charging() -> None:
    no_grid = BatteryLimits(**{**_fields(LIMITS), "can_charge_from_grid": False})
    assert _limit(3000.0, limits=no_grid, pv_surplus_w=1200.0) == (1200.0, "capability")
    assert _limit(3000.0, limits=no_grid) == (0.0, "capability")  # unknown surplus
    assert _limit(3000.0, grid_charge_allowed=False, pv_surplus_w=-50.0) == (
        0.0,
        "grid_charging_off",
    )
    assert _limit(3000.0, grid_charge_allowed=False, pv_surplus_w=4000.0) == (3000.0, "none")
    no_dis = BatteryLimits(**{**_fields(LIMITS), "can_discharge": False})
    assert _limit(-1000.0, limits=no_dis) == (0.0, "capability")


RAMPED = BatteryLimits(**{**_fields(LIMITS), "ramp_w_per_s": 100.0})


def test_ramp_limits_increase() -> None:
    assert _limit(3000.0, limits=RAMPED, previous_w=0.0, dt_s=5.0) == (500.0, "ramp")
    assert _limit(3000.0, limits=RAMPED, previous_w=1000.0, dt_s=5.0) == (1500.0, "ramp")
    assert _limit(-3000.0, limits=RAMPED, previous_w=-1000.0, dt_s=5.0) == (-1500.0, "ramp")
    assert _limit(3000.0, limits=RAMPED, previous_w=0.0, dt_s=None) == (0.0, "ramp")


def test_stop_is_never_ramp_limited() -> None:
    assert _limit(0.0, limits=RAMPED, previous_w=4000.0, dt_s=0.0) == (0.0, "none")
    assert _limit(200.0, limits=RAMPED, previous_w=4000.0, dt_s=0.0) == (200.0, "none")
    assert _limit(-100.0, limits=RAMPED, previous_w=-4000.0, dt_s=0.0) == (-100.0, "none")
    # reversing: stop at once, then ramp from zero
    assert _limit(-3000.0, limits=RAMPED, previous_w=3000.0, dt_s=5.0) == (-500.0, "ramp")
    # a safety cut (SOC full) is immediate even with a ramp and a large previous value
    assert _limit(5000.0, _with(soc_pct=99.0), limits=RAMPED, previous_w=5000.0, dt_s=0.0) == (
        0.0,
        "soc_max",
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"charge_max_w": -1.0},
        {"discharge_max_w": math.nan},
        {"soc_min_pct": 90.0, "soc_max_pct": 80.0},
        {"cell_v_min": 3.6, "cell_v_max": 3.5},
        {"t_charge_min_c": 60.0},
        {"ramp_w_per_s": 0.0},
        {"cell_v_band": 0.0},
        {"t_max_c": math.inf},
    ],
)
def test_invalid_limits_rejected(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        BatteryLimits(**{**_fields(LIMITS), **changes})
