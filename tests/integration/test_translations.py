"""Translations: English and French have the same keys, and every entity key is translated."""

from __future__ import annotations

import json
from pathlib import Path
import re

import pytest

from custom_components.ems.core.profile import Platform, builtin_profiles
from custom_components.ems.validation import ERROR_INVALID_NUMBER
from tools import gen_translations

ROOT = Path(__file__).resolve().parents[2] / "custom_components" / "ems"


def _keys(data: dict, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        keys.add(path)
        if isinstance(value, dict):
            keys |= _keys(value, path)
    return keys


def _load(lang: str) -> dict:
    return json.loads((ROOT / "translations" / f"{lang}.json").read_text(encoding="utf-8"))


def test_same_keys_in_english_and_french() -> None:
    assert _keys(_load("en")) == _keys(_load("fr"))


def test_every_profile_point_has_a_name() -> None:
    entity = _load("en")["entity"]
    for profile in builtin_profiles().values():
        for point in profile.points:
            if point.platform is Platform.NONE:
                continue
            assert point.key in entity[point.platform.value], (profile.id, point.key)


def test_icons_refer_to_translated_entities() -> None:
    icons = json.loads((ROOT / "icons.json").read_text())["entity"]
    entity = _load("en")["entity"]
    for platform, keys in icons.items():
        assert set(keys) <= set(entity[platform]), platform


def test_manifest_and_hacs() -> None:
    manifest = json.loads((ROOT / "manifest.json").read_text())
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["config_flow"] is True
    assert "version" in manifest


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_generated_files_are_up_to_date(lang: str) -> None:
    """The JSON files are what ``python -m tools.gen_translations`` writes from the tables."""
    path = ROOT / "translations" / f"{lang}.json"
    assert path.read_text(encoding="utf-8") == gen_translations.render(lang), (
        "run: python -m tools.gen_translations"
    )


def test_every_raised_error_is_translated() -> None:
    """Every exception key the code raises, and the form error of bad numbers, is translated."""
    source = "\n".join(path.read_text(encoding="utf-8") for path in ROOT.glob("*.py"))
    keys = set(re.findall(r"(?:EmsValidationError|PlanRejectedError)\(\s*\"(\w+)\"", source))
    keys |= set(re.findall(r"translation_domain=DOMAIN,\s*translation_key=\"(\w+)\"", source))
    assert {"invalid_field", "invalid_value", "plan_expired", "write_failed"} <= keys
    for lang in ("en", "fr"):
        data = _load(lang)
        assert keys <= set(data["exceptions"]), lang
        flows = [data["config"], data["options"], *data["config_subentries"].values()]
        assert all(ERROR_INVALID_NUMBER in flow["error"] for flow in flows), lang
