"""The site controller against the simulator: step responses, modes, watchdog, restore."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
from plan_helpers import make_plan
import pytest
from pytest_homeassistant_custom_component.common import (
    mock_restore_cache_with_extra_data,
)
from site_helpers import ControlClock as Clock, setup_site

from custom_components.ems.const import CONTROL_INTERVAL_S, DOMAIN
from custom_components.ems.controller import SiteState
from custom_components.ems.core.decide import PI_KI_PER_S, PI_KP, Mode

TOLERANCE_W = 50.0


@pytest.fixture
async def site(hass: HomeAssistant, sim):
    """Battery (controlled), PV and meter; a dark sky and a flat 800 W house load."""
    sim.site.pv.scale = 0.0
    sim.site.meter.load_scale = 0.0
    sim.site.meter.extra_load_w = 800.0
    sim.site.battery.soc = 60.0
    sim.site.refresh()
    entry = await setup_site(hass, sim)
    yield entry
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def _settling(errors: list[float]) -> int | None:
    """Cycles until the error stays within the tolerance for good."""
    for index in range(len(errors)):
        if all(abs(e) <= TOLERANCE_W for e in errors[index:]):
            return index
    return None


async def _select(hass: HomeAssistant, mode: str) -> None:
    await hass.services.async_call(
        "select", "select_option", {"entity_id": "select.home_mode", "option": mode}, True
    )


async def _grid_charging(hass: HomeAssistant, on: bool = True) -> None:
    service = "turn_on" if on else "turn_off"
    await hass.services.async_call(
        "switch", service, {"entity_id": "switch.home_charge_from_the_grid"}, blocking=True
    )


async def _set(hass: HomeAssistant, entity_id: str, value: float) -> None:
    await hass.services.async_call(
        "number", "set_value", {"entity_id": entity_id, "value": value}, True
    )


async def test_self_consumption_step_response(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    assert controller.mode is Mode.SELF_CONSUMPTION
    clock = Clock(controller, sim)
    start = await clock.run(12)
    assert _settling(start) is not None
    # Load step of +2000 W: the battery takes it over.
    sim.site.meter.extra_load_w += 2000.0
    after_up = await clock.run(20)
    settle_up = _settling(after_up)
    overshoot_up = max(0.0, -min(after_up))  # exported while settling
    # Load step of −2500 W: the battery backs off without charging from the grid.
    sim.site.meter.extra_load_w -= 2500.0
    after_down = await clock.run(20)
    settle_down = _settling(after_down)
    overshoot_down = max(0.0, *after_down[1:])
    print(
        f"\nself-consumption on the simulator (Δt = {CONTROL_INTERVAL_S:.0f} s): +2000 W step "
        f"settles within ±{TOLERANCE_W:.0f} W in {settle_up} cycles "
        f"({settle_up * CONTROL_INTERVAL_S:.0f} s), overshoot {overshoot_up:.0f} W; −2500 W step "
        f"in {settle_down} cycles, overshoot {overshoot_down:.0f} W"
    )
    assert settle_up is not None
    assert settle_up <= 6
    assert settle_down is not None
    assert settle_down <= 6
    assert overshoot_up < 600
    assert float(hass.states.get("sensor.home_battery_setpoint").state) == pytest.approx(
        -300, abs=TOLERANCE_W
    )
    assert hass.states.get("sensor.home_controller_state").state == "running"


async def test_grid_target_and_battery_floor(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    await _set(hass, "number.home_grid_target", 300)
    clock = Clock(controller, sim)
    grid = await clock.run(15)
    assert grid[-1] == pytest.approx(300, abs=TOLERANCE_W)
    # At the SOC floor the battery stops discharging; the limit reason says why.
    sim.site.battery.soc = 10.0
    sim.site.refresh()
    await clock.run(3)
    assert sim.site.battery.setpoint == 0
    assert hass.states.get("sensor.home_limit_reason").state == "soc_min"


async def test_peak_shaving(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    await _set(hass, "number.home_peak_shaving_import_threshold", 2000)
    await _set(hass, "number.home_peak_shaving_recharge_threshold", 500)
    await _select(hass, "peak_shaving")
    sim.site.meter.extra_load_w = 3500.0
    clock = Clock(controller, sim)
    grid = await clock.run(6)
    assert grid[-1] == pytest.approx(2000, abs=TOLERANCE_W)  # only the peak is shaved
    # Between the thresholds the battery idles.
    sim.site.meter.extra_load_w = 1200.0
    grid = await clock.run(4)
    assert sim.site.battery.setpoint == 0
    assert grid[-1] == pytest.approx(1200, abs=TOLERANCE_W)
    # Below the recharge threshold it would recharge from the grid: not while that is off.
    sim.site.meter.extra_load_w = 100.0
    grid = await clock.run(4)
    assert sim.site.battery.setpoint == 0
    assert hass.states.get("sensor.home_limit_reason").state == "grid_charging_off"
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.home_charge_from_the_grid"}, True
    )
    grid = await clock.run(4)
    assert sim.site.battery.setpoint == pytest.approx(400, abs=TOLERANCE_W)


async def test_charge_only(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    await _select(hass, "charge_only")
    clock = Clock(controller, sim)
    await clock.run(6)
    assert sim.site.battery.setpoint == 0  # never discharges, no surplus, no grid charging
    # Grid charging up to the target SOC.
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.home_charge_from_the_grid"}, True
    )
    await _set(hass, "number.home_target_state_of_charge", 70)
    await clock.run(6)  # ramps up at the site's ramp rate (200 W/s by default)
    assert sim.site.battery.setpoint == 5000
    sim.site.battery.soc = 71.0
    sim.site.refresh()
    await clock.run(3)
    assert sim.site.battery.setpoint == 0  # target reached, nothing left to take from PV


async def test_backup_reserve(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    await _set(hass, "number.home_backup_reserve", 50)
    await _grid_charging(hass)
    await _select(hass, "backup")
    clock = Clock(controller, sim)
    sim.site.battery.soc = 40.0
    sim.site.refresh()
    await clock.run(6)
    assert sim.site.battery.setpoint == 5000  # refill the reserve first
    sim.site.battery.soc = 50.0
    sim.site.refresh()
    await clock.run(3)
    assert sim.site.battery.setpoint == 0  # never below the reserve
    assert hass.states.get("sensor.home_limit_reason").state == "soc_min"
    battery = controller.problem_battery()
    assert battery is not None
    assert battery["soc_min_pct"] == 50


async def test_manual_external_and_passive(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    clock = Clock(controller, sim)
    await _select(hass, "external")
    await clock.run(1)
    assert sim.site.battery.setpoint == 0  # no external setpoint yet: safe value
    await _set(hass, "number.home_external_battery_setpoint", -1500)
    controller.external_updated = clock.now
    await clock.run(2)
    assert sim.site.battery.setpoint == -1500
    await clock.run(int(130 / CONTROL_INTERVAL_S))  # no heartbeat for longer than the timeout
    assert sim.site.battery.setpoint == 0

    await _select(hass, "manual")
    await _grid_charging(hass)
    await _set(hass, "number.home_manual_battery_setpoint", 2000)
    await clock.run(3)
    assert sim.site.battery.setpoint == 2000
    # Passive: one final 0 W, then ems never writes again.
    await _select(hass, "passive")
    assert sim.site.battery.setpoint == 0
    sim.site.units[1].set("setpoint", 1234)
    await clock.run(3)
    assert sim.site.units[1].get("setpoint") == 1234


async def test_auto_without_a_plan_falls_back(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    await _select(hass, "auto")
    clock = Clock(controller, sim)
    grid = await clock.run(12)
    assert grid[-1] == pytest.approx(0, abs=TOLERANCE_W)  # self-consumption
    state = hass.states.get("select.home_mode")
    assert state.state == "auto"
    assert state.attributes["effective_mode"] == "self_consumption"
    assert state.attributes["fallback"] == "plan_stale"
    assert hass.states.get("sensor.home_controller_state").state == "degraded"
    issue_id = f"plan_stale_{site.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    await _select(hass, "self_consumption")
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_meter_outage_gives_the_safe_value(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    clock = Clock(controller, sim)
    await clock.run(10)
    assert sim.site.battery.setpoint < -500
    sim.faults.exception(3, 4)  # the meter fails every request
    await clock.run(1)
    assert sim.site.battery.setpoint == 0
    assert controller.state is SiteState.ERROR
    assert hass.states.get("sensor.home_controller_state").state == "error"
    await sim.faults.clear()
    meter = next(c for c in site.runtime_data.devices.values() if c.kind == "meter")
    await meter.async_refresh()
    grid = await clock.run(10)
    assert controller.state is SiteState.RUNNING
    assert grid[-1] == pytest.approx(0, abs=TOLERANCE_W)


async def test_no_write_without_control(hass: HomeAssistant, sim) -> None:
    sim.site.pv.scale = 0.0
    sim.site.meter.load_scale = 0.0
    sim.site.meter.extra_load_w = 800.0
    sim.site.refresh()
    entry = await setup_site(hass, sim, control=False)
    controller = entry.runtime_data.controller
    await Clock(controller, sim).run(5)
    assert sim.site.battery.setpoint == 0
    outcome = next(iter(controller.last.batteries.values()))
    assert not outcome.written
    assert outcome.setpoint_w < 0  # what it would do, shown in the attributes
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_mode_and_settings_restored(hass: HomeAssistant, sim) -> None:
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State("number.home_peak_shaving_import_threshold", "2500"),
                {
                    "native_value": 2500.0,
                    "native_min_value": 0.0,
                    "native_max_value": 100000.0,
                    "native_step": 10.0,
                    "native_unit_of_measurement": "W",
                },
            ),
            (State("select.home_mode", "peak_shaving"), {}),
            (State("switch.home_charge_from_the_grid", "on"), {}),
        ],
    )
    entry = await setup_site(hass, sim)
    controller = entry.runtime_data.controller
    assert controller.mode is Mode.PEAK_SHAVING
    assert controller.settings.peak_import_threshold_w == 2500
    assert controller.settings.grid_charging is True
    assert hass.states.get("select.home_mode").state == "peak_shaving"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_unload_releases_the_battery(hass: HomeAssistant, sim) -> None:
    sim.site.pv.scale = 0.0
    sim.site.meter.load_scale = 0.0
    sim.site.meter.extra_load_w = 800.0
    sim.site.refresh()
    entry = await setup_site(hass, sim)
    await Clock(entry.runtime_data.controller, sim).run(6)
    assert sim.site.battery.setpoint < 0
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert sim.site.battery.setpoint == 0


async def test_auto_follows_the_plan_through_the_limiter(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    now = dt_util.utcnow()
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    battery_w = [1500.0] * 2 + [-7000.0] * 94
    await hass.services.async_call(
        DOMAIN, "set_plan", {"plan": make_plan(start, battery_w=battery_w)}, blocking=True
    )
    clock = Clock(controller, sim)
    clock.now = now
    await _grid_charging(hass)
    await _select(hass, "auto")
    await clock.run(3)
    assert sim.site.battery.setpoint == 1500  # the plan's slot, slot by slot
    assert hass.states.get("select.home_mode").attributes["effective_mode"] == "auto"
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"plan_stale_{site.entry_id}") is None
    # Half an hour later the plan asks for more than the battery can give: the limiter holds it.
    clock.now = start + timedelta(minutes=31)
    await clock.run(7)  # stop, then ramp down at the site's ramp rate
    assert sim.site.battery.setpoint == -5000
    assert hass.states.get("sensor.home_limit_reason").state == "power"
    # Past its end (and more than an hour old) the plan is stale: self-consumption again.
    clock.now = start + timedelta(hours=25)
    await clock.run(12)
    assert controller.last.effective_mode is Mode.SELF_CONSUMPTION
    assert controller.last.fallback == "plan_stale"


async def test_control_switched_off_releases_the_battery(hass: HomeAssistant, site, sim) -> None:
    await _select(hass, "manual")
    await _set(hass, "number.home_manual_battery_setpoint", -1500)
    await Clock(site.runtime_data.controller, sim).run(2)
    assert sim.site.battery.setpoint == -1500
    hass.config_entries.async_update_entry(site, options={**site.options, "control": []})
    await hass.async_block_till_done()
    assert sim.site.battery.setpoint == 0  # released by the reload, nothing left in force


async def test_home_assistant_stop_releases_the_battery(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    await Clock(controller, sim).run(6)
    assert sim.site.battery.setpoint < 0
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert sim.site.battery.setpoint == 0
    await controller.async_tick()  # a tick in flight after the stop does nothing
    assert sim.site.battery.setpoint == 0


async def test_self_consumption_restarts_afresh(hass: HomeAssistant, site, sim) -> None:
    """A PI mode re-entered after another mode does not resume its old integral."""
    controller = site.runtime_data.controller
    clock = Clock(controller, sim)
    await clock.run(12)  # self-consumption: about −800 W
    await _select(hass, "manual")  # 0 W for a while, the house imports 800 W
    await clock.run(10)
    await _select(hass, "self_consumption")
    # A fresh PI from 0 W on an 800 W import: kp·e + ki·Δt·e, not the old −800 W integral on top.
    fresh = -(PI_KP * 800 + PI_KI_PER_S * CONTROL_INTERVAL_S * 800)
    assert controller.last.requested_w == pytest.approx(fresh, abs=60)


# --- the battery is watched: alarms, frozen values, rejected writes (issue F1, F2, F3) --------


async def _manual(hass: HomeAssistant, watts: float) -> None:
    await _select(hass, "manual")
    await _grid_charging(hass)
    await _set(hass, "number.home_manual_battery_setpoint", watts)


async def test_alarm_holds_the_battery_and_ramps_back(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    clock = Clock(controller, sim)
    await _manual(hass, 3000)
    await clock.run(4)
    assert sim.site.battery.setpoint == 3000
    sim.faults.device_fault(1)
    await clock.run(1)  # one poll: the controller refreshes the battery every tick
    assert sim.site.battery.setpoint == 0
    assert hass.states.get("sensor.home_limit_reason").state == "alarm"
    assert hass.states.get("binary_sensor.battery_control_problem").state == "on"
    assert hass.states.get("sensor.home_status").state == "batteries_held"
    assert hass.states.get("sensor.home_controller_state").state == "error"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"battery_alarm_{_battery_id(site)}")
    assert issue is not None
    assert "alarm_fault" in issue.translation_placeholders["detail"]
    # On clear the power ramps back at the site's ramp rate, it never jumps.
    sim.faults.device_fault(1, on=False)
    seen = []
    for _ in range(4):
        await clock.run(1)
        seen.append(sim.site.battery.setpoint)
    assert seen == [1000, 2000, 3000, 3000]
    assert hass.states.get("binary_sensor.battery_control_problem").state == "off"
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"battery_alarm_{_battery_id(site)}") is None


async def test_frozen_registers_hold_the_battery(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    clock = Clock(controller, sim)
    await _manual(hass, 2000)
    await clock.run(3)
    assert sim.site.battery.setpoint == 2000
    sim.faults.freeze(1)
    held_after = None
    for tick in range(int(180 / CONTROL_INTERVAL_S)):
        await clock.run(1)
        if sim.site.battery.setpoint == 0:
            held_after = (tick + 1) * CONTROL_INTERVAL_S
            break
    assert held_after is not None
    assert held_after <= 180
    assert hass.states.get("sensor.home_limit_reason").state == "stale_values"
    attributes = hass.states.get("binary_sensor.battery_control_problem").attributes
    assert attributes["problems"] == ["battery_stale"]
    # Frozen values are not shown as if they were live.
    assert hass.states.get("sensor.battery_state_of_charge").state == "unavailable"
    assert hass.states.get("sensor.home_battery_state_of_charge").state == "unavailable"
    # Live values again: trusted again.
    sim.faults.unfreeze(1)
    await clock.run(3)
    assert sim.site.battery.setpoint > 0
    assert hass.states.get("sensor.battery_state_of_charge").state != "unavailable"


async def test_a_frozen_meter_is_not_used(hass: HomeAssistant, site, sim) -> None:
    """A stuck meter would drive the PI loop on an old value: 0 W and the status says why."""
    controller = site.runtime_data.controller
    clock = Clock(controller, sim)
    await _select(hass, "self_consumption")
    await clock.run(6)
    assert sim.site.battery.setpoint < 0  # covering the house
    sim.faults.freeze(3)
    await clock.run(int(150 / CONTROL_INTERVAL_S))
    assert sim.site.battery.setpoint == 0
    assert hass.states.get("sensor.home_status").state == "no_meter"
    assert hass.states.get("sensor.grid_meter_power").state == "unavailable"
    sim.faults.unfreeze(3)
    await clock.run(6)
    assert hass.states.get("sensor.home_status").state == "self_consumption"


async def test_rejected_writes_show(hass: HomeAssistant, site, sim) -> None:
    controller = site.runtime_data.controller
    clock = Clock(controller, sim)
    # Every setpoint write answers "device failure"; reads still work.
    sim.faults.exception(1, 4, table="holding", writes_only=True)
    await _manual(hass, 2000)
    await clock.run(int(60 / CONTROL_INTERVAL_S))
    state = hass.states.get("binary_sensor.battery_control_problem")
    assert state.state == "on"
    assert state.attributes["write_failures"] >= 2
    assert state.attributes["problems"] == ["battery_write_failed"]
    assert hass.states.get("sensor.home_controller_state").state in ("error", "degraded")
    assert hass.states.get("sensor.home_status").state == "batteries_held"
    diagnostics = controller.diagnostics()["batteries"][_battery_id(site)]
    assert diagnostics["write_failures"] >= 2
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"battery_write_failed_{_battery_id(site)}")
    # Writes accepted again: the battery is trusted again (retried with back-off).
    sim.faults.clear_exception(1)
    await clock.run(int(60 / CONTROL_INTERVAL_S))
    assert hass.states.get("binary_sensor.battery_control_problem").state == "off"
    assert sim.site.battery.setpoint == 2000


async def test_a_battery_that_ignores_its_command_is_reported(
    hass: HomeAssistant, site, sim
) -> None:
    controller = site.runtime_data.controller
    clock = Clock(controller, sim)
    await _manual(hass, 2000)
    sim.faults.override(1, "power", 0)  # the register reads 0 W whatever it is told
    await clock.run(int(120 / CONTROL_INTERVAL_S))
    problems = hass.states.get("binary_sensor.battery_control_problem").attributes["problems"]
    assert "battery_not_following" in problems


async def test_export_limit_holds_in_every_mode(hass: HomeAssistant, site, sim) -> None:
    """F6: the export limit is a limiter constraint, not a peak-shaving rule."""
    hass.config_entries.async_update_entry(site, data={**site.data, "export_limit_w": 1000})
    await hass.config_entries.async_reload(site.entry_id)
    await hass.async_block_till_done()
    controller = site.runtime_data.controller
    clock = Clock(controller, sim)
    await _manual(hass, -5000)  # the house takes 800 W: 4.2 kW would go to the grid
    grid = await clock.run(6)
    assert grid[-1] >= -1000 - TOLERANCE_W
    assert sim.site.battery.setpoint == pytest.approx(-1800, abs=TOLERANCE_W)
    assert hass.states.get("sensor.home_limit_reason").state == "grid_export_limit"


async def test_settings_survive_a_restart_without_their_entities(
    hass: HomeAssistant, site, sim
) -> None:
    """The controller keeps its settings: a disabled SOC entity does not reset the floor."""
    await _set(hass, "number.home_minimum_state_of_charge", 25)
    await _select(hass, "peak_shaving")
    ent_reg = er.async_get(hass)
    ent_reg.async_update_entity(
        "number.home_minimum_state_of_charge", disabled_by=er.RegistryEntryDisabler.USER
    )
    await hass.async_block_till_done()
    assert await hass.config_entries.async_reload(site.entry_id)
    await hass.async_block_till_done()
    controller = site.runtime_data.controller
    assert controller.settings.soc_min_pct == 25
    assert controller.mode is Mode.PEAK_SHAVING


async def test_a_plan_that_starts_later_is_waited_for(hass: HomeAssistant, site, sim) -> None:
    """F12: a plan starting in 2030 is accepted; the status says until when it waits."""
    start = datetime(2030, 1, 1, tzinfo=UTC)
    await hass.services.async_call(
        DOMAIN, "set_plan", {"plan": make_plan(start, battery_w=[0.0] * 96)}, blocking=True
    )
    await _select(hass, "auto")
    await Clock(site.runtime_data.controller, sim).run(1)
    status = hass.states.get("sensor.home_status")
    assert status.state == "self_consumption_waiting_plan"
    assert status.attributes["waiting_until"].startswith("2030-01-01")
    assert hass.states.get("select.home_mode").state == "auto"


async def test_status_says_when_nothing_may_be_commanded(hass: HomeAssistant, site, sim) -> None:
    """F16: not "running" while no battery may be commanded."""
    hass.config_entries.async_update_entry(site, options={**site.options, "control": []})
    await hass.async_block_till_done()
    await Clock(site.runtime_data.controller, sim).run(1)
    assert hass.states.get("sensor.home_status").state == "dry_run"
    assert hass.states.get("sensor.home_controller_state").state == "degraded"


def _battery_id(site) -> str:
    return next(s for s, sub in site.subentries.items() if sub.subentry_type == "battery")


async def test_auto_follows_the_intent_when_the_load_departs_from_the_forecast(
    hass: HomeAssistant, site, sim
) -> None:
    """Issue 13: a self-consumption step covers the real load, not the planned 500 W."""
    controller = site.runtime_data.controller
    now = dt_util.utcnow()
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    plan = make_plan(start, battery_w=[-500.0] * 96)
    plan["intents"] = [{"kind": "self_consumption", "reason": "cover_load"}] * 96
    await hass.services.async_call(DOMAIN, "set_plan", {"plan": plan}, blocking=True)
    sim.site.meter.extra_load_w = 2300.0  # a kettle on top of the forecast
    clock = Clock(controller, sim)
    clock.now = now
    await _select(hass, "auto")
    grid = await clock.run(20)
    assert controller.last.effective_mode is Mode.AUTO
    assert grid[-1] == pytest.approx(0, abs=TOLERANCE_W)  # the fixed -500 W would import 1.8 kW
    assert sim.site.battery.setpoint < -2000
    # "Why is my battery doing this?": the intent and its reason, in the entity.
    state = hass.states.get("sensor.home_battery_plan_now")
    assert state.state == "self_consumption"
    assert state.attributes["reason"] == "cover_load"


async def test_the_battery_plan_now_is_unavailable_without_intents(
    hass: HomeAssistant, site, sim
) -> None:
    now = dt_util.utcnow()
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    await hass.services.async_call(DOMAIN, "set_plan", {"plan": make_plan(start)}, blocking=True)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.home_battery_plan_now").state == "unavailable"


async def test_removing_the_site_leaves_no_repair_and_no_settings(
    hass: HomeAssistant, sim, hass_storage
) -> None:
    """A removed site takes its battery repairs, its plan-source repair and its store along."""
    entry = await setup_site(hass, sim)
    controller = entry.runtime_data.controller
    clock = Clock(controller, sim)
    await _manual(hass, 2000)
    await clock.run(2)
    sim.faults.device_fault(1)
    await clock.run(1)
    now = dt_util.utcnow()
    plan = make_plan(now.replace(second=0, microsecond=0), battery_w=[0.0] * 96)
    for source in ("one", "two"):
        await hass.services.async_call(
            DOMAIN, "set_plan", {"plan": plan, "source": source}, blocking=True
        )
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, f"battery_alarm_{_battery_id(entry)}")
    assert issues.async_get_issue(DOMAIN, f"plan_sources_{entry.entry_id}")
    await hass.async_block_till_done()
    await controller.async_shutdown()  # writes the store now
    assert f"ems.controller.{entry.entry_id}" in hass_storage
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not [i for (domain, i) in issues.issues if domain == DOMAIN]
    assert f"ems.controller.{entry.entry_id}" not in hass_storage
