"""Every write that reaches the simulator, recorded and checked against the device's limits.

``WriteRecorder.install(sim)`` wraps, from outside, what a client write goes through in the
in-process simulator (no simulator module changes):

- each unit's ``client_write`` (the device's own check and store): writes it stores and writes
  it refuses (an out-of-range value answers "illegal value" before ``Unit.on_write`` would see
  it, so ``on_write`` alone would miss exactly the writes that matter here);
- the fault injection's ``exception_for``: writes answered with an injected exception reply.

Each write is kept as one ``Write`` per point it sets (wall time, simulated time, unit, point
key, decoded value, outcome) with what is wrong with it: a value outside the point's profile
range (``Point.min``/``max``), a battery setpoint beyond the simulated battery's ratings
(``BatteryParams.max_charge_w``/``max_discharge_w``) or its charge/discharge limit registers
as they stood, a reactive setpoint beyond its apparent power, a limit register above the rating.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import csv
from dataclasses import dataclass
from datetime import datetime
import math
from pathlib import Path
import threading
import time
from typing import Any

from pymodbus.pdu import ModbusPDU

from ems_core.modbus_server import ExceptionReply
from ems_core.profile import DataType, Point, Table, decode
from simulator import Simulator
from simulator.datastore import FUNCTION_TABLE, Unit
from simulator.models import BatteryParams
from simulator.server import WRITE_FUNCTIONS

BATTERY_UNIT = 1
STORED, REFUSED, FAULT = "stored", "refused by the device", "refused by an injected fault"


@dataclass(frozen=True, slots=True)
class Write:
    """One point set by one client write."""

    wall: float  # Unix time
    sim: datetime  # the simulator's clock
    unit: int
    key: str
    value: Any
    outcome: str  # STORED, REFUSED or FAULT
    problems: tuple[str, ...] = ()


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def written_values(
    unit: Unit, table: Table, address: int, values: Sequence[int | bool]
) -> list[tuple[Point, Any]]:
    """The points a write sets in full, with their decoded values (as the device decodes them)."""
    last = address + len(values) - 1
    out: list[tuple[Point, Any]] = []
    for point in unit.points_at(table, address, last):
        if point.span[0] < address or point.span[1] > last or point.type is DataType.STRING:
            continue
        chunk = list(values[point.span[0] - address : point.span[1] - address + 1])
        out.append((point, decode(point, chunk)))
    return out


def profile_problem(point: Point, value: Any) -> str | None:
    """A numeric value outside the point's profile range (NaN and infinities included)."""
    if not _number(value):
        return None
    if math.isfinite(value) and point.in_range(value):
        return None
    low = "-inf" if point.min is None else f"{point.min:g}"
    high = "inf" if point.max is None else f"{point.max:g}"
    return f"{point.key}={value:g} outside the profile's [{low}, {high}]"


def battery_problems(
    key: str, value: Any, limits: dict[str, float], params: BatteryParams
) -> list[str]:
    """A battery command beyond the battery's ratings or its limit registers."""
    if not _number(value):
        return []
    out: list[str] = []
    charge = min(params.max_charge_w, limits["charge_limit"])
    discharge = min(params.max_discharge_w, limits["discharge_limit"])
    if key == "setpoint" and value > charge:
        out.append(f"setpoint {value:g} W above the charge limit {charge:g} W")
    elif key == "setpoint" and value < -discharge:
        out.append(f"setpoint {value:g} W beyond the discharge limit {discharge:g} W")
    elif key == "reactive_setpoint" and abs(value) > params.max_apparent_va:
        out.append(f"reactive setpoint {value:g} var beyond {params.max_apparent_va:g} VA")
    elif key == "charge_limit" and value > params.max_charge_w:
        out.append(f"charge limit {value:g} W above the rating {params.max_charge_w:g} W")
    elif key == "discharge_limit" and value > params.max_discharge_w:
        out.append(f"discharge limit {value:g} W above the rating {params.max_discharge_w:g} W")
    return out


class WriteRecorder:
    """Records the client writes of a running simulator (installed on its loop's thread)."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._lock = threading.Lock()
        self._writes: list[Write] = []
        self.params = sim.site.battery.p

    @classmethod
    def install(cls, sim: Simulator) -> WriteRecorder:
        """Start recording (call it on the simulator's loop, e.g. with ``SimThread.call``)."""
        recorder = cls(sim)
        for unit in sim.site.units.values():
            unit.client_write = recorder._wrap(unit, unit.client_write)  # type: ignore[method-assign]
        original = sim.faults.exception_for

        def exception_for(pdu: ModbusPDU) -> int | None:
            code = original(pdu)
            if code is not None and pdu.function_code in WRITE_FUNCTIONS:
                recorder._refused_by_fault(pdu)
            return code

        sim.faults.exception_for = exception_for  # type: ignore[method-assign]
        return recorder

    def _wrap(
        self, unit: Unit, original: Callable[[Table, int, list[int | bool]], None]
    ) -> Callable[[Table, int, list[int | bool]], None]:
        def client_write(table: Table, address: int, values: list[int | bool]) -> None:
            limits = self._limits(unit)
            try:
                original(table, address, values)
            except ExceptionReply:
                self._record(unit, table, address, values, outcome=REFUSED, limits=limits)
                raise
            self._record(unit, table, address, values, outcome=STORED, limits=limits)

        return client_write

    def _limits(self, unit: Unit) -> dict[str, float]:
        """The battery's limit registers before a write (the commanded values, not faults)."""
        if unit.unit_id != BATTERY_UNIT:
            return {}
        ratings = {"charge_limit": self.params.max_charge_w}
        ratings["discharge_limit"] = self.params.max_discharge_w
        return {  # a vendor's map has no limit registers: the ratings
            key: float(unit.model_value(key)) if key in unit.profile else rating
            for key, rating in ratings.items()
        }

    def _refused_by_fault(self, pdu: ModbusPDU) -> None:
        unit = self._sim.site.units.get(pdu.dev_id)
        table = FUNCTION_TABLE.get(pdu.function_code)
        if unit is None or table is None or pdu.function_code not in (5, 6, 15, 16):
            return  # the SunSpec unit, or a mask / read-write request (ems sends neither)
        values = list(pdu.bits) if table is Table.COIL else list(pdu.registers)
        self._record(unit, table, pdu.address, values, outcome=FAULT, limits=self._limits(unit))

    def _record(
        self,
        unit: Unit,
        table: Table,
        address: int,
        values: Sequence[int | bool],
        *,
        outcome: str,
        limits: dict[str, float],
    ) -> None:
        now, sim_now = time.time(), self._sim.site.now
        points = written_values(unit, table, address, values)
        if limits:  # limits written along with a setpoint apply to it
            limits = {**limits, **{p.key: float(v) for p, v in points if p.key in limits}}
        told = self._commanded_problem(unit, outcome, limits)
        for point, value in points:
            problems = [p for p in [profile_problem(point, value), told] if p]
            told = None  # once per write
            if unit.unit_id == BATTERY_UNIT:
                problems += battery_problems(point.key, value, limits, self.params)
            write = Write(now, sim_now, unit.unit_id, point.key, value, outcome, tuple(problems))
            with self._lock:
                self._writes.append(write)

    def _commanded_problem(self, unit: Unit, outcome: str, limits: dict[str, float]) -> str | None:
        """The power the battery is told after a write (any vendor's registers), if too much.

        Read from the simulated device's own command logic, so a vendor's mode and power
        registers are judged by what they make the battery do, not register by register.
        """
        if unit.unit_id != BATTERY_UNIT or outcome != STORED:
            return None
        told = self._sim.site.battery.control.remote_w()
        if told is None:  # its own logic: not a command of ours
            return None
        charge = min(self.params.max_charge_w, limits.get("charge_limit", math.inf))
        discharge = min(self.params.max_discharge_w, limits.get("discharge_limit", math.inf))
        if -discharge - 1.0 <= told <= charge + 1.0:
            return None
        return f"the battery is told {told:g} W, beyond [-{discharge:g}, {charge:g}] W"

    @property
    def writes(self) -> list[Write]:
        """A copy of the writes recorded so far."""
        with self._lock:
            return list(self._writes)

    def save(self, path: Path) -> None:
        """Write the record as CSV (one row per point written)."""
        with path.open("w", newline="") as out:
            rows = csv.writer(out)
            rows.writerow(["wall", "sim", "unit", "key", "value", "outcome", "problems"])
            for w in self.writes:
                wall = datetime.fromtimestamp(w.wall).isoformat(timespec="milliseconds")
                sim = w.sim.isoformat(timespec="seconds")
                rows.writerow([wall, sim, w.unit, w.key, w.value, w.outcome, "; ".join(w.problems)])
