"""Register profiles: schema errors, read planning and the one value converter."""

from __future__ import annotations

import copy
from pathlib import Path

from hypothesis import given, strategies as st
import pytest
import yaml

from ems_core.profile import (
    PROFILES_DIR,
    ConversionError,
    DataType,
    Point,
    ProfileError,
    Table,
    builtin_profiles,
    check_write,
    decode,
    decode_all,
    encode,
    parse_profile,
    plan_reads,
)

BESS = yaml.safe_load((PROFILES_DIR / "generic_bess.yaml").read_text())


def test_builtin_profiles_load() -> None:
    profiles = builtin_profiles()
    assert set(profiles) == {
        "generic_bess",
        "generic_pv_inverter",
        "generic_meter_3ph",
        "relay_board_4ch",
        "huawei_sun2000_luna2000",
        "sungrow_sh_rt",
        "solax_hybrid_g4",
        "goodwe_et",
        "sma_sunny_boy_storage",
    }
    assert {p.kind for p in profiles.values()} == {"battery", "pv", "meter", "relay_board"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("kind"), "kind: required key not provided"),
        (lambda d: d.update(kind="toaster"), "kind: value must be one of"),
        (lambda d: d["points"][0].update(type="u128"), "points.0.type"),
        (lambda d: d["points"][0].update(address=70000), "points.0.address"),
        (
            lambda d: d["points"][0].update(key="State Of Charge"),
            "points.0.key: must be lower_snake_case",
        ),
        (lambda d: d["points"][1].update(key="soc"), "point 'soc': duplicate key"),
        (lambda d: d["points"].pop(0), "must define point 'soc'"),
        (lambda d: d["points"][0].update(writable=True), "input registers are read-only"),
        (lambda d: d["points"][-3].pop("max"), "a writable number needs 'min' and 'max'"),
        (lambda d: d["points"][0].update(min=10, max=5), "'min' is above 'max'"),
        (lambda d: d["points"][0].update(sf="nothing"), "scale factor point 'nothing'"),
        (lambda d: d.update(serial_key="nope"), "serial_key 'nope' is not a point"),
        (lambda d: d["points"][0].update(scale=0), "points.0.scale"),
    ],
)
def test_invalid_profile_names_the_field(mutate, message: str) -> None:
    data = copy.deepcopy(BESS)
    mutate(data)
    with pytest.raises(ProfileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_profile(data, "bess.yaml")


def test_invalid_yaml_file(tmp_path: Path) -> None:
    from ems_core.profile import load_profile_file

    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed\n")
    with pytest.raises(ProfileError, match=r"bad.yaml: cannot be read"):
        load_profile_file(bad)


def test_plan_reads_merges_blocks_and_respects_block_names() -> None:
    profile = builtin_profiles()["generic_bess"]
    blocks = plan_reads(profile)
    # All input points in one read, the control registers in another.
    assert [(b.table, b.address, b.count) for b in blocks] == [
        (Table.HOLDING, 100, 6),
        (Table.INPUT, 0, 29),
    ]
    # Only what is wanted, and bits of one register share that register's read.
    blocks = plan_reads(profile, {"soc", "alarm_fault", "alarm_over_voltage"})
    assert [(b.address, b.count) for b in blocks] == [(0, 10)]


def test_plan_reads_splits_on_gap_and_size() -> None:
    points = [
        {"key": "a", "address": 0},
        {"key": "b", "address": 5},
        {"key": "c", "address": 50},
        {"key": "power", "address": 51, "type": "i32"},
    ]
    profile = parse_profile({"id": "t", "kind": "pv", "name": "t", "max_gap": 8, "points": points})
    assert [(b.address, b.count) for b in plan_reads(profile)] == [(0, 6), (50, 3)]
    profile = parse_profile(
        {"id": "t", "kind": "pv", "name": "t", "max_gap": 100, "max_block": 10, "points": points}
    )
    assert [(b.address, b.count) for b in plan_reads(profile)] == [(0, 6), (50, 3)]
    profile = parse_profile(
        {"id": "t", "kind": "pv", "name": "t", "max_gap": 100, "points": points}
    )
    assert [(b.address, b.count) for b in plan_reads(profile)] == [(0, 53)]


TYPES = {
    DataType.U16: st.integers(0, 0xFFFF),
    DataType.I16: st.integers(-0x8000, 0x7FFF),
    DataType.U32: st.integers(0, 0xFFFFFFFF),
    DataType.I32: st.integers(-0x80000000, 0x7FFFFFFF),
}


@given(
    data_type=st.sampled_from(list(TYPES)),
    word_order=st.sampled_from(["big", "little"]),
    scale=st.sampled_from([1.0, 0.1, 0.01, 0.001, 10.0]),
    data=st.data(),
)
def test_round_trip_integers(data_type: DataType, word_order: str, scale: float, data) -> None:
    raw = data.draw(TYPES[data_type])
    point = Point(key="x", address=0, type=data_type, word_order=word_order, scale=scale)
    value = raw * scale
    words = encode(point, value)
    assert len(words) == point.words
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode(point, words) == pytest.approx(value, abs=scale / 2)


@given(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(["big", "little"]))
def test_round_trip_float32(value: float, word_order: str) -> None:
    point = Point(key="x", address=0, type=DataType.FLOAT32, word_order=word_order)
    assert decode(point, encode(point, value)) == pytest.approx(value, rel=1e-6, abs=1e-6)


def test_word_order_and_signs() -> None:
    big = Point(key="x", address=0, type=DataType.I32)
    little = Point(key="x", address=0, type=DataType.I32, word_order="little")
    assert encode(big, -2) == [0xFFFF, 0xFFFE]
    assert encode(little, -2) == [0xFFFE, 0xFFFF]
    assert decode(Point(key="x", address=0, type=DataType.U32), [1, 2]) == 65538


def test_bits_strings_and_not_implemented() -> None:
    bit = Point(key="x", address=0, type=DataType.U16, bit=3)
    assert decode(bit, [0b1000]) is True
    assert decode(bit, [0b0111]) is False
    text = Point(key="s", address=0, type=DataType.STRING, count=4)
    assert decode(text, encode(text, "SN42")) == "SN42"
    na = Point(key="n", address=0, type=DataType.I16, na=True)
    assert decode(na, [0x8000]) is None


def test_out_of_range_reads_become_none() -> None:
    profile = builtin_profiles()["generic_bess"]
    block = plan_reads(profile, {"soc", "power"})[0]
    words = [0] * block.count
    words[0] = 1500  # 150.0 %
    values = decode_all(profile, [(block, words)])
    assert values["soc"] is None
    assert values["power"] == 0


def test_sunspec_scale_factor() -> None:
    profile = parse_profile(
        {
            "id": "s",
            "kind": "pv",
            "name": "s",
            "points": [
                {"key": "power", "address": 0, "type": "i16", "sf": "power_sf", "na": True},
                {"key": "power_sf", "address": 1, "type": "i16", "platform": "none"},
            ],
        }
    )
    block = plan_reads(profile, {"power"})[0]
    assert decode_all(profile, [(block, [1234, 0xFFFF])])["power"] == pytest.approx(123.4)
    assert decode_all(profile, [(block, [1234, 2])])["power"] == 123400


def test_check_write_rejects_out_of_range_and_wrong_types() -> None:
    profile = builtin_profiles()["generic_bess"]
    setpoint = profile["setpoint"]
    assert check_write(setpoint, 2500) == 2500
    with pytest.raises(
        ConversionError, match=r"setpoint: 200000 is outside \[-100000.0, 100000.0\] W"
    ):
        check_write(setpoint, 200000)
    with pytest.raises(ConversionError, match="takes a number"):
        check_write(setpoint, float("nan"))
    with pytest.raises(ConversionError, match="not writable"):
        check_write(profile["soc"], 50)
    relay = builtin_profiles()["relay_board_4ch"]["relay_1"]
    with pytest.raises(ConversionError, match="takes on/off"):
        check_write(relay, 1)
    assert encode(relay, True) == [1]
