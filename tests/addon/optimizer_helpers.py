"""Small scenarios for the optimizer tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

START = "2024-06-15T00:00:00+02:00"


def at(step: float, step_minutes: int = 60, start: str = START) -> str:
    """ISO time of a step boundary."""
    moment = datetime.fromisoformat(start) + timedelta(minutes=step_minutes * step)
    return moment.isoformat(timespec="seconds")


def scenario(steps: int = 4, step_minutes: int = 60, **fields: Any) -> dict[str, Any]:
    """A minimal valid scenario: flat load, no PV, flat price; fields override."""
    data: dict[str, Any] = {
        "version": 1,
        "start": START,
        "step_minutes": step_minutes,
        "horizon_steps": steps,
        "objective": "cost",
        "load_w": [0.0] * steps,
        "pv_w": [0.0] * steps,
        "import_price_eur_per_kwh": [0.2] * steps,
        "export_price_eur_per_kwh": [0.0] * steps,
        "grid": {"import_limit_w": None, "export_limit_w": None},
        "battery": None,
        "appliances": [],
    }
    data.update(fields)
    return data


def battery(**fields: Any) -> dict[str, Any]:
    """A lossless 10 kWh battery at 50 %, 5 kW both ways; fields override."""
    data = {
        "capacity_wh": 10000,
        "soc_initial_pct": 50,
        "soc_min_pct": 0,
        "soc_max_pct": 100,
        "charge_max_w": 5000,
        "discharge_max_w": 5000,
        "charge_efficiency": 1.0,
        "discharge_efficiency": 1.0,
    }
    data.update(fields)
    return data


def warning_codes(plan: dict[str, Any], appliance: str | None = None) -> set[str]:
    """The warning codes of a plan (for one appliance if given)."""
    return {w["code"] for w in plan["warnings"] if appliance is None or w["appliance"] == appliance}
