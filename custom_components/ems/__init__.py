"""The ems energy management integration: a site entry with devices as subentries."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import logging
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)
from homeassistant.helpers.typing import ConfigType

from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_CONNECTION,
    CONF_HOST,
    CONF_PARITY,
    CONF_PORT,
    CONF_PROFILE,
    CONF_SCAN_INTERVAL,
    CONF_SERIAL_PORT,
    CONF_STOPBITS,
    CONF_UNIT_ID,
    CONNECTION_ENTITIES,
    CONNECTION_TCP,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    PROFILE_SUNSPEC,
    SUBENTRY_APPLIANCE,
)
from .controller import Problem, SiteController, controller_store
from .coordinator import EmsDeviceCoordinator
from .core.device import ModbusDevice
from .core.profile import Profile, ProfileError, builtin_profiles, load_profiles
from .core.sunspec import profile_from_subentry
from .core.transport import ModbusTransport, SerialParams, TcpParams
from .entity import site_device_info
from .entity_source import EntitySource
from .frontend import async_register_card
from .grid import GridSettings, GridSupportRunner
from .plan import PlanManager, async_remove_plan_store
from .runtime import EmsConfigEntry, EmsRuntimeData
from .scada import ScadaServer, server_options
from .services import async_setup_services
from .site import SiteAggregator

PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.CALENDAR,
    Platform.DATETIME,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
_PROFILES = f"{DOMAIN}_profiles"
USER_PROFILES_DIR = "ems/profiles"  # the user's own register profiles, in the config folder
_LOGGER = logging.getLogger(__name__)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration: register its actions."""
    async_setup_services(hass)
    return True


async def async_get_profiles(hass: HomeAssistant) -> dict[str, Profile]:
    """The built-in profiles and the user's (``<config>/ems/profiles``), read once off the loop.

    A user's file that does not load raises a repair naming it; the others are used.
    """
    if _PROFILES not in hass.data:
        folder = Path(hass.config.path(USER_PROFILES_DIR))

        def load() -> tuple[dict[str, Profile], dict[str, str]]:
            builtin = builtin_profiles()
            user, broken = load_profiles(folder, [*builtin, PROFILE_SUNSPEC])
            return {**builtin, **user}, broken

        profiles, broken = await hass.async_add_executor_job(load)
        hass.data[_PROFILES] = profiles
        for name, error in broken.items():
            _LOGGER.error("register profile %s not loaded: %s", name, error)
            ir.async_create_issue(
                hass,
                DOMAIN,
                f"user_profile_invalid_{name}",
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="user_profile_invalid",
                translation_placeholders={"file": name, "folder": str(folder), "error": error},
            )
    loaded: dict[str, Profile] = hass.data[_PROFILES]
    return loaded


def link_params(data: Mapping[str, Any]) -> TcpParams | SerialParams:
    """The Modbus link a device subentry is wired to."""
    if data[CONF_CONNECTION] == CONNECTION_TCP:
        return TcpParams(host=data[CONF_HOST], port=int(data[CONF_PORT]))
    return SerialParams(
        port=data[CONF_SERIAL_PORT],
        baudrate=int(data[CONF_BAUDRATE]),
        parity=data[CONF_PARITY][:1].upper(),  # none/even/odd (N/E/O before) -> N/E/O
        stopbits=int(data[CONF_STOPBITS]),
        bytesize=int(data[CONF_BYTESIZE]),
    )


async def _async_device_profile(hass: HomeAssistant, subentry: ConfigSubentry) -> Profile:
    data = subentry.data
    if data[CONF_PROFILE] == PROFILE_SUNSPEC:
        return profile_from_subentry(data, subentry.subentry_type)
    profiles = await async_get_profiles(hass)
    if (profile := profiles.get(data[CONF_PROFILE])) is None:
        raise ProfileError(f"unknown profile {data[CONF_PROFILE]}")
    return profile


async def async_setup_entry(hass: HomeAssistant, entry: EmsConfigEntry) -> bool:
    """Set up a site: one coordinator per device subentry, links shared between devices."""
    # First thing: a subentry or option changed while this setup runs must still reload it
    # (the reload waits for the setup to finish).
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    await async_register_card(hass)  # the plan card, once per instance
    site = SiteAggregator()
    transports: dict[str, ModbusTransport] = {}
    scan_interval = float(entry.options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL))
    for subentry_id, subentry in entry.subentries.items():
        data = subentry.data
        if subentry.subentry_type == SUBENTRY_APPLIANCE:  # planned by the PlanManager
            continue
        if data[CONF_CONNECTION] == CONNECTION_ENTITIES:
            source = EntitySource(hass, subentry.subentry_type, data)
            coordinator = EmsDeviceCoordinator(
                hass, entry, subentry, scan_interval=scan_interval, entities=source
            )
        else:
            try:
                profile = await _async_device_profile(hass, subentry)
            except ValueError as err:  # ProfileError, SunSpecError: stored data no longer fits
                _LOGGER.error("%s cannot be set up: %s", subentry.title, err)
                ir.async_create_issue(
                    hass,
                    DOMAIN,
                    f"invalid_profile_{subentry_id}",
                    is_fixable=False,
                    severity=ir.IssueSeverity.ERROR,
                    translation_key="invalid_profile",
                    translation_placeholders={"name": subentry.title, "error": str(err)},
                )
                continue
            ir.async_delete_issue(hass, DOMAIN, f"invalid_profile_{subentry_id}")
            params = link_params(data)
            transport = transports.get(params.label)
            if transport is None:
                transport = transports[params.label] = ModbusTransport(params)
                entry.async_on_unload(transport.close)
            device = ModbusDevice(transport, int(data[CONF_UNIT_ID]), profile)
            coordinator = EmsDeviceCoordinator(
                hass, entry, subentry, scan_interval=scan_interval, modbus=device
            )
        site.devices[subentry_id] = coordinator
    plan = PlanManager(hass, entry)
    await plan.async_load()
    controller = SiteController(hass, entry, site, plan)
    await controller.async_load()  # mode and settings, before any entity or command
    scada_options = server_options(entry.options)
    try:
        grid_settings = GridSettings.from_options(entry.options)
    except ValueError as err:  # the options flow checks them: only a hand-edited store gets here
        _LOGGER.error("%s: grid support settings ignored (%s): defaults used", entry.title, err)
        grid_settings = GridSettings()
    grid = GridSupportRunner(hass, controller, site, grid_settings)
    runtime = EmsRuntimeData(
        site=site,
        plan=plan,
        controller=controller,
        grid=grid,
        transports=transports,
        scada=ScadaServer(hass, entry, scada_options, site=site, controller=controller, grid=grid)
        if scada_options
        else None,
    )
    entry.runtime_data = runtime
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **site_device_info(entry)
    )
    # A device that does not answer makes its own entities unavailable, not the whole site.
    await asyncio.gather(*(c.async_refresh() for c in runtime.devices.values()))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # The mode and settings entities have restored their state: start controlling.
    runtime.controller.async_start()
    runtime.plan.async_start()
    entry.async_on_unload(runtime.plan.async_stop)
    entry.async_on_unload(runtime.grid.async_start())
    if runtime.scada is not None:
        await runtime.scada.async_start()
    return True


async def _async_reload(hass: HomeAssistant, entry: EmsConfigEntry) -> None:
    """Reload when options or subentries change."""
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: EmsConfigEntry) -> bool:
    """Release the batteries, unload platforms; the links close through ``async_on_unload``."""
    if entry.runtime_data.scada is not None:  # no client may write once the site stops
        await entry.runtime_data.scada.async_stop()
    await entry.runtime_data.controller.async_shutdown()
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: EmsConfigEntry) -> None:
    """Drop the repair issues of a removed site; hand back the loads ems drove, forget its plan."""
    for subentry_id in entry.subentries:
        for prefix in ("device_unreachable", "invalid_profile", *Problem):
            ir.async_delete_issue(hass, DOMAIN, f"{prefix}_{subentry_id}")
    for prefix in ("plan_stale", "plan_sources", "scada_watchdog", "scada_server"):
        ir.async_delete_issue(hass, DOMAIN, f"{prefix}_{entry.entry_id}")
    await async_remove_plan_store(hass, entry.entry_id)
    await controller_store(hass, entry.entry_id).async_remove()
