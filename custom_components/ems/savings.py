"""What the site's grid cost, and what the battery saved: pure accounting plus a small HA tracker.

Every ``SAMPLE_INTERVAL`` the tracker takes the site's measured grid and battery power and the
prices of that moment, and integrates over the time since the previous sample (at most
``MAX_GAP``, so a pause of Home Assistant does not count a long gap at the last power):

- cost: ∫ (import_w·import_price − export_w·export_price) dt on the measured grid power;
- saved against no battery: the same integral on grid − battery power, minus the cost;
- saved against a plain self-consumption battery: a shadow battery runs on the net load
  (grid − battery power); the integral on its grid power, minus the cost.

Totals restart at local midnight (day) and on the first of the month (month); the shadow battery
restarts from the real SOC at midnight. Intervals without a meter or battery value are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.util import dt as dt_util

from .const import CONF_EXPORT_PRICE, CONF_PRICE_ENTITY
from .entity import EmsSiteBaseEntity
from .problem import import_prices

if TYPE_CHECKING:
    from .runtime import EmsConfigEntry

SAMPLE_INTERVAL = timedelta(seconds=10)
# A longer gap between two samples (HA paused, event loop stalled) counts as this much.
MAX_GAP = timedelta(seconds=30)

SKIP_METER = "meter_unavailable"
SKIP_BATTERY = "battery_unavailable"
SKIP_PRICE = "price_unavailable"


def grid_cost(grid_w: float, import_price: float, export_price: float, seconds: float) -> float:
    """Euros for ``seconds`` at ``grid_w`` (+ import, − export), prices in €/kWh."""
    kwh = abs(grid_w) * seconds / 3_600_000.0
    return kwh * import_price if grid_w > 0 else -kwh * export_price


def period_starts(now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """Local midnight of ``now``'s day and of the first of its month, in ``tz``."""
    local = now.astimezone(tz)
    day = datetime(local.year, local.month, local.day, tzinfo=tz)
    month = datetime(local.year, local.month, 1, tzinfo=tz)
    return day, month


@dataclass(kw_only=True, slots=True)
class ShadowBattery:
    """A plain self-consumption battery: charges from surplus, covers deficit, within limits."""

    capacity_wh: float
    soc_pct: float
    soc_min_pct: float
    soc_max_pct: float
    charge_max_w: float
    discharge_max_w: float
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95

    @classmethod
    def from_problem(cls, battery: Mapping[str, Any]) -> ShadowBattery:
        """From the controller's plan-contract battery (capacity, limits, window, SOC now)."""
        return cls(
            capacity_wh=float(battery["capacity_wh"]),
            soc_pct=float(battery["soc_initial_pct"]),
            soc_min_pct=float(battery["soc_min_pct"]),
            soc_max_pct=float(battery["soc_max_pct"]),
            charge_max_w=float(battery["charge_max_w"]),
            discharge_max_w=float(battery["discharge_max_w"]),
            charge_efficiency=float(battery["charge_efficiency"]),
            discharge_efficiency=float(battery["discharge_efficiency"]),
        )

    def step(self, net_load_w: float, seconds: float) -> float:
        """Run ``seconds`` on the net load (+ deficit, − surplus); return its grid power (W)."""
        if seconds <= 0 or self.capacity_wh <= 0:
            return net_load_w
        hours = seconds / 3600.0
        if net_load_w < 0:  # surplus: charge what fits
            room_wh = max(0.0, (self.soc_max_pct - self.soc_pct) / 100.0 * self.capacity_wh)
            power = min(-net_load_w, self.charge_max_w, room_wh / self.charge_efficiency / hours)
            power = max(0.0, power)
            self.soc_pct += power * hours * self.charge_efficiency / self.capacity_wh * 100.0
            return net_load_w + power
        stored_wh = max(0.0, (self.soc_pct - self.soc_min_pct) / 100.0 * self.capacity_wh)
        power = min(net_load_w, self.discharge_max_w, stored_wh * self.discharge_efficiency / hours)
        power = max(0.0, power)
        self.soc_pct -= power * hours / self.discharge_efficiency / self.capacity_wh * 100.0
        return net_load_w - power


@dataclass(kw_only=True, slots=True)
class PeriodTotals:
    """Euros since ``start``: the realised cost and what the battery saved against two baselines."""

    start: datetime
    cost: float = 0.0
    saved_no_battery: float = 0.0
    saved_self_consumption: float = 0.0
    skipped_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        data = asdict(self)
        data["start"] = self.start.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PeriodTotals | None:
        """Back from ``as_dict``; None when it does not parse."""
        start = dt_util.parse_datetime(str(data.get("start", "")))
        if start is None:
            return None
        try:
            return cls(
                start=start,
                cost=float(data["cost"]),
                saved_no_battery=float(data["saved_no_battery"]),
                saved_self_consumption=float(data["saved_self_consumption"]),
                skipped_seconds=float(data.get("skipped_seconds", 0.0)),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    """One measurement: site grid and battery power (W) and prices (€/kWh); None = unavailable."""

    grid_w: float | None
    battery_w: float | None
    import_price: float | None
    export_price: float | None


@dataclass(kw_only=True)
class SavingsAccountant:
    """Integrates samples into the day's and the month's totals, running the shadow battery."""

    tz: tzinfo
    day: PeriodTotals | None = None
    month: PeriodTotals | None = None
    shadow: ShadowBattery | None = None
    last_sample: datetime | None = None
    skip_reason: str | None = None

    def roll(self, now: datetime, shadow_source: Callable[[], ShadowBattery | None]) -> None:
        """Start a new day or month when ``now`` is past the current one's start."""
        day_start, month_start = period_starts(now, self.tz)
        if self.day is None or self.day.start != day_start:
            self.day = PeriodTotals(start=day_start)
            self.shadow = shadow_source()  # the shadow starts each day at the real SOC
        if self.month is None or self.month.start != month_start:
            self.month = PeriodTotals(start=month_start)
        if self.shadow is None:  # no battery model yet (e.g. just started): try again
            self.shadow = shadow_source()

    def sample(
        self,
        now: datetime,
        sample: Sample,
        shadow_source: Callable[[], ShadowBattery | None] = lambda: None,
    ) -> None:
        """Count the interval since the previous sample (capped at ``MAX_GAP``) at ``sample``."""
        previous, self.last_sample = self.last_sample, now
        self.roll(now, shadow_source)
        if previous is None or now <= previous:
            return
        seconds = min(now - previous, MAX_GAP).total_seconds()
        self.skip_reason = _skip_reason(sample)
        if self.skip_reason is not None:
            for totals in (self.day, self.month):
                if totals is not None:
                    totals.skipped_seconds += seconds
            return
        self._count(sample, seconds)

    def _count(self, sample: Sample, seconds: float) -> None:
        """Add one interval's euros to both periods."""
        grid, battery = float(sample.grid_w or 0.0), float(sample.battery_w or 0.0)
        prices = (float(sample.import_price or 0.0), float(sample.export_price or 0.0))
        cost = grid_cost(grid, *prices, seconds)
        net_load = grid - battery
        no_battery = grid_cost(net_load, *prices, seconds)
        # Without a battery model the shadow is taken to do what the real one did (saves 0).
        shadow = (
            cost
            if self.shadow is None
            else grid_cost(self.shadow.step(net_load, seconds), *prices, seconds)
        )
        for totals in (self.day, self.month):
            if totals is not None:
                totals.cost += cost
                totals.saved_no_battery += no_battery - cost
                totals.saved_self_consumption += shadow - cost

    def as_dict(self) -> dict[str, Any]:
        """JSON-able snapshot, for the entities' restore data."""
        return {
            "day": self.day.as_dict() if self.day else None,
            "month": self.month.as_dict() if self.month else None,
            "shadow": asdict(self.shadow) if self.shadow else None,
            "last_sample": self.last_sample.isoformat() if self.last_sample else None,
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take a snapshot's totals and shadow battery (periods roll on the next sample)."""
        if isinstance(day := data.get("day"), Mapping):
            self.day = PeriodTotals.from_dict(day)
        if isinstance(month := data.get("month"), Mapping):
            self.month = PeriodTotals.from_dict(month)
        if isinstance(shadow := data.get("shadow"), Mapping):
            try:
                self.shadow = ShadowBattery(**{k: float(v) for k, v in shadow.items()})
            except (TypeError, ValueError):
                self.shadow = None
        # The time since the last sample before the restart is not counted.
        self.last_sample = None


def _skip_reason(sample: Sample) -> str | None:
    """Why an interval cannot be counted, or None."""
    if sample.grid_w is None:
        return SKIP_METER
    if sample.battery_w is None:
        return SKIP_BATTERY
    if sample.import_price is None or sample.export_price is None:
        return SKIP_PRICE
    return None


def snapshot_time(data: Mapping[str, Any]) -> datetime | None:
    """When a snapshot's last sample was taken."""
    raw = data.get("last_sample")
    return dt_util.parse_datetime(raw) if isinstance(raw, str) else None


def prices_at(
    hass: HomeAssistant, options: Mapping[str, Any], when: datetime
) -> tuple[float, float]:
    """Import and export price (€/kWh) at ``when``, as the optimizer's price series has them."""
    entity = options.get(CONF_PRICE_ENTITY)
    state = hass.states.get(entity) if entity else None
    tz = dt_util.get_default_time_zone()
    import_price = import_prices(options, [when.astimezone(tz)], tz, state)[0]
    try:
        export_price = float(options.get(CONF_EXPORT_PRICE) or 0.0)
    except (TypeError, ValueError):
        export_price = 0.0
    return import_price, export_price


class SavingsTracker:
    """Samples the site every ``SAMPLE_INTERVAL`` into a ``SavingsAccountant``; tells entities."""

    def __init__(self, hass: HomeAssistant, entry: EmsConfigEntry) -> None:
        """Bind to the site; nothing runs until ``start``."""
        self.hass = hass
        self.entry = entry
        self.accountant = SavingsAccountant(tz=dt_util.get_default_time_zone())
        self._listeners: list[CALLBACK_TYPE] = []
        self._unsub: CALLBACK_TYPE | None = None
        self._restored_at: datetime | None = None

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take the newest snapshot an entity restored, before the first sample."""
        when = snapshot_time(data)
        if self._unsub is not None and self.accountant.last_sample is not None:
            return
        if self._restored_at is not None and (when is None or when <= self._restored_at):
            return
        self._restored_at = when
        self.accountant.restore(data)
        self.accountant.roll(dt_util.now(), lambda: None)  # yesterday's totals start again

    @callback
    def start(self) -> None:
        """Start sampling (idempotent)."""
        if self._unsub is None:
            self._unsub = async_track_time_interval(
                self.hass, self._tick, SAMPLE_INTERVAL, name="ems savings"
            )

    @callback
    def stop(self) -> None:
        """Stop sampling."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None

    @callback
    def add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update`` after each sample; return the undo callable."""
        self._listeners.append(update)
        return lambda: self._listeners.remove(update)

    def _shadow(self) -> ShadowBattery | None:
        """A shadow battery like the site's, at its SOC now; None without a battery model."""
        battery = self.entry.runtime_data.controller.problem_battery()
        return None if battery is None else ShadowBattery.from_problem(battery)

    def current(self, now: datetime) -> Sample:
        """The site's grid and battery power and the prices at ``now``."""
        values = self.entry.runtime_data.site.values()
        has_battery = any(d.kind == "battery" for d in self.entry.runtime_data.devices.values())
        battery = values.battery_power
        if battery is None and not has_battery:
            battery = 0.0
        import_price, export_price = prices_at(self.hass, self.entry.options, now)
        return Sample(
            grid_w=values.grid_power,
            battery_w=battery,
            import_price=import_price,
            export_price=export_price,
        )

    @callback
    def _tick(self, now: datetime) -> None:
        """Take one sample and tell the entities."""
        self.accountant.sample(now, self.current(now), self._shadow)
        for update in list(self._listeners):
            update()


# --- entities ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EmsSavingsSensorEntityDescription(SensorEntityDescription):
    """A total of the day or of the month."""

    month: bool
    value_fn: Callable[[PeriodTotals], float]
    shadow: bool = False
    device_class: SensorDeviceClass | None = SensorDeviceClass.MONETARY
    state_class: SensorStateClass | str | None = SensorStateClass.TOTAL
    native_unit_of_measurement: str | None = "EUR"
    suggested_display_precision: int | None = 2


def _descriptions() -> tuple[EmsSavingsSensorEntityDescription, ...]:
    """Cost, saved against no battery, saved against a self-consumption battery; day and month."""
    kinds: tuple[tuple[str, Callable[[PeriodTotals], float], bool], ...] = (
        ("cost", lambda t: t.cost, False),
        ("saved", lambda t: t.saved_no_battery, False),
        ("saved_vs_self_consumption", lambda t: t.saved_self_consumption, True),
    )
    return tuple(
        EmsSavingsSensorEntityDescription(
            key=f"{name}_{period}",
            translation_key=f"{name}_{period}",
            month=period == "month",
            value_fn=value_fn,
            shadow=shadow,
        )
        for name, value_fn, shadow in kinds
        for period in ("today", "month")
    )


SAVINGS_SENSORS = _descriptions()


@dataclass(frozen=True, slots=True)
class SavingsStoredData(ExtraStoredData):
    """The tracker's snapshot, kept by every savings sensor."""

    snapshot: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The snapshot."""
        return self.snapshot


class EmsSavingsSensor(EmsSiteBaseEntity, RestoreEntity, SensorEntity):
    """A euro total of the site (cost or saving), for today or this month."""

    entity_description: EmsSavingsSensorEntityDescription

    def __init__(
        self,
        entry: EmsConfigEntry,
        description: EmsSavingsSensorEntityDescription,
        tracker: SavingsTracker,
    ) -> None:
        """Bind to the site and its tracker."""
        super().__init__(entry, description)
        self.tracker = tracker

    @property
    def _totals(self) -> PeriodTotals | None:
        accountant = self.tracker.accountant
        return accountant.month if self.entity_description.month else accountant.day

    @property
    def native_value(self) -> float | None:
        """Euros since the period started."""
        totals = self._totals
        return None if totals is None else round(self.entity_description.value_fn(totals), 4)

    @property
    def available(self) -> bool:
        """Unavailable until the first sample (or a restored total)."""
        return self._totals is not None

    @property
    def last_reset(self) -> datetime | None:
        """When the period started (local midnight or the first of the month)."""
        totals = self._totals
        return None if totals is None else totals.start

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Time not counted (no meter or battery value) and, for the shadow, its SOC."""
        totals = self._totals
        accountant = self.tracker.accountant
        attributes: dict[str, Any] = {
            "skipped_seconds": round(totals.skipped_seconds) if totals else 0,
            "skip_reason": accountant.skip_reason,
        }
        if self.entity_description.shadow:
            shadow = accountant.shadow
            attributes["shadow_soc"] = None if shadow is None else round(shadow.soc_pct, 1)
        return attributes

    @property
    def extra_restore_state_data(self) -> SavingsStoredData:
        """The tracker's whole snapshot (totals and shadow battery)."""
        return SavingsStoredData(self.tracker.accountant.as_dict())

    async def async_added_to_hass(self) -> None:
        """Restore the totals, follow the tracker's samples and start it."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_extra_data()) is not None:
            self.tracker.restore(last.as_dict())
        self.async_on_remove(self.tracker.add_listener(self.async_write_ha_state))
        self.tracker.start()


@callback
def async_add_savings_sensors(
    hass: HomeAssistant, entry: EmsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the site's cost and savings sensors, sharing one tracker stopped with the entry."""
    tracker = SavingsTracker(hass, entry)
    entry.async_on_unload(tracker.stop)
    async_add_entities(EmsSavingsSensor(entry, d, tracker) for d in SAVINGS_SENSORS)
