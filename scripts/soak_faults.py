"""The simulator's faults of ``make soak``: what each kind does, and its undo.

Each method of ``SimFaults`` (one per kind) picks a variant at random, applies it through the
simulator's fault API (``simulator.server.Faults``) on the simulator's loop, and returns an
``Injected``: what was done, what to repeat while the fault holds (connection drops), and how
to clear it.
Home Assistant and add-on restarts are ``scripts.soak``'s (they need the plan checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import random

from ems_core.modbus_server import DEVICE_FAILURE
from scripts.sim_thread import SimThread

SERVER_BUSY = 6  # Modbus exception code: slave device busy
UNIT_NAMES = {1: "battery", 2: "PV inverter", 3: "grid meter", 4: "relay board"}

# (unit, point, value) outside the point's profile range, as a broken device would report.
OUT_OF_RANGE: tuple[tuple[int, str, float], ...] = (
    (1, "soc", 150.0),
    (1, "temperature", 300.0),
    (1, "max_charge_power", 65535.0),
    (2, "power", 5_000_000.0),
    (3, "power", 5_000_000.0),
    (3, "power", float("nan")),
    (3, "voltage_l1", 5000.0),
)
# (unit, code, table, writes only, what) of the exception replies.
EXCEPTIONS: tuple[tuple[int, int, str | None, bool, str], ...] = (
    (1, DEVICE_FAILURE, None, False, "battery answers 'device failure' to everything"),
    (1, DEVICE_FAILURE, "holding", True, "battery refuses every write ('device failure')"),
    (1, SERVER_BUSY, "input", False, "battery answers 'busy' to its status reads"),
    (3, SERVER_BUSY, None, False, "grid meter answers 'busy' to everything"),
)
JUMP_HOURS = (0.5, 1.0, 2.0, 3.0, 6.0)


@dataclass
class Injected:
    """A fault in force: what it is, what to repeat while it holds, and its undo."""

    what: str
    clear: Callable[[], None]
    repeat: Callable[[], None] | None = None


class SimFaults:
    """Inject the simulator's fault kinds into a ``SimThread``."""

    def __init__(self, sim: SimThread, rng: random.Random) -> None:
        self.sim = sim
        self.rng = rng

    def connection_drop(self) -> Injected:
        """Abort every client connection now and again; sometimes refuse new ones too."""
        refuse = self.rng.random() < 0.5
        faults = self.sim.call(lambda s: s.faults)
        dropped = self.sim.call(lambda s: s.faults.drop_connections())
        if refuse:
            self.sim.run(faults.refuse_connections())
        what = f"connections dropped ({dropped} open), again every few seconds"
        if refuse:
            what += "; new connections refused"
        return Injected(
            what,
            lambda: self.sim.run(faults.accept_connections()),
            repeat=lambda: self.sim.call(lambda s: s.faults.drop_connections()),
        )

    def exception_reply(self) -> Injected:
        """Modbus exception replies from one unit (all requests, reads or writes only)."""
        unit, code, table, writes_only, what = self.rng.choice(EXCEPTIONS)
        self.sim.call(
            lambda s: s.faults.exception(unit, code, table=table, writes_only=writes_only)
        )
        return Injected(what, lambda: self.sim.call(lambda s: s.faults.clear_exception(unit)))

    def frozen_values(self) -> Injected:
        """One unit's registers stop changing (writes are still accepted)."""
        unit = self.rng.choice((1, 1, 2, 3))
        self.sim.call(lambda s: s.faults.freeze(unit))
        return Injected(
            f"{UNIT_NAMES[unit]}: registers frozen",
            lambda: self.sim.call(lambda s: s.faults.unfreeze(unit)),
        )

    def out_of_range(self) -> Injected:
        """A point reports a value outside its profile's range."""
        units = self.sim.call(lambda s: s.site.units)
        # a vendor's map has fewer points: those the battery's profile has
        unit, key, value = self.rng.choice([c for c in OUT_OF_RANGE if c[1] in units[c[0]].profile])
        self.sim.call(lambda s: s.faults.override(unit, key, value))
        return Injected(
            f"{UNIT_NAMES[unit]}: {key} reads {value:g}",
            lambda: self.sim.call(lambda s: s.faults.clear_override(unit, key)),
        )

    def battery_ignores(self) -> Injected:
        """The battery accepts (and reads back) every setpoint but keeps its old command."""
        held = self.sim.call(lambda s: (s.faults.ignore_commands(), s.site.battery.power)[1])

        def clear() -> None:
            self.sim.call(lambda s: (s.faults.ignore_commands(on=False), s.site.refresh()))

        return Injected(
            f"battery ignores its commands (runs at {held:.0f} W, whatever it is told)", clear
        )

    def clock_jump(self) -> Injected:
        """The site's clock skips ahead: every model advances at once, at its last command."""
        hours = self.rng.choice(JUMP_HOURS)
        before = self.sim.call(lambda s: s.site.now)
        after = self.sim.call(lambda s: (s.site.step(hours * 3600), s.site.now)[1], timeout=300)
        span = f"{before:%m-%d %H:%M} → {after:%m-%d %H:%M} UTC"
        what = f"simulated clock jumped {hours:g} h ahead ({span})"
        return Injected(what, lambda: None)
