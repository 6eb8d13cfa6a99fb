"""Stored runs of the serve loop: what each planning round used and produced, for `replay`.

    RUNS_DIR/<UTC time>/scenario.json   the full scenario (with the load and PV forecasts)
    RUNS_DIR/<UTC time>/plan.json       the plan it produced (as pushed, warnings included)
    RUNS_DIR/<UTC time>/previous.json   the previous plan, if one was given for stability
    RUNS_DIR/<UTC time>/run.json        how the round went: reason, sources, forecast methods,
                                        timings, whether Home Assistant accepted the plan

The first three are the run directory `ems-optimizer replay` reads. Only the newest `keep`
runs stay.
"""

from __future__ import annotations

from datetime import UTC, datetime
import json
import os
from pathlib import Path
import re
import shutil
from typing import Any

from .replay import PLAN_FILE, PREVIOUS_FILE, SCENARIO_FILE

RUN_FILE = "run.json"
_NAME = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")


def _write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class RunStore:
    """A folder of run directories, newest last by name."""

    def __init__(self, root: str | Path, keep: int) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.root = Path(root)
        self.keep = keep

    def runs(self) -> list[Path]:
        """The run directories, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def save(
        self,
        moment: datetime,
        scenario: Any,
        plan: Any,
        previous: Any | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Path:
        """Store one run; prune the oldest beyond `keep`; the new run's directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        base = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        path, n = self.root / base, 1
        while path.exists():
            path, n = self.root / f"{base}-{n}", n + 1
        path.mkdir()
        _write_json(path / SCENARIO_FILE, scenario)
        _write_json(path / PLAN_FILE, plan)
        if previous is not None:
            _write_json(path / PREVIOUS_FILE, previous)
        _write_json(path / RUN_FILE, meta or {})
        self.prune()
        return path

    def update_meta(self, path: Path, **fields: Any) -> None:
        """Add fields to a run's run.json (e.g. whether the plan was accepted)."""
        meta = self.read(path, RUN_FILE) or {}
        meta.update(fields)
        _write_json(path / RUN_FILE, meta)

    def prune(self) -> None:
        """Delete all but the newest `keep` runs."""
        for old in self.runs()[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def read(path: Path, name: str) -> Any | None:
        """One JSON file of a run, or None if missing or unreadable."""
        try:
            return json.loads((path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def last_pushed_plan(self) -> Any | None:
        """The plan of the newest run Home Assistant accepted (for stable re-planning)."""
        for path in reversed(self.runs()):
            meta = self.read(path, RUN_FILE) or {}
            if meta.get("pushed"):
                return self.read(path, PLAN_FILE)
        return None
