"""Sensors: every measured point of every device, and the site totals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .controller import STATUSES, SiteController, SiteState
from .core.grid_support import SupportState
from .core.limiter import LimitReason
from .core.profile import Platform, Point
from .descriptions import POWER_SENSOR_FIELDS, device_points, entity_category
from .entity import EmsControllerEntity, EmsDeviceEntity, EmsSiteBaseEntity, EmsSiteEntity
from .grid import GridSupportRunner
from .plan_entities import async_add_plan_entities
from .runtime import EmsConfigEntry
from .savings import async_add_savings_sensors
from .scada import Link, ScadaServer
from .site import SiteValues

PARALLEL_UPDATES = 0


def _description(point: Point) -> SensorEntityDescription:
    return SensorEntityDescription(
        key=point.key,
        translation_key=point.key,
        native_unit_of_measurement=point.unit,
        device_class=SensorDeviceClass(point.device_class) if point.device_class else None,
        state_class=SensorStateClass(point.state_class) if point.state_class else None,
        suggested_display_precision=point.precision,
        entity_category=entity_category(point),
        entity_registry_enabled_default=point.enabled_default,
    )


@dataclass(frozen=True, kw_only=True)
class EmsSiteSensorEntityDescription(SensorEntityDescription):
    """A site total and how to take it from the site values."""

    value_fn: Callable[[SiteValues], float | None]


def _power(
    key: str, value_fn: Callable[[SiteValues], float | None]
) -> EmsSiteSensorEntityDescription:
    return EmsSiteSensorEntityDescription(
        key=key,
        translation_key=key,
        **POWER_SENSOR_FIELDS,
        value_fn=value_fn,
    )


SITE_SENSORS: tuple[EmsSiteSensorEntityDescription, ...] = (
    _power("site_pv_power", lambda v: v.pv_power),
    _power("site_battery_power", lambda v: v.battery_power),
    _power("site_grid_power", lambda v: v.grid_power),
    _power("site_house_load", lambda v: v.house_load),
    EmsSiteSensorEntityDescription(
        key="site_soc",
        translation_key="site_soc",
        native_unit_of_measurement=PERCENTAGE,
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda v: v.soc,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of each device (under its subentry) and of the site."""
    for subentry_id, coordinator in entry.runtime_data.devices.items():
        async_add_entities(
            (
                EmsPointSensor(coordinator, _description(p))
                for p in device_points(coordinator, Platform.SENSOR)
            ),
            config_subentry_id=subentry_id,
        )
    async_add_entities(EmsSiteSensor(entry, d) for d in SITE_SENSORS)
    async_add_entities(EmsControllerSensor(entry, d) for d in CONTROLLER_SENSORS)
    if entry.runtime_data.scada is not None:
        async_add_entities([EmsScadaSensor(entry, SCADA_SENSOR)])
    async_add_entities(EmsGridSupportSensor(entry, d) for d in GRID_SUPPORT_SENSORS)
    async_add_plan_entities(entry, async_add_entities, "sensor")
    async_add_savings_sensors(hass, entry, async_add_entities)


class EmsPointSensor(EmsDeviceEntity, SensorEntity):
    """A measured value of a device."""

    @property
    def native_value(self) -> float | str | None:
        """The decoded value."""
        return self.value  # type: ignore[return-value]


class EmsSiteSensor(EmsSiteEntity, SensorEntity):
    """A site total."""

    entity_description: EmsSiteSensorEntityDescription

    @property
    def native_value(self) -> float | None:
        """The current total."""
        return self.entity_description.value_fn(self.entry.runtime_data.site.values())

    @property
    def available(self) -> bool:
        """Unavailable rather than wrong when a device it needs is missing or down."""
        return self.native_value is not None


@dataclass(frozen=True, kw_only=True)
class EmsControllerSensorEntityDescription(SensorEntityDescription):
    """A value of the site controller."""

    value_fn: Callable[[SiteController], float | str | None]
    attributes_fn: Callable[[SiteController], dict[str, Any]] | None = None


def _battery_attributes(controller: SiteController) -> dict[str, Any]:
    last = controller.last
    if last is None:
        return {}
    return {
        "effective_mode": last.effective_mode.value,
        "requested_w": last.requested_w,
        "batteries": {
            controller.batteries[key].subentry.title: {
                "requested_w": round(outcome.requested_w, 1),
                "setpoint_w": outcome.setpoint_w,
                "reason": outcome.reason.value,
                "written": outcome.written,
                "registers": outcome.registers,
                "dry_run": outcome.dry_run,
            }
            for key, outcome in last.batteries.items()
            if key in controller.batteries
        },
    }


def _status_attributes(controller: SiteController) -> dict[str, Any]:
    last = controller.last
    problems = {
        battery.subentry.title: [p.value for p in controller.problems(key)]
        for key, battery in controller.batteries.items()
        if controller.problems(key)
    }
    return {
        "mode": controller.mode.value,
        "effective_mode": last.effective_mode.value if last else None,
        "fallback": last.fallback.value if last and last.fallback else None,
        "waiting_until": last.waiting_until.isoformat() if last and last.waiting_until else None,
        "battery_problems": problems,
    }


CONTROLLER_SENSORS: tuple[EmsControllerSensorEntityDescription, ...] = (
    EmsControllerSensorEntityDescription(
        key="status",
        translation_key="status",
        device_class=SensorDeviceClass.ENUM,
        options=list(STATUSES),
        value_fn=lambda c: c.status(),
        attributes_fn=_status_attributes,
    ),
    EmsControllerSensorEntityDescription(
        key="site_state",
        translation_key="site_state",
        device_class=SensorDeviceClass.ENUM,
        options=[s.value for s in SiteState],
        value_fn=lambda c: c.state.value,
    ),
    EmsControllerSensorEntityDescription(
        key="limit_reason",
        translation_key="limit_reason",
        device_class=SensorDeviceClass.ENUM,
        options=[r.value for r in LimitReason],
        value_fn=lambda c: c.last.reason.value if c.last else None,
        attributes_fn=_battery_attributes,
    ),
    EmsControllerSensorEntityDescription(
        key="site_setpoint",
        translation_key="site_setpoint",
        **POWER_SENSOR_FIELDS,
        value_fn=lambda c: c.last.setpoint_w if c.last else None,
        attributes_fn=_battery_attributes,
    ),
)


class EmsControllerSensor(EmsControllerEntity, SensorEntity):
    """What the site controller is doing."""

    entity_description: EmsControllerSensorEntityDescription
    # Change every few seconds: worth showing, not worth a recorder row each time.
    _unrecorded_attributes = frozenset({"effective_mode", "requested_w", "batteries"})

    @property
    def native_value(self) -> float | str | None:
        """The controller's current value."""
        return self.entity_description.value_fn(self.controller)

    @property
    def available(self) -> bool:
        """Unavailable until the controller has a value (e.g. no battery, passive mode)."""
        return self.native_value is not None

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Per-battery detail."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.controller)


SCADA_SENSOR = SensorEntityDescription(
    key="scada_link",
    translation_key="scada_link",
    device_class=SensorDeviceClass.ENUM,
    options=[link.value for link in Link],
)


class EmsScadaSensor(EmsSiteBaseEntity, SensorEntity):
    """The SCADA link: whether a client controls the site, and the server's figures."""

    _unrecorded_attributes = frozenset({"clients", "heartbeat_left_s", "writes", "refused"})

    @property
    def scada(self) -> ScadaServer:
        """The site's Modbus server (this entity exists only with one)."""
        scada = self.entry.runtime_data.scada
        assert scada is not None
        return scada

    async def async_added_to_hass(self) -> None:
        """Follow the link and the controller's ticks (heartbeat countdown, clients)."""
        self.async_on_remove(self.scada.add_listener(self.async_write_ha_state))
        self.async_on_remove(
            self.entry.runtime_data.controller.add_listener(self.async_write_ha_state)
        )

    @property
    def native_value(self) -> str:
        """listening, remote, lost or error."""
        return self.scada.link.value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Where it listens, who may write, the watchdog."""
        scada = self.scada
        left = scada.heartbeat_left_s()
        return {
            "port": scada.port,
            "unit_id": scada.unit_id,
            "writable": scada.writable,
            "allowed_clients": [str(n) for n in scada.allowed],
            "clients": len(scada.server.active_connections) if scada.server else 0,
            "heartbeat_s": scada.heartbeat_s,
            "heartbeat_left_s": round(left) if left is not None else None,
            "fallback_mode": scada.fallback_mode.value,
            "writes": scada.writes,
            "refused": scada.refused,
            "error": scada.error,
        }


GRID_SUPPORT_SENSORS = (
    SensorEntityDescription(
        key="voltage_support_state",
        translation_key="voltage_support_state",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in SupportState],
    ),
    SensorEntityDescription(
        key="frequency_response_state",
        translation_key="frequency_response_state",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in SupportState],
    ),
)


class EmsGridSupportSensor(EmsSiteBaseEntity, SensorEntity):
    """What a grid-support function does: off, armed, active or error (with why)."""

    _unrecorded_attributes = frozenset(
        {"frequency_hz", "voltage_v", "response_w", "reactive_var", "loop_ms", "ffr_until"}
    )

    @property
    def grid(self) -> GridSupportRunner:
        """The site's grid-support loop."""
        return self.entry.runtime_data.grid

    @property
    def _p(self) -> bool:
        return self.entity_description.key == "frequency_response_state"

    async def async_added_to_hass(self) -> None:
        """Follow the loop's steps and the arming switches."""
        self.async_on_remove(self.grid.add_listener(self.async_write_ha_state))
        self.async_on_remove(
            self.entry.runtime_data.controller.add_listener(self.async_write_ha_state)
        )

    @property
    def native_value(self) -> str:
        """off, armed, active or error."""
        armed = self.grid.p_armed if self._p else self.grid.q_armed
        if not armed:
            return SupportState.OFF.value
        result = self.grid.result
        return (result.p_state if self._p else result.q_state).value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The measurement it acts on, what it asks, and why it cannot act."""
        return self.grid.attributes("p" if self._p else "q")
