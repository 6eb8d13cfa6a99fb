"""Base entities: a device entity bound to one point key, and a site entity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import EmsDeviceCoordinator
from .runtime import EmsConfigEntry

if TYPE_CHECKING:
    from .controller import SiteController


def site_device_info(entry: EmsConfigEntry) -> DeviceInfo:
    """The site itself, parent of every device."""
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        manufacturer="ems",
        model="Site",
        name=entry.title,
    )


class EmsDeviceEntity(CoordinatorEntity[EmsDeviceCoordinator]):
    """An entity showing one key of one device; its key is its listener context.

    The context tells the coordinator which points enabled entities need, so disabled
    entities are not polled.
    """

    _attr_has_entity_name = True

    def __init__(self, coordinator: EmsDeviceCoordinator, description: EntityDescription) -> None:
        """Set unique id and device from the coordinator's device identity."""
        super().__init__(coordinator, context=description.key)
        self.entity_description = description
        self._attr_unique_id = f"{coordinator.uid}_{description.key}"
        profile = coordinator.profile
        data = coordinator.subentry.data
        entry = coordinator.config_entry
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, coordinator.uid)},
            name=coordinator.subentry.title,
            manufacturer=profile.manufacturer if profile else None,
            model=profile.model if profile else None,
            model_id=profile.id if profile else None,
            serial_number=data.get("serial"),
            configuration_url=None,
            via_device=(DOMAIN, entry.entry_id),
        )

    @property
    def available(self) -> bool:
        """Unavailable when the device is, its values froze, or it has no value for this key."""
        return super().available and self.coordinator.live and self.value is not None

    @property
    def value(self) -> object:
        """The coordinator's current value for this entity's key."""
        data = self.coordinator.data
        return None if data is None else data.get(self.entity_description.key)


class EmsSiteBaseEntity(Entity):
    """An entity of the site device; subclasses say what it follows."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: EmsConfigEntry, description: EntityDescription) -> None:
        """Bind to the site."""
        self.entry = entry
        self.entity_description = description
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        self._attr_device_info = site_device_info(entry)


class EmsSiteEntity(EmsSiteBaseEntity):
    """A site entity updated whenever any device updates."""

    async def async_added_to_hass(self) -> None:
        """Follow every device of the site."""
        self.async_on_remove(self.entry.runtime_data.site.add_listener(self.async_write_ha_state))


class EmsControllerEntity(EmsSiteBaseEntity):
    """A site entity showing or tuning the site controller."""

    @property
    def controller(self) -> SiteController:
        """The site controller (set up before the platforms)."""
        return self.entry.runtime_data.controller

    async def async_added_to_hass(self) -> None:
        """Follow the controller's ticks and settings."""
        self.async_on_remove(self.controller.add_listener(self.async_write_ha_state))
