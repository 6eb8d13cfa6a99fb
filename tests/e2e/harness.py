"""What the e2e tests share: the demo's machinery, the in-process simulator, the running site.

The demo's own code (``scripts/demo.py``, imported as ``from scripts import demo``) starts and
configures Home Assistant and the add-on. The simulator runs in the test process, on an event
loop of its own thread, so that tests can inject faults into it (its command line has no fault
API).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
import contextlib
from dataclasses import dataclass
from datetime import datetime
import logging
from pathlib import Path
import threading
import time
from typing import Any

import pytest

from scripts import demo
from simulator import Simulator, start_simulator

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["ROOT", "SimThread", "Site", "demo"]


class SimThread:
    """The simulator on its own event loop in a background thread."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        self._start = start
        self._speed = speed
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="ems-e2e-simulator", daemon=True
        )
        self._cm: contextlib.AbstractAsyncContextManager[Simulator] | None = None
        self.sim: Simulator | None = None

    def run[T](self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the simulator's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call[T](self, fn: Callable[[Simulator], T]) -> T:
        """Call ``fn(simulator)`` on the simulator's loop (its objects are not thread-safe)."""

        async def call() -> T:
            assert self.sim is not None
            return fn(self.sim)

        return self.run(call())

    @property
    def port(self) -> int:
        """The simulator's TCP port."""
        assert self.sim is not None
        return self.sim.port

    def __enter__(self) -> SimThread:
        """Start the loop, then the simulator on it."""
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # one line per exception reply
        self._thread.start()
        self._cm = start_simulator(host=demo.HOST, port=0, speed=self._speed, start=self._start)
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


@dataclass
class Site:
    """The running e2e site: the demo (hass + add-on) and the in-process simulator."""

    demo: demo.Demo
    sim: SimThread
    addon_started: datetime  # when the add-on's loop process was started

    @property
    def api(self) -> demo.Api:
        """REST client with the long-lived token."""
        return self.demo.api

    def state(self, entity_id: str) -> dict[str, Any]:
        """The state object of an entity that must exist."""
        state = self.api.state(entity_id)
        assert state is not None, f"{entity_id} does not exist"
        return state

    def value(self, entity_id: str) -> str:
        """The state string of an entity."""
        return str(self.state(entity_id)["state"])

    def number(self, entity_id: str) -> float | None:
        """The numeric state of an entity, None when it is not a number."""
        try:
            return float(self.value(entity_id))
        except ValueError:
            return None

    def service(self, domain: str, service: str, data: dict[str, Any]) -> None:
        """Call an action."""
        self.api.service(domain, service, data, f"{domain}.{service}")

    def wait(self, probe: Callable[[], Any], timeout: float, what: str, every: float = 1.0) -> Any:
        """Wait until ``probe()`` is truthy; fail naming ``what`` and the last answer."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            for proc in self.demo.procs:
                proc.ensure_alive(what)
            last = probe()
            if last:
                return last
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not after {timeout:.0f} s (last: {last!r})")
            time.sleep(every)
