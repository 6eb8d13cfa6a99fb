"""Fixtures for the blueprint tests: the repository's blueprints in a temporary HA config."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Coroutine
from datetime import timedelta
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation import DOMAIN as AUTOMATION_DOMAIN
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import config_validation as cv
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

BLUEPRINT_DIR = Path(__file__).parents[2] / "blueprints" / "automation" / "ems"
BLUEPRINT_FILES = sorted(BLUEPRINT_DIR.glob("*.yaml"))
SENTENCES_DIR = BLUEPRINT_DIR.parents[2] / "docs" / "custom_sentences"
MODES = [
    "auto",
    "self_consumption",
    "peak_shaving",
    "charge_only",
    "external",
    "backup",
    "passive",
    "manual",
]
MODE_SELECT = "select.site_mode"

type SetupBlueprint = Callable[[str, dict[str, Any]], Coroutine[Any, Any, None]]


@pytest.fixture
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A temporary config dir holding the repository's blueprints (files only, as shipped)."""
    hass.config.config_dir = str(tmp_path)
    target = Path(hass.config.path("blueprints", "automation", "ems"))
    target.mkdir(parents=True)
    for path in BLUEPRINT_FILES:
        shutil.copy(path, target / path.name)
    return tmp_path


@pytest.fixture
async def setup_blueprint(hass: HomeAssistant, config_dir: Path) -> AsyncGenerator[SetupBlueprint]:
    """Set up `automation` with one automation using a repository blueprint."""

    async def _setup(name: str, inputs: dict[str, Any]) -> None:
        config = {
            AUTOMATION_DOMAIN: {
                "id": "under_test",
                "alias": "under test",
                "use_blueprint": {"path": f"ems/{name}", "input": inputs},
            }
        }
        assert await async_setup_component(hass, AUTOMATION_DOMAIN, config)
        await hass.async_block_till_done()
        # A blueprint that fails to validate gives an unavailable automation.
        state = hass.states.get("automation.under_test")
        assert state is not None
        assert state.state == "on", state

    yield _setup
    if hass.states.get("automation.under_test") is not None:
        # Detach the triggers, so a time trigger leaves no timer behind.
        await hass.services.async_call(
            AUTOMATION_DOMAIN, "turn_off", {"entity_id": "all", "stop_actions": True}
        )
        await settle(hass)


class FakeModeSelect:
    """The ems mode select as a state plus a `select.select_option` action that sets it."""

    def __init__(self, hass: HomeAssistant, entity_id: str, option: str) -> None:
        self.hass = hass
        self.entity_id = entity_id
        self.calls: list[str] = []
        self.set(option)
        hass.services.async_register("select", "select_option", self._select_option)

    def set(self, option: str) -> None:
        """Set the current option (as the user or the integration would)."""
        self.hass.states.async_set(self.entity_id, option, {"options": MODES})

    @property
    def state(self) -> str:
        return self.hass.states.get(self.entity_id).state

    async def _select_option(self, call: ServiceCall) -> None:
        for entity_id in cv.ensure_list(call.data["entity_id"]):
            assert entity_id == self.entity_id
            option = call.data["option"]
            assert option in MODES
            self.calls.append(option)
            self.set(option)


@pytest.fixture
def mode_select(hass: HomeAssistant) -> FakeModeSelect:
    """A mode select in mode `self_consumption`."""
    return FakeModeSelect(hass, MODE_SELECT, "self_consumption")


async def settle(hass: HomeAssistant, rounds: int = 100) -> None:
    """Let pending callbacks and automation runs move on.

    Not `hass.async_block_till_done()`: it waits for every automation run to end, and a run
    that waits for a voltage (exercise cycle, temperature resume) would block it forever.
    """
    del hass
    for _ in range(rounds):
        await asyncio.sleep(0)


@pytest.fixture
def advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> Callable[[timedelta], Coroutine[Any, Any, None]]:
    """Move the clock on and let timers (`for:`, time triggers, waits) fire."""

    async def _advance(delta: timedelta) -> None:
        await settle(hass)  # let state changes start their `for:` timers first
        freezer.tick(delta)
        async_fire_time_changed(hass)
        await settle(hass)

    return _advance
