"""The site controller: every few seconds it reads, calls ``decide``, writes and verifies.

The decisions (modes, limits, split between batteries) are in the core's pure ``decide``; this
module does the I/O around it: fresh readings, watching each battery (alarms, frozen values,
writes that fail or do not read back, a battery that does not follow its command), writing
the commands, repairs, and the settings store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
import logging
from typing import TYPE_CHECKING, Any, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import CONF_EXPORT_LIMIT_W, CONF_IMPORT_LIMIT_W, CONTROL_INTERVAL_S, DOMAIN
from .core.decide import (
    NEEDS_METER,
    BatteryInput,
    ControlSettings,
    Decision,
    Distrust,
    Fallback,
    Inputs,
    Mode,
    PiMemory,
    PlanStatus,
    SiteLimits,
    decide,
)
from .core.executor import EFFICIENCY, Intent
from .core.limiter import LimitReason
from .core.watch import FollowWatch, FreezeWatch, WriteWatch, active_alarms
from .issues import set_issue

if TYPE_CHECKING:
    from .coordinator import EmsDeviceCoordinator
    from .site import SiteAggregator

_LOGGER = logging.getLogger(__name__)

# A setpoint is written when it moves this much, and at least this often (device watchdogs).
WRITE_DELTA_W = 10.0
WRITE_EVERY_S = 30.0
EXTERNAL_TIMEOUT_S = 120.0  # external setpoint not refreshed for this long → 0 W
METER_STALE_S = 120.0  # an entity-backed meter silent for longer is treated as missing
STORE_VERSION = 1
SAVE_DELAY_S = 2.0


def controller_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """The store where a site's controller keeps its mode and settings."""
    return Store(hass, STORE_VERSION, f"{DOMAIN}.controller.{entry_id}")


class SiteState(StrEnum):
    """Watchdog state of the site."""

    INIT = "init"
    RUNNING = "running"
    DEGRADED = "degraded"
    ERROR = "error"


class Problem(StrEnum):
    """What is wrong with one battery (repairs, the problem binary sensor)."""

    ALARM = "battery_alarm"
    STALE = "battery_stale"
    WRITE_FAILED = "battery_write_failed"
    NOT_FOLLOWING = "battery_not_following"


# What the site really does: the status sensor's states.
STATUSES = (
    "starting",
    "following_plan",
    "self_consumption_no_plan",
    "self_consumption_waiting_plan",
    *(m.value for m in Mode if m is not Mode.AUTO),
    "dry_run",
    "no_battery",
    "batteries_held",
    "no_meter",
    "external_timeout",
)
_FALLBACK_STATUS = {
    Fallback.PLAN_STALE: "self_consumption_no_plan",
    Fallback.PLAN_PENDING: "self_consumption_waiting_plan",
    Fallback.NOT_COMMANDABLE: "dry_run",
    Fallback.NO_BATTERY: "no_battery",
    Fallback.BATTERY_UNTRUSTED: "batteries_held",
    Fallback.NO_METER: "no_meter",
    Fallback.EXTERNAL_TIMEOUT: "external_timeout",
}


class PlanSource(Protocol):
    """What the controller needs of the plan (the plan manager)."""

    hold_appliances: bool

    def battery_setpoint_w(self, now: datetime) -> float | None:
        """Planned battery power now, None when there is nothing to follow."""

    def stale_reason(self, now: datetime) -> str | None:
        """Why the plan may not be followed now, None when it may."""

    def intent_at(self, now: datetime) -> Mapping[str, Any] | None:
        """The plan step's intent now, None without one."""

    def step_end(self, now: datetime) -> datetime | None:
        """When the plan step containing ``now`` ends."""

    @property
    def starts_at(self) -> datetime | None:
        """Start of the plan's first step."""


@dataclass(kw_only=True)
class BatteryOutcome:
    """What the last tick did with one battery."""

    requested_w: float
    setpoint_w: float | None  # written (or that would be, without control)
    reason: LimitReason
    written: bool
    error: str | None = None
    # The register writes of the command (written, or that would be in a dry run).
    registers: list[str] = field(default_factory=list)
    dry_run: bool = False  # ems may not command this battery: the registers are not written


@dataclass(kw_only=True)
class TickResult:
    """The last tick, for the site entities and diagnostics."""

    mode: Mode
    effective_mode: Mode
    requested_w: float | None = None
    setpoint_w: float | None = None
    reason: LimitReason = LimitReason.NONE
    batteries: dict[str, BatteryOutcome] = field(default_factory=dict)
    fallback: Fallback | None = None  # why what runs differs from the mode
    waiting_until: datetime | None = None  # a plan that starts later


@dataclass
class BatteryWatch:
    """Everything the controller watches on one battery."""

    freeze: FreezeWatch = field(default_factory=FreezeWatch)
    writes: WriteWatch = field(default_factory=WriteWatch)
    follow: FollowWatch = field(default_factory=FollowWatch)
    alarms: list[str] = field(default_factory=list)
    last_write: tuple[float, datetime] | None = None

    def problems(self) -> dict[Problem, str]:
        """The problems in force, with a short detail each."""
        found: dict[Problem, str] = {}
        if self.alarms:
            found[Problem.ALARM] = ", ".join(self.alarms)
        if self.freeze.frozen:
            found[Problem.STALE] = "values unchanged while commanded"
        if self.writes.untrusted:
            found[Problem.WRITE_FAILED] = self.writes.last_error or "write failed"
        if self.follow.not_following:
            found[Problem.NOT_FOLLOWING] = "measured power far from the command"
        return found

    def distrust(self) -> Distrust | None:
        """Why the battery is held at 0 W, if it is."""
        if self.alarms:
            return Distrust.ALARM
        if self.freeze.frozen:
            return Distrust.STALE
        if self.writes.untrusted:
            return Distrust.WRITE_FAILED
        return None


class SiteController:
    """Reads, decides, writes and verifies the battery setpoints of one site."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, site: SiteAggregator, plan: PlanSource
    ) -> None:
        """Start in ``init``; ``async_load`` restores the mode and settings before any tick."""
        self.hass = hass
        self.entry = entry
        self.site = site
        self.plan = plan
        self.mode = Mode.SELF_CONSUMPTION
        self.settings = ControlSettings()
        import_limit = entry.data.get(CONF_IMPORT_LIMIT_W)
        export_limit = entry.data.get(CONF_EXPORT_LIMIT_W)
        self.site_limits = SiteLimits(
            import_limit_w=float(import_limit) if import_limit is not None else None,
            export_limit_w=float(export_limit) if export_limit is not None else None,
        )
        if import_limit:
            self.settings.peak_import_threshold_w = float(import_limit) * 0.8
            self.settings.peak_recharge_threshold_w = float(import_limit) * 0.3
        if export_limit:
            self.settings.export_cap_w = float(export_limit)
        self.stored: set[str] = set()  # settings (and "mode") that came from the store
        self.state = SiteState.INIT
        self.last: TickResult | None = None
        self.external_updated: datetime | None = None
        # Grid support (grid.py): the frequency response now, the SOC reserve P(f) keeps.
        self.grid_response_w: float | None = None
        self.grid_reserve_pct = 0.0
        self.grid_p_limit_w: float | None = None  # Q(V) with Q priority: P within S − Q
        self.watches: dict[str, BatteryWatch] = {}
        self.meter_watches: dict[str, FreezeWatch] = {}
        self._store = controller_store(hass, entry.entry_id)
        self._memory = PiMemory()
        self._last_tick: datetime | None = None
        self._listeners: list[Callable[[], None]] = []
        self._lock = asyncio.Lock()
        self._released = True  # passive mode wrote its one final 0 W
        self._commanded: set[str] = set()  # batteries a command of ours may hold (stored)
        self._stopped = False
        self._unsub_timer: Callable[[], None] | None = None

    # --- wiring -------------------------------------------------------------------------------

    async def async_load(self) -> None:
        """Restore the mode and settings from the controller's own store."""
        stored = await self._store.async_load() or {}
        settings = stored.get("settings")
        if isinstance(settings, dict):
            restored = ControlSettings.restore(settings)
            for item in fields(ControlSettings):
                if item.name in settings:
                    setattr(self.settings, item.name, getattr(restored, item.name))
                    self.stored.add(item.name)
        if stored.get("mode") in set(Mode):
            self.mode = Mode(stored["mode"])
            self.stored.add("mode")
        self.plan.hold_appliances = self.mode is Mode.PASSIVE
        # Batteries a command of ours may still hold (a release that failed, a host that died):
        # some devices keep a forced mode for ever, so they are released when ems may not
        # command them now (passive mode, control switched off).
        commanded = stored.get("commanded")
        for key in commanded if isinstance(commanded, list) else []:
            if (battery := self.batteries.get(key)) is not None:
                battery.mark_commanded()
                self._released = False
        self._commanded = {k for k, b in self.batteries.items() if b.commanded}

    def _stored_data(self) -> dict[str, Any]:
        """What the store keeps: the mode, every setting, the batteries we may be commanding."""
        return {
            "mode": self.mode.value,
            "settings": dict(self.settings.__dict__),
            "commanded": sorted(self._commanded),
        }

    def _note_commanded(self) -> None:
        """Keep the set of batteries a command of ours may hold (saved when it changes)."""
        commanded = {k for k, b in self.batteries.items() if b.commanded}
        if commanded != self._commanded:
            self._commanded = commanded
            self._save()

    def _save(self) -> None:
        self._store.async_delay_save(self._stored_data, SAVE_DELAY_S)

    @property
    def stopped(self) -> bool:
        """Whether the controller has released the batteries for good (unload, stop)."""
        return self._stopped

    @property
    def lock(self) -> asyncio.Lock:
        """Held while a tick or the release writes: other writers take it too."""
        return self._lock

    @callback
    def async_start(self) -> None:
        """Tick every few seconds until the entry unloads or Home Assistant stops."""
        self._unsub_timer = async_track_time_interval(
            self.hass, self._async_scheduled, timedelta(seconds=CONTROL_INTERVAL_S)
        )
        self.entry.async_on_unload(self._cancel_timer)
        self.entry.async_on_unload(self._clear_issues)
        # Config entries are not unloaded when Home Assistant stops: release the batteries then.
        self.entry.async_on_unload(
            self.hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, self._async_on_stop)
        )

    @callback
    def _cancel_timer(self) -> None:
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None

    async def _async_on_stop(self, _event: Event) -> None:
        await self.async_shutdown()

    async def _async_scheduled(self, now: datetime) -> None:
        if self._lock.locked():  # a slow device: skip this beat rather than queue ticks
            return
        await self.async_tick(now)

    def add_listener(self, update: Callable[[], None]) -> Callable[[], None]:
        """Call ``update`` after every tick and settings change; return the undo callable."""
        self._listeners.append(update)
        return lambda: self._listeners.remove(update)

    def _notify(self) -> None:
        for update in list(self._listeners):
            update()

    @property
    def batteries(self) -> dict[str, EmsDeviceCoordinator]:
        """Battery coordinators by subentry id."""
        return {k: c for k, c in self.site.devices.items() if c.kind == "battery"}

    @property
    def meters(self) -> list[EmsDeviceCoordinator]:
        """Grid meter coordinators."""
        return [c for c in self.site.devices.values() if c.kind == "meter"]

    def soc_bounds(self) -> tuple[float, float]:
        """The SOC window the limiter keeps every battery in."""
        return self.settings.soc_window()

    # --- user input ---------------------------------------------------------------------------

    async def async_set_mode(self, mode: Mode | str) -> None:
        """Change the mode, keep it, and act on it at once."""
        mode = Mode(mode)
        if mode is not self.mode:
            _LOGGER.info("%s: mode %s → %s", self.entry.title, self.mode, mode)
            self.mode = mode
            if mode is Mode.PASSIVE:
                self._released = False
        self.plan.hold_appliances = mode is Mode.PASSIVE
        self.stored.add("mode")
        self._save()
        await self.async_tick()

    @callback
    def restore_mode(self, mode: Mode | str) -> None:
        """Take over a mode kept elsewhere (an older version's entity) before the first tick."""
        self.mode = Mode(mode)
        self.plan.hold_appliances = self.mode is Mode.PASSIVE
        self._released = self.mode is not Mode.PASSIVE
        self.stored.add("mode")
        self._save()

    @callback
    def set_setting(self, name: str, value: Any) -> None:
        """Change one setting; ``ValueError`` names the setting when the value is not valid."""
        checked = ControlSettings.check(name, value)
        setattr(self.settings, name, checked)
        if name == "external_setpoint_w":
            self.external_updated = dt_util.utcnow()
        self.stored.add(name)
        self._save()
        self._notify()

    # --- the loop -----------------------------------------------------------------------------

    async def async_tick(self, now: datetime | None = None) -> TickResult:
        """One control step: read, decide, write, verify; never raises."""
        async with self._lock:
            now = now or dt_util.utcnow()
            if self._stopped:
                return self.last or TickResult(mode=self.mode, effective_mode=self.mode)
            try:
                result = await self._async_step(now)
            except Exception:  # the loop must survive anything a device or plan does
                _LOGGER.exception("%s: control step failed", self.entry.title)
                result = TickResult(mode=self.mode, effective_mode=self.mode)
                self.state = SiteState.ERROR
                await self._async_release(self.batteries)  # no command of ours stays
            self.last = result
            self._last_tick = now
            self._note_commanded()
        self._notify()
        return result

    async def _async_refresh_inputs(self) -> None:
        """Fresh meter and battery values for this step (devices in back-off keep their pace)."""
        devices = [*self.meters, *self.batteries.values()]
        await asyncio.gather(
            *(d.async_refresh() for d in devices if d.last_update_success),
            return_exceptions=True,
        )

    def grid_w(self) -> float | None:
        """The site's grid power from its meters; None when a meter is missing or silent."""
        meters = self.meters
        if not meters or any(not m.live for m in meters):
            return None
        now = dt_util.utcnow()
        for meter in meters:  # another integration's sensor that stopped reporting is frozen
            age = meter.entities.power_age_s(now) if meter.entities else None
            if age is not None and age > METER_STALE_S:
                return None
        values = [m.data.get("power") for m in meters]
        if any(v is None for v in values):
            return None
        return float(sum(values))

    def _watch_meters(self, now: datetime) -> None:
        """A meter whose values stop changing while the batteries work is frozen: not used."""
        commanded = sum(abs(b.setpoint_w or 0.0) for b in self.batteries.values())
        for meter in self.meters:
            watch = self.meter_watches.setdefault(meter.subentry.subentry_id, FreezeWatch())
            if meter.last_update_success and meter.data:
                meter.set_frozen(watch.observe(meter.observed_values(), commanded, now.timestamp()))

    def plan_status(self, now: datetime) -> PlanStatus:
        """The optimizer's plan now, whatever the mode."""
        if self.plan.battery_setpoint_w(now) is not None:
            return PlanStatus.ACTIVE
        reason = self.plan.stale_reason(now)
        if reason == "not_started":
            return PlanStatus.NOT_STARTED
        return PlanStatus.NONE if reason == "no_plan" else PlanStatus.STALE

    def _plan_inputs(self, now: datetime) -> dict[str, Any]:
        """What ``decide`` needs of the plan now: its status, the step's power and intent."""
        if self.mode is not Mode.AUTO:
            return {"plan_status": PlanStatus.NONE}
        setpoint = self.plan.battery_setpoint_w(now)
        if setpoint is not None:
            end = self.plan.step_end(now)
            return {
                "plan_status": PlanStatus.ACTIVE,
                "plan_battery_w": float(setpoint),
                "plan_intent": Intent.from_plan(self.plan.intent_at(now)),
                "plan_step_left_s": (end - now).total_seconds() if end else None,
            }
        if self.plan.stale_reason(now) == "not_started":
            return {"plan_status": PlanStatus.NOT_STARTED}
        return {"plan_status": PlanStatus.STALE}

    def _battery_input(
        self, key: str, battery: EmsDeviceCoordinator, now: datetime
    ) -> BatteryInput:
        """One battery as read now, with what its watches say."""
        watch = self.watches.setdefault(key, BatteryWatch())
        online = bool(battery.last_update_success and battery.data)
        if not online:
            battery.forget_setpoint()  # it lost our command: ramp from 0 W when it is back
            watch.last_write = None
            watch.follow.observe(None, None, now.timestamp())
            return BatteryInput(key=key, limits=None, online=False)
        data = battery.data
        watch.alarms = active_alarms(data)
        battery.set_frozen(
            watch.freeze.observe(battery.observed_values(), battery.setpoint_w, now.timestamp())
        )
        since = (now - battery.setpoint_at).total_seconds() if battery.setpoint_at else None
        return BatteryInput(
            key=key,
            limits=battery.battery_limits(),
            state=battery.battery_state(),
            power_w=data.get("power"),
            capacity_wh=data.get("capacity"),
            commandable=battery.control_enabled,
            distrust=watch.distrust(),
            previous_w=battery.setpoint_w,
            since_previous_s=since,
        )

    async def _async_step(self, now: datetime) -> TickResult:
        batteries = self.batteries
        if self.mode is Mode.PASSIVE:
            if not self._released:  # hand the batteries back (retried until done), then idle
                self._released = await self._async_release(batteries)
            self._update_issues()
            self.state = SiteState.RUNNING if self._all_up() else SiteState.DEGRADED
            return TickResult(mode=self.mode, effective_mode=Mode.PASSIVE)
        # A battery ems may no longer command, still holding a command of ours: hand it back.
        if orphans := {k: b for k, b in batteries.items() if b.commanded and not b.control_enabled}:
            await self._async_release(orphans)
        await self._async_refresh_inputs()
        self._watch_meters(now)
        dt_s = (now - self._last_tick).total_seconds() if self._last_tick else CONTROL_INTERVAL_S
        dt_s = min(max(dt_s, 0.0), 2 * CONTROL_INTERVAL_S)  # a missed beat, not a long pause
        inputs = Inputs(
            mode=self.mode,
            grid_w=self.grid_w(),
            batteries=tuple(self._battery_input(k, b, now) for k, b in batteries.items()),
            **self._plan_inputs(now),
            external_fresh=self.external_updated is not None
            and (now - self.external_updated).total_seconds() <= EXTERNAL_TIMEOUT_S,
            site_soc_pct=self.site.values().soc,
            dt_s=dt_s,
            grid_response_w=self.grid_response_w,
            grid_reserve_pct=self.grid_reserve_pct,
            grid_p_limit_w=self.grid_p_limit_w,
        )
        decision = decide(inputs, self.settings, self.site_limits, self._memory)
        self._memory = decision.memory
        result = TickResult(
            mode=self.mode,
            effective_mode=decision.effective_mode,
            requested_w=decision.requested_w,
            setpoint_w=decision.setpoint_w,
            reason=decision.reason,
            fallback=decision.fallback,
            waiting_until=self.plan.starts_at
            if decision.fallback is Fallback.PLAN_PENDING
            else None,
        )
        for command in decision.commands:
            battery = batteries[command.key]
            result.batteries[command.key] = await self._async_apply(battery, command, now)
        for key, battery in batteries.items():
            if battery.last_update_success and battery.data:
                self.watches[key].follow.observe(
                    battery.setpoint_w, battery.data.get("power"), now.timestamp()
                )
        self._update_plan_issue(decision)
        self._update_issues()
        self.state = self._watchdog(decision, inputs)
        return result

    async def _async_apply(
        self, battery: EmsDeviceCoordinator, command: Any, now: datetime
    ) -> BatteryOutcome:
        """Write one battery's command when it changed or is due, and verify it."""
        outcome = BatteryOutcome(
            requested_w=command.requested_w,
            setpoint_w=command.setpoint_w,
            reason=command.reason,
            written=False,
        )
        if not command.write:  # not ours to command: show what would be written
            outcome.dry_run = not battery.control_enabled
            try:
                outcome.registers = battery.dry_run(command.setpoint_w)
            except HomeAssistantError as err:
                outcome.error = str(err)
            return outcome
        watch = self.watches[battery.subentry.subentry_id]
        # A remote mode that lapses is written again before it does (the profile says when).
        every = min(WRITE_EVERY_S, battery.rewrite_s or WRITE_EVERY_S)
        if watch.last_write is not None:
            value, at = watch.last_write
            due = (now - at).total_seconds() >= every
            if not due and abs(command.setpoint_w - value) < WRITE_DELTA_W:
                outcome.setpoint_w = value
                outcome.registers = list(battery.last_commands)
                return outcome
        if not watch.writes.due(now.timestamp()):  # backing off after failures
            outcome.error = watch.writes.last_error
            return outcome
        try:
            await battery.async_write_setpoint(command.setpoint_w, now=now)
        except Exception as err:
            watch.writes.failed(now.timestamp(), str(err) or type(err).__name__)
            watch.last_write = None
            _LOGGER.warning("%s: setpoint not confirmed: %s", battery.subentry.title, err)
            outcome.setpoint_w, outcome.error = None, str(err)
            return outcome
        watch.writes.succeeded(now.timestamp())
        watch.last_write = (command.setpoint_w, now)
        outcome.written = True
        outcome.registers = list(battery.last_commands)
        return outcome

    async def _async_release(self, batteries: dict[str, EmsDeviceCoordinator]) -> bool:
        """Leave every battery ems commanded at 0 W; True when none is left with a command."""
        done = True
        for key, battery in batteries.items():
            if not battery.commanded:
                continue
            try:
                await battery.async_release()
            except Exception as err:
                _LOGGER.warning("%s: could not release: %s", battery.subentry.title, err)
                done = False
            if key in self.watches:
                self.watches[key].last_write = None
        return done

    async def async_shutdown(self) -> None:
        """Unload or stop: tick no more, and no command of ours stays in force."""
        self._cancel_timer()
        await self._store.async_save(self._stored_data())
        async with self._lock:
            self._stopped = True
            await self._async_release(self.batteries)
            # What could not be released is released at the next start (or taken over).
            self._commanded = {k for k, b in self.batteries.items() if b.commanded}
        await self._store.async_save(self._stored_data())

    def _all_up(self) -> bool:
        return all(d.last_update_success for d in self.site.devices.values())

    def _watchdog(self, decision: Decision, inputs: Inputs) -> SiteState:
        """``error`` when nothing can be controlled safely, ``degraded`` when something is off."""
        if inputs.batteries and not any(b.online for b in inputs.batteries):
            return SiteState.ERROR
        if decision.effective_mode in NEEDS_METER and inputs.grid_w is None:
            return SiteState.ERROR
        if decision.fallback is Fallback.BATTERY_UNTRUSTED:
            return SiteState.ERROR
        problems = any(w.problems() for w in self.watches.values())
        if decision.fallback or problems or not self._all_up():
            return SiteState.DEGRADED
        return SiteState.RUNNING

    # --- repairs ------------------------------------------------------------------------------

    def _issue_id(self, problem: Problem | str, key: str) -> str:
        return f"{problem}_{key}"

    def _update_issues(self) -> None:
        """One repair per battery problem in force; gone when the problem is."""
        for key, watch in self.watches.items():
            battery = self.batteries.get(key)
            problems = watch.problems()
            for problem in Problem:
                set_issue(
                    self.hass,
                    self._issue_id(problem, key),
                    problem in problems and battery is not None,
                    translation_key=problem.value,
                    placeholders={
                        "name": battery.subentry.title if battery else key,
                        "detail": problems.get(problem, ""),
                    },
                    severity=ir.IssueSeverity.WARNING
                    if problem is Problem.NOT_FOLLOWING
                    else ir.IssueSeverity.ERROR,
                )

    def _update_plan_issue(self, decision: Decision) -> None:
        set_issue(
            self.hass,
            f"plan_stale_{self.entry.entry_id}",
            decision.fallback is Fallback.PLAN_STALE,
            translation_key="plan_stale",
            placeholders={"name": self.entry.title},
        )

    @callback
    def _clear_issues(self) -> None:
        ir.async_delete_issue(self.hass, DOMAIN, f"plan_stale_{self.entry.entry_id}")
        for key in self.watches:
            for problem in Problem:
                ir.async_delete_issue(self.hass, DOMAIN, self._issue_id(problem, key))

    # --- what it shows ------------------------------------------------------------------------

    def status(self) -> str:
        """What the site really does now (one of ``STATUSES``)."""
        last = self.last
        if last is None:
            return "starting"
        if last.fallback is not None:
            return _FALLBACK_STATUS[last.fallback]
        if last.effective_mode is Mode.AUTO:
            return "following_plan"
        return last.effective_mode.value

    def problems(self, key: str) -> dict[Problem, str]:
        """The problems of one battery (empty when all is well)."""
        watch = self.watches.get(key)
        return watch.problems() if watch else {}

    # --- for the plan side --------------------------------------------------------------------

    def problem_battery(self) -> dict[str, Any] | None:
        """The site's batteries as one battery of plan contract v1, within the limiter's limits."""
        batteries = [b for b in self.batteries.values() if b.control_enabled]
        if not batteries:  # nothing ems may command: nothing to plan
            return None
        capacity = energy = charge = discharge = 0.0
        for battery in batteries:
            data = battery.data if battery.last_update_success else None
            limits = battery.battery_limits()
            if (
                not data
                or limits is None
                or data.get("capacity") is None
                or data.get("soc") is None
            ):
                return None
            capacity += float(data["capacity"])
            energy += float(data["capacity"]) * float(data["soc"]) / 100.0
            # Whole-horizon limits: the static ones (SOC travels in soc_min/max_pct).
            charge += limits.charge_max_w if limits.can_charge else 0.0
            discharge += limits.discharge_max_w if limits.can_discharge else 0.0
        if capacity <= 0:
            return None
        low, high = self.soc_bounds()
        if self.mode is Mode.BACKUP:
            low = max(low, min(self.settings.reserve_soc_pct, high))
        soc = min(max(100.0 * energy / capacity, 0.0), 100.0)
        return {
            "capacity_wh": round(capacity, 1),
            "soc_initial_pct": round(soc, 2),
            "soc_min_pct": low,
            "soc_max_pct": high,
            "charge_max_w": round(charge, 1),
            "discharge_max_w": round(discharge, 1),
            "charge_efficiency": EFFICIENCY,
            "discharge_efficiency": EFFICIENCY,
            "charge_from_grid": self.settings.grid_charging,
        }

    def diagnostics(self) -> dict[str, Any]:
        """State for a bug report."""
        last = self.last
        return {
            "mode": self.mode,
            "state": self.state,
            "status": self.status(),
            "settings": self.settings.__dict__,
            "stored": sorted(self.stored),
            "batteries": {
                key: {
                    "problems": {p.value: d for p, d in watch.problems().items()},
                    "writes": watch.writes.writes,
                    "write_failures": watch.writes.total_failures,
                    "consecutive_write_failures": watch.writes.failures,
                    "last_write_error": watch.writes.last_error,
                }
                for key, watch in self.watches.items()
            },
            "last": None
            if last is None
            else {
                "effective_mode": last.effective_mode,
                "fallback": last.fallback,
                "requested_w": last.requested_w,
                "setpoint_w": last.setpoint_w,
                "reason": last.reason,
                "batteries": {k: v.__dict__ for k, v in last.batteries.items()},
            },
        }
