"""A member's side: publish the home's problem, take the community's plan, or plan alone.

What a member publishes is only what planning needs: the scenario (its forecasts of load and PV,
prices, grid limits, the battery, and each flexible appliance's constraints), with appliance ids
replaced by a1, a2, … (the names people give them stay home). The plan that comes back is
checked against the home's own scenario, by the contract and by the independent checker, before
it is used: a coordinator cannot make a home break its own constraints.
"""

from __future__ import annotations

from collections.abc import Callable
import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
import threading
from typing import Any

from ems_core.contract import (
    ContractError,
    Plan,
    Scenario,
    format_time,
    parse_time,
    validate_plan,
)
from ems_optimizer.checker import check_plan

from .mqtt import Account, Link
from .protocol import (
    FAILED,
    PLANNED,
    REJECTED,
    coordinator_topic,
    loads,
    plan_topic,
    problem_message,
    problem_topic,
    relaxed,
    status_topic,
    utc_now,
)

_LOGGER = logging.getLogger(__name__)
DEFAULT_WAIT_S = 240.0


@dataclass(frozen=True)
class Exchange:
    """What came of one problem: the community's plan, or why the home plans alone."""

    plan: Plan | None
    reason: str | None = None


def pseudonymise(scenario: Scenario) -> tuple[Scenario, dict[str, str]]:
    """The scenario with appliance ids a1, a2, …; and the map back (new id → the home's id)."""
    shared = copy.deepcopy(scenario)
    names = {}
    for index, appliance in enumerate(shared["appliances"], start=1):
        names[f"a{index}"] = appliance["id"]
        appliance["id"] = f"a{index}"
    return shared, names


def restore_names(plan: Plan, names: dict[str, str]) -> Plan:
    """A plan made for the pseudonymised scenario, with the home's appliance ids again."""
    result = dict(plan)
    result["appliances"] = {names.get(k, k): v for k, v in plan["appliances"].items()}
    result["warnings"] = [
        {**w, "appliance": names.get(w["appliance"], w["appliance"])} for w in plan["warnings"]
    ]
    return result


class CommunityLink:
    """A member's connection to its community (one per home)."""

    def __init__(
        self,
        account: Account,
        wait_s: float = DEFAULT_WAIT_S,
        *,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.account = account
        self.community = account.community
        self.member = account.username
        self.wait_s = wait_s
        self.now = now
        self.coordinator_online: bool | None = None  # None: not heard of yet
        self._changed = threading.Condition()
        self._plans: list[Plan] = []  # plans received (the newest last)
        self._statuses: list[dict[str, Any]] = []
        self.last_sent: datetime | None = None
        self.link = Link(
            account,
            f"ems-member-{self.community}-{self.member}",
            [
                plan_topic(self.community, self.member),
                status_topic(self.community, self.member),
                coordinator_topic(self.community),
            ],
            self._message,
        )

    def start(self, wait_s: float = 5.0) -> bool:
        """Connect in the background; whether connected within `wait_s`."""
        return self.link.start(wait_s)

    def stop(self) -> None:
        """Disconnect."""
        self.link.stop()

    def _message(self, topic: str, payload: bytes, retained: bool) -> None:
        with self._changed:
            if topic == coordinator_topic(self.community):
                self.coordinator_online = payload == b"online"
            else:
                try:
                    data = loads(payload)
                except ValueError:
                    _LOGGER.warning("unreadable message on %s: ignored", topic)
                    return
                if not isinstance(data, dict):
                    return
                if topic.endswith("/plan"):
                    self._plans = [*self._plans[-3:], data]
                else:  # a retained status is from before: it may not say which problem
                    self._statuses = [*self._statuses[-3:], {**data, "_retained": retained}]
            self._changed.notify_all()

    def exchange(self, scenario: Scenario, alone: Plan | None = None) -> Exchange:
        """Publish the home's problem and wait for its plan; why alone if none comes in time.

        With the home's own plan (`alone`), a community plan that leaves out or reduces more of
        what the home asked for than planning alone would is not taken. Never raises.
        """
        try:
            return self._exchange(scenario, alone)
        except Exception as err:  # a house is never without a plan: it plans alone
            _LOGGER.exception("the exchange with the community failed")
            return Exchange(None, f"the exchange with the community failed: {err}"[:300])

    def _exchange(self, scenario: Scenario, alone: Plan | None) -> Exchange:
        if not self.link.connected.is_set():
            return Exchange(None, self._not_connected())
        shared, names = pseudonymise(scenario)
        sent = self.now().replace(microsecond=0)  # the message carries whole seconds
        if self.last_sent is not None and sent <= self.last_sent:
            sent = self.last_sent + timedelta(seconds=1)  # each problem newer than the last
        self.last_sent = sent
        with self._changed:
            self._plans, self._statuses = [], []
        self.link.publish(
            problem_topic(self.community, self.member),
            problem_message(self.member, shared, sent),
            retain=True,
        )
        deadline = threading.Event()
        timer = threading.Timer(self.wait_s, self._wake, args=(deadline,))
        timer.start()
        try:
            with self._changed:
                while True:
                    outcome = self._outcome(scenario, shared, names, sent, alone)
                    if outcome is not None:
                        return outcome
                    if deadline.is_set():
                        return Exchange(
                            None, f"no plan from the community within {self.wait_s:.0f} s"
                        )
                    self._changed.wait()
        finally:
            timer.cancel()

    def _wake(self, deadline: threading.Event) -> None:
        deadline.set()
        with self._changed:
            self._changed.notify_all()

    def _not_connected(self) -> str:
        if self.link.refused:
            return f"the community's broker refused this home ({self.link.refused})"
        return f"not connected to the community's broker ({self.account.broker})"

    def _outcome(
        self,
        scenario: Scenario,
        shared: Scenario,
        names: dict[str, str],
        sent: datetime,
        alone: Plan | None,
    ) -> Exchange | None:
        """The exchange once it is decided (a plan, a refusal, the coordinator away), else None."""
        if self.coordinator_online is False:
            return Exchange(None, "the community's coordinator is offline")
        mine = [
            status
            for status in self._statuses
            if status.get("problem_sent") == format_time(sent)
            # a refusal of an unreadable message cannot say which problem it was: a fresh one
            or (status.get("problem_sent") is None and not status.get("_retained"))
        ]
        for status in mine:
            if status.get("state") in (REJECTED, FAILED):
                return Exchange(
                    None,
                    f"the community did not plan this home: {status.get('code')}: "
                    f"{str(status.get('message'))[:300]}",
                )
        if not any(status.get("state") == PLANNED for status in mine):
            return None
        for data in reversed(self._plans):
            if _start_of(data) == parse_time(scenario["start"]):
                return self._take(data, scenario, shared, names, alone)
        return None

    def _take(
        self,
        data: dict[str, Any],
        scenario: Scenario,
        shared: Scenario,
        names: dict[str, str],
        alone: Plan | None,
    ) -> Exchange:
        """The community's plan if it keeps every promise of the home's scenario."""
        try:
            validate_plan(data, shared)
            result = validate_plan(restore_names(data, names), scenario)
            problems = check_plan(scenario, result)
        except ContractError as err:
            return Exchange(None, f"the community's plan is not valid: {err}")
        except Exception as err:
            return Exchange(None, f"the community's plan cannot be checked: {err}"[:300])
        if problems:
            return Exchange(
                None, f"the community's plan breaks this home's constraints: {problems[0]}"
            )
        if alone is not None and not relaxed(result) <= relaxed(alone):
            given_up = ", ".join(sorted(relaxed(result) - relaxed(alone)))
            return Exchange(
                None, f"the community's plan gives up more than this home alone: {given_up}"
            )
        return Exchange(result)


def _start_of(data: dict[str, Any]) -> datetime | None:
    try:
        return parse_time(data["start"])
    except (KeyError, TypeError, ValueError):
        return None
