"""The community protocol over MQTT: topics, messages, and how the coordinator takes a problem.

Topics (`<community>` and `<member>`: 1–32 of a-z 0-9 _ -, the member's broker user name):

    ems/<community>/<member>/problem   member → coordinator, retained, QoS 1: a problem message
    ems/<community>/<member>/plan      coordinator → member, retained, QoS 1: a contract plan
    ems/<community>/<member>/status    coordinator → member, retained: the problem's verdict
    ems/<community>/summary            coordinator → all, retained: the community's round
    ems/<community>/coordinator        coordinator → all, retained: "online" / "offline" (its will)

A problem message is JSON: {"version": 1, "member": "<member>", "sent": "<ISO time>",
"scenario": <a plan-contract scenario>}. The coordinator checks it whole before it counts: size,
JSON (no NaN or infinities), the envelope, the member named by its topic, the scenario by the
contract's validator, the community's step grid, and the time it was sent (no replays: never
older than the last one taken, never stale, never from the future).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import hashlib
import json
import re
from typing import Any

from ems_core.contract import (
    MAX_JSON_BYTES,
    MAX_SITE_APPLIANCES,
    ContractError,
    Scenario,
    format_time,
    parse_time,
    validate_scenario,
)

PROTOCOL_VERSION = 1
COMMUNITY_STEP_MINUTES = 15  # every member's problem: 96 steps of 15 minutes
COMMUNITY_HORIZON_STEPS = 96
ROOT = "ems"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
# Names a member cannot take: they are topics of their own, or the coordinator's and viewer's.
RESERVED = frozenset({"summary", "coordinator", "homeassistant", "viewer"})
MAX_MESSAGE_BYTES = MAX_JSON_BYTES + 4096
MAX_AGE = timedelta(hours=1)  # a problem sent longer ago is stale
MAX_AHEAD = timedelta(minutes=5)  # clocks differ; a problem from further ahead is refused
MIN_INTERVAL = timedelta(seconds=10)  # a member's problems: at most one per 10 s

# The verdicts a member reads in its status topic.
ACCEPTED = "accepted"
REJECTED = "rejected"
PLANNED = "planned"
FAILED = "failed"
# Why a problem is refused (status "code"), each with a message that says what is wrong.
CODES = (
    "too_large",
    "not_json",
    "bad_envelope",
    "wrong_member",
    "bad_scenario",
    "wrong_grid",
    "wrong_start",
    "too_many_appliances",
    "too_soon",
    "replayed",
    "stale",
    "from_future",
    "no_plan",
    "not_in_round",
)


class ProblemRefused(ValueError):
    """A member's problem the coordinator does not take: `code` (see CODES) and why."""

    def __init__(self, code: str, message: str, sent: datetime | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.sent = sent  # when the refused problem was sent, if the message says


def utc_now() -> datetime:
    """Now, aware, in UTC (the coordinator's and the members' clock)."""
    return datetime.now(UTC)


def check_name(value: str, what: str) -> str:
    """A community or member name usable as one MQTT topic level; ValueError if not."""
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise ValueError(f"{what} {value!r}: use 1–32 of a-z, 0-9, _ and -, starting a-z or 0-9")
    if value in RESERVED:
        raise ValueError(f"{what} {value!r}: reserved ({', '.join(sorted(RESERVED))})")
    return value


def problem_topic(community: str, member: str) -> str:
    """Where a member publishes its problem."""
    return f"{ROOT}/{community}/{member}/problem"


def plan_topic(community: str, member: str) -> str:
    """Where the coordinator publishes a member's plan."""
    return f"{ROOT}/{community}/{member}/plan"


def status_topic(community: str, member: str) -> str:
    """Where the coordinator says what became of a member's problem."""
    return f"{ROOT}/{community}/{member}/status"


def summary_topic(community: str) -> str:
    """The community's live summary."""
    return f"{ROOT}/{community}/summary"


def coordinator_topic(community: str) -> str:
    """The coordinator's presence: "online", or "offline" (its last will)."""
    return f"{ROOT}/{community}/coordinator"


def member_of(community: str, topic: str, kind: str) -> str | None:
    """The member named by a `ems/<community>/<member>/<kind>` topic (None if another topic)."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != ROOT or parts[1] != community or parts[3] != kind:
        return None
    return parts[2]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def loads(payload: bytes) -> Any:
    """Strict JSON: refuses NaN and ±Infinity, which Python's json accepts by default."""
    return json.loads(payload, parse_constant=_no_constant)


def dumps(data: Any) -> bytes:
    """Compact JSON bytes (NaN refused)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def problem_message(member: str, scenario: Scenario, sent: datetime) -> bytes:
    """A member's problem message."""
    return dumps(
        {
            "version": PROTOCOL_VERSION,
            "member": member,
            "sent": format_time(sent),
            "scenario": scenario,
        }
    )


@dataclass(frozen=True)
class Problem:
    """A member's problem, checked."""

    member: str
    sent: datetime
    scenario: Scenario
    digest: str  # of the payload, to tell a re-delivery from a new problem

    @property
    def start(self) -> datetime:
        """The start of the problem's horizon."""
        return parse_time(self.scenario["start"])


def read_problem(member: str, payload: bytes, *, step_minutes: int, horizon_steps: int) -> Problem:
    """A problem message from `member`'s topic, checked whole; ProblemRefused if not usable."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ProblemRefused("too_large", f"{len(payload)} bytes, at most {MAX_MESSAGE_BYTES}")
    try:
        data = loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ProblemRefused("not_json", str(err)[:200]) from None
    if not isinstance(data, dict):
        raise ProblemRefused("bad_envelope", "the message must be a JSON object")
    if data.get("version") != PROTOCOL_VERSION:
        raise ProblemRefused("bad_envelope", f"version must be {PROTOCOL_VERSION}")
    if data.get("member") != member:
        raise ProblemRefused(
            "wrong_member",
            f"the message names {str(data.get('member'))[:40]!r}, its topic {member!r}",
        )
    try:
        sent = parse_time(data["sent"])
    except (KeyError, TypeError, ValueError):
        raise ProblemRefused("bad_envelope", "sent: an ISO 8601 time with its UTC offset") from None
    try:
        scenario = validate_scenario(data.get("scenario"))
    except ContractError as err:
        raise ProblemRefused("bad_scenario", str(err)[:300], sent) from None
    except Exception as err:
        message = f"not a scenario ({type(err).__name__}: {err})"[:300]
        raise ProblemRefused("bad_scenario", message, sent) from None
    if scenario["step_minutes"] != step_minutes or scenario["horizon_steps"] != horizon_steps:
        raise ProblemRefused(
            "wrong_grid",
            f"the community plans {horizon_steps} steps of {step_minutes} min; this problem has "
            f"{scenario['horizon_steps']} of {scenario['step_minutes']}",
            sent,
        )
    if len(scenario["appliances"]) > MAX_SITE_APPLIANCES:
        raise ProblemRefused(
            "too_many_appliances",
            f"{len(scenario['appliances'])} appliances, a home has at most {MAX_SITE_APPLIANCES}",
            sent,
        )
    return Problem(member, sent, scenario, hashlib.sha256(payload).hexdigest())


def quarter_of(moment: datetime, step_minutes: int = COMMUNITY_STEP_MINUTES) -> datetime:
    """The start of the community step `moment` is in (UTC)."""
    moment = moment.astimezone(UTC)
    minutes = moment.hour * 60 + moment.minute
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(minutes=minutes - minutes % step_minutes)


class Intake:
    """The latest problem of each member, and the rule that keeps replays out."""

    def __init__(
        self,
        *,
        step_minutes: int = COMMUNITY_STEP_MINUTES,
        horizon_steps: int = COMMUNITY_HORIZON_STEPS,
    ) -> None:
        self.step_minutes = step_minutes
        self.horizon_steps = horizon_steps
        self.problems: dict[str, Problem] = {}

    def offer(self, member: str, payload: bytes, now: datetime) -> Problem | None:
        """Take a member's message: its Problem if new, None for a re-delivery of the last one.

        ProblemRefused when it cannot be taken; the member's previous problem stays.
        """
        problem = read_problem(
            member, payload, step_minutes=self.step_minutes, horizon_steps=self.horizon_steps
        )
        last = self.problems.get(member)
        if last is not None and problem.digest == last.digest:
            return None
        sent = problem.sent
        if last is not None and sent <= last.sent:
            raise ProblemRefused(
                "replayed",
                f"sent {format_time(sent)}, not after the last one ({format_time(last.sent)})",
                sent,
            )
        if sent < now - MAX_AGE:
            raise ProblemRefused("stale", f"sent {format_time(sent)}, over an hour ago", sent)
        if sent > now + MAX_AHEAD:
            raise ProblemRefused(
                "from_future", f"sent {format_time(sent)}, ahead of the coordinator's clock", sent
            )
        if last is not None and sent < last.sent + MIN_INTERVAL:
            raise ProblemRefused(
                "too_soon", f"sent {(sent - last.sent).total_seconds():.0f} s after the last", sent
            )
        self._check_start(problem, now)
        self.problems[member] = problem
        return problem

    def _check_start(self, problem: Problem, now: datetime) -> None:
        """A horizon on the community's grid, starting in the current step (or next to it)."""
        step = timedelta(minutes=self.step_minutes)
        start, current = problem.start, quarter_of(now, self.step_minutes)
        if start != quarter_of(start, self.step_minutes) or abs(start - current) > step:
            raise ProblemRefused(
                "wrong_start",
                f"starts {format_time(start)}; the community's current step starts "
                f"{format_time(current.astimezone(start.tzinfo))} ({self.step_minutes}-minute "
                "steps)",
                problem.sent,
            )

    def prune(self, now: datetime) -> None:
        """Forget problems sent over an hour ago (their members left or went quiet)."""
        for member in [m for m, p in self.problems.items() if p.sent < now - MAX_AGE]:
            del self.problems[member]

    def forget(self, member: str) -> None:
        """Drop a member's problem (it withdrew it)."""
        self.problems.pop(member, None)

    def round_members(
        self, now: datetime
    ) -> tuple[datetime, dict[str, Problem], dict[str, Problem]]:
        """The current step's start, the members whose problem starts there, and the others."""
        start = quarter_of(now, self.step_minutes)
        inside = {m: p for m, p in self.problems.items() if p.start == start}
        return start, inside, {m: p for m, p in self.problems.items() if m not in inside}


def fixed_net(scenario: Mapping[str, Any]) -> list[float]:
    """A member's net with nothing flexible running: load − PV (W)."""
    return [load - pv for load, pv in zip(scenario["load_w"], scenario["pv_w"], strict=True)]


RELAXING = ("WARN_IGNORED", "WARN_IMPOSSIBLE")


def relaxed(plan: Mapping[str, Any]) -> set[str]:
    """What a plan gave up: appliances left out or reduced, "*" for the site as a whole."""
    return {
        str(w.get("appliance") or "*")
        for w in plan.get("warnings") or []
        if isinstance(w, Mapping) and w.get("code") in RELAXING
    }


def status_message(
    state: str,
    *,
    code: str | None = None,
    message: str | None = None,
    sent: datetime | None = None,
    round_start: datetime | None = None,
) -> bytes:
    """A member's status: what became of its problem (`state`) and, if refused, why."""
    return dumps(
        {
            "version": PROTOCOL_VERSION,
            "state": state,
            "code": code,
            "message": message,
            "problem_sent": None if sent is None else format_time(sent),
            "round": None if round_start is None else format_time(round_start),
        }
    )
