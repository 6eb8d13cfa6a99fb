"""Solar geometry and a clear-sky PV estimate, for a site without PV history yet.

Standard low-precision formulas (no dependency): Cooper's declination, Spencer's equation of
time, the hour angle from UTC and longitude. Elevation is good to about a degree, which is far
below the error of guessing a PV output from its peak power.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import math

# A clear day's PV peak relative to the installed peak power (orientation, heat, inverter).
CLEAR_SKY_PERFORMANCE = 0.75


def solar_elevation_deg(when: datetime, latitude: float, longitude: float) -> float:
    """The sun's elevation above the horizon (degrees) at an aware time and a place."""
    if when.tzinfo is None:
        raise ValueError("solar_elevation_deg needs an aware datetime")
    utc = when.astimezone(UTC)
    day = utc.timetuple().tm_yday
    hours = utc.hour + utc.minute / 60 + utc.second / 3600
    gamma = 2 * math.pi / 365 * (day - 1 + (hours - 12) / 24)  # fractional year (radians)
    declination = math.radians(23.45) * math.sin(2 * math.pi * (284 + day) / 365)
    eot_min = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    solar_hours = hours + longitude / 15 + eot_min / 60
    hour_angle = math.radians(15 * (solar_hours - 12))
    lat = math.radians(latitude)
    sin_elevation = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(
        declination
    ) * math.cos(hour_angle)
    return math.degrees(math.asin(max(-1.0, min(1.0, sin_elevation))))


def clear_sky_factor(when: datetime, latitude: float, longitude: float) -> float:
    """sin(solar elevation), 0 while the sun is below the horizon."""
    return max(0.0, math.sin(math.radians(solar_elevation_deg(when, latitude, longitude))))


def clear_sky_pv_w(
    start: datetime,
    steps: int,
    step_minutes: int,
    *,
    peak_w: float,
    latitude: float,
    longitude: float,
    performance: float = CLEAR_SKY_PERFORMANCE,
    samples: int = 3,
) -> list[float]:
    """Mean PV power (W) per step on a clear day: peak × performance × sin(elevation).

    Each step is the mean of `samples` points spread over it, so a step across sunrise gets
    part of its light. Never above `peak_w` × `performance`, never below 0.
    """
    step = timedelta(minutes=step_minutes)
    scale = peak_w * performance
    out: list[float] = []
    for k in range(steps):
        begin = start + k * step
        factors = [
            clear_sky_factor(begin + step * ((i + 0.5) / samples), latitude, longitude)
            for i in range(samples)
        ]
        out.append(round(scale * sum(factors) / samples, 1))
    return out


def usable_location(latitude: object, longitude: object) -> tuple[float, float] | None:
    """(lat, lon) when both are finite numbers in range, else None."""
    try:
        lat, lon = float(latitude), float(longitude)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    return lat, lon
