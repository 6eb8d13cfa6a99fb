"""The ELFE cycle learner: an appliance's power profile from its power history.

A cycle starts at the first period whose mean power rises above `threshold_start_w`; it ends
when the power stays below `threshold_end_w` for `period_count` periods of `period_s`
seconds in a row, at the start of that quiet run. At the start of the history and after
missing data, the appliance must first be seen off by that same rule. A cycle still running
at the end of the history, or broken by missing data, is not counted. The profile is the
median, step by step from each cycle's start, over the cycles seen (a finished cycle counts
as 0 W), scaled so that its energy is the median energy of a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
import pandas as pd

from ems_optimizer.forecast.clean import clean_power, to_step_grid


@dataclass(frozen=True)
class Cycle:
    """One detected run of the appliance."""

    start: pd.Timestamp
    end: pd.Timestamp
    energy_wh: float

    @property
    def duration_minutes(self) -> float:
        """Length of the run in minutes."""
        return (self.end - self.start) / pd.Timedelta(minutes=1)


@dataclass(frozen=True)
class CycleProfile:
    """The learned profile and the cycles it was learned from."""

    profile_w: np.ndarray
    step_minutes: int
    cycles: tuple[Cycle, ...]

    @property
    def energy_wh(self) -> float:
        """Energy of one run of the learned profile."""
        return float(np.sum(self.profile_w) * self.step_minutes / 60.0)

    def as_json(self) -> dict[str, object]:
        """The `learn-cycle` output: profile, step, cycle count and energy, plus each cycle."""
        return {
            "profile_w": [round(float(v), 1) for v in self.profile_w],
            "step_minutes": self.step_minutes,
            "cycles": len(self.cycles),
            "energy_wh": round(self.energy_wh, 1),
            "detected": [
                {
                    "start": c.start.isoformat(),
                    "end": c.end.isoformat(),
                    "duration_minutes": round(c.duration_minutes, 1),
                    "energy_wh": round(c.energy_wh, 1),
                }
                for c in self.cycles
            ],
        }


def _check(threshold_start_w: float, threshold_end_w: float, period_count: int, period_s: float):
    """Reject parameters that cannot describe a cycle."""
    if threshold_end_w > threshold_start_w:
        raise ValueError("threshold_end_w must not exceed threshold_start_w")
    if period_count < 1 or period_s <= 0:
        raise ValueError("period_count must be ≥ 1 and period_s > 0")


def on_period_grid(power: pd.Series, period_s: float, max_hold: pd.Timedelta | None = None):
    """Cleaned power as means over periods of `period_s` seconds from the first reading."""
    values, _ = clean_power(power)
    known = values.dropna()
    if known.empty:
        return known
    period = pd.Timedelta(seconds=period_s)
    first = known.index[0]
    n = math.ceil((known.index[-1] - first) / period) + 1
    grid = pd.date_range(first, periods=n, freq=period)
    return to_step_grid(values, grid, period, max_hold=max_hold)


def detect_cycles(
    power: pd.Series,
    *,
    threshold_start_w: float,
    threshold_end_w: float,
    period_count: int,
    period_s: float,
    max_hold: pd.Timedelta | None = None,
) -> list[Cycle]:
    """The complete cycles in a power history (aware timestamps, W), in time order."""
    _check(threshold_start_w, threshold_end_w, period_count, period_s)
    samples = on_period_grid(power, period_s, max_hold)
    if samples.empty:
        return []
    values = samples.to_numpy()
    hours = period_s / 3600.0
    cycles: list[Cycle] = []
    start = quiet_from = None
    low = 0
    # Armed once the appliance has been seen off by the end rule: a run already going when the
    # history starts or resumes after missing data is not taken for a start.
    armed, quiet = False, 0
    for i, p in enumerate(values):
        if np.isnan(p):
            start, low, armed, quiet = None, 0, False, 0
        elif start is None:
            if armed and p > threshold_start_w:
                start, low = i, 0
            elif not armed:
                quiet = quiet + 1 if p < threshold_end_w else 0
                armed = quiet >= period_count
        elif p < threshold_end_w:
            low += 1
            quiet_from = i if low == 1 else quiet_from
            if low >= period_count:
                energy = float(np.sum(values[start:quiet_from]) * hours)
                cycles.append(Cycle(samples.index[start], samples.index[quiet_from], energy))
                start, low, armed = None, 0, True
        else:
            low = 0
    return cycles


def learn_cycle(
    power: pd.Series,
    *,
    threshold_start_w: float,
    threshold_end_w: float,
    period_count: int,
    period_s: float,
    step_minutes: int,
    max_hold: pd.Timedelta | None = None,
) -> CycleProfile:
    """The median power profile per step over the detected cycles, and the cycles themselves.

    Its length is the median cycle duration rounded up to whole steps.
    """
    cycles = detect_cycles(
        power,
        threshold_start_w=threshold_start_w,
        threshold_end_w=threshold_end_w,
        period_count=period_count,
        period_s=period_s,
        max_hold=max_hold,
    )
    if not cycles:
        return CycleProfile(np.zeros(0), step_minutes, ())
    step = pd.Timedelta(minutes=step_minutes)
    median_minutes = float(np.median([c.duration_minutes for c in cycles]))
    length = max(1, math.ceil(median_minutes / step_minutes - 1e-9))
    values, _ = clean_power(power)
    rows = []
    for cycle in cycles:
        grid = pd.date_range(cycle.start, periods=length, freq=step)
        # Period means, held for one period: the same power the detection saw.
        on_grid = to_step_grid(values, grid, step, max_hold=max_hold, end=cycle.end)
        rows.append(np.nan_to_num(on_grid.to_numpy()))
    profile = np.median(np.vstack(rows), axis=0)
    # Steps of cycles that start at different points of a period blur the per-step median; the
    # shape is kept and its energy set to the median energy of a cycle.
    shape_wh = float(np.sum(profile) * step_minutes / 60.0)
    median_wh = float(np.median([c.energy_wh for c in cycles]))
    if shape_wh > 0:
        profile = profile * (median_wh / shape_wh)
    return CycleProfile(profile, step_minutes, tuple(cycles))
