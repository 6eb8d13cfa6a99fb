"""Community rounds without a broker: the shared objective, coordination, intake, summary."""

from __future__ import annotations

from datetime import datetime, timedelta
import json
import math
import subprocess
import sys

from community_helpers import CAR, NOW, STEPS, home, homes
import pytest

from ems_core.contract import validate_scenario
from ems_optimizer.checker import check_plan
from ems_optimizer.community.member import pseudonymise, restore_names
from ems_optimizer.community.protocol import Intake, ProblemRefused, problem_message
from ems_optimizer.community.rounds import (
    RoundSettings,
    community_objective,
    community_weights,
    plan_alone,
    run_round,
)
from ems_optimizer.community.summary import build_summary
from ems_optimizer.model.site import Shared
from ems_optimizer.planner import plan


def _checked(scenarios: dict) -> dict:
    return {name: validate_scenario(s) for name, s in scenarios.items()}


def test_a_member_plans_for_the_community_s_flow() -> None:
    """Against a neighbour's surplus the car charges in it; alone at a flat price, at once."""
    background = [-4000.0 if 8 <= t < 24 else 300.0 for t in range(STEPS)]
    shared = Shared(background, [1.0] * STEPS, [0.0] * STEPS)
    together = plan(home(appliances=[CAR]), shared=shared)
    alone = plan(home(appliances=[CAR]))
    car, car_alone = together["appliances"]["car"]["power_w"], alone["appliances"]["car"]["power_w"]
    assert sum(car[8:24]) == pytest.approx(sum(car))
    assert sum(car_alone[:2]) > 0
    assert sum(car_alone[8:24]) < sum(car_alone)
    assert check_plan(home(appliances=[CAR]), together) == []  # the home's constraints hold


def test_bad_community_series_are_refused() -> None:
    with pytest.raises(ValueError, match="background_w: needs 96 finite values"):
        plan(home(), shared=Shared([0.0] * 95, [1.0] * STEPS, [0.0] * STEPS))
    with pytest.raises(ValueError, match="background_w: needs 96 finite values"):
        plan(home(), shared=Shared([math.nan] * STEPS, [1.0] * STEPS, [0.0] * STEPS))
    with pytest.raises(ValueError, match="export_weight: must not exceed"):
        plan(home(), shared=Shared([0.0] * STEPS, [0.1] * STEPS, [0.2] * STEPS))


def test_a_round_never_does_worse_than_its_first_pass_and_beats_planning_alone() -> None:
    scenarios = _checked(homes())
    result = run_round(scenarios, RoundSettings(max_passes=4))
    assert set(result.plans) == set(scenarios)
    assert result.failed == {}
    assert all(b <= a + 1e-9 for a, b in zip(result.history, result.history[1:], strict=False))
    alone = plan_alone(scenarios)
    net_alone = [sum(p["grid_w"][t] for p in alone.values()) for t in range(STEPS)]
    weights = community_weights(scenarios.values(), "import")
    assert result.objective < community_objective(net_alone, weights, 0.25) - 5
    for name, scenario in scenarios.items():
        assert check_plan(scenario, result.plans[name]) == []


def test_one_member_that_cannot_be_planned_does_not_stop_the_round() -> None:
    scenarios = _checked(homes())
    scenarios["broken"] = {**scenarios["ev"], "load_w": "not a series"}  # passed intake somehow
    result = run_round(scenarios)
    assert set(result.plans) == {"sunny", "ev", "battery"}
    assert "broken" in result.failed


def test_cost_weights_are_the_members_mean_with_export_at_most_import() -> None:
    a = home(import_price_eur_per_kwh=[0.1] * STEPS, export_price_eur_per_kwh=[0.3] * STEPS)
    b = home(import_price_eur_per_kwh=[0.3] * STEPS, export_price_eur_per_kwh=[0.1] * STEPS)
    w_in, w_out = community_weights(_checked({"a": a, "b": b}).values(), "cost")
    assert w_in == [pytest.approx(0.2)] * STEPS
    assert w_out == [pytest.approx(0.2)] * STEPS  # 0.2 mean, clipped to the import weight


def test_the_intake_keeps_the_newest_problem_and_refuses_replays() -> None:
    intake = Intake()
    first = problem_message("ev", homes()["ev"], NOW)
    taken = intake.offer("ev", first, NOW)
    assert taken is not None
    assert taken.start.isoformat() == "2024-06-15T12:00:00+02:00"
    assert intake.offer("ev", first, NOW) is None  # the same message again: nothing new
    with pytest.raises(ProblemRefused) as refused:
        intake.offer("ev", problem_message("ev", home(), NOW), NOW)
    assert refused.value.code == "replayed"
    quarter = NOW + timedelta(minutes=15)
    later = problem_message("ev", home(start="2024-06-15T12:15:00+02:00"), quarter)
    assert intake.offer("ev", later, quarter) is not None
    intake.offer("sunny", problem_message("sunny", homes()["sunny"], NOW), quarter)
    start, members, others = intake.round_members(quarter)
    assert start.astimezone(NOW.tzinfo) == datetime.fromisoformat("2024-06-15T12:15:00+02:00")
    assert set(members) == {"ev"}
    assert set(others) == {"sunny"}  # its problem is for the round before


def test_the_intake_refuses_what_would_take_over_or_slow_the_rounds() -> None:
    """A start off the current step (a member cannot make the round its own), too many
    appliances, problems too close together, and whatever a hostile scenario trips."""
    intake = Intake()

    def refused(member: str, scenario: dict, sent: datetime = NOW) -> str:
        with pytest.raises(ProblemRefused) as err:
            intake.offer(member, problem_message(member, scenario, sent), NOW)
        return err.value.code

    assert refused("a", home(start="2099-01-01T00:00:00+00:00")) == "wrong_start"
    assert refused("a", home(start="2024-06-15T12:00:01+02:00")) == "wrong_start"
    assert refused("a", home(start="2024-06-15T13:00:00+02:00")) == "wrong_start"
    cycles = [CAR | {"id": f"c{i}"} for i in range(51)]
    assert refused("a", home(appliances=cycles)) == "too_many_appliances"
    assert refused("a", home(appliances=[{"id": "x", "type": {}}])) == "bad_scenario"
    assert intake.offer("a", problem_message("a", home(), NOW), NOW) is not None
    assert refused("a", home(load_w=[1.0] * STEPS), NOW + timedelta(seconds=5)) == "too_soon"
    # the next step's problem (a member's clock a little ahead) is taken, for its own round
    ahead = problem_message("b", home(start="2024-06-15T12:15:00+02:00"), NOW)
    assert intake.offer("b", ahead, NOW) is not None
    intake.prune(NOW + timedelta(hours=2))
    assert intake.problems == {}


def test_appliance_names_stay_home() -> None:
    scenario = homes()["ev"] | {"appliances": [CAR | {"id": "Tesla in the garage"}]}
    shared, names = pseudonymise(scenario)
    assert [a["id"] for a in shared["appliances"]] == ["a1"]
    assert "Tesla" not in str(shared)
    back = restore_names(plan(shared), names)
    assert set(back["appliances"]) == {"Tesla in the garage"}
    assert check_plan(scenario, back) == []


def test_the_summary_adds_up() -> None:
    scenarios = _checked(homes())
    result = run_round(scenarios)
    summary = build_summary(
        "vilaine", NOW, scenarios, result.plans, objective="import", refused={"x": "stale"},
        round_s=1.0, passes=result.passes, solved_at=NOW,
    )  # fmt: skip
    net = [sum(p["grid_w"][t] for p in result.plans.values()) for t in range(STEPS)]
    assert summary["import_kwh"] == pytest.approx(sum(max(n, 0) for n in net) / 4000, abs=1e-3)
    assert summary["production_kwh"] == pytest.approx(sum(homes()["sunny"]["pv_w"]) / 4000, 1e-3)
    assert summary["members"] == summary["planned"] == 3
    assert summary["member"]["ev"]["runs"][0]["type"] == "ev"
    assert summary["member"]["battery"]["battery"] is True
    assert summary["refused"] == {"x": "stale"}


DASK_ROUND = """
import json, sys
from distributed import Client, LocalCluster
from ems_optimizer.community.rounds import RoundSettings, run_round
scenarios = json.load(sys.stdin)
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                  dashboard_address=None) as cluster, Client(cluster) as client:
    result = run_round(scenarios, RoundSettings(max_passes=2), client.get_executor(), 2)
print(json.dumps({"plans": sorted(result.plans), "objective": result.objective}))
"""


def test_a_round_runs_the_same_on_a_dask_cluster(socket_enabled: None) -> None:
    """Members solved by Dask workers (a local cluster of two processes) give the same plans.

    In a process of its own: Dask keeps an event-loop thread for the process's lifetime.
    """
    del socket_enabled
    scenarios = _checked(homes())
    here = run_round(scenarios, RoundSettings(max_passes=2))
    done = subprocess.run(
        [sys.executable, "-c", DASK_ROUND],
        input=json.dumps(scenarios),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    there = json.loads(done.stdout.strip().splitlines()[-1])
    assert there["plans"] == sorted(here.plans)
    assert there["objective"] == pytest.approx(here.objective, abs=0.05)
