"""End-to-end tests: real processes (hass, the add-on), no in-process Home Assistant."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from datetime import UTC, datetime

import pytest
import pytest_socket

from . import logscan
from .harness import SimThread, Site, demo


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the suite's autouse fixture: no `hass` fixture for subprocess tests."""


@pytest.fixture(autouse=True)
def _loopback(socket_enabled: None) -> None:
    """The tests talk to their processes over 127.0.0.1."""


@contextlib.contextmanager
def _sockets_on(patch: pytest.MonkeyPatch) -> Iterator[None]:
    pytest_socket.enable_socket()
    patch.setattr(pytest_socket, "disable_socket", lambda *args, **kwargs: None)
    yield


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One Home Assistant with the demo's configuration and the add-on, for a module's tests.

    The simulator's thread accepts connections between tests too, when the Home Assistant
    test plugin has switched sockets off for the next test's setup: sockets stay on (loopback
    only, as the plugin allows) while the module runs.
    """
    work = tmp_path_factory.mktemp("e2e") / "demo"
    procs: list[demo.Proc] = []
    running: demo.Demo | None = None
    with (
        pytest.MonkeyPatch.context() as patch,
        _sockets_on(patch),
        SimThread(demo.sim_start_time()) as sim,
    ):
        try:
            args = demo.parse_args(["--dir", str(work), "--timeout", "120", "--no-addon"])
            running = demo.start(args, procs, sim_port=sim.port)
            started = datetime.now(UTC)
            # the home plans alone (its stable execution is under test); the community's
            # neighbours plan together beside it, for the community view
            demo.start_addon(running)
            yield Site(running, sim, started)
        finally:
            demo.stop_all(procs, running.echoes if running else None)
            demo.release_lock(work)
        # A deprecation warning about ems (or what it loads) in this hass fails the module.
        logscan.check_session(work)
