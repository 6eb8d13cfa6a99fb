"""Diagnostics: the site, its devices and what they last read, with addresses redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .const import CONF_HOST, CONF_SERIAL_PORT
from .core.sunspec import CONF_SERIAL
from .runtime import EmsConfigEntry

TO_REDACT = {CONF_HOST, CONF_SERIAL, CONF_SERIAL_PORT, "serial", "uid", "title", "unique_id"}
TO_REDACT |= {"allowed_clients", "allowed"}  # the SCADA's addresses


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EmsConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a site entry."""
    runtime = entry.runtime_data
    site = runtime.site.values()
    return {
        "entry": async_redact_data(
            {"data": dict(entry.data), "options": dict(entry.options)}, TO_REDACT
        ),
        "site": {
            "pv_power": site.pv_power,
            "battery_power": site.battery_power,
            "soc": site.soc,
            "grid_power": site.grid_power,
            "house_load": site.house_load,
        },
        "devices": {
            subentry_id: async_redact_data(
                {
                    "subentry_type": coordinator.subentry.subentry_type,
                    "data": dict(coordinator.subentry.data),
                    **coordinator.diagnostics(),
                },
                TO_REDACT,
            )
            for subentry_id, coordinator in runtime.devices.items()
        },
        "links": {
            f"link_{i}": {"connected": t.connected, "requests": t.requests}
            for i, t in enumerate(runtime.transports.values())
        },
        "plan": runtime.plan.summary(dt_util.utcnow()),
        "controller": runtime.controller.diagnostics(),
        "modbus_server": async_redact_data(runtime.scada.diagnostics(), TO_REDACT)
        if runtime.scada
        else None,
    }
