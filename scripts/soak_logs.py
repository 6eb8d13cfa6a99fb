"""The soak's log scan: unhandled exceptions in the logs of Home Assistant, the add-on, the soak.

A log is split into records (a time-stamped line and the lines that follow it, its traceback).
An *exception* is a record with a traceback (``Traceback (most recent call last)``), a CRITICAL
record, or an ERROR record that is not one the injected faults are expected to cause (a device
that does not answer, Home Assistant away while it restarts: ``EXPECTED``). Home Assistant's
records about the integrations onboarding starts by itself are left out (``demo.hass_errors``).
Expected ERROR records are counted apart, as *handled errors*.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
import re

from scripts import demo

TRACEBACK = "Traceback (most recent call last)"
# ERROR records that report an injected fault, handled: a device that did not answer in time or
# answered an exception (Home Assistant's coordinators), Home Assistant away (the add-on).
EXPECTED = re.compile(
    "|".join(
        (
            r"Error fetching .+ data: ",  # DataUpdateCoordinator: a failed poll, no traceback
            r"Error requesting .+ data: ",
            # pymodbus in Home Assistant: an exception reply, a request that got no answer
            r"^ERROR \(\w+\) \[pymodbus\.logging\] Exception response \d+ / \d+$",
            r"^ERROR \(\w+\) \[pymodbus\.logging\] No response received after \d+ retries",
            r"no plan this round \([^)]*\): (?!unexpected error)",  # the add-on's RoundError
        )
    )
)
_STAMP = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)? +")


@dataclass(frozen=True, slots=True)
class Record:
    """One log record."""

    source: str  # the log's name (hass, optimizer, soak)
    level: str
    text: str  # the first line then the rest

    @property
    def first_line(self) -> str:
        """The record's first line without its time stamp."""
        return _STAMP.sub("", self.text.split("\n", 1)[0])

    @property
    def last_line(self) -> str:
        """The last line (a traceback's exception)."""
        return self.text.rstrip().rsplit("\n", 1)[-1].strip()


def records(source: str, text: str) -> Iterator[Record]:
    """Split a log into records (``demo.LOG_LINE`` starts one)."""
    lines: list[str] = []
    level = ""
    for line in text.splitlines():
        match = demo.LOG_LINE.match(line)
        if match is None:
            if lines:
                lines.append(line)
            continue
        if lines:
            yield Record(source, level, "\n".join(lines))
        lines, level = [line], match.group(1)
    if lines:
        yield Record(source, level, "\n".join(lines))


def classify(record: Record) -> str | None:
    """Whether a record is an "exception", "handled" (an ERROR the faults explain) or None."""
    serious = record.level in ("ERROR", "CRITICAL")
    if record.source == "hass" and serious and not demo.hass_errors(record.level, record.text):
        return None  # the onboarding extras' noise
    if TRACEBACK in record.text or record.level == "CRITICAL":
        return "exception"
    if record.level != "ERROR":
        return None
    return "handled" if EXPECTED.search(record.first_line) else "exception"


@dataclass
class Scan:
    """What the logs hold: exceptions and handled errors, each message with its count."""

    exceptions: Counter[tuple[str, str]]
    handled: Counter[tuple[str, str]]
    examples: dict[tuple[str, str], Record]

    @property
    def exception_count(self) -> int:
        """Every exception record."""
        return sum(self.exceptions.values())

    @property
    def handled_count(self) -> int:
        """Every handled error record."""
        return sum(self.handled.values())


def _signature(record: Record) -> tuple[str, str]:
    line = re.sub(r"\d+(?:\.\d+)?", "N", record.first_line)  # counts, ids, times, addresses
    return record.source, line[:160]


def scan(logs: Iterable[tuple[str, Path]]) -> Scan:
    """Scan (source, path) logs."""
    result = Scan(Counter(), Counter(), {})
    for source, path in logs:
        if not path.is_file():
            continue
        for record in records(source, path.read_text(errors="replace")):
            kind = classify(record)
            if kind == "exception":
                key = _signature(record)
                result.exceptions[key] += 1
                result.examples.setdefault(key, record)
            elif kind == "handled":
                result.handled[_signature(record)] += 1
    return result
