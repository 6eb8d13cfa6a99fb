"""Rolling day-ahead backtest: every method against persistence, day by day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

from .clean import clean_power, infer_step, to_step_grid
from .core import AUTO, ForecastConfig, SeriesForecast, Site, forecast
from .grid import TimeZone

COLUMNS = ["day", "series", "method", "chosen", "steps", "mae_w", "rmse_w", "sq_sum", "abs_sum"]


def local_midnight(day: date, tz: TimeZone) -> pd.Timestamp:
    """The start of a calendar day in `tz` (shifted forward if midnight does not exist there)."""
    return pd.Timestamp(day).tz_localize(tz, ambiguous=True, nonexistent="shift_forward")


def _actual(
    history: pd.DataFrame,
    column: str | None,
    grid: pd.DatetimeIndex,
    step_minutes: int,
    max_hold: pd.Timedelta | None,
) -> pd.Series | None:
    """The measured series on the grid (cleaned like the forecast's input), or None."""
    if column is None or column not in history.columns:
        return None
    values, _ = clean_power(history[column])
    return to_step_grid(values, grid, pd.Timedelta(minutes=step_minutes), max_hold=max_hold)


def _scores(day: date, kind: str, result: SeriesForecast, actual: np.ndarray) -> list[dict]:
    """One row per method (and `auto`, the one selection chose) for one day and series."""
    known = ~np.isnan(actual)
    if known.sum() * 2 < len(actual):
        return []
    rows = []
    predictions = {**result.candidates, AUTO: result.power_w}
    for name, predicted in predictions.items():
        error = (np.nan_to_num(predicted) - actual)[known]
        rows.append(
            {
                "day": day,
                "series": kind,
                "method": name,
                "chosen": result.method if name == AUTO else name,
                "steps": int(known.sum()),
                "mae_w": float(np.mean(np.abs(error))),
                "rmse_w": float(np.sqrt(np.mean(error**2))),
                "sq_sum": float(np.sum(error**2)),
                "abs_sum": float(np.sum(np.abs(error))),
            }
        )
    return rows


def backtest(
    history: pd.DataFrame,
    *,
    date_from: date,
    date_to: date,
    tz: TimeZone,
    step_minutes: int | None = None,
    weather: Sequence[pd.DataFrame] = (),
    load_column: str | None = "load_w",
    pv_column: str | None = "pv_w",
    config: ForecastConfig = ForecastConfig(),  # noqa: B008
    site: Site = Site(),  # noqa: B008
) -> pd.DataFrame:
    """Day-ahead errors per day, series and method: each day forecast at its local midnight.

    Each forecast sees only history before that midnight (the same `forecast` call as the
    plan). Days with under half their steps measured are left out.
    """
    if step_minutes is None:
        step_minutes = max(
            1, round(infer_step(pd.DatetimeIndex(history.index)).total_seconds() / 60)
        )
    step = pd.Timedelta(minutes=step_minutes)
    first = local_midnight(date_from, tz)
    last = local_midnight(date_to + timedelta(days=1), tz)
    grid_all = pd.date_range(first, last - step, freq=step)
    actual = {
        "load": _actual(history, load_column, grid_all, step_minutes, config.max_hold),
        "pv": _actual(history, pv_column, grid_all, step_minutes, config.max_hold),
    }
    rows: list[dict] = []
    for day in pd.date_range(date_from, date_to, freq="D").date:
        origin = local_midnight(day, tz)
        steps = int((local_midnight(day + timedelta(days=1), tz) - origin) / step)
        result = forecast(
            history,
            origin,
            steps,
            step_minutes,
            weather=weather,
            tz=tz,
            load_column=load_column or "",
            pv_column=pv_column or "",
            config=config,
            site=site,
        )
        for kind, series in (("load", result.load), ("pv", result.pv)):
            measured = actual[kind]
            if measured is None or series.method == "none":
                continue
            truth = measured.reindex(result.index.tz_convert(measured.index.tz)).to_numpy()
            rows.extend(_scores(day, kind, series, truth))
    return pd.DataFrame(rows, columns=COLUMNS)


def summarise(scores: pd.DataFrame) -> pd.DataFrame:
    """MAE and RMSE per series and method over all days, and MAE relative to persistence."""
    if scores.empty:
        return pd.DataFrame(
            columns=["series", "method", "days", "mae_w", "rmse_w", "mae_vs_persistence_pct"]
        )
    grouped = scores.groupby(["series", "method"], sort=False)
    summary = grouped.agg(
        days=("day", "nunique"),
        steps=("steps", "sum"),
        abs_sum=("abs_sum", "sum"),
        sq_sum=("sq_sum", "sum"),
    ).reset_index()
    summary["mae_w"] = summary["abs_sum"] / summary["steps"]
    summary["rmse_w"] = np.sqrt(summary["sq_sum"] / summary["steps"])
    reference = summary[summary["method"] == "persistence"].set_index("series")["mae_w"]
    summary["mae_vs_persistence_pct"] = 100.0 * (
        summary["mae_w"] / summary["series"].map(reference) - 1.0
    )
    return summary[["series", "method", "days", "mae_w", "rmse_w", "mae_vs_persistence_pct"]]


def chosen_counts(scores: pd.DataFrame) -> pd.DataFrame:
    """How many days the selection picked each method, per series."""
    auto = scores[scores["method"] == AUTO]
    return auto.groupby(["series", "chosen"]).size().rename("days").reset_index()


def format_days(scores: pd.DataFrame) -> str:
    """One line per day and series: MAE/RMSE of each method, and `auto` against persistence."""
    lines = []
    for (day, kind), group in scores.groupby(["day", "series"], sort=True):
        by = group.set_index("method")
        cells = [f"{m} {r.mae_w:.0f}/{r.rmse_w:.0f}" for m, r in by.iterrows() if m != AUTO]
        auto = by.loc[AUTO]
        vs = 100.0 * (auto.mae_w / by.loc["persistence"].mae_w - 1.0)
        lines.append(
            f"{day} {kind:<4} " + "  ".join(cells) + f"  | auto={auto.chosen} "
            f"{auto.mae_w:.0f}/{auto.rmse_w:.0f} ({vs:+.0f}% MAE vs persistence)"
        )
    return "\n".join(lines)


def format_summary(scores: pd.DataFrame) -> str:
    """The summary table as aligned text."""
    summary = summarise(scores)
    lines = [
        f"{'series':<6} {'method':<12} {'days':>4} {'MAE W':>8} {'RMSE W':>8} {'MAE vs pers.':>12}"
    ]
    for r in summary.itertuples():
        lines.append(
            f"{r.series:<6} {r.method:<12} {r.days:>4} {r.mae_w:>8.1f} {r.rmse_w:>8.1f} "
            f"{r.mae_vs_persistence_pct:>+11.1f}%"
        )
    return "\n".join(lines)


def yesterday_errors(
    history: pd.DataFrame,
    day: date,
    *,
    tz: TimeZone,
    step_minutes: int | None = None,
    weather: Sequence[pd.DataFrame] = (),
    site: Site = Site(),  # noqa: B008
    config: ForecastConfig = ForecastConfig(),  # noqa: B008
    load_column: str = "load_w",
    pv_column: str = "pv_w",
) -> dict[str, dict[str, object]]:
    """Per series, `day`'s day-ahead error against the measurement, and persistence's.

    The forecast is the one made at the day's local midnight (`method_then`: the method the
    selection chose then). A series is left out when the day has under half its steps measured.
    """
    scores = backtest(
        history,
        date_from=day,
        date_to=day,
        tz=tz,
        step_minutes=step_minutes,
        weather=weather,
        load_column=load_column if load_column in history.columns else None,
        pv_column=pv_column if pv_column in history.columns else None,
        config=config,
        site=site,
    )
    out: dict[str, dict[str, object]] = {}
    for kind, group in scores.groupby("series"):
        by = group.set_index("method")
        if AUTO not in by.index or "persistence" not in by.index:
            continue
        out[str(kind)] = {
            "day": day.isoformat(),
            "mae_w": round(float(by.loc[AUTO, "mae_w"]), 1),
            "persistence_mae_w": round(float(by.loc["persistence", "mae_w"]), 1),
            "method_then": str(by.loc[AUTO, "chosen"]),
        }
    return out
