"""Closed-loop benchmark: `ems-optimizer simulate` on a few weeks of the shared French household.

History: `household_fr_30min_2023-12_2024-09.csv` (`load_base_w` as the load, `pv_w`), from
2024-02-28 (where base load and PV start). Prices (`--prices`): `tariff`, the French
peak/off-peak tariff the demo uses (0.2516 €/kWh, off-peak 0.1828 €/kWh 22:00–06:00
Europe/Paris, export 0.04 €/kWh); or `day-ahead`, the French day-ahead spot of the same hour in
2020 (a synthetic pairing across years, as in make_scenarios.py), import = spot + 0.13 €/kWh,
export = spot. Battery:
10 kWh, 5 kW, 10–95 %, 95 % each way, starting at 50 %. Prints a table: strategy, cost €, share
of the perfect-foresight value captured, and for the planned strategies the flapping (plans that
kept the previous one, running-step changes, direction flips per plan). A benchmark (figures),
not a test; results in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import tempfile
import time

import pandas as pd

from benchmarks.make_scenarios import GRID_FEE_EUR_PER_KWH  # the same pairing as the scenarios
from ems_optimizer.cli import main as cli_main

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HOUSEHOLD = "household_fr_30min_2023-12_2024-09.csv"
WINTER = "household_fr_load_30min_2022-06_2023-02.csv"  # the same house's load, no PV
PEAK, OFF_PEAK, EXPORT = 0.2516, 0.1828, 0.04
SPOT = "price_fr_day_ahead_hourly_2015-2021.csv"
TZ = "Europe/Paris"
SITE = {
    "battery": {
        "capacity_wh": 10000,
        "soc_initial_pct": 50,
        "soc_min_pct": 10,
        "soc_max_pct": 95,
        "charge_max_w": 5000,
        "discharge_max_w": 5000,
        "charge_efficiency": 0.95,
        "discharge_efficiency": 0.95,
    },
    "grid": {"import_limit_w": 9000, "export_limit_w": 6000},
    # what the forecast knows of the place (assumed, as in forecast_backtest.py)
    "forecast": {"latitude": 47.2, "longitude": -1.55, "pv_peak_w": 4500, "country": "FR"},
}


def _day_ahead(data: Path, hours: pd.DatetimeIndex) -> pd.DataFrame:
    """Import and export prices from the 2020 spot price of the same hour (UTC, → 2020)."""
    spot = pd.read_csv(data / SPOT, usecols=["timestamp", "price_eur_per_kwh"])
    spot.index = pd.to_datetime(spot["timestamp"], utc=True)
    utc = hours.tz_convert("UTC")
    back = pd.DateOffset(years=utc[0].year - 2020)
    paired = spot["price_eur_per_kwh"].reindex(utc - back).ffill().bfill()
    return pd.DataFrame(
        {
            "timestamp": [t.isoformat() for t in hours],
            "import_price_eur_per_kwh": (paired.to_numpy() + GRID_FEE_EUR_PER_KWH).round(5),
            "export_price_eur_per_kwh": paired.to_numpy().round(5),
        }
    )


def build_inputs(
    data: Path, folder: Path, prices: str = "tariff", house: str = "2024"
) -> tuple[Path, Path, Path]:
    """Write H.csv, P.csv and SITE.json from the shared data into `folder`.

    ``house``: ``2024`` (load and PV, from 2024-02-28) or ``2022`` (the 2022-06 → 2023-02 load,
    no PV: a winter where only arbitrage and the load count).
    """
    if house == "2022":
        frame = pd.read_csv(data / WINTER, dtype={"timestamp": str})
        frame["pv_w"] = 0.0
        first, end = "2022-06-21", "2023-02-17"
    else:
        frame = pd.read_csv(data / HOUSEHOLD, dtype={"timestamp": str})
        frame = frame[frame["timestamp"] >= "2024-02-28"]
        first, end = "2024-02-28", "2024-10-01"
    history = folder / "history.csv"
    frame.rename(columns={"load_base_w": "load_w"})[["timestamp", "load_w", "pv_w"]].to_csv(
        history, index=False
    )
    hours = pd.date_range(first, end, freq="h", tz=TZ, inclusive="left")
    if prices == "day-ahead":
        table = _day_ahead(data, hours)
    else:
        off = (hours.hour >= 22) | (hours.hour < 6)
        table = pd.DataFrame(
            {
                "timestamp": [t.isoformat() for t in hours],
                "import_price_eur_per_kwh": [OFF_PEAK if o else PEAK for o in off],
                "export_price_eur_per_kwh": EXPORT,
            }
        )
    price_file = folder / "prices.csv"
    table.to_csv(price_file, index=False)
    site = folder / "site.json"
    site.write_text(json.dumps(SITE), encoding="utf-8")
    return history, price_file, site


def main(argv: list[str] | None = None) -> int:
    """Build the inputs, run `simulate`, print the table and the runtime."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--from", dest="first", default="2024-05-06", help="first day")
    parser.add_argument("--days", type=int, default=14, help="days simulated (default 14)")
    parser.add_argument("--step-minutes", type=int, default=60)
    parser.add_argument("--prices", choices=("tariff", "day-ahead"), default="tariff")
    parser.add_argument(
        "--house", choices=("2024", "2022"), default="2024", help="2022: winter load, no PV"
    )
    parser.add_argument("--time-limit", type=float, default=5.0, help="solver limit per plan, s")
    parser.add_argument("-o", "--output", help="keep the simulation JSON here")
    parser.add_argument("--chart", help="write the HTML chart here")
    args = parser.parse_args(argv)
    last = (pd.Timestamp(args.first) + pd.Timedelta(days=args.days - 1)).date().isoformat()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        history, prices, site = build_inputs(args.data, folder, args.prices, args.house)
        output = args.output or str(folder / "out.json")
        command = ["simulate", "--history", str(history), "--prices", str(prices)]
        command += ["--site", str(site), "--from", args.first, "--to", last, "--timezone", TZ]
        command += ["--step-minutes", str(args.step_minutes), "--time-limit", str(args.time_limit)]
        command += ["-o", output] + (["--chart", args.chart] if args.chart else [])
        began = time.monotonic()
        code = cli_main(command)
        elapsed = time.monotonic() - began
    print(
        f"{args.days} days from {args.first}, {args.step_minutes}-min steps, re-planned every "
        f"step, {elapsed:.0f} s",
        file=sys.stderr,
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
