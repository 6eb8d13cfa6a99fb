"""Deprecation warnings in Home Assistant's log that concern ems or what ems loads.

Home Assistant 2026.3 and later need Python 3.14, which these machines cannot run: what keeps
ems ready for them is that today's Home Assistant (2025.4.4) logs no deprecation about it.
Home Assistant reports a deprecation in a few shapes, all matched here:

- the frame helper: ``Detected that custom integration 'ems' … This will stop working in
  Home Assistant 2026.8, please …`` and ``Detected code that …`` (with a stack);
- the deprecation helper: ``X was used from ems, this is a deprecated constant which will be
  removed in HA Core 2026.1. Use Y instead, please …``;
- entity platforms: ``Entity number.x (<class 'custom_components.ems…'>) is using deprecated
  NumberEntity features …``;
- config validation: ``The 'x' option is deprecated, please remove it …``;
- Python's own warnings, which Home Assistant logs through ``py.warnings`` (``…/file.py:12:
  DeprecationWarning: …``) and which appear raw on stderr before logging starts;
- the event-loop guard: ``Detected blocking call to … by custom integration 'ems'`` (a
  warning today, an error in later releases).

Besides, any WARNING-or-worse record in which Home Assistant asks the user to report a problem to
ems's authors (``create a bug report at https://github.com/ems-energy/ems/issues``, ``report it
to the author of the 'ems' custom integration``) counts: Home Assistant only says that about
misuse that a later release turns into an error.

A record concerns ems when its text (stack included) names ems (its domain in those phrases,
``custom_components/ems``, ``custom_components.ems``, ``ems_core``); it concerns a component ems
loads when its logger is that component's (``homeassistant.components.sensor…``), when the
frame helper names it (``integration 'sensor'``), or when a Python warning comes from that
component's files; the same for the Python packages ems requires (pymodbus). Everything else
(deprecations in integrations that ems does not use) is left out.

``deprecations(text)`` is the pure function; ``scan_files`` and ``check_session`` read the
logs of a demo work dir (``<work>/config/home-assistant.log*`` and ``<work>/hass.console.log``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
import json
from pathlib import Path
import re

DOMAIN = "ems"
ISSUE_TRACKER = "https://github.com/ems-energy/ems/issues"

# The Home Assistant integrations whose code runs for ems: the entity platforms it forwards to,
# the platforms it implements (diagnostics.py, intent.py), and what it imports from
# homeassistant.components. ``ems_components`` derives the same set from the source; a unit
# test keeps the two equal.
EMS_COMPONENTS: frozenset[str] = frozenset(
    {
        "binary_sensor",
        "calendar",
        "datetime",
        "diagnostics",
        "intent",
        "number",
        "select",
        "sensor",
        "switch",
    }
)
# What every Home Assistant with a user interface loads, ems or not (ems depends on them for its
# plan card): their own deprecations, e.g. aiohttp's about Home Assistant's web application in
# 2025.4, are Home Assistant's, not ems's.
ALWAYS_LOADED: frozenset[str] = frozenset({"frontend", "http"})
# Python packages that ems requires (manifest ``requirements``), by import name.
EMS_PACKAGES: frozenset[str] = frozenset({"pymodbus"})

LEVELS = ("WARNING", "ERROR", "CRITICAL")

# "2025-04-30 12:00:00.123 WARNING (MainThread) [homeassistant.helpers.frame] message"
RECORD = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?) +(?P<level>[A-Z]+) +"
    r"\((?P<thread>[^)]*)\) +\[(?P<logger>[^\]]+)\] ?(?P<msg>.*)$"
)
# Python's own format (warnings.formatwarning), on stderr or after "[py.warnings] ".
PY_WARNING = re.compile(
    r"^(?P<path>\S.*?\.py):(?P<lineno>\d+): (?P<category>\w*(?:Warning|Deprecation)\w*): "
    r"(?P<msg>.*)$"
)

# What makes a record a deprecation (searched in its first line).
_DEPRECATION = re.compile(
    "|".join(
        (
            r"deprecat",  # is deprecated, a deprecated alias/constant/function, Deprecation…
            r"Detected that (?:custom )?integration '",  # frame helper, integration found
            r"Detected integration that ",  # frame helper, older wording
            r"Detected code that ",  # frame helper, no integration in the stack
            r"Detected blocking call to ",  # event-loop guard
            r"will (?:stop working|be removed|be unsupported|no longer work)"
            r" (?:in|from) (?:Home Assistant|HA)",
            r"which is not valid and will be unsupported",
            r"\b(?:Pending)?DeprecationWarning\b",
            r"\bFutureWarning\b",
        )
    ),
    re.IGNORECASE,
)
# Home Assistant blaming ems (async_suggest_report_issue's phrases, with ems's issue tracker).
_REPORTED_TO_EMS = re.compile(
    re.escape(ISSUE_TRACKER) + r"|report it to the author of the '" + DOMAIN + r"' custom"
)
# ems named anywhere in a record (first line or stack).
_EMS = re.compile(
    r"integration '" + DOMAIN + r"'"
    r"|\b(?:used|called|imported) from " + DOMAIN + r"\b"
    r"|'" + DOMAIN + r"' custom integration"
    r"|custom_components[./\\]" + DOMAIN + r"\b"
    r"|\bems_core\b"
    r"|" + re.escape(ISSUE_TRACKER)
)
# The frame helper naming an integration: "Detected that integration 'sensor' …".
_FRAME_INTEGRATION = re.compile(r"integration '(?P<domain>[a-z0-9_]+)'")
_COMPONENT_LOGGER = re.compile(r"^homeassistant\.components\.(?P<domain>[a-z0-9_]+)")
_COMPONENT_PATH = re.compile(r"homeassistant[/\\]components[/\\](?P<domain>[a-z0-9_]+)[/\\]")
_PACKAGE_PATH = re.compile(r"site-packages[/\\](?P<package>[A-Za-z0-9_]+)[/\\]")


@dataclass(frozen=True)
class Record:
    """One log record: its first line and the lines that follow it (stack, traceback)."""

    level: str
    logger: str
    line: str  # the first line, as logged
    message: str  # the first line without timestamp, level, thread and logger
    rest: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The whole record."""
        return "\n".join((self.line, *self.rest))


@dataclass(frozen=True)
class Finding:
    """A deprecation record that concerns ems (``concerns == "ems"``) or what it loads."""

    concerns: str  # "ems", a component's domain, or a package's name
    level: str
    logger: str
    line: str
    evidence: tuple[str, ...] = field(default=())  # stack lines that name ems, if any
    count: int = 1  # how often the same message was logged

    def __str__(self) -> str:
        """The logged line, what it concerns, and the stack lines that point at ems."""
        repeat = f" (x{self.count})" if self.count > 1 else ""
        lines = [f"[{self.concerns}]{repeat} {self.line}"]
        lines += [f"    {line.strip()}" for line in self.evidence]
        return "\n".join(lines)


def records(text: str) -> Iterator[Record]:
    """Split a log into records: a timestamped line or a raw Python warning starts one."""
    head: tuple[str, str, str, str] | None = None
    rest: list[str] = []
    for line in text.splitlines():
        if (match := RECORD.match(line)) is not None:
            start = (match["level"], match["logger"], line, match["msg"])
        elif PY_WARNING.match(line) is not None:  # stderr, before Home Assistant's logging
            start = ("WARNING", "py.warnings", line, line)
        else:
            if head is not None:
                rest.append(line)
            continue
        if head is not None:
            yield Record(*head, rest=tuple(rest))
        head, rest = start, []
    if head is not None:
        yield Record(*head, rest=tuple(rest))


def _concerns(
    record: Record, components: frozenset[str], packages: frozenset[str]
) -> tuple[str | None, tuple[str, ...]]:
    """Whom a record concerns (None: neither ems nor what it loads) and the stack evidence."""
    if _EMS.search(record.line) or record.logger.startswith(f"custom_components.{DOMAIN}"):
        return DOMAIN, ()
    evidence = tuple(line for line in record.rest if _EMS.search(line))
    if evidence:
        return DOMAIN, evidence[:3]
    if (match := _COMPONENT_LOGGER.match(record.logger)) and match["domain"] in components:
        return match["domain"], ()
    if record.logger.split(".", 1)[0] in packages:
        return record.logger.split(".", 1)[0], ()
    for match in _FRAME_INTEGRATION.finditer(record.message):
        if match["domain"] in components:
            return match["domain"], ()
    if (match := PY_WARNING.match(record.message)) is not None:
        path = match["path"]
        if (found := _COMPONENT_PATH.search(path)) and found["domain"] in components:
            return found["domain"], ()
        if (found := _PACKAGE_PATH.search(path)) and found["package"] in packages:
            return found["package"], ()
    return None, ()


def is_deprecation(record: Record) -> bool:
    """Whether a WARNING-or-worse record reports a deprecation or a misuse blamed on ems."""
    if record.level not in LEVELS:
        return False
    return bool(_DEPRECATION.search(record.message) or _REPORTED_TO_EMS.search(record.text))


def deprecations(
    text: str,
    components: Iterable[str] = EMS_COMPONENTS,
    packages: Iterable[str] = EMS_PACKAGES,
) -> list[Finding]:
    """The deprecation records of a log that concern ems or a component/package ems loads.

    The same message logged again (another time stamp) is one finding with a count.
    """
    wanted, libraries = frozenset(components), frozenset(packages)
    found: dict[tuple[str, str], Finding] = {}
    for record in records(text):
        if not is_deprecation(record):
            continue
        concerns, evidence = _concerns(record, wanted, libraries)
        if concerns is None:
            continue
        key = (record.logger, record.message)
        if key in found:
            previous = found[key]
            found[key] = Finding(
                previous.concerns,
                previous.level,
                previous.logger,
                previous.line,
                previous.evidence,
                previous.count + 1,
            )
        else:
            found[key] = Finding(concerns, record.level, record.logger, record.line, evidence)
    return list(found.values())


def ems_components(integration_dir: Path, ha_components_dir: Path) -> frozenset[str]:
    """The Home Assistant integrations ems loads, read from its source and manifest.

    Platform modules (``sensor.py``, ``intent.py``, ``diagnostics.py``…: a module named like a
    Home Assistant integration), ``homeassistant.components.X`` imports, and the manifest's
    dependencies.
    """
    names = {
        path.stem
        for path in integration_dir.glob("*.py")
        if path.stem != "__init__" and (ha_components_dir / path.stem / "__init__.py").is_file()
    }
    for path in integration_dir.glob("*.py"):
        names.update(re.findall(r"homeassistant\.components\.([a-z0-9_]+)", path.read_text()))
        names.update(
            re.findall(r"from homeassistant\.components import ([a-z0-9_]+)", path.read_text())
        )
    manifest = json.loads((integration_dir / "manifest.json").read_text())
    names.update(manifest.get("dependencies", []), manifest.get("after_dependencies", []))
    return frozenset(names) - ALWAYS_LOADED


def log_files(work: Path) -> list[Path]:
    """A demo work dir's Home Assistant logs: the log (and the one before a restart), console."""
    config = work / "config"
    files = sorted(
        path
        for path in (config.glob("home-assistant.log*") if config.is_dir() else ())
        if re.fullmatch(r"home-assistant\.log(?:\.\d+)?", path.name)  # not .fault
    )
    console = work / "hass.console.log"
    return [*files, *([console] if console.is_file() else [])]


def scan_files(paths: Iterable[Path]) -> list[Finding]:
    """The deprecations in these log files, each message once (with its total count)."""
    merged: dict[tuple[str, str], Finding] = {}
    for path in paths:
        for finding in deprecations(path.read_text(errors="replace")):
            message = RECORD.sub(lambda m: m["msg"], finding.line)
            key = (finding.concerns, message)
            if key not in merged:
                merged[key] = finding
    return list(merged.values())


def report(findings: Iterable[Finding], where: str) -> str:
    """A failure message listing the findings."""
    items = list(findings)
    return f"{len(items)} deprecation warning(s) in {where}:\n" + "\n".join(map(str, items))


def check_session(work: Path) -> None:
    """Raise AssertionError listing the deprecations in a demo work dir's hass logs, if any.

    Meant for the e2e fixtures' teardown (after the processes are stopped).
    """
    findings = scan_files(log_files(work))
    if findings:
        raise AssertionError(report(findings, str(work)))
