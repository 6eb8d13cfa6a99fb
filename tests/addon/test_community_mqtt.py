"""Community planning over a real mosquitto: rounds, plans to members, fallback, ACL, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import threading
import time
from typing import Any

from community_helpers import (
    COMMUNITY,
    NOW,
    START,
    STEPS,
    account,
    homes,
    running_broker,
    running_coordinator,
)
import paho.mqtt.client as mqtt
import pytest
from test_serve_fakeha import TOKEN, FakeHA, household_states, problem, serve_fake

from ems_core.contract import format_time
from ems_optimizer.community.broker import Setup
from ems_optimizer.community.member import CommunityLink
from ems_optimizer.community.mqtt import Account, Link
from ems_optimizer.community.protocol import problem_message
from ems_optimizer.ha_client import Connection, HAClient
from ems_optimizer.runs import RunStore
from ems_optimizer.serve import Outcome, Service
from ems_optimizer.settings import Settings

SERVE_NOW = datetime(2024, 3, 31, 22, 0, 5, tzinfo=UTC)  # 2024-04-01 00:00:05 in Paris
SERVE_START = "2024-04-01T00:00:00+02:00"


@pytest.fixture
def broker(tmp_path: Path, socket_enabled: None) -> Iterator[Setup]:
    """A running mosquitto with the community's ACL."""
    del socket_enabled
    with running_broker(tmp_path / "broker") as setup:
        yield setup


def _member(setup: Setup, name: str, wait_s: float = 20.0) -> CommunityLink:
    link = CommunityLink(account(setup, name), wait_s, now=lambda: NOW)
    assert link.start(10), f"{name} did not connect"
    return link


class Listener:
    """A raw client that records what the broker lets it see."""

    def __init__(self, setup: Setup, user: str, topics: list[str], password: str | None = None):
        self.messages: list[tuple[str, bytes]] = []
        self.arrived = threading.Condition()
        base = account(setup, user)
        acct = Account(base.broker, base.community, base.username, password or base.password)
        self.link = Link(acct, f"listener-{user}-{time.monotonic_ns()}", topics, self._on)

    def _on(self, topic: str, payload: bytes, retained: bool) -> None:
        del retained
        with self.arrived:
            self.messages.append((topic, payload))
            self.arrived.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> Any:
        """The first message (topic, data) for which predicate holds, else fail."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for topic, payload in self.messages:
                    data = json.loads(payload) if payload[:1] in (b"{", b"[") else payload
                    if predicate(topic, data):
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no such message in {[t for t, _ in self.messages]}")
                self.arrived.wait(left)


def _exchange_all(setup: Setup, scenarios: dict[str, Any]) -> dict[str, Any]:
    links = {name: _member(setup, name) for name in scenarios}
    try:
        with ThreadPoolExecutor(len(links)) as pool:
            futures = {n: pool.submit(links[n].exchange, s) for n, s in scenarios.items()}
            return {n: f.result() for n, f in futures.items()}
    finally:
        for link in links.values():
            link.stop()


def test_a_round_plans_every_member_for_the_community(broker: Setup) -> None:
    """Each member gets its plan; the neighbours use the sunny home's surplus; the view shows it."""
    viewer = Listener(broker, "viewer", [f"ems/{COMMUNITY}/summary"])
    assert viewer.link.start()
    with running_coordinator(broker):
        results = _exchange_all(broker, homes())
        for name, exchange in results.items():
            assert exchange.plan is not None, (name, exchange.reason)
            community = exchange.plan["community"]
            assert community == {
                "name": COMMUNITY, "state": "community", "members": 3, "round": START,
                "reason": None,
            }  # fmt: skip
        summary = viewer.wait_for(
            lambda t, d: isinstance(d, dict) and d.get("gain_kwh") is not None, timeout=30
        )
    viewer.link.stop()
    assert summary["members"] == 3
    assert summary["planned"] == 3
    # alone, the sunny home exports 15 kWh; together the car and the battery take all of it
    assert summary["export_kwh"] < 0.5
    assert summary["gain_kwh"] > 5
    assert summary["alone_import_kwh"] > summary["import_kwh"]
    assert summary["member"]["ev"]["runs"][0]["type"] == "ev"
    assert len(summary["net_w"]) == STEPS


def test_a_member_plans_alone_when_the_coordinator_is_silent(broker: Setup) -> None:
    """No answer within the wait: alone, and why; the coordinator gone: alone at once."""
    link = _member(broker, "ev", wait_s=1.0)
    try:
        began = time.monotonic()
        exchange = link.exchange(homes()["ev"])
        assert exchange.plan is None
        assert "no plan from the community within 1 s" in exchange.reason
        assert time.monotonic() - began < 5
        with running_coordinator(broker):
            pass  # it says "offline" as it stops (and its will would, were it to die)
        deadline = time.monotonic() + 5
        while link.coordinator_online is not False and time.monotonic() < deadline:
            time.sleep(0.05)
        began = time.monotonic()
        exchange = link.exchange(homes()["ev"])
        assert (exchange.plan, exchange.reason) == (None, "the community's coordinator is offline")
        assert time.monotonic() - began < 0.5
    finally:
        link.stop()


def test_the_acl_keeps_members_apart(broker: Setup) -> None:
    """A member sees only its own plan and status; it cannot write another member's problem."""
    spy = Listener(broker, "sunny", ["#", f"ems/{COMMUNITY}/+/plan", f"ems/{COMMUNITY}/ev/plan"])
    assert spy.link.start()
    with running_coordinator(broker) as coordinator:
        results = _exchange_all(broker, {"ev": homes()["ev"], "sunny": homes()["sunny"]})
        car = results["ev"].plan["appliances"]["car"]["power_w"]
        # alone, at a flat price, the car would charge at once; with the community, in the sun
        assert sum(car[8:24]) >= 0.95 * sum(car) > 0
        before = coordinator.intake.problems["ev"].digest
        # sunny writes as if it were ev, on ev's topic: the broker drops it
        forged = problem_message("ev", homes()["ev"], NOW + timedelta(seconds=30))
        spy.link.publish(f"ems/{COMMUNITY}/ev/problem", forged, retain=True)
        # and on its own topic, naming ev: the coordinator refuses it
        spy.link.publish(f"ems/{COMMUNITY}/sunny/problem", forged, retain=True)
        status = spy.wait_for(
            lambda t, d: t.endswith("sunny/status") and d.get("state") == "rejected"
        )
        assert status["code"] == "wrong_member"
        time.sleep(0.5)
        assert coordinator.intake.problems["ev"].digest == before
    spy.link.stop()
    seen = {topic for topic, _ in spy.messages}
    allowed = {  # not the summary either: it shows every member's runs (the viewer's)
        f"ems/{COMMUNITY}/sunny/plan",
        f"ems/{COMMUNITY}/sunny/status",
        f"ems/{COMMUNITY}/coordinator",
    }
    assert f"ems/{COMMUNITY}/sunny/plan" in seen
    assert seen <= allowed, seen - allowed


def test_a_wrong_password_is_refused(broker: Setup) -> None:
    """The broker refuses a member with a wrong password; the member says so and plans alone."""
    base = account(broker, "ev")
    link = CommunityLink(Account(base.broker, base.community, "ev", "not-the-password"), 1.0)
    assert not link.start(2)
    try:
        exchange = link.exchange(homes()["ev"])
        assert exchange.plan is None
        assert "refused" in exchange.reason
    finally:
        link.stop()


def _raw(setup: Setup, user: str) -> mqtt.Client:
    acct = account(setup, user)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"raw-{user}")
    client.username_pw_set(acct.username, acct.password)
    client.connect("127.0.0.1", setup.port)
    client.loop_start()
    return client


def _envelope(scenario: Any, sent: Any = NOW, member: str = "battery") -> bytes:
    return json.dumps(
        {"version": 1, "member": member, "sent": format_time(sent), "scenario": scenario}
    ).encode()


BAD = {
    "not_json": b"{not json",
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "nan": _envelope(homes()["battery"]).replace(b'"load_w": [300.0', b'"load_w": [NaN'),
    "too_large": _envelope({**homes()["battery"], "pad": "x" * 3_000_000}),
    "not_an_object": b"[1, 2, 3]",
    "no_version": json.dumps({"member": "battery", "sent": format_time(NOW)}).encode(),
    "bad_sent": _envelope(homes()["battery"], sent=NOW).replace(b"2024-06-15T10", b"tomorrow"),
    "strings": _envelope({**homes()["battery"], "load_w": ["300"] * STEPS}),
    "short": _envelope({**homes()["battery"], "load_w": [300.0] * (STEPS - 1)}),
    "huge_value": _envelope({**homes()["battery"], "pv_w": [1e300] * STEPS}),
    "wrong_grid": _envelope(
        {
            **homes()["battery"],
            "step_minutes": 60,
            "horizon_steps": 24,
            "load_w": [1.0] * 24,
            "pv_w": [0.0] * 24,
            "import_price_eur_per_kwh": [0.2] * 24,
            "export_price_eur_per_kwh": [0.0] * 24,
        }
    ),
    "future": _envelope(homes()["battery"], sent=NOW + timedelta(hours=2)),
    "stale": _envelope(homes()["battery"], sent=NOW - timedelta(hours=2)),
}
EXPECTED = {
    "not_json": "not_json", "deep": "not_json", "nan": "not_json", "too_large": "too_large",
    "not_an_object": "bad_envelope", "no_version": "bad_envelope", "bad_sent": "bad_envelope",
    "strings": "bad_scenario", "short": "bad_scenario", "huge_value": "bad_scenario",
    "wrong_grid": "wrong_grid", "future": "from_future", "stale": "stale",
}  # fmt: skip


def test_bad_payloads_never_stop_the_community(broker: Setup) -> None:
    """Every kind of bad problem is refused with its code; the round goes on for the others."""
    watcher = Listener(broker, "battery", [f"ems/{COMMUNITY}/battery/status"])
    assert watcher.link.start()
    client = _raw(broker, "battery")
    topic = f"ems/{COMMUNITY}/battery/problem"
    try:
        _send_bad_problems(broker, client, topic, watcher)
    finally:
        client.loop_stop()
        client.disconnect()
        watcher.link.stop()


def _send_bad_problems(broker: Setup, client: mqtt.Client, topic: str, watcher: Listener) -> None:
    for name, payload in BAD.items():
        assert b"NaN" in payload if name == "nan" else True
    with running_coordinator(broker) as coordinator:
        for name, payload in BAD.items():
            with watcher.arrived:
                watcher.messages.clear()
            client.publish(topic, payload, qos=1).wait_for_publish(5)
            status = watcher.wait_for(lambda t, d: isinstance(d, dict))
            assert (name, status["state"], status["code"]) == (name, "rejected", EXPECTED[name])
            assert len(status["message"]) <= 300
        assert "battery" not in coordinator.intake.problems
        # a good problem, then the same one sent again earlier: a replay
        good = _envelope(homes()["battery"], sent=NOW)
        client.publish(topic, good, qos=1).wait_for_publish(5)
        older = _envelope(homes()["battery"] | {"load_w": [1.0] * STEPS}, sent=NOW - timedelta(1))
        with watcher.arrived:
            watcher.messages.clear()
        client.publish(topic, older, qos=1).wait_for_publish(5)
        status = watcher.wait_for(lambda t, d: d.get("state") == "rejected")
        assert status["code"] == "replayed"
        # the others are planned all the same, and so is battery's good problem
        results = _exchange_all(broker, {"ev": homes()["ev"], "sunny": homes()["sunny"]})
        assert all(r.plan is not None for r in results.values())
        # the summary follows the plans: wait for the round with all three
        deadline = time.monotonic() + 20
        while (coordinator.last_summary or {}).get("members") != 3:
            assert time.monotonic() < deadline, coordinator.last_summary
            time.sleep(0.05)
        assert coordinator.last_summary["refused"] == {"battery": "replayed"}


def test_serve_pushes_the_community_plan_or_plans_alone(broker: Setup, tmp_path: Path) -> None:
    """The add-on's round: the community's plan when it comes, else its own, saying why."""
    site = FakeHA()
    site.problem = problem(SERVE_START, 96, 15)
    site.states = household_states("2024-03-31T22:00:00+00:00")
    clock = lambda: SERVE_NOW  # noqa: E731
    with serve_fake(site):
        link = CommunityLink(account(broker, "ev"), 15.0, now=clock)
        assert link.start(10)
        settings = Settings(solver_time_limit_s=10, community_name=COMMUNITY)
        client = HAClient(Connection(site.url, TOKEN, supervisor=False))
        store = RunStore(tmp_path / "runs", 10)
        service = Service(settings, client, store, now=clock, community=link)
        try:
            with running_coordinator(broker, now=clock):
                assert service.run_round("test") == Outcome.PUSHED
            together = site.plans[-1]["plan"]
            assert together["community"]["state"] == "community"
            assert together["community"]["members"] == 1
            # the coordinator is gone (it said so): the next round plans alone at once
            assert service.run_round("test") == Outcome.PUSHED
            alone = site.plans[-1]["plan"]
            assert alone["community"] == {
                "name": COMMUNITY, "state": "alone", "members": None, "round": None,
                "reason": "the community's coordinator is offline",
            }  # fmt: skip
            assert alone["grid_w"]  # a plan all the same
        finally:
            link.stop()
            client.close()


def test_a_problem_for_another_step_is_told_it_is_not_in_the_round(broker: Setup) -> None:
    """A home whose clock runs ahead sends the next step's problem: told why, it plans alone."""
    ahead = homes()["ev"] | {"start": "2024-06-15T12:15:00+02:00", "appliances": []}
    with running_coordinator(broker):
        results = _exchange_all(broker, {"ev": ahead, "sunny": homes()["sunny"]})
    assert results["sunny"].plan is not None
    assert results["ev"].plan is None
    assert "not_in_round" in results["ev"].reason
    assert "is this home's clock right?" in results["ev"].reason


def test_the_view_shows_the_expected_members_before_their_first_problem(broker: Setup) -> None:
    """Members named to the coordinator are devices at once, "absent" until they take part."""
    viewer = Listener(broker, "viewer", ["homeassistant/#"])
    assert viewer.link.start()
    try:
        with running_coordinator(broker, members=("ev", "battery")):
            config = viewer.wait_for(
                lambda t, d: t.endswith("ems_community_vilaine_battery_state/config")
            )
    finally:
        viewer.link.stop()
    assert config["device"]["name"] == "Member battery"
    assert config["state_topic"] == f"ems/{COMMUNITY}/summary"
    assert "'battery' in value_json.member" in config["value_template"]
