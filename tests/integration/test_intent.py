"""Assist intents: set and read the site mode, and ask why the battery does it (en, fr)."""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import intent
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from plan_helpers import make_plan
import pytest
from site_helpers import setup_site

from custom_components.ems.controller import Mode
from custom_components.ems.intent import INTENT_BATTERY_WHY, INTENT_GET_MODE, INTENT_SET_MODE

SENTENCES = Path(__file__).parents[2] / "docs" / "custom_sentences"


@pytest.fixture
async def controller(hass: HomeAssistant, sim):
    """A loaded site and Home Assistant's intent integration."""
    entry = await setup_site(hass, sim)
    assert await async_setup_component(hass, "intent", {})
    await hass.async_block_till_done()
    yield entry.runtime_data.controller
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("language", "spoken", "mode", "speech"),
    [
        ("en", "backup", Mode.BACKUP, "Energy mode set to Backup"),
        ("en", "Peak shaving", Mode.PEAK_SHAVING, "Energy mode set to Peak shaving"),
        ("en", "self consumption", Mode.SELF_CONSUMPTION, "Energy mode set to Self-consumption"),
        ("fr", "autoconsommation", Mode.SELF_CONSUMPTION, "Mode énergie : Autoconsommation"),
        ("fr", "écrêtage des pointes", Mode.PEAK_SHAVING, "Mode énergie : Écrêtage des pointes"),
        ("fr", "secours", Mode.BACKUP, "Mode énergie : Secours"),
        ("fr", "auto", Mode.AUTO, "Mode énergie : Auto (plan)"),
    ],
)
async def test_set_mode(
    hass: HomeAssistant, controller, language: str, spoken: str, mode: Mode, speech: str
) -> None:
    response = await intent.async_handle(
        hass, "test", INTENT_SET_MODE, {"mode": {"value": spoken}}, language=language
    )
    assert controller.mode is mode
    assert response.speech["plain"]["speech"] == speech
    assert hass.states.get("select.home_mode").state == mode.value


async def test_unknown_mode_changes_nothing(hass: HomeAssistant, controller) -> None:
    with pytest.raises(intent.IntentHandleError):
        await intent.async_handle(
            hass, "test", INTENT_SET_MODE, {"mode": {"value": "turbo"}}, language="en"
        )
    assert controller.mode is Mode.SELF_CONSUMPTION


async def test_get_mode_tells_the_fallback(hass: HomeAssistant, controller) -> None:
    await controller.async_set_mode(Mode.AUTO)  # no plan: runs self-consumption
    response = await intent.async_handle(hass, "test", INTENT_GET_MODE, {}, language="fr")
    assert response.speech["plain"]["speech"] == (
        "Le mode énergie est Auto (plan), en Autoconsommation faute de plan à jour"
    )
    await controller.async_set_mode(Mode.BACKUP)
    response = await intent.async_handle(hass, "test", INTENT_GET_MODE, {}, language="en")
    assert response.speech["plain"]["speech"] == "The energy mode is Backup"


@pytest.mark.parametrize(
    ("language", "text", "mode", "speech"),
    [
        ("en", "set the energy mode to backup", Mode.BACKUP, "Energy mode set to Backup"),
        ("fr", "mets le mode énergie sur autoconsommation", Mode.SELF_CONSUMPTION, None),
    ],
)
async def test_assist_with_the_shipped_sentences(
    hass: HomeAssistant, sim, tmp_path: Path, language: str, text: str, mode: Mode, speech
) -> None:
    """The docs' custom sentences + Assist's default agent reach the integration's handlers."""
    hass.config.config_dir = str(tmp_path)
    for lang in ("en", "fr"):
        target = tmp_path / "custom_sentences" / lang
        target.mkdir(parents=True)
        shutil.copy(SENTENCES / lang / "ems.yaml", target / "ems.yaml")
    entry = await setup_site(hass, sim)
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    assert await async_setup_component(hass, "intent", {})
    hass.config.language = language
    result = await conversation.async_converse(hass, text, None, Context(), language=language)
    assert entry.runtime_data.controller.mode is mode
    answer = result.response.speech["plain"]["speech"]
    assert answer == (speech or "Mode énergie : Autoconsommation")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def _plan_with_intent(hass: HomeAssistant, kind: str, reason: str) -> None:
    now = dt_util.utcnow()
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    plan = make_plan(start, battery_w=[1000.0] * 96)
    plan["intents"] = [{"kind": kind, "reason": reason}] * 96
    await hass.services.async_call("ems", "set_plan", {"plan": plan}, blocking=True)


@pytest.mark.parametrize(
    ("language", "speech"),
    [
        ("en", "Charge: grid power is cheaper now than when it will be used."),
        ("fr", "Charger : le courant est moins cher maintenant qu'au moment où il servira."),
    ],
)
async def test_why_is_my_battery_charging(
    hass: HomeAssistant, controller, language: str, speech: str
) -> None:
    """Issue 13: the question users of every peer ask, answered by voice."""
    await _plan_with_intent(hass, "charge", "cheap_grid_now")
    await controller.async_set_mode(Mode.AUTO)
    response = await intent.async_handle(hass, "test", INTENT_BATTERY_WHY, {}, language=language)
    assert response.speech["plain"]["speech"] == speech


async def test_why_without_a_plan_says_so(hass: HomeAssistant, controller) -> None:
    await controller.async_set_mode(Mode.MANUAL)
    response = await intent.async_handle(hass, "test", INTENT_BATTERY_WHY, {}, language="en")
    assert response.speech["plain"]["speech"] == "No plan is being followed: the mode is Manual"


async def test_why_with_the_shipped_sentences(hass: HomeAssistant, sim, tmp_path: Path) -> None:
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "custom_sentences" / "en"
    target.mkdir(parents=True)
    shutil.copy(SENTENCES / "en" / "ems.yaml", target / "ems.yaml")
    entry = await setup_site(hass, sim)
    for component in ("homeassistant", "conversation", "intent"):
        assert await async_setup_component(hass, component, {})
    await _plan_with_intent(hass, "self_consumption", "cover_load")
    await entry.runtime_data.controller.async_set_mode(Mode.AUTO)
    result = await conversation.async_converse(
        hass, "why is my battery discharging", None, Context(), language="en"
    )
    speech = result.response.speech["plain"]["speech"]
    assert speech == "Cover the house, store the surplus: the battery covers the house."
    assert await hass.config_entries.async_unload(entry.entry_id)
