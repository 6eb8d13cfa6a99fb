"""The `simulate` subcommand of `ems-optimizer`: the closed loop over a household's history."""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import date
import json
from pathlib import Path
import sys
import time
from typing import Any

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def _date(value: str) -> date:
    """A YYYY-MM-DD date for argparse."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _read_inputs(args: argparse.Namespace) -> Any:
    """The aligned inputs of the command line's files."""
    from ems_optimizer.forecast.io import read_timeseries_csv, read_weather_sources  # noqa: PLC0415
    from ems_optimizer.planner import PlanOptions  # noqa: PLC0415
    from ems_optimizer.simulate import load_inputs  # noqa: PLC0415

    options = PlanOptions()
    if args.time_limit is not None:
        options = replace(options, solver=replace(options.solver, time_limit_s=args.time_limit))
    try:
        site = json.loads(Path(args.site).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"site {args.site}: not valid JSON ({err})") from None
    return load_inputs(
        read_timeseries_csv(args.history),
        read_timeseries_csv(args.prices),
        site,
        args.date_from,
        args.date_to,
        tz=args.timezone,
        step_minutes=args.step_minutes,
        weather=read_weather_sources(args.weather) if args.weather else (),
        options=options,
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run the strategies over the history; write the JSON (and the chart)."""
    from ems_optimizer.simulate import chart_html, format_table, run  # noqa: PLC0415
    from ems_optimizer.simulate_png import PngUnavailable, check_png, write_png  # noqa: PLC0415

    png = bool(args.chart) and Path(args.chart).suffix.lower() == ".png"
    try:
        if png:
            check_png()  # before a run of minutes, not after
        inputs = _read_inputs(args)
    except PngUnavailable as err:
        print(f"error: --chart {args.chart}: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as err:
        print(f"error: {err.filename or ''}: {err.strerror or err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    began = time.monotonic()
    output = run(inputs, args.strategy or list(_strategies()), _progress)
    output["runtime_s"] = round(time.monotonic() - began, 1)
    Path(args.output).write_text(json.dumps(output, indent=1, allow_nan=False) + "\n", "utf-8")
    if png:
        write_png(output, inputs, Path(args.chart))
    elif args.chart:
        Path(args.chart).write_text(chart_html(output, inputs), encoding="utf-8")
    print(format_table(output))
    return EXIT_OK


def _strategies() -> tuple[str, ...]:
    from ems_optimizer.simulate import STRATEGIES  # noqa: PLC0415

    return STRATEGIES


def register(subparsers: Any) -> None:
    """Add `simulate` to the `ems-optimizer` parser."""
    s = subparsers.add_parser(
        "simulate",
        help="close the loop over a household's history: forecast, plan, execute, realise",
        description="At every step, each strategy asks for a battery power knowing only the past "
        "(ems: forecast + 24 h plan + executor, re-planned every step); the request is realised "
        "on the actual load and PV, within the battery's limits, and priced at the actual prices.",
    )
    s.add_argument("--history", required=True, help="CSV: timestamp, load_w, pv_w")
    s.add_argument(
        "--prices",
        required=True,
        help="CSV: timestamp, import_price_eur_per_kwh, export_price_eur_per_kwh (held until next)",
    )
    s.add_argument(
        "--site",
        required=True,
        help="JSON: the contract's battery and grid objects; optional forecast object (latitude, "
        "longitude, pv_peak_w, pv_tilt_deg, pv_azimuth_deg, country) for the physical PV model "
        "and public holidays",
    )
    s.add_argument("--from", dest="date_from", type=_date, required=True, help="first day (local)")
    s.add_argument(
        "--to", dest="date_to", type=_date, required=True, help="last day, included (local)"
    )
    s.add_argument("--weather", action="append", help="weather CSV for the forecast (repeatable)")
    s.add_argument("--timezone", default="UTC", help="the site's zone, e.g. Europe/Paris (UTC)")
    s.add_argument("--step-minutes", type=int, default=60, help="simulation step (default 60)")
    s.add_argument(
        "--strategy",
        action="append",
        choices=list(_strategies()),
        help="repeatable (default: all of them)",
    )
    s.add_argument("--time-limit", type=float, help="solver time limit per plan, s")
    s.add_argument("-o", "--output", required=True, help="write the JSON here")
    s.add_argument(
        "--chart", help="write the chart here: OUT.html (self-contained) or OUT.png (matplotlib)"
    )
    s.set_defaults(func=cmd_simulate)
