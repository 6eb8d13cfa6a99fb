"""A Modbus TCP site simulator: BESS, PV inverter, grid meter, relay board and a SunSpec device.

The register maps come from the integration's YAML profiles (``core/ems_core/profiles``)
through :mod:`ems_core.profile`, so the simulator serves exactly what the integration reads.
"""

from __future__ import annotations

from .server import Faults, Simulator, start_simulator
from .site import DEFAULT_START, SUNSPEC_UNIT, UNIT_PROFILES, Site

__all__ = [
    "DEFAULT_START",
    "SUNSPEC_UNIT",
    "UNIT_PROFILES",
    "Faults",
    "Simulator",
    "Site",
    "start_simulator",
]
