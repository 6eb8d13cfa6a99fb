"""Actions of the ems domain: the plan loop (get_problem, set_plan, request_run) and requests."""

from __future__ import annotations

from datetime import datetime, time
import json
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_ID, ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .appliance import next_time_of_day
from .const import (
    DOMAIN,
    SERVICE_GET_PROBLEM,
    SERVICE_REQUEST_RUN,
    SERVICE_SET_APPLIANCE_REQUEST,
    SERVICE_SET_PLAN,
    SUBENTRY_APPLIANCE,
)
from .core.contract import MAX_REQUEST_ENERGY_WH, ContractError, check_json_size
from .plan import PlanManager, PlanRejectedError
from .problem import build_problem
from .runtime import EmsConfigEntry
from .validation import EmsValidationError, RefusingSchema, bounded, check_finish_by

_LOGGER = logging.getLogger(__name__)

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_PLAN = "plan"
ATTR_SCENARIO = "scenario"
ATTR_SOURCE = "source"
ATTR_APPLIANCE = "appliance"
ATTR_FINISH_BY = "finish_by"
ATTR_ENERGY_WH = "energy_wh"
ATTR_ENABLED = "enabled"

_ID = vol.All(cv.string, vol.Length(max=255))
_SITE = {vol.Optional(ATTR_CONFIG_ENTRY_ID): _ID}
# Every schema refuses with EmsValidationError: translated, naming the field, a 400 with it.
SITE_SCHEMA = RefusingSchema(_SITE)
SET_PLAN_SCHEMA = RefusingSchema(
    {
        # Any JSON value: the contract validator says what is wrong, translated.
        vol.Required(ATTR_PLAN): object,
        vol.Optional(ATTR_SCENARIO): vol.Any(None, object),
        vol.Optional(ATTR_SOURCE): vol.All(str, vol.Length(min=1, max=80)),
        **_SITE,
    }
)
SET_APPLIANCE_REQUEST_SCHEMA = RefusingSchema(
    vol.All(
        vol.Schema(
            {
                vol.Optional(ATTR_ENTITY_ID): cv.comp_entity_ids,
                vol.Optional(ATTR_DEVICE_ID): vol.All(cv.ensure_list, [_ID]),
                vol.Optional(ATTR_APPLIANCE): _ID,
                vol.Optional(ATTR_FINISH_BY): vol.Any(cv.datetime, cv.time),
                vol.Optional(ATTR_ENERGY_WH): bounded(0, MAX_REQUEST_ENERGY_WH),
                vol.Optional(ATTR_ENABLED): cv.boolean,
            }
        ),
        cv.has_at_least_one_key(ATTR_ENTITY_ID, ATTR_DEVICE_ID, ATTR_APPLIANCE),
    ),
    field=f"{ATTR_ENTITY_ID}/{ATTR_DEVICE_ID}/{ATTR_APPLIANCE}",
)


def _site(hass: HomeAssistant, call: ServiceCall) -> EmsConfigEntry:
    """The site an action is for: the given entry, else the first loaded one."""
    if entry_id := call.data.get(ATTR_CONFIG_ENTRY_ID):
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            raise PlanRejectedError("site_not_found", entry_id=entry_id)
        if entry.state is not ConfigEntryState.LOADED:
            raise PlanRejectedError("site_not_loaded", name=entry.title)
        return entry
    if not (entries := hass.config_entries.async_loaded_entries(DOMAIN)):
        raise PlanRejectedError("no_site")
    return entries[0]


def _plan(entry: EmsConfigEntry) -> PlanManager:
    plan = entry.runtime_data.plan
    if plan is None:  # set up before the platforms: only while the entry is starting
        raise PlanRejectedError("site_not_loaded", name=entry.title)
    return plan


def _json(value: Any, field: str, key: str) -> Any:
    """A plan or scenario within the byte limit; given as a JSON string (template), decoded."""
    try:
        check_json_size(value, field)
    except ContractError as err:
        raise EmsValidationError(key, field=err.path, error=err.message) from None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


async def _async_get_problem(call: ServiceCall) -> ServiceResponse:
    entry = _site(call.hass, call)
    _plan(entry)
    return build_problem(call.hass, entry, dt_util.utcnow())


async def _async_set_plan(call: ServiceCall) -> None:
    entry = _site(call.hass, call)
    try:
        plan = _json(call.data[ATTR_PLAN], ATTR_PLAN, "invalid_plan")
        scenario = _json(call.data.get(ATTR_SCENARIO), ATTR_SCENARIO, "invalid_scenario")
        # Who sent it: the optimizer names itself; otherwise the user whose token was used.
        source = call.data.get(ATTR_SOURCE) or f"user {call.context.user_id or 'unknown'}"
        await _plan(entry).async_set_plan(plan, scenario, source=source)
    except ServiceValidationError as err:
        # The caller gets the reason (a 400 with it over REST); the log keeps it too.
        _LOGGER.warning(
            "Plan for %s rejected (%s): %s",
            entry.title,
            err.translation_key,
            err.translation_placeholders,
        )
        raise


async def _async_request_run(call: ServiceCall) -> None:
    entry = _site(call.hass, call)
    await _plan(entry).async_request_run()


def _by_entity(
    hass: HomeAssistant, managers: list[PlanManager], entity_id: str
) -> list[tuple[PlanManager, str]]:
    """The appliance an entity belongs to (one of its switch, numbers, sensors…)."""
    entity = er.async_get(hass).async_get(entity_id)
    manager = next(
        (m for m in managers if entity and m.entry.entry_id == entity.config_entry_id), None
    )
    if entity is None or manager is None or entity.config_subentry_id is None:
        return []
    subentry = manager.entry.subentries.get(entity.config_subentry_id)
    if subentry is None or subentry.subentry_type != SUBENTRY_APPLIANCE:
        return []
    # None: a subentry the site has not read (yet), e.g. added while it reloads.
    uid = next(
        (u for u, a in manager.appliances.items() if a.subentry_id == subentry.subentry_id),
        None,
    )
    return [] if uid is None else [(manager, uid)]


def _by_device(
    hass: HomeAssistant, managers: list[PlanManager], device_id: str
) -> list[tuple[PlanManager, str]]:
    """The appliance a device is."""
    device = dr.async_get(hass).async_get(device_id)
    identifiers = {i for d, i in device.identifiers if d == DOMAIN} if device else set()
    return [(m, uid) for m in managers for uid in m.appliances if uid in identifiers]


def _by_id(managers: list[PlanManager], ident: str) -> list[tuple[PlanManager, str]]:
    """The appliance with this uid or subentry id."""
    return [
        (m, uid)
        for m in managers
        for uid, a in m.appliances.items()
        if ident in (uid, a.subentry_id)
    ]


def _appliances(hass: HomeAssistant, call: ServiceCall) -> list[tuple[PlanManager, str]]:
    """The (plan manager, uid) of every appliance the call targets; a target found nowhere fails."""
    managers = [
        entry.runtime_data.plan for entry in hass.config_entries.async_loaded_entries(DOMAIN)
    ]
    targets = [
        *((t, _by_entity(hass, managers, t)) for t in call.data.get(ATTR_ENTITY_ID, [])),
        *((t, _by_device(hass, managers, t)) for t in call.data.get(ATTR_DEVICE_ID, [])),
    ]
    if ident := call.data.get(ATTR_APPLIANCE):
        targets.append((ident, _by_id(managers, ident)))
    found: list[tuple[PlanManager, str]] = []
    for target, hits in targets:
        if not hits:
            raise PlanRejectedError("appliance_not_found", target=target)
        found += [hit for hit in hits if hit not in found]
    return found


def _finish_by(value: datetime | time | None, now: datetime) -> datetime | None:
    """A datetime (local when naive) or the next occurrence of a time of day."""
    if value is None:
        return None
    tz = dt_util.get_default_time_zone()
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    return next_time_of_day(value, now, tz)


async def _async_set_appliance_request(call: ServiceCall) -> None:
    now = dt_util.utcnow()
    targets = _appliances(call.hass, call)
    finish_by = _finish_by(call.data.get(ATTR_FINISH_BY), now)
    check_finish_by(ATTR_FINISH_BY, finish_by, now)
    energy = call.data.get(ATTR_ENERGY_WH)
    enabled = call.data.get(ATTR_ENABLED)
    if enabled is None and (finish_by is not None or energy is not None):
        enabled = True  # "done by 07:00" means: schedule it
    for manager, uid in targets:  # all checked before anything changes
        manager.check_request(uid, finish_by=finish_by, energy_wh=energy, now=now)
    for manager, uid in targets:
        await manager.async_set_request(
            uid, enabled=enabled, finish_by=finish_by, energy_wh=energy, now=now
        )


def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, for every site)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_PROBLEM,
        _async_get_problem,
        schema=SITE_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(DOMAIN, SERVICE_SET_PLAN, _async_set_plan, schema=SET_PLAN_SCHEMA)
    hass.services.async_register(
        DOMAIN, SERVICE_REQUEST_RUN, _async_request_run, schema=SITE_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_SET_APPLIANCE_REQUEST,
        _async_set_appliance_request,
        schema=SET_APPLIANCE_REQUEST_SCHEMA,
    )
