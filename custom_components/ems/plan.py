"""The plan: received with ``ems.set_plan``, stored, shown, and executed slot by slot.

The battery part of a plan is executed by the site controller (mode ``auto``), which asks
``PlanManager.battery_setpoint_w(now)`` every cycle and falls back when ``is_stale(now)``.
Appliances are executed here: at a planned start their switch turns on (and off at the end of
a run for energy-type loads); pilot-wire heaters follow comfort / eco slot by slot.

What ems took over is stored with the entity it drove ("driven"), and handed back (switch off,
pilot wire to comfort) once the plan no longer wants it, the appliance is removed or moved to
another entity, or the site is removed. Bookkeeping changes only once the call succeeded, so a
device that did not answer is tried again at the next minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import copy
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
import logging
import math
from typing import TYPE_CHECKING, Any

from homeassistant.const import ATTR_ENTITY_ID, ATTR_OPTION, STATE_ON
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_utc_time_change
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .appliance import ApplianceConfig, ApplianceRequest, appliances_of
from .const import (
    DOMAIN,
    EVENT_RUN_REQUESTED,
    PLAN_HORIZON_STEPS,
    PLAN_MAX_AGE_S,
    PLAN_STEP_MINUTES,
    PLAN_STORE_VERSION,
)
from .core.contract import ContractError, parse_time, validate_plan, validate_scenario
from .issues import set_issue
from .validation import EmsValidationError

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

_LOGGER = logging.getLogger(__name__)

# Plans from more than one source within this window: a repair says so.
SOURCE_WINDOW = timedelta(hours=1)
MAX_SOURCE_CHARS = 80

PLAN_MAX_AGE = timedelta(seconds=PLAN_MAX_AGE_S)
# How long an energy asked for holds when no deadline bounds it: one plan horizon.
OVERRIDE_MAX_AGE = timedelta(minutes=PLAN_STEP_MINUTES * PLAN_HORIZON_STEPS)
BATTERY_BLOCK_W = 50.0  # battery power below this is "idle" in the calendar
_UNSET: Any = object()


class PlanRejectedError(EmsValidationError):
    """A plan, scenario or request refused whole; nothing changed (a 400 naming why)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanRun:
    """A block of the plan: an appliance run, or a battery charge / discharge."""

    start: datetime
    end: datetime
    kind: str  # "appliance", "charge" or "discharge"
    appliance: str | None  # appliance uid
    energy_wh: float
    average_w: float
    reason: str | None = None  # a battery block: its intents' most frequent reason


@dataclass(frozen=True, kw_only=True, slots=True)
class Driven:
    """A load ems took over, and how to hand it back."""

    uid: str  # appliance uid
    entity_id: str
    option: str | None  # the select option that releases it (pilot wire: comfort); None: off

    @classmethod
    def of(cls, appliance: ApplianceConfig) -> Driven | None:
        """How ems drives an appliance now; None for a cycle (started, never taken back)."""
        if appliance.kind == "cycle":
            return None
        option = appliance.comfort_option if appliance.kind == "pilot_wire_heater" else None
        return cls(uid=appliance.uid, entity_id=appliance.switch_entity, option=option)

    @classmethod
    def from_stored(cls, raw: Any) -> Driven | None:
        """The Store's form; None if it is not one (a bare uid of an older version)."""
        if not isinstance(raw, dict):
            return None
        uid, entity_id, option = raw.get("uid"), raw.get("entity_id"), raw.get("option")
        if not isinstance(uid, str) or not isinstance(entity_id, str):
            return None
        return cls(uid=uid, entity_id=entity_id, option=option if isinstance(option, str) else None)


async def _async_switch(hass: HomeAssistant, entity_id: str, on: bool) -> None:
    domain = entity_id.split(".", 1)[0]
    await hass.services.async_call(
        domain, "turn_on" if on else "turn_off", {ATTR_ENTITY_ID: entity_id}, blocking=True
    )


async def _async_select(hass: HomeAssistant, entity_id: str, option: str) -> None:
    state = hass.states.get(entity_id)
    if state is not None and state.state == option:
        return
    domain = entity_id.split(".", 1)[0]
    await hass.services.async_call(
        domain, "select_option", {ATTR_ENTITY_ID: entity_id, ATTR_OPTION: option}, blocking=True
    )


class PlanManager:
    """The current plan of a site, the households' appliance requests, and their execution."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Nothing loaded yet: call ``async_load`` then ``async_start``."""
        self.hass = hass
        self.entry = entry
        self.appliances: dict[str, ApplianceConfig] = appliances_of(entry)
        self._store: Store[dict[str, Any]] = Store(
            hass, PLAN_STORE_VERSION, f"{DOMAIN}.plan.{entry.entry_id}"
        )
        self.plan: dict[str, Any] | None = None
        self.scenario: dict[str, Any] | None = None
        self.received_at: datetime | None = None
        self.run_requested_at: datetime | None = None
        self._raw: tuple[dict[str, Any], dict[str, Any] | None] | None = None
        self._start = dt_util.utcnow()
        self._step = timedelta(minutes=15)
        self._requests: dict[str, ApplianceRequest] = {
            uid: ApplianceRequest.default(a) for uid, a in self.appliances.items()
        }
        # Appliances ems switched on (or to eco) and must release, by uid.
        self._driven: dict[str, Driven] = {}
        # Loads driven for an appliance since removed or moved to another entity: to release.
        self._orphans: list[Driven] = []
        self._listeners: list[Callable[[], None]] = []
        self._lock = asyncio.Lock()
        self._unsub_tick: CALLBACK_TYPE | None = None
        self._stopped = False
        # Set by the site controller: in passive mode ems hands back the loads and drives none.
        self.hold_appliances = False
        self.sources: dict[str, datetime] = {}  # who sent plans lately (two: a repair)

    # --- lifecycle ----------------------------------------------------------------------------

    async def async_load(self) -> None:
        """Restore the plan and the requests saved before a restart."""
        data = await self._store.async_load() or {}
        for uid, raw in (data.get("requests") or {}).items():
            if uid in self.appliances and isinstance(raw, dict):
                try:
                    self._requests[uid] = ApplianceRequest.from_dict(raw)
                except (TypeError, ValueError) as err:
                    _LOGGER.warning("Stored request of %s dropped: %s", uid, err)
                    continue
                request = self._requests[uid]
                if request.energy_wh is not None and request.expires is None:
                    # Stored by an older version without an expiry: give it one from now.
                    request.expires = dt_util.utcnow() + OVERRIDE_MAX_AGE
        if self._load_driven(data.get("driven") or []):
            await self._async_save()
        if requested := data.get("run_requested_at"):
            self.run_requested_at = dt_util.parse_datetime(requested)
        if (raw_plan := data.get("plan")) is None:
            return
        raw_scenario = data.get("scenario")
        try:
            scenario = None if raw_scenario is None else validate_scenario(raw_scenario)
            plan = validate_plan(raw_plan, scenario)
            received = datetime.fromisoformat(data["received_at"])
        except (ContractError, KeyError, TypeError, ValueError) as err:
            _LOGGER.warning("The stored plan of %s no longer fits and is dropped: %s", self, err)
            return
        self._apply(plan, scenario, received, (raw_plan, raw_scenario))

    def _load_driven(self, stored: list[Any]) -> bool:
        """Take back what ems drove before a restart; True if the Store's form must be rewritten.

        A load stored for an appliance that is gone, or now drives another entity, is kept to
        be released (at start, then every minute until its entity answers).
        """
        rewrite = False
        for raw in stored:
            if isinstance(raw, str):  # an older version stored the uid only
                rewrite = True
                appliance = self.appliances.get(raw)
                driven = None if appliance is None else Driven.of(appliance)
                if driven is None:
                    _LOGGER.warning("%s: cannot tell what %s drove; not released", self, raw)
                    continue
            elif (driven := Driven.from_stored(raw)) is None:
                _LOGGER.warning("%s: stored driven load %r dropped", self, raw)
                rewrite = True
                continue
            appliance = self.appliances.get(driven.uid)
            if appliance is None or appliance.switch_entity != driven.entity_id:
                self._orphans.append(driven)
            elif (current := Driven.of(appliance)) is not None:  # a cycle now: left running
                self._driven.setdefault(driven.uid, current)  # released as configured now
        return rewrite

    @callback
    def async_start(self) -> None:
        """Execute and refresh every minute, on the minute; release what is no longer ours."""
        self._unsub_tick = async_track_utc_time_change(self.hass, self._async_on_minute, second=0)
        if self._orphans:
            self.entry.async_create_task(
                self.hass, self._async_release_orphans_now(), "ems release of removed loads"
            )

    @callback
    def async_stop(self) -> None:
        """Stop the minute timer; a tick or an execution already on its way does nothing."""
        self._stopped = True
        if self._unsub_tick is not None:
            self._unsub_tick()
            self._unsub_tick = None

    def __str__(self) -> str:
        """The site's name."""
        return self.entry.title

    def _data(self) -> dict[str, Any]:
        raw_plan, raw_scenario = self._raw if self._raw is not None else (None, None)
        return {
            "plan": raw_plan,
            "scenario": raw_scenario,
            "received_at": None if self.received_at is None else self.received_at.isoformat(),
            "run_requested_at": None
            if self.run_requested_at is None
            else self.run_requested_at.isoformat(),
            "requests": {uid: request.as_dict() for uid, request in self._requests.items()},
            "driven": [
                asdict(driven)
                for driven in [*(self._driven[uid] for uid in sorted(self._driven)), *self._orphans]
            ],
        }

    async def _async_save(self) -> None:
        await self._store.async_save(self._data())

    async def async_remove(self) -> None:
        """Forget everything stored for a removed site."""
        await self._store.async_remove()

    # --- listeners ----------------------------------------------------------------------------

    @callback
    def add_listener(self, update: Callable[[], None]) -> Callable[[], None]:
        """Call ``update`` when the plan, a request, or the time (every minute) changes."""
        self._listeners.append(update)

        def remove() -> None:
            if update in self._listeners:
                self._listeners.remove(update)

        return remove

    @callback
    def _notify(self) -> None:
        for update in list(self._listeners):
            update()

    # --- the plan -----------------------------------------------------------------------------

    def _apply(
        self,
        plan: dict[str, Any],
        scenario: dict[str, Any] | None,
        received: datetime,
        raw: tuple[dict[str, Any], dict[str, Any] | None],
    ) -> None:
        self.plan, self.scenario, self.received_at, self._raw = plan, scenario, received, raw
        self._start = parse_time(plan["start"])
        self._step = timedelta(minutes=plan["step_minutes"])

    async def async_set_plan(
        self,
        plan: Any,
        scenario: Any = None,
        now: datetime | None = None,
        source: str | None = None,
    ) -> None:
        """Check a plan (and the scenario it was solved for) and make it current.

        Raises ``PlanRejectedError`` (nothing changed) when either breaks contract v1, the
        plan does not fit its scenario, or the plan is already over.
        """
        now = now or dt_util.utcnow()
        checked_scenario = None
        if scenario is not None:
            try:
                checked_scenario = validate_scenario(scenario)
            except ContractError as err:
                raise PlanRejectedError(
                    "invalid_scenario", field=err.path or "scenario", error=err.message
                ) from err
        try:
            checked = validate_plan(plan, checked_scenario)
        except ContractError as err:
            raise PlanRejectedError(
                "invalid_plan", field=err.path or "plan", error=err.message
            ) from err
        end = parse_time(checked["start"]) + timedelta(
            minutes=checked["step_minutes"] * checked["horizon_steps"]
        )
        if end <= now:
            raise PlanRejectedError("plan_expired", end=end.isoformat())
        for ident in checked["appliances"].keys() - self.appliances.keys():
            _LOGGER.debug("Plan of %s: unknown appliance %s ignored", self, ident)
        raw = (
            copy.deepcopy(dict(plan)),
            None if scenario is None else copy.deepcopy(dict(scenario)),
        )
        self._apply(checked, checked_scenario, now, raw)
        self._note_source(source or "unnamed", now)
        await self._async_save()
        self._notify()
        self.entry.async_create_task(self.hass, self._async_execute(now), "ems plan execution")

    def _note_source(self, source: str, now: datetime) -> None:
        """Remember who sent plans lately; two at once fight over the battery: say so."""
        self.sources[source[:MAX_SOURCE_CHARS]] = now
        for name, seen in list(self.sources.items()):
            if now - seen > SOURCE_WINDOW:
                del self.sources[name]
        set_issue(
            self.hass,
            f"plan_sources_{self.entry.entry_id}",
            len(self.sources) > 1,
            translation_key="plan_sources",
            placeholders={"name": self.entry.title, "sources": ", ".join(sorted(self.sources))},
        )

    async def async_request_run(self, now: datetime | None = None) -> None:
        """Note that a new plan was asked for (``ems.request_run``)."""
        self.run_requested_at = now or dt_util.utcnow()
        await self._async_save()
        self.hass.bus.async_fire(EVENT_RUN_REQUESTED, {"entry_id": self.entry.entry_id})
        self._notify()

    @property
    def end(self) -> datetime | None:
        """When the plan's last step ends."""
        if self.plan is None:
            return None
        return self._start + self._step * self.plan["horizon_steps"]

    def stale_reason(self, now: datetime) -> str | None:
        """Why the plan may not be followed, None when it may.

        no_plan, ended (past its last step), too_old (received more than ``PLAN_MAX_AGE``
        ago), or not_started (its first step is still ahead: there is no slot to follow).
        """
        if self.plan is None or self.received_at is None:
            return "no_plan"
        if now >= self._start + self._step * self.plan["horizon_steps"]:
            return "ended"
        if now - self.received_at > PLAN_MAX_AGE:
            return "too_old"
        if now < self._start:
            return "not_started"
        return None

    @property
    def starts_at(self) -> datetime | None:
        """Start of the plan's first step (None without a plan)."""
        return self._start if self.plan is not None else None

    def is_stale(self, now: datetime) -> bool:
        """Whether the plan may not be followed now (``stale_reason`` says why)."""
        return self.stale_reason(now) is not None

    def slot(self, now: datetime) -> int | None:
        """Index of the plan step containing ``now``, None outside the plan."""
        if self.plan is None:
            return None
        index = math.floor((now - self._start) / self._step)
        return index if 0 <= index < self.plan["horizon_steps"] else None

    def battery_setpoint_w(self, now: datetime) -> float | None:
        """Planned battery power (+ charge / − discharge, W) now; None exactly when stale."""
        if self.is_stale(now) or (index := self.slot(now)) is None:
            return None
        return float(self.plan["battery_w"][index])  # type: ignore[index]

    def intent_at(self, now: datetime) -> dict[str, Any] | None:
        """The plan step's intent now (None: stale, or a plan without intents)."""
        if self.is_stale(now) or (index := self.slot(now)) is None:
            return None
        intents = self.plan.get("intents") if self.plan else None  # type: ignore[union-attr]
        return intents[index] if intents else None

    def step_end(self, now: datetime) -> datetime | None:
        """When the plan step containing ``now`` ends."""
        index = self.slot(now)
        return None if index is None else self._start + self._step * (index + 1)

    def step_times(self, count: int | None = None) -> list[datetime]:
        """Start of each step (or ``count`` boundaries), in local time."""
        if self.plan is None:
            return []
        count = self.plan["horizon_steps"] if count is None else count
        return [dt_util.as_local(self._start + self._step * i) for i in range(count)]

    @property
    def step_hours(self) -> float:
        """Length of a step in hours."""
        return self._step / timedelta(hours=1)

    # --- runs (calendar, next start) ----------------------------------------------------------

    def _blocks(
        self, power: list[float], on: Callable[[float], str | None]
    ) -> list[tuple[int, int, str]]:
        """Contiguous [first, last) step ranges where ``on`` gives the same non-None label."""
        blocks: list[tuple[int, int, str]] = []
        first, label = 0, None
        for index, value in enumerate([*power, 0.0]):
            current = on(value) if index < len(power) else None
            if current != label:
                if label is not None:
                    blocks.append((first, index, label))
                first, label = index, current
        return blocks

    def _run(
        self, first: int, last: int, kind: str, uid: str | None, power: list[float]
    ) -> PlanRun:
        energy = sum(power[first:last]) * self.step_hours
        return PlanRun(
            start=dt_util.as_local(self._start + self._step * first),
            end=dt_util.as_local(self._start + self._step * last),
            kind=kind,
            appliance=uid,
            energy_wh=round(abs(energy), 1),
            average_w=round(sum(power[first:last]) / (last - first), 1),
        )

    def appliance_runs(self, uid: str) -> list[PlanRun]:
        """The planned runs of one appliance (comfort periods for a pilot-wire heater)."""
        if self.plan is None or (result := self.plan["appliances"].get(uid)) is None:
            return []
        threshold = self.appliances[uid].run_threshold_w if uid in self.appliances else 1.0
        power = result["power_w"]
        return [
            self._run(first, last, "appliance", uid, power)
            for first, last, _ in self._blocks(power, lambda p: "on" if p >= threshold else None)
        ]

    def battery_runs(self) -> list[PlanRun]:
        """Planned battery charge and discharge blocks."""
        if self.plan is None:
            return []
        power = self.plan["battery_w"]

        def label(value: float) -> str | None:
            if value >= BATTERY_BLOCK_W:
                return "charge"
            if value <= -BATTERY_BLOCK_W:
                return "discharge"
            return None

        intents = self.plan.get("intents") or []
        runs = []
        for first, last, kind in self._blocks(power, label):
            run = self._run(first, last, kind, None, power)
            reasons = [i["reason"] for i in intents[first:last]]
            if reasons:
                run = replace(run, reason=max(set(reasons), key=reasons.count))
            runs.append(run)
        return runs

    def runs(self) -> list[PlanRun]:
        """Every block of the plan, by start time."""
        runs = self.battery_runs()
        for uid in self.appliances:
            runs.extend(self.appliance_runs(uid))
        return sorted(runs, key=lambda r: (r.start, r.end, r.appliance is not None, r.appliance))

    def next_start(self, uid: str, now: datetime) -> datetime | None:
        """Start of the appliance's current or next planned run."""
        for run in self.appliance_runs(uid):
            if run.end > now:
                return run.start
        return None

    # --- requests -----------------------------------------------------------------------------

    def request(self, uid: str) -> ApplianceRequest:
        """The household's request for an appliance."""
        return self._requests[uid]

    def finish_by(self, uid: str, now: datetime) -> datetime | None:
        """The deadline in force for an appliance."""
        tz = dt_util.get_default_time_zone()
        deadline = self._requests[uid].finish_by_at(self.appliances[uid], now, tz)
        return None if deadline is None else dt_util.as_local(deadline)

    def energy_wh(self, uid: str, now: datetime) -> float:
        """The energy needed in force for an appliance (Wh)."""
        return self._requests[uid].energy_at(self.appliances[uid], now)

    async def async_set_request(
        self,
        uid: str,
        *,
        enabled: bool | None = None,
        finish_by: datetime | None = None,
        energy_wh: float | None = None,
        now: datetime | None = None,
    ) -> None:
        """Change what the household asks of an appliance (all checked before any change).

        The finish-by and energy given hold until the deadline in force (the one given, else
        the next default finish-by time); an energy with no deadline at all (no finish-by
        configured) holds for one plan horizon (``OVERRIDE_MAX_AGE``, 24 h). Then the
        configured defaults apply again.
        """
        now = now or dt_util.utcnow()
        self.check_request(uid, finish_by=finish_by, energy_wh=energy_wh, now=now)
        appliance = self.appliances[uid]
        request = self._requests[uid]
        if finish_by is not None:
            request.finish_by = request.expires = finish_by
        if energy_wh is not None:
            request.energy_wh = energy_wh
            tz = dt_util.get_default_time_zone()
            request.expires = request.finish_by_at(appliance, now, tz) or now + OVERRIDE_MAX_AGE
        if enabled is not None:
            request.enabled = enabled
        # The household changed its mind: ask the optimizer for a new plan.
        await self.async_request_run(now)
        self.entry.async_create_task(self.hass, self._async_execute(now), "ems plan execution")

    def check_request(
        self,
        uid: str,
        *,
        finish_by: datetime | None = None,
        energy_wh: float | None = None,
        now: datetime,
    ) -> None:
        """Raise ``PlanRejectedError`` if the request does not fit the appliance."""
        appliance = self.appliances[uid]
        if finish_by is not None:
            if not appliance.has_deadline:
                raise PlanRejectedError("not_applicable", name=appliance.name, field="finish_by")
            if finish_by <= now:
                raise PlanRejectedError("finish_by_past", name=appliance.name)
        if energy_wh is not None:
            if not appliance.has_energy:
                raise PlanRejectedError("not_applicable", name=appliance.name, field="energy_wh")
            if energy_wh < 0 or not math.isfinite(energy_wh):
                raise PlanRejectedError("invalid_energy", name=appliance.name)

    # --- execution ----------------------------------------------------------------------------

    @callback
    def _async_on_minute(self, now: datetime) -> None:
        """Run the tick as a task of the entry: unloading waits for the one in flight."""
        if self._stopped or self._lock.locked():
            return
        self.entry.async_create_task(self.hass, self._async_tick(now), "ems plan tick")

    async def _async_tick(self, _now: datetime) -> None:
        # Unloaded (a tick already on its way), or a slow device still holds the execution:
        # skip this beat rather than queue ticks behind it.
        if self._stopped or self._lock.locked():
            return
        now = dt_util.utcnow()
        expired = [request.expire(now) for request in self._requests.values()]
        if any(expired):
            await self._async_save()
        await self._async_execute(now)
        if not self._stopped:
            self._notify()

    async def _async_execute(self, now: datetime) -> None:
        """Drive every appliance to what the plan wants now (and release them if stale)."""
        if self._stopped:
            return
        async with self._lock:
            if self._stopped:  # unloaded while waiting for the lock
                return
            before = (dict(self._driven), list(self._orphans))
            await self._async_release_orphans()
            # Passive mode: ems hands back what it drives (as for a stale plan), then stays idle.
            slot = None if self.hold_appliances or self.is_stale(now) else self.slot(now)
            for uid, appliance in self.appliances.items():
                if self._stopped:  # unloaded during a slow call: drive nothing more
                    break
                result = None
                if slot is not None and self._requests[uid].enabled:
                    result = self.plan["appliances"].get(uid)  # type: ignore[index]
                try:
                    await self._async_drive(appliance, result, slot, now)
                except HomeAssistantError as err:
                    _LOGGER.warning("ems could not drive %s: %s", appliance.name, err)
            if (self._driven, self._orphans) != before:
                await self._async_save()

    async def _async_release_orphans_now(self) -> None:
        """At start: release the loads of removed or changed appliances without waiting."""
        if self._stopped:
            return
        async with self._lock:
            if self._stopped:
                return
            before = list(self._orphans)
            await self._async_release_orphans()
            if self._orphans != before:
                await self._async_save()

    async def _async_release_orphans(self) -> None:
        """Hand back the loads ems drove for appliances since removed or moved (lock held)."""
        for driven in list(self._orphans):
            if self.hass.states.get(driven.entity_id) is None:
                continue  # not (yet) there, e.g. its integration is starting: next minute
            _LOGGER.info("%s: releasing %s, no longer driven by ems", self, driven.entity_id)
            try:
                await self._async_release(driven)
            except HomeAssistantError as err:
                _LOGGER.warning("ems could not release %s: %s", driven.entity_id, err)
                continue
            self._orphans.remove(driven)

    async def _async_release(self, driven: Driven) -> None:
        if driven.option is None:
            await self._async_switch(driven.entity_id, False)
        else:
            await self._async_select(driven.entity_id, driven.option)

    async def _async_drive(
        self,
        appliance: ApplianceConfig,
        result: dict[str, Any] | None,
        slot: int | None,
        now: datetime,
    ) -> None:
        uid, entity_id = appliance.uid, appliance.switch_entity
        if (driven := Driven.of(appliance)) is None:  # a cycle
            if result is not None:
                await self._async_start_cycle(appliance, result, now)
            return
        # Taking over is noted before the call (a call that fails half-way is still released);
        # handing back only after it, so that a device that did not answer is tried again.
        if appliance.kind == "pilot_wire_heater":
            if result is not None:
                comfort = result["power_w"][slot] >= appliance.comfort_threshold_w
                option = appliance.comfort_option if comfort else appliance.eco_option
                self._driven[uid] = driven
                await self._async_select(entity_id, option)
            elif uid in self._driven:  # released: a pilot wire without orders means comfort
                await self._async_release(self._driven[uid])
                del self._driven[uid]
            return
        # Energy-type loads: on during planned steps, off at the end of the run.
        if result is not None and result["power_w"][slot] >= appliance.run_threshold_w:
            self._driven[uid] = driven
            state = self.hass.states.get(entity_id)
            if state is None or state.state != STATE_ON:
                await self._async_switch(entity_id, True)
        elif uid in self._driven:
            await self._async_release(self._driven[uid])
            del self._driven[uid]

    async def _async_start_cycle(
        self, appliance: ApplianceConfig, result: dict[str, Any], now: datetime
    ) -> None:
        """Start a cycle during its planned start step, once; its request is then done.

        Done only once the switch turned on: a start that failed is tried again at the next
        minute, as long as it is still within the start step.
        """
        if result.get("start"):
            start = parse_time(result["start"])
        elif runs := self.appliance_runs(appliance.uid):
            start = runs[0].start
        else:
            return
        request = self._requests[appliance.uid]
        if not start <= now < start + self._step or request.last_start == start:
            return
        _LOGGER.info("Starting %s as planned for %s", appliance.name, start.isoformat())
        await self._async_switch(appliance.switch_entity, True)
        request.last_start = start
        request.enabled = False  # the household arms it again for the next load
        request.finish_by = request.energy_wh = request.expires = None
        await self._async_save()
        self._notify()

    async def _async_switch(self, entity_id: str, on: bool) -> None:
        await _async_switch(self.hass, entity_id, on)

    async def _async_select(self, entity_id: str, option: str) -> None:
        await _async_select(self.hass, entity_id, option)

    # --- diagnostics --------------------------------------------------------------------------

    def summary(self, now: datetime) -> dict[str, Any]:
        """What diagnostics show of the plan (no series)."""
        plan = self.plan or {}
        return {
            "start": plan.get("start"),
            "end": None if self.end is None else self.end.isoformat(),
            "step_minutes": plan.get("step_minutes"),
            "horizon_steps": plan.get("horizon_steps"),
            "status": plan.get("status"),
            "received_at": None if self.received_at is None else self.received_at.isoformat(),
            "sources": {name: seen.isoformat() for name, seen in self.sources.items()},
            "stale": self.stale_reason(now),
            "has_scenario": self.scenario is not None,
            "warnings": plan.get("warnings", []),
            "report": plan.get("report"),
            "run_requested_at": None
            if self.run_requested_at is None
            else self.run_requested_at.isoformat(),
            "battery_setpoint_w": self.battery_setpoint_w(now),
            "appliances": {
                uid: {
                    "type": appliance.kind,
                    "request": self._requests[uid].as_dict(),
                    "planned": uid in plan.get("appliances", {}),
                    "next_start": None
                    if (start := self.next_start(uid, now)) is None
                    else start.isoformat(),
                }
                for uid, appliance in self.appliances.items()
            },
            "driven": sorted(self._driven),
            "to_release": [driven.entity_id for driven in self._orphans],
        }


async def async_remove_plan_store(hass: HomeAssistant, entry_id: str) -> None:
    """Release the loads ems still drives for a removed site, then forget its plan and requests.

    The site is already unloaded: what it drove is read from its Store. A load that does not
    answer is logged and left as it is (there is no site left to try again).
    """
    store = Store[dict[str, Any]](hass, PLAN_STORE_VERSION, f"{DOMAIN}.plan.{entry_id}")
    data = await store.async_load() or {}
    for raw in data.get("driven") or []:
        if (driven := Driven.from_stored(raw)) is None:
            continue
        try:
            if driven.option is None:
                await _async_switch(hass, driven.entity_id, False)
            else:
                await _async_select(hass, driven.entity_id, driven.option)
        except HomeAssistantError as err:
            _LOGGER.warning("ems could not release %s: %s", driven.entity_id, err)
    await store.async_remove()
