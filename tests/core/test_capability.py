"""The capability table: schema, commands per direction, read-back checks, what it refuses."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from ems_core.capability import Capabilities, Check, Command, Direction
from ems_core.device import tolerance
from ems_core.profile import PROFILES_DIR, ProfileError, builtin_profiles, parse_profile
from tools import gen_profiles

HUAWEI = yaml.safe_load((PROFILES_DIR / "huawei_sun2000_luna2000.yaml").read_text())
BESS = yaml.safe_load((PROFILES_DIR / "generic_bess.yaml").read_text())


def _with_control(raw: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw)
    data["control"] = {**data.get("control", {}), **changes}
    return data


def test_every_battery_profile_has_a_control_and_a_source() -> None:
    for profile in builtin_profiles().values():
        if profile.kind != "battery":
            assert profile.control is None
            continue
        assert isinstance(profile.control, Capabilities), profile.id
        if profile.manufacturer != "ems":
            assert {"document", "version", "firmware"} <= set(profile.source), profile.id


def test_generic_bess_is_a_signed_setpoint_read_back() -> None:
    control = builtin_profiles()["generic_bess"].control
    assert control.commands(-1234.4) == (Direction.DISCHARGE, [Command("setpoint", -1234)])
    assert control.commands(0.3) == (Direction.HOLD, [Command("setpoint", 0)])
    assert control.release_commands() == [Command("setpoint", 0)]
    direction, commands = control.commands(800)
    assert control.checks(direction, commands) == [Check("setpoint", 800, "setpoint")]


def test_forced_commands_per_direction() -> None:
    control = builtin_profiles()["huawei_sun2000_luna2000"].control
    direction, commands = control.commands(2500)
    assert direction is Direction.CHARGE
    assert [(c.key, c.value) for c in commands][-2:] == [
        ("forcible_charge_power", 2500),
        ("forcible_command", 1),
    ]
    _, commands = control.commands(-1800)
    assert ("forcible_discharge_power", 1800) in [(c.key, c.value) for c in commands]
    _, commands = control.commands(0)
    assert ("forcible_charge_power", 0) in [(c.key, c.value) for c in commands]
    assert control.release_commands() == [Command("forcible_command", 0)]
    assert control.rewrite_s == 60
    assert control.lapse_s == 300


def test_state_register_confirms_an_echo_only_device() -> None:
    control = builtin_profiles()["solax_hybrid_g4"].control
    direction, commands = control.commands(1000, {"pv_power_1": 0, "pv_power_2": 0})
    assert control.checks(direction, commands) == [
        Check("remote_mode_state", 1, "remote_mode_state")
    ]
    sma = builtin_profiles()["sma_sunny_boy_storage"].control
    direction, commands = sma.commands(1000)
    assert ("power_setpoint", -1000) in [(c.key, c.value) for c in commands]
    assert sma.checks(direction, commands) == []  # confirmed by the measured power only


def test_percent_needs_its_reference() -> None:
    raw = _with_control(
        BESS,
        method="forced",
        charge=[{"key": "setpoint", "value": "percent"}],
        discharge=[{"key": "setpoint", "value": "-percent"}],
        hold=[{"key": "setpoint", "value": 0}],
        release=[{"key": "setpoint", "value": 0}],
        percent_of="max_charge_power",
    )
    control = parse_profile(raw).control
    _, commands = control.commands(1250, {"max_charge_power": 5000})
    assert commands == [Command("setpoint", 25.0)]
    with pytest.raises(ValueError, match="reference power is unknown"):
        control.commands(1250, {"max_charge_power": None})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "sideways"}, "method"),
        ({"release": [{"key": "forcible_command", "value": "power"}]}, "fixed values only"),
        ({"charge": [{"key": "soc", "value": "power"}]}, "'soc' is not writable"),
        ({"charge": [{"key": "nowhere", "value": "power"}]}, "'nowhere' is not a point"),
        ({"charge": [{"key": "forcible_command", "value": 1}]}, "'charge' writes no power"),
        ({"rewrite_s": 400}, "shorter than 'lapse_s'"),
        ({"rewrite_s": 1}, "rewrite_s"),
        ({"state": {"key": "nowhere", "charge": 1}}, "'nowhere' is not a point"),
        ({"charge": [{"key": "forcible_charge_power", "value": "percent"}]}, "percent_of"),
    ],
)
def test_bad_control_sections_name_the_problem(changes: dict, message: str) -> None:
    with pytest.raises(ProfileError, match=message) as err:
        parse_profile(_with_control(HUAWEI, **changes), "huawei.yaml")
    assert str(err.value).startswith("huawei.yaml: control")


def test_a_setpoint_profile_writes_a_signed_power() -> None:
    changes = {"method": "setpoint", "set": [{"key": "forcible_charge_power", "value": "power"}]}
    raw = _with_control(HUAWEI, **changes)
    for key in ("charge", "discharge", "hold"):
        del raw["control"][key]
    with pytest.raises(ProfileError, match="writes 'signed'"):
        parse_profile(raw)


def test_protection_settings_are_never_writable() -> None:
    raw = copy.deepcopy(BESS)
    raw["points"].append(
        {"key": "anti_islanding", "address": 120, "writable": True, "protection": True}
    )
    with pytest.raises(ProfileError, match="protection setting cannot be writable"):
        parse_profile(raw)
    raw["points"][-1]["writable"] = False
    raw["control"] = {
        "method": "setpoint",
        "set": [{"key": "setpoint", "value": "signed"}],
        "release": [{"key": "anti_islanding", "value": 0}],
    }
    with pytest.raises(ProfileError, match="is a protection setting"):
        parse_profile(raw)


def test_vendor_profiles_must_name_their_source() -> None:
    raw = copy.deepcopy(HUAWEI)
    del raw["source"]
    with pytest.raises(ProfileError, match="must name its 'source'"):
        parse_profile(raw)


def test_only_batteries_have_control() -> None:
    meter = yaml.safe_load((PROFILES_DIR / "generic_meter_3ph.yaml").read_text())
    meter["control"] = {"method": "setpoint", "release": [{"key": "power", "value": 0}]}
    with pytest.raises(ProfileError, match="only battery profiles"):
        parse_profile(meter)


def test_the_readme_profile_list_is_up_to_date() -> None:
    assert gen_profiles.main(["--check"]) == 0, "run: python -m tools.gen_profiles"


def test_a_written_register_may_read_back_elsewhere() -> None:
    raw = _with_control(HUAWEI, readback={"forcible_command": "target_soc"})
    control = parse_profile(raw).control
    direction, commands = control.commands(-700)
    checks = control.checks(direction, commands)
    assert Check("target_soc", 2, "forcible_command") in checks
    assert Check("forcible_discharge_power", 700, "forcible_discharge_power") in checks
    with pytest.raises(ProfileError, match="'elsewhere' is not a point"):
        parse_profile(_with_control(HUAWEI, readback={"forcible_command": "elsewhere"}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"release": [{"key": "forcible_command", "value": 7}]}, "7 is outside its range"),
        ({"release": [{"key": "forcible_command", "value": "nan"}]}, "release.0.value"),
        ({"state": {"key": "target_soc", "charge": 250}}, "state 250 is outside its range"),
        ({"block": True}, "must cover consecutive registers"),
    ],
)
def test_fixed_values_are_checked_when_the_profile_loads(changes: dict, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_profile(_with_control(HUAWEI, **changes))


def test_subtracted_values_must_be_known() -> None:
    control = builtin_profiles()["solax_hybrid_g4"].control
    assert control.subtract
    values = dict.fromkeys(control.subtract, 0)
    values[control.subtract[0]] = 1200
    _, commands = control.commands(500, values)
    assert Command("remote_active_power", -700) in commands  # the battery charges 500 W
    with pytest.raises(ValueError, match="is unknown"):
        control.commands(500, {})


def test_read_back_tolerance_follows_the_scale_factor() -> None:
    point = parse_profile(BESS)["setpoint"]
    assert tolerance(point) == pytest.approx(0.5)
    assert tolerance(point, 1) == pytest.approx(5.0)
    assert tolerance(point, -2) == pytest.approx(0.005)


def test_power_caps_follow_the_command_registers() -> None:
    profiles = builtin_profiles()
    assert profiles["sungrow_sh_rt"].control.power_caps(profiles["sungrow_sh_rt"]) == (
        20000.0,
        20000.0,
    )
    raw = copy.deepcopy(BESS)
    setpoint = next(p for p in raw["points"] if p["key"] == "setpoint")
    setpoint.update(min=-3000, max=4000)
    profile = parse_profile(raw)
    assert profile.control.power_caps(profile) == (4000.0, 3000.0)
