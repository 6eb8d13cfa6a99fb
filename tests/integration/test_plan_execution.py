"""Executing the plan with a frozen clock: switches at planned starts, pilot wire, staleness."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

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
    flaky,
    make_plan,
    run,
    setup_site,
)
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ems.const import DOMAIN

STEPS = 96
STORE_KEY = f"{DOMAIN}.plan.site_entry_id"


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


async def test_a_failed_release_is_retried(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A switch that does not answer at the end of a run is turned off at the next minute."""
    freezer.move_to(NOW)
    entry = await setup_site(hass, [WATER_HEATER])
    manager = entry.runtime_data.plan
    power = run(STEPS, 0, 2, 3000)
    await _set_plan(
        hass, make_plan(NOW, appliances={"water_heater_uid": {"power_w": power, "start": None}})
    )
    assert _state(hass, "input_boolean.water_heater") == "on"
    with flaky(manager, "_async_switch", 1, lambda _entity, on: not on):
        await _tick(hass, freezer, at(NOW, 2))  # end of the run: the switch does not answer
        assert _state(hass, "input_boolean.water_heater") == "on"
        await _tick(hass, freezer, at(NOW, 2) + timedelta(minutes=1))
    assert _state(hass, "input_boolean.water_heater") == "off"


async def test_a_failed_pilot_wire_release_is_retried(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [HEATER])
    manager = entry.runtime_data.plan
    await _set_plan(
        hass, make_plan(NOW, appliances={"heater_uid": {"power_w": [600.0] * STEPS, "start": None}})
    )
    assert _state(hass, "input_select.living_room_pilot_wire") == "eco"
    with flaky(manager, "_async_select", 1, lambda _entity, option: option == "comfort"):
        await _tick(hass, freezer, NOW + timedelta(minutes=61))  # stale: handed back, fails
        assert _state(hass, "input_select.living_room_pilot_wire") == "eco"
        await _tick(hass, freezer, NOW + timedelta(minutes=62))
    assert _state(hass, "input_select.living_room_pilot_wire") == "comfort"


async def test_a_failed_cycle_start_is_retried_within_its_step(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [DISHWASHER])
    manager = entry.runtime_data.plan
    await hass.services.async_call(
        DOMAIN,
        "set_appliance_request",
        {"appliance": "dishwasher_uid", "finish_by": "07:00"},
        blocking=True,
    )
    start = at(NOW, 1)
    await _set_plan(
        hass,
        make_plan(
            NOW,
            appliances={
                "dishwasher_uid": {"power_w": run(STEPS, 1, 5, 2000), "start": start.isoformat()}
            },
        ),
    )
    with flaky(manager, "_async_switch", 1):
        await _tick(hass, freezer, start)  # the plug does not answer: the start is not lost
        assert _state(hass, "input_boolean.dishwasher") == "off"
        assert manager.request("dishwasher_uid").enabled
        assert manager.request("dishwasher_uid").last_start is None
        await _tick(hass, freezer, start + timedelta(minutes=1))
    assert _state(hass, "input_boolean.dishwasher") == "on"
    assert manager.request("dishwasher_uid").last_start == start
    assert not manager.request("dishwasher_uid").enabled


async def test_loads_are_released_when_their_appliance_is_removed(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [WATER_HEATER, HEATER])
    await _set_plan(
        hass,
        make_plan(
            NOW,
            appliances={
                "water_heater_uid": {"power_w": run(STEPS, 0, 8, 3000), "start": None},
                "heater_uid": {"power_w": [600.0] * STEPS, "start": None},
            },
        ),
    )
    assert _state(hass, "input_boolean.water_heater") == "on"
    assert _state(hass, "input_select.living_room_pilot_wire") == "eco"
    water_heater, heater = list(entry.subentries)

    hass.config_entries.async_remove_subentry(entry, water_heater)
    await hass.async_block_till_done()
    assert _state(hass, "input_boolean.water_heater") == "off"
    assert _state(hass, "input_select.living_room_pilot_wire") == "eco"  # still planned

    hass.config_entries.async_remove_subentry(entry, heater)
    await hass.async_block_till_done()
    assert _state(hass, "input_select.living_room_pilot_wire") == "comfort"
    assert hass_storage[STORE_KEY]["data"]["driven"] == []


async def test_the_old_switch_is_released_when_the_appliance_changes_switch(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [WATER_HEATER])
    await _set_plan(
        hass,
        make_plan(
            NOW,
            appliances={"water_heater_uid": {"power_w": run(STEPS, 0, 8, 3000), "start": None}},
        ),
    )
    assert _state(hass, "input_boolean.water_heater") == "on"
    subentry = next(iter(entry.subentries.values()))
    hass.config_entries.async_update_subentry(
        entry, subentry, data={**subentry.data, "switch_entity": "input_boolean.heat_pump"}
    )
    await hass.async_block_till_done()
    assert _state(hass, "input_boolean.water_heater") == "off"
    # The plan still wants it on: its new switch is driven from the next minute.
    await _tick(hass, freezer, NOW + timedelta(minutes=1))
    assert _state(hass, "input_boolean.heat_pump") == "on"


async def test_loads_are_released_when_the_site_is_removed(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    freezer.move_to(NOW)
    entry = await setup_site(hass, [WATER_HEATER, HEATER])
    await _set_plan(
        hass,
        make_plan(
            NOW,
            appliances={
                "water_heater_uid": {"power_w": run(STEPS, 0, 8, 3000), "start": None},
                "heater_uid": {"power_w": [600.0] * STEPS, "start": None},
            },
        ),
    )
    assert _state(hass, "input_boolean.water_heater") == "on"
    assert _state(hass, "input_select.living_room_pilot_wire") == "eco"
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert _state(hass, "input_boolean.water_heater") == "off"
    assert _state(hass, "input_select.living_room_pilot_wire") == "comfort"
    assert STORE_KEY not in hass_storage


async def test_a_driven_list_of_an_older_version_is_read(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    """Stored by an older version (uids only): the entity is taken from the appliance."""
    freezer.move_to(NOW)
    hass_storage[STORE_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": STORE_KEY,
        "data": {"plan": None, "driven": ["water_heater_uid", "gone_uid"]},
    }
    await setup_site(hass, [WATER_HEATER])
    assert hass_storage[STORE_KEY]["data"]["driven"] == [
        {"uid": "water_heater_uid", "entity_id": "input_boolean.water_heater", "option": None}
    ]


async def test_no_execution_after_unload(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A minute tick already on its way when the site unloads does nothing."""
    freezer.move_to(NOW)
    entry = await setup_site(hass, [WATER_HEATER])
    manager = entry.runtime_data.plan
    await _set_plan(
        hass,
        make_plan(
            NOW,
            appliances={"water_heater_uid": {"power_w": run(STEPS, 0, 2, 3000), "start": None}},
        ),
    )
    assert _state(hass, "input_boolean.water_heater") == "on"
    calls = driven_calls(hass)
    assert await hass.config_entries.async_unload(entry.entry_id)
    freezer.move_to(at(NOW, 3))
    await manager._async_tick(at(NOW, 3))
    await manager._async_execute(at(NOW, 3))
    await hass.async_block_till_done()
    assert calls == []


async def test_a_minute_tick_is_skipped_while_the_plan_is_executed(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A slow switch: the minute tick does not queue behind the execution in progress."""
    freezer.move_to(NOW)
    entry = await setup_site(hass, [WATER_HEATER])
    manager = entry.runtime_data.plan
    gate = asyncio.Event()
    switched: list[tuple[str, bool]] = []

    async def slow_switch(entity_id: str, on: bool) -> None:
        switched.append((entity_id, on))
        await gate.wait()  # the switch answers late, and its state does not change

    plan = make_plan(
        NOW, appliances={"water_heater_uid": {"power_w": run(STEPS, 0, 8, 3000), "start": None}}
    )
    with patch.object(manager, "_async_switch", slow_switch):
        await hass.services.async_call(DOMAIN, "set_plan", {"plan": plan}, blocking=True)
        for _ in range(5):
            await asyncio.sleep(0)
        assert switched == [("input_boolean.water_heater", True)]
        moment = NOW + timedelta(minutes=1)
        freezer.move_to(moment)
        async_fire_time_changed(hass, moment)
        for _ in range(5):
            await asyncio.sleep(0)
        gate.set()
        await hass.async_block_till_done()
    assert len(switched) == 1


async def test_a_plan_that_has_not_started_is_stale(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Until its first step, a plan is not followed, and says why."""
    freezer.move_to(NOW)
    entry = await setup_site(hass, [])
    manager = entry.runtime_data.plan
    start = at(NOW, 2)
    await _set_plan(hass, make_plan(start, battery_w=[1000.0] * STEPS))
    assert manager.slot(NOW) is None
    assert manager.stale_reason(NOW) == "not_started"
    assert manager.is_stale(NOW)
    assert manager.battery_setpoint_w(NOW) is None
    stale = hass.states.get("binary_sensor.home_plan_stale")
    assert stale.state == "on"
    assert stale.attributes["reason"] == "not_started"

    await _tick(hass, freezer, start)
    assert manager.stale_reason(start) is None
    assert manager.battery_setpoint_w(start) == 1000
    assert hass.states.get("binary_sensor.home_plan_stale").state == "off"
