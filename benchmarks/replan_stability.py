"""Does re-planning flap? Re-plan houses with noisy forecasts, with and without --previous.

Each scenario is planned 8 times in a row; every time the load and PV forecasts get ±10 %
multiplicative noise (fixed seed), as successive forecasts would. We count, between consecutive
plans, appliance starts that moved and steps where the battery direction flipped, once planning
from scratch and once with the previous plan given (the stability penalties), and the cost
difference the penalties bring (mean objective over the rounds).

Usage: .venv/bin/python benchmarks/replan_stability.py [scenario.json ...]
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
import random
import statistics
from typing import Any

from ems_optimizer.planner import plan

HERE = Path(__file__).resolve().parent
ROUNDS = 8


def _noisy(scenario: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    data = copy.deepcopy(scenario)
    for key in ("load_w", "pv_w"):
        data[key] = [round(max(x * rng.uniform(0.9, 1.1), 0.0), 1) for x in data[key]]
    return data


def _direction(watts: float) -> int:
    return 0 if abs(watts) < 50 else (1 if watts > 0 else -1)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, int]:
    moved = sum(
        1
        for ident, item in after["appliances"].items()
        if item["start"] != before["appliances"][ident]["start"]
    )
    flips = sum(
        1
        for a, b in zip(before["battery_w"], after["battery_w"], strict=True)
        if _direction(a) * _direction(b) < 0
    )
    return moved, flips


def run(scenario: dict[str, Any], *, stable: bool, seed: int) -> dict[str, float]:
    """Plan ROUNDS times with noisy forecasts; count moves and flips between rounds."""
    rng = random.Random(seed)
    previous = None
    moved = flips = 0
    costs = []
    for _ in range(ROUNDS):
        current = plan(_noisy(scenario, rng), previous if stable else None)
        costs.append(current["objective_value"])
        if previous is not None:
            m, f = _changes(previous, current)
            moved, flips = moved + m, flips + f
        previous = current
    return {"moved": moved, "flips": flips, "objective": statistics.mean(costs)}


def main() -> None:
    """Print moves and flips per scenario, from scratch and with --previous."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenarios", nargs="*", type=Path)
    args = parser.parse_args()
    files = args.scenarios or sorted((HERE / "scenarios").glob("house_*.json"))
    print(f"{'scenario':24} {'moves':>6} {'flips':>6} {'mean €':>8} | with --previous:")
    totals = {False: [0, 0], True: [0, 0]}
    for path in files:
        scenario = json.loads(path.read_text())
        fresh = run(scenario, stable=False, seed=1)
        kept = run(scenario, stable=True, seed=1)
        for flag, row in ((False, fresh), (True, kept)):
            totals[flag][0] += int(row["moved"])
            totals[flag][1] += int(row["flips"])
        print(
            f"{path.stem:24} {fresh['moved']:6.0f} {fresh['flips']:6.0f} {fresh['objective']:8.3f}"
            f" | {kept['moved']:6.0f} {kept['flips']:6.0f} {kept['objective']:8.3f}"
        )
    print(
        f"total over {len(files)} scenarios × {ROUNDS - 1} re-plans: "
        f"{totals[False][0]} moved starts and {totals[False][1]} battery flips from scratch, "
        f"{totals[True][0]} and {totals[True][1]} with --previous"
    )


if __name__ == "__main__":
    main()
