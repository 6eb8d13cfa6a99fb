"""Numbers: writable setpoints and limits, created only for devices with control enabled."""

from __future__ import annotations

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .coordinator import EmsConfigEntry
from .descriptions import device_points, entity_category
from .entity import EmsDeviceEntity
from .profile import Platform

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the writable numbers of each device whose control the user enabled."""
    ent_reg = er.async_get(hass)
    for subentry_id, coordinator in entry.runtime_data.devices.items():
        points = [p for p in device_points(coordinator, Platform.NUMBER) if p.writable]
        if not coordinator.control_enabled:
            # Control was switched off: the setpoints go away instead of lingering as orphans.
            for point in points:
                unique_id = f"{coordinator.uid}_{point.key}"
                if entity_id := ent_reg.async_get_entity_id("number", DOMAIN, unique_id):
                    ent_reg.async_remove(entity_id)
            continue
        async_add_entities(
            (
                EmsNumber(
                    coordinator,
                    NumberEntityDescription(
                        key=p.key,
                        translation_key=p.key,
                        native_unit_of_measurement=p.unit,
                        device_class=NumberDeviceClass(p.device_class) if p.device_class else None,
                        native_min_value=p.min if p.min is not None else 0,
                        native_max_value=p.max if p.max is not None else 100,
                        native_step=p.step or 1,
                        mode=NumberMode.BOX,
                        entity_category=entity_category(p),
                        entity_registry_enabled_default=p.enabled_default,
                    ),
                )
                for p in points
            ),
            config_subentry_id=subentry_id,
        )


class EmsNumber(EmsDeviceEntity, NumberEntity):
    """A setpoint or limit, read back from the device."""

    @property
    def native_min_value(self) -> float:
        """The lowest value the device accepts now."""
        low = self.coordinator.write_limits(self.entity_description.key)[0]
        return super().native_min_value if low is None else low

    @property
    def native_max_value(self) -> float:
        """The highest value the device accepts now."""
        high = self.coordinator.write_limits(self.entity_description.key)[1]
        return super().native_max_value if high is None else high

    @property
    def native_value(self) -> float | None:
        """The value the device holds."""
        value = self.value
        return None if value is None else float(value)  # type: ignore[arg-type]

    async def async_set_native_value(self, value: float) -> None:
        """Write a new value (range-checked by the coordinator)."""
        await self.coordinator.async_write(self.entity_description.key, value)
