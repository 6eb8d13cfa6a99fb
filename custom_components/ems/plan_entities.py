"""Entities of the plan (site) and of each appliance (appliance subentries).

The platform modules add them with ``async_add_plan_entities(entry, add, platform)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.datetime import DateTimeEntity, DateTimeEntityDescription
from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    Platform,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfTime,
)
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .appliance import ApplianceConfig
from .const import DOMAIN
from .core.contract import (
    COMMUNITY_STATES,
    FORECAST_METHODS,
    INTENT_KINDS,
    MAX_REQUEST_ENERGY_WH,
    STATUSES,
)
from .descriptions import POWER_SENSOR_FIELDS
from .entity import EmsSiteBaseEntity
from .plan import PlanManager
from .runtime import EmsConfigEntry
from .validation import check_finish_by, check_value

APPLIANCE_MODELS = {
    "cycle": "Cycle appliance",
    "water_heater": "Water heater",
    "ev": "EV charging",
    "pilot_wire_heater": "Pilot-wire heater",
    "thermal": "Thermal load",
}


# Attributes stay well under the recorder's 16 KiB per state: a series shows at most
# MAX_SERIES_POINTS steps from the plan's start (48 h at 15 min; the integration plans 24 h),
# about 56 bytes each at worst (≈ 11 KiB); values are rounded. The whole plan stays in the Store.
MAX_SERIES_POINTS = 192
# The status shows the first warnings, their messages cut; "warning_count" says how many there are.
MAX_ATTRIBUTE_WARNINGS = 10
MAX_ATTRIBUTE_MESSAGE = 200


def _now() -> datetime:
    return dt_util.utcnow()


class EmsPlanEntity(EmsSiteBaseEntity):
    """An entity that follows the site's plan manager (plan, requests, minute ticks)."""

    def __init__(self, manager: PlanManager, description: EntityDescription) -> None:
        """A site entity; appliance entities override the identity."""
        super().__init__(manager.entry, description)
        self.manager = manager

    async def async_added_to_hass(self) -> None:
        """Follow the plan manager."""
        self.async_on_remove(self.manager.add_listener(self.async_write_ha_state))


# --- site: the plan as series -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PlanSeriesDescription(SensorEntityDescription):
    """A plan series shown as its current value, with the whole series in attributes."""

    series_fn: Callable[[PlanManager], list[float] | None]
    boundaries: bool = False  # one value per step boundary (N + 1), e.g. SOC
    digits: int = 1  # values in the ``series`` attribute are rounded to this


def _scenario(key: str) -> Callable[[PlanManager], list[float] | None]:
    def series(manager: PlanManager) -> list[float] | None:
        return None if manager.scenario is None else manager.scenario.get(key)

    return series


def _plan(key: str) -> Callable[[PlanManager], list[float] | None]:
    def series(manager: PlanManager) -> list[float] | None:
        return None if manager.plan is None else manager.plan[key]

    return series


def _pv(manager: PlanManager) -> list[float] | None:
    return _scenario("pv_w")(manager) or _plan("pv_used_w")(manager)


def _cost(manager: PlanManager) -> list[float] | None:
    """Cost of each step (€): import at the import price, export at the export price."""
    if manager.plan is None or manager.scenario is None:
        return None
    imports = manager.scenario.get("import_price_eur_per_kwh")
    exports = manager.scenario.get("export_price_eur_per_kwh")
    if imports is None or exports is None:
        return None
    hours = manager.step_hours
    return [
        round(g / 1000 * hours * (imports[i] if g > 0 else exports[i]), 5)
        for i, g in enumerate(manager.plan["grid_w"])
    ]


def _power(
    key: str, series_fn: Callable[[PlanManager], list[float] | None]
) -> PlanSeriesDescription:
    return PlanSeriesDescription(
        key=key,
        translation_key=key,
        **POWER_SENSOR_FIELDS,
        series_fn=series_fn,
    )


PLAN_SERIES: tuple[PlanSeriesDescription, ...] = (
    _power("plan_battery_power", _plan("battery_w")),
    _power("plan_grid_power", _plan("grid_w")),
    _power("plan_pv_forecast", _pv),
    _power("plan_load_forecast", _scenario("load_w")),
    PlanSeriesDescription(
        key="plan_soc",
        translation_key="plan_soc",
        native_unit_of_measurement=PERCENTAGE,
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        series_fn=_plan("soc_pct"),
        boundaries=True,
        digits=2,
    ),
    PlanSeriesDescription(
        key="plan_cost",
        translation_key="plan_cost",
        native_unit_of_measurement="EUR",
        device_class=SensorDeviceClass.MONETARY,
        suggested_display_precision=2,
        series_fn=_cost,
        digits=5,
    ),
)


class EmsPlanSeriesSensor(EmsPlanEntity, SensorEntity):
    """The plan's value for the current step; the 24 h series in the ``series`` attribute."""

    entity_description: PlanSeriesDescription
    _unrecorded_attributes = frozenset({"series"})

    def _series(self) -> list[float] | None:
        return self.entity_description.series_fn(self.manager)

    @property
    def available(self) -> bool:
        """Available while the plan covers now (and has this series)."""
        return self._series() is not None and self.manager.slot(_now()) is not None

    @property
    def native_value(self) -> float | None:
        """The plan's value now."""
        series = self._series()
        if series is None or (slot := self.manager.slot(_now())) is None:
            return None
        return series[slot]

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The series, one {time, value} per step (boundary for SOC), at most MAX_SERIES_POINTS."""
        series = self._series()
        if series is None:
            return None
        shown = MAX_SERIES_POINTS + (1 if self.entity_description.boundaries else 0)
        head = series[:shown]
        times = self.manager.step_times(len(head))
        digits = self.entity_description.digits
        return {
            "step_minutes": self.manager.plan["step_minutes"],  # type: ignore[index]
            "stale": self.manager.is_stale(_now()),
            "truncated": len(series) > shown,
            "series": [
                {"time": t.isoformat(timespec="seconds"), "value": round(v, digits)}
                for t, v in zip(times, head, strict=True)
            ],
        }


class EmsPlanCostSensor(EmsPlanSeriesSensor):
    """The plan's cost over its horizon; the cost of each step when the scenario is known."""

    @property
    def available(self) -> bool:
        """Available while the plan covers now."""
        return self.native_value is not None

    @property
    def native_value(self) -> float | None:
        """The optimizer's cost, else the sum of the steps' costs."""
        if self.manager.plan is None or self.manager.slot(_now()) is None:
            return None
        if (cost := self.manager.plan["report"]["cost_eur"]) is not None:
            return float(cost)
        series = self._series()
        return None if series is None else round(sum(series), 2)


PLAN_AGE = SensorEntityDescription(
    key="plan_age",
    translation_key="plan_age",
    native_unit_of_measurement=UnitOfTime.MINUTES,
    device_class=SensorDeviceClass.DURATION,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=0,
)


class EmsPlanAgeSensor(EmsPlanEntity, SensorEntity):
    """Minutes since the plan was received; unavailable without a plan."""

    @property
    def available(self) -> bool:
        """Only with a plan."""
        return self.manager.received_at is not None

    @property
    def native_value(self) -> float | None:
        """Age in minutes."""
        if (received := self.manager.received_at) is None:
            return None
        return round((_now() - received).total_seconds() / 60, 1)


PLAN_STATUS = SensorEntityDescription(
    key="plan_status",
    translation_key="plan_status",
    device_class=SensorDeviceClass.ENUM,
    options=list(STATUSES),
)


class EmsPlanStatusSensor(EmsPlanEntity, SensorEntity):
    """How the optimizer solved the plan; its warnings in the attributes."""

    @property
    def available(self) -> bool:
        """Only with a plan."""
        return self.manager.plan is not None

    @property
    def native_value(self) -> str | None:
        """optimal, feasible, relaxed or infeasible."""
        return None if self.manager.plan is None else self.manager.plan["status"]

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Warnings and report."""
        if (plan := self.manager.plan) is None:
            return None
        return {
            "start": plan["start"],
            "warning_count": len(plan["warnings"]),
            "warnings": [
                {**warning, "message": warning["message"][:MAX_ATTRIBUTE_MESSAGE]}
                for warning in plan["warnings"][:MAX_ATTRIBUTE_WARNINGS]
            ],
            "objective_value": plan["objective_value"],
            "import_wh": plan["report"]["import_wh"],
            "export_wh": plan["report"]["export_wh"],
            "self_consumption_pct": plan["report"]["self_consumption_pct"],
            **_replan_attributes(plan),
        }


PLAN_COMMUNITY = SensorEntityDescription(
    key="plan_community",
    translation_key="plan_community",
    device_class=SensorDeviceClass.ENUM,
    options=list(COMMUNITY_STATES),
)


class EmsPlanCommunitySensor(EmsPlanEntity, SensorEntity):
    """Whether the plan was made with the community or by the home alone (and why)."""

    @property
    def available(self) -> bool:
        """Only with a plan."""
        return self.manager.plan is not None

    @property
    def native_value(self) -> str | None:
        """community, or alone (a plan made without a community is the home's own)."""
        if (plan := self.manager.plan) is None:
            return None
        community = plan.get("community")
        return "alone" if not community else community["state"]

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The community's name, its members in the round, the round, why alone."""
        if (plan := self.manager.plan) is None or not (community := plan.get("community")):
            return None
        return {
            "community": community["name"],
            "members": community["members"],
            "round": community["round"],
            "reason": community["reason"],
        }


def _replan_attributes(plan: dict[str, Any]) -> dict[str, Any]:
    """How the plan relates to the one before (stable execution), when the optimizer says."""
    replan = plan.get("replan")
    if not replan:
        return {}
    return {
        "replan": replan["decision"],
        "running_step_kept": replan["running_step_kept"],
        "replan_gain_eur": replan["gain_eur"],
        "replan_threshold_eur": replan["threshold_eur"],
    }


@dataclass(frozen=True, kw_only=True)
class ForecastErrorDescription(SensorEntityDescription):
    """Yesterday's day-ahead error of one forecast series (the plan's ``forecast`` field)."""

    series: str  # "load" or "pv"


FORECAST_ERRORS = tuple(
    ForecastErrorDescription(
        key=f"{series}_forecast_error",
        translation_key=f"{series}_forecast_error",
        series=series,
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
    )
    for series in ("load", "pv")
)


class EmsForecastErrorSensor(EmsPlanEntity, SensorEntity):
    """Mean absolute error of yesterday's day-ahead forecast; the method in the attributes.

    Unavailable until the optimizer has scored a day (it needs yesterday's measurements).
    """

    entity_description: ForecastErrorDescription

    def _figures(self) -> dict[str, Any] | None:
        plan = self.manager.plan
        forecast = plan.get("forecast") if plan is not None else None
        return (forecast or {}).get(self.entity_description.series)

    @property
    def available(self) -> bool:
        """Only with a scored day."""
        figures = self._figures()
        return figures is not None and figures.get("mae_w") is not None

    @property
    def native_value(self) -> float | None:
        """Yesterday's mean absolute error, W."""
        figures = self._figures()
        return None if figures is None else figures.get("mae_w")

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The method in use, the day scored, and persistence's error that day."""
        if (figures := self._figures()) is None:
            return None
        mae, reference = figures.get("mae_w"), figures.get("persistence_mae_w")
        relative = None
        if mae is not None and reference:
            relative = round(100.0 * (mae / reference - 1.0), 1)
        return {
            "method": figures["method"].split("+")[0],
            "day": figures.get("day"),
            "method_then": figures.get("method_then"),
            "persistence_mae_w": reference,
            "vs_persistence_pct": relative,
        }


FORECAST_METHOD_SENSORS = tuple(
    ForecastErrorDescription(
        key=f"{series}_forecast_method",
        translation_key=f"{series}_forecast_method",
        series=series,
        device_class=SensorDeviceClass.ENUM,
        options=list(FORECAST_METHODS),
        entity_category=EntityCategory.DIAGNOSTIC,
    )
    for series in ("load", "pv")
)


class EmsForecastMethodSensor(EmsForecastErrorSensor):
    """Which forecast method the plan in force was made with.

    An external PV forecast that the model completes counts as external.
    """

    @property
    def available(self) -> bool:
        """Only with a plan that says."""
        return self._figures() is not None

    @property
    def native_value(self) -> str | None:
        """The method's name."""
        figures = self._figures()
        return None if figures is None else figures["method"].split("+")[0]

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """None: the error sensor has the figures."""
        return None


BATTERY_INTENT = SensorEntityDescription(
    key="battery_intent",
    translation_key="battery_intent",
    device_class=SensorDeviceClass.ENUM,
    options=list(INTENT_KINDS),
)


class EmsBatteryIntentSensor(EmsPlanEntity, SensorEntity):
    """What the plan means the battery to do now, and why (the reason, translated)."""

    @property
    def _intent(self) -> dict[str, Any] | None:
        return self.manager.intent_at(dt_util.utcnow())

    @property
    def available(self) -> bool:
        """Only while a plan with intents is being followed."""
        return self._intent is not None

    @property
    def native_value(self) -> str | None:
        """self_consumption, hold, charge, discharge or export."""
        intent = self._intent
        return None if intent is None else intent["kind"]

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Why, the planned power and the state of charge aimed at by the end of the step."""
        if (intent := self._intent) is None:
            return None
        end = self.manager.step_end(dt_util.utcnow())
        return {
            "reason": intent["reason"],
            "power_w": intent.get("power_w"),
            "soc_target_pct": intent.get("soc_target_pct"),
            "until": end.isoformat() if end else None,
        }


PLAN_STALE = BinarySensorEntityDescription(
    key="plan_stale",
    translation_key="plan_stale",
    device_class=BinarySensorDeviceClass.PROBLEM,
)


class EmsPlanStaleSensor(EmsPlanEntity, BinarySensorEntity):
    """On when the plan may not be followed (none, over, too old, not yet started); always there."""

    @property
    def is_on(self) -> bool:
        """Stale."""
        return self.manager.is_stale(_now())

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Why: no_plan, ended, too_old or not_started."""
        return {"reason": self.manager.stale_reason(_now())}


# --- appliances -------------------------------------------------------------------------------


class EmsApplianceEntity(EmsPlanEntity):
    """An entity of one appliance (its own device, under the site)."""

    def __init__(
        self, manager: PlanManager, appliance: ApplianceConfig, description: EntityDescription
    ) -> None:
        """Bind to the appliance."""
        super().__init__(manager, description)
        self.appliance = appliance
        self._attr_unique_id = f"{appliance.uid}_{description.key}"
        self._attr_device_info = appliance_device_info(manager.entry, appliance)


def appliance_device_info(entry: EmsConfigEntry, appliance: ApplianceConfig) -> DeviceInfo:
    """The appliance as a device linked to the site."""
    return DeviceInfo(
        identifiers={(DOMAIN, appliance.uid)},
        name=appliance.name,
        manufacturer="ems",
        model=APPLIANCE_MODELS.get(appliance.kind, appliance.kind),
        via_device=(DOMAIN, entry.entry_id),
    )


NEXT_START = SensorEntityDescription(
    key="next_start", translation_key="next_start", device_class=SensorDeviceClass.TIMESTAMP
)


class EmsNextStartSensor(EmsApplianceEntity, SensorEntity):
    """Start of the current or next planned run; unavailable while the plan is stale."""

    @property
    def available(self) -> bool:
        """Not from a stale plan."""
        return not self.manager.is_stale(_now())

    @property
    def native_value(self) -> datetime | None:
        """Unknown when nothing is planned or ems may not schedule it."""
        if not self.manager.request(self.appliance.uid).enabled:
            return None
        return self.manager.next_start(self.appliance.uid, _now())


ENERGY_NEEDED = NumberEntityDescription(
    key="energy_needed",
    translation_key="energy_needed",
    device_class=NumberDeviceClass.ENERGY,
    native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
    native_min_value=0,
    native_max_value=MAX_REQUEST_ENERGY_WH / 1000,
    native_step=0.1,
    mode=NumberMode.BOX,
)


class EmsEnergyNeededNumber(EmsApplianceEntity, NumberEntity):
    """Energy to deliver by the finish-by time (water heater, EV)."""

    @property
    def native_value(self) -> float:
        """In kWh."""
        return round(self.manager.energy_wh(self.appliance.uid, _now()) / 1000, 3)

    async def async_set_native_value(self, value: float) -> None:
        """Ask for this much energy by the finish-by time (finite, in range: NaN is refused)."""
        value = check_value(self.entity_id, value, 0, MAX_REQUEST_ENERGY_WH / 1000)
        await self.manager.async_set_request(self.appliance.uid, energy_wh=value * 1000)


SCHEDULE = SwitchEntityDescription(key="schedule", translation_key="schedule")


class EmsScheduleSwitch(EmsApplianceEntity, SwitchEntity):
    """The 'let ems schedule it' switch: ems only drives the appliance while it is on."""

    @property
    def is_on(self) -> bool:
        """Whether ems may schedule it."""
        return self.manager.request(self.appliance.uid).enabled

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Let ems schedule it."""
        await self.manager.async_set_request(self.appliance.uid, enabled=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Take it back from ems (a switch ems turned on is turned off)."""
        await self.manager.async_set_request(self.appliance.uid, enabled=False)


FINISH_BY = DateTimeEntityDescription(key="finish_by", translation_key="finish_by")


class EmsFinishByDateTime(EmsApplianceEntity, DateTimeEntity):
    """When the appliance must be done (the default time until the household sets one)."""

    @property
    def native_value(self) -> datetime | None:
        """The deadline in force."""
        return self.manager.finish_by(self.appliance.uid, _now())

    async def async_set_value(self, value: datetime) -> None:
        """Set the deadline (in the future, within ``MAX_DEADLINE_AHEAD``)."""
        check_finish_by(self.entity_id, value, _now())
        await self.manager.async_set_request(self.appliance.uid, finish_by=value)


# --- adding them ------------------------------------------------------------------------------


def _site_entities(manager: PlanManager, platform: str) -> list[Entity]:
    if platform == Platform.SENSOR:
        return [
            *(
                (EmsPlanCostSensor if d.key == "plan_cost" else EmsPlanSeriesSensor)(manager, d)
                for d in PLAN_SERIES
            ),
            EmsPlanAgeSensor(manager, PLAN_AGE),
            EmsPlanStatusSensor(manager, PLAN_STATUS),
            EmsPlanCommunitySensor(manager, PLAN_COMMUNITY),
            EmsBatteryIntentSensor(manager, BATTERY_INTENT),
            *(EmsForecastErrorSensor(manager, d) for d in FORECAST_ERRORS),
            *(EmsForecastMethodSensor(manager, d) for d in FORECAST_METHOD_SENSORS),
        ]
    if platform == Platform.BINARY_SENSOR:
        return [EmsPlanStaleSensor(manager, PLAN_STALE)]
    return []


def _appliance_entities(
    manager: PlanManager, appliance: ApplianceConfig, platform: str
) -> Iterable[Entity]:
    if platform == Platform.SENSOR:
        yield EmsNextStartSensor(manager, appliance, NEXT_START)
    elif platform == Platform.SWITCH:
        yield EmsScheduleSwitch(manager, appliance, SCHEDULE)
    elif platform == Platform.NUMBER and appliance.has_energy:
        yield EmsEnergyNeededNumber(manager, appliance, ENERGY_NEEDED)
    elif platform == Platform.DATETIME and appliance.has_deadline:
        yield EmsFinishByDateTime(manager, appliance, FINISH_BY)


def async_add_plan_entities(
    entry: EmsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback, platform: str
) -> None:
    """Add the site's plan entities and each appliance's (under its subentry) for a platform.

    ``platform`` is the platform's domain ("sensor", "switch", ...).
    """
    if (manager := entry.runtime_data.plan) is None:
        return
    if site := _site_entities(manager, platform):
        async_add_entities(site)
    for appliance in manager.appliances.values():
        if entities := list(_appliance_entities(manager, appliance, platform)):
            async_add_entities(entities, config_subentry_id=appliance.subentry_id)
