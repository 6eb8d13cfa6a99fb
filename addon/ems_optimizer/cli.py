"""The `ems-optimizer` command line: plan, replay, bench, serve (forecast commands plug in)."""

from __future__ import annotations

import argparse
from dataclasses import replace
import importlib
import json
from pathlib import Path
import sys
from typing import Any

from ems_core.contract import ContractError, validate_plan

from . import serve_cli
from .bench import format_table, run_one
from .checker import check_plan
from .planner import PlanOptions, plan
from .replay import PLAN_FILE, PREVIOUS_FILE, SCENARIO_FILE, compare_plans, describe, summary

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class InputError(Exception):
    """A file that cannot be read or parsed."""


def _read_json(path: str | Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"{what} {path}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{what} {path}: not valid JSON ({err})") from None


def _write_json(path: str | None, data: Any) -> None:
    text = json.dumps(data, indent=1, ensure_ascii=False)
    if path is None:
        print(text)
    else:
        Path(path).write_text(text + "\n", encoding="utf-8")


def _options(args: argparse.Namespace) -> PlanOptions:

    options = PlanOptions()
    solver = options.solver
    if args.time_limit is not None:
        solver = replace(solver, time_limit_s=args.time_limit)
    if args.gap is not None:
        solver = replace(
            solver, gap_rel=args.gap, gap_abs_eur=0.0 if args.gap == 0 else solver.gap_abs_eur
        )
    options = replace(options, solver=solver)
    if getattr(args, "risk_margin", None) is not None:
        options = replace(options, risk_margin_eur_per_kwh=args.risk_margin)
    return options


def _check(scenario: Any, result: Any) -> int:

    problems = check_plan(scenario, result)
    for problem in problems:
        print(f"check: {problem}", file=sys.stderr)
    if problems:
        return EXIT_CHECK_FAILED
    print("check: the plan keeps every constraint of its scenario", file=sys.stderr)
    return EXIT_OK


def _note_unusable_previous(previous: Any) -> None:
    """Say on stderr when a previous plan will be ignored (planning goes on without it)."""
    if previous is None:
        return
    try:
        validate_plan(previous)
    except ContractError as err:
        print(f"warning: previous plan ignored: {err}", file=sys.stderr)


def cmd_plan(args: argparse.Namespace) -> int:
    """Plan a scenario file."""
    scenario = _read_json(args.scenario, "scenario")
    previous = _read_json(args.previous, "previous plan") if args.previous else None
    _note_unusable_previous(previous)
    result = plan(scenario, previous, _options(args))
    _write_json(args.output, result)
    if args.output:
        print(summary(result))
    return _check(scenario, result) if args.check else EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """Re-plan a stored run and show what changed."""
    run = Path(args.run_dir)
    scenario = _read_json(run / SCENARIO_FILE, "scenario")
    stored = _read_json(run / PLAN_FILE, "stored plan")
    previous = (
        _read_json(run / PREVIOUS_FILE, "previous plan") if (run / PREVIOUS_FILE).exists() else None
    )
    _note_unusable_previous(previous)
    result = plan(scenario, previous, _options(args))
    print(f"run {run}: {describe(scenario)}{' (with previous plan)' if previous else ''}")
    print(
        f"stored: {summary(stored)}"
        if isinstance(stored, dict) and "report" in stored
        else "stored: unreadable"
    )
    print(f"replay: {summary(result)}")
    try:
        changes = compare_plans(stored, result)
    except (KeyError, TypeError):
        changes = ["the stored plan does not follow the contract: no comparison"]
    print("\n".join(changes) if changes else "no change")
    if args.output:
        _write_json(args.output, result)
    return _check(scenario, result) if args.check else EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """Plan every scenario of a folder; print the table."""
    folder = Path(args.directory)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise InputError(f"no scenario (*.json) in {folder}")
    rows = []
    for path in files:
        data = _read_json(path, "scenario")
        row = run_one(path.stem, data, _options(args), reference=args.reference)
        rows.append(row)
        print(f"… {path.stem}: {row.status}, {row.total_ms:.0f} ms", file=sys.stderr, flush=True)
    print(format_table(rows))
    return EXIT_CHECK_FAILED if any(r.problems for r in rows) else EXIT_OK


def _solver_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--time-limit", type=float, help="total solver time budget in s (default 25)"
    )
    parser.add_argument(
        "--gap", type=float, help="relative MIP gap (default 2e-4; 0 = prove optimality)"
    )
    parser.add_argument(
        "--risk-margin",
        type=float,
        help="€ per kWh discharged, against forecast errors, scaled by the horizon's PV "
        "(default 0.02; 0: plan as if the forecast were exact)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="ems-optimizer",
        description="Plan a home's battery and flexible appliances (plan contract v1).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)

    p = subparsers.add_parser("plan", help="plan a scenario file")
    p.add_argument("scenario", help="scenario JSON (plan contract v1)")
    p.add_argument("-o", "--output", help="write the plan here (default: stdout)")
    p.add_argument("--previous", help="previous plan, for stable re-planning")
    p.add_argument(
        "--check", action="store_true", help="verify the plan with the independent checker"
    )
    _solver_arguments(p)
    p.set_defaults(func=cmd_plan)

    r = subparsers.add_parser(
        "replay", help="re-plan a stored run (scenario.json, plan.json, [previous.json])"
    )
    r.add_argument("run_dir", help="the run directory")
    r.add_argument("-o", "--output", help="write the new plan here")
    r.add_argument("--check", action="store_true", help="verify the new plan with the checker")
    _solver_arguments(r)
    r.set_defaults(func=cmd_replay)

    b = subparsers.add_parser("bench", help="plan every scenario of a folder and print figures")
    b.add_argument("directory", help="folder of scenario JSON files")
    b.add_argument("--reference", action="store_true", help="also solve at MIP gap 0 and compare")
    _solver_arguments(b)
    b.set_defaults(func=cmd_bench)

    serve_cli.register(subparsers)
    importlib.import_module("ems_optimizer.simulate_cli").register(subparsers)
    importlib.import_module("ems_optimizer.community.cli").register(subparsers)

    try:
        forecast_cli = importlib.import_module("ems_optimizer.forecast.cli")
    except ImportError:
        pass  # the forecasting commands are not installed
    else:
        forecast_cli.register(subparsers)
        importlib.import_module("ems_optimizer.learn.cli").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; the exit code is 0, 1 (check failed) or 2 (bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ContractError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
