"""Entity-backed devices: a battery, PV or meter assembled from entities the user already has."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfEnergy,
    UnitOfPower,
)
from homeassistant.core import HomeAssistant
from homeassistant.util.unit_conversion import EnergyConverter, PowerConverter

from .const import (
    CONF_CAPACITY_WH,
    CONF_ENERGY_IN_ENTITY,
    CONF_ENERGY_OUT_ENTITY,
    CONF_INVERT_POWER,
    CONF_POWER_ENTITY,
    CONF_SETPOINT_ENTITY,
    CONF_SOC_ENTITY,
)
from .core.profile import ConversionError
from .core.transport import TransportError

# (config key, ems key, how to convert) per device kind; the first one is required.
_SOURCES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "battery": (
        (CONF_POWER_ENTITY, "power", "power"),
        (CONF_SOC_ENTITY, "soc", "percent"),
        (CONF_ENERGY_IN_ENTITY, "energy_charged", "energy"),
        (CONF_ENERGY_OUT_ENTITY, "energy_discharged", "energy"),
        (CONF_SETPOINT_ENTITY, "setpoint", "power"),
    ),
    "pv": (
        (CONF_POWER_ENTITY, "power", "power"),
        (CONF_ENERGY_OUT_ENTITY, "energy_total", "energy"),
    ),
    "meter": (
        (CONF_POWER_ENTITY, "power", "power"),
        (CONF_ENERGY_IN_ENTITY, "energy_import", "energy"),
        (CONF_ENERGY_OUT_ENTITY, "energy_export", "energy"),
    ),
}


def source_keys(kind: str, config: Mapping[str, Any]) -> list[str]:
    """The ems keys an entity-backed device of this kind provides with this config."""
    return [key for conf, key, _ in _SOURCES[kind] if config.get(conf)]


class EntitySource:
    """Reads (and for a battery, commands) a device through other integrations' entities."""

    def __init__(self, hass: HomeAssistant, kind: str, config: Mapping[str, Any]) -> None:
        """Remember which entity stands for which ems key."""
        self.hass = hass
        self.kind = kind
        self.config = config
        self.entity_ids = {key: config[conf] for conf, key, _ in _SOURCES[kind] if config.get(conf)}
        self._how = {key: how for _, key, how in _SOURCES[kind]}

    def read(self) -> dict[str, Any]:
        """Current values in ems units (W, %, kWh; battery + charging, meter + import)."""
        values: dict[str, Any] = {}
        for key, entity_id in self.entity_ids.items():
            values[key] = self._value(key, entity_id)
        if values.get("power") is None:
            raise TransportError(f"{self.entity_ids['power']} has no numeric state")
        if self.config.get(CONF_INVERT_POWER):
            for key in ("power", "setpoint"):
                if values.get(key) is not None:
                    values[key] = -values[key]
        if self.kind == "battery" and self.config.get(CONF_CAPACITY_WH):
            values["capacity"] = self.config[CONF_CAPACITY_WH]
        return values

    def setpoint_range_w(self) -> tuple[float, float] | None:
        """The setpoint entity's own range in ems terms (W, + charging), if it has one."""
        entity_id = self.entity_ids.get("setpoint")
        state = self.hass.states.get(entity_id) if entity_id else None
        if state is None:
            return None
        low, high = state.attributes.get("min"), state.attributes.get("max")
        if low is None or high is None:
            return None
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        if unit in PowerConverter.VALID_UNITS:
            low = PowerConverter.convert(float(low), unit, UnitOfPower.WATT)
            high = PowerConverter.convert(float(high), unit, UnitOfPower.WATT)
        if self.config.get(CONF_INVERT_POWER):
            low, high = -float(high), -float(low)
        return float(low), float(high)

    def power_age_s(self, now: datetime) -> float | None:
        """Seconds since the power entity last reported a value (None if it does not exist)."""
        state = self.hass.states.get(self.entity_ids["power"])
        return None if state is None else (now - state.last_reported).total_seconds()

    def _value(self, key: str, entity_id: str) -> float | None:
        state = self.hass.states.get(entity_id)
        if state is None or state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
            return None
        try:
            value = float(state.state)
        except ValueError:
            return None
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        how = self._how[key]
        if how == "power" and unit in PowerConverter.VALID_UNITS:
            return PowerConverter.convert(value, unit, UnitOfPower.WATT)
        if how == "energy" and unit in EnergyConverter.VALID_UNITS:
            return EnergyConverter.convert(value, unit, UnitOfEnergy.KILO_WATT_HOUR)
        return value

    async def write(self, key: str, value: Any) -> None:
        """Command the battery through its setpoint entity (a number or input_number)."""
        entity_id = self.entity_ids.get(key)
        if key != "setpoint" or entity_id is None:
            raise ConversionError(f"{key} cannot be commanded on this device")
        state = self.hass.states.get(entity_id)
        if state is None:
            raise TransportError(f"{entity_id} does not exist")
        if self.config.get(CONF_INVERT_POWER):
            value = -value
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        if unit in PowerConverter.VALID_UNITS:  # e.g. a vendor setpoint in kW
            value = PowerConverter.convert(value, UnitOfPower.WATT, unit)
        low, high = state.attributes.get("min"), state.attributes.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConversionError(f"{entity_id}: {value} {unit or ''} is outside [{low}, {high}]")
        domain = entity_id.split(".", 1)[0]
        await self.hass.services.async_call(
            domain, "set_value", {"entity_id": entity_id, "value": value}, blocking=True
        )
