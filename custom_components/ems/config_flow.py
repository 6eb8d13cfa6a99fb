"""Config flow: a site entry, devices as subentries, options for polling and control."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
import logging
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.core import callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers import selector
from homeassistant.util import slugify
import voluptuous as vol

from . import async_get_profiles, link_params
from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_CAPACITY_WH,
    CONF_CONNECTION,
    CONF_CONTROL,
    CONF_ENERGY_IN_ENTITY,
    CONF_ENERGY_OUT_ENTITY,
    CONF_EXPORT_LIMIT_W,
    CONF_HOST,
    CONF_IMPORT_LIMIT_W,
    CONF_INVERT_POWER,
    CONF_MAX_CHARGE_W,
    CONF_MAX_DISCHARGE_W,
    CONF_PARITY,
    CONF_PORT,
    CONF_POWER_ENTITY,
    CONF_PROFILE,
    CONF_SCAN_INTERVAL,
    CONF_SERIAL_PORT,
    CONF_SERVER,
    CONF_SERVER_ALLOWED,
    CONF_SERVER_ENABLED,
    CONF_SERVER_FALLBACK_MODE,
    CONF_SERVER_HEARTBEAT_S,
    CONF_SERVER_PORT,
    CONF_SERVER_UNIT_ID,
    CONF_SERVER_WRITABLE,
    CONF_SETPOINT_ENTITY,
    CONF_SOC_ENTITY,
    CONF_STOPBITS,
    CONF_UID,
    CONF_UNIT_ID,
    CONNECTION_ENTITIES,
    CONNECTION_RTU,
    CONNECTION_TCP,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SERVER_FALLBACK_MODE,
    DEFAULT_SERVER_HEARTBEAT_S,
    DEFAULT_SERVER_PORT,
    DEFAULT_SERVER_UNIT_ID,
    DOMAIN,
    PROFILE_SUNSPEC,
    SUBENTRY_APPLIANCE,
    SUBENTRY_TYPES,
    SUNSPEC_BASES,
)
from .coordinator import device_uid
from .core.device import ModbusDevice
from .core.modbus_server import parse_allowed
from .core.profile import Platform, Profile
from .core.sunspec import (
    CONF_SERIAL,
    SunSpecError,
    async_discover,
    build_profile,
    sunspec_subentry_data,
)
from .core.transport import DeviceError, ModbusTransport, TransportError
from .grid import CONF_GRID, DEFAULT_VV_POINTS, GridSettings
from .plan_flow import ApplianceSubentryFlow, tariff_fields, tariff_options
from .scada import FALLBACK_MODES
from .validation import number_errors

_LOGGER = logging.getLogger(__name__)

PROBE_ATTEMPTS = 2
PROBE_RETRY_S = 0.5

CONF_NAME = "name"
STEP_TCP = "modbus_tcp"
STEP_RTU = "modbus_rtu"
STEP_SUNSPEC = "sunspec"
STEP_ENTITIES = "entities"

_CAPACITY_INPUT = selector.NumberSelector(
    selector.NumberSelectorConfig(
        min=100, max=10_000_000, step=100, unit_of_measurement="Wh", mode="box"
    )
)
_POWER_INPUT = selector.NumberSelector(
    selector.NumberSelectorConfig(
        min=0,
        max=1_000_000,
        step=100,
        unit_of_measurement="W",
        mode=selector.NumberSelectorMode.BOX,
    )
)


def _site_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_NAME, default=defaults.get(CONF_NAME, "Home")): str,
            vol.Optional(
                CONF_IMPORT_LIMIT_W,
                description={"suggested_value": defaults.get(CONF_IMPORT_LIMIT_W)},
            ): _POWER_INPUT,
            vol.Optional(
                CONF_EXPORT_LIMIT_W,
                description={"suggested_value": defaults.get(CONF_EXPORT_LIMIT_W)},
            ): _POWER_INPUT,
        }
    )


def _site_data(user_input: Mapping[str, Any]) -> dict[str, Any]:
    return {
        CONF_IMPORT_LIMIT_W: _int_or_none(user_input.get(CONF_IMPORT_LIMIT_W)),
        CONF_EXPORT_LIMIT_W: _int_or_none(user_input.get(CONF_EXPORT_LIMIT_W)),
    }


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


class EmsConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create a site."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Name the site and its grid limits."""
        errors: dict[str, str] = {}
        if user_input is not None and not (errors := number_errors(user_input)):
            await self.async_set_unique_id(slugify(user_input[CONF_NAME]))
            self._abort_if_unique_id_configured(reload_on_update=False)
            return self.async_create_entry(title=user_input[CONF_NAME], data=_site_data(user_input))
        kept = {k: v for k, v in (user_input or {}).items() if k not in errors}
        return self.async_show_form(step_id="user", data_schema=_site_schema(kept), errors=errors)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the site's name and grid limits."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None and not (errors := number_errors(user_input)):
            slug = slugify(user_input[CONF_NAME])
            if slug != entry.unique_id:
                await self.async_set_unique_id(slug)
                self._abort_if_unique_id_configured(reload_on_update=False)
            # The update listener reloads the entry once.
            self.hass.config_entries.async_update_entry(
                entry, unique_id=slug, title=user_input[CONF_NAME], data=_site_data(user_input)
            )
            return self.async_abort(reason="reconfigure_successful")
        defaults = {CONF_NAME: entry.title, **entry.data}
        return self.async_show_form(
            step_id="reconfigure", data_schema=_site_schema(defaults), errors=errors
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> EmsOptionsFlow:
        """Polling and control options."""
        return EmsOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Devices of a site (one subentry type per device kind), and its appliances."""
        return {
            **dict.fromkeys(SUBENTRY_TYPES, DeviceSubentryFlow),
            SUBENTRY_APPLIANCE: ApplianceSubentryFlow,
        }


class EmsOptionsFlow(OptionsFlow):
    """Poll interval, and which devices ems may write to."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the options."""
        errors: dict[str, str] = {}
        placeholders = {"error": ""}
        if user_input is not None:
            tariffs, errors = tariff_options(user_input)
            server = dict(user_input.get(CONF_SERVER) or {})
            try:
                parse_allowed(str(server.get(CONF_SERVER_ALLOWED) or ""))
            except ValueError:
                errors[CONF_SERVER] = "invalid_allowed_clients"
            grid = dict(user_input.get(CONF_GRID) or {})
            try:
                GridSettings.from_options({CONF_GRID: grid})
            except ValueError as err:
                errors[CONF_GRID] = "invalid_grid_support"
                placeholders["error"] = str(err)
            if not errors:
                return self.async_create_entry(
                    data={
                        CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
                        CONF_CONTROL: list(user_input.get(CONF_CONTROL, [])),
                        **tariffs,
                        # kept once set; a site that never enabled it stores nothing
                        **(
                            {CONF_SERVER: server}
                            if server.get(CONF_SERVER_ENABLED)
                            or CONF_SERVER in self.config_entry.options
                            else {}
                        ),
                        **(
                            {CONF_GRID: grid}
                            if grid != _grid_defaults() or CONF_GRID in self.config_entry.options
                            else {}
                        ),
                    }
                )
        options = self.config_entry.options
        devices = [
            selector.SelectOptionDict(value=sid, label=sub.title)
            for sid, sub in self.config_entry.subentries.items()
            if sub.subentry_type in ("battery", "pv", "relay_board")
        ]
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SCAN_INTERVAL,
                    default=options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL),
                ): selector.NumberSelector(
                    selector.NumberSelectorConfig(
                        min=1, max=3600, step=1, unit_of_measurement="s", mode="box"
                    )
                ),
                vol.Optional(
                    CONF_CONTROL,
                    default=[
                        d["value"] for d in devices if d["value"] in options.get(CONF_CONTROL, [])
                    ],
                ): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=devices, multiple=True)
                ),
                **tariff_fields(user_input or options),
                vol.Required(CONF_SERVER, default={}): section(
                    _server_schema((user_input or options).get(CONF_SERVER) or {}),
                    {"collapsed": True},
                ),
                vol.Required(CONF_GRID, default={}): section(
                    _grid_schema((user_input or options).get(CONF_GRID) or {}),
                    {"collapsed": True},
                ),
            }
        )
        return self.async_show_form(
            step_id="init", data_schema=schema, errors=errors, description_placeholders=placeholders
        )


_GRID_FIELDS: dict[str, tuple[Any, float, float, float, str | None]] = {
    # key: (default, min, max, step, unit)
    "f1_hz": (49.5, 45.0, 55.0, 0.01, "Hz"),
    "f2_hz": (49.9, 45.0, 55.0, 0.01, "Hz"),
    "f3_hz": (50.1, 45.0, 55.0, 0.01, "Hz"),
    "f4_hz": (50.5, 45.0, 55.0, 0.01, "Hz"),
    "reserve_pct": (10.0, 0.0, 50.0, 1.0, "%"),
    "ffr_trigger_hz": (0.0, 0.0, 55.0, 0.01, "Hz"),
    "ffr_hold_s": (5.0, 0.0, 600.0, 0.5, "s"),
    "v_nominal": (230.0, 100.0, 480.0, 1.0, "V"),
    "interval_s": (1.0, 0.2, 5.0, 0.1, "s"),
}


def _grid_defaults() -> dict[str, Any]:
    """The grid-support section as the form fills it when left alone."""
    values: dict[str, Any] = {k: v[0] for k, v in _GRID_FIELDS.items()}
    return values | {"volt_var_points": DEFAULT_VV_POINTS, "q_priority": False}


def _grid_schema(values: Mapping[str, Any]) -> vol.Schema:
    """The grid-support settings (a collapsed section of the site options)."""
    fields: dict[vol.Marker, Any] = {
        vol.Required(key, default=values.get(key, default)): selector.NumberSelector(
            selector.NumberSelectorConfig(
                min=low, max=high, step=step, unit_of_measurement=unit, mode="box"
            )
        )
        for key, (default, low, high, step, unit) in _GRID_FIELDS.items()
    }
    fields[
        vol.Required("volt_var_points", default=values.get("volt_var_points", DEFAULT_VV_POINTS))
    ] = str
    fields[vol.Required("q_priority", default=values.get("q_priority", False))] = bool
    return vol.Schema(fields)


def _server_schema(values: Mapping[str, Any]) -> vol.Schema:
    """The Modbus server's options (a collapsed section of the site options)."""

    def req(key: str, default: Any) -> vol.Required:
        return vol.Required(key, default=values.get(key, default))

    return vol.Schema(
        {
            req(CONF_SERVER_ENABLED, False): bool,
            req(CONF_SERVER_PORT, DEFAULT_SERVER_PORT): vol.All(
                selector.NumberSelector(
                    selector.NumberSelectorConfig(min=1, max=65535, step=1, mode="box")
                ),
                _WholeNumber(),
            ),
            req(CONF_SERVER_UNIT_ID, DEFAULT_SERVER_UNIT_ID): _unit_id(247),
            req(CONF_SERVER_WRITABLE, False): bool,
            vol.Optional(
                CONF_SERVER_ALLOWED,
                description={"suggested_value": values.get(CONF_SERVER_ALLOWED)},
            ): str,
            req(CONF_SERVER_HEARTBEAT_S, DEFAULT_SERVER_HEARTBEAT_S): vol.All(
                selector.NumberSelector(
                    selector.NumberSelectorConfig(
                        min=0, max=3600, step=1, unit_of_measurement="s", mode="box"
                    )
                ),
                _WholeNumber(),
            ),
            req(CONF_SERVER_FALLBACK_MODE, DEFAULT_SERVER_FALLBACK_MODE): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=[m.value for m in FALLBACK_MODES],
                    translation_key=CONF_SERVER_FALLBACK_MODE,
                    mode=selector.SelectSelectorMode.DROPDOWN,
                )
            ),
        }
    )


# Parity options are translation keys (hassfest allows [a-z0-9-_] only); link_params turns them
# into pymodbus's N/E/O, which entries made before stored (shown here as their key).
PARITIES = {"N": "none", "E": "even", "O": "odd"}


def _parity(stored: str) -> str:
    return PARITIES.get(stored, stored)


class _WholeNumber(vol.Coerce):
    """To int, refusing a fraction or NaN (a number box lets them through); serialized as int."""

    def __init__(self) -> None:
        super().__init__(int)

    def __call__(self, value: Any) -> int:
        """The value as an int."""
        if value % 1:  # NaN % 1 is NaN: refused too
            raise vol.Invalid("expected a whole number")
        return int(value)


def _unit_id(highest: int) -> vol.All:
    """The Modbus unit id as a number box: a slider (HA's form for a range under 256) hid it."""
    return vol.All(
        selector.NumberSelector(
            selector.NumberSelectorConfig(
                min=0, max=highest, step=1, mode=selector.NumberSelectorMode.BOX
            )
        ),
        _WholeNumber(),
    )


def _tcp_fields(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    return {
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)): str,
        vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, 502)): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=65535)
        ),
        vol.Required(CONF_UNIT_ID, default=defaults.get(CONF_UNIT_ID, 1)): _unit_id(255),
    }


def _rtu_fields(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    return {
        vol.Required(CONF_SERIAL_PORT, default=defaults.get(CONF_SERIAL_PORT, "/dev/ttyUSB0")): str,
        vol.Required(CONF_BAUDRATE, default=str(defaults.get(CONF_BAUDRATE, 9600))): (
            selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=["1200", "2400", "4800", "9600", "19200", "38400", "57600", "115200"],
                    mode=selector.SelectSelectorMode.DROPDOWN,
                )
            )
        ),
        vol.Required(CONF_PARITY, default=_parity(defaults.get(CONF_PARITY, "none"))): (
            selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=list(PARITIES.values()), translation_key=CONF_PARITY, mode="dropdown"
                )
            )
        ),
        vol.Required(CONF_STOPBITS, default=defaults.get(CONF_STOPBITS, 1)): vol.All(
            vol.Coerce(int), vol.In([1, 2])
        ),
        vol.Required(CONF_BYTESIZE, default=defaults.get(CONF_BYTESIZE, 8)): vol.All(
            vol.Coerce(int), vol.In([7, 8])
        ),
        vol.Required(CONF_UNIT_ID, default=defaults.get(CONF_UNIT_ID, 1)): _unit_id(247),
    }


def _battery_rating_fields(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """Capacity and power limits, for a battery whose registers do not give them."""

    def opt(key: str) -> vol.Optional:
        return vol.Optional(key, description={"suggested_value": defaults.get(key)})

    return {
        opt(CONF_CAPACITY_WH): _CAPACITY_INPUT,
        opt(CONF_MAX_CHARGE_W): _POWER_INPUT,
        opt(CONF_MAX_DISCHARGE_W): _POWER_INPUT,
    }


def _entity_fields(kind: str, defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    def entity(domain: list[str], device_class: str | None = None) -> selector.EntitySelector:
        config = selector.EntitySelectorConfig(domain=domain)
        if device_class:
            config["device_class"] = device_class
        return selector.EntitySelector(config)

    def opt(key: str) -> vol.Optional:
        return vol.Optional(key, description={"suggested_value": defaults.get(key)})

    fields: dict[vol.Marker, Any] = {
        vol.Required(CONF_POWER_ENTITY, default=defaults.get(CONF_POWER_ENTITY, vol.UNDEFINED)): (
            entity(["sensor"], "power")
        ),
        vol.Optional(CONF_INVERT_POWER, default=defaults.get(CONF_INVERT_POWER, False)): bool,
    }
    energy = entity(["sensor"], "energy")
    if kind == "battery":
        fields[
            vol.Required(CONF_SOC_ENTITY, default=defaults.get(CONF_SOC_ENTITY, vol.UNDEFINED))
        ] = entity(["sensor"], "battery")
        fields[
            vol.Required(CONF_CAPACITY_WH, default=defaults.get(CONF_CAPACITY_WH, vol.UNDEFINED))
        ] = _CAPACITY_INPUT
        fields[opt(CONF_MAX_CHARGE_W)] = _POWER_INPUT
        fields[opt(CONF_MAX_DISCHARGE_W)] = _POWER_INPUT
        fields[opt(CONF_SETPOINT_ENTITY)] = entity(["number", "input_number"])
        fields[opt(CONF_ENERGY_IN_ENTITY)] = energy
        fields[opt(CONF_ENERGY_OUT_ENTITY)] = energy
    elif kind == "pv":
        fields[opt(CONF_ENERGY_OUT_ENTITY)] = energy
    else:
        fields[opt(CONF_ENERGY_IN_ENTITY)] = energy
        fields[opt(CONF_ENERGY_OUT_ENTITY)] = energy
    return fields


class DeviceSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure a device of the site (battery, PV inverter, meter, relay board)."""

    @property
    def _kind(self) -> str:
        return self.handler[1]

    @property
    def _reconfiguring(self) -> bool:
        return self.source == "reconfigure"

    def _defaults(self) -> dict[str, Any]:
        if not self._reconfiguring:
            return {}
        subentry = self._get_reconfigure_subentry()
        return {CONF_NAME: subentry.title, **subentry.data}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Choose how the device is connected."""
        options = [STEP_TCP, STEP_RTU]
        if self._kind != "relay_board":
            options += [STEP_SUNSPEC, STEP_ENTITIES]
        return self.async_show_menu(step_id="user", menu_options=options)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Reconfigure with the step the device was created with."""
        data = self._get_reconfigure_subentry().data
        if data[CONF_CONNECTION] == CONNECTION_ENTITIES:
            return await self.async_step_entities()
        if data.get(CONF_PROFILE) == PROFILE_SUNSPEC:
            return await self.async_step_sunspec()
        if data[CONF_CONNECTION] == CONNECTION_RTU:
            return await self.async_step_modbus_rtu()
        return await self.async_step_modbus_tcp()

    async def _profile_selector(self) -> selector.SelectSelector:
        profiles = await async_get_profiles(self.hass)
        return selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=[
                    selector.SelectOptionDict(value=p.id, label=p.name)
                    for p in profiles.values()
                    if p.kind == self._kind
                ],
                mode=selector.SelectSelectorMode.DROPDOWN,
            )
        )

    def _name_field(self, defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
        return {vol.Required(CONF_NAME, default=defaults.get(CONF_NAME, vol.UNDEFINED)): str}

    async def async_step_modbus_tcp(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """A Modbus TCP device described by a built-in profile."""
        return await self._modbus_step(STEP_TCP, CONNECTION_TCP, _tcp_fields, user_input)

    async def async_step_modbus_rtu(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """A Modbus RTU (serial) device described by a built-in profile."""
        return await self._modbus_step(STEP_RTU, CONNECTION_RTU, _rtu_fields, user_input)

    async def _modbus_step(
        self,
        step_id: str,
        connection: str,
        link_fields: Any,
        user_input: dict[str, Any] | None,
    ) -> SubentryFlowResult:
        errors: dict[str, str] = {}
        placeholders = {"error": ""}
        defaults = self._defaults()
        if user_input is not None:
            defaults = user_input
            data = {CONF_CONNECTION: connection, **user_input}
            name = data.pop(CONF_NAME)
            # The selector only offers profiles of this kind, so the id is valid here.
            profile = (await async_get_profiles(self.hass))[data[CONF_PROFILE]]
            error, serial = await self._probe(data, profile)
            if error:
                errors["base"], placeholders["error"] = error
            else:
                data[CONF_SERIAL] = serial
                return self._finish(name, data)
        schema = vol.Schema(
            {
                **self._name_field(defaults),
                **link_fields(defaults),
                vol.Required(CONF_PROFILE, default=defaults.get(CONF_PROFILE, vol.UNDEFINED)): (
                    await self._profile_selector()
                ),
                **(_battery_rating_fields(defaults) if self._kind == "battery" else {}),
            }
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=schema,
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _probe(
        self, data: Mapping[str, Any], profile: Profile
    ) -> tuple[tuple[str, str] | None, str | None]:
        """Read every point the device's entities would show, and its serial.

        A link that does not answer is tried again once: a gateway busy with another client (or
        the site's own polling on a shared link) often misses one request.
        """
        keys = {p.key for p in profile.points if p.platform is not Platform.NONE}
        for attempt in range(PROBE_ATTEMPTS):
            async with self._transport(data) as transport:
                device = ModbusDevice(transport, int(data[CONF_UNIT_ID]), profile)
                try:
                    values = await device.read(keys)
                    serial = await device.read_serial()
                    break
                except TransportError as err:
                    if attempt + 1 == PROBE_ATTEMPTS:
                        return ("cannot_connect", str(err)), None
                except DeviceError as err:
                    return ("device_error", str(err)), None
            await asyncio.sleep(PROBE_RETRY_S)
        required = [k for k in ("power", "soc") if k in profile]
        if missing := [k for k in required if values.get(k) is None]:
            return ("profile_mismatch", ", ".join(missing)), None
        return None, serial

    @asynccontextmanager
    async def _transport(self, data: Mapping[str, Any]) -> AsyncIterator[ModbusTransport]:
        """The running site's link when it has one (shared lock), else a private one."""
        params = link_params(data)
        entry = self._get_entry()
        runtime = getattr(entry, "runtime_data", None)
        shared = runtime.transports.get(params.label) if runtime is not None else None
        if shared is not None:
            yield shared
            return
        transport = ModbusTransport(params)
        try:
            yield transport
        finally:
            transport.close()

    async def async_step_sunspec(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Discover a SunSpec device and use the models that fit this device kind."""
        errors: dict[str, str] = {}
        placeholders = {"error": ""}
        defaults = self._defaults()
        if user_input is not None:
            defaults = user_input
            data = {CONF_CONNECTION: CONNECTION_TCP, CONF_PROFILE: PROFILE_SUNSPEC, **user_input}
            name = data.pop(CONF_NAME)
            try:
                async with self._transport(data) as transport:
                    found = await async_discover(transport, int(data[CONF_UNIT_ID]), SUNSPEC_BASES)
                build_profile(found, self._kind)
            except TransportError as err:
                errors["base"], placeholders["error"] = "cannot_connect", str(err)
            except (DeviceError, SunSpecError) as err:
                errors["base"], placeholders["error"] = "no_sunspec", str(err)
            else:
                data.update(sunspec_subentry_data(found))
                return self._finish(name, data)
        schema = vol.Schema({**self._name_field(defaults), **_tcp_fields(defaults)})
        return self.async_show_form(
            step_id=STEP_SUNSPEC,
            data_schema=schema,
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_entities(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """A device assembled from entities the user already has."""
        errors: dict[str, str] = {}
        defaults = self._defaults()
        if user_input is not None:
            defaults = user_input
            data = {CONF_CONNECTION: CONNECTION_ENTITIES, **user_input}
            name = data.pop(CONF_NAME)
            errors = number_errors(data)  # the selectors let NaN through
            for key in (CONF_POWER_ENTITY, CONF_SOC_ENTITY):
                if key in data and self.hass.states.get(data[key]) is None:
                    errors[key] = "entity_not_found"
            if not errors:
                return self._finish(name, data)
        schema = vol.Schema({**self._name_field(defaults), **_entity_fields(self._kind, defaults)})
        return self.async_show_form(step_id=STEP_ENTITIES, data_schema=schema, errors=errors)

    def _finish(self, name: str, data: dict[str, Any]) -> SubentryFlowResult:
        """Create or update the subentry, refusing a device that is already configured."""
        unique_id = f"{self._kind}:{_device_key(data)}"
        entry = self._get_entry()
        current = self._get_reconfigure_subentry() if self._reconfiguring else None
        for sub in entry.subentries.values():
            if sub.unique_id == unique_id and (
                current is None or sub.subentry_id != current.subentry_id
            ):
                return self.async_abort(reason="already_configured")
        if current is not None:
            # Entities keep their unique ids whatever changed (address, serial now readable).
            data[CONF_UID] = current.data.get(CONF_UID) or device_uid(current)
            return self.async_update_and_abort(
                entry, current, title=name, data=data, unique_id=unique_id
            )
        data[CONF_UID] = f"{_device_key(data)}_{self._kind}".replace(":", "_")
        return self.async_create_entry(title=name, data=data, unique_id=unique_id)


def _device_key(data: Mapping[str, Any]) -> str:
    """What identifies the device: its serial, or where it is wired."""
    if data.get(CONF_SERIAL):
        return f"serial:{data[CONF_SERIAL]}"
    if data[CONF_CONNECTION] == CONNECTION_ENTITIES:
        return f"entities:{data[CONF_POWER_ENTITY]}"
    if data[CONF_CONNECTION] == CONNECTION_TCP:
        return f"tcp:{data[CONF_HOST]}:{data[CONF_PORT]}:{data[CONF_UNIT_ID]}"
    return f"rtu:{data[CONF_SERIAL_PORT]}:{data[CONF_UNIT_ID]}"
