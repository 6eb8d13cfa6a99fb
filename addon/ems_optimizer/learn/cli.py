"""The `learn-cycle` subcommand of `ems-optimizer` (pandas is imported by the command only)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ems_optimizer.forecast.cli import EXIT_OK, _error, _max_hold, _max_hold_option


def cmd_learn_cycle(args: argparse.Namespace) -> int:
    """Learn an appliance's cycle profile from its power history; write the JSON."""
    try:
        from ems_optimizer.forecast.io import read_timeseries_csv, write_json  # noqa: PLC0415
        from ems_optimizer.learn.cycles import learn_cycle  # noqa: PLC0415

        history = read_timeseries_csv(args.history)
        column = args.column or _power_column(history)
        result = learn_cycle(
            history[column],
            threshold_start_w=args.threshold_start,
            threshold_end_w=args.threshold_end,
            period_count=args.period_count,
            period_s=args.period,
            step_minutes=args.step_minutes,
            max_hold=_max_hold(args),
        )
    except (OSError, ValueError, KeyError) as err:
        return _error(err)
    text = write_json(result.as_json(), args.output)
    if args.output is None:
        print(text)
    print(
        f"{column}: {len(result.cycles)} cycles, {result.energy_wh:.0f} Wh per run, "
        f"{len(result.profile_w)} steps of {result.step_minutes} min",
        file=sys.stderr,
    )
    return EXIT_OK


def _power_column(history: Any) -> str:
    """`power_w`, else the only column ending in `_w`."""
    if "power_w" in history.columns:
        return "power_w"
    candidates = [c for c in history.columns if str(c).endswith("_w")]
    if len(candidates) != 1:
        raise ValueError(f"name the power column with --column (columns: {list(history.columns)})")
    return candidates[0]


def register(subparsers: Any) -> None:
    """Add `learn-cycle` to the `ems-optimizer` parser."""
    c = subparsers.add_parser(
        "learn-cycle",
        help="an appliance's power profile from its power history (ELFE cycle learner)",
        description="A cycle starts when power rises above --threshold-start and ends when it "
        "stays below --threshold-end for --period-count periods of --period seconds. The "
        "profile is the median over the cycles, per step from the cycle start.",
    )
    c.add_argument("--history", required=True, help="CSV: timestamp, power_w")
    c.add_argument("--column", help="power column (default: power_w or the only *_w column)")
    c.add_argument("--threshold-start", type=float, required=True, help="W")
    c.add_argument("--threshold-end", type=float, required=True, help="W")
    c.add_argument("--period-count", type=int, required=True, help="K quiet periods end a cycle")
    c.add_argument("--period", type=float, required=True, help="period in seconds")
    c.add_argument("--step-minutes", type=int, default=15, help="profile step (default 15)")
    _max_hold_option(c)
    c.add_argument("-o", "--output", help="write the JSON here (default: stdout)")
    c.set_defaults(func=cmd_learn_cycle)
