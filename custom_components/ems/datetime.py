"""Date-time entities: each appliance's "finish by"."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .plan_entities import async_add_plan_entities
from .runtime import EmsConfigEntry

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the finish-by of each appliance that has a deadline."""
    async_add_plan_entities(entry, async_add_entities, Platform.DATETIME)
