"""A user's own register profile (docs/PROFILES.md): loaded, offered, commanded; a bad one told."""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from site_helpers import ControlClock, manual_setpoint, setup_site

from custom_components.ems import USER_PROFILES_DIR, async_get_profiles
from custom_components.ems.const import CONTROL_INTERVAL_S, DOMAIN

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "profiles" / "example_battery.yaml"


@pytest.fixture(autouse=True)
def _own_config_folder(hass: HomeAssistant, tmp_path: Path) -> None:
    """A config folder of this test's own: the default one is shared by parallel tests."""
    hass.config.config_dir = str(tmp_path)


def _install(hass: HomeAssistant, source: Path | str, name: str) -> Path:
    folder = Path(hass.config.path(USER_PROFILES_DIR))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if isinstance(source, Path):
        shutil.copy(source, target)
    else:
        target.write_text(source, encoding="utf-8")
    return target


async def test_the_recipe_example_is_loaded_and_commanded(hass: HomeAssistant, sim) -> None:
    _install(hass, EXAMPLE, "example_battery.yaml")
    profiles = await async_get_profiles(hass)
    assert profiles["example_battery"].source["document"].startswith("Example Modbus map")
    assert "generic_bess" in profiles  # the built-in ones stay
    entry = await setup_site(hass, sim, battery_profile="example_battery")
    clock = ControlClock(entry.runtime_data.controller, sim)
    await manual_setpoint(hass, 1500)
    await clock.run(int(30 / CONTROL_INTERVAL_S))
    assert sim.site.battery.power == pytest.approx(1500, abs=50)
    registers = hass.states.get("sensor.home_battery_setpoint").attributes["batteries"]
    assert registers["Battery"]["registers"] == ["100 power_setpoint = 1500 W"]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_broken_user_profile_is_a_repair_and_spares_the_others(
    hass: HomeAssistant,
) -> None:
    _install(hass, EXAMPLE, "example_battery.yaml")
    text = EXAMPLE.read_text(encoding="utf-8").replace("id: example_battery", "id: mine")
    _install(hass, text.replace("value: signed", "value: power"), "mine.yaml")
    _install(hass, EXAMPLE.read_text(encoding="utf-8"), "zz_copy.yaml")  # the same id again
    _install(hass, text.replace("id: mine", "id: sunspec"), "reserved.yml")  # SunSpec's id
    profiles = await async_get_profiles(hass)
    assert "example_battery" in profiles
    assert "mine" not in profiles
    registry = ir.async_get(hass)
    issue = registry.async_get_issue(DOMAIN, "user_profile_invalid_mine.yaml")
    assert issue is not None
    assert "writes 'signed'" in issue.translation_placeholders["error"]
    clash = registry.async_get_issue(DOMAIN, "user_profile_invalid_example_battery.yaml")
    copy = registry.async_get_issue(DOMAIN, "user_profile_invalid_zz_copy.yaml")
    assert clash is None
    assert "already taken" in copy.translation_placeholders["error"]
    reserved = registry.async_get_issue(DOMAIN, "user_profile_invalid_reserved.yml")
    assert "already taken" in reserved.translation_placeholders["error"]


async def test_a_control_register_shown_as_a_number_is_not_writable(
    hass: HomeAssistant, sim
) -> None:
    """An entity on a register the controller writes would bypass the limiter: refused."""
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "platform: none, writable: true, min: -10000",
        "platform: number, writable: true, min: -10000",
    )
    assert "platform: number" in text
    _install(hass, text, "example_battery.yaml")
    entry = await setup_site(hass, sim, battery_profile="example_battery")
    entity = next(
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.domain == "number" and e.unique_id.endswith("power_setpoint")
    )
    with pytest.raises(ServiceValidationError, match="site controller"):
        await hass.services.async_call(
            "number", "set_value", {"entity_id": entity, "value": 9000}, blocking=True
        )
    assert sim.site.units[1].get("setpoint") != 9000
    assert await hass.config_entries.async_unload(entry.entry_id)
