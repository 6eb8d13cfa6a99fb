"""Benchmark: Modbus requests and time per poll for each profile, against the simulator.

Run: ``.venv/bin/python -m benchmarks.modbus_poll [--polls 50]`` (or ``make bench-modbus``).
Prints figures; it asserts nothing (these machines are shared and noisy: read the medians).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from ems_core.device import ModbusDevice
from ems_core.profile import Platform, Profile, builtin_profiles
from ems_core.transport import ModbusTransport, TcpParams

UNITS = {"generic_bess": 1, "generic_pv_inverter": 2, "generic_meter_3ph": 3, "relay_board_4ch": 4}


def _default_keys(profile: Profile) -> set[str]:
    """What a default installation polls: entities enabled by default."""
    return {p.key for p in profile.points if p.platform is not Platform.NONE and p.enabled_default}


async def _measure(label: str, device: ModbusDevice, polls: int) -> None:
    """Poll a device ``polls`` times and print requests per poll and time per poll."""
    profile = device.profile
    keys = _default_keys(profile)
    await device.read(keys)  # connect and warm up
    before = device.transport.requests
    times = []
    for _ in range(polls):
        start = time.perf_counter()
        await device.read(keys)
        times.append((time.perf_counter() - start) * 1000)
    per_poll = (device.transport.requests - before) / polls
    naive = len({(profile[k].table, profile[k].address) for k in keys})
    times.sort()
    print(
        f"{label:<22} {len(keys):>6} {naive:>6} {per_poll:>6.1f} "
        f"{statistics.median(times):>10.2f} {times[int(len(times) * 0.9)]:>8.2f}"
    )


async def _bench(polls: int) -> None:
    from ems_core.sunspec import async_discover, build_profile  # noqa: PLC0415
    from simulator import start_simulator  # noqa: PLC0415  (started only when benchmarking)

    profiles = builtin_profiles()
    async with start_simulator(host="127.0.0.1", port=0, auto_tick=True) as sim:
        transport = ModbusTransport(TcpParams(host="127.0.0.1", port=sim.port))
        header = ("device", "points", "naive", "reads", "median ms", "p90 ms")
        print("{:<22} {:>6} {:>6} {:>6} {:>10} {:>8}".format(*header))
        for profile_id, unit in UNITS.items():
            await _measure(profile_id, ModbusDevice(transport, unit, profiles[profile_id]), polls)
        found = await async_discover(transport, 5)
        for kind in ("battery", "pv"):
            device = ModbusDevice(transport, 5, build_profile(found, kind))
            await _measure(f"sunspec/{kind}", device, polls)
        transport.close()
    print("naive = one request per distinct register; reads = Modbus requests per poll")


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=50)
    asyncio.run(_bench(parser.parse_args().polls))


if __name__ == "__main__":
    main()
