"""Executing the plan with a frozen clock: switches at planned starts, pilot wire, staleness."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from plan_helpers import (
    DISHWASHER,
    EV,
    HEATER,
    NOW,
    WATER_HEATER,
    at,
    driven_calls,
    make_plan,
    run,
    setup_site,
)
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ems.const import DOMAIN

STEPS = 96


async def _set_plan(hass: HomeAssistant, plan: dict[str, Any]) -> None:
    await hass.services.async_call(DOMAIN, "set_plan", {"plan": plan}, blocking=True)
    await hass.async_block_till_done()


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: datetime) -> None:
    freezer.move_to(moment)
    async_fire_time_changed(hass, moment)
    await hass.async_block_till_done()


def _moment(hass: HomeAssistant, entity_id: str) -> datetime | None:
    return dt_util.parse_datetime(hass.states.get(entity_id).state)


def _state(hass: HomeAssistant, entity_id: str) -> str:
    return hass.states.get(entity_id).state


async def test_water_heater_on_at_start_off_at_end(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    await setup_site(hass, [WATER_HEATER])
    calls = driven_calls(hass)
    # 22:00-23:00 at 3 kW, then 23:15-23:30.
    power = [a + b for a, b in zip(run(STEPS, 4, 8, 3000), run(STEPS, 9, 10, 3000), strict=True)]
    await _set_plan(
        hass, make_plan(NOW, appliances={"water_heater_uid": {"power_w": power, "start": None}})
    )
    assert calls == []
    assert _moment(hass, "sensor.water_heater_next_start") == at(NOW, 4)

    await _tick(hass, freezer, at(NOW, 3) + timedelta(minutes=14))
    assert calls == []
    # Re-sent by the add-on every 15 minutes: the plan stays fresh.
    await _set_plan(
        hass,
        make_plan(
            at(NOW, 3),
            appliances={"water_heater_uid": {"power_w": power[3:] + [0.0] * 3, "start": None}},
        ),
    )
    await _tick(hass, freezer, at(NOW, 4))
    assert calls == [("input_boolean", "turn_on", {"entity_id": "input_boolean.water_heater"})]
    assert _state(hass, "input_boolean.water_heater") == "on"
    await _tick(hass, freezer, at(NOW, 5))
    assert len(calls) == 1  # already on: not switched again

    await _set_plan(
        hass,
        make_plan(
            at(NOW, 6),
            appliances={"water_heater_uid": {"power_w": power[6:] + [0.0] * 6, "start": None}},
        ),
    )
    await _tick(hass, freezer, at(NOW, 8))
    assert calls[-1] == ("input_boolean", "turn_off", {"entity_id": "input_boolean.water_heater"})
    assert _state(hass, "input_boolean.water_heater") == "off"
    await _tick(hass, freezer, at(NOW, 9))
    assert calls[-1][1] == "turn_on"
    await _tick(hass, freezer, at(NOW, 10))
    assert calls[-1][1] == "turn_off"
    assert len(calls) == 4


async def test_nothing_runs_from_a_stale_plan_and_a_run_is_released(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    await setup_site(hass, [WATER_HEATER, EV])
    calls = driven_calls(hass)
    plan = make_plan(
        NOW,
        appliances={
            "water_heater_uid": {"power_w": run(STEPS, 2, 12, 3000), "start": None},
            "ev_uid": {"power_w": run(STEPS, 6, 8, 7400), "start": None},
        },
    )
    await hass.services.async_call(
        DOMAIN, "set_appliance_request", {"appliance": "ev_uid", "energy_wh": 3700}, blocking=True
    )
    await _set_plan(hass, plan)
    await _tick(hass, freezer, at(NOW, 2))
    assert _state(hass, "input_boolean.water_heater") == "on"
    # The add-on stopped: the plan goes stale during the run.
    await _tick(hass, freezer, NOW + timedelta(minutes=61))
    assert _state(hass, "input_boolean.water_heater") == "off"  # released by ems
    assert hass.states.get("sensor.water_heater_next_start").state == STATE_UNAVAILABLE
    await _tick(hass, freezer, at(NOW, 6))  # the EV's planned start, from a stale plan
    assert _state(hass, "input_boolean.ev_charger") == "off"
    assert [c[1] for c in calls] == ["turn_on", "turn_off"]


async def test_let_ems_schedule_it_off_means_hands_off(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    await setup_site(hass, [WATER_HEATER])
    plan = make_plan(
        NOW, appliances={"water_heater_uid": {"power_w": run(STEPS, 0, 3, 3000), "start": None}}
    )
    await _set_plan(hass, plan)
    assert _state(hass, "input_boolean.water_heater") == "on"
    # The household takes it back: ems turns off what it turned on, and does nothing more.
    await hass.services.async_call(
        "switch",
        "turn_off",
        {"entity_id": "switch.water_heater_let_ems_schedule_it"},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert _state(hass, "input_boolean.water_heater") == "off"
    assert hass.states.get("sensor.water_heater_next_start").state == STATE_UNKNOWN
    await _tick(hass, freezer, at(NOW, 1))
    assert _state(hass, "input_boolean.water_heater") == "off"


async def test_cycle_starts_once_at_its_planned_start(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [DISHWASHER])
    calls = driven_calls(hass)
    manager = entry.runtime_data.plan
    assert hass.states.get("switch.dishwasher_let_ems_schedule_it").state == "off"
    assert hass.states.get("datetime.dishwasher_finish_by").state == "2025-01-16T06:00:00+00:00"

    # "Dishwasher done by 07:00": armed by the request.
    await hass.services.async_call(
        DOMAIN,
        "set_appliance_request",
        {"entity_id": "datetime.dishwasher_finish_by", "finish_by": "07:00"},
        blocking=True,
    )
    assert hass.states.get("switch.dishwasher_let_ems_schedule_it").state == "on"
    start = at(NOW, 16)  # 01:00
    power = run(STEPS, 16, 20, 2000)
    await _set_plan(
        hass,
        make_plan(
            NOW, appliances={"dishwasher_uid": {"power_w": power, "start": start.isoformat()}}
        ),
    )
    assert _moment(hass, "sensor.dishwasher_next_start") == start

    # Just before its start, the add-on's latest plan (same start) arrives.
    later = make_plan(
        at(NOW, 15),
        appliances={
            "dishwasher_uid": {"power_w": power[15:] + [0.0] * 15, "start": start.isoformat()}
        },
    )
    await _tick(hass, freezer, at(NOW, 15) + timedelta(minutes=5))
    await _set_plan(hass, later)
    assert calls == []
    await _tick(hass, freezer, start)
    assert calls == [("input_boolean", "turn_on", {"entity_id": "input_boolean.dishwasher"})]
    # Its request is done: the switch is off until the household loads it again.
    assert manager.request("dishwasher_uid").last_start == start
    assert hass.states.get("switch.dishwasher_let_ems_schedule_it").state == "off"
    assert hass.states.get("sensor.dishwasher_next_start").state == STATE_UNKNOWN
    await _tick(hass, freezer, start + timedelta(minutes=1))
    assert len(calls) == 1


async def test_cycle_is_not_started_late(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A start missed by more than a step (e.g. Home Assistant was down) is left to re-planning."""
    freezer.move_to(NOW)
    await setup_site(hass, [DISHWASHER])
    calls = driven_calls(hass)
    await hass.services.async_call(
        DOMAIN,
        "set_appliance_request",
        {"appliance": "dishwasher_uid", "enabled": True},
        blocking=True,
    )
    plan = make_plan(
        NOW - timedelta(minutes=30),
        appliances={
            "dishwasher_uid": {
                "power_w": run(STEPS, 0, 4, 2000),
                "start": (NOW - timedelta(minutes=30)).isoformat(),
            }
        },
    )
    await _set_plan(hass, plan)
    assert calls == []


async def test_pilot_wire_follows_comfort_and_eco(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    await setup_site(hass, [HEATER])
    calls = driven_calls(hass)
    power = [1500.0] * 2 + [600.0] * 2 + [1500.0] * (STEPS - 4)
    await _set_plan(
        hass, make_plan(NOW, appliances={"heater_uid": {"power_w": power, "start": None}})
    )
    assert calls == []  # already in comfort
    await _tick(hass, freezer, at(NOW, 2))
    assert calls == [
        (
            "input_select",
            "select_option",
            {"entity_id": "input_select.living_room_pilot_wire", "option": "eco"},
        )
    ]
    assert _state(hass, "input_select.living_room_pilot_wire") == "eco"
    await _tick(hass, freezer, at(NOW, 3))
    assert len(calls) == 1
    # Stale while in eco: released to comfort (a pilot wire without orders is comfort).
    await _tick(hass, freezer, NOW + timedelta(minutes=61))
    assert _state(hass, "input_select.living_room_pilot_wire") == "comfort"
    assert calls[-1][2]["option"] == "comfort"


async def test_a_failing_switch_does_not_stop_the_others(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog
) -> None:
    freezer.move_to(NOW)
    broken_ev = ConfigSubentryData(
        data={**EV["data"], "switch_entity": "light.garage_charger"},
        subentry_type="appliance",
        title="Car",
        unique_id="appliance:light.garage_charger",
    )
    await setup_site(hass, [WATER_HEATER, broken_ev])
    await hass.services.async_call(
        DOMAIN, "set_appliance_request", {"appliance": "ev_uid", "energy_wh": 3700}, blocking=True
    )
    plan = make_plan(
        NOW,
        appliances={
            "ev_uid": {"power_w": run(STEPS, 0, 2, 7400), "start": None},
            "water_heater_uid": {"power_w": run(STEPS, 0, 2, 3000), "start": None},
        },
    )
    await _set_plan(hass, plan)
    assert _state(hass, "input_boolean.water_heater") == "on"
    assert "ems could not drive Car" in caplog.text
