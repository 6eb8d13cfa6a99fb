"""Grid support: the volt-var curve, the frequency droop and FFR, the states, the SOC reserve."""

from __future__ import annotations

import math

from hypothesis import given, settings, strategies as st
import pytest

from ems_core.grid_support import (
    FreqWatt,
    GridMeasure,
    SupportError,
    SupportState,
    VoltVar,
    narrowed_soc_window,
    reserve_of,
    support_step,
)
from ems_core.limiter import BatteryLimits, BatteryState, limit

S_MAX = 6000.0


def measure(**changes: object) -> GridMeasure:
    values: dict[str, object] = {
        "voltage_v": 230.0,
        "frequency_hz": 50.0,
        "battery_p_w": 0.0,
        "s_max_va": S_MAX,
        "charge_max_w": 5000.0,
        "discharge_max_w": 5000.0,
        "soc_pct": 50.0,
        "soc_min_pct": 10.0,
        "soc_max_pct": 100.0,
    }
    values.update(changes)
    return GridMeasure(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("voltage", "q"),
    [
        (230.0, 0.0),  # deadband
        (0.99 * 230, 0.0),
        (0.95 * 230, 0.22 * S_MAX),  # halfway down the low slope
        (0.90 * 230, 0.44 * S_MAX),  # past V1: flat
        (1.05 * 230, -0.22 * S_MAX),
        (1.10 * 230, -0.44 * S_MAX),
    ],
)
def test_volt_var_follows_the_curve(voltage: float, q: float) -> None:
    result = support_step(measure(voltage_v=voltage), freq=None, volt=VoltVar(), now_s=0.0)
    assert result.q_var == pytest.approx(q, abs=0.5)
    assert result.q_state is (SupportState.ACTIVE if q else SupportState.ARMED)
    assert result.p_state is SupportState.OFF


def test_p_priority_keeps_p_q_priority_cuts_it() -> None:
    low = 0.90 * 230  # asks 44 % of S = 2640 var
    busy = measure(voltage_v=low, battery_p_w=-5800.0, discharge_max_w=6000.0)
    p_first = support_step(busy, freq=None, volt=VoltVar(), now_s=0.0)
    assert p_first.p_w == -5800.0
    assert p_first.q_var == pytest.approx(math.sqrt(S_MAX**2 - 5800.0**2))
    q_first = support_step(busy, freq=None, volt=VoltVar(q_priority=True), now_s=0.0)
    assert q_first.q_var == pytest.approx(0.44 * S_MAX)
    assert q_first.p_w == pytest.approx(-math.sqrt(S_MAX**2 - (0.44 * S_MAX) ** 2))


@pytest.mark.parametrize(
    ("frequency", "offset"),
    [
        (50.0, 0.0),
        (49.95, 0.0),  # deadband
        (49.7, -2500.0),  # half way from f2 to f1
        (49.4, -5000.0),  # past f1: all
        (50.3, 2500.0),
        (50.8, 5000.0),
    ],
)
def test_frequency_droop(frequency: float, offset: float) -> None:
    result = support_step(measure(frequency_hz=frequency), freq=FreqWatt(), volt=None, now_s=0.0)
    assert result.p_offset_w == pytest.approx(offset)
    assert result.p_state is (SupportState.ACTIVE if offset else SupportState.ARMED)


def test_response_replaces_a_mode_pulling_the_other_way() -> None:
    charging = measure(frequency_hz=49.7, battery_p_w=3000.0)  # the plan charges
    result = support_step(charging, freq=FreqWatt(), volt=None, now_s=0.0)
    assert result.p_w == pytest.approx(-2500.0)  # the grid comes first
    discharging = measure(frequency_hz=49.7, battery_p_w=-1000.0)
    assert support_step(discharging, freq=FreqWatt(), volt=None, now_s=0.0).p_w == pytest.approx(
        -3500.0
    )


def test_ffr_latches_and_holds_then_releases() -> None:
    freq = FreqWatt(ffr_trigger_hz=49.7, ffr_hold_s=5.0)
    first = support_step(measure(frequency_hz=49.65), freq=freq, volt=None, now_s=0.0)
    assert first.p_offset_w == -5000.0  # all at once, not the droop's share
    memory = first.ffr
    recovered = support_step(
        measure(frequency_hz=50.0), freq=freq, volt=None, now_s=3.0, memory=memory
    )
    assert recovered.p_offset_w == -5000.0  # held
    later = support_step(
        measure(frequency_hz=50.0), freq=freq, volt=None, now_s=5.5, memory=recovered.ffr
    )
    assert later.p_offset_w == 0.0
    assert later.ffr.until_s is None


@pytest.mark.parametrize(
    ("changes", "p_error", "q_error"),
    [
        ({"frequency_hz": None}, SupportError.NO_FREQUENCY, None),
        ({"voltage_v": float("nan")}, None, SupportError.NO_VOLTAGE),
        ({"trusted": False}, SupportError.BATTERY_UNTRUSTED, SupportError.BATTERY_UNTRUSTED),
        ({"soc_pct": None}, SupportError.SOC_UNKNOWN, None),
    ],
)
def test_errors_hold_at_zero(changes: dict, p_error: object, q_error: object) -> None:
    result = support_step(
        measure(**{"frequency_hz": 49.0, "voltage_v": 200.0, **changes}),
        freq=FreqWatt(),
        volt=VoltVar(),
        now_s=0.0,
    )
    assert result.p_error == p_error
    assert result.q_error == q_error
    if p_error:
        assert result.p_state is SupportState.ERROR
        assert result.p_offset_w == 0.0
    if q_error:
        assert result.q_state is SupportState.ERROR
        assert result.q_var == 0.0


def test_soc_reserve_is_kept_for_the_response() -> None:
    freq = FreqWatt(reserve_pct=10.0)
    assert narrowed_soc_window(10.0, 100.0, reserve_of(freq)) == (20.0, 90.0)
    assert narrowed_soc_window(10.0, 100.0, reserve_of(None)) == (10.0, 100.0)
    assert narrowed_soc_window(10.0, 15.0, 10.0) == (15.0, 15.0)  # never an empty window
    low, high = narrowed_soc_window(10.0, 100.0, reserve_of(freq))
    limits = BatteryLimits(
        charge_max_w=5000, discharge_max_w=5000, soc_min_pct=low, soc_max_pct=high
    )
    # A mode at 15 % SOC may not discharge (its floor is 20 %) ...
    mode = limit(-3000.0, limits, BatteryState(soc_pct=15.0), previous_w=None, dt_s=None)
    assert mode.setpoint_w == 0.0
    # ... but the frequency response may, down to the battery's own floor (10 %).
    result = support_step(measure(frequency_hz=49.0, soc_pct=15.0), freq=freq, volt=None, now_s=0)
    assert result.p_offset_w == -5000.0
    empty = support_step(measure(frequency_hz=49.0, soc_pct=10.0), freq=freq, volt=None, now_s=0)
    assert empty.p_offset_w == 0.0  # nothing left below the floor


def test_bad_settings_refused() -> None:
    with pytest.raises(ValueError, match="f1 < f2"):
        FreqWatt(f1=49.9, f2=49.5)
    with pytest.raises(ValueError, match="FFR trigger"):
        FreqWatt(ffr_trigger_hz=49.95)
    with pytest.raises(ValueError, match="V strictly increasing"):
        VoltVar(points=((1.0, 0.0), (0.9, 0.1)))
    with pytest.raises(ValueError, match="between -1 and 1"):
        VoltVar(points=((0.9, 1.5), (1.1, 0.0)))


powers = st.floats(min_value=0.0, max_value=20_000.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    voltage=st.one_of(st.none(), st.floats(min_value=150.0, max_value=300.0)),
    frequency=st.one_of(st.none(), st.floats(min_value=47.0, max_value=53.0)),
    mode_w=st.floats(min_value=-20_000.0, max_value=20_000.0),
    s_max=powers,
    charge=powers,
    discharge=powers,
    soc=st.one_of(st.none(), st.floats(min_value=0.0, max_value=100.0)),
    q_priority=st.booleans(),
    ffr=st.booleans(),
    previous=st.floats(min_value=-20_000.0, max_value=20_000.0),
)
def test_never_outside_the_limiter_or_the_inverter(
    voltage, frequency, mode_w, s_max, charge, discharge, soc, q_priority, ffr, previous
) -> None:
    """Whatever the grid and the mode: P within ratings, P² + Q² ≤ S², and the limiter's bounds."""
    m = measure(
        voltage_v=voltage,
        frequency_hz=frequency,
        battery_p_w=mode_w,
        s_max_va=s_max,
        charge_max_w=charge,
        discharge_max_w=discharge,
        soc_pct=soc,
    )
    freq = FreqWatt(ffr_trigger_hz=49.7 if ffr else None)
    result = support_step(m, freq=freq, volt=VoltVar(q_priority=q_priority), now_s=0.0)
    assert -discharge - 1e-6 <= result.p_w <= charge + 1e-6
    if result.q_var:
        assert result.p_w**2 + result.q_var**2 <= s_max**2 * (1 + 1e-9) + 1e-6
    limits = BatteryLimits(charge_max_w=charge, discharge_max_w=discharge, ramp_w_per_s=2000.0)
    final = limit(result.p_w, limits, BatteryState(soc_pct=soc), previous_w=previous, dt_s=0.5)
    assert -discharge <= final.setpoint_w <= charge
    step = 2000.0 * 0.5
    assert min(previous, 0.0) - step - 1e-6 <= final.setpoint_w <= max(previous, 0.0) + step + 1e-6
