"""Assist intents: set and read the site mode, and ask why the battery does what it does."""

from __future__ import annotations

from typing import Any, ClassVar
import unicodedata

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, intent
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .controller import SiteController
from .core.decide import Mode

INTENT_SET_MODE = "EmsSetMode"
INTENT_GET_MODE = "EmsGetMode"
INTENT_BATTERY_WHY = "EmsBatteryWhy"
_LANGUAGES = ("en", "fr")


async def async_setup_intents(hass: HomeAssistant) -> None:
    """Register the intents (called by Home Assistant's intent integration)."""
    intent.async_register(hass, SetModeIntentHandler())
    intent.async_register(hass, GetModeIntentHandler())
    intent.async_register(hass, BatteryWhyIntentHandler())


def _normalise(text: str) -> str:
    """Lower case, no accents, words joined by "_" ("Écrêtage" → "ecretage")."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "_".join(plain.lower().replace("-", " ").replace("(", " ").replace(")", " ").split())


async def _labels(hass: HomeAssistant, language: str) -> dict[str, str]:
    """Mode value → its label in ``language`` (the select's translated states)."""
    strings = await async_get_translations(hass, language, "entity", {DOMAIN})
    prefix = f"component.{DOMAIN}.entity.select.mode.state."
    return {mode.value: strings.get(prefix + mode.value, mode.value) for mode in Mode}


async def async_match_mode(hass: HomeAssistant, spoken: str) -> Mode | None:
    """The mode a spoken word names: its value, or its label in English or French."""
    wanted = _normalise(spoken)
    candidates: dict[str, Mode] = {mode.value: mode for mode in Mode}
    for language in _LANGUAGES:
        for value, label in (await _labels(hass, language)).items():
            candidates[_normalise(label)] = Mode(value)
            candidates[_normalise(label.split("(")[0])] = Mode(value)  # "Auto (plan)" → auto
    return candidates.get(wanted)


def _controller(hass: HomeAssistant) -> SiteController:
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            return entry.runtime_data.controller
    raise intent.IntentHandleError("No energy site is set up", "no_valid_targets")


class SetModeIntentHandler(intent.IntentHandler):
    """Set the site mode."""

    intent_type = INTENT_SET_MODE
    description = "Sets the mode of the ems energy site (e.g. self-consumption, backup, auto)"
    slot_schema: ClassVar[dict[str, Any]] = {"mode": cv.string}
    platforms: ClassVar[set[str]] = {"select"}

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        """Change the mode and say which one is now in force."""
        hass = intent_obj.hass
        slots = self.async_validate_slots(intent_obj.slots)
        spoken = slots["mode"]["value"]
        mode = await async_match_mode(hass, spoken)
        if mode is None:
            raise intent.IntentHandleError(f"Unknown energy mode: {spoken}")
        controller = _controller(hass)
        await controller.async_set_mode(mode)
        label = (await _labels(hass, intent_obj.language))[mode.value]
        response = intent_obj.create_response()
        french = intent_obj.language.startswith("fr")
        response.async_set_speech(
            f"Mode énergie : {label}" if french else f"Energy mode set to {label}"
        )
        return response


class GetModeIntentHandler(intent.IntentHandler):
    """Tell the site mode (and what actually runs, when ``auto`` has fallen back)."""

    intent_type = INTENT_GET_MODE
    description = "Tells the current mode of the ems energy site"
    platforms: ClassVar[set[str]] = {"select"}

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        """Say the mode."""
        controller = _controller(intent_obj.hass)
        labels = await _labels(intent_obj.hass, intent_obj.language)
        french = intent_obj.language.startswith("fr")
        text = (
            f"Le mode énergie est {labels[controller.mode.value]}"
            if french
            else f"The energy mode is {labels[controller.mode.value]}"
        )
        last = controller.last
        if last is not None and last.effective_mode is not controller.mode:
            effective = labels[last.effective_mode.value]
            text += (
                f", en {effective} faute de plan à jour"
                if french
                else f", running {effective} until a fresh plan arrives"
            )
        response = intent_obj.create_response()
        response.async_set_speech(text)
        return response


class BatteryWhyIntentHandler(intent.IntentHandler):
    """Say what the plan means the battery to do now, and why ("why is my battery charging?")."""

    intent_type = INTENT_BATTERY_WHY
    description = "Tells what the ems plan has the battery do now, and why"
    platforms: ClassVar[set[str]] = {"sensor"}

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        """Read the step's intent and its reason from the battery-plan sensor's translations."""
        hass = intent_obj.hass
        controller = _controller(hass)
        language = intent_obj.language
        french = language.startswith("fr")
        current = controller.plan.intent_at(dt_util.utcnow())
        response = intent_obj.create_response()
        if current is None or controller.mode is not Mode.AUTO:
            labels = await _labels(hass, language)
            response.async_set_speech(
                f"Pas de plan suivi en ce moment : le mode est {labels[controller.mode.value]}"
                if french
                else f"No plan is being followed: the mode is {labels[controller.mode.value]}"
            )
            return response
        strings = await async_get_translations(hass, language, "entity", {DOMAIN})
        base = f"component.{DOMAIN}.entity.sensor.battery_intent"
        kind = strings.get(f"{base}.state.{current['kind']}", current["kind"])
        reason = strings.get(
            f"{base}.state_attributes.reason.state.{current['reason']}", current["reason"]
        )
        response.async_set_speech(
            f"{kind} : {reason[0].lower()}{reason[1:]}."
            if french
            else f"{kind}: {reason[0].lower()}{reason[1:]}."
        )
        return response
