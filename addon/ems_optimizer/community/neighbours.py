"""Simulated neighbours: members that send a synthetic home's problem every quarter hour.

For the demo and for trying a coordinator: each name gets a home built from the shared data
(`synthetic.neighbours`), sends its problem with the real member protocol and logs what came
back (its community plan, or why it would plan alone).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
import logging
from pathlib import Path
import threading

from .member import CommunityLink
from .mqtt import Account
from .protocol import quarter_of
from .synthetic import neighbours

_LOGGER = logging.getLogger(__name__)
QUARTER = timedelta(minutes=15)
OFFSET = timedelta(seconds=5)


class Neighbours:
    """Simulated members on one broker, one link each."""

    def __init__(self, credentials: Path, names: list[str], data: Path, wait_s: float) -> None:
        self.names = names
        self.data = data
        self.links = {
            name: CommunityLink(Account.from_file(credentials / f"{name}.json"), wait_s)
            for name in names
        }
        self.stopped = threading.Event()

    def round(self, now: datetime) -> dict[str, str]:
        """Send every neighbour's problem for `now`'s quarter; what each got back."""
        homes = neighbours(self.data, quarter_of(now), self.names)
        with ThreadPoolExecutor(len(self.links)) as pool:
            futures = {n: pool.submit(self.links[n].exchange, homes[n]) for n in self.names}
        outcome = {}
        for name, future in futures.items():
            exchange = future.result()
            if exchange.plan is not None:
                members = exchange.plan["community"]["members"]
                outcome[name] = f"planned with the community ({members} members)"
            else:
                outcome[name] = f"alone: {exchange.reason}"
            _LOGGER.info("%s: %s", name, outcome[name])
        return outcome

    def run(self) -> int:
        """Connect, then a round now and at every quarter hour (+5 s) until stop()."""
        for link in self.links.values():
            link.start(0)
        for link in self.links.values():
            link.link.connected.wait(10)
        while not self.stopped.is_set():
            self.round(datetime.now(UTC))
            wake = quarter_of(datetime.now(UTC)) + QUARTER + OFFSET
            self.stopped.wait(max((wake - datetime.now(UTC)).total_seconds(), 1.0))
        for link in self.links.values():
            link.stop()
        return 0

    def stop(self) -> None:
        """End after the current round."""
        self.stopped.set()
