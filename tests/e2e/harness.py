"""What the e2e tests share: the demo's machinery, the in-process simulator, the running site.

The demo's own code (``scripts/demo.py``, imported as ``from scripts import demo``) starts and
configures Home Assistant and the add-on. The simulator runs in the test process, on an event
loop of its own thread (``scripts.sim_thread.SimThread``, shared with ``make soak``), so that
tests can inject faults into it (its command line has no fault API).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
import time
from typing import Any

import pytest

from scripts import demo
from scripts.sim_thread import SimThread

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["ROOT", "SimThread", "Site", "demo"]


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
