"""Binary sensors: alarm bits and inputs of each device, and each device's connectivity."""

from __future__ import annotations

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import EmsDeviceCoordinator
from .core.profile import Platform
from .descriptions import device_points, entity_category
from .entity import EmsDeviceEntity
from .plan_entities import async_add_plan_entities
from .runtime import EmsConfigEntry

PARALLEL_UPDATES = 0

CONNECTIVITY = BinarySensorEntityDescription(
    key="connected",
    translation_key="connected",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)

# On while the battery is held at 0 W (alarm, frozen values, failed writes) or does not follow.
CONTROL_PROBLEM = BinarySensorEntityDescription(
    key="control_problem",
    translation_key="control_problem",
    device_class=BinarySensorDeviceClass.PROBLEM,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each device's binary points and its connectivity sensor, and the plan's."""
    async_add_plan_entities(entry, async_add_entities, "binary_sensor")
    for subentry_id, coordinator in entry.runtime_data.devices.items():
        entities: list[BinarySensorEntity] = [
            EmsPointBinarySensor(
                coordinator,
                BinarySensorEntityDescription(
                    key=p.key,
                    translation_key=p.key,
                    device_class=BinarySensorDeviceClass(p.device_class)
                    if p.device_class
                    else None,
                    entity_category=entity_category(p),
                    entity_registry_enabled_default=p.enabled_default,
                ),
            )
            for p in device_points(coordinator, Platform.BINARY_SENSOR)
        ]
        entities.append(EmsConnectivitySensor(coordinator, CONNECTIVITY))
        if coordinator.kind == "battery":
            entities.append(EmsBatteryProblemSensor(coordinator, CONTROL_PROBLEM))
        async_add_entities(entities, config_subentry_id=subentry_id)


class EmsPointBinarySensor(EmsDeviceEntity, BinarySensorEntity):
    """An alarm bit or a discrete input."""

    @property
    def is_on(self) -> bool | None:
        """The bit."""
        return None if self.value is None else bool(self.value)


class EmsConnectivitySensor(EmsDeviceEntity, BinarySensorEntity):
    """Whether the device answers; always available so it can say it does not."""

    def __init__(
        self, coordinator: EmsDeviceCoordinator, description: BinarySensorEntityDescription
    ) -> None:
        """Listen without asking for any point."""
        super().__init__(coordinator, description)
        self.coordinator_context = None

    @property
    def available(self) -> bool:
        """Always available."""
        return True

    @property
    def is_on(self) -> bool:
        """True while the last poll succeeded."""
        return self.coordinator.last_update_success


class EmsBatteryProblemSensor(EmsDeviceEntity, BinarySensorEntity):
    """Whether the site controller can trust this battery, and why not."""

    _unrecorded_attributes = frozenset({"writes", "write_failures"})

    def __init__(
        self, coordinator: EmsDeviceCoordinator, description: BinarySensorEntityDescription
    ) -> None:
        """Listen without asking for any point."""
        super().__init__(coordinator, description)
        self.coordinator_context = None

    async def async_added_to_hass(self) -> None:
        """Follow the controller's ticks too."""
        await super().async_added_to_hass()
        controller = self.coordinator.config_entry.runtime_data.controller
        self.async_on_remove(controller.add_listener(self.async_write_ha_state))

    @property
    def available(self) -> bool:
        """Always available: it tells what is wrong."""
        return True

    @property
    def _key(self) -> str:
        return self.coordinator.subentry.subentry_id

    @property
    def is_on(self) -> bool:
        """True while the battery has a problem."""
        controller = self.coordinator.config_entry.runtime_data.controller
        return bool(controller.problems(self._key))

    @property
    def extra_state_attributes(self) -> dict[str, object]:
        """The problems, and the write counters."""
        controller = self.coordinator.config_entry.runtime_data.controller
        watch = controller.watches.get(self._key)
        return {
            "problems": [p.value for p in controller.problems(self._key)],
            "writes": watch.writes.writes if watch else 0,
            "write_failures": watch.writes.total_failures if watch else 0,
            "last_write_error": watch.writes.last_error if watch else None,
        }
