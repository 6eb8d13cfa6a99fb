"""A physical PV forecast on pvlib: sun, sky, panels, heat, inverter.

For a site without PV history (a fresh install) and, with the weather, as a forecast of its own:
solar position and Ineichen clear-sky irradiance (Linke turbidity from pvlib's climatology) at
the site, the global irradiance scaled by the cloud cover (Larson et al.'s linear model:
clear × (0.35 + 0.65 × (1 − cloud)), the weather's own irradiance when it gives one), Erbs
decomposition into direct and diffuse, Hay-Davies transposition to the panels' tilt and azimuth,
Faiman cell temperature, PVWatts DC power (−0.4 %/K) with 14 % system losses, and the inverter's
AC limit. Each step is the mean of points every 5 minutes inside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
import warnings

import numpy as np
import pandas as pd
import pvlib

DEFAULT_TILT_DEG = 35.0  # a common roof
DEFAULT_AZIMUTH_DEG = 180.0  # south (pvlib: degrees east of north)
SYSTEM_LOSSES = 0.14  # soiling, wiring, mismatch, light-induced degradation (PVWatts' default)
GAMMA_PDC = -0.004  # power temperature coefficient, 1/K (crystalline silicon)
CLOUD_OFFSET = 0.35  # share of the clear-sky irradiance left under a full overcast
SAMPLE_MINUTES = 5


@dataclass(frozen=True)
class PvArray:
    """The panels: peak power (W, DC at STC), orientation, and the inverter's AC limit."""

    peak_w: float
    tilt_deg: float = DEFAULT_TILT_DEG
    azimuth_deg: float = DEFAULT_AZIMUTH_DEG
    inverter_w: float | None = None  # None: the peak power

    @classmethod
    def of(cls, peak_w: float, options: Mapping[str, object] | None = None) -> PvArray:
        """An array from a peak power and the optional orientation options.

        ``pv_tilt_deg``, ``pv_azimuth_deg`` and ``pv_inverter_w``: missing or out of range, the
        defaults.
        """
        options = options or {}
        return cls(
            peak_w=float(peak_w),
            tilt_deg=number_in(options.get("pv_tilt_deg"), 0.0, 90.0, DEFAULT_TILT_DEG),
            azimuth_deg=number_in(options.get("pv_azimuth_deg"), 0.0, 360.0, DEFAULT_AZIMUTH_DEG),
            inverter_w=number_in(options.get("pv_inverter_w"), 1.0, 1e7, None),
        )


def number_in(value: object, low: float, high: float, default: float | None) -> float | None:
    """`value` as a finite number within [low, high], else `default`."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if np.isfinite(number) and low <= number <= high else default


def physical_pv_w(
    start: datetime,
    steps: int,
    step_minutes: int,
    array: PvArray,
    *,
    latitude: float,
    longitude: float,
    altitude_m: float = 0.0,
    weather: pd.DataFrame | None = None,
) -> list[float]:
    """Mean AC power (W) per step from ``start``.

    ``weather`` (optional, indexed by the step starts): ``cloud_cover_pct``, ``temp_c``,
    ``ghi_w_per_m2``; a missing column or value means a clear sky at 20 °C.
    """
    if start.tzinfo is None:
        raise ValueError("physical_pv_w needs an aware start time")
    with warnings.catch_warnings():
        # pvlib 0.16.1 still calls DatetimeIndex.dayofyear, which pandas 3 deprecates
        warnings.filterwarnings("ignore", message=".*dayofyear is deprecated", module="pvlib")
        return _physical(
            start,
            steps,
            step_minutes,
            array,
            place=(latitude, longitude, altitude_m),
            weather=weather,
        )


def _physical(
    start: datetime,
    steps: int,
    step_minutes: int,
    array: PvArray,
    *,
    place: tuple[float, float, float],
    weather: pd.DataFrame | None,
) -> list[float]:
    """The work of physical_pv_w."""
    latitude, longitude, altitude_m = place
    per_step = max(1, step_minutes // SAMPLE_MINUTES)
    offsets = (np.arange(per_step) + 0.5) * step_minutes / per_step
    begin = pd.Timestamp(start).tz_convert("UTC")
    minutes = (np.arange(steps)[:, None] * step_minutes + offsets[None, :]).ravel()
    times = pd.DatetimeIndex(begin + pd.to_timedelta(minutes, unit="min"))
    site = pvlib.location.Location(latitude, longitude, tz="UTC", altitude=altitude_m)
    sun = site.get_solarposition(times)
    clear = site.get_clearsky(times, model="ineichen", solar_position=sun)
    cloud, temp, ghi_given = _weather_at(weather, steps, per_step)
    ghi = clear["ghi"].to_numpy() * (CLOUD_OFFSET + (1 - CLOUD_OFFSET) * (1 - cloud / 100))
    ghi = np.where(np.isnan(ghi_given), ghi, ghi_given)
    parts = pvlib.irradiance.erbs(ghi, sun["zenith"].to_numpy(), times)
    poa = pvlib.irradiance.get_total_irradiance(
        array.tilt_deg,
        array.azimuth_deg,
        sun["apparent_zenith"].to_numpy(),
        sun["azimuth"].to_numpy(),
        dni=np.nan_to_num(parts["dni"]),
        ghi=ghi,
        dhi=np.nan_to_num(parts["dhi"]),
        dni_extra=pvlib.irradiance.get_extra_radiation(times).to_numpy(),
        model="haydavies",
    )["poa_global"]
    poa = np.clip(np.nan_to_num(np.asarray(poa, dtype=float)), 0.0, None)
    cell = pvlib.temperature.faiman(poa, temp)
    dc = pvlib.pvsystem.pvwatts_dc(poa, cell, array.peak_w, GAMMA_PDC) * (1 - SYSTEM_LOSSES)
    limit = array.inverter_w or array.peak_w
    ac = np.clip(pvlib.inverter.pvwatts(np.asarray(dc), limit / 0.96), 0.0, limit)
    means = np.asarray(ac, dtype=float).reshape(steps, per_step).mean(axis=1)
    return [round(float(w), 1) for w in means]


def _weather_at(
    weather: pd.DataFrame | None, steps: int, per_step: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cloud cover (%), air temperature (°C) and a given GHI (NaN: none) per sample point."""
    cloud = np.zeros(steps)
    temp = np.full(steps, 20.0)
    ghi = np.full(steps, np.nan)
    if weather is not None and len(weather) >= steps:
        if "cloud_cover_pct" in weather:
            cloud = np.nan_to_num(weather["cloud_cover_pct"].to_numpy(float)[:steps], nan=0.0)
        if "temp_c" in weather:
            temp = np.nan_to_num(weather["temp_c"].to_numpy(float)[:steps], nan=20.0)
        if "ghi_w_per_m2" in weather:
            ghi = weather["ghi_w_per_m2"].to_numpy(float)[:steps]
    repeat = [
        np.repeat(np.clip(x, lo, hi), per_step)
        for x, lo, hi in ((cloud, 0.0, 100.0), (temp, -40.0, 60.0), (ghi, 0.0, 1400.0))
    ]
    return repeat[0], repeat[1], repeat[2]


def usable_location(latitude: object, longitude: object) -> tuple[float, float] | None:
    """(lat, lon) when both are finite numbers in range, else None."""
    lat = number_in(latitude, -90.0, 90.0, None)
    lon = number_in(longitude, -180.0, 180.0, None)
    return None if lat is None or lon is None else (lat, lon)


@dataclass(frozen=True)
class PvSite:
    """Where the panels are and what they are: enough for the physical model."""

    latitude: float
    longitude: float
    array: PvArray
    altitude_m: float = 0.0


@lru_cache(maxsize=4096)
def _clear_day(site: PvSite, start_iso: str, steps: int, step_minutes: int) -> tuple[float, ...]:
    """One day's clear-sky AC power (W per step); kept, since every re-plan asks again."""
    start = datetime.fromisoformat(start_iso)
    return tuple(
        physical_pv_w(
            start,
            steps,
            step_minutes,
            site.array,
            latitude=site.latitude,
            longitude=site.longitude,
            altitude_m=site.altitude_m,
        )
    )


def clear_sky_days(site: PvSite, days: np.ndarray, tz: tzinfo, step_minutes: int) -> np.ndarray:
    """Days × slots of clear-sky AC power, each row the local day `days[k]` in `tz` (fixed)."""
    slots = 1440 // step_minutes
    rows = [
        _clear_day(
            site,
            pd.Timestamp(day).tz_localize(tz).isoformat(),
            slots,
            step_minutes,
        )
        for day in days
    ]
    return np.asarray(rows, dtype=float).reshape(len(days), slots)
