"""Flexible appliances: their configuration, the household's request, and their contract v1 form.

Pure logic (no entity, no service call): the plan manager, the problem builder, the config flow
and the entities all read appliances through this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
import math
import re
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigSubentry

from .const import (
    CONF_ALLOW_PARTIAL,
    CONF_APPLIANCE_TYPE,
    CONF_COMFORT_OPTION,
    CONF_COMFORT_POWER_W,
    CONF_COMFORT_RATIO,
    CONF_COP,
    CONF_DURATION_MIN,
    CONF_ECO_OPTION,
    CONF_ECO_POWER_W,
    CONF_ENERGY_WH,
    CONF_FINISH_BY,
    CONF_HEAT_LOSS,
    CONF_INDOOR_TEMP_ENTITY,
    CONF_MAX_POWER_W,
    CONF_MIN_POWER_W,
    CONF_OUTDOOR_TEMP_ENTITY,
    CONF_POWER_W,
    CONF_PROFILE_STEP_MIN,
    CONF_PROFILE_W,
    CONF_SWITCH_ENTITY,
    CONF_T_MAX,
    CONF_T_MIN,
    CONF_THERMAL_CAPACITY,
    CONF_UID,
    CONF_WINDOWS,
    DEADLINE_KINDS,
    ENERGY_KINDS,
    SUBENTRY_APPLIANCE,
)
from .core.contract import (
    MAX_APPLIANCE_POWER_W,
    MAX_PROFILE_VALUES,
    MAX_REQUEST_ENERGY_WH,
    check_number,
    format_time,
)

type Window = tuple[time, time]

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


# --- parsing of what the user typed ---------------------------------------------------------


def parse_windows(text: str | None) -> list[Window]:
    """Daily windows from "22:00-06:00, 12:00-14:00"; ValueError if malformed. "" is none."""
    windows: list[Window] = []
    for part in re.split(r"[,;]", text or ""):
        if not part.strip():
            continue
        match = _WINDOW.match(part)
        if match is None:
            raise ValueError(f"expected HH:MM-HH:MM, got {part.strip()!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"not a time of day in {part.strip()!r}")
        start, end = time(h1, m1), time(0, 0) if h2 == 24 else time(h2, m2)
        if start == end:
            raise ValueError(f"empty window {part.strip()!r}")
        windows.append((start, end))
    return windows


def parse_profile(text: str | None) -> list[float]:
    """A power profile from "400, 2000 2000; 150" (W); ValueError if malformed, empty or absurd."""
    parts = [p for p in re.split(r"[\s,;]+", text or "") if p]
    if not parts:
        raise ValueError("no value")
    if len(parts) > MAX_PROFILE_VALUES:
        raise ValueError(f"more than {MAX_PROFILE_VALUES} values")
    values = []
    for part in parts:
        value = float(part)
        if not math.isfinite(value) or not 0 <= value <= MAX_APPLIANCE_POWER_W:
            raise ValueError(f"{part[:20]} is not a power in [0, {MAX_APPLIANCE_POWER_W:.0f}] W")
        values.append(value)
    return values


def parse_time_of_day(value: Any) -> time | None:
    """A time of day ("07:00" or "07:00:00", as a time selector stores it); None if empty."""
    if value in (None, ""):
        return None
    if isinstance(value, time):
        return value
    return time.fromisoformat(str(value))


# --- calendar arithmetic ----------------------------------------------------------------------


def next_time_of_day(at: time, now: datetime, tz: tzinfo) -> datetime:
    """The first moment after ``now`` when the local clock shows ``at`` (in ``tz``).

    Compared in UTC: aware datetimes sharing a zone compare by wall clock (wrong across DST).
    On the fall-back night a time shown twice is due at its next occurrence (either one); a time
    skipped in spring is taken with the offset before the change (02:30 is 03:30 summer time).
    """
    now_utc = now.astimezone(UTC)
    day = now_utc.astimezone(tz).date()
    moments: list[datetime] = []
    for date in (day, day + timedelta(days=1)):
        naive = datetime.combine(date, at)
        occurrences = [
            moment
            for fold in (0, 1)
            if (moment := naive.replace(tzinfo=tz, fold=fold).astimezone(UTC))
            .astimezone(tz)
            .replace(tzinfo=None)
            == naive
        ]
        moments.extend(occurrences or [naive.replace(tzinfo=tz).astimezone(UTC)])
    return min(m for m in moments if m > now_utc).astimezone(tz)


def in_windows(moment: datetime, windows: list[Window], tz: tzinfo) -> bool:
    """Whether the local time of ``moment`` falls in one of the daily windows."""
    clock = moment.astimezone(tz).time().replace(tzinfo=None)
    for start, end in windows:
        if start < end:
            if start <= clock < end:
                return True
        elif clock >= start or clock < end:
            return True
    return False


def windows_between(
    windows: list[Window], start: datetime, end: datetime, tz: tzinfo
) -> list[tuple[datetime, datetime]]:
    """The daily windows as concrete intervals (UTC), clipped to [start, end], merged, sorted."""
    intervals: list[tuple[datetime, datetime]] = []
    # Compared in UTC: aware datetimes sharing a zone compare by wall clock (wrong across DST).
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    while day <= last:
        for w_start, w_end in windows:
            begin = datetime.combine(day, w_start, tzinfo=tz).astimezone(UTC)
            finish_day = day if w_start < w_end else day + timedelta(days=1)
            finish = datetime.combine(finish_day, w_end, tzinfo=tz).astimezone(UTC)
            begin, finish = max(begin, start), min(finish, end)
            if finish > begin:
                intervals.append((begin, finish))
        day += timedelta(days=1)
    intervals.sort()
    merged: list[tuple[datetime, datetime]] = []
    for begin, finish in intervals:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def resample_profile(values: list[float], from_minutes: float, to_minutes: float) -> list[float]:
    """Average a stepwise power profile onto another step, keeping its energy.

    The last step is averaged over the full step, so a 50 min cycle on 15 min steps becomes
    4 values whose energy is the cycle's.
    """
    total = len(values) * from_minutes
    count = max(1, math.ceil(total / to_minutes - 1e-9))
    out = []
    for k in range(count):
        low, high = k * to_minutes, (k + 1) * to_minutes
        energy = 0.0  # W·min
        first = int(low // from_minutes)
        for i in range(first, len(values)):
            seg_low, seg_high = i * from_minutes, (i + 1) * from_minutes
            if seg_low >= high:
                break
            overlap = min(high, seg_high) - max(low, seg_low)
            if overlap > 0:
                energy += values[i] * overlap
        out.append(round(energy / to_minutes, 3))
    return out


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ApplianceConfig:
    """An appliance subentry, read once."""

    uid: str
    subentry_id: str
    name: str
    kind: str
    switch_entity: str
    data: Mapping[str, Any]

    @classmethod
    def from_subentry(cls, subentry: ConfigSubentry) -> ApplianceConfig:
        """Read an appliance subentry."""
        data = subentry.data
        return cls(
            uid=str(data.get(CONF_UID) or subentry.subentry_id),
            subentry_id=subentry.subentry_id,
            name=subentry.title,
            kind=data[CONF_APPLIANCE_TYPE],
            switch_entity=data[CONF_SWITCH_ENTITY],
            data=data,
        )

    @property
    def has_deadline(self) -> bool:
        """Whether the household gives it a "finish by"."""
        return self.kind in DEADLINE_KINDS

    @property
    def has_energy(self) -> bool:
        """Whether the household gives it an "energy needed"."""
        return self.kind in ENERGY_KINDS

    @property
    def default_finish_by(self) -> time | None:
        """The configured daily finish-by time."""
        return parse_time_of_day(self.data.get(CONF_FINISH_BY))

    @property
    def default_energy_wh(self) -> float:
        """The energy needed when the household asked for nothing else."""
        return float(self.data.get(CONF_ENERGY_WH) or 0)

    @property
    def windows(self) -> list[Window]:
        """Allowed daily windows (stored validated)."""
        return parse_windows(self.data.get(CONF_WINDOWS))

    @property
    def comfort_threshold_w(self) -> float:
        """Pilot wire: above this planned power the heater is in comfort."""
        comfort = float(self.data.get(CONF_COMFORT_POWER_W) or 0)
        eco = float(self.data.get(CONF_ECO_POWER_W) or 0)
        return (comfort + eco) / 2

    @property
    def run_threshold_w(self) -> float:
        """A planned power above this is a run (calendar event, switch on)."""
        return self.comfort_threshold_w if self.kind == "pilot_wire_heater" else 1.0

    @property
    def comfort_option(self) -> str:
        """Pilot wire: the select option for comfort."""
        return str(self.data.get(CONF_COMFORT_OPTION) or "comfort")

    @property
    def eco_option(self) -> str:
        """Pilot wire: the select option for eco."""
        return str(self.data.get(CONF_ECO_OPTION) or "eco")

    @property
    def indoor_temperature_entity(self) -> str | None:
        """Thermal: the room temperature sensor."""
        return self.data.get(CONF_INDOOR_TEMP_ENTITY)

    @property
    def outdoor_temperature_entity(self) -> str | None:
        """Thermal: the outdoor temperature sensor (else the site's weather entity)."""
        return self.data.get(CONF_OUTDOOR_TEMP_ENTITY)

    def profile_w(self, step_minutes: int) -> list[float]:
        """A cycle's power per plan step, from its profile or its power and duration."""
        if self.data.get(CONF_PROFILE_W):
            values = parse_profile(self.data[CONF_PROFILE_W])
            from_minutes = float(self.data.get(CONF_PROFILE_STEP_MIN) or 1)
        else:
            values = [float(self.data[CONF_POWER_W])]
            from_minutes = float(self.data[CONF_DURATION_MIN])
        return resample_profile(values, from_minutes, step_minutes)


def appliances_of(entry: ConfigEntry) -> dict[str, ApplianceConfig]:
    """The appliances of a site, by uid."""
    out: dict[str, ApplianceConfig] = {}
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_APPLIANCE:
            appliance = ApplianceConfig.from_subentry(subentry)
            out[appliance.uid] = appliance
    return out


# --- the household's request ------------------------------------------------------------------


@dataclass(kw_only=True)
class ApplianceRequest:
    """What the household asked: may ems schedule it, done by when, how much energy.

    ``finish_by`` and ``energy_wh`` override the configured defaults until ``expires`` (the
    deadline they were given for, or one plan horizon for an energy with no deadline at all);
    then the defaults apply again.
    """

    enabled: bool
    finish_by: datetime | None = None
    energy_wh: float | None = None
    expires: datetime | None = None
    last_start: datetime | None = None  # the last run ems started (cycles)

    @classmethod
    def default(cls, appliance: ApplianceConfig) -> ApplianceRequest:
        """A cycle waits to be loaded; other loads are scheduled from their defaults."""
        return cls(enabled=appliance.kind != "cycle")

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the Store."""

        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "enabled": self.enabled,
            "finish_by": iso(self.finish_by),
            "energy_wh": self.energy_wh,
            "expires": iso(self.expires),
            "last_start": iso(self.last_start),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApplianceRequest:
        """Read the Store's JSON form; ValueError for an absurd energy (stored by old versions)."""

        def moment(value: Any) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)

        energy = data.get("energy_wh")
        return cls(
            enabled=bool(data.get("enabled")),
            finish_by=moment(data.get("finish_by")),
            energy_wh=None if energy is None else check_number(energy, 0, MAX_REQUEST_ENERGY_WH),
            expires=moment(data.get("expires")),
            last_start=moment(data.get("last_start")),
        )

    def finish_by_at(
        self, appliance: ApplianceConfig, now: datetime, tz: tzinfo
    ) -> datetime | None:
        """The deadline in force: the household's, else the next default finish-by time."""
        if self.finish_by is not None and self.finish_by > now:
            return self.finish_by
        if (default := appliance.default_finish_by) is None:
            return None
        return next_time_of_day(default, now, tz)

    def energy_at(self, appliance: ApplianceConfig, now: datetime) -> float:
        """The energy needed in force (Wh)."""
        if self.energy_wh is not None and (self.expires is None or self.expires > now):
            return self.energy_wh
        return appliance.default_energy_wh

    def expire(self, now: datetime) -> bool:
        """Drop the household's overrides once their deadline passed; True if it changed."""
        if self.expires is None or self.expires > now:
            return False
        self.finish_by = self.energy_wh = self.expires = None
        return True


# --- contract v1 ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Horizon:
    """What a scenario appliance is built against."""

    appliance: ApplianceConfig
    request: ApplianceRequest
    start: datetime
    end: datetime
    step_minutes: int
    steps: int
    now: datetime
    tz: tzinfo
    temperatures: tuple[float | None, float | None]

    def local_windows(self) -> list[tuple[datetime, datetime]]:
        """The appliance's allowed hours inside the horizon."""
        windows = self.appliance.windows
        return windows_between(windows, self.start, self.end, self.tz) if windows else []


def _cycle(h: _Horizon) -> dict[str, Any] | None:
    return {"profile_w": h.appliance.profile_w(h.step_minutes)}


def _water_heater(h: _Horizon) -> dict[str, Any] | None:
    out: dict[str, Any] = {
        "power_w": float(h.appliance.data[CONF_POWER_W]),
        "energy_wh": h.request.energy_at(h.appliance, h.now),
    }
    if h.appliance.windows:
        out["windows"] = [
            [format_time(a.astimezone(h.tz)), format_time(b.astimezone(h.tz))]
            for a, b in h.local_windows()
        ]
    return out


def _ev(h: _Horizon) -> dict[str, Any] | None:
    data = h.appliance.data
    return {
        "max_power_w": float(data[CONF_MAX_POWER_W]),
        "min_power_w": float(data.get(CONF_MIN_POWER_W) or 0),
        "energy_wh": h.request.energy_at(h.appliance, h.now),
        "allow_partial": bool(data.get(CONF_ALLOW_PARTIAL, True)),
    }


def _pilot_wire_heater(h: _Horizon) -> dict[str, Any] | None:
    data = h.appliance.data
    out: dict[str, Any] = {
        "comfort_power_w": float(data[CONF_COMFORT_POWER_W]),
        "eco_power_w": float(data[CONF_ECO_POWER_W]),
        "comfort_ratio": float(data[CONF_COMFORT_RATIO]) / 100,
    }
    if h.appliance.windows:
        periods = h.local_windows()
        if not periods:
            return None
        # One period per scenario: the longest stretch of allowed hours in the horizon.
        first, last = max(periods, key=lambda p: p[1] - p[0])
        out["period"] = [format_time(first.astimezone(h.tz)), format_time(last.astimezone(h.tz))]
    return out


def _thermal(h: _Horizon) -> dict[str, Any] | None:
    indoor, outdoor = h.temperatures
    if indoor is None or outdoor is None:
        return None
    data = h.appliance.data
    return {
        "max_power_w": float(data[CONF_MAX_POWER_W]),
        "cop": float(data[CONF_COP]),
        "heat_loss_w_per_k": float(data[CONF_HEAT_LOSS]),
        "thermal_capacity_wh_per_k": float(data[CONF_THERMAL_CAPACITY]),
        "t_initial_c": float(indoor),
        "t_min_c": float(data[CONF_T_MIN]),
        "t_max_c": float(data[CONF_T_MAX]),
        "outdoor_temp_c": [float(outdoor)] * h.steps,
    }


# The fields of each appliance type in a scenario (None: nothing to plan now).
_FIELDS: dict[str, Callable[[_Horizon], dict[str, Any] | None]] = {
    "cycle": _cycle,
    "water_heater": _water_heater,
    "ev": _ev,
    "pilot_wire_heater": _pilot_wire_heater,
    "thermal": _thermal,
}


def contract_appliance(
    appliance: ApplianceConfig,
    request: ApplianceRequest,
    *,
    start: datetime,
    step_minutes: int,
    steps: int,
    now: datetime,
    tz: tzinfo,
    temperatures: tuple[float | None, float | None] = (None, None),
) -> dict[str, Any] | None:
    """The appliance as a scenario appliance of contract v1, or None if it has nothing to do.

    ``temperatures`` is (indoor, outdoor) in °C for thermal loads; the outdoor value is repeated
    over the horizon (the add-on may replace it with a forecast).
    """
    if not request.enabled:
        return None
    end = start.astimezone(UTC) + timedelta(minutes=step_minutes * steps)  # absolute time
    deadline: datetime | None = None
    if appliance.has_deadline:
        finish_by = request.finish_by_at(appliance, now, tz)
        if finish_by is None or finish_by <= now:
            return None
        deadline = min(finish_by, end).astimezone(tz)
    if appliance.has_energy and request.energy_at(appliance, now) <= 0:
        return None
    horizon = _Horizon(
        appliance=appliance,
        request=request,
        start=start,
        end=end,
        step_minutes=step_minutes,
        steps=steps,
        now=now,
        tz=tz,
        temperatures=temperatures,
    )
    fields = _FIELDS[appliance.kind](horizon)
    if fields is None:
        return None
    out: dict[str, Any] = {"id": appliance.uid, "type": appliance.kind, **fields}
    if deadline is not None:
        out["deadline"] = format_time(deadline)
    return out
