"""The simulated grid: scripted frequency events, the feeder's voltage, the inverter's Q and S."""

from __future__ import annotations

import math

import pytest
from sim_helpers import read_point, write_point

from ems_core.transport import ModbusTransport
from simulator import Simulator
from simulator.grid import GridEvent, GridScript, frequency_ramp, frequency_step, voltage_step

BATTERY, METER = 1, 3


def quiet(sim: Simulator) -> None:
    """No noise, no PV, a flat load: the grid's effects stand out."""
    sim.site.meter.p.voltage_noise_v = 0.0
    sim.site.meter.p.frequency_noise_hz = 0.0
    sim.site.pv.scale = 0.0
    sim.site.meter.load_scale = 0.0
    sim.site.meter.extra_load_w = 0.0
    sim.site.refresh()


def test_script_steps_and_ramps() -> None:
    script = GridScript()
    script.play([*frequency_step(49.8, at_s=2.0), *frequency_ramp(49.5, 10.0, at_s=5.0)], 1000.0)
    assert script.value("frequency", 1001.0) == 50.0
    assert script.value("frequency", 1003.0) == 49.8
    assert script.value("frequency", 1010.0) == pytest.approx(49.65)  # halfway down the ramp
    assert script.value("frequency", 1100.0) == 49.5
    assert script.value("voltage", 1100.0) == 0.0
    script.clear()
    assert script.value("frequency", 1100.0) == 50.0


def test_events_refuse_what_no_grid_does() -> None:
    with pytest.raises(ValueError, match="outside 45-55"):
        GridEvent("frequency", 0.0, 60.0)
    with pytest.raises(ValueError, match=">= 0"):
        GridEvent("voltage", -1.0, 5.0)


async def test_meter_reads_the_scripted_frequency(sim: Simulator, transport: ModbusTransport):
    quiet(sim)
    sim.site.step(30.0)  # the script starts when it is played, not at the simulator's start
    sim.site.play_grid(frequency_step(49.7, at_s=1.0))
    sim.site.step(0.5)
    assert await read_point(transport, METER, "frequency") == pytest.approx(50.0)
    sim.site.step(1.0)
    assert await read_point(transport, METER, "frequency") == pytest.approx(49.7)


async def test_feeder_voltage_follows_exchange_and_reactive(
    sim: Simulator, transport: ModbusTransport
) -> None:
    quiet(sim)
    nominal = sim.site.meter.p.nominal_v
    assert await read_point(transport, METER, "voltage_l1") == pytest.approx(nominal, abs=0.11)
    await write_point(transport, BATTERY, "setpoint", -3000)  # export 3 kW: the voltage rises
    sim.site.step(1.0)
    exporting = await read_point(transport, METER, "voltage_l1")
    assert exporting == pytest.approx(nominal + 0.0005 * 1000, abs=0.11)
    await write_point(transport, BATTERY, "reactive_setpoint", -3000)  # absorb Q: it falls
    sim.site.step(1.0)
    absorbing = await read_point(transport, METER, "voltage_l1")
    assert absorbing == pytest.approx(exporting - 0.00025 * 1000, abs=0.11)
    sim.site.play_grid(voltage_step(+12.0))
    sim.site.step(1.0)
    assert await read_point(transport, METER, "voltage_l1") == pytest.approx(
        absorbing + 12, abs=0.05
    )


async def test_inverter_reactive_power_within_apparent_power(
    sim: Simulator, transport: ModbusTransport
) -> None:
    quiet(sim)
    await write_point(transport, BATTERY, "setpoint", 5000)
    await write_point(transport, BATTERY, "reactive_setpoint", 2000)
    sim.site.step(1.0)
    assert await read_point(transport, BATTERY, "reactive_power") == 2000
    assert await read_point(transport, BATTERY, "max_apparent_power") == 6000
    await write_point(transport, BATTERY, "reactive_setpoint", -6000)
    sim.site.step(1.0)
    room = math.sqrt(6000**2 - 5000**2)  # active power first
    assert await read_point(transport, BATTERY, "reactive_power") == pytest.approx(-room, abs=1)
    sim.site.battery.fault = True
    sim.site.step(1.0)
    assert await read_point(transport, BATTERY, "reactive_power") == 0
