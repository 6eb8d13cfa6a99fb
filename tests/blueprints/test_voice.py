"""Voice: the conversation-trigger blueprint, and the example custom sentences for the intents."""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import intent
from homeassistant.setup import async_setup_component
import pytest
import voluptuous as vol

from .conftest import MODE_SELECT, SENTENCES_DIR, FakeModeSelect, SetupBlueprint


@pytest.fixture
async def assist(hass: HomeAssistant, config_dir: Path) -> None:
    """The built-in conversation agent."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})


async def say(hass: HomeAssistant, text: str, language: str) -> str:
    """Speak to Assist; return its spoken answer."""
    result = await conversation.async_converse(hass, text, None, Context(), language=language)
    return result.response.speech["plain"]["speech"]


@pytest.fixture
async def voice(
    hass: HomeAssistant, assist: None, setup_blueprint: SetupBlueprint, mode_select: FakeModeSelect
) -> FakeModeSelect:
    await setup_blueprint("voice_mode.yaml", {"mode_select": MODE_SELECT})
    return mode_select


@pytest.mark.parametrize(
    ("text", "mode", "answer"),
    [
        ("set the energy mode to backup", "backup", "Energy mode set to Backup."),
        (
            "Set the energy mode to Peak-Shaving.",
            "peak_shaving",
            "Energy mode set to Peak shaving.",
        ),
        (
            "change energy mode to the charge only mode",
            "charge_only",
            "Energy mode set to Charge only.",
        ),
        ("energy mode auto", "auto", "Energy mode set to Auto (plan)."),
    ],
)
async def test_voice_sets_the_mode_in_english(
    hass: HomeAssistant, voice: FakeModeSelect, text: str, mode: str, answer: str
) -> None:
    assert await say(hass, text, "en") == answer
    assert voice.calls == [mode]


@pytest.mark.parametrize(
    ("text", "mode", "answer"),
    [
        ("mets le mode énergie sur secours", "backup", "Mode énergie réglé sur Secours."),
        (
            "passe le mode énergie en écrêtage",
            "peak_shaving",
            "Mode énergie réglé sur Écrêtage des pointes.",
        ),
        (
            "Mets le mode energie sur charge seule",
            "charge_only",
            "Mode énergie réglé sur Charge seule.",
        ),
        ("règle le mode énergie sur le mode manuel", "manual", "Mode énergie réglé sur Manuel."),
    ],
)
async def test_voice_sets_the_mode_in_french(
    hass: HomeAssistant, voice: FakeModeSelect, text: str, mode: str, answer: str
) -> None:
    hass.config.language = "fr"
    assert await say(hass, text, "fr") == answer
    assert voice.calls == [mode]


async def test_voice_tells_the_mode(hass: HomeAssistant, voice: FakeModeSelect) -> None:
    assert (
        await say(hass, "what is the energy mode", "en") == "The energy mode is Self-consumption."
    )
    assert (
        await say(hass, "quel est le mode énergie", "fr") == "Le mode énergie est Autoconsommation."
    )
    assert voice.calls == []


async def test_voice_does_nothing_for_an_unknown_or_current_mode(
    hass: HomeAssistant, voice: FakeModeSelect
) -> None:
    answer = await say(hass, "set the energy mode to banana", "en")
    assert answer.startswith(
        'I don\'t know the mode "banana". Modes: Auto (plan), Self-consumption'
    )
    answer = await say(hass, "mets le mode énergie sur turbo", "fr")
    assert answer.startswith(
        "Je ne connais pas le mode « turbo ». Modes : Auto (plan), Autoconsommation"
    )
    assert await say(hass, "set the energy mode to self consumption", "en") == (
        "The energy mode is already Self-consumption."
    )
    assert voice.calls == []


async def test_voice_when_the_select_is_unavailable(
    hass: HomeAssistant, voice: FakeModeSelect
) -> None:
    hass.states.async_set(MODE_SELECT, "unavailable")
    assert await say(hass, "set the energy mode to backup", "en") == (
        "The energy mode is not available right now."
    )
    assert voice.calls == []


class RecordingHandler(intent.IntentHandler):
    """Stands in for the integration's handler: records the slots it gets."""

    def __init__(self, intent_type: str, slot_schema: dict | None = None) -> None:
        self.intent_type = intent_type
        self._slot_schema = slot_schema
        self.slots: list[dict] = []

    @property
    def slot_schema(self) -> dict | None:
        return self._slot_schema

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        self.slots.append({k: v["value"] for k, v in intent_obj.slots.items()})
        response = intent_obj.create_response()
        response.async_set_speech(f"{self.intent_type} ok")
        return response


@pytest.mark.parametrize(
    ("language", "text", "mode"),
    [
        ("en", "set the energy mode to self consumption", "self_consumption"),
        ("en", "switch the battery mode to backup", "backup"),
        ("fr", "mets le mode énergie sur autoconsommation", "self_consumption"),
        ("fr", "passe le mode énergie en secours", "backup"),
    ],
)
async def test_custom_sentences_reach_the_intents(
    hass: HomeAssistant, config_dir: Path, language: str, text: str, mode: str
) -> None:
    """The example files, in <config>/custom_sentences/<lang>/, drive EmsSetMode / EmsGetMode."""
    for lang in ("en", "fr"):
        target = config_dir / "custom_sentences" / lang
        target.mkdir(parents=True)
        shutil.copy(SENTENCES_DIR / lang / "ems.yaml", target / "ems.yaml")
    set_mode = RecordingHandler("EmsSetMode", {vol.Required("mode"): str})
    get_mode = RecordingHandler("EmsGetMode")
    intent.async_register(hass, set_mode)
    intent.async_register(hass, get_mode)
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    hass.config.language = language

    assert await say(hass, text, language) == "EmsSetMode ok"
    assert set_mode.slots == [{"mode": mode}]
    question = "what is the energy mode" if language == "en" else "quel est le mode énergie"
    assert await say(hass, question, language) == "EmsGetMode ok"
    assert get_mode.slots == [{}]
