"""``ems.get_problem``: the site's scenario of contract v1 without forecasts, and their sources."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
import math
from typing import TYPE_CHECKING, Any

from homeassistant.const import ATTR_TEMPERATURE, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import TemperatureConverter

from .appliance import Window, contract_appliance, in_windows, parse_windows
from .const import (
    CONF_ANNUAL_CONSUMPTION_KWH,
    CONF_EXPORT_LIMIT_W,
    CONF_EXPORT_PRICE,
    CONF_IMPORT_LIMIT_W,
    CONF_OBJECTIVE,
    CONF_OFFPEAK_HOURS,
    CONF_OFFPEAK_PRICE,
    CONF_PEAK_PRICE,
    CONF_PRICE_ENTITY,
    CONF_PV_AZIMUTH_DEG,
    CONF_PV_FORECAST_ENTITIES,
    CONF_PV_PEAK_W,
    CONF_PV_TILT_DEG,
    CONF_WEATHER_ENTITY,
    DEFAULT_IMPORT_PRICE,
    DOMAIN,
    PLAN_HORIZON_STEPS,
    PLAN_STEP_MINUTES,
)
from .core.contract import CONTRACT_VERSION, format_time

if TYPE_CHECKING:
    from .runtime import EmsConfigEntry

RESPONSE_VERSION = 1

# A price point of a price sensor's attributes is used for at most this long.
_PRICE_POINT_SPAN = timedelta(hours=1)


def floor_to_step(now: datetime, step_minutes: int, tz: tzinfo) -> datetime:
    """``now`` in local time, floored to the step (steps divide the hour)."""
    local = now.astimezone(tz)
    return local.replace(minute=local.minute - local.minute % step_minutes, second=0, microsecond=0)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def state_number(state: State | None) -> float | None:
    """A state's numeric value, None when unknown or unavailable."""
    if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
        return None
    return _number(state.state)


def _price_points(state: State) -> list[tuple[datetime, float]]:
    """Dated prices in a price sensor's attributes (``forecast``, ``prices``, Nord Pool raw_*)."""
    scale = 0.001 if "MWh" in str(state.attributes.get("unit_of_measurement", "")) else 1.0
    points: list[tuple[datetime, float]] = []
    for key in ("forecast", "prices", "raw_today", "raw_tomorrow"):
        items = state.attributes.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, Mapping):
                continue
            raw = item.get("start") or item.get("start_time") or item.get("datetime")
            moment = raw if isinstance(raw, datetime) else dt_util.parse_datetime(str(raw or ""))
            value = _number(item.get("value", item.get("price")))
            if moment is not None and moment.tzinfo is not None and value is not None:
                points.append((moment, value * scale))
    points.sort(key=lambda p: p[0])
    return points


def import_prices(
    options: Mapping[str, Any],
    times: list[datetime],
    tz: tzinfo,
    price_state: State | None = None,
) -> list[float]:
    """Import price per step (€/kWh): the price sensor where it tells, else peak / off-peak."""
    peak = _number(options.get(CONF_PEAK_PRICE))
    peak = DEFAULT_IMPORT_PRICE if peak is None else peak
    offpeak = _number(options.get(CONF_OFFPEAK_PRICE))
    offpeak = peak if offpeak is None else offpeak
    windows: list[Window] = parse_windows(options.get(CONF_OFFPEAK_HOURS))
    prices = [offpeak if in_windows(t, windows, tz) else peak for t in times]
    if price_state is None:
        return prices
    points = _price_points(price_state)
    for index, moment in enumerate(times):
        for start, value in reversed(points):
            if start <= moment:
                if moment - start < _PRICE_POINT_SPAN:
                    prices[index] = value
                break
    # The sensor's current value is the price of the step under way.
    if (current := state_number(price_state)) is not None:
        scale = 0.001 if "MWh" in str(price_state.attributes.get("unit_of_measurement", "")) else 1
        prices[0] = current * scale
    return prices


def _celsius(state: State | None, value: float | None) -> float | None:
    if state is None or value is None:
        return None
    unit = state.attributes.get("temperature_unit") or state.attributes.get("unit_of_measurement")
    if unit == "°F":
        return round(TemperatureConverter.convert(value, "°F", "°C"), 2)
    return value


def _outdoor_temperature(hass: HomeAssistant, entity_id: str | None) -> float | None:
    if not entity_id or (state := hass.states.get(entity_id)) is None:
        return None
    if entity_id.startswith("weather."):
        return _celsius(state, _number(state.attributes.get(ATTR_TEMPERATURE)))
    return _celsius(state, state_number(state))


# Keys a PV device's data may carry its rated (nameplate) AC power under, in W.
_PV_RATED_KEYS = ("max_power", "rated_power", "max_power_w", "rated_power_w", "w_max")


def pv_peak_w(options: Mapping[str, Any], devices: Mapping[str, Any]) -> float | None:
    """The site's PV peak power (W): the option, else the PV devices' rated powers summed.

    None when the option is not set and a PV device does not report a rated power (a partial
    sum would understate the site), or when there is no PV device.
    """
    option = _number(options.get(CONF_PV_PEAK_W))
    if option is not None and option > 0:
        return option
    total, found = 0.0, False
    for device in devices.values():
        if getattr(device, "kind", None) != "pv":
            continue
        data = getattr(device, "data", None) or {}
        rated = next(
            (v for k in _PV_RATED_KEYS if (v := _number(data.get(k))) is not None and v > 0),
            None,
        )
        if rated is None:
            return None
        total, found = total + rated, True
    return total if found else None


def build_problem(hass: HomeAssistant, entry: EmsConfigEntry, now: datetime) -> dict[str, Any]:
    """The response of ``ems.get_problem`` for one site."""
    runtime = entry.runtime_data
    plan = runtime.plan
    options = entry.options
    tz = dt_util.get_default_time_zone()
    step, steps = PLAN_STEP_MINUTES, PLAN_HORIZON_STEPS
    start = floor_to_step(now, step, tz)
    # Steps are absolute time: step in UTC, show in local time (a DST night has 23 or 25 hours).
    times = [
        (start.astimezone(UTC) + timedelta(minutes=step * i)).astimezone(tz) for i in range(steps)
    ]
    price_entity = options.get(CONF_PRICE_ENTITY)
    price_state = hass.states.get(price_entity) if price_entity else None
    export_price = _number(options.get(CONF_EXPORT_PRICE)) or 0.0
    controller = runtime.controller
    battery = controller.problem_battery()
    weather = options.get(CONF_WEATHER_ENTITY) or None

    appliances: list[dict[str, Any]] = []
    names: dict[str, dict[str, str]] = {}
    if plan is not None:
        for uid, appliance in plan.appliances.items():
            names[uid] = {"name": appliance.name, "type": appliance.kind}
            temperatures: tuple[float | None, float | None] = (None, None)
            if appliance.kind == "thermal":
                indoor_entity = appliance.indoor_temperature_entity
                indoor = hass.states.get(indoor_entity) if indoor_entity else None
                temperatures = (
                    _celsius(indoor, state_number(indoor)),
                    _outdoor_temperature(hass, appliance.outdoor_temperature_entity or weather),
                )
            item = contract_appliance(
                appliance,
                plan.request(uid),
                start=start,
                step_minutes=step,
                steps=steps,
                now=now,
                tz=tz,
                temperatures=temperatures,
            )
            if item is not None:
                appliances.append(item)

    ent_reg = er.async_get(hass)
    kinds = {device.kind for device in runtime.devices.values()}

    def site_sensor(key: str, needs: str) -> str | None:
        if needs not in kinds:  # no device to measure it: the sensor is never available
            return None
        return ent_reg.async_get_entity_id("sensor", DOMAIN, f"{entry.entry_id}_{key}")

    scenario: dict[str, Any] = {
        "version": CONTRACT_VERSION,
        "start": format_time(start),
        "step_minutes": step,
        "horizon_steps": steps,
        "objective": options.get(CONF_OBJECTIVE) or "cost",
        "import_price_eur_per_kwh": import_prices(options, times, tz, price_state),
        "export_price_eur_per_kwh": [export_price] * steps,
        "grid": {
            "import_limit_w": entry.data.get(CONF_IMPORT_LIMIT_W),
            "export_limit_w": entry.data.get(CONF_EXPORT_LIMIT_W),
        },
        "battery": battery,
        "appliances": appliances,
    }
    requested = plan.run_requested_at if plan is not None else None
    return {
        "version": RESPONSE_VERSION,
        "site": {"entry_id": entry.entry_id, "name": entry.title},
        "scenario": scenario,
        "sources": {
            "load_power_entity": site_sensor("site_house_load", "meter"),
            "pv_power_entity": site_sensor("site_pv_power", "pv"),
            "weather_entity": weather,
            "timezone": hass.config.time_zone,
            "latitude": _number(hass.config.latitude),
            "longitude": _number(hass.config.longitude),
            "pv_peak_w": pv_peak_w(options, runtime.devices),
            # the panels' orientation (None: the add-on's default, 35° facing south)
            "pv_tilt_deg": _number(options.get(CONF_PV_TILT_DEG)),
            "pv_azimuth_deg": _number(options.get(CONF_PV_AZIMUTH_DEG)),
            # public holidays count as days off in the load forecast
            "country": hass.config.country,
            # scales the typical household profile while there is no load history
            "annual_consumption_kwh": _number(options.get(CONF_ANNUAL_CONSUMPTION_KWH)),
            # Solcast-style sensors whose dated PV forecast comes before the add-on's own
            "pv_forecast_entities": list(options.get(CONF_PV_FORECAST_ENTITIES) or []),
        },
        "appliances": names,
        "run_requested_at": None if requested is None else requested.isoformat(),
    }
