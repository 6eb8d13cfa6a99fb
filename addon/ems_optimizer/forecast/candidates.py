"""The candidate methods of each series, from which the rolling backtest picks one per site."""

from __future__ import annotations

from functools import partial

import numpy as np

from .learned import LearnedLoad
from .methods import (
    DayContext,
    Method,
    clear_sky_blend,
    persistence,
    pv_physical,
    pv_weather,
    recent_days,
    weekly_persistence,
)


def _mean(
    methods: tuple[Method, ...], values: np.ndarray, target: int, ctx: DayContext
) -> np.ndarray:
    predictions = np.vstack([m(values, target, ctx) for m in methods])
    known = ~np.isnan(predictions)
    total = np.where(known, predictions, 0.0).sum(axis=0)
    count = known.sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def mean_of(*methods: Method) -> Method:
    """A method that averages others (where one has no value, the others')."""
    return partial(_mean, methods)


def load_methods(half_life_days: float = 2.0, window_days: int = 21) -> dict[str, Method]:
    """Load candidates; `blend_temp` (the blend plus the heating term) needs temperatures.

    `blend_temp` equals the blend when no clear heating slope is found; `learned` (a median
    regression on the others' forecasts, see `learned.py`) needs two weeks of history.
    """
    blend = partial(recent_days, window_days=window_days, half_life_days=half_life_days)
    simple: dict[str, Method] = {
        "persistence": persistence,
        "weekly": weekly_persistence,
        "blend": blend,
        "blend_temp": partial(blend, temperature=True),
    }
    long = partial(recent_days, window_days=2 * window_days, half_life_days=7 * half_life_days)
    learned = LearnedLoad({**simple, "blend_long": long})
    return {**simple, "learned": learned, "ensemble": mean_of(blend, learned)}


def pv_methods(half_life_days: float = 7.0, window_days: int = 28) -> dict[str, Method]:
    """PV candidates.

    `weather` needs cloud cover or irradiance over the horizon, `physical` and
    `clear_sky_blend` the site's place (the physical model).
    """
    blend_pv = partial(
        recent_days,
        window_days=window_days,
        half_life_days=half_life_days,
        other_daytype_weight=1.0,
    )
    return {
        "persistence": persistence,
        "blend": blend_pv,
        "weather": pv_weather,
        "physical": pv_physical,
        "clear_sky_blend": clear_sky_blend,
        "ensemble": mean_of(pv_physical, clear_sky_blend),
    }
