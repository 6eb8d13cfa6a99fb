"""What keeps one member from hurting the others or its own home (no broker needed)."""

from __future__ import annotations

import copy
import queue

from community_helpers import CAR, NOW, STEPS, home, homes
import pytest

from ems_core.contract import validate_scenario
from ems_optimizer.community.coordinator import MAX_MESSAGES_PER_STEP, Coordinator
from ems_optimizer.community.member import CommunityLink, pseudonymise
from ems_optimizer.community.mqtt import Account
from ems_optimizer.community.rounds import RoundSettings, _Round, run_round
from ems_optimizer.intents import derive_intents
from ems_optimizer.planner import objective_value, plan
from ems_optimizer.report import build_curves, build_report

ACCOUNT = Account("mqtt://127.0.0.1:1", "vilaine", "ev", "x")


def _left_out(result: dict, scenario: dict, ident: str = "car") -> dict:
    """The plan with its appliance left out, as a time-out's idle plan would be (consistent)."""
    bad = copy.deepcopy(result)
    bad["status"] = "relaxed"
    power = result["appliances"][ident]["power_w"]
    bad["appliances"][ident] = {"power_w": [0.0] * STEPS, "start": None}
    bad["warnings"].append({"code": "WARN_IGNORED", "appliance": ident, "message": "left out"})
    bad["grid_w"] = [g - c for g, c in zip(result["grid_w"], power, strict=True)]
    checked = validate_scenario(scenario)
    bad["curves"] = build_curves(checked, bad["appliances"])
    bad["report"] = build_report(checked, bad, 0)
    bad["objective_value"] = objective_value(checked, bad)
    bad["intents"] = derive_intents(checked, bad)
    return bad


def test_a_later_pass_never_buys_community_gains_by_leaving_out_a_member_s_load() -> None:
    scenarios = {k: validate_scenario(v) for k, v in homes().items()}
    state = _Round(scenarios, RoundSettings())
    good = plan(scenarios["ev"])
    assert state.offer("ev", good, None, first=True)
    # dropping the car lowers the community's import by 7.4 kWh: still refused
    assert not state.offer("ev", _left_out(good, scenarios["ev"]), None, first=False)
    assert state.plans["ev"] is good


def test_members_not_reached_by_the_round_s_deadline_have_no_plan_and_say_why() -> None:
    scenarios = {k: validate_scenario(v) for k, v in homes().items()}
    result = run_round(scenarios, RoundSettings(deadline_s=0.0))
    assert result.plans == {}
    assert result.failed == dict.fromkeys(scenarios, "not reached before the round's deadline")


def test_the_member_refuses_a_plan_that_gives_up_more_than_planning_alone() -> None:
    scenario = home(appliances=[CAR])
    link = CommunityLink(ACCOUNT)
    shared, names = pseudonymise(scenario)
    alone = plan(scenario)
    community = _left_out(plan(shared), shared, "a1")
    exchange = link._take(community, scenario, shared, names, alone)
    assert exchange.plan is None
    assert "gives up more than this home alone: car" in exchange.reason
    assert link._take(plan(shared), scenario, shared, names, alone).plan is not None


def test_a_plan_that_breaks_the_checker_is_refused_not_raised() -> None:
    scenario = home(appliances=[CAR])
    link = CommunityLink(ACCOUNT)
    shared, names = pseudonymise(scenario)
    odd = plan(shared)
    odd["report"]["deficit_max_hour"]["w"] = None  # the contract allows it, the checker trips
    exchange = link._take(odd, scenario, shared, names, None)
    assert exchange.plan is None
    assert exchange.reason.startswith("the community's plan")


def test_an_exchange_that_fails_is_planning_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    link = CommunityLink(ACCOUNT)
    link.link.connected.set()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("network gone")

    monkeypatch.setattr(link.link, "publish", broken)
    exchange = link.exchange(homes()["ev"])
    assert exchange.plan is None
    assert "network gone" in exchange.reason


def test_an_old_retained_refusal_is_not_taken_for_the_new_problem() -> None:
    link = CommunityLink(ACCOUNT)
    link._statuses = [{"state": "rejected", "code": "not_json", "problem_sent": None,
                       "_retained": True}]  # fmt: skip
    scenario = homes()["ev"]
    shared, names = pseudonymise(scenario)
    assert link._outcome(scenario, shared, names, NOW, None) is None  # still waiting
    link._statuses[0]["_retained"] = False  # a fresh refusal of an unreadable message
    assert link._outcome(scenario, shared, names, NOW, None).plan is None


def test_the_coordinator_survives_a_message_it_cannot_handle_and_is_not_flooded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coordinator = Coordinator(Account("mqtt://127.0.0.1:1", "vilaine", "coordinator", "x"))
    seen: list[str] = []

    def handle(topic: str, payload: bytes) -> None:
        seen.append(topic)
        if len(seen) == 1:
            raise RuntimeError("boom")

    rounds: list[int] = []
    monkeypatch.setattr(coordinator, "handle", handle)
    monkeypatch.setattr(coordinator, "due", lambda: True)
    monkeypatch.setattr(coordinator, "run_round", lambda: rounds.append(1))
    for index in range(MAX_MESSAGES_PER_STEP + 50):
        coordinator.inbox.put((f"ems/vilaine/m{index}/problem", b"{}"))
    coordinator.step(0)
    assert len(seen) == MAX_MESSAGES_PER_STEP  # the first raised; the others were handled
    assert rounds == [1]  # the round is not held back by the flood
    assert coordinator.inbox.qsize() == 50
    with pytest.raises(queue.Empty):
        queue.Queue().get_nowait()


def test_an_older_round_s_summary_never_replaces_a_newer_one() -> None:
    coordinator = Coordinator(Account("mqtt://127.0.0.1:1", "vilaine", "coordinator", "x"))
    coordinator.rounds = 2
    coordinator._publish_summary({"round": "new"}, 2)
    coordinator._publish_summary({"round": "old, with its baseline"}, 1)
    assert coordinator.last_summary == {"round": "new"}
