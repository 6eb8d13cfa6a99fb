"""Helpers for the simulator tests: read and write points over Modbus like the integration."""

from __future__ import annotations

from typing import Any

from ems_core.profile import Profile, builtin_profiles, decode, encode
from ems_core.transport import ModbusTransport
from simulator import UNIT_PROFILES

PROFILES: dict[str, Profile] = builtin_profiles()


def profile_of(unit: int) -> Profile:
    """The register profile a unit id serves."""
    return PROFILES[UNIT_PROFILES[unit][0]]


async def read_point(transport: ModbusTransport, unit: int, key: str) -> Any:
    """Read and decode one point over Modbus, as the integration does."""
    point = profile_of(unit)[key]
    words = await transport.read(unit, point.table, point.address, point.words)
    return decode(point, words)


async def write_point(transport: ModbusTransport, unit: int, key: str, value: Any) -> None:
    """Encode and write one point over Modbus."""
    point = profile_of(unit)[key]
    await transport.write(unit, point.table, point.address, encode(point, value))
