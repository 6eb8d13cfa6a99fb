"""Grid support on the site: Q(V) and P(f) armed by switches, run by a fast loop.

The functions are the core's (``core/grid_support.py``); this module does their I/O. Every
``interval_s`` (1 s by default, down to 0.2 s; the site loop runs every 5 s) it reads the grid
meter's frequency and voltage — only those registers, one Modbus read — and steps both
functions. A frequency response that changes by more than ``P_DEADBAND_W`` hands its power to
the site controller and runs a tick at once: ``decide`` stacks it on the mode, the limiter
holds it, the write is verified like any other. Q goes to the batteries that have a reactive
setpoint, split by their apparent power, range-checked and read back. Anything it cannot
confirm (no frequency, no voltage, a battery held at 0 W) puts the function in ``error`` with
the reason, and it asks nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import logging
import math
import time
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .controller import EXTERNAL_TIMEOUT_S
from .core.decide import Mode
from .core.grid_support import (
    FfrMemory,
    FreqWatt,
    GridMeasure,
    SupportError,
    SupportResult,
    SupportState,
    VoltVar,
    reserve_of,
    support_step,
)
from .core.transport import DeviceError, TransportError

if TYPE_CHECKING:
    from .controller import SiteController
    from .coordinator import EmsDeviceCoordinator
    from .site import SiteAggregator

_LOGGER = logging.getLogger(__name__)

CONF_GRID = "grid_support"  # site options section
DEFAULT_INTERVAL_S = 1.0
MIN_INTERVAL_S = 0.2
P_DEADBAND_W = 50.0  # a response that moves less does not trigger a tick
Q_DEADBAND_VAR = 50.0
DEFAULT_VV_POINTS = "0.92:0.44, 0.98:0, 1.02:0, 1.08:-0.44"


def parse_points(text: str) -> tuple[tuple[float, float], ...]:
    """Volt-var points "V:Q, …" (pu of the nominal voltage : share of S); ValueError names one."""
    points = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        v, sep, q = item.partition(":")
        try:
            if not sep:
                raise ValueError
            points.append((float(v), float(q)))
        except ValueError as err:
            raise ValueError(f"{item!r} is not V:Q (for example 0.92:0.44)") from err
    return tuple(points)


@dataclass(frozen=True, kw_only=True)
class GridSettings:
    """The installer's grid-support settings (site options), checked by the core's classes."""

    freq: FreqWatt = field(default_factory=FreqWatt)
    volt: VoltVar = field(default_factory=VoltVar)
    interval_s: float = DEFAULT_INTERVAL_S

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> GridSettings:
        """Settings from the options section; ValueError names what is wrong."""
        section = options.get(CONF_GRID) or {}
        trigger = float(section.get("ffr_trigger_hz") or 0.0)
        freq = FreqWatt(
            f1=float(section.get("f1_hz", 49.5)),
            f2=float(section.get("f2_hz", 49.9)),
            f3=float(section.get("f3_hz", 50.1)),
            f4=float(section.get("f4_hz", 50.5)),
            reserve_pct=float(section.get("reserve_pct", 10.0)),
            ffr_trigger_hz=trigger or None,
            ffr_hold_s=float(section.get("ffr_hold_s", 5.0)),
        )
        volt = VoltVar(
            points=parse_points(str(section.get("volt_var_points") or DEFAULT_VV_POINTS)),
            v_nominal=float(section.get("v_nominal", 230.0)),
            q_priority=bool(section.get("q_priority", False)),
        )
        interval = float(section.get("interval_s", DEFAULT_INTERVAL_S))
        if not MIN_INTERVAL_S <= interval <= 5.0:
            raise ValueError(f"loop interval: between {MIN_INTERVAL_S} and 5 s, got {interval}")
        return cls(freq=freq, volt=volt, interval_s=interval)


class GridSupportRunner:
    """Steps Q(V) and P(f) for one site on their own fast loop."""

    def __init__(
        self,
        hass: HomeAssistant,
        controller: SiteController,
        site: SiteAggregator,
        settings: GridSettings,
    ) -> None:
        """Nothing runs until ``async_start``."""
        self.hass = hass
        self.controller = controller
        self.site = site
        self.settings = settings
        self.result = SupportResult(p_state=SupportState.OFF, q_state=SupportState.OFF)
        self.voltage_v: float | None = None
        self.frequency_hz: float | None = None
        self.loop_ms: float | None = None  # the last step's duration (read, decide, write)
        self.error: str | None = None
        self._ffr = FfrMemory()
        self.external_q_var: float | None = None  # a SCADA's reactive setpoint (scada.py)
        self.external_q_at: datetime | None = None  # when the SCADA last wrote
        self._listeners: list[Callable[[], None]] = []
        self._shown: tuple[Any, ...] | None = None  # what the sensors last showed
        self._unsub: Callable[[], None] | None = None
        self._running = False

    @property
    def p_armed(self) -> bool:
        """Whether the frequency response is armed."""
        return self.controller.settings.frequency_response

    @property
    def q_armed(self) -> bool:
        """Whether voltage support is armed."""
        return self.controller.settings.voltage_support

    def async_start(self) -> Callable[[], None]:
        """Start the fast loop; return the callable that stops it."""
        self._unsub = async_track_time_interval(
            self.hass, self._async_scheduled, timedelta(seconds=self.settings.interval_s)
        )
        return self.async_stop

    def async_stop(self) -> None:
        """Stop the loop (the controller's shutdown releases the batteries)."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        self.controller.grid_response_w = None

    def add_listener(self, update: Callable[[], None]) -> Callable[[], None]:
        """Call ``update`` after every step; return the undo callable."""
        self._listeners.append(update)
        return lambda: self._listeners.remove(update)

    async def _async_scheduled(self, now: datetime) -> None:
        if self._running:  # a slow meter: skip a beat rather than queue steps
            return
        self._running = True
        try:
            await self.async_step(now)
        except Exception as err:  # the loop must survive anything a device does
            _LOGGER.exception("Grid support step failed")
            self.error = f"step failed: {err}"
            self.controller.grid_response_w = None  # nothing unconfirmed is asked
            self.result = SupportResult(
                p_state=SupportState.ERROR if self.p_armed else SupportState.OFF,
                q_state=SupportState.ERROR if self.q_armed else SupportState.OFF,
            )
            self._notify()
        finally:
            self._running = False

    # --- one step -----------------------------------------------------------------------------

    async def async_step(self, now: datetime) -> SupportResult:
        """Read the grid, step both functions, hand P to the controller and write Q."""
        started = time.perf_counter()
        controller = self.controller
        if controller.stopped:  # Home Assistant stops: the release is final
            return self.result
        passive = controller.mode is Mode.PASSIVE  # the batteries are handed back: nothing
        freq = self.settings.freq if self.p_armed and not passive else None
        volt = self.settings.volt if self.q_armed and not passive else None
        controller.grid_reserve_pct = reserve_of(freq)
        external_q = None if passive else self._external_q()
        if freq is None and volt is None and external_q is None:
            await self._async_idle()
            return self.result
        await self._async_read_grid()
        p_result = support_step(
            self._measure(0.0), freq=freq, volt=None, now_s=now.timestamp(), memory=self._ffr
        )
        self._ffr = p_result.ffr
        if freq is not None and p_result.p_error is None and self._blind():
            p_result = replace(
                p_result, p_state=SupportState.ERROR, p_error=SupportError.NO_GRID_POWER
            )
        response = p_result.p_offset_w if p_result.p_state is SupportState.ACTIVE else None
        previous = controller.grid_response_w
        controller.grid_response_w = response
        if _moved(previous, response, P_DEADBAND_W):
            await controller.async_tick()
        q_result, q_target = await self._async_reactive(volt, external_q, now)
        self.result = SupportResult(
            p_state=p_result.p_state,
            q_state=q_result.q_state,
            p_offset_w=p_result.p_offset_w if response is not None else 0.0,
            p_w=p_result.p_w,
            q_var=q_target,
            p_error=p_result.p_error,
            q_error=q_result.q_error,
            ffr=self._ffr,
        )
        self.loop_ms = (time.perf_counter() - started) * 1000.0
        self._notify()
        return self.result

    async def _async_reactive(
        self, volt: VoltVar | None, external_q: float | None, now: datetime
    ) -> tuple[SupportResult, float]:
        """Q for this step (Q(V), else a SCADA's setpoint), with P cut first under Q priority."""
        controller = self.controller
        last = controller.last
        p_now = last.setpoint_w if last and last.setpoint_w else 0.0
        q_result = support_step(self._measure(p_now), freq=None, volt=volt, now_s=now.timestamp())
        if volt is not None:
            q_target = q_result.q_var if q_result.q_state is not SupportState.ERROR else 0.0
        else:
            q_target = self._external_target(external_q, p_now)
        bound = None
        if volt is not None and volt.q_priority and q_target:
            # Q first: P is held to what S leaves, and cut before Q is written.
            s_max = self._measure(p_now).s_max_va
            bound = math.sqrt(max(0.0, s_max * s_max - q_target * q_target))
        previous, controller.grid_p_limit_w = controller.grid_p_limit_w, bound
        if bound is not None and (abs(p_now) > bound + 1.0 or previous != bound):
            await controller.async_tick()
        async with controller.lock:  # never interleaved with a release
            if not controller.stopped:
                await self._async_write_q(q_target)
        return q_result, q_target

    def _external_q(self) -> float | None:
        """A SCADA's reactive setpoint while fresh (it lapses like the external setpoint)."""
        if self.external_q_var is None or self.external_q_at is None:
            return None
        if (dt_util.utcnow() - self.external_q_at).total_seconds() > EXTERNAL_TIMEOUT_S:
            return None
        return self.external_q_var

    def _external_target(self, external_q: float | None, p_now: float) -> float:
        """A SCADA's Q within what S leaves after P (0 without one, or without a battery)."""
        if external_q is None:
            return 0.0
        measure = self._measure(p_now)
        if not measure.trusted:
            return 0.0
        room = math.sqrt(max(0.0, measure.s_max_va**2 - p_now**2))
        return max(-room, min(room, external_q))

    def _blind(self) -> bool:
        """No grid power while the site has grid limits: a response could not respect them."""
        limits = self.controller.site_limits
        limited = limits.import_limit_w is not None or limits.export_limit_w is not None
        return limited and self.controller.grid_w() is None

    async def _async_idle(self) -> None:
        """Nothing armed: no response, no reactive power of ours."""
        controller = self.controller
        had = controller.grid_response_w is not None or controller.grid_p_limit_w is not None
        controller.grid_response_w = None
        controller.grid_p_limit_w = None
        self.result = SupportResult(p_state=SupportState.OFF, q_state=SupportState.OFF)
        async with controller.lock:
            if not controller.stopped:
                await self._async_write_q(0.0)
        if had:
            await controller.async_tick()
        self._notify()

    async def _async_read_grid(self) -> None:
        """The meter's frequency and voltage: one read of only those (the fast path)."""
        self.voltage_v = self.frequency_hz = None
        meter = next((m for m in self.controller.meters if m.live), None)
        if meter is None:
            self.error = "no grid meter answers"
            return
        try:
            if meter.modbus is not None:
                profile = meter.modbus.profile
                wanted = {k for k in ("frequency", "voltage_l1", "voltage") if k in profile}
                data = await meter.modbus.read(wanted)
            else:
                data = dict(meter.data or {})
        except (TransportError, DeviceError) as err:
            self.error = f"grid meter: {err}"
            return
        self.error = None
        self.frequency_hz = data.get("frequency")
        self.voltage_v = data.get("voltage_l1", data.get("voltage"))

    def _batteries(self) -> list[EmsDeviceCoordinator]:
        """The batteries grid support may use: commandable, answering, trusted."""
        return [
            b
            for key, b in self.controller.batteries.items()
            if b.control_enabled
            and b.last_update_success
            and b.data
            and self.controller.watches.get(key) is not None
            and self.controller.watches[key].distrust() is None
        ]

    def _measure(self, battery_p_w: float) -> GridMeasure:
        batteries = self._batteries()
        charge = discharge = s_max = 0.0
        for battery in batteries:
            if (limits := battery.battery_limits()) is not None:
                charge += limits.charge_max_w if limits.can_charge else 0.0
                discharge += limits.discharge_max_w if limits.can_discharge else 0.0
            s_max += float(battery.data.get("max_apparent_power") or 0.0)
        low, high = self.controller.settings.soc_window()
        return GridMeasure(
            voltage_v=self.voltage_v,
            frequency_hz=self.frequency_hz,
            battery_p_w=battery_p_w,
            s_max_va=s_max,
            charge_max_w=charge,
            discharge_max_w=discharge,
            soc_pct=self.site.values().soc,
            soc_min_pct=low,
            soc_max_pct=high,
            trusted=bool(batteries),
        )

    async def _async_write_q(self, q_var: float) -> None:
        """Split Q between the batteries with a reactive setpoint, by apparent power.

        A battery's share is written when it moves by ``Q_DEADBAND_VAR`` or goes to 0; a
        battery that left the pool (untrusted, control off) is set back to 0 var. One battery
        that fails does not stop the others.
        """
        targets = [b for b in self._batteries() if b.has_point("reactive_setpoint")]
        total = sum(float(b.data.get("max_apparent_power") or 0.0) for b in targets)
        errors = []
        for battery in self.controller.batteries.values():
            try:
                if battery not in targets:
                    if battery.reactive_var and battery.last_update_success:
                        await battery.async_clear_reactive()
                    continue
                s_max = float(battery.data.get("max_apparent_power") or 0.0)
                share = q_var * s_max / total if total else 0.0
                moved = abs(share - battery.reactive_var) >= Q_DEADBAND_VAR
                if moved or (share == 0.0 and battery.reactive_var):
                    await battery.async_write_reactive(share)
            except HomeAssistantError as err:
                errors.append(str(err))
        if errors:
            self.error = "; ".join(errors)
            _LOGGER.warning("Grid support: reactive power not written: %s", self.error)

    def _notify(self) -> None:
        """Tell the sensors, only when what they show moves (not every step: the recorder)."""
        result = self.result
        summary = (
            result.p_state,
            result.q_state,
            result.p_error,
            result.q_error,
            self.error,
            round(result.p_offset_w / 10.0),
            round(result.q_var / 10.0),
            None if self.frequency_hz is None else round(self.frequency_hz, 2),
            None if self.voltage_v is None else round(self.voltage_v),
        )
        if summary == self._shown:
            return
        self._shown = summary
        for update in list(self._listeners):
            update()

    def attributes(self, which: str) -> dict[str, Any]:
        """What a state sensor shows beside its state."""
        result = self.result
        if which == "p":
            return {
                "frequency_hz": self.frequency_hz,
                "response_w": round(result.p_offset_w, 1),
                "error": result.p_error.value if result.p_error else self.error,
                "reserve_pct": self.settings.freq.reserve_pct,
                "ffr_until": result.ffr.until_s,
                "loop_ms": round(self.loop_ms, 1) if self.loop_ms is not None else None,
            }
        return {
            "voltage_v": self.voltage_v,
            "reactive_var": round(result.q_var, 1),
            "error": result.q_error.value if result.q_error else self.error,
            "loop_ms": round(self.loop_ms, 1) if self.loop_ms is not None else None,
        }


def _moved(before: float | None, after: float | None, deadband: float) -> bool:
    """Whether a response started, stopped or moved by more than the deadband."""
    if before is None or after is None:
        return before is not after
    return abs(after - before) >= deadband
