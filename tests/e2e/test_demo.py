"""`make demo` end to end: scripts/demo.py as a person runs it, then Ctrl-C.

It starts the simulator, Home Assistant and the optimizer add-on, configures everything, prints
the URL and the login and runs until Ctrl-C, which must stop every process it started.
"""

from __future__ import annotations

import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import time

import pytest

from .harness import ROOT, demo

DEMO = ROOT / "scripts" / "demo.py"
START_LIMIT_S = 180
URL_LINE = re.compile(r"Home Assistant: (http://127\.0\.0\.1:\d+)")
RUNNING = "demo: running; Ctrl-C stops everything it started (simulator, hass, optimizer)"


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``: pid → command line."""
    found: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found[int(stat.parent.name)] = cmdline.strip()
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.e2e
@pytest.mark.timeout(START_LIMIT_S + 180)
def test_demo_runs_until_ctrl_c(tmp_path: Path) -> None:
    """The demo prints URL and login, gets values and a plan, and Ctrl-C stops it all."""
    output = tmp_path / "demo.out"
    with output.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(DEMO), "--dir", str(tmp_path / "demo"), "--timeout", "120"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_LIMIT_S
        while RUNNING not in (text := output.read_text()):
            assert proc.poll() is None, f"demo.py exited with {proc.returncode}:\n{text}"
            assert time.monotonic() < deadline, f"demo.py not running after {START_LIMIT_S} s"
            time.sleep(0.5)
        lines = text.splitlines()
        assert "login: demo / demo-ems-2025" in lines, text
        match = next(m for line in lines if (m := URL_LINE.fullmatch(line)))

        # The same checks as `demo.py --check`, against the running demo.
        token = (tmp_path / "demo" / "token").read_text().strip()
        api = demo.Api(match.group(1))
        api.set_token(token)
        running = demo.Demo(tmp_path / "demo", api.base, api, token, "", {}, 0, [])
        summary = demo.check(running, 120)
        assert "plan " in summary, summary

        children = _children(proc.pid)
        names = " ".join(children.values())
        assert "hass" in names, children
        assert "simulator" in names, children
        assert "ems-optimizer serve" in names, children
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)  # Ctrl-C
        try:
            code = proc.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"demo.py still running 90 s after Ctrl-C:\n{output.read_text()}")
    text = output.read_text()
    assert code == 0, text
    assert "demo: stopping" in text, text
    left = {pid: cmd for pid, cmd in children.items() if _alive(pid)}
    assert not left, f"still running after Ctrl-C: {left}"
