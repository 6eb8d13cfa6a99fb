"""The site's served SunSpec map: loading, publishing, the write whitelist, the generated docs."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings, strategies as st
import pytest
import yaml

from ems_core.site_server import (
    EMS_MODEL_ID,
    ILLEGAL_ADDRESS,
    ILLEGAL_VALUE,
    SITE_MAP_FILE,
    SiteImage,
    WriteRefused,
    load_site_map,
    power_sf,
)
from ems_core.sunspec_image import ImageError, SunSpecImage
from tools import gen_register_map

SITE_MAP = load_site_map()
VALUES = {"max_charge_w": 5000.0, "max_discharge_w": 4000.0, "s_max_va": 6000.0}


def image(writable: bool = True, sf: int = 0) -> SiteImage:
    return SiteImage(SITE_MAP, writable=writable, power_sf=sf)


def at(site: SiteImage, model: int, name: str) -> int:
    return site.image.slots[(model, name)].first


def test_whitelist_is_small_and_explicit() -> None:
    written = {f"{p.model}.{p.name}": p.write for p in SITE_MAP.writes}
    assert written == {
        "704.WSetEna": "setpoint_enable",
        "704.WSetMod": "setpoint_mode",
        "704.WSet": "active_power",
        "704.VarSetEna": "reactive_enable",
        "704.VarSet": "reactive_power",
        "715.ControllerHb": "heartbeat",
        "64900.Mode": "mode",
    }


def test_values_published_scaled_signed_and_clamped() -> None:
    site = image(sf=1)
    site.update({"battery_w": 1234.0, "soc_pct": 55.56, "mode": "backup", "grid_w": 10_000_000.0})
    assert site.image.get(701, "W") == -1230  # + discharging in SunSpec, 10 W steps (sf 1)
    assert site.image.get(124, "ChaState") == pytest.approx(55.6)
    assert site.image.get(EMS_MODEL_ID, "Mode") == SITE_MAP.enums["mode"].index("backup")
    assert site.image.get(EMS_MODEL_ID, "GridW") == 327670  # clamped, not wrapped
    site.update({"battery_w": None, "soc_pct": float("nan")})
    assert site.image.get(701, "W") is None  # not implemented: no value, never a lie
    assert site.image.get(124, "ChaState") is None


def test_read_only_image_refuses_everything() -> None:
    site = image(writable=False)
    with pytest.raises(WriteRefused) as err:
        site.check_write(at(site, EMS_MODEL_ID, "Mode"), [1], VALUES)
    assert err.value.code == ILLEGAL_ADDRESS


@pytest.mark.parametrize(
    ("model", "name", "words", "code"),
    [
        (704, "WSet", [0, 4001], ILLEGAL_VALUE),  # past the discharge rating
        (704, "WSet", [0xFFFF, (-5001) & 0xFFFF], ILLEGAL_VALUE),  # past the charge rating
        (704, "WSet", [0], ILLEGAL_ADDRESS),  # half of an int32
        (704, "WSetEna", [2], ILLEGAL_VALUE),
        (704, "WSetMod", [0], ILLEGAL_VALUE),  # % of WMax: not served
        (704, "VarSet", [0, 6001], ILLEGAL_VALUE),  # beyond the apparent power
        (704, "VarSetMod", [4], ILLEGAL_ADDRESS),  # fixed: vars
        (EMS_MODEL_ID, "Mode", [8], ILLEGAL_VALUE),
        (EMS_MODEL_ID, "SoC", [1], ILLEGAL_ADDRESS),
        (702, "WMax", [1], ILLEGAL_ADDRESS),  # writable in SunSpec, not in the whitelist
        (124, "StorCtl_Mod", [1], ILLEGAL_ADDRESS),
    ],
)
def test_refused_writes(model: int, name: str, words: list[int], code: int) -> None:
    site = image()
    with pytest.raises(WriteRefused) as err:
        site.check_write(at(site, model, name), words, VALUES)
    assert err.value.code == code


def test_accepted_writes_in_ems_units() -> None:
    site = image()
    writes = site.check_write(at(site, 704, "WSet"), [0xFFFF, (-2500) & 0xFFFF], VALUES)
    assert [(w.action, w.value) for w in writes] == [("active_power", 2500.0)]  # + charging
    mode = site.check_write(at(site, EMS_MODEL_ID, "Mode"), [6], VALUES)
    assert mode[0].value == "passive"
    span = site.check_write(at(site, 704, "WSetEna"), [1, 1, 0, 100], VALUES)
    assert [w.action for w in span] == ["setpoint_enable", "setpoint_mode", "active_power"]


@settings(max_examples=200, deadline=None)
@given(
    address=st.integers(min_value=39990, max_value=40500),
    words=st.lists(st.integers(min_value=0, max_value=0xFFFF), min_size=1, max_size=8),
)
def test_any_write_is_whole_or_nothing(address: int, words: list[int]) -> None:
    """Whatever a client sends: refused with a code, or actions within the whitelist."""
    site = image()
    before = site.read(site.image.base, site.image.end - site.image.base)
    code, writes = None, []
    try:
        writes = site.check_write(address, words, VALUES)
    except WriteRefused as err:
        code = err.code
    assert code in (None, ILLEGAL_ADDRESS, ILLEGAL_VALUE)
    for write in writes:
        assert write.action in {p.write for p in SITE_MAP.writes}
        if write.action == "active_power":
            assert -VALUES["max_charge_w"] <= -write.value <= VALUES["max_discharge_w"]
    assert site.read(site.image.base, site.image.end - site.image.base) == before


def test_power_sf_fits_16_bits() -> None:
    assert power_sf(10_000) == 0
    assert power_sf(32_767) == 0
    assert power_sf(50_000) == 1
    assert power_sf(2_000_000) == 2


def test_bad_map_names_what_is_wrong(tmp_path: Path) -> None:
    raw = yaml.safe_load(SITE_MAP_FILE.read_text())
    cases = {
        "model 1 has no point Nope": {"1.Nope": {"const": 1}},
        "read-only in SunSpec": {"701.W": {"value": "battery_w", "write": "active_power"}},
        "not a point of a served model": {"703.W": {"value": "battery_w"}},
        "unknown enum": {"64900.Mode": {"value": "mode", "enum": "colour"}},
    }
    for message, points in cases.items():
        path = tmp_path / "map.yaml"
        path.write_text(yaml.safe_dump({**raw, "points": {**raw["points"], **points}}))
        with pytest.raises(ValueError, match=message):
            load_site_map.__wrapped__(path)


def test_image_refuses_partial_and_read_only_writes() -> None:
    layout = SunSpecImage((1, 704), base=0)
    wset = layout.slots[(704, "WSet")]
    with pytest.raises(ImageError, match="whole"):
        layout.decode_write(wset.first + 1, [1])
    with pytest.raises(ImageError, match="not writable"):
        layout.decode_write(layout.slots[(1, "Mn")].first, [1])
    assert layout.decode_write(wset.first, [0, 5]) == {(704, "WSet"): 5}


def test_generated_docs_are_current() -> None:
    """docs/REGISTER_MAP.md and the ems model's JSON are what the map gives."""
    assert gen_register_map.main(["--check"]) == 0, "run: python -m tools.gen_register_map"
