"""One coordinator per device: polls its source, goes unavailable on loss, backs off, repairs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    BACKOFF_MAX_S,
    CONF_CAPACITY_WH,
    CONF_CONTROL,
    CONF_HOST,
    CONF_MAX_CHARGE_W,
    CONF_MAX_DISCHARGE_W,
    CONF_PORT,
    CONF_SERIAL_PORT,
    CONF_UID,
    CONF_UNIT_ID,
    DOMAIN,
    OUTAGE_REPAIR_AFTER_S,
)
from .core.capability import CapabilityError, Check
from .core.device import ModbusDevice
from .core.limiter import BatteryLimits, BatteryState
from .core.profile import ConversionError, Platform, Profile
from .core.sunspec import CONF_SERIAL
from .core.transport import DeviceError, TransportError

if TYPE_CHECKING:
    from .entity_source import EntitySource

_LOGGER = logging.getLogger(__name__)


def device_uid(subentry: ConfigSubentry) -> str:
    """Stable identity of a device: its serial, else where it is wired, else the subentry."""
    data = subentry.data
    if uid := data.get(CONF_UID):
        return str(uid)
    if serial := data.get(CONF_SERIAL):
        return str(serial)
    if CONF_HOST in data:
        return f"{data[CONF_HOST]}:{data[CONF_PORT]}:{data[CONF_UNIT_ID]}"
    if CONF_SERIAL_PORT in data:
        return f"{data[CONF_SERIAL_PORT]}:{data[CONF_UNIT_ID]}"
    return subentry.subentry_id


def _first(*values: Any) -> Any:
    """The first value that is not None (a reported 0 W is a limit, not a missing value)."""
    return next((v for v in values if v is not None), None)


class EmsDeviceCoordinator(DataUpdateCoordinator[dict[str, Any]]):
    """Polls one device, Modbus or entity-backed, into ``{key: value}``."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        subentry: ConfigSubentry,
        *,
        scan_interval: float,
        modbus: ModbusDevice | None = None,
        entities: EntitySource | None = None,
    ) -> None:
        """Bind the coordinator to its subentry and source."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {subentry.title}",
            update_interval=timedelta(seconds=scan_interval),
        )
        self.subentry = subentry
        self.kind = subentry.subentry_type
        self.uid = device_uid(subentry)
        self.modbus = modbus
        self.entities = entities
        self._scan_interval = scan_interval
        self._failures = 0
        self._down_since: datetime | None = None
        self._setpoint_w: float | None = None  # last battery setpoint written, for the ramp
        self.reactive_var = 0.0  # reactive setpoint of grid support in force (var)
        self._setpoint_at: datetime | None = None
        self._maybe_commanded = False  # a command of ours may be (partly) in force
        self.last_commands: list[str] = []  # registers of the last command (or dry run)
        self.frozen = False  # its values stopped changing (set by the site controller's watch)

    @property
    def live(self) -> bool:
        """Whether its values can be shown and used: it answered, and they are not frozen."""
        return self.last_update_success and self.data is not None and not self.frozen

    def set_frozen(self, frozen: bool) -> None:
        """Mark its values frozen (entities unavailable) or live again."""
        if frozen != self.frozen:
            self.frozen = frozen
            self.async_update_listeners()

    @property
    def profile(self) -> Profile | None:
        """The Modbus profile, or None for an entity-backed device."""
        return self.modbus.profile if self.modbus else None

    @property
    def control_enabled(self) -> bool:
        """Whether the user allowed ems to write to this device (site options) and it can be.

        A Modbus battery whose profile has no control table cannot be commanded: dry run.
        """
        if self.kind == "battery" and self.profile is not None and self.profile.control is None:
            return False
        return self.subentry.subentry_id in self.config_entry.options.get(CONF_CONTROL, [])

    @property
    def always_read(self) -> set[str]:
        """Keys the site totals need even when no entity shows them."""
        keys = {"power", "soc", "capacity"}
        if self.kind == "battery":  # the setpoint's limits and the battery's trust need these
            keys |= {"max_charge_power", "max_discharge_power"}
            points = self.profile.points if self.profile else ()
            keys |= {p.key for p in points if p.key.startswith(("alarm_", "fault"))}
            limits = self.profile.limits if self.profile else {}
            if "cell_v_min" in limits or "cell_v_max" in limits:
                keys |= {"cell_voltage_min", "cell_voltage_max"}
            if "t_charge_min_c" in limits or "t_max_c" in limits:
                keys.add("temperature")
            if self.profile is not None and self.profile.control is not None:
                keys |= self.profile.control.read_keys  # to form and confirm commands
        return keys

    def wanted_keys(self) -> set[str]:
        """Keys of enabled entities (their listener contexts) plus what the site needs."""
        contexts = {str(k) for k in self.async_contexts() if k}
        if not contexts and self.profile is not None:
            # Before entities exist (first refresh), read what they will show by default.
            contexts = {
                p.key
                for p in self.profile.points
                if p.platform is not Platform.NONE and p.enabled_default
            }
        return contexts | self.always_read

    async def _async_update_data(self) -> dict[str, Any]:
        try:
            if self.modbus is not None:
                data = await self.modbus.read(self.wanted_keys())
            else:
                assert self.entities is not None
                data = self.entities.read()
        except (TransportError, DeviceError) as err:
            self._on_failure()
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="device_unreachable",
                translation_placeholders={"name": self.subentry.title, "error": str(err)},
            ) from err
        self._on_success()
        if self.kind == "battery" and data.get("capacity") is None:
            # A battery whose registers do not give its capacity: the installer's figure.
            data["capacity"] = self.subentry.data.get(CONF_CAPACITY_WH)
        return data

    def _on_failure(self) -> None:
        """Back off and, after a long outage, raise a repair issue."""
        self._failures += 1
        now = dt_util.utcnow()
        if self._down_since is None:
            self._down_since = now
        backoff = min(self._scan_interval * 2 ** min(self._failures, 10), BACKOFF_MAX_S)
        self.update_interval = timedelta(seconds=max(self._scan_interval, backoff))
        if (now - self._down_since).total_seconds() >= OUTAGE_REPAIR_AFTER_S:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self.repair_issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="device_unreachable",
                translation_placeholders={
                    "name": self.subentry.title,
                    "minutes": str(round((now - self._down_since).total_seconds() / 60)),
                },
            )

    def _on_success(self) -> None:
        # Also after a reload, when the failure count restarted at zero.
        ir.async_delete_issue(self.hass, DOMAIN, self.repair_issue_id)
        if self._failures:
            self._failures = 0
            self._down_since = None
            self.update_interval = timedelta(seconds=self._scan_interval)

    @property
    def repair_issue_id(self) -> str:
        """Issue registry id of this device's outage."""
        return f"device_unreachable_{self.subentry.subentry_id}"

    def battery_limits(self) -> BatteryLimits | None:
        """The limiter's static limits for this battery, or None when its power limits are unknown.

        Power: the device's reported maximum, else the user's, held inside the setpoint register's
        range. Cell voltage, temperature, ramp and SOC: the profile's ``limits`` (the controller
        narrows the SOC window to the site's settings).
        """
        if self.kind != "battery":
            return None
        data = self.data or {}
        charge = _first(data.get("max_charge_power"), self.subentry.data.get(CONF_MAX_CHARGE_W))
        discharge = _first(
            data.get("max_discharge_power"), self.subentry.data.get(CONF_MAX_DISCHARGE_W)
        )
        if charge is None or discharge is None:
            return None
        charge, discharge = float(charge), float(discharge)
        if self.profile is not None and self.profile.control is not None:
            # No more than the command registers can carry (beyond it a command is refused).
            charge_cap, discharge_cap = self.profile.control.power_caps(self.profile)
            charge, discharge = min(charge, charge_cap), min(discharge, discharge_cap)
        if self.entities is not None and (span := self.entities.setpoint_range_w()):
            # The vendor's setpoint entity refuses values outside its range: stay inside it.
            charge = min(charge, max(0.0, span[1]))
            discharge = min(discharge, max(0.0, -span[0]))
        extra = dict(self.profile.limits) if self.profile else {}
        # No temperature bounds unless the profile has them (entity-backed batteries have none).
        extra.setdefault("t_charge_min_c", None)
        extra.setdefault("t_max_c", None)
        extra.setdefault("soc_min_pct", 0.0)
        extra.setdefault("soc_max_pct", 100.0)
        try:
            return BatteryLimits(charge_max_w=charge, discharge_max_w=discharge, **extra)
        except ValueError as err:
            _LOGGER.error("%s: invalid battery limits: %s", self.subentry.title, err)
            return None

    def battery_state(self) -> BatteryState:
        """What the limiter needs to know now; unknown while the device is unavailable."""
        data = self.data if self.last_update_success and self.data else {}
        return BatteryState(
            soc_pct=data.get("soc"),
            cell_v_min=data.get("cell_voltage_min"),
            cell_v_max=data.get("cell_voltage_max"),
            temperature_c=data.get("temperature"),
        )

    def write_limits(self, key: str) -> tuple[float | None, float | None]:
        """Range of the register a value written to ``key`` must stay in."""
        point = self.profile[key] if self.profile and key in self.profile else None
        return (point.min if point else None), (point.max if point else None)

    @property
    def setpoint_w(self) -> float | None:
        """The battery setpoint of ours in force (None: none, or the device lost it)."""
        return self._setpoint_w

    @property
    def setpoint_at(self) -> datetime | None:
        """When that setpoint was written."""
        return self._setpoint_at

    def observed_values(self) -> dict[str, Any]:
        """What changes on a live device: its values, and when an entity source last reported."""
        values = dict(self.data or {})
        if self.entities is not None:
            state = self.hass.states.get(self.entities.entity_ids["power"])
            values["_reported"] = state.last_reported.isoformat() if state else None
        return values

    async def async_write_setpoint(self, value: float, *, now: datetime | None = None) -> None:
        """Write a battery setpoint decided by the site controller, and read it back.

        The controller's ``decide`` has applied the limiter; the register range is checked
        again here, and so are the battery's static power limits (a guard, not a second limiter).
        Raises ``HomeAssistantError`` when the write fails or reads back otherwise.
        """
        limits = self.battery_limits()
        if value != 0.0 and (
            limits is None or not -limits.discharge_max_w <= value <= limits.charge_max_w
        ):
            raise self._rejected(f"setpoint: {value:g} W is outside the battery's power limits")
        if self.modbus is None:  # the vendor's setpoint entity
            await self._async_write_raw("setpoint", value, refresh=False)
            self._setpoint_w = value
            self._setpoint_at = now or dt_util.utcnow()
            await self._async_verify("setpoint", value, "W")
            return
        self._check_control()
        self.last_commands = self.dry_run(value)  # raises before any write when out of range
        self._maybe_commanded = True
        checks = await self._async_translated(self.modbus.command(value, self.data))
        self._setpoint_w = value
        self._setpoint_at = now or dt_util.utcnow()
        await self._async_confirm(checks)

    def dry_run(self, value: float) -> list[str]:
        """The register writes a battery command would be, without writing (the dry-run view)."""
        if self.modbus is None:
            target = self.entities.entity_ids.get("setpoint") if self.entities else None
            return [f"{target} = {value:g} W"] if target else []
        try:
            return self.modbus.describe(self.modbus.plan_command(value, self.data)[1])
        except (ConversionError, CapabilityError) as err:
            raise self._rejected(str(err)) from err

    @property
    def rewrite_s(self) -> float | None:
        """How often the device's remote mode must be written again (None: no lapse)."""
        control = self.profile.control if self.profile else None
        return control.rewrite_s if control is not None else None

    async def _async_translated(self, operation: Any) -> Any:
        """Run a write or a command; its errors become the integration's translated errors."""
        try:
            return await operation
        except (ConversionError, CapabilityError) as err:
            raise self._rejected(str(err)) from err
        except (TransportError, DeviceError) as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="write_failed",
                translation_placeholders={"name": self.subentry.title, "error": str(err)},
            ) from err

    async def _async_confirm(self, checks: list[Check]) -> None:
        """Read back what the profile says confirms a command; raise when it does not."""
        assert self.modbus is not None
        try:
            mismatch = await self.modbus.confirm(checks)
        except (TransportError, DeviceError) as err:
            mismatch = str(err)
        if mismatch is not None:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="write_not_confirmed",
                translation_placeholders={"name": self.subentry.title, "error": mismatch},
            )

    async def _async_verify(self, key: str, value: float, unit: str) -> None:
        """Read a written value back and compare; ``HomeAssistantError`` when it differs."""
        try:
            if self.modbus is not None:
                back = (await self.modbus.read({key})).get(key)
                point = self.modbus.profile[key]
                tolerance = max(1.0, float(point.step or 0.0), abs(point.scale or 1.0))
            else:
                assert self.entities is not None
                back = self.entities.read().get(key)
                tolerance = max(1.0, 0.01 * abs(value))
        except (TransportError, DeviceError) as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="write_not_confirmed",
                translation_placeholders={"name": self.subentry.title, "error": str(err)},
            ) from err
        if back is None:
            return  # not readable: the device's accepted reply is the only echo there is
        if abs(float(back) - value) > tolerance:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="write_not_confirmed",
                translation_placeholders={
                    "name": self.subentry.title,
                    "error": f"wrote {value:g} {unit}, read back {float(back):g} {unit}",
                },
            )

    def has_point(self, key: str) -> bool:
        """Whether the device's profile has this point (entity-backed devices: none)."""
        return self.modbus is not None and key in self.modbus.profile

    async def async_write_reactive(self, value: float) -> None:
        """Write a reactive power setpoint from grid support (var, + injection), read back.

        Guarded by the battery's apparent power (P² + Q² ≤ S² is the core's; here only
        |Q| ≤ S) and the register's range; raises ``HomeAssistantError`` when not confirmed.
        """
        s_max = float((self.data or {}).get("max_apparent_power") or 0.0)
        if abs(value) > s_max:
            raise self._rejected(f"reactive setpoint: {value:g} var is beyond {s_max:g} VA")
        # In force, or possibly so (a lost reply), from here: a release takes it back.
        self.reactive_var = float(round(value)) or self.reactive_var
        await self._async_write_raw("reactive_setpoint", round(value), refresh=False)
        self.reactive_var = float(round(value))
        await self._async_verify("reactive_setpoint", round(value), "var")

    @property
    def commanded(self) -> bool:
        """Whether a command of ours (active or reactive) may be in force."""
        return (
            (self._setpoint_w is not None and self._setpoint_w != 0.0)
            or self._maybe_commanded
            or bool(self.reactive_var)
        )

    async def async_release(self) -> None:
        """Hand the battery back, even if control was switched off meanwhile.

        The profile's release (the generic BESS: 0 W; a vendor's: back to its own mode), read
        back where the profile says so. Used when ems stops commanding the battery (passive
        mode, unload, stop, a failed step), so that no command of ours stays in force.
        """
        try:
            if self.modbus is None:
                await self._async_write_raw("setpoint", 0.0, refresh=False, check_control=False)
            else:
                checks = await self._async_translated(self.modbus.release())
                self.last_commands = self.modbus.describe(self.modbus.control.release_commands())
                await self._async_confirm(checks)
            self._setpoint_w = 0.0
            self._maybe_commanded = False
            self._setpoint_at = dt_util.utcnow()
        finally:
            if self.reactive_var:  # grid support's reactive power goes too, whatever P did
                await self.async_clear_reactive()

    async def async_clear_reactive(self) -> None:
        """Write 0 var, even if control was switched off meanwhile (no Q of ours stays)."""
        await self._async_write_raw("reactive_setpoint", 0, refresh=False, check_control=False)
        self.reactive_var = 0.0

    def mark_commanded(self) -> None:
        """A command of ours may still be in force (kept across restarts): release it."""
        self._maybe_commanded = True

    def forget_setpoint(self) -> None:
        """The device lost its command (outage): ramp again from 0 W."""
        self._setpoint_w = None
        self._setpoint_at = None

    async def async_write(self, key: str, value: Any) -> None:
        """Write one value from an entity, range-checked (a battery's command registers are not).

        The registers the profile's control writes belong to the site controller: written from
        an entity (an automation, a voice command) they would bypass the limiter.
        """
        control = self.profile.control if self.profile else None
        controller_keys = control.written_keys if control is not None else set()
        if self.kind == "battery" and key in {"setpoint", "reactive_setpoint", *controller_keys}:
            # only the site controller (and its grid support) commands it
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="setpoint_by_controller",
                translation_placeholders={"name": self.subentry.title},
            )
        low, high = self.write_limits(key)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if numeric and ((low is not None and value < low) or (high is not None and value > high)):
            raise self._rejected(f"{key}: {value} is outside [{low}, {high}]")
        await self._async_write_raw(key, value)

    def _rejected(self, error: str) -> ServiceValidationError:
        """The error for a value this device must not be given (nothing was written)."""
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="value_rejected",
            translation_placeholders={"name": self.subentry.title, "error": error},
        )

    def _check_control(self) -> None:
        if not self.control_enabled:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="control_disabled",
                translation_placeholders={"name": self.subentry.title},
            )

    async def _async_write_raw(
        self, key: str, value: Any, *, refresh: bool = True, check_control: bool = True
    ) -> None:
        if check_control:
            self._check_control()
        if self.modbus is not None:
            if key not in self.modbus.profile or not self.modbus.profile[key].writable:
                raise self._rejected(f"{key} is not a writable point of this device")
            await self._async_translated(self.modbus.write(key, value))
        else:
            assert self.entities is not None
            await self._async_translated(self.entities.write(key, value))
        if refresh:
            await self.async_request_refresh()

    def diagnostics(self) -> Mapping[str, Any]:
        """State worth attaching to a bug report (no secrets here; redaction is done above)."""
        info: dict[str, Any] = {
            "kind": self.kind,
            "uid": self.uid,
            "control_enabled": self.control_enabled,
            "last_update_success": self.last_update_success,
            "failures": self._failures,
            "update_interval_s": self.update_interval.total_seconds()
            if self.update_interval
            else None,
            "data": self.data,
        }
        if self.modbus is not None:
            info["profile"] = self.modbus.profile.id
            info["unit"] = self.modbus.unit
            info["refused_points"] = sorted(self.modbus.bad_keys)
            info["reads_per_poll"] = len(self.modbus.reads_for(self.wanted_keys()))
            info["source"] = dict(self.modbus.profile.source)
            if (control := self.modbus.profile.control) is not None:
                info["control"] = control.describe()
                info["last_commands"] = list(self.last_commands)
        return info
