"""Entity descriptions built from profile points (entities are data, not classes)."""

from __future__ import annotations

from collections.abc import Iterator

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import EntityCategory, UnitOfPower

from .coordinator import EmsDeviceCoordinator
from .core.profile import Platform, Point, Table
from .entity_source import source_keys

# The fields every power sensor of the site (totals, controller, plan) shares.
POWER_SENSOR_FIELDS = {
    "native_unit_of_measurement": UnitOfPower.WATT,
    "device_class": SensorDeviceClass.POWER,
    "state_class": SensorStateClass.MEASUREMENT,
    "suggested_display_precision": 0,
}

# What entity-backed devices show, described like profile points (values arrive in these units).
ENTITY_BACKED_POINTS: dict[str, Point] = {
    p.key: p
    for p in (
        Point(key="power", address=0, unit="W", device_class="power", state_class="measurement"),
        Point(
            key="soc",
            address=0,
            unit="%",
            device_class="battery",
            state_class="measurement",
            precision=1,
        ),
        *(
            Point(
                key=key,
                address=0,
                unit="kWh",
                device_class="energy",
                state_class="total_increasing",
                precision=3,
            )
            for key in (
                "energy_charged",
                "energy_discharged",
                "energy_total",
                "energy_import",
                "energy_export",
            )
        ),
        Point(
            key="setpoint",
            address=0,
            table=Table.HOLDING,
            unit="W",
            device_class="power",
            platform=Platform.NUMBER,
            writable=True,
            min=-100000,
            max=100000,
            step=10,
        ),
    )
}


def device_points(coordinator: EmsDeviceCoordinator, platform: Platform) -> Iterator[Point]:
    """The points of a device that the given platform shows."""
    if coordinator.profile is not None:
        points = coordinator.profile.points
    else:
        keys = source_keys(coordinator.kind, coordinator.subentry.data)
        points = tuple(ENTITY_BACKED_POINTS[k] for k in keys)
    for point in points:
        if point.platform is platform:
            yield point


def entity_category(point: Point) -> EntityCategory | None:
    """Diagnostic points go to the diagnostic category."""
    return EntityCategory.DIAGNOSTIC if point.diagnostic else None
