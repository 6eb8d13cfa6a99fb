"""Site totals computed from all devices (the plant-controller view of the site)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .coordinator import EmsDeviceCoordinator


@dataclass(frozen=True, kw_only=True, slots=True)
class SiteValues:
    """Site totals; None where a device they need is missing or unavailable."""

    pv_power: float | None
    battery_power: float | None
    soc: float | None
    grid_power: float | None
    house_load: float | None


def _sum(devices: list[EmsDeviceCoordinator]) -> float | None:
    """Sum the devices' power, or None if there is no device or one has no value."""
    if not devices:
        return None
    total = 0.0
    for device in devices:
        if not device.live:
            return None
        value = device.data.get("power")
        if value is None:
            return None
        total += float(value)
    return total


def _weighted_soc(batteries: list[EmsDeviceCoordinator]) -> float | None:
    """Capacity-weighted SOC (equal weights where a capacity is unknown)."""
    if not batteries:
        return None
    socs: list[float] = []
    capacities: list[float | None] = []
    for battery in batteries:
        if not battery.live:
            return None
        soc = battery.data.get("soc")
        if soc is None:
            return None
        socs.append(float(soc))
        capacity = battery.data.get("capacity")
        capacities.append(float(capacity) if capacity else None)
    if None in capacities:  # one unknown capacity: weigh every battery the same
        return round(sum(socs) / len(socs), 1)
    weighted = sum(s * c for s, c in zip(socs, capacities, strict=True))  # type: ignore[operator]
    weight = sum(capacities)  # type: ignore[arg-type]
    return round(weighted / weight, 1)


# Devices are polled one after the other, so a balance a little below zero is timing, not data.
_LOAD_TOLERANCE_W = 50.0


def _house_load(load: float | None) -> float | None:
    """The balance, or None when it is clearly negative (a sign or wiring error)."""
    if load is None or load < -_LOAD_TOLERANCE_W:
        return None
    return max(0.0, load)


def compute(devices: Iterable[EmsDeviceCoordinator]) -> SiteValues:
    """Compute site totals: house load = grid + PV − battery (grid + import, battery + charge)."""
    by_kind: dict[str, list[EmsDeviceCoordinator]] = {}
    for device in devices:
        by_kind.setdefault(device.kind, []).append(device)
    pv = _sum(by_kind.get("pv", []))
    battery = _sum(by_kind.get("battery", []))
    grid = _sum(by_kind.get("meter", []))
    load = None
    if grid is not None:
        load = grid + (pv or 0.0) - (battery or 0.0)
        # A configured device without a value makes the balance unknown, not wrong.
        if (by_kind.get("pv") and pv is None) or (by_kind.get("battery") and battery is None):
            load = None
    return SiteValues(
        pv_power=pv,
        battery_power=battery,
        soc=_weighted_soc(by_kind.get("battery", [])),
        grid_power=grid,
        house_load=_house_load(load),
    )


class SiteAggregator:
    """Holds the site's device coordinators and tells site entities when any of them changes."""

    def __init__(self) -> None:
        """Start with no devices."""
        self.devices: dict[str, EmsDeviceCoordinator] = {}

    def values(self) -> SiteValues:
        """Current site totals."""
        return compute(self.devices.values())

    def add_listener(self, update: Callable[[], None]) -> Callable[[], None]:
        """Call ``update`` whenever any device updates; return the undo callable."""
        removers = [device.async_add_listener(update) for device in self.devices.values()]

        def remove() -> None:
            for remover in removers:
                remover()

        return remove
