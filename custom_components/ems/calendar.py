"""The plan as a calendar: one event per planned appliance run and battery block."""

from __future__ import annotations

from datetime import datetime

from homeassistant.components.calendar import (
    CalendarEntity,
    CalendarEntityDescription,
    CalendarEvent,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .coordinator import EmsConfigEntry
from .plan import PlanRun
from .plan_entities import EmsPlanEntity

PARALLEL_UPDATES = 0

PLAN_CALENDAR = CalendarEntityDescription(key="plan", translation_key="plan")

# Event texts are data, not entity names: the two languages ems ships, by the HA language.
_TEXTS = {
    "en": {
        "charge": "Battery charge",
        "discharge": "Battery discharge",
        "description": "Planned by ems: {energy:.2f} kWh, {power:.0f} W on average.",
    },
    "fr": {
        "charge": "Charge de la batterie",
        "discharge": "Décharge de la batterie",
        "description": "Planifié par ems : {energy:.2f} kWh, {power:.0f} W en moyenne.",
    },
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the site's plan calendar."""
    if (manager := entry.runtime_data.plan) is not None:
        async_add_entities([EmsPlanCalendar(manager, PLAN_CALENDAR)])


class EmsPlanCalendar(EmsPlanEntity, CalendarEntity):
    """Planned appliance runs and battery charge / discharge blocks."""

    def _event(self, run: PlanRun) -> CalendarEvent:
        texts = _TEXTS["fr" if self.hass.config.language.startswith("fr") else "en"]
        if run.appliance is not None:
            appliance = self.manager.appliances.get(run.appliance)
            summary = appliance.name if appliance else run.appliance
        else:
            summary = texts[run.kind]
        return CalendarEvent(
            start=run.start,
            end=run.end,
            summary=summary,
            description=texts["description"].format(
                energy=run.energy_wh / 1000, power=abs(run.average_w)
            ),
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
