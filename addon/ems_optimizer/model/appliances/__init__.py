"""Appliance builders, one module per type of the plan contract."""

from __future__ import annotations

from types import ModuleType

from . import cycle, ev, pilot_wire_heater, thermal, water_heater

BUILDERS: dict[str, ModuleType] = {
    "cycle": cycle,
    "water_heater": water_heater,
    "ev": ev,
    "pilot_wire_heater": pilot_wire_heater,
    "thermal": thermal,
}
