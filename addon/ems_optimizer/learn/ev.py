"""EV charging sessions (start, end, energy) from a charger's power history."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ems_optimizer.forecast.clean import clean_power, infer_step, to_step_grid

SESSION_COLUMNS = ["start", "end", "duration_h", "energy_wh", "max_power_w"]


def ev_sessions(
    power: pd.Series,
    *,
    threshold_w: float = 100.0,
    max_pause_minutes: float = 60.0,
    min_energy_wh: float = 500.0,
    max_hold: pd.Timedelta | None = None,
) -> pd.DataFrame:
    """Charging sessions: runs above `threshold_w`, joined across pauses up to `max_pause_minutes`.

    Energy counts every reading from the session's first to its last charging period;
    sessions under `min_energy_wh` (a car topping up its 12 V battery) are left out.
    """
    values, _ = clean_power(power)
    known = values.dropna()
    if known.empty:
        return pd.DataFrame(columns=SESSION_COLUMNS)
    step = infer_step(pd.DatetimeIndex(known.index))
    grid = pd.date_range(known.index[0], known.index[-1], freq=step)
    p = to_step_grid(values, grid, step, max_hold=max_hold).to_numpy()
    charging = np.nan_to_num(p) > threshold_w
    on = np.flatnonzero(charging)
    if len(on) == 0:
        return pd.DataFrame(columns=SESSION_COLUMNS)
    max_gap = max(1, int(pd.Timedelta(minutes=max_pause_minutes) / step))
    breaks = np.flatnonzero(np.diff(on) > max_gap + 1)
    firsts = np.concatenate([[on[0]], on[breaks + 1]])
    lasts = np.concatenate([on[breaks], [on[-1]]])
    hours = step / pd.Timedelta(hours=1)
    rows = []
    for a, b in zip(firsts, lasts, strict=True):
        energy = float(np.nansum(p[a : b + 1]) * hours)
        if energy < min_energy_wh:
            continue
        rows.append(
            {
                "start": grid[a],
                "end": grid[b] + step,
                "duration_h": (b + 1 - a) * hours,
                "energy_wh": energy,
                "max_power_w": float(np.nanmax(p[a : b + 1])),
            }
        )
    return pd.DataFrame(rows, columns=SESSION_COLUMNS)


def summarise_sessions(sessions: pd.DataFrame, tz: str) -> dict[str, float]:
    """Count, energy per session (median, 90th percentile) and typical local start hour."""
    if sessions.empty:
        return {"sessions": 0}
    starts = pd.DatetimeIndex(sessions["start"]).tz_convert(tz)
    span_days = max(1.0, (sessions["end"].max() - sessions["start"].min()) / pd.Timedelta(days=1))
    return {
        "sessions": len(sessions),
        "sessions_per_week": round(7.0 * len(sessions) / span_days, 2),
        "energy_wh_median": round(float(sessions["energy_wh"].median()), 1),
        "energy_wh_p90": round(float(sessions["energy_wh"].quantile(0.9)), 1),
        "start_hour_median": float(np.median(starts.hour + starts.minute / 60.0)),
    }
