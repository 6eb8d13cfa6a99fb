"""A community for the tests: small homes on the community's grid, and a real mosquitto."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
import threading
from typing import Any

from optimizer_helpers import scenario
import pytest

from ems_optimizer.community.broker import (
    Mosquitto,
    Setup,
    find_mosquitto,
    free_port,
    setup_community,
)
from ems_optimizer.community.coordinator import Coordinator, CoordinatorSettings
from ems_optimizer.community.mqtt import Account

COMMUNITY = "vilaine"
MEMBERS = ("sunny", "ev", "battery")
START = "2024-06-15T12:00:00+02:00"
NOW = datetime(2024, 6, 15, 10, 0, 5, tzinfo=UTC)  # START in UTC, plus a few seconds
STEPS = 96


def at(step: int) -> str:
    """The ISO time of a step boundary of the community's grid."""
    moment = datetime.fromisoformat(START) + timedelta(minutes=15 * step)
    return moment.isoformat(timespec="seconds")


def home(**fields: Any) -> dict[str, Any]:
    """A home with a flat 300 W load, no PV, a flat price; fields override."""
    defaults: dict[str, Any] = {
        "start": START,
        "load_w": [300.0] * STEPS,
        "export_price_eur_per_kwh": [0.05] * STEPS,
        "grid": {"import_limit_w": 12000, "export_limit_w": 9000},
    }
    return scenario(STEPS, 15, **(defaults | fields))


# the sun of the sunny home: 4 kW from step 8 to 24 (14:00–18:00), nothing else
SUN = [4000.0 if 8 <= t < 24 else 0.0 for t in range(STEPS)]
CAR = {
    "id": "car",
    "type": "ev",
    "max_power_w": 3700,
    "energy_wh": 7400,
    "earliest_start": START,
    "deadline": at(STEPS),
}


def homes() -> dict[str, dict[str, Any]]:
    """A home with PV and little load, one with an EV, one with a battery."""
    battery = {
        "capacity_wh": 10000, "soc_initial_pct": 50, "soc_min_pct": 10, "soc_max_pct": 95,
        "charge_max_w": 3000, "discharge_max_w": 3000,
        "charge_efficiency": 0.95, "discharge_efficiency": 0.95,
    }  # fmt: skip
    return {
        "sunny": home(load_w=[200.0] * STEPS, pv_w=SUN),
        "ev": home(appliances=[CAR]),
        "battery": home(battery=battery),
    }


def require_mosquitto() -> None:
    """mosquitto is a real part of these tests: `make setup` installs it."""
    if find_mosquitto() is None or find_mosquitto("mosquitto_passwd") is None:
        pytest.fail("mosquitto is not installed: run `make setup` (apt-get install mosquitto)")


@contextlib.contextmanager
def running_broker(folder: Path, members: tuple[str, ...] = MEMBERS) -> Iterator[Setup]:
    """A community's broker files and a mosquitto serving them on a free loopback port."""
    require_mosquitto()
    setup = setup_community(folder, COMMUNITY, members, free_port())
    broker = Mosquitto(folder / "mosquitto.conf", setup.port, folder / "mosquitto.log")
    broker.start()
    try:
        yield setup
    finally:
        broker.stop()


def account(setup: Setup, user: str) -> Account:
    """The account of one user of the community."""
    return Account.from_file(setup.credentials_file(user))


@contextlib.contextmanager
def running_coordinator(
    setup: Setup, now: Any = lambda: NOW, **settings: Any
) -> Iterator[Coordinator]:
    """The coordinator on its own thread (rounds solved in-process), stopped at the end."""
    options = {"collect_s": 0.3, "min_gap_s": 0.0, "workers": 1, "budget_s": 10.0, **settings}
    coordinator = Coordinator(
        account(setup, "coordinator"), CoordinatorSettings(**options), now=now
    )
    thread = threading.Thread(target=coordinator.serve, daemon=True)
    thread.start()
    assert coordinator.link.connected.wait(10), "the coordinator did not connect"
    try:
        yield coordinator
    finally:
        coordinator.stop()
        thread.join(10)
