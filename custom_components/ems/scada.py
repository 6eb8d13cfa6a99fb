"""The site's Modbus server for a SCADA or an external EMS (optional, per site, off by default).

The registers are the core's served map (``core/sunspec_site.yaml``, a SunSpec device: common
1, DER 701/702/704/705/711/715, storage 124 and the ems model 64900) in the core's SunSpec image;
the server is the core's :class:`RegisterServer` (pymodbus) in Home Assistant's event loop. Every
second, and after every controller tick, the image is refreshed from the site.

A client may write only the whitelist (the mode, the active power setpoint and its enable, the
heartbeat), and only when the installer made the server read-write. A write is checked whole
before anything changes (illegal address / illegal value replies); a setpoint becomes the
controller's external setpoint, so the limiter applies to it as to any other command. The
watchdog: once a client has taken control, it must write (its heartbeat or a setpoint) at least
every ``heartbeat_s`` seconds; when it stops, the site falls back to the mode the installer
chose, says so (a register, the SCADA link sensor, a repair) and stays there until a client
writes a mode again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
import logging
import math
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util
from pymodbus.datastore import ModbusServerContext
from pymodbus.datastore.context import ModbusBaseSlaveContext
from pymodbus.device import ModbusDeviceIdentification

from .const import (
    CONF_SERVER,
    CONF_SERVER_ALLOWED,
    CONF_SERVER_ENABLED,
    CONF_SERVER_FALLBACK_MODE,
    CONF_SERVER_HEARTBEAT_S,
    CONF_SERVER_PORT,
    CONF_SERVER_UNIT_ID,
    CONF_SERVER_WRITABLE,
    DEFAULT_SERVER_FALLBACK_MODE,
    DEFAULT_SERVER_HEARTBEAT_S,
    DEFAULT_SERVER_PORT,
    DEFAULT_SERVER_UNIT_ID,
)
from .controller import Problem
from .core.decide import Mode
from .core.modbus_server import (
    DEVICE_FAILURE,
    ILLEGAL_ADDRESS,
    ExceptionReply,
    RegisterServer,
    parse_allowed,
)
from .core.site_server import (
    SETPOINT_IN_WATTS,
    SiteImage,
    Write,
    WriteRefused,
    load_site_map,
    power_sf,
)
from .issues import set_issue

if TYPE_CHECKING:
    from .controller import SiteController
    from .grid import GridSupportRunner
    from .site import SiteAggregator

_LOGGER = logging.getLogger(__name__)

SITE_MAP = load_site_map()  # read at import (the integration is imported in an executor)
BIND_HOST = "0.0.0.0"  # SCADAs are remote; the allowed-clients option narrows who may connect
REFRESH_S = 1.0
HOLDING_FUNCTIONS = frozenset({3, 6, 16, 23})  # read, write one, write many, read/write
WRITE_FUNCTIONS = frozenset({5, 6, 15, 16, 22, 23})
# 64900.Alrm bits
_ALARM_BITS = {
    Problem.ALARM: 0,
    Problem.STALE: 1,
    Problem.WRITE_FAILED: 2,
    Problem.NOT_FOLLOWING: 3,
}
ALARM_NO_METER = 4
ALARM_WATCHDOG = 5
DER_GRID_DISCONNECT, DER_OVER_TEMP = 4, 7  # 701.Alrm bits (SunSpec)
INV_RUNNING, INV_THROTTLED, INV_STANDBY = 3, 4, 7  # 701.InvSt (SunSpec)
VERSION = "0.1.0"
FALLBACK_MODES = (Mode.SELF_CONSUMPTION, Mode.PASSIVE, Mode.AUTO, Mode.BACKUP)
NOMINAL_HZ = 50.0
_SWITCHING = frozenset({"mode", "setpoint_enable"})  # actions that change the mode


class Link(StrEnum):
    """The SCADA link as the site sees it (the SCADA link sensor's states)."""

    LISTENING = "listening"  # serving; no client has taken control
    REMOTE = "remote"  # a client controls the site and its heartbeat is on time
    LOST = "lost"  # the heartbeat stopped: the site fell back
    ERROR = "error"  # the server could not start (port in use, …)


def server_options(options: Mapping[str, Any]) -> dict[str, Any] | None:
    """The server's options, None when it is off."""
    section = options.get(CONF_SERVER) or {}
    if not section.get(CONF_SERVER_ENABLED):
        return None
    return {
        CONF_SERVER_PORT: int(section.get(CONF_SERVER_PORT, DEFAULT_SERVER_PORT)),
        CONF_SERVER_UNIT_ID: int(section.get(CONF_SERVER_UNIT_ID, DEFAULT_SERVER_UNIT_ID)),
        CONF_SERVER_WRITABLE: bool(section.get(CONF_SERVER_WRITABLE, False)),
        CONF_SERVER_ALLOWED: str(section.get(CONF_SERVER_ALLOWED) or ""),
        CONF_SERVER_HEARTBEAT_S: float(
            section.get(CONF_SERVER_HEARTBEAT_S, DEFAULT_SERVER_HEARTBEAT_S)
        ),
        CONF_SERVER_FALLBACK_MODE: Mode(
            section.get(CONF_SERVER_FALLBACK_MODE, DEFAULT_SERVER_FALLBACK_MODE)
        ),
    }


class _SiteContext(ModbusBaseSlaveContext):
    """The server's one unit: holding registers from the site image; writes go to the site."""

    def __init__(self, scada: ScadaServer) -> None:
        self.scada = scada

    def reset(self) -> None:
        """Nothing to reset: the site owns the values."""

    def validate(self, fc_as_hex: int, address: int, count: int = 1) -> bool:
        """Holding registers inside the image (writes are checked whole in setValues)."""
        valid = fc_as_hex in HOLDING_FUNCTIONS and self.scada.image.image.contains(address, count)
        if not valid and fc_as_hex in WRITE_FUNCTIONS:
            self.scada.refused += 1
        return valid

    def getValues(self, fc_as_hex: int, address: int, count: int = 1) -> list[int]:
        """Registers as served."""
        return self.scada.image.read(address, count)

    def setValues(self, fc_as_hex: int, address: int, values: Sequence[int | bool]) -> None:
        """Never called: writes are asynchronous (they may change the mode)."""
        raise ExceptionReply(ILLEGAL_ADDRESS, "synchronous writes are not served")

    async def async_setValues(
        self, fc_as_hex: int, address: int, values: Sequence[int | bool]
    ) -> None:
        """Check the whole write, run its actions, then store it."""
        try:
            await self.scada.async_write(address, [int(v) for v in values])
        except WriteRefused as err:
            _LOGGER.info("Modbus server: write at %s refused: %s", address, err)
            raise ExceptionReply(err.code, str(err)) from err


class ScadaServer:
    """One site's Modbus server, its watchdog and what it shows."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        options: dict[str, Any],
        *,
        site: SiteAggregator,
        controller: SiteController,
        grid: GridSupportRunner | None = None,
    ) -> None:
        """Prepare the image; ``async_start`` opens the port."""
        self.hass = hass
        self.entry = entry
        self.site = site
        self.controller = controller
        self.grid = grid
        self.options = options
        self.unit_id: int = options[CONF_SERVER_UNIT_ID]
        self.port: int = options[CONF_SERVER_PORT]
        self.writable: bool = options[CONF_SERVER_WRITABLE]
        self.heartbeat_s: float = options[CONF_SERVER_HEARTBEAT_S]
        self.fallback_mode: Mode = options[CONF_SERVER_FALLBACK_MODE]
        self.allowed = parse_allowed(options[CONF_SERVER_ALLOWED])
        self.image = SiteImage(SITE_MAP, writable=self.writable, power_sf=0)
        self.server: RegisterServer | None = None
        self.link = Link.LISTENING
        self.error: str | None = None
        self.last_write: datetime | None = None  # last accepted write (a sign of life)
        self.controlled_mode: Mode | None = None  # the mode a client set, while in control
        self.mode_before_setpoint: Mode | None = None
        self.client_heartbeat = 0
        self.reactive_enabled = False  # VarSetEna
        self.reactive_var = 0.0  # VarSet (+ injection)
        self.server_heartbeat = 0
        self.writes = 0
        self.refused = 0
        self._listeners: list[Callable[[], None]] = []
        self._unsubs: list[Callable[[], None]] = []

    # --- lifecycle ----------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Open the port (a failure is shown, never raised) and start refreshing."""
        self.image = SiteImage(SITE_MAP, writable=self.writable, power_sf=self._power_sf())
        self.refresh()
        identity = ModbusDeviceIdentification(
            info_name={"VendorName": "ems", "ProductName": "ems site", "ModelName": "SunSpec"}
        )
        context = ModbusServerContext(slaves={self.unit_id: _SiteContext(self)}, single=False)
        server = RegisterServer(
            context, BIND_HOST, self.port, allowed=self.allowed, identity=identity
        )
        try:
            await server.start_listening()
        except OSError as err:
            self.error = str(err)
            self.link = Link.ERROR
            _LOGGER.error("%s: Modbus server cannot start: %s", self.entry.title, err)
        else:
            self.server = server
            self.port = server.port
            _LOGGER.info(
                "%s: Modbus server (SunSpec) on port %s, unit %s, %s",
                self.entry.title,
                self.port,
                self.unit_id,
                "read-write" if self.writable else "read-only",
            )
        self._set_issue()
        self._unsubs.append(
            async_track_time_interval(self.hass, self._async_every_second, timedelta(seconds=1))
        )
        self._unsubs.append(self.controller.add_listener(self.refresh))
        if self.server is not None and self.writable and self.controller.mode is Mode.EXTERNAL:
            # Restarted under a client's control: its watchdog runs from now, so a client that
            # does not come back leaves the site in the installer's fallback, not at 0 W.
            self.last_write = dt_util.utcnow()
            self.controlled_mode = Mode.EXTERNAL
            self.link = Link.REMOTE
        self._notify()  # the link sensor was added before the port opened

    async def async_stop(self) -> None:
        """Close the port and every connection."""
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        if self.server is not None:
            await self.server.stop()
            self.server = None
        set_issue(
            self.hass, self._issue_id("scada_watchdog"), False, translation_key="", placeholders={}
        )
        set_issue(
            self.hass, self._issue_id("scada_server"), False, translation_key="", placeholders={}
        )

    def add_listener(self, update: Callable[[], None]) -> Callable[[], None]:
        """Call ``update`` when the link changes; return the undo callable."""
        self._listeners.append(update)
        return lambda: self._listeners.remove(update)

    def _power_sf(self) -> int:
        """A scale factor that fits the site's largest power in 16 bits."""
        ratings = [0.0]
        for device in self.site.devices.values():
            limits = device.battery_limits() if device.kind == "battery" else None
            if limits is not None:
                ratings += [limits.charge_max_w, limits.discharge_max_w]
        controller = self.controller
        for limit in (controller.site_limits.import_limit_w, controller.site_limits.export_limit_w):
            ratings.append(limit or 0.0)
        return power_sf(max(ratings) * 1.5)

    async def _async_every_second(self, now: datetime) -> None:
        self.server_heartbeat = (self.server_heartbeat + 1) & 0xFFFFFFFF
        await self._async_watchdog(now)
        self.refresh()

    # --- the watchdog -------------------------------------------------------------------------

    def heartbeat_left_s(self, now: datetime | None = None) -> float | None:
        """Seconds before the watchdog lapses (None: not armed)."""
        if self.link is not Link.REMOTE or self.heartbeat_s <= 0 or self.last_write is None:
            return None
        now = now or dt_util.utcnow()
        return max(0.0, self.heartbeat_s - (now - self.last_write).total_seconds())

    async def _async_watchdog(self, now: datetime) -> None:
        """Fall back when a client in control stopped writing."""
        left = self.heartbeat_left_s(now)
        if left is None or left > 0:
            return
        controller = self.controller
        _LOGGER.warning(
            "%s: SCADA heartbeat lost (no write for %.0f s): site falls back to %s",
            self.entry.title,
            self.heartbeat_s,
            self.fallback_mode,
        )
        self.link = Link.LOST
        self._set_issue()
        self._notify()
        controlled = self.controlled_mode
        self.controlled_mode = None
        self.mode_before_setpoint = None
        self.reactive_enabled = False  # the client's setpoints lapse with it (704.*Rvrt)
        self.reactive_var = 0.0
        if self.grid is not None:
            self.grid.external_q_var = None
        controller.set_setting("external_setpoint_w", 0.0)
        if controlled is not None and controller.mode is controlled:
            await controller.async_set_mode(self.fallback_mode)

    # --- client writes ------------------------------------------------------------------------

    async def async_write(self, address: int, words: list[int]) -> None:
        """Run an accepted client write; WriteRefused (nothing changed) when it is not."""
        try:
            if self.controller.stopped:
                raise WriteRefused(DEVICE_FAILURE, "the site is stopping")
            writes = self.image.check_write(address, words, self.values())
        except WriteRefused:
            self.refused += 1
            raise
        # Values first, then what switches them on (WSetEna with WSet in one write follows the
        # new WSet, not the old one), and one tick at the end for a setpoint.
        for write in sorted(writes, key=lambda w: w.action in _SWITCHING):
            await self._async_apply(write)
        self.image.commit(address, words)
        self.writes += 1
        self.last_write = dt_util.utcnow()
        self.controller.external_updated = self.last_write  # the client is alive
        if self.grid is not None:
            self.grid.external_q_at = self.last_write
        if any(w.action == "active_power" for w in writes) and not any(
            w.action in _SWITCHING for w in writes
        ):
            await self.controller.async_tick()  # a new setpoint acts now, not at the next tick
        if self.link is not Link.REMOTE:
            self.link = Link.REMOTE
            self._set_issue()
            self._notify()
        self.refresh()

    async def _async_apply(self, write: Write) -> None:
        controller = self.controller
        _LOGGER.debug("Modbus server: %s = %s (%s)", write.action, write.value, write.point)
        if write.action == "mode":
            self.controlled_mode = Mode(write.value)
            await controller.async_set_mode(write.value)
        elif write.action == "setpoint_enable":
            if write.value and controller.mode is not Mode.EXTERNAL:
                self.mode_before_setpoint = controller.mode
                self.controlled_mode = Mode.EXTERNAL
                await controller.async_set_mode(Mode.EXTERNAL)
            elif not write.value and controller.mode is Mode.EXTERNAL:
                back = self.mode_before_setpoint or self.fallback_mode
                self.controlled_mode = back
                self.mode_before_setpoint = None
                await controller.async_set_mode(back)
        elif write.action == "active_power":
            controller.set_setting("external_setpoint_w", write.value)
        elif write.action in ("reactive_enable", "reactive_power"):
            self._reactive(write)
        elif write.action == "heartbeat":
            self.client_heartbeat = int(write.value)

    def _reactive(self, write: Write) -> None:
        """VarSetEna / VarSet: the client's reactive power, given by grid support's loop."""
        if self.grid is None:
            raise WriteRefused(ILLEGAL_ADDRESS, "no grid support on this site")
        if write.action == "reactive_enable":
            self.reactive_enabled = bool(write.value)
        else:
            self.reactive_var = float(write.value)
        self.grid.external_q_var = self.reactive_var if self.reactive_enabled else None

    # --- what it serves -----------------------------------------------------------------------

    @callback
    def refresh(self) -> None:
        """Publish the site's values in the image."""
        self.image.update(self.values())

    def values(self) -> dict[str, Any]:
        """The site values the served map shows."""
        controller = self.controller
        site = self.site.values()
        now = dt_util.utcnow()
        last = controller.last
        left = self.heartbeat_left_s(now)
        meter = next((m.data for m in controller.meters if m.live and m.data), {})
        return {
            **self._battery_values(),
            "version": VERSION,
            "serial": self.entry.entry_id[:16],
            "unit_id": self.unit_id,
            "battery_w": site.battery_power,
            "grid_voltage_v": meter.get("voltage_l1", meter.get("voltage")),
            "grid_frequency_hz": meter.get("frequency"),
            "setpoint_enabled": int(controller.mode is Mode.EXTERNAL),
            "setpoint_mode": SETPOINT_IN_WATTS,
            "external_setpoint_w": controller.settings.external_setpoint_w,
            "heartbeat_timeout_s": int(self.heartbeat_s),
            "heartbeat_left_s": int(left) if left is not None else 0,
            "remote_control": 0 if self.writable else 1,
            "server_heartbeat": self.server_heartbeat,
            "client_heartbeat": self.client_heartbeat,
            "soc_min_pct": controller.settings.soc_window()[0],
            "soc_pct": site.soc,
            "mode": controller.mode.value,
            "effective_mode": (last.effective_mode if last else controller.mode).value,
            "controller_state": controller.state.value,
            "fallback": last.fallback.value if last and last.fallback else "none",
            "plan_status": controller.plan_status(now).value,
            "grid_w": site.grid_power,
            "pv_w": site.pv_power,
            "load_w": site.house_load,
            "heartbeat_state": self._heartbeat_state(),
            "fallback_mode": self.fallback_mode.value,
            **self._grid_values(),
        }

    def _grid_values(self) -> dict[str, Any]:
        """What grid support does (64900.QvSt, PfSt, QvVar, PfW, GsRsvPct)."""
        if self.grid is None:
            return {}
        result = self.grid.result
        return {
            "voltage_support_state": result.q_state.value,
            "frequency_response_state": result.p_state.value,
            "reactive_var": result.q_var,
            "frequency_response_w": result.p_offset_w,
            "grid_reserve_pct": self.controller.grid_reserve_pct,
            "reactive_enabled": int(self.reactive_enabled),
            "external_reactive_var": self.reactive_var,
            **_curves(self.grid),
        }

    def _battery_values(self) -> dict[str, Any]:
        """The battery side: ratings of the batteries that answer, their state and alarms."""
        controller = self.controller
        online = [b for b in controller.batteries.values() if b.last_update_success and b.data]
        charge = discharge = 0.0
        for battery in online:
            if (limits := battery.battery_limits()) is not None:
                charge += limits.charge_max_w if limits.can_charge else 0.0
                discharge += limits.discharge_max_w if limits.can_discharge else 0.0
        problems = {p for key in controller.watches for p in controller.problems(key)}
        no_meter = controller.grid_w() is None
        alarms = sum(1 << bit for p, bit in _ALARM_BITS.items() if p in problems)
        alarms |= (1 << ALARM_NO_METER) if no_meter else 0
        alarms |= (1 << ALARM_WATCHDOG) if self.link is Link.LOST else 0
        der_alarms = (1 << DER_GRID_DISCONNECT) if no_meter else 0
        der_alarms |= (1 << DER_OVER_TEMP) if Problem.ALARM in problems else 0
        battery_w = self.site.values().battery_power
        state = INV_STANDBY if not online else INV_THROTTLED if problems else INV_RUNNING
        reactive = [b.data.get("reactive_power") for b in online]
        var = sum(reactive) if reactive and None not in reactive else None
        s_max = sum(
            float(b.data.get("max_apparent_power") or 0.0)
            for b in online
            if b.has_point("reactive_setpoint")  # only those Q can be given to
        )
        return {
            "battery_var": var,
            "battery_va": math.hypot(battery_w, var)
            if battery_w is not None and var is not None
            else None,
            "s_max_va": s_max or None,
            "operating": int(controller.mode is not Mode.PASSIVE and bool(online)),
            "inverter_state": state,
            "connected": int(bool(online)),
            "der_alarms": der_alarms,
            "alarms": alarms,
            "max_charge_w": charge,
            "max_discharge_w": discharge,
            "charge_status": _charge_status(battery_w, bool(online)),
        }

    def _heartbeat_state(self) -> str:
        if self.heartbeat_s <= 0 or not self.writable:
            return "off"
        return "lost" if self.link is Link.LOST else "ok"

    # --- what it says -------------------------------------------------------------------------

    def _issue_id(self, kind: str) -> str:
        return f"{kind}_{self.entry.entry_id}"

    def _set_issue(self) -> None:
        set_issue(
            self.hass,
            self._issue_id("scada_watchdog"),
            self.link is Link.LOST,
            translation_key="scada_watchdog",
            placeholders={
                "site": self.entry.title,
                "timeout": f"{self.heartbeat_s:g}",
                "mode": self.fallback_mode.value,
            },
        )
        set_issue(
            self.hass,
            self._issue_id("scada_server"),
            self.link is Link.ERROR,
            translation_key="scada_server",
            placeholders={
                "site": self.entry.title,
                "port": str(self.port),
                "error": self.error or "",
            },
            severity=ir.IssueSeverity.ERROR,
        )

    def _notify(self) -> None:
        for update in list(self._listeners):
            update()

    def diagnostics(self) -> dict[str, Any]:
        """State for a bug report."""
        return {
            "port": self.port,
            "unit_id": self.unit_id,
            "writable": self.writable,
            "allowed": [str(n) for n in self.allowed],
            "heartbeat_s": self.heartbeat_s,
            "fallback_mode": self.fallback_mode,
            "link": self.link,
            "error": self.error,
            "clients": len(self.server.active_connections) if self.server else 0,
            "writes": self.writes,
            "refused": self.refused,
            "last_write": self.last_write.isoformat() if self.last_write else None,
        }


def _curves(grid: GridSupportRunner) -> dict[str, Any]:
    """The installer's curves as SunSpec 705 (volt-var) and 711 (frequency droop) show them."""
    volt, freq = grid.settings.volt, grid.settings.freq
    points = volt.points[:4]
    values: dict[str, Any] = {
        "vv_enabled": int(grid.q_armed),
        "vv_points": len(points),
        "vv_priority": int(volt.q_priority),
        "vv_response_s": round(grid.settings.interval_s),
        "fd_enabled": int(grid.p_armed),
        "fd_db_over_hz": freq.f3 - NOMINAL_HZ,
        "fd_db_under_hz": NOMINAL_HZ - freq.f2,
        "fd_k_over": (freq.f4 - freq.f3) / NOMINAL_HZ,
        "fd_k_under": (freq.f2 - freq.f1) / NOMINAL_HZ,
    }
    for i, (v_pu, q_share) in enumerate(points, start=1):
        values[f"vv_v{i}"] = 100.0 * v_pu
        values[f"vv_q{i}"] = 100.0 * q_share
    return values


def _charge_status(battery_w: float | None, online: bool) -> int | None:
    """SunSpec 124 ChaSt: 1 off, 3 discharging, 4 charging, 6 holding."""
    if not online:
        return 1
    if battery_w is None:
        return None
    if battery_w > 10:
        return 4
    if battery_w < -10:
        return 3
    return 6
