"""The simulator in this process, on an event loop of its own thread.

The end-to-end tests and ``scripts.soak`` run the simulator in-process so that they can inject
faults into it (its command line has no fault API). Its objects are not thread-safe: touch them
through ``call`` (or ``run``), which run on the simulator's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
import contextlib
from datetime import datetime
import logging
import threading
from typing import Any

from simulator import Simulator, start_simulator

HOST = "127.0.0.1"


class SimThread:
    """The simulator on its own event loop in a background thread."""

    def __init__(
        self,
        start: datetime,
        speed: float = 1.0,
        host: str = HOST,
        battery_profile: str = "generic_bess",
    ) -> None:
        self._start = start
        self._speed = speed
        self._host = host
        self._battery_profile = battery_profile
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="ems-simulator", daemon=True
        )
        self._cm: contextlib.AbstractAsyncContextManager[Simulator] | None = None
        self.sim: Simulator | None = None

    def run[T](self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the simulator's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call[T](self, fn: Callable[[Simulator], T], timeout: float = 30) -> T:
        """Call ``fn(simulator)`` on the simulator's loop (its objects are not thread-safe)."""

        async def call() -> T:
            assert self.sim is not None
            return fn(self.sim)

        return self.run(call(), timeout)

    @property
    def port(self) -> int:
        """The simulator's TCP port."""
        assert self.sim is not None
        return self.sim.port

    def __enter__(self) -> SimThread:
        """Start the loop, then the simulator on it."""
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # one line per exception reply
        self._thread.start()
        self._cm = start_simulator(
            host=self._host,
            port=0,
            speed=self._speed,
            start=self._start,
            battery_profile=self._battery_profile,
        )
        self.sim = self.run(self._cm.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the simulator, then the loop and its thread."""
        try:
            if self._cm is not None:
                self.run(self._cm.__aexit__(None, None, None))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
