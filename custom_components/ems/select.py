"""The site mode select (the controller keeps the mode in its own store)."""

from __future__ import annotations

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .core.decide import Mode
from .entity import EmsControllerEntity
from .runtime import EmsConfigEntry

PARALLEL_UPDATES = 0

MODE_DESCRIPTION = SelectEntityDescription(
    key="mode", translation_key="mode", options=[m.value for m in Mode]
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the site's mode select."""
    async_add_entities([EmsModeSelect(entry, MODE_DESCRIPTION)])


class EmsModeSelect(EmsControllerEntity, RestoreEntity, SelectEntity):
    """What the site controller does with the batteries."""

    async def async_added_to_hass(self) -> None:
        """Take over the last mode once, from a version that kept it in the entity."""
        await super().async_added_to_hass()
        if "mode" in self.controller.stored:
            return  # the controller's own store is the source of truth
        last = await self.async_get_last_state()
        if last is not None and last.state in self.options:
            self.controller.restore_mode(last.state)

    @property
    def current_option(self) -> str:
        """The mode chosen by the user."""
        return self.controller.mode.value

    @property
    def extra_state_attributes(self) -> dict[str, str | None]:
        """The mode actually run (``auto`` falls back to self-consumption on a stale plan)."""
        last = self.controller.last
        return {
            "effective_mode": last.effective_mode.value if last else None,
            "fallback": last.fallback.value if last and last.fallback else None,
            "status": self.controller.status(),
        }

    async def async_select_option(self, option: str) -> None:
        """Switch mode and act on it at once."""
        await self.controller.async_set_mode(option)
