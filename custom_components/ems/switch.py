"""Switches: relays (coils) of a device; writes need control enabled for the device."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .core.profile import Platform
from .descriptions import device_points, entity_category
from .entity import EmsControllerEntity, EmsDeviceEntity
from .plan_entities import async_add_plan_entities
from .runtime import EmsConfigEntry

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each device's relays, and the site's grid-charging switch."""
    async_add_entities([EmsGridChargingSwitch(entry, GRID_CHARGING)])
    async_add_entities(EmsGridSupportSwitch(entry, d) for d in GRID_SUPPORT_SWITCHES)
    async_add_plan_entities(entry, async_add_entities, "switch")
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


GRID_CHARGING = SwitchEntityDescription(key="grid_charging", translation_key="grid_charging")


class EmsGridChargingSwitch(EmsControllerEntity, RestoreEntity, SwitchEntity):
    """Whether batteries may charge from the grid, in every mode (off: from PV surplus only)."""

    async def async_added_to_hass(self) -> None:
        """Take over the last choice once, from a version that kept it in the entity."""
        await super().async_added_to_hass()
        if "grid_charging" in self.controller.stored:
            return  # the controller's own store is the source of truth
        if (last := await self.async_get_last_state()) is not None:
            self.controller.set_setting("grid_charging", last.state == "on")

    @property
    def is_on(self) -> bool:
        """Whether grid charging is allowed."""
        return self.controller.settings.grid_charging

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Allow grid charging."""
        self.controller.set_setting("grid_charging", True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Charge from PV surplus only."""
        self.controller.set_setting("grid_charging", False)


GRID_SUPPORT_SWITCHES = (
    SwitchEntityDescription(key="voltage_support", translation_key="voltage_support"),
    SwitchEntityDescription(key="frequency_response", translation_key="frequency_response"),
)


class EmsGridSupportSwitch(EmsControllerEntity, SwitchEntity):
    """Arms a grid-support function (kept in the controller's store, like every setting)."""

    @property
    def is_on(self) -> bool:
        """Whether the function is armed."""
        return bool(getattr(self.controller.settings, self.entity_description.key))

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Arm it: it acts from the next step of the grid-support loop."""
        self.controller.set_setting(self.entity_description.key, True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Disarm it: its response and reactive power go back to 0 at the next step."""
        self.controller.set_setting(self.entity_description.key, False)
