"""The plan as a calendar: one event per planned appliance run and battery block."""

from __future__ import annotations

from datetime import datetime

from homeassistant.components.calendar import (
    CalendarEntity,
    CalendarEntityDescription,
    CalendarEvent,
)
from homeassistant.const import EVENT_CORE_CONFIG_UPDATE
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .core.contract import INTENT_REASONS
from .plan import PlanManager, PlanRun
from .plan_entities import EmsPlanEntity
from .runtime import EmsConfigEntry

PARALLEL_UPDATES = 0

PLAN_CALENDAR = CalendarEntityDescription(key="plan", translation_key="plan")

# Event texts are data, not entity names: the "common" strings of ems's translations, read in
# Home Assistant's language (Home Assistant fills in English for a language ems does not ship).
_TEXT_KEYS = (
    "calendar_charge",
    "calendar_discharge",
    "calendar_description",
    "calendar_why",
    *(f"calendar_reason_{code}" for code in INTENT_REASONS),
)


async def async_calendar_texts(hass: HomeAssistant, language: str) -> dict[str, str]:
    """The calendar's texts in ``language``, by key without the ``calendar_`` prefix."""
    strings = await async_get_translations(hass, language, "common", [DOMAIN])
    prefix = f"component.{DOMAIN}.common."
    return {key.removeprefix("calendar_"): strings[prefix + key] for key in _TEXT_KEYS}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the site's plan calendar."""
    language = hass.config.language
    texts = await async_calendar_texts(hass, language)
    async_add_entities([EmsPlanCalendar(entry.runtime_data.plan, PLAN_CALENDAR, language, texts)])


class EmsPlanCalendar(EmsPlanEntity, CalendarEntity):
    """Planned appliance runs and battery charge / discharge blocks."""

    def __init__(
        self,
        manager: PlanManager,
        description: CalendarEntityDescription,
        language: str,
        texts: dict[str, str],
    ) -> None:
        """The calendar of a plan, with its texts in ``language``."""
        super().__init__(manager, description)
        self._language = language
        self.texts = texts

    async def async_added_to_hass(self) -> None:
        """Follow the plan, and Home Assistant's language."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.hass.bus.async_listen(EVENT_CORE_CONFIG_UPDATE, self._async_config_updated)
        )

    async def _async_config_updated(self, event: Event) -> None:
        """Reload the texts when Home Assistant's language changes."""
        if (language := self.hass.config.language) == self._language:
            return
        self._language = language
        self.texts = await async_calendar_texts(self.hass, language)
        self.async_write_ha_state()

    def _event(self, run: PlanRun) -> CalendarEvent:
        if run.appliance is not None:
            appliance = self.manager.appliances.get(run.appliance)
            summary = appliance.name if appliance else run.appliance
        else:
            summary = self.texts[run.kind]
        description = self.texts["description"].format(
            energy=f"{run.energy_wh / 1000:.2f}", power=f"{abs(run.average_w):.0f}"
        )
        if run.reason is not None:  # "why is my battery charging from the grid now?"
            why = self.texts[f"reason_{run.reason}"]
            description = f"{description}\n{self.texts['why'].format(reason=why)}"
        return CalendarEvent(
            start=run.start,
            end=run.end,
            summary=summary,
            description=description,
            uid=f"{run.appliance or run.kind}_{run.start.isoformat()}",
        )

    @property
    def event(self) -> CalendarEvent | None:
        """The current or next planned block."""
        now = dt_util.utcnow()
        for run in self.manager.runs():
            if run.end > now:
                return self._event(run)
        return None

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        """Planned blocks overlapping [start_date, end_date)."""
        return [
            self._event(run)
            for run in self.manager.runs()
            if run.start < end_date and run.end > start_date
        ]
