"""Grid support in Home Assistant against the simulated site: P(f) and Q(V) under events."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from homeassistant.core import HomeAssistant
import pytest
from site_helpers import HaClock, setup_site

from custom_components.ems.core.decide import Mode
from custom_components.ems.core.grid_support import SupportError, SupportState
from simulator.grid import frequency_step, voltage_step


class Clock(HaClock):
    """Home Assistant's clock moved by hand, in step with the simulator."""

    def __init__(self, sim) -> None:
        super().__init__()
        self.sim = sim

    async def run(self, runner, seconds: float, step_s: float = 1.0) -> None:
        """Let the site run, one grid-support step per ``step_s``."""
        for _ in range(round(seconds / step_s)):
            self.sim.site.step(step_s)
            self.now += timedelta(seconds=step_s)
            await runner.async_step(self.now)


@pytest.fixture
async def site(hass: HomeAssistant, sim):
    """A quiet grid (no noise), no PV, no house load; the battery at 60 %, held at 0 W."""
    sim.site.meter.p.voltage_noise_v = 0.0
    sim.site.meter.p.frequency_noise_hz = 0.0
    sim.site.pv.scale = 0.0
    sim.site.meter.load_scale = 0.0
    sim.site.meter.extra_load_w = 0.0
    sim.site.battery.soc = 60.0
    sim.site.refresh()
    entry = await setup_site(hass, sim)
    controller = entry.runtime_data.controller
    controller.set_setting("manual_setpoint_w", 0.0)
    await controller.async_set_mode(Mode.MANUAL)
    yield entry
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def _switch(hass: HomeAssistant, entity_id: str, on: bool) -> None:
    await hass.services.async_call(
        "switch", "turn_on" if on else "turn_off", {"entity_id": entity_id}, blocking=True
    )


async def test_frequency_response_follows_the_droop(hass: HomeAssistant, site, sim) -> None:
    runner = site.runtime_data.grid
    await _switch(hass, "switch.home_frequency_response_p_f", True)
    with Clock(sim) as clock:
        await clock.run(runner, 2)
        assert runner.result.p_state is SupportState.ARMED
        assert sim.site.battery.power == 0.0
        sim.site.play_grid(frequency_step(49.7))  # half way from f2 (49.9) to f1 (49.5)
        await clock.run(runner, 4)
        assert runner.result.p_state is SupportState.ACTIVE
        assert sim.site.battery.power == pytest.approx(-2500.0, abs=60)  # half of 5 kW
        await hass.async_block_till_done()
        assert hass.states.get("sensor.home_frequency_response").state == "active"
        sim.site.play_grid(frequency_step(50.3))  # over-frequency: absorb, grid charging off
        await clock.run(runner, 4)
        assert sim.site.battery.power == pytest.approx(2500.0, abs=60)
        sim.site.play_grid(frequency_step(50.0))
        await clock.run(runner, 3)
        assert runner.result.p_state is SupportState.ARMED
        assert sim.site.battery.power == pytest.approx(0.0, abs=10)  # back to the mode's 0 W
    await _switch(hass, "switch.home_frequency_response_p_f", False)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.home_frequency_response").state == "off"


async def test_voltage_support_follows_the_curve(hass: HomeAssistant, site, sim) -> None:
    runner = site.runtime_data.grid
    await _switch(hass, "switch.home_voltage_support_q_v", True)
    with Clock(sim) as clock:
        await clock.run(runner, 2)
        assert runner.result.q_state is SupportState.ARMED
        sim.site.play_grid(voltage_step(+15.0))  # 246 V: 1.07 pu
        await clock.run(runner, 3)
        voltage = runner.voltage_v
        share = (voltage / 230.0 - 1.02) / 0.06 * -0.44
        assert runner.result.q_state is SupportState.ACTIVE
        assert sim.site.battery.reactive == pytest.approx(share * 6000.0, rel=0.05)
        sim.site.play_grid(voltage_step(0.0))
        await clock.run(runner, 3)
        assert sim.site.battery.reactive == pytest.approx(0.0, abs=60)
    await _switch(hass, "switch.home_voltage_support_q_v", False)


async def test_no_reactive_power_of_ours_stays(hass: HomeAssistant, site, sim) -> None:
    """Q left on a battery that becomes untrusted, or when the site unloads, is taken back."""
    runner = site.runtime_data.grid
    controller = site.runtime_data.controller
    await _switch(hass, "switch.home_voltage_support_q_v", True)
    with Clock(sim) as clock:
        sim.site.play_grid(voltage_step(+15.0))
        await clock.run(runner, 3)
        assert sim.site.battery.reactive < -1000
        sim.site.battery.fault = True  # alarm: the battery is untrusted, held at 0 W and 0 var
        await clock.run(runner, 1)
        await controller.async_tick()
        await clock.run(runner, 1)
        assert sim.site.battery.unit.model_value("reactive_setpoint") == 0
        sim.site.battery.fault = False
        sim.site.step(1.0)  # the alarm bit clears in the registers
        await controller.async_tick()
        await clock.run(runner, 3)
        assert sim.site.battery.unit.model_value("reactive_setpoint") < -1000
    assert await hass.config_entries.async_unload(site.entry_id)
    await hass.async_block_till_done()
    assert sim.site.battery.unit.model_value("reactive_setpoint") == 0  # released at unload
    assert await hass.config_entries.async_setup(site.entry_id)  # the fixture unloads it again
    await hass.async_block_till_done()


async def test_reserve_kept_and_errors_hold_at_zero(hass: HomeAssistant, site, sim) -> None:
    runner = site.runtime_data.grid
    controller = site.runtime_data.controller
    await _switch(hass, "switch.home_frequency_response_p_f", True)
    with Clock(sim) as clock:
        await clock.run(runner, 1)
        assert controller.grid_reserve_pct == 10.0  # the modes keep away from both ends
        sim.faults.exception(3)  # the grid meter answers every read with an exception
        sim.site.play_grid(frequency_step(49.5))
        await clock.run(runner, 2)
        assert runner.result.p_state is SupportState.ERROR
        assert runner.result.p_error is SupportError.NO_FREQUENCY
        assert controller.grid_response_w is None
        assert sim.site.battery.power == 0.0  # no measurement, no response
        await sim.faults.clear()
        await clock.run(runner, 3)
        assert runner.result.p_state is SupportState.ACTIVE
    await _switch(hass, "switch.home_frequency_response_p_f", False)
    await clock.run(runner, 1)
    assert controller.grid_reserve_pct == 0.0


async def test_a_failing_step_asks_nothing(hass: HomeAssistant, site, sim) -> None:
    """Anything unexpected in a step: no response in force, error shown, the loop goes on."""
    runner = site.runtime_data.grid
    controller = site.runtime_data.controller
    await _switch(hass, "switch.home_frequency_response_p_f", True)
    with Clock(sim) as clock:
        sim.site.play_grid(frequency_step(49.7))
        await clock.run(runner, 2)
        assert controller.grid_response_w is not None
        with patch.object(runner, "_async_read_grid", side_effect=RuntimeError("boom")):
            await runner._async_scheduled(clock.now)  # what the timer calls
        assert controller.grid_response_w is None
        assert runner.result.p_state is SupportState.ERROR
        assert "boom" in (runner.error or "")
        await clock.run(runner, 1)  # next step: back at work
        assert runner.result.p_state is SupportState.ACTIVE


async def test_passive_and_stop_command_nothing(hass: HomeAssistant, site, sim) -> None:
    """Passive hands the batteries back (no Q, no response); after HA stops nothing is written."""
    runner = site.runtime_data.grid
    controller = site.runtime_data.controller
    await _switch(hass, "switch.home_voltage_support_q_v", True)
    await _switch(hass, "switch.home_frequency_response_p_f", True)
    with Clock(sim) as clock:
        sim.site.play_grid([*voltage_step(+15.0), *frequency_step(49.7)])
        await clock.run(runner, 3)
        assert sim.site.battery.unit.model_value("reactive_setpoint") < -1000
        await controller.async_set_mode(Mode.PASSIVE)
        await clock.run(runner, 2)
        assert sim.site.battery.unit.model_value("reactive_setpoint") == 0
        assert runner.result.p_state is SupportState.OFF
        assert controller.grid_response_w is None
        await controller.async_set_mode(Mode.MANUAL)
        await clock.run(runner, 3)
        assert sim.site.battery.unit.model_value("reactive_setpoint") < -1000
        await controller.async_shutdown()  # what Home Assistant's stop runs
        assert sim.site.battery.unit.model_value("reactive_setpoint") == 0
        await clock.run(runner, 2)
        assert sim.site.battery.unit.model_value("reactive_setpoint") == 0  # never again


async def test_q_priority_cuts_p_first(hass: HomeAssistant, sim) -> None:
    """Q priority: the battery's P is held to what S leaves, P² + Q² ≤ S² at the inverter."""
    sim.site.meter.p.voltage_noise_v = 0.0
    sim.site.meter.p.frequency_noise_hz = 0.0
    sim.site.pv.scale = 0.0
    sim.site.meter.load_scale = 0.0
    sim.site.refresh()
    curve = {"volt_var_points": "0.92:0.8, 0.98:0, 1.02:0, 1.08:-0.8", "q_priority": True}
    entry = await setup_site(hass, sim, options={"grid_support": curve})
    runner = entry.runtime_data.grid
    controller = entry.runtime_data.controller
    controller.set_setting("manual_setpoint_w", -5000.0)
    controller.set_setting("ramp_w_per_s", 100000.0)
    await controller.async_set_mode(Mode.MANUAL)
    await _switch(hass, "switch.home_voltage_support_q_v", True)
    with Clock(sim) as clock:
        await clock.run(runner, 2)
        assert sim.site.battery.power == pytest.approx(-5000.0, abs=10)
        sim.site.play_grid(voltage_step(+25.0))  # beyond 1.08 pu: 80 % of S asked
        await clock.run(runner, 3)
        p, q = sim.site.battery.power, sim.site.battery.reactive
        assert q == pytest.approx(-0.8 * 6000, rel=0.02)  # Q first
        assert p**2 + q**2 <= 6000**2 * 1.001  # within the inverter's S
        assert abs(p) == pytest.approx(0.6 * 6000, rel=0.03)  # P cut to what S leaves
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_quiet_steps_write_no_state(hass: HomeAssistant, site, sim) -> None:
    """A step that changes nothing shown writes no state (the recorder would store each)."""
    runner = site.runtime_data.grid
    await _switch(hass, "switch.home_frequency_response_p_f", True)
    changes: list[object] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: (
            changes.append(event)
            if event.data["entity_id"] == "sensor.home_frequency_response"
            else None
        ),
    )
    with Clock(sim) as clock:
        await clock.run(runner, 2)
        await hass.async_block_till_done()
        changes.clear()
        await clock.run(runner, 10)
        await hass.async_block_till_done()
    assert len(changes) <= 1
