"""The `forecast` and `backtest` subcommands of `ems-optimizer`.

pandas is imported by the commands, not here, so the parser always lists them.
"""

from __future__ import annotations

import argparse
from datetime import date
import sys
from typing import Any

EXIT_OK, EXIT_BAD_INPUT = 0, 2

LOAD_METHOD_NAMES = ("auto", "persistence", "weekly", "blend", "blend_temp", "learned", "ensemble")
PV_METHOD_NAMES = (
    "auto",
    "persistence",
    "blend",
    "weather",
    "physical",
    "clear_sky_blend",
    "ensemble",
)


def _error(message: object) -> int:
    """Report a bad input on stderr; the exit code for it."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _history_columns(history: Any, args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The load and PV columns to use, named or found among the known names; said on stderr."""
    from .io import KNOWN_LOAD_COLUMNS, KNOWN_PV_COLUMNS, pick_column  # noqa: PLC0415

    load = pick_column(history, args.load_column, KNOWN_LOAD_COLUMNS)
    pv = pick_column(history, args.pv_column, KNOWN_PV_COLUMNS)
    if load is None:
        raise ValueError(f"no load column (tried {', '.join(KNOWN_LOAD_COLUMNS)}; --load-column)")
    print(f"history: load from {load!r}, PV from {pv!r}", file=sys.stderr)
    return load, pv


def cmd_forecast(args: argparse.Namespace) -> int:
    """Forecast load and PV on the plan grid; write the JSON."""
    try:
        from .core import ForecastConfig, forecast  # noqa: PLC0415
        from .io import read_timeseries_csv, read_weather_sources, write_json  # noqa: PLC0415

        history = read_timeseries_csv(args.history)
        load, pv = _history_columns(history, args)
        weather = read_weather_sources(args.weather)
        external = None
        if args.pv_forecast:
            frame = read_timeseries_csv(args.pv_forecast)
            external = frame[args.pv_forecast_column]
        result = forecast(
            history,
            args.start,
            args.steps,
            args.step_minutes,
            weather=weather,
            tz=args.timezone,
            pv_forecast_w=external,
            load_column=load,
            pv_column=pv or "",
            load_method=args.load_method,
            pv_method=args.pv_method,
            config=ForecastConfig(max_hold=_max_hold(args)),
            site=_site(args),
        )
    except (OSError, ValueError, KeyError) as err:
        return _error(err)
    text = write_json(result.as_json(), args.output)
    if args.output is None:
        print(text)
    else:
        m = result.as_json()["method"]
        print(f"load: {m['load']['name']}, pv: {m['pv']['name']} → {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_backtest(args: argparse.Namespace) -> int:
    """Backtest every method day by day; print MAE/RMSE per day and the summary."""
    try:
        from .backtest import backtest, chosen_counts, format_days, format_summary  # noqa: PLC0415
        from .core import ForecastConfig  # noqa: PLC0415
        from .io import read_timeseries_csv, read_weather_sources  # noqa: PLC0415

        history = read_timeseries_csv(args.history)
        load, pv = _history_columns(history, args)
        weather = read_weather_sources(args.weather)
        zone = args.timezone or "UTC"
        scores = backtest(
            history,
            date_from=date.fromisoformat(args.date_from),
            date_to=date.fromisoformat(args.date_to),
            tz=zone,
            step_minutes=args.step_minutes,
            weather=weather,
            load_column=load,
            pv_column=pv,
            config=ForecastConfig(max_hold=_max_hold(args)),
            site=_site(args),
        )
    except (OSError, ValueError, KeyError) as err:
        return _error(err)
    if scores.empty:
        return _error("no day of the range has enough measurements to score")
    if not args.summary_only:
        print("day        series  method MAE/RMSE W …  | auto = the method selection chose")
        print(format_days(scores))
        print()
    print(
        f"Day-ahead forecasts issued at local midnight ({zone}), {args.date_from} → {args.date_to}"
    )
    print(format_summary(scores))
    counts = chosen_counts(scores)
    picks = "; ".join(f"{r.series}: {r.chosen} {r.days} d" for r in counts.itertuples())
    print(f"selection picked: {picks}")
    if args.csv:
        scores.drop(columns=["sq_sum", "abs_sum"]).to_csv(args.csv, index=False)
    return EXIT_OK


def _history_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by `forecast` and `backtest`."""
    parser.add_argument("--history", required=True, help="CSV: timestamp, load_w[, pv_w]")
    parser.add_argument(
        "--weather",
        action="append",
        default=[],
        help="CSV: timestamp, temp_c[, cloud_cover_pct, ghi_w_per_m2]; repeatable, finer wins",
    )
    parser.add_argument(
        "--timezone", help="the site's IANA zone, e.g. Europe/Paris (local days, DST)"
    )
    parser.add_argument(
        "--load-column", help="load column (default: first of load_w, load_base_w, load_total_w)"
    )
    parser.add_argument("--pv-column", help="PV column (default: pv_w if present)")
    _max_hold_option(parser)
    site = parser.add_argument_group(
        "site", "the physical PV model (needs the place and the peak power) and public holidays"
    )
    site.add_argument("--latitude", type=float, help="degrees north")
    site.add_argument("--longitude", type=float, help="degrees east")
    site.add_argument("--pv-peak-w", type=float, help="the panels' peak power, W")
    site.add_argument("--pv-tilt-deg", type=float, help="panel tilt (default 35)")
    site.add_argument("--pv-azimuth-deg", type=float, help="panel azimuth, 180 = south (default)")
    site.add_argument("--country", help="ISO 3166 code whose public holidays are days off, e.g. FR")


def _site(args: argparse.Namespace) -> Any:
    """The forecast's Site from the options (the PV model only with place and peak power)."""
    from .core import Site  # noqa: PLC0415

    keys = ("latitude", "longitude", "pv_peak_w", "pv_tilt_deg", "pv_azimuth_deg", "country")
    site = Site.of({key: getattr(args, key) for key in keys})
    given = (args.pv_peak_w, args.latitude, args.longitude)
    if site.pv is None and any(value is not None for value in given):
        raise ValueError("the PV model needs --latitude, --longitude and --pv-peak-w together")
    return site


def _max_hold_option(parser: argparse.ArgumentParser) -> None:
    """How long a reading holds: the source's step by default; long for HA state histories."""
    parser.add_argument(
        "--max-hold-minutes",
        type=float,
        help="a reading holds until the next one for at most this long (default: the typical "
        "spacing of the rows; raise it for Home Assistant state histories)",
    )


def _max_hold(args: argparse.Namespace) -> Any:
    """The --max-hold-minutes option as a Timedelta, or None."""
    import pandas as pd  # noqa: PLC0415

    minutes = args.max_hold_minutes
    return None if minutes is None else pd.Timedelta(minutes=minutes)


def register(subparsers: Any) -> None:
    """Add `forecast` and `backtest` to the `ems-optimizer` parser."""
    f = subparsers.add_parser(
        "forecast",
        help="load and PV forecast on the plan grid from history (+ weather)",
        description="Forecast load_w and pv_w for --steps steps from --start, using only "
        "history before --start; each series' method is chosen by its own rolling backtest.",
    )
    _history_options(f)
    f.add_argument("--start", required=True, help="ISO 8601 start of step 0, with offset")
    f.add_argument("--steps", type=int, required=True, help="number of steps")
    f.add_argument("--step-minutes", type=int, required=True, help="step length (divides 1440)")
    f.add_argument("--load-method", default="auto", choices=LOAD_METHOD_NAMES)
    f.add_argument("--pv-method", default="auto", choices=PV_METHOD_NAMES)
    f.add_argument(
        "--pv-forecast",
        help="CSV of an external PV forecast (Forecast.Solar, Solcast): mean W per period, "
        "timestamps at period starts; used wherever it covers the grid",
    )
    f.add_argument("--pv-forecast-column", default="pv_w", help="its column (default pv_w)")
    f.add_argument("-o", "--output", help="write the JSON here (default: stdout)")
    f.set_defaults(func=cmd_forecast)

    b = subparsers.add_parser(
        "backtest",
        help="day-ahead MAE/RMSE per method per day against persistence",
        description="Forecast each day of the range at its local midnight from the history "
        "before it, with every method and with the automatic selection.",
    )
    _history_options(b)
    b.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    b.add_argument("--to", dest="date_to", required=True, help="last day, YYYY-MM-DD")
    b.add_argument("--step-minutes", type=int, help="plan step (default: the history's step)")
    b.add_argument("--summary-only", action="store_true", help="print only the summary table")
    b.add_argument("--csv", help="also write the per-day scores to this CSV")
    b.set_defaults(func=cmd_backtest)
