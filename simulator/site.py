"""The simulated site: the device models, their Modbus units and the simulated clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
import logging
import math
from pathlib import Path
import random
from typing import Any

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext

from ems_core.profile import Point, Table, builtin_profiles

from .data import HouseData, data_for, load_house_data
from .datastore import ILLEGAL_ADDRESS, ExceptionReply, Unit, UnitContext
from .grid import GridEvent, GridScript
from .models import Battery, GridMeter, PvInverter, RelayBoard
from .vendors import CONTROLS

try:
    from .sunspec import SunSpecDevice
except ModuleNotFoundError as err:  # written by another engineer; optional until it lands
    if err.name != f"{__package__}.sunspec":
        raise
    SunSpecDevice = None  # type: ignore[assignment,misc]

_LOGGER = logging.getLogger(__name__)

DEFAULT_START = datetime(2024, 6, 13, 6, 0, tzinfo=UTC)  # a clear summer day in the data
MAX_SUBSTEP_S = 5.0
SUNSPEC_STEP_S = 60.0  # the SunSpec model handles its own limits within a step
SUNSPEC_BASE = 40000

BATTERY_UNIT = 1
# Modbus unit id → (profile id, role); the battery's profile may be a vendor's (``Site``).
UNIT_PROFILES: dict[int, tuple[str, str]] = {
    1: ("generic_bess", "battery"),
    2: ("generic_pv_inverter", "pv"),
    3: ("generic_meter_3ph", "meter"),
    4: ("relay_board_4ch", "relay_board"),
}
SUNSPEC_UNIT = 5


class SunSpecBlock(ModbusSequentialDataBlock):
    """Holding registers served by the SunSpec device model (reads and writes delegated)."""

    def __init__(self, device: Any, base: int = SUNSPEC_BASE) -> None:
        super().__init__(base, [0])
        self.device = device
        self.frozen = False

    def validate(self, address: int, count: int = 1) -> bool:
        """Tell whether the device maps the whole range."""
        try:
            return len(self.device.read(address, count)) == count
        except (ValueError, IndexError, KeyError):
            return False

    def getValues(self, address: int, count: int = 1) -> list[int]:
        """Read from the device."""
        return list(self.device.read(address, count))

    def setValues(self, address: int, values: Any) -> None:
        """Write to the device; an unmapped or read-only address is an illegal address."""
        words = [int(v) for v in (values if isinstance(values, Sequence) else [values])]
        if not self.device.write(address, words):
            raise ExceptionReply(ILLEGAL_ADDRESS, "SunSpec device refused the write")


class Site:
    """A house with a BESS, a PV inverter, a grid meter, a relay board and a SunSpec device."""

    def __init__(
        self,
        *,
        start: datetime | None = None,
        data: HouseData | None = None,
        seed: int = 1,
        sunspec: bool = True,
        battery_profile: str = "generic_bess",
    ) -> None:
        start = start or DEFAULT_START
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self.data = data or data_for(start)
        self.data.check_start(start)
        self.start = start
        self._t = start.timestamp()
        self.elapsed = 0.0  # simulated seconds since start
        self.rng = random.Random(seed)
        profiles = builtin_profiles()
        if battery_profile not in CONTROLS:
            raise ValueError(
                f"no simulated battery for profile {battery_profile!r}"
                f" (one of {', '.join(sorted(CONTROLS))})"
            )
        self.unit_profiles = {**UNIT_PROFILES, BATTERY_UNIT: (battery_profile, "battery")}
        self.units: dict[int, Unit] = {
            uid: Unit(uid, profiles[pid]) for uid, (pid, _) in self.unit_profiles.items()
        }
        battery_unit = self.units[BATTERY_UNIT]
        control = CONTROLS[battery_profile](
            battery_unit, lambda: self.elapsed, self._house_net_w, self._pv_w
        )
        self.battery = Battery(battery_unit, control=control)
        self.pv = PvInverter(self.units[2], self.data, self.rng)
        self.grid = GridScript()  # scripted frequency and voltage events (grid support tests)
        self.meter = GridMeter(
            self.units[3], self.data, battery=self.battery, pv=self.pv, rng=self.rng, grid=self.grid
        )
        self.relay_board = RelayBoard(self.units[4])
        self.sunspec: Any = None
        self.sunspec_block: SunSpecBlock | None = None
        if sunspec and SunSpecDevice is not None:
            self.sunspec = SunSpecDevice(SUNSPEC_BASE)
            self.sunspec_block = SunSpecBlock(self.sunspec, SUNSPEC_BASE)
        self._sunspec_pending = 0.0
        self._grid_available = True
        for unit in self.units.values():
            unit.on_write = self._on_write
        self.refresh()

    @classmethod
    def create(
        cls,
        *,
        start: datetime | None = None,
        data_path: Path | None = None,
        seed: int = 1,
        sunspec: bool = True,
        battery_profile: str = "generic_bess",
    ) -> Site:
        """Build a site, reading its data file (blocking: run it in an executor).

        Without ``data_path``, the data is the source that covers ``start`` (see ``data_for``).
        """
        data = load_house_data(data_path) if data_path else None
        return cls(
            start=start, data=data, seed=seed, sunspec=sunspec, battery_profile=battery_profile
        )

    # --- time -------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """Simulated time (UTC)."""
        return self.start + timedelta(seconds=self.elapsed)

    def play_grid(self, events: Sequence[GridEvent]) -> None:
        """Start a script of frequency / voltage events now (simulated time)."""
        self.grid.play(events, self._t + self.elapsed)
        self.refresh()

    def step(self, seconds: float) -> None:
        """Advance every model by ``seconds`` of simulated time, then publish the registers."""
        if seconds < 0 or not math.isfinite(seconds):
            raise ValueError(f"cannot step by {seconds} s")
        remaining = seconds
        while remaining > 1e-9:
            dt = min(MAX_SUBSTEP_S, remaining)
            remaining -= dt
            self.elapsed += dt
            self._update(dt)
        self._tick_sunspec(force=True)
        self._publish()

    def refresh(self) -> None:
        """Recompute instantaneous values (after a command) and publish, without advancing time."""
        self._update(0.0)
        self._publish()

    def _update(self, dt: float) -> None:
        t = self._t + self.elapsed
        self.pv.update(dt, t)
        self.battery.update(dt)
        self.meter.update(dt, t)
        self.relay_board.update(dt)
        self._sunspec_pending += dt
        self._tick_sunspec(force=False)

    def _tick_sunspec(self, *, force: bool) -> None:
        pending = self._sunspec_pending
        if pending <= 0 or (pending < SUNSPEC_STEP_S and not force):
            return
        self._sunspec_pending = 0.0
        if self.sunspec is not None and not self.sunspec_frozen:
            self.sunspec.tick(pending, self.pv.pv_fraction)

    def _publish(self) -> None:
        self.battery.publish()
        self.pv.publish()
        self.meter.publish()
        self.relay_board.publish()

    def _pv_w(self) -> float:
        """The PV inverter's output now (W); 0 while it is being built."""
        pv = getattr(self, "pv", None)
        return 0.0 if pv is None else pv.power

    def _house_net_w(self) -> float:
        """Load − PV (W): what a battery in its own self-consumption mode makes up for."""
        meter = getattr(self, "meter", None)  # None while the battery is being built
        return 0.0 if meter is None else meter.load - self.pv.power

    def _on_write(self, unit: Unit, points: list[Point]) -> None:
        _LOGGER.debug("unit %s: %s written", unit.unit_id, [p.key for p in points])
        if unit is self.battery.unit:
            self.battery.control.on_write({p.key for p in points})
        self.refresh()

    # --- grid -------------------------------------------------------------------------------

    @property
    def grid_available(self) -> bool:
        """Whether the public grid is up (a fault can cut it)."""
        return self._grid_available

    @grid_available.setter
    def grid_available(self, value: bool) -> None:
        self._grid_available = value
        self.pv.grid_available = value
        self.meter.grid_available = value
        self.relay_board.grid_available = value
        self.refresh()

    # --- Modbus -----------------------------------------------------------------------------

    @property
    def sunspec_frozen(self) -> bool:
        """Whether the SunSpec device's values are frozen (its model stops ticking)."""
        return self.sunspec_block is not None and self.sunspec_block.frozen

    def server_context(self) -> ModbusServerContext:
        """A pymodbus server context with one slave context per unit id."""
        slaves: dict[int, Any] = {uid: unit.context for uid, unit in self.units.items()}
        if self.sunspec_block is not None:
            slaves[SUNSPEC_UNIT] = UnitContext({Table.HOLDING: self.sunspec_block})
        return ModbusServerContext(slaves=slaves, single=False)

    def describe_units(self) -> list[str]:
        """One short line per unit id."""
        lines = [
            f"unit {uid} {role} ({self.units[uid].profile.id})"
            for uid, (_, role) in self.unit_profiles.items()
        ]
        if self.sunspec is not None:
            lines.append(f"unit {SUNSPEC_UNIT} sunspec (base {SUNSPEC_BASE})")
        return lines
