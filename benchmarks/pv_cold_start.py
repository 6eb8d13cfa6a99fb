"""Cold-start PV: the physical model (no history) against the shared house's measured PV.

A fresh install knows the PV's peak power and the site's place, nothing else. This prints how
far the clear-sky physical model (`forecast/physical.py`) is from the measured PV of
`household_fr_30min_2023-12_2024-09.csv` on its clearest days (by measured energy), and on
every day beside persistence (same time yesterday, which a fresh install does not have) and the
same model driven by the Nantes cloud cover. Assumed, as nothing in the data says it: 4.5 kWp
facing south at 35°, near Nantes (47.2 N, 1.55 W; the PV's daily centroid at about 12:15 UTC
agrees with a south roof at that longitude). A benchmark (figures), not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from ems_optimizer.forecast.physical import PvArray, physical_pv_w

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HOUSE = "household_fr_30min_2023-12_2024-09.csv"
WEATHER = "weather_nantes_hourly_2021-03_2025-05.csv"
PLACE = (47.2, -1.55)
STEPS = 48  # 30-min steps


def _days(data: Path) -> pd.DataFrame:
    """Per day: measured, clear-sky model, cloud-driven model and persistence (kWh, MAE W)."""
    house = pd.read_csv(data / HOUSE, usecols=["timestamp", "pv_w"])
    pv = pd.Series(house["pv_w"].to_numpy(), index=pd.to_datetime(house["timestamp"], utc=True))
    weather = pd.read_csv(data / WEATHER, usecols=["timestamp", "cloud_cover_pct", "temp_c"])
    weather.index = pd.to_datetime(weather["timestamp"], utc=True)
    array = PvArray(4500.0)
    rows = []
    for day in pd.date_range("2024-03-01", "2024-09-30", freq="D", tz="UTC"):
        grid = pd.date_range(day, periods=STEPS, freq="30min")
        actual = pv.reindex(grid).to_numpy()
        before = pv.reindex(grid - pd.Timedelta(days=1)).to_numpy()
        if np.isnan(actual).any() or np.isnan(before).any():
            continue
        sky = weather[["cloud_cover_pct", "temp_c"]].reindex(grid, method="ffill")
        clear = np.array(
            physical_pv_w(day, STEPS, 30, array, latitude=PLACE[0], longitude=PLACE[1])
        )
        cloudy = np.array(
            physical_pv_w(day, STEPS, 30, array, latitude=PLACE[0], longitude=PLACE[1], weather=sky)
        )
        rows.append(
            {
                "day": day.date(),
                "actual_kwh": actual.sum() / 2000,
                "clear_kwh": clear.sum() / 2000,
                "mae_clear": np.abs(clear - actual).mean(),
                "mae_cloudy": np.abs(cloudy - actual).mean(),
                "mae_persistence": np.abs(before - actual).mean(),
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    """Print the clear-day and all-day figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--clearest", type=int, default=15, help="clear days compared")
    args = parser.parse_args(argv)
    days = _days(args.data)
    top = days.nlargest(args.clearest, "actual_kwh")
    error = 100 * (top["clear_kwh"].sum() / top["actual_kwh"].sum() - 1)
    print(f"{len(days)} days, 2024-03-01 → 2024-09-30, 30-min steps")
    print(
        f"clearest {len(top)} days: measured {top['actual_kwh'].mean():.1f} kWh/day, "
        f"model {top['clear_kwh'].mean():.1f} kWh/day ({error:+.1f} %), "
        f"MAE {top['mae_clear'].mean():.0f} W"
    )
    print(
        f"every day, MAE: clear-sky model {days['mae_clear'].mean():.0f} W, "
        f"cloud-driven model {days['mae_cloudy'].mean():.0f} W, "
        f"persistence {days['mae_persistence'].mean():.0f} W"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
