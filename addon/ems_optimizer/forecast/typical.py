"""Cold-start load: a typical household's profile scaled to the site's annual consumption.

Before the site has a day of load history the plan still needs a load with its shape: the
morning and evening peaks, the night's base, weekends, the season. The profile is the BDEW's
household standard load profile H25 (per month, for workdays, Saturdays, and Sundays or public
holidays, per quarter hour), the reference profile of European retail supply, scaled so that a
year sums to the annual consumption the user gave.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from .core import off_days
from .grid import TimeZone

PROFILE = "household_profile_bdew_h25.csv"
PROFILE_YEAR_KWH = 1_000_000.0  # the table's energies are for this annual consumption
QUARTER_H = 0.25


@cache
def _table() -> pd.DataFrame:
    """The profile table: quarter × (month, day type), kWh per quarter hour."""
    with resources.files(__package__).joinpath("data", PROFILE).open(encoding="utf-8") as f:
        return pd.read_csv(f, comment="#", index_col="quarter")


def typical_load_w(
    grid: pd.DatetimeIndex,
    step_minutes: int,
    *,
    annual_kwh: float,
    tz: TimeZone,
    country: str | None = None,
) -> np.ndarray:
    """Mean W per step of the typical household using `annual_kwh` a year.

    Local time of `tz` decides the quarter, the month and the day type (public holidays of
    `country` count as Sundays).
    """
    if not np.isfinite(annual_kwh) or annual_kwh <= 0:
        raise ValueError(f"annual consumption must be a positive number of kWh, got {annual_kwh}")
    quarters = max(1, step_minutes // 15)
    offsets = pd.to_timedelta(np.tile(np.arange(quarters) * 15, len(grid)), unit="min")
    times = pd.DatetimeIndex(grid.repeat(quarters) + offsets).tz_convert(tz)
    days = np.asarray(times.tz_localize(None).normalize(), dtype="datetime64[D]")
    weekday = np.asarray(times.day_of_week)
    holiday = off_days(days, country) & (weekday < 5)
    kind = np.where(
        (weekday == 6) | holiday, "sunday", np.where(weekday == 5, "saturday", "workday")
    )
    columns = [f"{m}_{k}" for m, k in zip(np.asarray(times.month), kind, strict=True)]
    quarter = np.asarray(times.hour * 4 + times.minute // 15)
    table = _table()
    kwh = table.to_numpy()[quarter, table.columns.get_indexer(columns)]
    watts = kwh / QUARTER_H * 1000.0 * annual_kwh / PROFILE_YEAR_KWH
    return watts.reshape(len(grid), quarters).mean(axis=1)
