"""The community's coordinator: collects the members' problems, solves rounds, sends plans.

A round starts `collect_s` after the first new problem since the last round (members publish
within seconds of each other after each quarter hour), with every member whose problem starts
at the newest start; each gets its plan on its own topic and a status. Then the members' plans
on their own are computed for the summary's "gain from planning together" and the summary is
sent again. A refused problem is answered on the member's status topic with its code; it never
stops the community.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
import contextlib
from dataclasses import dataclass
from datetime import datetime
import logging
import queue
import threading
import time
from typing import Any

from ems_core.contract import Plan, format_time

from .discovery import discovery_messages
from .mqtt import Account, Link
from .protocol import (
    ACCEPTED,
    COMMUNITY_STEP_MINUTES,
    FAILED,
    PLANNED,
    REJECTED,
    Intake,
    Problem,
    ProblemRefused,
    coordinator_topic,
    dumps,
    fixed_net,
    member_of,
    plan_topic,
    problem_topic,
    status_message,
    status_topic,
    summary_topic,
    utc_now,
)
from .rounds import (
    RoundResult,
    RoundSettings,
    community_objective,
    community_weights,
    plan_alone,
    run_round as solve_round,
)
from .summary import build_summary

_LOGGER = logging.getLogger(__name__)


MAX_MESSAGES_PER_STEP = 200


@dataclass(frozen=True)
class CoordinatorSettings:
    """How the coordinator runs."""

    objective: str = "import"
    collect_s: float = 30.0  # after the first new problem, wait this long for the others
    workers: int = 2
    budget_s: float = 45.0  # later passes of a round stop here
    deadline_s: float = 150.0  # members not reached by then plan alone (collect + this < wait)
    min_gap_s: float = 30.0  # between the starts of two rounds, however often problems change
    member_time_limit_s: float = 5.0
    discovery: bool = True  # the community view: Home Assistant's MQTT discovery
    discovery_prefix: str = "homeassistant"
    language: str = "en"  # of the discovered entities' names (en or fr)
    members: tuple[str, ...] = ()  # shown in the view from the start ("absent" until they send)


class Coordinator:
    """One community's coordinator on one broker connection."""

    def __init__(
        self,
        account: Account,
        settings: CoordinatorSettings | None = None,
        *,
        executor: Executor | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.account = account
        self.community = account.community
        self.settings = settings or CoordinatorSettings()
        self.executor = executor
        self.now = now
        self.intake = Intake()
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.changed_at: float | None = None  # monotonic time of the first change not solved
        self.refused: dict[str, str] = {}  # member → code of its last refused problem
        self.rounds = 0
        self.last_summary: dict[str, Any] | None = None
        self._baseline: Future[Any] | None = None
        self._background = ThreadPoolExecutor(1, thread_name_prefix="ems-baseline")
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the summary: the round's thread and the baseline's
        self._round_began: float | None = None  # monotonic
        self._told: dict[str, str] = {}  # member → digest of the problem it was told about
        self._announced: set[str] | None = None  # members whose discovery configs are out
        self.link = Link(
            account,
            f"ems-coordinator-{self.community}",
            [problem_topic(self.community, "+")],
            lambda topic, payload, _retained: self.inbox.put((topic, payload)),
            will=(coordinator_topic(self.community), b"offline"),
            on_connect=self._announce,
        )

    # --- connection ---------------------------------------------------------------------------

    def _announce(self) -> None:
        self.link.publish(coordinator_topic(self.community), b"online", retain=True)
        self._announced = None  # a restarted broker may have lost its retained configs

    def _discover(self, members: list[str]) -> None:
        """Publish the community view's discovery configs (again for every new member)."""
        if not self.settings.discovery:
            return
        announced = self._announced
        if announced is not None and set(members) <= announced:
            return
        everyone = sorted((announced or set()) | set(members) | set(self.settings.members))
        for topic, payload in discovery_messages(
            self.community, everyone, self.settings.language, self.settings.discovery_prefix
        ):
            self.link.publish(topic, payload, retain=True)
        self._announced = set(everyone)

    def start(self) -> bool:
        """Connect (in the background); whether connected within the connect timeout."""
        return self.link.start()

    def stop(self) -> None:
        """Say offline and disconnect."""
        self._stop.set()
        info = self.link.publish(coordinator_topic(self.community), b"offline", retain=True)
        if self.link.connected.is_set():
            # not sent: the broker sends the will instead when the link drops
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(2.0)
        self.link.stop()
        self._background.shutdown(wait=False, cancel_futures=True)

    # --- problems -----------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> None:
        """One message on a problem topic: take it, or tell the member why not."""
        member = member_of(self.community, topic, "problem")
        if member is None:
            return
        if not payload:  # the member withdrew its problem
            self.intake.forget(member)
            return
        try:
            problem = self.intake.offer(member, payload, self.now())
        except ProblemRefused as err:
            _LOGGER.warning("problem of %s refused: %s", member, err)
            self.refused[member] = err.code
            self._status(member, REJECTED, code=err.code, message=err.message, sent=err.sent)
            return
        if problem is None:
            return  # the same problem again (a re-delivery)
        self.refused.pop(member, None)
        self._status(member, ACCEPTED, sent=problem.sent, round_start=problem.start)
        if self.changed_at is None:
            self.changed_at = time.monotonic()

    def _status(self, member: str, state: str, **fields: Any) -> None:
        self.link.publish(
            status_topic(self.community, member), status_message(state, **fields), retain=True
        )

    # --- rounds -------------------------------------------------------------------------------

    def due(self) -> bool:
        """Whether a round should run now: problems changed a while ago, the last round too."""
        now = time.monotonic()
        return (
            self.changed_at is not None
            and now - self.changed_at >= self.settings.collect_s
            and (self._round_began is None or now - self._round_began >= self.settings.min_gap_s)
        )

    def run_round(self) -> RoundResult | None:
        """Solve the current step's round and publish its plans, statuses and summary."""
        self.changed_at = None
        self._round_began = time.monotonic()
        now = self.now()
        self.intake.prune(now)
        start, members, others = self.intake.round_members(now)
        for member, problem in others.items():  # told once per problem
            if self._told.get(member) != problem.digest:
                self._told[member] = problem.digest
                self._status(
                    member, FAILED, code="not_in_round", sent=problem.sent,
                    message=f"the problem starts {format_time(problem.start)}, the round "
                    f"{format_time(start)}: is this home's clock right?",
                )  # fmt: skip
        if not members:
            return None
        start = next(iter(members.values())).start  # as the members write it (their offset)
        scenarios = {m: p.scenario for m, p in members.items()}
        settings = RoundSettings(
            objective=self.settings.objective,
            budget_s=self.settings.budget_s,
            deadline_s=self.settings.deadline_s,
            member_time_limit_s=self.settings.member_time_limit_s,
        )
        result = solve_round(scenarios, settings, self.executor, self.settings.workers)
        with self._lock:
            self.rounds += 1
            number = self.rounds
        self._discover(list(members))
        for member, problem in members.items():
            self._told[member] = problem.digest
            self._send(member, problem, result, start)
        summary = build_summary(
            self.community,
            start,
            scenarios,
            result.plans,
            objective=self.settings.objective,
            refused=self.refused,
            round_s=result.elapsed_s,
            passes=result.passes,
            solved_at=self.now(),
        )
        self._publish_summary(summary, number)
        _LOGGER.info(
            "round %s: %d members, %d planned, community import %.1f kWh, %d passes, %.1f s",
            format_time(start), len(members), len(result.plans), summary["import_kwh"],
            result.passes, result.elapsed_s,
        )  # fmt: skip
        if not self._stop.is_set():
            self._baseline = self._background.submit(
                self._with_baseline, summary, scenarios, number
            )
        return result

    def _send(self, member: str, problem: Problem, result: RoundResult, start: datetime) -> None:
        plan: Plan | None = result.plans.get(member)
        if plan is None:
            reason = result.failed.get(member, "no plan")
            self._status(member, FAILED, code="no_plan", message=reason, sent=problem.sent)
            return
        plan = dict(plan)
        plan["community"] = {
            "name": self.community,
            "state": "community",
            "members": len(result.plans),
            "round": format_time(start),
            "reason": None,
        }
        self.link.publish(plan_topic(self.community, member), dumps(plan), retain=True)
        self._status(member, PLANNED, sent=problem.sent, round_start=start)

    def _with_baseline(
        self, summary: dict[str, Any], scenarios: dict[str, Any], number: int
    ) -> None:
        """The members' plans on their own: the community's import without coordination.

        Given up as soon as another round starts (that round's summary is the one to show).
        """

        def outdated() -> bool:
            return self._stop.is_set() or self.rounds != number or self.changed_at is not None

        alone = plan_alone(
            scenarios,
            self.executor,
            self.settings.member_time_limit_s,
            workers=self.settings.workers,
            cancelled=outdated,
        )
        if outdated():
            return
        steps = len(summary["net_w"])
        net = [0.0] * steps
        for ident, scenario in scenarios.items():
            grid = alone[ident]["grid_w"] if ident in alone else fixed_net(scenario)
            for t in range(steps):
                net[t] += grid[t]
        weights = community_weights(scenarios.values(), "import")
        alone_kwh = round(community_objective(net, weights, COMMUNITY_STEP_MINUTES / 60), 3)
        gain = round(alone_kwh - summary["import_kwh"], 3)
        summary = {
            **summary,
            "alone_import_kwh": alone_kwh,
            "gain_kwh": gain,
            "gain_pct": round(100 * gain / alone_kwh, 1) if alone_kwh else None,
        }
        self._publish_summary(summary, number)

    def _publish_summary(self, summary: dict[str, Any], number: int) -> None:
        """Publish a round's summary, unless a newer round's is out."""
        with self._lock:
            if number != self.rounds or self._stop.is_set():
                return
            self.last_summary = summary
            self.link.publish(summary_topic(self.community), dumps(summary), retain=True)

    # --- the loop -----------------------------------------------------------------------------

    def step(self, timeout_s: float = 1.0) -> None:
        """Handle what arrived, then a round if one is due.

        It waits up to `timeout_s` for a first message and takes at most MAX_MESSAGES_PER_STEP:
        a flood of messages cannot hold rounds back.
        """
        try:
            for index in range(MAX_MESSAGES_PER_STEP):
                topic, payload = self.inbox.get(timeout=timeout_s if index == 0 else 0)
                try:
                    self.handle(topic, payload)
                except Exception:
                    _LOGGER.exception("a message on %s could not be handled: ignored", topic)
        except queue.Empty:
            pass
        if self._announced is None and self.settings.members and self.link.connected.is_set():
            self._discover([])  # the expected members, before their first problem
        if self.due() and not self._stop.is_set():
            try:
                self.run_round()
            except Exception:
                _LOGGER.exception("the round failed; the next change starts another")

    def serve(self) -> int:
        """Run until stop(); 0."""
        if not self.start():
            _LOGGER.warning("not connected to %s yet: still trying", self.account.broker)
        while not self._stop.is_set():
            self.step()
        return 0
