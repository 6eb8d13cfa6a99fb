"""Helpers for the plan, appliance, service and calendar tests (no Modbus, no sockets)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.const import EVENT_CALL_SERVICE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import DOMAIN

TZ = "Europe/Paris"
# 2025-01-15 was a Wednesday in winter (UTC+1): 21:00 local is 20:00 UTC.
NOW = datetime.fromisoformat("2025-01-15T21:00:00+01:00")

DISHWASHER = ConfigSubentryData(
    data={
        "appliance_type": "cycle",
        "switch_entity": "input_boolean.dishwasher",
        "power_w": 2000,
        "duration_minutes": 50,
        "profile_step_minutes": 1,
        "finish_by": "07:00:00",
        "uid": "dishwasher_uid",
    },
    subentry_type="appliance",
    title="Dishwasher",
    unique_id="appliance:input_boolean.dishwasher",
)
WATER_HEATER = ConfigSubentryData(
    data={
        "appliance_type": "water_heater",
        "switch_entity": "input_boolean.water_heater",
        "power_w": 3000,
        "energy_wh": 6000,
        "windows": "22:00-06:00",
        "finish_by": "06:00:00",
        "uid": "water_heater_uid",
    },
    subentry_type="appliance",
    title="Water heater",
    unique_id="appliance:input_boolean.water_heater",
)
EV = ConfigSubentryData(
    data={
        "appliance_type": "ev",
        "switch_entity": "input_boolean.ev_charger",
        "max_power_w": 7400,
        "min_power_w": 1400,
        "energy_wh": 0,
        "finish_by": "07:30:00",
        "allow_partial": True,
        "uid": "ev_uid",
    },
    subentry_type="appliance",
    title="Car",
    unique_id="appliance:input_boolean.ev_charger",
)
HEATER = ConfigSubentryData(
    data={
        "appliance_type": "pilot_wire_heater",
        "switch_entity": "input_select.living_room_pilot_wire",
        "comfort_power_w": 1500,
        "eco_power_w": 600,
        "comfort_ratio": 50,
        "windows": "06:00-22:00",
        "comfort_option": "comfort",
        "eco_option": "eco",
        "uid": "heater_uid",
    },
    subentry_type="appliance",
    title="Living room heater",
    unique_id="appliance:input_select.living_room_pilot_wire",
)
THERMAL = ConfigSubentryData(
    data={
        "appliance_type": "thermal",
        "switch_entity": "input_boolean.heat_pump",
        "max_power_w": 2000,
        "cop": 3,
        "heat_loss_w_per_k": 150,
        "thermal_capacity_wh_per_k": 5000,
        "t_min_c": 19,
        "t_max_c": 22,
        "indoor_temperature_entity": "sensor.living_room_temperature",
        "uid": "thermal_uid",
    },
    subentry_type="appliance",
    title="Heat pump",
    unique_id="appliance:input_boolean.heat_pump",
)
ALL_APPLIANCES = [DISHWASHER, WATER_HEATER, EV, HEATER, THERMAL]


async def async_setup_driven(hass: HomeAssistant) -> None:
    """The entities the appliances drive (real helpers), and the sensors they read."""
    assert await async_setup_component(
        hass,
        "input_boolean",
        {
            "input_boolean": {
                k: {} for k in ("dishwasher", "water_heater", "ev_charger", "heat_pump")
            }
        },
    )
    assert await async_setup_component(
        hass,
        "input_select",
        {
            "input_select": {
                "living_room_pilot_wire": {
                    "options": ["comfort", "eco", "frost_protection", "off"],
                    "initial": "comfort",
                }
            }
        },
    )
    hass.states.async_set("sensor.living_room_temperature", "20.5", {"unit_of_measurement": "°C"})
    hass.states.async_set("weather.home", "cloudy", {"temperature": 4.0, "temperature_unit": "°C"})
    await hass.async_block_till_done()


def driven_calls(hass: HomeAssistant) -> list[tuple[str, str, dict[str, Any]]]:
    """Every call ems makes to the driven helpers, recorded as (domain, service, data)."""
    calls: list[tuple[str, str, dict[str, Any]]] = []

    @callback
    def record(event: Event) -> None:
        if event.data["domain"] in ("input_boolean", "input_select"):
            calls.append(
                (event.data["domain"], event.data["service"], dict(event.data["service_data"]))
            )

    hass.bus.async_listen(EVENT_CALL_SERVICE, record)
    return calls


def flaky(manager: Any, method: str, times: int, when: Callable[..., bool] = lambda *_: True):
    """Patch a plan manager's ``_async_switch`` or ``_async_select`` so that its first ``times``
    calls matching ``when(entity_id, value)`` fail as an offline device does; the others go through.
    """
    original = getattr(manager, method)
    left = [times]

    async def call(*args: Any) -> None:
        if left[0] > 0 and when(*args):
            left[0] -= 1
            raise HomeAssistantError("device offline")
        await original(*args)

    return patch.object(manager, method, call)


async def setup_site(
    hass: HomeAssistant,
    appliances: list[ConfigSubentryData] | None = None,
    options: dict[str, Any] | None = None,
    entry_id: str = "site_entry_id",
) -> MockConfigEntry:
    """A loaded site with appliances only (no Modbus device, no socket)."""
    await hass.config.async_set_time_zone(TZ)
    await async_setup_driven(hass)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        unique_id="home",
        entry_id=entry_id,
        data={"import_limit_w": 9000, "export_limit_w": 6000},
        options=options or {},
        subentries_data=appliances if appliances is not None else ALL_APPLIANCES,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


def make_plan(
    start: datetime,
    *,
    steps: int = 96,
    step_minutes: int = 15,
    battery_w: list[float] | None = None,
    appliances: dict[str, dict[str, Any]] | None = None,
    status: str = "optimal",
) -> dict[str, Any]:
    """A valid plan of contract v1 (not necessarily physical)."""
    battery = battery_w if battery_w is not None else [0.0] * steps
    soc = [50.0]
    for power in battery:
        soc.append(min(100.0, max(0.0, soc[-1] + power * step_minutes / 60 / 100)))
    return {
        "version": 1,
        "start": start.isoformat(),
        "step_minutes": step_minutes,
        "horizon_steps": steps,
        "status": status,
        "objective_value": 1.23,
        "solve_time_ms": 12.0,
        "build_time_ms": 3.0,
        "grid_w": [500.0 + b for b in battery],
        "battery_w": battery,
        "soc_pct": soc,
        "pv_used_w": [0.0] * steps,
        "appliances": appliances or {},
        "warnings": [],
        "report": {
            "consumer_count": len(appliances or {}),
            "import_wh": 1000.0,
            "export_wh": 0.0,
            "cost_eur": 0.42,
            "self_consumption_pct": 100.0,
            "deficit_min_hour": {"start": None, "w": None},
            "deficit_max_hour": {"start": None, "w": None},
        },
        "curves": {
            "net_without_flexible_w": [500.0] * steps,
            "net_with_flexible_w": [500.0] * steps,
        },
    }


def run(steps: int, first: int, last: int, power: float) -> list[float]:
    """A power series with ``power`` on steps [first, last)."""
    return [power if first <= i < last else 0.0 for i in range(steps)]


def at(start: datetime, step: int, step_minutes: int = 15) -> datetime:
    """Start of step ``step``."""
    return start + timedelta(minutes=step_minutes * step)
