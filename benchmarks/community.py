"""Community rounds at 10 / 100 / 1,000 / 5,000 members: time, community import, gap.

    .venv/bin/python benchmarks/community.py [--sizes 10,100,1000,5000] [--workers 2]

For each size, a synthetic community from the shared data (ems_optimizer.community.synthetic,
one PV plant of 1 kWp per member among them) on one summer and one spring day:
- round s: a coordinator's round (every member's MILP, coordinated, on a process pool);
- import alone: the community's import when each home plans alone for its own objective (cost
  at the day-ahead price + grid fee), and when each home alone minimises its own import
  (self-consumption at home: the gain that needs no coordination);
- import round: the community's import after the round (objective `import`, ELFE's);
- gap: against the joint MILP (every member in one model, same objective) where it solves
  within its time limit (small sizes), measured as the extra import of the round.
"""

from __future__ import annotations

import argparse
from concurrent.futures import Executor, ProcessPoolExecutor
import contextlib
from pathlib import Path
import time

from ems_core.contract import validate_scenario
from ems_optimizer.community.joint import solve_joint
from ems_optimizer.community.rounds import (
    RoundSettings,
    community_objective,
    community_weights,
    plan_alone,
    run_round,
)
from ems_optimizer.community.synthetic import community

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DAYS = ("2024-06-26", "2024-04-10")


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--days", default=",".join(DAYS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--joint-up-to", type=int, default=100, help="largest joint MILP")
    parser.add_argument("--joint-limit-s", type=float, default=300.0)
    parser.add_argument("--budget-s", type=float, default=45.0)
    parser.add_argument(
        "--dask", action="store_true", help="on a local Dask cluster of --workers processes"
    )
    args = parser.parse_args()
    print("| members | day | first pass s | round s | passes | solves | alone (cost) kWh "
          "| alone (import) kWh | 1st pass kWh | round kWh | gain vs cost / import "
          "| joint kWh (s) | gap |")  # fmt: skip
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with contextlib.ExitStack() as stack:
        if args.dask:
            from distributed import Client, LocalCluster  # noqa: PLC0415

            cluster = stack.enter_context(
                LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None)
            )
            pool = stack.enter_context(Client(cluster)).get_executor()
        else:
            pool = stack.enter_context(ProcessPoolExecutor(args.workers))
        for size in (int(x) for x in args.sizes.split(",")):
            for day in args.days.split(","):
                row(size, day, pool, args)


def row(size: int, day: str, pool: Executor, args: argparse.Namespace) -> None:
    """One line of the table."""
    scenarios = {k: validate_scenario(v) for k, v in community(DATA, day, size).items()}
    weights = community_weights(scenarios.values(), "import")
    settings = RoundSettings(budget_s=args.budget_s, deadline_s=3600.0)
    result = run_round(scenarios, settings, pool, args.workers)
    steps = len(result.net_w)

    def alone_import(objective: str | None) -> float:
        homes = scenarios if objective is None else {
            k: {**v, "objective": objective} for k, v in scenarios.items()
        }  # fmt: skip
        alone = plan_alone(homes, pool, workers=args.workers)
        net = [sum(p["grid_w"][t] for p in alone.values()) for t in range(steps)]
        return community_objective(net, weights, 0.25)

    before, selfish = alone_import(None), alone_import("import")
    after = result.objective
    joint_text, gap_text = "—", "—"
    if size <= args.joint_up_to:
        began = time.perf_counter()
        joint = solve_joint(scenarios, time_limit_s=args.joint_limit_s)
        spent = time.perf_counter() - began
        if joint.solved:
            best = community_objective(joint.net_w, weights, 0.25)
            proven = "" if joint.proven else ", not proven"
            joint_text = f"{best:.1f} ({spent:.0f}{proven})"
            gap_text = f"{100 * (after - best) / best:.2f} %"
    print(
        f"| {size} | {day} | {result.pass_s[0]:.1f} | {result.elapsed_s:.1f} | {result.passes} "
        f"| {result.solves} | {before:.1f} | {selfish:.1f} | {result.history[0]:.1f} | {after:.1f} "
        f"| {100 * (before - after) / before:.1f} % / {100 * (selfish - after) / selfish:.1f} % "
        f"| {joint_text} | {gap_text} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
