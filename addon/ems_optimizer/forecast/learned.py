"""A learned load model: median regression of the day's load on what the other methods say.

Per slot of a day, the features are the forecasts of the simple methods for that day (the
recent blend, a long blend, persistence, same weekday last week), the day's heating degrees
and whether it is a day off (weekend or public holiday). The coefficients minimise the
absolute error (LAD, the median regression: the forecast the plan's MAE rewards) over the
last four weeks, each of those days described by the forecasts made before it. The fit is a
linear programme solved by HiGHS through SciPy (both already in the add-on's image): gradient
boosting (scikit-learn, LightGBM) measured no better on the shared house (0.839 against the
blend's 0.836 of persistence's MAE) and publishes no wheels for the add-on's Alpine image.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from .methods import HEATING_BASE_C, DayContext, Method

FEATURES = ("blend", "blend_long", "persistence", "weekly")
DEGREES = 1 + len(FEATURES)  # the column of the heating degrees
MAX_W_PER_K = 400.0  # a house's heating slope stays under this (a 10 kW heat load at -9 °C)
MIN_DEGREE_SPREAD = 3.0  # K over the fit's days, as heating_slope_w_per_k asks


def lad_fit(
    x: np.ndarray, y: np.ndarray, bounds: dict[int, tuple[float, float]] | None = None
) -> np.ndarray | None:
    """Coefficients b minimising sum |x b − y| (None when the solver fails).

    `bounds`: for some coefficients (by column), the range they must stay in.
    """
    n, p = x.shape
    # x b + u − v = y with u, v ≥ 0: the absolute residual is u + v.
    a_eq = sparse.hstack([sparse.csr_matrix(x), sparse.eye(n), -sparse.eye(n)], format="csr")
    cost = np.concatenate([np.zeros(p), np.ones(2 * n)])
    free: list[tuple[float | None, float | None]] = [(None, None)] * p
    for column, bound in (bounds or {}).items():
        free[column] = bound
    bounds_all = free + [(0.0, None)] * (2 * n)
    result = linprog(cost, A_eq=a_eq, b_eq=y, bounds=bounds_all, method="highs")
    return result.x[:p] if result.success else None


class LearnedLoad:
    """The learned method (a `Method`); one instance serves one forecast call.

    It keeps the simple methods' predictions per row and refits every `refit_days` rows, always
    on rows before the one it predicts (the fit for row r ends at r rounded down to a multiple
    of `refit_days`), so it never sees the day it predicts or anything after.
    """

    def __init__(
        self,
        bases: Mapping[str, Method],
        *,
        fit_days: int = 28,
        min_days: int = 14,
        refit_days: int = 7,
    ) -> None:
        self.bases = {name: bases[name] for name in FEATURES}
        self.fit_days = fit_days
        self.min_days = min_days
        self.refit_days = refit_days
        self._values: np.ndarray | None = None
        self._rows: dict[int, np.ndarray] = {}
        self._fits: dict[int, np.ndarray | None] = {}

    def _features(self, values: np.ndarray, row: int, ctx: DayContext) -> np.ndarray:
        """Slots × features of one row (missing forecasts replaced by the blend's)."""
        if row not in self._rows:
            columns = [self.bases[name](values, row, ctx) for name in FEATURES]
            blend = columns[0]
            columns = [np.where(np.isnan(c), blend, c) for c in columns]
            slots = values.shape[1]
            degrees = 0.0  # no weather at all: the column is 0 and so is its coefficient
            if ctx.temp_c is not None:  # a day without its temperature is not a warm day
                degrees = max(0.0, HEATING_BASE_C - float(ctx.temp_c[row]))
                degrees = degrees if np.isfinite(ctx.temp_c[row]) else np.nan
            extra = [np.full(slots, degrees), np.full(slots, float(ctx.day_off[row]))]
            self._rows[row] = np.column_stack([np.ones(slots), *columns, *extra])
        return self._rows[row]

    def _fit(self, values: np.ndarray, end: int, ctx: DayContext) -> np.ndarray | None:
        """The coefficients fitted on the rows before `end` (None: too few days)."""
        if end not in self._fits:
            xs, ys = [], []
            for row in range(max(1, end - self.fit_days), end):
                actual = values[row]
                x = self._features(values, row, ctx)
                ok = ~np.isnan(actual) & ~np.isnan(x).any(axis=1)
                if ok.sum() * 2 >= len(actual):
                    xs.append(x[ok])
                    ys.append(actual[ok])
            fit = None
            if len(xs) >= self.min_days:
                x = np.vstack(xs)
                # The heating term only where the fit saw a real spread of cold, and bounded:
                # a few days just under the base would otherwise give it any slope.
                spread = float(np.ptp(x[:, DEGREES]))
                limit = MAX_W_PER_K if spread >= MIN_DEGREE_SPREAD else 0.0
                fit = lad_fit(x, np.concatenate(ys), {DEGREES: (0.0, limit)})
            self._fits[end] = fit
        return self._fits[end]

    def __call__(self, values: np.ndarray, target: int, ctx: DayContext) -> np.ndarray:
        """The day `target`'s load, or missing values while there is too little history."""
        if values is not self._values:
            self._values, self._rows, self._fits = values, {}, {}
        fit = self._fit(values, target - target % self.refit_days, ctx)
        if fit is None:
            return np.full(values.shape[1], np.nan)
        return np.clip(self._features(values, target, ctx) @ fit, 0.0, None)
