"""Watching a battery: whether its values, and its answers to our commands, can be trusted.

Pure state machines fed with monotonic seconds, so they are tested without a clock. The
controller keeps one watch of each kind per battery and turns what it says into a
:class:`~ems_core.decide.Distrust` (0 W, shown, repair) or a problem the user is told about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import math
from typing import Any

# Values unchanged this long while power is commanded: the source is frozen (a stale gateway).
FROZEN_AFTER_S = 120.0
COMMANDED_MIN_W = 50.0  # below this a battery may legitimately show unchanging values
# Write retries: 5 s, 10 s, 20 s, … at most this long apart.
RETRY_MAX_S = 300.0
WRITE_FAILED_AFTER = 2  # consecutive failed writes before the battery is not trusted
# Measured power far from the command for this long: "not following its setpoint".
FOLLOW_SETTLE_S = 30.0  # a new command has this long to take effect
FOLLOW_AFTER_S = 60.0
FOLLOW_TOLERANCE_W = 300.0
FOLLOW_TOLERANCE_RATIO = 0.25


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def active_alarms(data: Mapping[str, Any]) -> list[str]:
    """Keys of the alarm and fault points that are raised (``alarm_*``, ``fault*`` true)."""
    return sorted(
        key
        for key, value in data.items()
        if (key.startswith("alarm_") or key.startswith("fault")) and value is True
    )


class FreezeWatch:
    """Values that stop changing while power is commanded are not trusted.

    Once frozen, the watch stays frozen until the values change again: holding the battery at
    0 W (and so no longer "commanding power") must not make an unchanged source look healthy.
    """

    def __init__(self, after_s: float = FROZEN_AFTER_S) -> None:
        self.after_s = after_s
        self._signature: tuple[Any, ...] | None = None
        self._unchanged_since: float | None = None
        self.frozen = False

    def observe(self, values: Mapping[str, Any], commanded_w: float | None, now_s: float) -> bool:
        """Feed one reading; return whether the source is frozen."""
        signature = tuple(sorted((k, repr(v)) for k, v in values.items()))
        if signature != self._signature:
            self._signature = signature
            self._unchanged_since = now_s
            self.frozen = False
            return False
        commanded = _finite(commanded_w) and abs(commanded_w) >= COMMANDED_MIN_W  # type: ignore[arg-type]
        if not commanded and not self.frozen:
            self._unchanged_since = now_s  # only time spent under command counts
            return False
        since = self._unchanged_since if self._unchanged_since is not None else now_s
        if now_s - since >= self.after_s:
            self.frozen = True
        return self.frozen

    @property
    def unchanged_s(self) -> float | None:
        """Since when (monotonic s) the values are unchanged, for diagnostics."""
        return self._unchanged_since


@dataclass
class WriteWatch:
    """Setpoint writes: failures counted, retried with back-off, verified by read-back."""

    failures: int = 0  # consecutive
    total_failures: int = 0
    writes: int = 0
    last_error: str | None = None
    next_try_s: float | None = None
    verified_at_s: float | None = None

    def succeeded(self, now_s: float) -> None:
        """A write was confirmed (read back or echoed)."""
        self.writes += 1
        self.failures = 0
        self.last_error = None
        self.next_try_s = None
        self.verified_at_s = now_s

    def failed(self, now_s: float, error: str) -> None:
        """A write was refused, timed out, or read back another value."""
        self.writes += 1
        self.failures += 1
        self.total_failures += 1
        self.last_error = error
        self.next_try_s = now_s + min(RETRY_MAX_S, 5.0 * 2 ** (self.failures - 1))

    def due(self, now_s: float) -> bool:
        """Whether a write may be tried now (back-off after failures)."""
        return self.next_try_s is None or now_s >= self.next_try_s

    @property
    def untrusted(self) -> bool:
        """Whether writes fail often enough that the battery's commands are not in our hands."""
        return self.failures >= WRITE_FAILED_AFTER


class FollowWatch:
    """A battery whose measured power stays far from its command is not following it."""

    def __init__(self) -> None:
        self._command: float | None = None
        self._command_since: float | None = None
        self._off_since: float | None = None
        self.not_following = False

    def observe(self, commanded_w: float | None, measured_w: float | None, now_s: float) -> bool:
        """Feed the command in force and the measured power; return whether it is not following."""
        if not _finite(commanded_w) or not _finite(measured_w):
            self._off_since = None
            self.not_following = False
            self._command = None
            return False
        tolerance = max(FOLLOW_TOLERANCE_W, FOLLOW_TOLERANCE_RATIO * abs(commanded_w))  # type: ignore[arg-type]
        if self._command is None or abs(commanded_w - self._command) > tolerance:  # type: ignore[operator]
            self._command_since = now_s  # a new command: give it time to take effect
        self._command = commanded_w
        since = self._command_since if self._command_since is not None else now_s
        settled = now_s - since >= FOLLOW_SETTLE_S
        if abs(measured_w - commanded_w) <= tolerance or not settled:  # type: ignore[operator]
            self._off_since = None
            self.not_following = False
            return False
        if self._off_since is None:
            self._off_since = now_s
        self.not_following = now_s - self._off_since >= FOLLOW_AFTER_S
        return self.not_following
