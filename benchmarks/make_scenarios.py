"""Build benchmark scenarios (plan contract v1) from the real series in ../shared/data.

Series, all resampled to 15 minutes by holding each interval's mean power:
- load and PV: the French house (`household_fr_30min_2023-12_2024-09.csv`, load_base_w and pv_w,
  EMHASS project, MIT), local days of 2024 (Europe/Paris);
- prices: French day-ahead spot (`price_fr_day_ahead_hourly_2015-2021.csv`, EPEX SPOT/ENTSO-E via
  ewoken/epex-spot-data) of the same calendar day in 2020, a synthetic pairing across years.
  Import price = spot + 0.13 €/kWh (grid fees and taxes, a round figure); export price = spot;
- outdoor temperature: Nantes (`weather_nantes_hourly_2021-03_2025-05.csv`, Open-Meteo), same day;
- appliance sizes: typical values, of the order of the runs and EV sessions in the Konstanz file.

Kinds written to benchmarks/scenarios/ (file name `<kind>_<date>.json`):
- emhass:    00:00 → 24:00, a 5 kWh battery and two deferrable loads (3 kW × 4 h, 750 W × 2 h)
             modelled as water heaters with no window: the EMHASS anchor problem. Export price
             clipped at 0 (EMHASS does not curtail by default), so both models are the same problem.
- house:     12:00 → 12:00, a 10 kWh battery and every appliance type (heating ones in the heating
             season), off-peak water-heater windows, an EV arriving in the evening.
- negative:  the house on days with negative spot prices (curtailment, battery direction binaries).
- elfe:      the house planned with objective `import` (the ELFE objective), no prices needed.
- community: ELFE scale: 40 houses' load and PV, a 200 kWh site battery, 200 appliances of
             mixed types, and a site import limit.
- tight:     the community under a 60 kW import limit it cannot keep with every appliance:
             the repair path (energies reduced, appliances left out) at full scale.

Usage: .venv/bin/python benchmarks/make_scenarios.py [--data ../shared/data] [--out DIR]
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta
import json
from pathlib import Path
import random
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

PARIS = ZoneInfo("Europe/Paris")
STEP = pd.Timedelta(minutes=15)
GRID_FEE_EUR_PER_KWH = 0.13
HERE = Path(__file__).resolve().parent

EMHASS_DAYS = ["2024-03-12", "2024-04-03", "2024-04-25", "2024-05-14", "2024-06-04",
               "2024-06-19", "2024-07-09", "2024-07-30", "2024-08-20", "2024-09-10"]  # fmt: skip
HOUSE_DAYS = ["2024-03-05", "2024-03-19", "2024-04-10", "2024-05-07", "2024-06-12",
              "2024-07-17", "2024-08-07", "2024-09-04", "2024-09-18", "2024-09-25"]  # fmt: skip
NEGATIVE_DAYS = ["2024-04-13", "2024-04-20", "2024-05-23"]  # negative spot prices on 2020's day
ELFE_DAYS = ["2024-03-26", "2024-09-24"]
COMMUNITY_DAYS = ["2024-03-13", "2024-06-26", "2024-09-17"]


class Series:
    """The real series, at 15 minutes, indexed by UTC time."""

    def __init__(self, data: Path) -> None:
        house = pd.read_csv(
            data / "household_fr_30min_2023-12_2024-09.csv", parse_dates=["timestamp"]
        )
        house = house.set_index("timestamp")[["load_base_w", "pv_w"]]
        self.house = house.resample(STEP).ffill().interpolate(limit=8).fillna(0.0).clip(lower=0)
        price = pd.read_csv(
            data / "price_fr_day_ahead_hourly_2015-2021.csv", parse_dates=["timestamp"]
        )
        self.price = price.set_index("timestamp")["price_eur_per_kwh"].resample(STEP).ffill()
        weather = pd.read_csv(
            data / "weather_nantes_hourly_2021-03_2025-05.csv", parse_dates=["timestamp"]
        )
        self.temp = weather.set_index("timestamp")["temp_c"].resample(STEP).interpolate()

    def window(self, start: datetime, steps: int = 96) -> dict[str, list[float]]:
        """Load, PV, spot price (2020's same day and hour) and outdoor temperature from `start`."""
        index = pd.date_range(pd.Timestamp(start).tz_convert("UTC"), periods=steps, freq=STEP)
        shifted = index - pd.DateOffset(years=4)  # 2024 → 2020 (both leap years)
        return {
            "load_w": [
                round(float(x), 1) for x in self.house["load_base_w"].reindex(index).ffill().bfill()
            ],
            "pv_w": [round(float(x), 1) for x in self.house["pv_w"].reindex(index).fillna(0.0)],
            "spot": [round(float(x), 5) for x in self.price.reindex(shifted).ffill().bfill()],
            "temp_c": [
                round(float(x), 2) for x in self.temp.reindex(index).interpolate().ffill().bfill()
            ],
        }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _at(start: datetime, hours: float) -> str:
    return _iso((start + timedelta(hours=hours)).astimezone(PARIS))


def _base(
    start: datetime, series: dict[str, list[float]], objective: str = "cost"
) -> dict[str, Any]:
    scenario: dict[str, Any] = {
        "version": 1,
        "start": _iso(start),
        "step_minutes": 15,
        "horizon_steps": len(series["load_w"]),
        "objective": objective,
        "load_w": series["load_w"],
        "pv_w": series["pv_w"],
    }
    if objective != "import":
        scenario["import_price_eur_per_kwh"] = [
            round(p + GRID_FEE_EUR_PER_KWH, 5) for p in series["spot"]
        ]
        scenario["export_price_eur_per_kwh"] = series["spot"]
    return scenario


def emhass(data: Series, day: str) -> dict[str, Any]:
    """The EMHASS anchor: battery + two deferrable loads over one day."""
    start = datetime.fromisoformat(day).replace(tzinfo=PARIS)
    series = data.window(start)
    scenario = _base(start, series)
    scenario["export_price_eur_per_kwh"] = [max(p, 0.0) for p in series["spot"]]
    scenario["grid"] = {"import_limit_w": 9000, "export_limit_w": 9000}
    scenario["battery"] = {
        "capacity_wh": 5000, "soc_initial_pct": 30, "soc_min_pct": 30, "soc_max_pct": 90,
        "soc_final_pct": 60, "charge_max_w": 1000, "discharge_max_w": 1000,
        "charge_efficiency": 0.95, "discharge_efficiency": 0.95,
    }  # fmt: skip
    scenario["appliances"] = [
        {"id": "deferrable0", "type": "water_heater", "power_w": 3000, "energy_wh": 12000},
        {"id": "deferrable1", "type": "water_heater", "power_w": 750, "energy_wh": 1500},
    ]
    return scenario


DISHWASHER_W = [1900, 1900, 150, 150, 100, 100, 1800, 250]  # ≈1.6 kWh in 2 h
WASHER_W = [2000, 2000, 300, 300, 300, 300, 500, 200]  # ≈1.5 kWh in 2 h


def _house_appliances(
    start: datetime, temps: list[float], rng: random.Random, tag: str = ""
) -> list[dict[str, Any]]:
    """Every type, for a horizon starting at local noon."""
    heating = sum(temps) / len(temps) < 14.0
    jitter = rng.choice([0, 0.25, 0.5, 0.75, 1.0])
    appliances: list[dict[str, Any]] = [
        {"id": f"dishwasher{tag}", "type": "cycle", "profile_w": DISHWASHER_W,
         "earliest_start": _at(start, 9 + jitter), "deadline": _at(start, 19)},
        {"id": f"washer{tag}", "type": "cycle", "profile_w": WASHER_W,
         "earliest_start": _at(start, 0.5 + jitter), "deadline": _at(start, 10 + jitter)},
        {"id": f"tank{tag}", "type": "water_heater", "power_w": 2400,
         "energy_wh": rng.choice([4000, 5000, 6000]),
         "windows": [[_at(start, 10), _at(start, 18)], [_at(start, 0.5), _at(start, 4)]],
         "deadline": _at(start, 19)},
        {"id": f"car{tag}", "type": "ev", "max_power_w": 7400, "min_power_w": 1400,
         "energy_wh": rng.choice([8000, 12000, 18000]), "earliest_start": _at(start, 6 + jitter),
         "deadline": _at(start, 19), "allow_partial": True},
    ]  # fmt: skip
    if heating:
        appliances += [
            {"id": f"bedroom{tag}", "type": "pilot_wire_heater", "comfort_power_w": 1500,
             "eco_power_w": 700, "period": [_at(start, 6), _at(start, 11)], "comfort_ratio": 0.6},
            {"id": f"heatpump{tag}", "type": "thermal", "max_power_w": 3000, "cop": 3.2,
             "heat_loss_w_per_k": 120, "thermal_capacity_wh_per_k": 4000, "t_initial_c": 20.0,
             "t_min_c": 19.0, "t_max_c": 22.0, "outdoor_temp_c": temps},
        ]  # fmt: skip
    return appliances


HOUSE_BATTERY = {
    "capacity_wh": 10000, "soc_initial_pct": 40, "soc_min_pct": 10, "soc_max_pct": 95,
    "soc_final_pct": 40, "charge_max_w": 3000, "discharge_max_w": 3000,
    "charge_efficiency": 0.95, "discharge_efficiency": 0.95, "wear_cost_eur_per_kwh": 0.02,
}  # fmt: skip


def house(data: Series, day: str, objective: str = "cost", seed: int = 0) -> dict[str, Any]:
    """One house, every appliance type, noon to noon."""
    start = datetime.fromisoformat(day).replace(hour=12, tzinfo=PARIS)
    series = data.window(start)
    scenario = _base(start, series, objective)
    scenario["grid"] = {"import_limit_w": 12000, "export_limit_w": 6000}
    scenario["battery"] = dict(HOUSE_BATTERY)
    scenario["appliances"] = _house_appliances(
        start, series["temp_c"], random.Random(f"{day}{seed}")
    )
    return scenario


def community(data: Series, day: str, houses: int = 40, appliances: int = 200) -> dict[str, Any]:
    """ELFE scale: many houses' load and PV, a site battery, 200 appliances of mixed types."""
    start = datetime.fromisoformat(day).replace(hour=12, tzinfo=PARIS)
    rng = random.Random(day)
    series = data.window(start)
    load = [0.0] * 96
    pv = [0.0] * 96
    for h in range(houses):
        # each house: the same home on another day of the year, so loads do not coincide
        other = start + timedelta(days=rng.randint(-40, 40) or 1)
        other = min(
            max(other, datetime(2024, 3, 1, 12, tzinfo=PARIS)),
            datetime(2024, 9, 28, 12, tzinfo=PARIS),
        )
        window = data.window(other)
        for t in range(96):
            load[t] += window["load_w"][t]
            if h % 2 == 0:  # half the homes have PV: today's sunshine, varied sizes
                pv[t] += series["pv_w"][t] * rng.uniform(0.6, 1.4)
    series = {**series, "load_w": [round(x, 1) for x in load], "pv_w": [round(x, 1) for x in pv]}
    scenario = _base(start, series)
    scenario["grid"] = {"import_limit_w": 250000, "export_limit_w": 150000}
    scenario["battery"] = {
        "capacity_wh": 200000, "soc_initial_pct": 40, "soc_min_pct": 10, "soc_max_pct": 95,
        "soc_final_pct": 40, "charge_max_w": 100000, "discharge_max_w": 100000,
        "charge_efficiency": 0.95, "discharge_efficiency": 0.95, "wear_cost_eur_per_kwh": 0.02,
    }  # fmt: skip
    items: list[dict[str, Any]] = []
    house_index = 0
    while len(items) < appliances:
        tag = f"_{house_index:03d}"
        for item in _house_appliances(start, series["temp_c"], rng, tag):
            if len(items) < appliances:
                items.append(item)
        house_index += 1
    scenario["appliances"] = items
    return scenario


def main() -> None:
    """Write every scenario."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE / "scenarios")
    args = parser.parse_args()
    data = Series(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, dict[str, Any]]] = []
    jobs += [(f"emhass_{d}", emhass(data, d)) for d in EMHASS_DAYS]
    jobs += [(f"house_{d}", house(data, d)) for d in HOUSE_DAYS]
    jobs += [(f"negative_{d}", house(data, d)) for d in NEGATIVE_DAYS]
    jobs += [(f"elfe_{d}", house(data, d, objective="import")) for d in ELFE_DAYS]
    jobs += [(f"community_{d}", community(data, d)) for d in COMMUNITY_DAYS]
    tight = community(data, COMMUNITY_DAYS[0])
    tight["grid"]["import_limit_w"] = 60000
    jobs += [(f"tight_{COMMUNITY_DAYS[0]}", tight)]
    for name, scenario in jobs:
        (args.out / f"{name}.json").write_text(json.dumps(scenario, separators=(",", ":")) + "\n")
    print(f"wrote {len(jobs)} scenarios to {args.out} (built {date.today()})")


if __name__ == "__main__":
    main()
