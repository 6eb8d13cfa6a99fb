"""Switches: relays (coils) of a device; writes need control enabled for the device."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

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
    """Add each device's relays."""
    for subentry_id, coordinator in entry.runtime_data.devices.items():
        async_add_entities(
            (
                EmsRelaySwitch(
                    coordinator,
                    SwitchEntityDescription(
                        key=p.key,
                        translation_key=p.key,
                        entity_category=entity_category(p),
                        entity_registry_enabled_default=p.enabled_default,
                    ),
                )
                for p in device_points(coordinator, Platform.SWITCH)
            ),
            config_subentry_id=subentry_id,
        )


class EmsRelaySwitch(EmsDeviceEntity, SwitchEntity):
    """A relay."""

    @property
    def is_on(self) -> bool | None:
        """The coil state read back from the device."""
        return None if self.value is None else bool(self.value)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Close the relay."""
        await self.coordinator.async_write(self.entity_description.key, True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Open the relay."""
        await self.coordinator.async_write(self.entity_description.key, False)
