"""The `make demo` runner, end to end: simulator + hass + ems configured over REST."""

from __future__ import annotations

import os
from pathlib import Path
import re
import signal
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scripts" / "demo.py"
LIMIT_S = 420
URL_LINE = re.compile(r"Home Assistant: http://127\.0\.0\.1:\d+")


@pytest.mark.e2e
@pytest.mark.timeout(LIMIT_S + 120)
def test_demo_check(tmp_path: Path) -> None:
    """`demo.py --check` sets everything up, sees ems sensor values, prints URL and login."""
    proc = subprocess.Popen(
        [sys.executable, str(DEMO), "--check", "--dir", str(tmp_path / "demo"), "--timeout", "180"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        proc.terminate()  # the runner stops hass and the simulator on SIGTERM
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        pytest.fail(f"demo.py --check still running after {LIMIT_S} s:\n{out}")

    assert proc.returncode == 0, out
    lines = out.splitlines()
    assert any(URL_LINE.fullmatch(line) for line in lines), out
    assert "login: demo / demo-ems-2025" in lines, out
    assert "check passed" in out, out
