"""Command line: ``python -m simulator --host 127.0.0.1 --port 5020 [--speed 60] [--start ISO]``.

Without ``--start`` the simulated clock starts at now's UTC time of day on a day of the data of
the same season as today (``simulator.data.season_start``), so day and night match the wall clock.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
import logging
import signal

from .data import season_start
from .server import DEFAULT_TICK_S, Simulator
from .site import Site
from .vendors import CONTROLS

_LOGGER = logging.getLogger("simulator")


def _iso(text: str) -> datetime:
    """Parse an ISO 8601 time; a naive one is taken as UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5020, help="TCP port (0: any free port)")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second"
    )
    parser.add_argument(
        "--start",
        type=_iso,
        default=None,
        help="simulated start time in the data (default: now's UTC time of day on a day of the "
        "same season as today)",
    )
    parser.add_argument("--tick", type=float, default=DEFAULT_TICK_S, help="real seconds per tick")
    parser.add_argument("--seed", type=int, default=1, help="seed of the measurement noise")
    parser.add_argument(
        "--battery-profile",
        default="generic_bess",
        choices=sorted(CONTROLS),
        help="the battery's register profile and command logic (unit 1): a vendor's to try "
        "its profile",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    """Serve until SIGINT or SIGTERM."""
    start = args.start or await asyncio.to_thread(season_start)
    site = await asyncio.to_thread(
        Site.create, start=start, seed=args.seed, battery_profile=args.battery_profile
    )
    sim = Simulator(site, host=args.host, port=args.port, speed=args.speed, tick_s=args.tick)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sim.start()
    try:
        _LOGGER.info(
            "ems simulator on %s:%s, speed %g×, start %s, data %s: %s",
            args.host,
            sim.port,
            args.speed,
            site.start.isoformat(),
            site.data.describe(),
            "; ".join(site.describe_units()),
        )
        await stop.wait()
    finally:
        await sim.stop()
        _LOGGER.info("ems simulator stopped")


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.log_level != "DEBUG":
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # one line per exception reply
    try:
        asyncio.run(run(args))
    except ValueError as err:  # e.g. a start outside the data
        raise SystemExit(f"simulator: {err}") from None


if __name__ == "__main__":
    main()
