"""A synthetic community built from real series: members with realistic variety.

Every member is the measured French house of `../shared/data` on another day of the season (so
loads do not coincide), scaled (0.5–2×) and shifted in time (±2 h: other habits); about half have
PV (today's sunshine, 3–9 kWp: neighbours share the sky), about a third a battery, and each 1–4
flexible appliances (washer, dishwasher, water heater, EV) with their own windows. Prices: the
French day-ahead spot price of the same day in 2020 (a synthetic pairing across years) + a
0.13 €/kWh grid fee; export at spot. Optionally one community PV plant, a member of its own.
Deterministic for a seed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import math
from pathlib import Path
import random
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

PARIS = ZoneInfo("Europe/Paris")
STEP = pd.Timedelta(minutes=15)
STEPS = 96
GRID_FEE_EUR_PER_KWH = 0.13
HOUSE_PV_KWP = 4.5  # the measured house's array
PLANT_KWP_PER_MEMBER = 1.0
PLANT_MAX_KWP = 250.0  # a larger community has several plants
DISHWASHER_W = [1900, 1900, 150, 150, 100, 100, 1800, 250]  # ≈1.6 kWh in 2 h
WASHER_W = [2000, 2000, 300, 300, 300, 300, 500, 200]  # ≈1.5 kWh in 2 h
FIRST_DAY, LAST_DAY = (
    datetime(2024, 3, 1, 12, tzinfo=PARIS),
    datetime(2024, 9, 28, 12, tzinfo=PARIS),
)


class Data:
    """The shared series at 15 minutes (UTC index): the house's load and PV, the spot price."""

    def __init__(self, folder: Path) -> None:
        house = pd.read_csv(
            folder / "household_fr_30min_2023-12_2024-09.csv", parse_dates=["timestamp"]
        ).set_index("timestamp")[["load_base_w", "pv_w"]]
        self.house = house.resample(STEP).ffill().interpolate(limit=8).fillna(0.0).clip(lower=0)
        price = pd.read_csv(
            folder / "price_fr_day_ahead_hourly_2015-2021.csv", parse_dates=["timestamp"]
        ).set_index("timestamp")["price_eur_per_kwh"]
        self.spot = price.resample(STEP).ffill()

    def series(self, column: str, start: datetime, shift_steps: int = 0) -> list[float]:
        """`column` over the horizon from `start`, read `shift_steps` later (held at the ends)."""
        index = pd.date_range(pd.Timestamp(start).tz_convert("UTC"), periods=STEPS, freq=STEP)
        values = self.house[column].reindex(index + shift_steps * STEP).ffill().bfill()
        return [round(float(x), 1) for x in values.fillna(0.0)]

    def prices(self, start: datetime) -> list[float]:
        """The spot price of the same day and hour in 2020 (2024 and 2020 are both leap years)."""
        index = pd.date_range(pd.Timestamp(start).tz_convert("UTC"), periods=STEPS, freq=STEP)
        values = self.spot.reindex(index - pd.DateOffset(years=4)).ffill().bfill()
        return [round(float(x), 5) for x in values]


def _at(start: datetime, hours: float) -> str:
    return (start + timedelta(hours=hours)).isoformat(timespec="seconds")


def _appliances(start: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """1–4 of a washer, a dishwasher, a water heater and an EV, each with its own habits."""
    late = rng.choice([0.0, 0.5, 1.0, 2.0])
    catalogue: list[dict[str, Any]] = [
        {"id": "washer", "type": "cycle", "profile_w": WASHER_W,
         "earliest_start": _at(start, rng.choice([0.0, 1.0, 8.0])),
         "deadline": _at(start, rng.choice([10.0, 19.0, 22.0]))},
        {"id": "dishwasher", "type": "cycle", "profile_w": DISHWASHER_W,
         "earliest_start": _at(start, 9 + late), "deadline": _at(start, 19 + late)},
        {"id": "water_heater", "type": "water_heater", "power_w": rng.choice([1500, 2400, 3000]),
         "energy_wh": rng.choice([3000, 4000, 6000]), "deadline": _at(start, 18 + late)},
        {"id": "ev", "type": "ev", "max_power_w": rng.choice([3700, 7400]), "min_power_w": 1400,
         "energy_wh": rng.choice([6000, 10000, 16000]), "earliest_start": _at(start, 6 + late),
         "deadline": _at(start, 19 + late), "allow_partial": True},
    ]  # fmt: skip
    count = rng.choice([1, 1, 2, 2, 3, 4])
    return rng.sample(catalogue, count)


def member(
    data: Data, day: datetime, rng: random.Random, start: datetime | None = None
) -> dict[str, Any]:
    """One home: its own load, maybe PV and a battery, 1–4 flexible appliances.

    The series are the data's from `day`; the scenario starts at `start` (default `day`).
    """
    start = start or day
    other = day + timedelta(days=rng.randint(-30, 30) or 1)
    other = min(max(other, FIRST_DAY), LAST_DAY)
    scale = rng.uniform(0.5, 2.0)
    load = [round(x * scale, 1) for x in data.series("load_base_w", other, rng.randint(-8, 8))]
    pv = [0.0] * STEPS
    if rng.random() < 0.55:
        kwp = rng.uniform(3.0, 9.0)
        pv = [round(x * kwp / HOUSE_PV_KWP, 1) for x in data.series("pv_w", day)]
    spot = data.prices(day)
    scenario: dict[str, Any] = {
        "version": 1,
        "start": start.isoformat(timespec="seconds"),
        "step_minutes": 15,
        "horizon_steps": STEPS,
        "objective": "cost",
        "load_w": load,
        "pv_w": pv,
        "import_price_eur_per_kwh": [round(p + GRID_FEE_EUR_PER_KWH, 5) for p in spot],
        "export_price_eur_per_kwh": spot,
        "grid": {"import_limit_w": 12000, "export_limit_w": 9000},
        "battery": None,
        "appliances": _appliances(start, rng),
    }
    if rng.random() < 0.3:
        capacity = rng.choice([5000, 10000, 13500])
        power = rng.choice([2500, 3300, 5000])
        scenario["battery"] = {
            "capacity_wh": capacity, "soc_initial_pct": rng.choice([20, 40, 60]),
            "soc_min_pct": 10, "soc_max_pct": 95, "soc_final_pct": None,
            "charge_max_w": power, "discharge_max_w": power,
            "charge_efficiency": 0.95, "discharge_efficiency": 0.95,
            "wear_cost_eur_per_kwh": 0.02,
        }  # fmt: skip
    return scenario


def plant(data: Data, day: datetime, kwp: float, start: datetime | None = None) -> dict[str, Any]:
    """The community's PV plant: a member with production only."""
    start = start or day
    pv = [round(x * kwp / HOUSE_PV_KWP, 1) for x in data.series("pv_w", day)]
    spot = data.prices(day)
    return {
        "version": 1,
        "start": start.isoformat(timespec="seconds"),
        "step_minutes": 15,
        "horizon_steps": STEPS,
        "objective": "cost",
        "load_w": [0.0] * STEPS,
        "pv_w": pv,
        "import_price_eur_per_kwh": [round(p + GRID_FEE_EUR_PER_KWH, 5) for p in spot],
        "export_price_eur_per_kwh": spot,
        "grid": {"import_limit_w": None, "export_limit_w": None},
        "battery": None,
        "appliances": [],
    }


def community(
    folder: Path, day: str, members: int, *, seed: int = 0, with_plant: bool = True
) -> dict[str, dict[str, Any]]:
    """`members` homes (ids home0001…) and, if asked, 1 kWp of plant per member, noon to noon.

    The plants ("plant", or "plant1", "plant2", … beyond 250 kWp) are members of their own.
    """
    data = Data(folder)
    start = datetime.fromisoformat(day).replace(hour=12, tzinfo=PARIS)
    rng = random.Random(f"{day}/{seed}")
    width = max(4, len(str(members)))
    homes = {f"home{i + 1:0{width}d}": member(data, start, rng) for i in range(members)}
    if with_plant:
        total = PLANT_KWP_PER_MEMBER * members
        count = max(1, math.ceil(total / PLANT_MAX_KWP))
        for index in range(count):
            name = "plant" if count == 1 else f"plant{index + 1}"
            homes[name] = plant(data, start, total / count)
    return homes


def neighbours(folder: Path, start: datetime, names: list[str], seed: int = 0) -> dict[str, Any]:
    """Members `names` for a horizon starting at `start` (a live round), from the data's season.

    The series come from the data's day of the same season at the same time of day ("plant" is
    a 20 kWp plant); each name keeps its home from one round to the next (same seed).
    """
    data = Data(folder)
    local = start.astimezone(PARIS)
    if 3 <= local.month <= 9:
        day = local.replace(year=2024, tzinfo=PARIS)
    else:  # the data has March to September: winter plays early March
        day = FIRST_DAY.replace(hour=local.hour, minute=local.minute) + timedelta(
            days=local.day % 14
        )
    homes: dict[str, Any] = {}
    for name in names:
        rng = random.Random(f"{name}/{seed}")
        if name == "plant":
            homes[name] = plant(data, day, 20.0, start=local)
        else:
            homes[name] = member(data, day, rng, start=local)
    return homes
