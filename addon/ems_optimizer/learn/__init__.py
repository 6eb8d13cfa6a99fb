"""Learning from history: appliance cycles, water-heater daily energy, EV sessions."""

from .cycles import Cycle, CycleProfile, detect_cycles, learn_cycle
from .ev import ev_sessions, summarise_sessions
from .water_heater import daily_energy_from_meter, daily_energy_from_power, typical_daily_energy_wh

__all__ = [
    "Cycle",
    "CycleProfile",
    "daily_energy_from_meter",
    "daily_energy_from_power",
    "detect_cycles",
    "ev_sessions",
    "learn_cycle",
    "summarise_sessions",
    "typical_daily_energy_wh",
]
