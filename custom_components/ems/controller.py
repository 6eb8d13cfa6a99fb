"""The site controller: every few seconds, mode → site setpoint → split → limiter → write."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .const import CONF_EXPORT_LIMIT_W, CONF_IMPORT_LIMIT_W, CONTROL_INTERVAL_S, DOMAIN
from .core.control import PIController, peak_shaving_setpoint, self_consumption_step, split_setpoint
from .core.limiter import LimitReason, charge_cap, discharge_cap

if TYPE_CHECKING:
    from .coordinator import EmsConfigEntry, EmsDeviceCoordinator

_LOGGER = logging.getLogger(__name__)

# PI gains for self-consumption, per W of grid error (measured on the simulator, see tests).
PI_KP = 0.1
PI_KI_PER_S = 0.15
DEADBAND_W = 10.0
# A setpoint is written when it moves this much, and at least this often (device watchdogs).
WRITE_DELTA_W = 10.0
WRITE_EVERY_S = 30.0
EXTERNAL_TIMEOUT_S = 120.0  # external setpoint not refreshed for this long → 0 W
METER_STALE_S = 120.0  # an entity-backed meter silent for longer is treated as missing
EFFICIENCY = 0.95  # per direction, for the plan's battery model when the device gives none


class Mode(StrEnum):
    """The site modes (ARCHITECTURE.md)."""

    AUTO = "auto"
    SELF_CONSUMPTION = "self_consumption"
    PEAK_SHAVING = "peak_shaving"
    CHARGE_ONLY = "charge_only"
    EXTERNAL = "external"
    BACKUP = "backup"
    PASSIVE = "passive"
    MANUAL = "manual"


class SiteState(StrEnum):
    """Watchdog state of the site."""

    INIT = "init"
    RUNNING = "running"
    DEGRADED = "degraded"
    ERROR = "error"


# Modes whose setpoint is computed from the grid meter.
_NEEDS_METER = {Mode.SELF_CONSUMPTION, Mode.PEAK_SHAVING, Mode.CHARGE_ONLY, Mode.BACKUP}


@dataclass(kw_only=True)
class ControlSettings:
    """What the user tunes from the site's numbers and switch (restored by those entities)."""

    grid_target_w: float = 0.0
    peak_import_threshold_w: float = 3000.0
    peak_recharge_threshold_w: float = 1000.0
    export_cap_w: float = 0.0  # 0 = no cap
    target_soc_pct: float = 80.0
    reserve_soc_pct: float = 30.0
    manual_setpoint_w: float = 0.0
    external_setpoint_w: float = 0.0
    soc_min_pct: float = 10.0
    soc_max_pct: float = 100.0
    grid_charging: bool = False


@dataclass(kw_only=True)
class BatteryOutcome:
    """What the last tick did with one battery."""

    requested_w: float
    setpoint_w: float | None  # written (or that would be, without control)
    reason: LimitReason
    written: bool
    error: str | None = None


@dataclass(kw_only=True)
class TickResult:
    """The last tick, for the site entities and diagnostics."""

    mode: Mode
    effective_mode: Mode
    requested_w: float | None = None
    setpoint_w: float | None = None
    reason: LimitReason = LimitReason.NONE
    batteries: dict[str, BatteryOutcome] = field(default_factory=dict)
    fallback: str | None = None  # why the effective mode differs


class SiteController:
    """Computes and writes the battery setpoints of one site."""

    def __init__(self, hass: HomeAssistant, entry: EmsConfigEntry) -> None:
        """Start in ``init``; the mode select restores the mode before the first tick."""
        self.hass = hass
        self.entry = entry
        self.mode = Mode.SELF_CONSUMPTION
        self.settings = ControlSettings()
        import_limit = entry.data.get(CONF_IMPORT_LIMIT_W)
        if import_limit:
            self.settings.peak_import_threshold_w = float(import_limit) * 0.8
            self.settings.peak_recharge_threshold_w = float(import_limit) * 0.3
        if export_limit := entry.data.get(CONF_EXPORT_LIMIT_W):
            self.settings.export_cap_w = float(export_limit)
        self.state = SiteState.INIT
        self.last: TickResult | None = None
        self.external_updated: datetime | None = None
        self._pi = PIController(PI_KP, PI_KI_PER_S, 0.0, 0.0)
        self._pi_mode: Mode | None = None
        self._last_tick: datetime | None = None
        self._last_write: dict[str, tuple[float, datetime]] = {}
        self._listeners: list[Callable[[], None]] = []
        self._lock = asyncio.Lock()
        self._released = True  # passive mode wrote its one final 0 W
        self._pi_used = False
        self._stopped = False
        self._unsub_timer: Callable[[], None] | None = None

    # --- wiring -------------------------------------------------------------------------------

    @callback
    def async_start(self) -> None:
        """Tick every few seconds until the entry unloads or Home Assistant stops."""
        self._unsub_timer = async_track_time_interval(
            self.hass, self._async_scheduled, timedelta(seconds=CONTROL_INTERVAL_S)
        )
        self.entry.async_on_unload(self._cancel_timer)
        self.entry.async_on_unload(self._clear_plan_issue)
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
        return {k: c for k, c in self.entry.runtime_data.devices.items() if c.kind == "battery"}

    @property
    def meters(self) -> list[EmsDeviceCoordinator]:
        """Grid meter coordinators."""
        return [c for c in self.entry.runtime_data.devices.values() if c.kind == "meter"]

    def soc_bounds(self) -> tuple[float, float]:
        """The SOC window the limiter keeps every battery in."""
        low = min(self.settings.soc_min_pct, self.settings.soc_max_pct)
        return low, self.settings.soc_max_pct

    # --- user input ---------------------------------------------------------------------------

    async def async_set_mode(self, mode: Mode | str) -> None:
        """Change the mode and act on it at once."""
        mode = Mode(mode)
        if mode is not self.mode:
            _LOGGER.info("%s: mode %s → %s", self.entry.title, self.mode, mode)
            self.mode = mode
            if mode is Mode.PASSIVE:
                self._released = False
        await self.async_tick()

    @callback
    def set_setting(self, name: str, value: Any) -> None:
        """Change one setting (from its entity)."""
        if not hasattr(self.settings, name):
            raise KeyError(name)
        setattr(self.settings, name, value)
        if name == "external_setpoint_w":
            self.external_updated = dt_util.utcnow()
        self._notify()

    # --- the loop -----------------------------------------------------------------------------

    async def async_tick(self, now: datetime | None = None) -> TickResult:
        """One control step: read, decide, limit, write; never raises."""
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
                await self._async_release(self.batteries, now)  # no command of ours stays
            self.last = result
            self._last_tick = now
        self._notify()
        return result

    async def _async_refresh_inputs(self) -> None:
        """Fresh meter and battery values for this step (devices in back-off keep their pace)."""
        devices = [*self.meters, *self.batteries.values()]
        await asyncio.gather(
            *(d.async_refresh() for d in devices if d.last_update_success),
            return_exceptions=True,
        )

    def _grid_w(self) -> float | None:
        meters = self.meters
        if not meters or any(not m.last_update_success or not m.data for m in meters):
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

    def _battery_w(self, batteries: list[EmsDeviceCoordinator]) -> float:
        return float(sum((b.data or {}).get("power") or 0.0 for b in batteries))

    def _effective_mode(self, now: datetime) -> tuple[Mode, str | None, float | None]:
        """The mode actually run, why it differs, and the plan's setpoint in ``auto``."""
        if self.mode is not Mode.AUTO:
            self._clear_plan_issue()
            return self.mode, None, None
        plan = self.entry.runtime_data.plan
        setpoint = plan.battery_setpoint_w(now) if plan is not None else None
        if setpoint is not None:
            self._clear_plan_issue()
            return Mode.AUTO, None, float(setpoint)
        if plan is not None and plan.stale_reason(now) == "not_started":
            self._clear_plan_issue()  # a fresh plan that starts later: wait for it
            return Mode.SELF_CONSUMPTION, "plan_pending", None
        self._raise_plan_issue()
        return Mode.SELF_CONSUMPTION, "plan_stale", None

    def _raise_plan_issue(self) -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"plan_stale_{self.entry.entry_id}",
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="plan_stale",
            translation_placeholders={"name": self.entry.title},
        )

    @callback
    def _clear_plan_issue(self) -> None:
        ir.async_delete_issue(self.hass, DOMAIN, f"plan_stale_{self.entry.entry_id}")

    async def _async_step(self, now: datetime) -> TickResult:
        mode, fallback, plan_w = self._effective_mode(now)
        result = TickResult(mode=self.mode, effective_mode=mode, fallback=fallback)
        batteries = self.batteries
        if mode is Mode.PASSIVE:
            if not self._released:  # hand the batteries back (retried until done), then idle
                self._released = await self._async_release(batteries, now)
            self.state = SiteState.RUNNING if self._all_up() else SiteState.DEGRADED
            return result
        await self._async_refresh_inputs()
        alive = {k: b for k, b in batteries.items() if b.last_update_success and b.data}
        for key, battery in batteries.items():
            if key not in alive:
                battery.forget_setpoint()  # it lost our command: ramp from 0 W when it is back
                self._last_write.pop(key, None)
        grid = self._grid_w()
        dt_s = (now - self._last_tick).total_seconds() if self._last_tick else CONTROL_INTERVAL_S
        dt_s = min(max(dt_s, 0.0), 2 * CONTROL_INTERVAL_S)  # a missed beat, not a long pause
        # Batteries ems may not command are part of the house: only the others share the site
        # setpoint. Without any, the controller runs dry (shows what it would do, writes nothing).
        controlled = {k: b for k, b in alive.items() if b.control_enabled} or alive
        alive = controlled
        battery_w = self._battery_w(list(alive.values()))
        pv_surplus = None if grid is None else battery_w - grid  # what goes out without the battery
        grid_charge_allowed = mode is not Mode.CHARGE_ONLY or self.settings.grid_charging
        soc_floor = self.settings.reserve_soc_pct if mode is Mode.BACKUP else None

        # Each battery's caps now, from its limiter (before ramp), and its static maxima.
        charge_caps: dict[str, tuple[float, LimitReason]] = {}
        discharge_caps: dict[str, tuple[float, LimitReason]] = {}
        site_charge = site_discharge = 0.0
        for key, battery in alive.items():
            limits = battery.battery_limits()
            if limits is None:
                charge_caps[key] = discharge_caps[key] = (0.0, LimitReason.UNKNOWN_STATE)
                continue
            if soc_floor is not None and soc_floor > limits.soc_min_pct:
                limits = replace(limits, soc_min_pct=min(soc_floor, limits.soc_max_pct))
            state = battery.battery_state()
            charge_caps[key] = charge_cap(
                limits,
                state,
                grid_charge_allowed=grid_charge_allowed,
                pv_surplus_w=pv_surplus,
            )
            discharge_caps[key] = discharge_cap(limits, state)
            site_charge += limits.charge_max_w
            site_discharge += limits.discharge_max_w

        self._pi_used = False
        if mode in _NEEDS_METER and grid is None:
            requested: float | None = None  # no meter: nothing sensible to do → safe value
        else:
            requested = self._site_request(
                mode,
                now,
                grid=grid,
                battery_w=battery_w,
                dt_s=dt_s,
                plan_w=plan_w,
                site_charge=site_charge,
                site_discharge=site_discharge,
            )
        if not self._pi_used:
            self._pi_mode = None  # the next PI mode starts afresh from what the batteries do
        result.requested_w = requested
        target = 0.0 if requested is None else requested
        if target > 0 and not grid_charge_allowed:
            target = min(target, max(0.0, pv_surplus or 0.0))  # the surplus is shared, not copied
        caps = charge_caps if target >= 0 else discharge_caps
        shares = split_setpoint(
            target, [(self._room_wh(b, up=target >= 0), caps[k][0]) for k, b in alive.items()]
        )
        total = 0.0
        reasons: list[LimitReason] = []
        for (key, battery), share in zip(alive.items(), shares, strict=True):
            outcome = await self._async_apply(
                key,
                battery,
                share,
                now,
                grid_charge_allowed=grid_charge_allowed,
                pv_surplus_w=pv_surplus,
                soc_floor=soc_floor,
            )
            result.batteries[key] = outcome
            total += outcome.setpoint_w or 0.0
            reasons.append(outcome.reason)
        if target != 0 and abs(sum(shares)) + 1 < abs(target):
            # The request exceeded what the batteries may do now: say which limit binds.
            binding = [caps[k][1] for k in alive if caps[k][1] is not LimitReason.POWER]
            reasons.insert(0, binding[0] if binding else LimitReason.POWER)
        result.setpoint_w = total if alive else None
        result.reason = next((r for r in reasons if r is not LimitReason.NONE), LimitReason.NONE)
        if mode in (Mode.SELF_CONSUMPTION, Mode.CHARGE_ONLY, Mode.BACKUP) and alive:
            self._pi.track(total)  # anti-windup against what the limiter let through
        self.state = self._watchdog(mode, grid, alive, batteries, fallback)
        return result

    def _site_request(
        self,
        mode: Mode,
        now: datetime,
        *,
        grid: float | None,
        battery_w: float,
        dt_s: float,
        plan_w: float | None,
        site_charge: float,
        site_discharge: float,
    ) -> float | None:
        """The site setpoint the mode asks for (before split and limiter)."""
        settings = self.settings
        if mode is Mode.AUTO:
            return plan_w
        if mode is Mode.MANUAL:
            return settings.manual_setpoint_w
        if mode is Mode.EXTERNAL:
            fresh = self.external_updated is not None and (
                (now - self.external_updated).total_seconds() <= EXTERNAL_TIMEOUT_S
            )
            return settings.external_setpoint_w if fresh else None
        assert grid is not None
        if mode is Mode.PEAK_SHAVING:
            recharge = min(settings.peak_recharge_threshold_w, settings.peak_import_threshold_w)
            return peak_shaving_setpoint(
                grid,
                battery_w,
                settings.peak_import_threshold_w,
                recharge,
                settings.export_cap_w or None,
                charge_max_w=site_charge,
                discharge_max_w=site_discharge,
            )
        soc = self.entry.runtime_data.site.values().soc
        if mode is Mode.CHARGE_ONLY:
            if settings.grid_charging and soc is not None and soc < settings.target_soc_pct:
                return site_charge
            return self._pi_step(mode, grid, battery_w, dt_s, low=0.0, high=site_charge)
        if mode is Mode.BACKUP and soc is not None and soc < settings.reserve_soc_pct:
            return site_charge  # refill the reserve first, from the grid if need be
        return self._pi_step(mode, grid, battery_w, dt_s, low=-site_discharge, high=site_charge)

    def _pi_step(
        self, mode: Mode, grid: float, battery_w: float, dt_s: float, *, low: float, high: float
    ) -> float:
        self._pi_used = True
        self._pi.output_min, self._pi.output_max = low, high
        if self._pi_mode is not mode:  # bumpless start from what the batteries do now
            self._pi.reset(battery_w)
            self._pi_mode = mode
        target = self.settings.grid_target_w if mode is Mode.SELF_CONSUMPTION else 0.0
        return self_consumption_step(grid, target, self._pi, dt_s, deadband_w=DEADBAND_W)

    def _room_wh(self, battery: EmsDeviceCoordinator, *, up: bool) -> float:
        """Energy a battery can still take (up) or give above its floor (down)."""
        data = battery.data or {}
        capacity, soc = data.get("capacity"), data.get("soc")
        if capacity is None or soc is None:
            return 0.0
        low, high = self.soc_bounds()
        span = (high - soc) if up else (soc - low)
        return max(0.0, float(capacity) * span / 100.0)

    async def _async_apply(
        self,
        key: str,
        battery: EmsDeviceCoordinator,
        requested: float,
        now: datetime,
        *,
        grid_charge_allowed: bool,
        pv_surplus_w: float | None,
        soc_floor: float | None,
    ) -> BatteryOutcome:
        """Limit one battery's share and write it when it changed or is due."""
        options = {
            "grid_charge_allowed": grid_charge_allowed,
            "pv_surplus_w": pv_surplus_w,
            "soc_min_pct": soc_floor,
        }
        if not battery.control_enabled:
            limited = battery.limit_setpoint(requested, now=now, **options)
            return BatteryOutcome(
                requested_w=requested,
                setpoint_w=limited.setpoint_w,
                reason=limited.reason,
                written=False,
            )
        previous = self._last_write.get(key)
        limited = battery.limit_setpoint(requested, now=now, **options)
        if previous is not None:
            value, at = previous
            due = (now - at).total_seconds() >= WRITE_EVERY_S
            if not due and abs(limited.setpoint_w - value) < WRITE_DELTA_W:
                return BatteryOutcome(
                    requested_w=requested, setpoint_w=value, reason=limited.reason, written=False
                )
        try:
            written = await battery.async_write_setpoint(
                requested, now=now, refresh=False, **options
            )
        except Exception as err:
            _LOGGER.warning("%s: setpoint not written: %s", battery.subentry.title, err)
            return BatteryOutcome(
                requested_w=requested,
                setpoint_w=None,
                reason=limited.reason,
                written=False,
                error=str(err),
            )
        self._last_write[key] = (written.setpoint_w, now)
        return BatteryOutcome(
            requested_w=requested,
            setpoint_w=written.setpoint_w,
            reason=written.reason,
            written=True,
        )

    async def _async_release(
        self, batteries: dict[str, EmsDeviceCoordinator], now: datetime
    ) -> bool:
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
            self._last_write.pop(key, None)
        return done

    async def async_shutdown(self) -> None:
        """Unload or stop: tick no more, and no command of ours stays in force."""
        self._cancel_timer()
        async with self._lock:
            self._stopped = True
            await self._async_release(self.batteries, dt_util.utcnow())

    def _all_up(self) -> bool:
        return all(d.last_update_success for d in self.entry.runtime_data.devices.values())

    def _watchdog(
        self,
        mode: Mode,
        grid: float | None,
        alive: dict[str, EmsDeviceCoordinator],
        batteries: dict[str, EmsDeviceCoordinator],
        fallback: str | None,
    ) -> SiteState:
        """``error`` when nothing can be controlled safely, ``degraded`` when something is off."""
        if batteries and not alive:
            return SiteState.ERROR
        if mode in _NEEDS_METER and grid is None:
            return SiteState.ERROR
        if fallback or not self._all_up():
            return SiteState.DEGRADED
        return SiteState.RUNNING

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
        }

    def diagnostics(self) -> dict[str, Any]:
        """State for a bug report."""
        last = self.last
        return {
            "mode": self.mode,
            "state": self.state,
            "settings": self.settings.__dict__,
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
