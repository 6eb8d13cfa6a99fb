"""Config flow parts of the plan: appliance subentries, and the site's tariff options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import uuid4

from homeassistant.components.select import ATTR_OPTIONS
from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import selector
import voluptuous as vol

from .appliance import parse_profile, parse_windows
from .const import (
    APPLIANCE_KINDS,
    CONF_ALLOW_PARTIAL,
    CONF_ANNUAL_CONSUMPTION_KWH,
    CONF_APPLIANCE_TYPE,
    CONF_COMFORT_OPTION,
    CONF_COMFORT_POWER_W,
    CONF_COMFORT_RATIO,
    CONF_COP,
    CONF_DURATION_MIN,
    CONF_ECO_OPTION,
    CONF_ECO_POWER_W,
    CONF_ENERGY_WH,
    CONF_EXPORT_PRICE,
    CONF_FINISH_BY,
    CONF_HEAT_LOSS,
    CONF_INDOOR_TEMP_ENTITY,
    CONF_MAX_POWER_W,
    CONF_MIN_POWER_W,
    CONF_OBJECTIVE,
    CONF_OFFPEAK_HOURS,
    CONF_OFFPEAK_PRICE,
    CONF_OUTDOOR_TEMP_ENTITY,
    CONF_PEAK_PRICE,
    CONF_POWER_W,
    CONF_PRICE_ENTITY,
    CONF_PROFILE_STEP_MIN,
    CONF_PROFILE_W,
    CONF_PV_AZIMUTH_DEG,
    CONF_PV_FORECAST_ENTITIES,
    CONF_PV_PEAK_W,
    CONF_PV_TILT_DEG,
    CONF_SWITCH_ENTITY,
    CONF_T_MAX,
    CONF_T_MIN,
    CONF_THERMAL_CAPACITY,
    CONF_UID,
    CONF_WEATHER_ENTITY,
    CONF_WINDOWS,
    OBJECTIVES,
)
from .core.contract import MAX_APPLIANCE_POWER_W, MAX_REQUEST_ENERGY_WH
from .validation import number_errors

CONF_NAME = "name"


def _number(
    unit: str | None, low: float = 0, high: float = 1_000_000, step: float = 1
) -> selector.NumberSelector:
    config = selector.NumberSelectorConfig(
        min=low, max=high, step=step, mode=selector.NumberSelectorMode.BOX
    )
    if unit:
        config["unit_of_measurement"] = unit
    return selector.NumberSelector(config)


_POWER = _number("W", 0, MAX_APPLIANCE_POWER_W, 10)
_ENERGY = _number("Wh", 0, MAX_REQUEST_ENERGY_WH, 100)
_TEMPERATURE = _number("°C", -30, 90, 0.5)
_TIME = selector.TimeSelector()
_TEXT = selector.TextSelector()
_SWITCH = selector.EntitySelector(selector.EntitySelectorConfig(domain=["switch", "input_boolean"]))
_SELECT = selector.EntitySelector(selector.EntitySelectorConfig(domain=["select", "input_select"]))
_TEMPERATURE_SENSOR = selector.EntitySelector(
    selector.EntitySelectorConfig(domain=["sensor", "weather"])
)


# --- site options: tariffs and planning ------------------------------------------------------

_PRICE = _number("€/kWh", 0, 10, 0.001)
_TARIFF_KEYS = (
    CONF_OBJECTIVE,
    CONF_PEAK_PRICE,
    CONF_OFFPEAK_PRICE,
    CONF_OFFPEAK_HOURS,
    CONF_EXPORT_PRICE,
    CONF_PRICE_ENTITY,
    CONF_WEATHER_ENTITY,
    CONF_PV_PEAK_W,
    CONF_PV_TILT_DEG,
    CONF_PV_AZIMUTH_DEG,
    CONF_ANNUAL_CONSUMPTION_KWH,
    CONF_PV_FORECAST_ENTITIES,
)


def tariff_fields(values: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """Optional option fields: what energy costs, and what the optimizer minimises."""

    def opt(key: str) -> vol.Optional:
        return vol.Optional(key, description={"suggested_value": values.get(key)})

    return {
        opt(CONF_OBJECTIVE): selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=list(OBJECTIVES),
                translation_key=CONF_OBJECTIVE,
                mode=selector.SelectSelectorMode.DROPDOWN,
            )
        ),
        opt(CONF_PEAK_PRICE): _PRICE,
        opt(CONF_OFFPEAK_PRICE): _PRICE,
        opt(CONF_OFFPEAK_HOURS): _TEXT,
        opt(CONF_EXPORT_PRICE): _PRICE,
        opt(CONF_PRICE_ENTITY): selector.EntitySelector(
            selector.EntitySelectorConfig(domain=["sensor", "input_number"])
        ),
        opt(CONF_WEATHER_ENTITY): selector.EntitySelector(
            selector.EntitySelectorConfig(domain="weather")
        ),
        opt(CONF_PV_PEAK_W): _number("W", 0, 1_000_000, 10),
        opt(CONF_PV_TILT_DEG): _number("°", 0, 90, 1),
        opt(CONF_PV_AZIMUTH_DEG): _number("°", 0, 360, 1),
        opt(CONF_ANNUAL_CONSUMPTION_KWH): _number("kWh", 0, 1_000_000, 100),
        opt(CONF_PV_FORECAST_ENTITIES): selector.EntitySelector(
            selector.EntitySelectorConfig(domain="sensor", multiple=True)
        ),
    }


def tariff_options(user_input: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The tariff options the user filled in, and errors by field."""
    options = {k: user_input[k] for k in _TARIFF_KEYS if user_input.get(k) not in (None, "")}
    # The selectors bound the range but let NaN through ("nan" coerces to a float).
    errors = number_errors(user_input)
    try:
        parse_windows(options.get(CONF_OFFPEAK_HOURS))
    except ValueError:
        errors[CONF_OFFPEAK_HOURS] = "invalid_windows"
    return options, errors


# --- appliances -------------------------------------------------------------------------------


def _fields(kind: str, defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """The form of one appliance type, with the current values as defaults."""

    def req(key: str, default: Any = vol.UNDEFINED) -> vol.Required:
        return vol.Required(key, default=defaults.get(key, default))

    def opt(key: str) -> vol.Optional:
        return vol.Optional(key, description={"suggested_value": defaults.get(key)})

    fields: dict[vol.Marker, Any] = {
        req(CONF_NAME): str,
        req(CONF_SWITCH_ENTITY): _SELECT if kind == "pilot_wire_heater" else _SWITCH,
    }
    if kind == "cycle":
        fields.update(
            {
                opt(CONF_POWER_W): _POWER,
                opt(CONF_DURATION_MIN): _number("min", 1, 1440, 1),
                opt(CONF_PROFILE_W): _TEXT,
                req(CONF_PROFILE_STEP_MIN, 1): _number("min", 1, 60, 1),
                req(CONF_FINISH_BY, "07:00:00"): _TIME,
            }
        )
    elif kind == "water_heater":
        fields.update(
            {
                req(CONF_POWER_W): _POWER,
                req(CONF_ENERGY_WH, 3000): _ENERGY,
                opt(CONF_WINDOWS): _TEXT,
                req(CONF_FINISH_BY, "07:00:00"): _TIME,
            }
        )
    elif kind == "ev":
        fields.update(
            {
                req(CONF_MAX_POWER_W, 7400): _POWER,
                req(CONF_MIN_POWER_W, 0): _POWER,
                req(CONF_ENERGY_WH, 0): _ENERGY,
                req(CONF_FINISH_BY, "07:30:00"): _TIME,
                req(CONF_ALLOW_PARTIAL, True): bool,
            }
        )
    elif kind == "pilot_wire_heater":
        fields.update(
            {
                req(CONF_COMFORT_POWER_W): _POWER,
                req(CONF_ECO_POWER_W, 0): _POWER,
                req(CONF_COMFORT_RATIO, 50): _number("%", 0, 100, 1),
                opt(CONF_WINDOWS): _TEXT,
                req(CONF_COMFORT_OPTION, "comfort"): str,
                req(CONF_ECO_OPTION, "eco"): str,
            }
        )
    else:  # thermal
        fields.update(
            {
                req(CONF_MAX_POWER_W): _POWER,
                req(CONF_COP, 1): _number(None, 0.1, 10, 0.1),
                req(CONF_HEAT_LOSS): _number("W/K", 0, 10_000, 1),
                req(CONF_THERMAL_CAPACITY): _number("Wh/K", 1, 1_000_000, 1),
                req(CONF_T_MIN, 19): _TEMPERATURE,
                req(CONF_T_MAX, 22): _TEMPERATURE,
                req(CONF_INDOOR_TEMP_ENTITY): _TEMPERATURE_SENSOR,
                opt(CONF_OUTDOOR_TEMP_ENTITY): _TEMPERATURE_SENSOR,
            }
        )
    return fields


class ApplianceSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure a flexible appliance of the site."""

    @property
    def _reconfiguring(self) -> bool:
        return self.source == "reconfigure"

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Choose the kind of appliance."""
        return self.async_show_menu(step_id="user", menu_options=list(APPLIANCE_KINDS))

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Reconfigure with the form of the appliance's type."""
        kind = self._get_reconfigure_subentry().data[CONF_APPLIANCE_TYPE]
        return await self._async_step(kind, None)

    async def async_step_cycle(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Washing machine, dishwasher, dryer: one uninterrupted cycle."""
        return await self._async_step("cycle", user_input)

    async def async_step_water_heater(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Hot-water tank on a relay."""
        return await self._async_step("water_heater", user_input)

    async def async_step_ev(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """EV charging point."""
        return await self._async_step("ev", user_input)

    async def async_step_pilot_wire_heater(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Electric heater on a pilot wire (comfort / eco)."""
        return await self._async_step("pilot_wire_heater", user_input)

    async def async_step_thermal(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Regulated heating with a room temperature."""
        return await self._async_step("thermal", user_input)

    def _check(self, kind: str, data: Mapping[str, Any]) -> dict[str, str]:
        """Errors by field ("base" for the form)."""
        # The selectors bound the range but let NaN through ("nan" coerces to a float).
        if errors := number_errors(data):
            return errors
        switch = self.hass.states.get(data[CONF_SWITCH_ENTITY])
        if switch is None:
            errors[CONF_SWITCH_ENTITY] = "entity_not_found"
        try:
            parse_windows(data.get(CONF_WINDOWS))
        except ValueError:
            errors[CONF_WINDOWS] = "invalid_windows"
        check = {
            "cycle": _cycle_errors,
            "ev": _ev_errors,
            "pilot_wire_heater": _pilot_wire_errors,
            "thermal": _thermal_errors,
        }.get(kind)
        if check is not None:
            errors |= check(self.hass, data, switch)
        return errors

    async def _async_step(self, kind: str, user_input: dict[str, Any] | None) -> SubentryFlowResult:
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if self._reconfiguring:
            current = self._get_reconfigure_subentry()
            defaults: Mapping[str, Any] = {CONF_NAME: current.title, **current.data}
        else:
            defaults = {}
        if user_input is not None:
            defaults = user_input
            data = {CONF_APPLIANCE_TYPE: kind, **user_input}
            name = data.pop(CONF_NAME)
            if not (errors := self._check(kind, data)):
                return self._finish(name, data)
            if CONF_COMFORT_OPTION in errors or CONF_ECO_OPTION in errors:
                state = self.hass.states.get(data[CONF_SWITCH_ENTITY])
                placeholders["options"] = ", ".join(state.attributes.get(ATTR_OPTIONS, []))  # type: ignore[union-attr]
        return self.async_show_form(
            step_id=kind,
            data_schema=vol.Schema(_fields(kind, defaults)),
            errors=errors,
            description_placeholders={"options": "", **placeholders},
        )

    def _finish(self, name: str, data: dict[str, Any]) -> SubentryFlowResult:
        """Create or update the subentry; one appliance per switch."""
        unique_id = f"appliance:{data[CONF_SWITCH_ENTITY]}"
        entry = self._get_entry()
        current = self._get_reconfigure_subentry() if self._reconfiguring else None
        for sub in entry.subentries.values():
            if sub.unique_id == unique_id and (
                current is None or sub.subentry_id != current.subentry_id
            ):
                return self.async_abort(reason="already_configured")
        if current is not None:
            data[CONF_UID] = current.data.get(CONF_UID) or current.subentry_id
            return self.async_update_and_abort(
                entry, current, title=name, data=data, unique_id=unique_id
            )
        data[CONF_UID] = f"appliance_{uuid4().hex[:12]}"
        return self.async_create_entry(title=name, data=data, unique_id=unique_id)


def _cycle_errors(hass: HomeAssistant, data: Mapping[str, Any], switch: State | None) -> dict:
    """A cycle needs a profile, or a power and a duration."""
    if data.get(CONF_PROFILE_W):
        try:
            parse_profile(data[CONF_PROFILE_W])
        except ValueError:
            return {CONF_PROFILE_W: "invalid_profile"}
    elif not data.get(CONF_POWER_W) or not data.get(CONF_DURATION_MIN):
        return {"base": "profile_or_power"}
    return {}


def _ev_errors(hass: HomeAssistant, data: Mapping[str, Any], switch: State | None) -> dict:
    """An EV charger's minimum power is not above its maximum."""
    if data[CONF_MIN_POWER_W] > data[CONF_MAX_POWER_W]:
        return {CONF_MIN_POWER_W: "min_above_max"}
    return {}


def _pilot_wire_errors(hass: HomeAssistant, data: Mapping[str, Any], switch: State | None) -> dict:
    """Eco below comfort; both options exist on the pilot-wire select."""
    errors = {}
    if data[CONF_ECO_POWER_W] > data[CONF_COMFORT_POWER_W]:
        errors[CONF_ECO_POWER_W] = "eco_above_comfort"
    if switch is not None:
        options = switch.attributes.get(ATTR_OPTIONS) or []
        for key in (CONF_COMFORT_OPTION, CONF_ECO_OPTION):
            if data[key] not in options:
                errors[key] = "option_not_found"
    return errors


def _thermal_errors(hass: HomeAssistant, data: Mapping[str, Any], switch: State | None) -> dict:
    """A temperature band, and temperature entities that exist."""
    errors = {}
    if data[CONF_T_MIN] >= data[CONF_T_MAX]:
        errors[CONF_T_MIN] = "t_min_above_max"
    for key in (CONF_INDOOR_TEMP_ENTITY, CONF_OUTDOOR_TEMP_ENTITY):
        if data.get(key) and hass.states.get(data[key]) is None:
            errors[key] = "entity_not_found"
    return errors
