"""The plan calendar: one event per appliance run and per battery charge / discharge block."""

from __future__ import annotations

from datetime import timedelta
import json
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from plan_helpers import DISHWASHER, HEATER, NOW, WATER_HEATER, at, make_plan, run, setup_site
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ems.const import DOMAIN

STEPS = 96
TRANSLATIONS = Path(__file__).resolve().parents[2] / "custom_components/ems/translations"


def _common(lang: str) -> dict[str, str]:
    """The ``common`` strings of ems's translation file for ``lang``."""
    return json.loads((TRANSLATIONS / f"{lang}.json").read_text(encoding="utf-8"))["common"]


def _plan() -> dict[str, Any]:
    battery = run(STEPS, 0, 4, 2000)  # 21:00-22:00 charge
    battery[4:6] = [-1500.0, -1500.0]  # 22:00-22:30 discharge
    battery[6] = 20.0  # below the idle threshold: no event
    heater = [1500.0] * 8 + [600.0] * 8 + [1500.0] * (STEPS - 16)
    return make_plan(
        NOW,
        battery_w=battery,
        appliances={
            "dishwasher_uid": {
                "power_w": run(STEPS, 16, 20, 2000),
                "start": at(NOW, 16).isoformat(),
            },
            "water_heater_uid": {
                "power_w": [
                    a + b
                    for a, b in zip(run(STEPS, 4, 6, 3000), run(STEPS, 8, 10, 3000), strict=True)
                ],
                "start": None,
            },
            "heater_uid": {"power_w": heater, "start": None},
        },
    )


async def _events(hass: HomeAssistant, start, hours: float) -> list[dict[str, Any]]:
    response = await hass.services.async_call(
        "calendar",
        "get_events",
        {"entity_id": "calendar.home_plan", "start_date_time": start, "duration": {"hours": hours}},
        blocking=True,
        return_response=True,
    )
    return response["calendar.home_plan"]["events"]


def _local(value: str) -> str:
    return dt_util.as_local(dt_util.parse_datetime(value)).strftime("%H:%M")


async def test_calendar_events(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(NOW)
    await setup_site(hass, [DISHWASHER, WATER_HEATER, HEATER])
    assert hass.states.get("calendar.home_plan").state == "off"
    assert await _events(hass, NOW, 24) == []

    await hass.services.async_call(DOMAIN, "set_plan", {"plan": _plan()}, blocking=True)
    await hass.async_block_till_done()
    events = await _events(hass, NOW, 24)
    found = [(e["summary"], _local(e["start"]), _local(e["end"])) for e in events]
    assert found == [
        ("Battery charge", "21:00", "22:00"),
        ("Living room heater", "21:00", "23:00"),  # comfort periods of the pilot wire
        ("Battery discharge", "22:00", "22:30"),
        ("Water heater", "22:00", "22:30"),
        ("Water heater", "23:00", "23:30"),
        ("Dishwasher", "01:00", "02:00"),
        ("Living room heater", "01:00", "21:00"),
    ]
    dishwasher = next(e for e in events if e["summary"] == "Dishwasher")
    assert dishwasher["description"] == "Planned by ems: 2.00 kWh, 2000 W on average."
    charge = events[0]
    assert charge["description"] == "Planned by ems: 2.00 kWh, 2000 W on average."

    # The entity: on while a block runs, with the current block as its event.
    state = hass.states.get("calendar.home_plan")
    assert state.state == "on"
    assert state.attributes["message"] == "Battery charge"

    # A window: only what overlaps it.
    window = await _events(hass, at(NOW, 5), 1)
    assert [e["summary"] for e in window] == [
        "Living room heater",
        "Battery discharge",
        "Water heater",
        "Water heater",
    ]


async def test_calendar_in_french(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(NOW)
    hass.config.language = "fr"
    await setup_site(hass, [DISHWASHER])
    await hass.services.async_call(DOMAIN, "set_plan", {"plan": _plan()}, blocking=True)
    await hass.async_block_till_done()
    events = await _events(hass, NOW, 24)
    assert [e["summary"] for e in events] == [
        "Charge de la batterie",
        "Décharge de la batterie",
        "Dishwasher",
    ]
    assert events[0]["description"] == "Planifié par ems : 2.00 kWh, 2000 W en moyenne."


async def test_calendar_texts_are_the_translations(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The texts come from translations/<lang>.json (category "common"), not from the code."""
    freezer.move_to(NOW)
    hass.config.language = "fr"
    await setup_site(hass, [DISHWASHER])
    await hass.services.async_call(DOMAIN, "set_plan", {"plan": _plan()}, blocking=True)
    await hass.async_block_till_done()
    events = await _events(hass, NOW, 24)
    common = _common("fr")
    assert events[0]["summary"] == common["calendar_charge"]
    assert events[1]["summary"] == common["calendar_discharge"]
    assert events[0]["description"] == common["calendar_description"].format(
        energy="2.00", power="2000"
    )


async def test_calendar_in_a_language_ems_does_not_ship(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """German: Home Assistant's English fallback."""
    freezer.move_to(NOW)
    hass.config.language = "de"
    await setup_site(hass, [DISHWASHER])
    await hass.services.async_call(DOMAIN, "set_plan", {"plan": _plan()}, blocking=True)
    await hass.async_block_till_done()
    events = await _events(hass, NOW, 24)
    assert [e["summary"] for e in events] == ["Battery charge", "Battery discharge", "Dishwasher"]
    assert events[0]["description"] == "Planned by ems: 2.00 kWh, 2000 W on average."


async def test_calendar_follows_a_language_change(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Home Assistant's language changed in its settings: the next events use it."""
    freezer.move_to(NOW)
    await setup_site(hass, [DISHWASHER])
    await hass.services.async_call(DOMAIN, "set_plan", {"plan": _plan()}, blocking=True)
    await hass.async_block_till_done()
    assert hass.states.get("calendar.home_plan").attributes["message"] == "Battery charge"
    await hass.config.async_update(language="fr")
    await hass.async_block_till_done()
    assert hass.states.get("calendar.home_plan").attributes["message"] == "Charge de la batterie"
    events = await _events(hass, NOW, 24)
    assert events[0]["description"] == "Planifié par ems : 2.00 kWh, 2000 W en moyenne."


async def test_calendar_follows_time_and_new_plans(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    await setup_site(hass, [DISHWASHER])
    await hass.services.async_call(DOMAIN, "set_plan", {"plan": _plan()}, blocking=True)
    await hass.async_block_till_done()
    later = at(NOW, 6) + timedelta(minutes=1)
    freezer.move_to(later)
    async_fire_time_changed(hass, later)
    await hass.async_block_till_done()
    state = hass.states.get("calendar.home_plan")
    assert state.state == "off"  # between blocks
    assert state.attributes["message"] == "Dishwasher"  # the next one
    # An idle plan replaces it: nothing left.
    await hass.services.async_call(
        DOMAIN, "set_plan", {"plan": make_plan(at(NOW, 6))}, blocking=True
    )
    await hass.async_block_till_done()
    assert await _events(hass, NOW, 24) == []


@pytest.mark.parametrize(
    ("language", "why"),
    [
        ("en", "Why: grid power is cheaper now than when it will be used."),
        ("fr", "Pourquoi : le courant est moins cher maintenant qu'au moment où il servira."),
    ],
)
async def test_battery_blocks_say_why(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, language: str, why: str
) -> None:
    """Issue 13: 'why is my battery charging from the grid now?' — the calendar answers."""
    freezer.move_to(NOW)
    hass.config.language = language
    await setup_site(hass, [])
    plan = _plan()
    intents = [{"kind": "hold", "reason": "keep_for_later"}] * STEPS
    intents[0:4] = [{"kind": "charge", "reason": "cheap_grid_now"}] * 4
    plan["intents"] = intents
    await hass.services.async_call(DOMAIN, "set_plan", {"plan": plan}, blocking=True)
    await hass.async_block_till_done()
    charge = (await _events(hass, NOW, 1))[0]
    assert charge["description"].endswith(why)
