"""The serve loop's settings: defaults ← the add-on options file ← command-line flags.

Inside the add-on the Supervisor writes the options of `config.yaml` to /data/options.json;
standalone, the same keys can come from any JSON file given with `--options`. No heavy import
here: the CLI parser loads this module for every command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
import json
import logging
from pathlib import Path
from typing import Any

ADDON_OPTIONS = Path("/data/options.json")
ADDON_RUNS_DIR = Path("/data/runs")
STANDALONE_RUNS_DIR = Path(".ems-runs")
# Standalone, the access token comes from this environment variable (kept out of `ps`).
TOKEN_ENV = "EMS_HA_TOKEN"

OBJECTIVE_CHOICES = ("auto", "cost", "import", "self_consumption")
STEP_CHOICES = ("auto", "5", "10", "15", "30", "60")
LOG_LEVELS = ("debug", "info", "warning", "error")


class SettingsError(ValueError):
    """An option with a bad value; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Everything the serve loop can be told (the add-on option of the same name)."""

    objective: str = "auto"  # auto: as Home Assistant's problem says
    step_minutes: str = "auto"  # auto or 5/10/15/30/60
    horizon_hours: int = 0  # 0: as Home Assistant's problem says
    loop_minutes: int = 15
    poll_seconds: int = 30
    solver_time_limit_s: int = 30
    replan_threshold_cents: int = 5  # a new plan must save more than this to replace the last
    history_days: int = 10
    keep_runs: int = 96
    fallback_load_w: int = 500
    log_level: str = "info"
    ha_url: str = ""
    token: str = field(default="", repr=False)  # never in a log line or a traceback
    config_entry_id: str = ""
    runs_dir: str = ""  # empty: /data/runs in the add-on, .ems-runs standalone
    # A community (all four set): plan with the neighbours through its coordinator.
    community_broker: str = ""  # mqtt://host:port or mqtts://host:port
    community_name: str = ""
    community_member: str = ""  # this home's member name = its user name on the broker
    community_password: str = field(default="", repr=False)
    community_wait_s: int = 240  # no plan from the coordinator by then: plan alone

    @property
    def in_community(self) -> bool:
        """Whether the home plans with a community."""
        return bool(self.community_broker and self.community_name and self.community_member)

    @property
    def objective_override(self) -> str | None:
        """The objective to impose, or None to keep Home Assistant's."""
        return None if self.objective == "auto" else self.objective

    @property
    def step_override(self) -> int | None:
        """The plan step to impose, or None to keep Home Assistant's."""
        return None if self.step_minutes == "auto" else int(self.step_minutes)

    @property
    def horizon_override(self) -> int | None:
        """The horizon in hours to impose, or None to keep Home Assistant's."""
        return self.horizon_hours or None

    @property
    def level(self) -> int:
        """The logging level."""
        return getattr(logging, self.log_level.upper())


_RANGES: dict[str, tuple[int, int]] = {
    "horizon_hours": (0, 168),
    "loop_minutes": (1, 60),
    "poll_seconds": (5, 3600),
    "solver_time_limit_s": (5, 600),
    "replan_threshold_cents": (0, 10000),
    "history_days": (1, 60),
    "keep_runs": (1, 10000),
    "fallback_load_w": (0, 100000),
    "community_wait_s": (10, 900),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "objective": OBJECTIVE_CHOICES,
    "step_minutes": STEP_CHOICES,
    "log_level": LOG_LEVELS,
}
OPTION_NAMES = tuple(f.name for f in fields(Settings))


def _check(name: str, value: Any) -> Any:
    if name in _RANGES:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise SettingsError(f"{name}: expected a whole number, got {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise SettingsError(f"{name}: expected a whole number, got {value!r}") from None
        if isinstance(value, float) and number != value:
            raise SettingsError(f"{name}: expected a whole number, got {value!r}")
        low, high = _RANGES[name]
        if not low <= number <= high:
            raise SettingsError(f"{name}: must be {low}…{high}, got {number}")
        return number
    text = "" if value is None else str(value).strip()
    if name in _CHOICES:
        text = text.lower()
        if text not in _CHOICES[name]:
            raise SettingsError(f"{name}: must be one of {', '.join(_CHOICES[name])}, got {text!r}")
    return text


def settings_from(base: Settings, values: Mapping[str, Any], *, source: str) -> Settings:
    """`base` with `values` applied (None values are skipped); unknown keys are errors."""
    changes = {}
    for name, value in values.items():
        if name not in OPTION_NAMES:
            raise SettingsError(f"{source}: unknown option {name!r}")
        if value is None:
            continue
        try:
            changes[name] = _check(name, value)
        except SettingsError as err:
            raise SettingsError(f"{source}: {err}") from None
    return replace(base, **changes)


def read_options(path: str | Path) -> dict[str, Any]:
    """The options JSON object of a file (/data/options.json in the add-on)."""
    return read_json_object(path, "options")


def read_json_object(path: str | Path, what: str) -> dict[str, Any]:
    """The JSON object of a file; SettingsError naming `what` and the file if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise SettingsError(f"{what} {path}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise SettingsError(f"{what} {path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{what} {path}: expected a JSON object")
    return data


def default_options_file() -> Path | None:
    """/data/options.json when it exists (inside the add-on), else None."""
    return ADDON_OPTIONS if ADDON_OPTIONS.is_file() else None


def runs_dir(settings: Settings, options_file: Path | None) -> Path:
    """Where runs are stored: the setting, else /data/runs in the add-on, else .ems-runs."""
    if settings.runs_dir:
        return Path(settings.runs_dir)
    if options_file is not None and Path(options_file) == ADDON_OPTIONS:
        return ADDON_RUNS_DIR
    return STANDALONE_RUNS_DIR
