"""Sensors: every measured point of every device, and the site totals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import EmsConfigEntry
from .descriptions import device_points, entity_category
from .entity import EmsDeviceEntity, EmsSiteEntity
from .profile import Platform, Point
from .site import SiteValues

PARALLEL_UPDATES = 0


def _description(point: Point) -> SensorEntityDescription:
    return SensorEntityDescription(
        key=point.key,
        translation_key=point.key,
        native_unit_of_measurement=point.unit,
        device_class=SensorDeviceClass(point.device_class) if point.device_class else None,
        state_class=SensorStateClass(point.state_class) if point.state_class else None,
        suggested_display_precision=point.precision,
        entity_category=entity_category(point),
        entity_registry_enabled_default=point.enabled_default,
    )


@dataclass(frozen=True, kw_only=True)
class EmsSiteSensorEntityDescription(SensorEntityDescription):
    """A site total and how to take it from the site values."""

    value_fn: Callable[[SiteValues], float | None]


def _power(
    key: str, value_fn: Callable[[SiteValues], float | None]
) -> EmsSiteSensorEntityDescription:
    return EmsSiteSensorEntityDescription(
        key=key,
        translation_key=key,
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=value_fn,
    )


SITE_SENSORS: tuple[EmsSiteSensorEntityDescription, ...] = (
    _power("site_pv_power", lambda v: v.pv_power),
    _power("site_battery_power", lambda v: v.battery_power),
    _power("site_grid_power", lambda v: v.grid_power),
    _power("site_house_load", lambda v: v.house_load),
    EmsSiteSensorEntityDescription(
        key="site_soc",
        translation_key="site_soc",
        native_unit_of_measurement=PERCENTAGE,
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda v: v.soc,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of each device (under its subentry) and of the site."""
    for subentry_id, coordinator in entry.runtime_data.devices.items():
        async_add_entities(
            (
                EmsPointSensor(coordinator, _description(p))
                for p in device_points(coordinator, Platform.SENSOR)
            ),
            config_subentry_id=subentry_id,
        )
    async_add_entities(EmsSiteSensor(entry, d) for d in SITE_SENSORS)


class EmsPointSensor(EmsDeviceEntity, SensorEntity):
    """A measured value of a device."""

    @property
    def native_value(self) -> float | str | None:
        """The decoded value."""
        return self.value  # type: ignore[return-value]


class EmsSiteSensor(EmsSiteEntity, SensorEntity):
    """A site total."""

    entity_description: EmsSiteSensorEntityDescription

    @property
    def native_value(self) -> float | None:
        """The current total."""
        return self.entity_description.value_fn(self.entry.runtime_data.site.values())

    @property
    def available(self) -> bool:
        """Unavailable rather than wrong when a device it needs is missing or down."""
        return self.native_value is not None
