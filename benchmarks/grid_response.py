"""Benchmark: grid support's response to scripted frequency and voltage events, on the simulator.

Run: ``.venv/bin/python -m benchmarks.grid_response [--periods 0.2 0.5 1 5]`` (or
``make bench-grid``). For each loop period it plays prequalification-style events on the
simulated grid and runs the loop the integration runs (``custom_components/ems/grid.py``) with
the same core pieces: one Modbus read of the meter's frequency and voltage, the core's
``support_step``, ``decide`` (the response stacked on the mode, the limiter, the device's ramp),
the Modbus writes of the battery's active and reactive setpoints. The simulator's clock moves
in 50 ms steps, so the times are the control loop's (period, ramp), not this machine's; the
loop's own I/O time over loopback TCP is measured and printed beside them.

Prints, per event and period: the time from the event to 90 % of the final response (the
FCR / FFR prequalification figure), and the tracking error (RMS of what the battery does
against what the curve asks at the grid's actual frequency or voltage, in % of the rating).
Asserts nothing: read the figures.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field, replace
import math
import statistics
import time

from ems_core.decide import (
    BatteryInput,
    ControlSettings,
    Inputs,
    Mode,
    PiMemory,
    SiteLimits,
    decide,
)
from ems_core.device import ModbusDevice
from ems_core.grid_support import FfrMemory, FreqWatt, GridMeasure, VoltVar, support_step
from ems_core.limiter import BatteryLimits, BatteryState
from ems_core.profile import builtin_profiles
from ems_core.transport import ModbusTransport, TcpParams
from simulator import start_simulator
from simulator.grid import GridEvent, frequency_ramp, frequency_step, voltage_step

SIM_DT_S = 0.05
PHASES = (0.0, 0.25, 0.5, 0.75)
RATED_W = 5000.0  # the simulated BESS
S_MAX_VA = 6000.0
FREQ = FreqWatt(ffr_trigger_hz=None)
FREQ_FFR = FreqWatt(ffr_trigger_hz=49.7, ffr_hold_s=5.0)
VOLT = VoltVar()


@dataclass(frozen=True)
class Event:
    """One scripted event and what to measure."""

    name: str
    events: list[GridEvent]
    duration_s: float
    quantity: str  # "p" or "q"
    freq: FreqWatt | None = FREQ
    volt: VoltVar | None = None


EVENTS = [
    Event("f step 50 → 49.7 Hz (half)", frequency_step(49.7, at_s=1.0), 12.0, "p"),
    Event("f step 50 → 49.4 Hz (full)", frequency_step(49.4, at_s=1.0), 12.0, "p"),
    Event("f step 50 → 50.3 Hz (absorb)", frequency_step(50.3, at_s=1.0), 12.0, "p"),
    Event("f ramp 50 → 49.5 Hz in 10 s", frequency_ramp(49.5, 10.0, at_s=1.0), 16.0, "p"),
    Event("FFR: f step to 49.6 Hz", frequency_step(49.6, at_s=1.0), 8.0, "p", freq=FREQ_FFR),
    Event("V step +15 V (Q(V))", voltage_step(15.0, at_s=1.0), 10.0, "q", freq=None, volt=VOLT),
]


@dataclass
class Loop:
    """The integration's grid-support loop, on the core and the Modbus devices."""

    meter: ModbusDevice
    battery: ModbusDevice
    freq: FreqWatt | None
    volt: VoltVar | None
    ramp_w_per_s: float
    setpoint_w: float = 0.0
    ffr: FfrMemory = field(default_factory=FfrMemory)

    async def step(self, now_s: float, dt_s: float) -> float:
        """One loop step; returns its wall time (ms)."""
        started = time.perf_counter()
        grid = await self.meter.read({"frequency", "voltage_l1", "power"})
        data = await self.battery.read({"soc", "power"})
        measure = GridMeasure(
            voltage_v=grid.get("voltage_l1"),
            frequency_hz=grid.get("frequency"),
            battery_p_w=0.0,
            s_max_va=S_MAX_VA,
            charge_max_w=RATED_W,
            discharge_max_w=RATED_W,
            soc_pct=data.get("soc"),
            soc_min_pct=10.0,
            soc_max_pct=100.0,
        )
        p = support_step(measure, freq=self.freq, volt=None, now_s=now_s, memory=self.ffr)
        self.ffr = p.ffr
        limits = BatteryLimits(
            charge_max_w=RATED_W,
            discharge_max_w=RATED_W,
            soc_min_pct=10.0,
            t_charge_min_c=None,
            t_max_c=None,
            ramp_w_per_s=self.ramp_w_per_s,
        )
        battery = BatteryInput(
            key="bess",
            limits=limits,
            state=BatteryState(soc_pct=data.get("soc")),
            power_w=data.get("power"),
            capacity_wh=10_000.0,
            previous_w=self.setpoint_w,
            since_previous_s=dt_s,
        )
        decision = decide(
            Inputs(
                mode=Mode.MANUAL,
                grid_w=grid.get("power"),
                batteries=(battery,),
                dt_s=dt_s,
                grid_response_w=p.p_offset_w if p.p_offset_w else None,
                grid_reserve_pct=self.freq.reserve_pct if self.freq else 0.0,
            ),
            ControlSettings(manual_setpoint_w=0.0, soc_min_pct=10.0),
            SiteLimits(),
            PiMemory(),
        )
        self.setpoint_w = decision.setpoint_w or 0.0
        await self.battery.write("setpoint", round(self.setpoint_w))
        if self.volt is not None:
            q = support_step(
                replace_p(measure, self.setpoint_w), freq=None, volt=self.volt, now_s=now_s
            )
            await self.battery.write("reactive_setpoint", round(q.q_var))
        return (time.perf_counter() - started) * 1000.0


def replace_p(measure: GridMeasure, p_w: float) -> GridMeasure:
    """The measurement with the battery's active power (Q is what S leaves after it)."""
    return replace(measure, battery_p_w=p_w)


def _target(event: Event, frequency: float, voltage: float, setpoint_w: float) -> float:
    """What the curve asks at the grid's actual frequency or voltage (ems signs)."""
    if event.quantity == "q":
        q = VOLT.target_q(voltage, S_MAX_VA)
        room = math.sqrt(max(0.0, S_MAX_VA**2 - setpoint_w**2))
        return max(-room, min(room, q))
    freq = event.freq or FREQ
    return freq.droop_share(frequency) * RATED_W


async def run(
    event: Event, period_s: float, sim, phase: float, ramp_w_per_s: float
) -> dict[str, float]:
    """Play one event at one loop period, ``phase`` of a period after a loop step."""
    site = sim.site
    site.grid.clear()
    site.battery.soc = 60.0
    site.battery.unit.set_many({"setpoint": 0, "reactive_setpoint": 0})
    site.refresh()
    profiles = builtin_profiles()
    transport = ModbusTransport(TcpParams(host="127.0.0.1", port=sim.port))
    try:
        loop = Loop(
            meter=ModbusDevice(transport, 3, profiles["generic_meter_3ph"]),
            battery=ModbusDevice(transport, 1, profiles["generic_bess"]),
            freq=event.freq,
            volt=event.volt,
            ramp_w_per_s=ramp_w_per_s,
        )
        await loop.step(0.0, period_s)  # connect
        shift = phase * period_s  # events do not wait for the loop
        site.play_grid([replace(e, start_s=e.start_s + shift) for e in event.events])
        start = event.events[0].start_s + shift
        t, next_loop, io_ms = 0.0, 0.0, []
        trace: list[tuple[float, float, float]] = []  # t, done, asked
        while t < event.duration_s + shift:
            if t >= next_loop - 1e-9:
                io_ms.append(await loop.step(t, period_s))
                next_loop += period_s
            site.step(SIM_DT_S)
            t += SIM_DT_S
            done = site.battery.reactive if event.quantity == "q" else site.battery.power
            frequency = site.grid.value("frequency", site.now.timestamp())  # the true grid
            voltage = site.meter.voltages[0]
            trace.append((t, done, _target(event, frequency, voltage, site.battery.power)))
    finally:
        transport.close()
    return _figures(trace, start, io_ms, event)


def _figures(
    trace: list[tuple[float, float, float]], start: float, io_ms: list[float], event: Event
) -> dict[str, float]:
    after = [(t, done, asked) for t, done, asked in trace if t > start]
    final = after[-1][2] if event.freq is not FREQ_FFR else -RATED_W
    reach = next((t for t, done, _ in after if abs(done) >= 0.9 * abs(final)), math.nan)
    rated = S_MAX_VA if event.quantity == "q" else RATED_W
    error = math.sqrt(statistics.fmean((done - asked) ** 2 for _, done, asked in after))
    if event.freq is FREQ_FFR:
        error = math.nan  # FFR holds a full step on purpose: no curve to track
    return {
        "t90_s": reach - start,
        "rms_pct": 100.0 * error / rated,
        "io_ms": statistics.median(io_ms),
        "final": final,
    }


async def main_async(periods: list[float], ramp: float | None) -> None:
    """Every event at every period; print the table."""
    ramp = ramp or builtin_profiles()["generic_bess"].limits["ramp_w_per_s"]
    print(f"Grid support on the simulator (BESS 5 kW / 6 kVA, device ramp {ramp:g} W/s)")
    print("t90: from the event to 90 % of the final response, mean and worst over the event")
    print("falling 0, 1/4, 1/2, 3/4 of a loop period after a step; track: RMS error against")
    print("the curve at the grid's actual value, % of the rating; loop I/O: one loop step's")
    print("Modbus reads + decide + writes over loopback TCP (wall clock, median).")
    print(
        f"{'event':32} {'loop s':>6} {'t90 s':>8} {'worst':>7} {'track RMS %':>11} "
        f"{'loop I/O ms':>11}"
    )
    async with start_simulator(port=0, auto_tick=False, sunspec=False) as sim:
        sim.site.meter.p.voltage_noise_v = 0.0
        sim.site.meter.p.frequency_noise_hz = 0.0
        sim.site.pv.scale = 0.0
        sim.site.meter.load_scale = 0.0
        for event in EVENTS:
            for period in periods:
                runs = [await run(event, period, sim, phase, ramp) for phase in PHASES]
                t90 = [r["t90_s"] for r in runs]
                rms = statistics.fmean(r["rms_pct"] for r in runs)
                io_ms = statistics.median(r["io_ms"] for r in runs)
                print(
                    f"{event.name:32} {period:>6g} {statistics.fmean(t90):>8.2f} {max(t90):>7.2f} "
                    f"{'—' if math.isnan(rms) else f'{rms:.1f}':>11} {io_ms:>11.1f}"
                )


def main() -> None:
    """Parse the periods and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--periods", type=float, nargs="+", default=[0.2, 0.5, 1.0, 5.0])
    parser.add_argument(
        "--ramp-w-per-s", type=float, default=None, help="device ramp (default: the profile's)"
    )
    args = parser.parse_args()
    asyncio.run(main_async(args.periods, args.ramp_w_per_s))


if __name__ == "__main__":
    main()
