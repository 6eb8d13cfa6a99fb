"""`make demo` as a person uses it: ``python -m scripts.demo``, voice, a restart, a second demo.

The e2e tests (marked ``e2e``) share one demo process for the module, started as ``make demo``
starts it, and run in order: the checks of ``--check`` and Assist, a second demo on the same
dir (refused, the first untouched), a restart from Home Assistant's own UI (``hass`` exits with
code 100: the demo starts it again, the simulator and the add-on stay up, values and plans come
back), then Ctrl-C, which must stop every process it started. The fast tests before them check
the lock, the restart watch, the log echo and the config pieces with stand-in processes.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from . import logscan
from .harness import ROOT, demo

E = demo.E
DEMO = [sys.executable, "-m", "scripts.demo"]
START_LIMIT_S = 180
URL_LINE = re.compile(r"Home Assistant: (http://127\.0\.0\.1:\d+)")
RUNNING = "demo: running; Ctrl-C stops everything it started ("
BACK = "demo: Home Assistant is back"

# A stand-in for hass: exits with 100 (restart) on its first run, then serves /api/config.
FAKE_HASS = """
import http.server, json, pathlib, sys
marker, port = pathlib.Path(sys.argv[1]), int(sys.argv[2])
if not marker.exists():
    marker.write_text("x")
    print("first run: asked to restart", flush=True)
    sys.exit(100)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"state": "RUNNING"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("second run: serving", flush=True)
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""

# Another demo's process holding a work dir.
HOLD_LOCK = """
import sys, time
from pathlib import Path
from scripts import demo
work = Path(sys.argv[1])
demo.acquire_lock(work)
demo.update_lock(work, "http://127.0.0.1:8123")
print("locked", flush=True)
time.sleep(120)
"""


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


def _child(pid: int, needle: str) -> int:
    """The pid of the child whose command line holds ``needle``."""
    (found,) = [child for child, cmd in _children(pid).items() if needle in cmd]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _sleeper(tmp_path: Path, name: str) -> demo.Proc:
    return demo.Proc(
        name, [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / f"{name}.log", ROOT
    )


# --------------------------------------------------------------------------------------------
# Fast: the lock, the restart watch, the log echo, the config


def test_a_second_demo_is_refused_and_touches_nothing(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    (work / "config").mkdir(parents=True)
    kept = work / "config" / "configuration.yaml"
    kept.write_text("the running demo's")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(work)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        procs: list[demo.Proc] = []
        refusal = rf"pid {holder.pid}, Home Assistant at http://127\.0\.0\.1:8123"
        with pytest.raises(demo.DemoBusy, match=refusal):
            demo.start(demo.parse_args(["--dir", str(work)]), procs)
        assert procs == []
        assert kept.read_text() == "the running demo's"
        # As `make demo` runs it: exit code 2, the message names the running demo.
        second = subprocess.run(
            [*DEMO, "--dir", str(work)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 2, second.stdout + second.stderr
        assert "another demo is running" in second.stderr
        assert re.search(refusal, second.stderr), second.stderr
        assert kept.read_text() == "the running demo's"
        demo.release_lock(work)  # not this process's lock: it stays
        assert (demo.read_lock(work) or {}).get("pid") == holder.pid
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone: its lock is stale, removed, and this process takes the dir.
    demo.acquire_lock(work)
    assert (demo.read_lock(work) or {}).get("pid") == os.getpid()
    demo.release_lock(work)
    assert not (work / demo.LOCK_FILE).exists()


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"pid": os.getppid(), "started": "0", "url": None}),  # a reused pid
        json.dumps({"pid": 2**22 + 1, "started": None, "url": None}),  # no such process
        "{half a lock",
    ],
    ids=["reused-pid", "dead-pid", "unreadable"],
)
def test_a_stale_lock_is_cleaned(tmp_path: Path, content: str) -> None:
    (tmp_path / demo.LOCK_FILE).write_text(content)
    demo.acquire_lock(tmp_path)
    demo.update_lock(tmp_path, "http://127.0.0.1:9999")
    lock = demo.read_lock(tmp_path) or {}
    assert (lock.get("pid"), lock.get("url")) == (os.getpid(), "http://127.0.0.1:9999")
    demo.release_lock(tmp_path)


def test_watch_restarts_home_assistant_after_exit_code_100(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = demo.free_port()
    hass = demo.Proc(
        "hass",
        [sys.executable, "-c", FAKE_HASS, str(tmp_path / "restarted"), str(port)],
        tmp_path / "hass.console.log",
        ROOT,
    )
    simulator = _sleeper(tmp_path, "simulator")
    procs = [simulator, hass]
    try:
        simulator.start()
        hass.start()
        assert hass.popen is not None
        assert hass.popen.wait(30) == demo.RESTART_EXIT_CODE
        first, sim_pid = hass.pid, simulator.pid
        base = f"http://127.0.0.1:{port}"
        demo.watch(demo.Demo(tmp_path, base, demo.Api(base), "", "", {}, 0, procs), 30)
        assert hass.alive()
        assert hass.pid != first
        assert simulator.alive()
        assert simulator.pid == sim_pid
        demo.watch(demo.Demo(tmp_path, base, demo.Api(base), "", "", {}, 0, procs), 30)  # no-op
        log = hass.log.read_text()
        assert "first run: asked to restart" in log  # the restart appends to the log
        assert "second run: serving" in log
        assert f"{BACK}: {base}" in capsys.readouterr().out
    finally:
        demo.stop_all(procs)


@pytest.mark.parametrize("name", ["hass", "simulator", "optimizer"])
def test_watch_stops_on_any_other_exit(tmp_path: Path, name: str) -> None:
    proc = demo.Proc(name, [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "p.log", ROOT)
    other = _sleeper(tmp_path, "other")
    procs = [other, proc]
    try:
        other.start()
        proc.start()
        assert proc.popen is not None
        assert proc.popen.wait(30) == 3
        running = demo.Demo(tmp_path, "http://127.0.0.1:1", demo.Api(""), "", "", {}, 0, procs)
        expected = (
            r"Home Assistant exited with code 3, so the demo stops; its log: \S+home-assistant\.log"
            if name == "hass"
            else rf"running: {name} exited with code 3\n--- last lines of \S+p\.log"
        )
        with pytest.raises(demo.DemoError, match=expected):
            demo.watch(running, 5)
    finally:
        demo.stop_all(procs)


def test_log_echo_follows_a_rotated_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "home-assistant.log"
    log.write_text("2025-12-01 10:00:00.000 ERROR (MainThread) [x] before the restart\n")
    echo = demo.LogEcho(log, "hass", lambda level, text: level == "ERROR")
    echo.start()
    try:
        deadline = time.monotonic() + 10
        while "before the restart" not in capsys.readouterr().out:
            assert time.monotonic() < deadline, "the first record was not echoed"
            time.sleep(0.2)
        log.rename(tmp_path / "home-assistant.log.1")  # what Home Assistant does on start
        log.write_text("2025-12-01 10:01:00.000 ERROR (MainThread) [x] after the restart\n")
        out = ""
        deadline = time.monotonic() + 10
        while "after the restart" not in out:
            assert time.monotonic() < deadline, "the new log was not followed"
            time.sleep(0.2)
            out += capsys.readouterr().out
        assert out.startswith("hass | 2025-12-01 10:01:00.000 ERROR")
    finally:
        echo.stopped.set()
        echo.join(5)


def test_config_has_the_voice_sentences_and_the_dashboard(tmp_path: Path) -> None:
    config = tmp_path / "config"
    demo.write_config(config, 8123)
    for language in ("en", "fr"):
        shipped = ROOT / "docs" / "custom_sentences" / language / "ems.yaml"
        installed = config / "custom_sentences" / language / "ems.yaml"
        assert installed.read_text(encoding="utf-8") == shipped.read_text(encoding="utf-8")
    text = (config / "configuration.yaml").read_text()
    assert f"filename: dashboards/{demo.DASHBOARD_FILE.name}" in text
    assert "conversation:" in text


def test_the_dashboard_file_is_chosen_in_one_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert demo.dashboard_file("en") == ROOT / "dashboards" / "ems.yaml"
    monkeypatch.setattr(demo, "DASHBOARDS", tmp_path)
    assert demo.dashboard_file("fr") == tmp_path / "ems.yaml"  # no French one yet
    (tmp_path / "ems.fr.yaml").write_text("views: []\n")
    assert demo.dashboard_file("fr") == tmp_path / "ems.fr.yaml"


def test_the_simulator_plays_today_s_season() -> None:
    december = demo.sim_start_time(datetime(2025, 12, 18, 13, 5, 30, tzinfo=UTC))
    assert (december.month, december.hour, december.minute, december.second) == (12, 13, 5, 30)
    june = demo.sim_start_time(datetime(2025, 6, 18, 13, 5, 30, tzinfo=UTC))
    assert (june.month, june.hour, june.minute) == (6, 13, 5)


# --------------------------------------------------------------------------------------------
# End to end: one demo process for the module


@dataclass
class DemoRun:
    """``python -m scripts.demo`` running in a subprocess, and a client of its Home Assistant."""

    proc: subprocess.Popen[str]
    output: Path
    work: Path
    api: demo.Api
    token: str

    def text(self) -> str:
        """What the demo has printed so far."""
        return self.output.read_text()

    def running(self) -> demo.Demo:
        """The demo as the checks see it (no processes of this test to watch)."""
        return demo.Demo(self.work, self.api.base, self.api, self.token, "", {}, 0, [])

    def wait_for(self, needle: str, timeout: float, after: int = 0) -> None:
        """Wait until the demo prints ``needle`` (past the first ``after`` characters)."""
        deadline = time.monotonic() + timeout
        while needle not in (text := self.text())[after:]:
            assert self.proc.poll() is None, f"the demo exited with {self.proc.returncode}:\n{text}"
            assert time.monotonic() < deadline, f"no {needle!r} after {timeout:.0f} s:\n{text}"
            time.sleep(0.5)


def _interrupt(run: subprocess.Popen[str], output: Path) -> int:
    """Ctrl-C the demo; its exit code (killed, and the test failed, after 90 s)."""
    if run.poll() is None:
        os.kill(run.pid, signal.SIGINT)
    try:
        return run.wait(90)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        pytest.fail(f"the demo still runs 90 s after Ctrl-C:\n{output.read_text()}")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """The demo as ``make demo`` starts it, running until the module's last test (or its end)."""
    tmp = tmp_path_factory.mktemp("demo")
    output, work = tmp / "demo.out", tmp / "demo"
    with output.open("w") as out:
        proc = subprocess.Popen(
            [*DEMO, "--dir", str(work), "--timeout", "120"],
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
            assert proc.poll() is None, f"the demo exited with {proc.returncode}:\n{text}"
            assert time.monotonic() < deadline, f"the demo not running after {START_LIMIT_S} s"
            time.sleep(0.5)
        match = next(m for line in text.splitlines() if (m := URL_LINE.fullmatch(line)))
        token = (work / "token").read_text().strip()
        api = demo.Api(match.group(1))
        api.set_token(token)
        yield DemoRun(proc, output, work, api, token)
    finally:
        if proc.poll() is None:
            _interrupt(proc, output)
    logscan.check_session(work)  # no deprecation warning about ems in the demo's logs


@pytest.mark.e2e
@pytest.mark.timeout(START_LIMIT_S + 240)
def test_demo_serves_a_checked_site(demo_run: DemoRun) -> None:
    """URL and login printed; values, a plan, dashboard, energy and Assist as --check sees them."""
    lines = demo_run.text().splitlines()
    assert "login: demo / demo-ems-2025" in lines
    assert (demo_run.work / demo.LOCK_FILE).is_file()
    summary = demo.check(demo_run.running(), 120)
    assert "plan " in summary, summary
    assert "Assist: 'The energy mode is" in summary, summary
    names = " ".join(_children(demo_run.proc.pid).values())
    for name in ("hass", "-m simulator", "ems-optimizer serve"):
        assert name in names, names


def _say(demo_run: DemoRun, text: str, language: str) -> dict[str, Any]:
    return demo.ask_assist(demo_run.api, text, f"Assist: {text!r}", language)


@pytest.mark.e2e
@pytest.mark.timeout(START_LIMIT_S + 120)
def test_assist_sets_the_mode_by_voice(demo_run: DemoRun) -> None:
    """The README's example sentences work in the demo, in English and in French."""
    api = demo_run.api
    response = _say(demo_run, "set the energy mode to backup", "en")
    assert response["response_type"] == "action_done", response
    assert demo.speech(response) == "Energy mode set to Backup", response
    assert (api.state(E["mode"]) or {}).get("state") == "backup"
    response = _say(demo_run, "mets le mode énergie sur auto", "fr")
    assert response["response_type"] == "action_done", response
    assert demo.speech(response).startswith("Mode énergie : Auto"), response
    assert (api.state(E["mode"]) or {}).get("state") == demo.MODE


@pytest.mark.e2e
@pytest.mark.timeout(START_LIMIT_S + 120)
def test_a_second_demo_leaves_the_running_one_alone(demo_run: DemoRun) -> None:
    """`make demo` again while one runs: refused, naming it; its files and processes untouched."""
    storage = demo_run.work / "config" / ".storage" / "core.config_entries"
    before = storage.read_bytes()
    second = subprocess.run(
        [*DEMO, "--dir", str(demo_run.work)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"pid {demo_run.proc.pid}, Home Assistant at {demo_run.api.base}" in second.stderr
    assert storage.read_bytes() == before
    assert (demo_run.work / "token").read_text().strip() == demo_run.token
    assert demo_run.proc.poll() is None
    assert (demo_run.api.state(E["mode"]) or {}).get("state") == demo.MODE


def _washing_machine(demo_run: DemoRun) -> str:
    """The washing machine's subentry id."""
    step = "find the site entry"
    entries = demo_run.api.get("/api/config/config_entries/entry", step)
    (entry_id,) = [e["entry_id"] for e in entries if e["domain"] == "ems"]
    return demo.subentry_ids(demo_run.api.base, demo_run.token, entry_id)["Washing machine"]


@pytest.mark.e2e
@pytest.mark.timeout(START_LIMIT_S + 480)
def test_restart_from_home_assistant_keeps_the_demo_running(demo_run: DemoRun) -> None:
    """homeassistant.restart (hass exits with 100): hass comes back, the rest stays up."""
    pid = demo_run.proc.pid
    hass, simulator = _child(pid, "/hass "), _child(pid, "-m simulator")
    optimizer = _child(pid, "ems-optimizer serve")
    printed = len(demo_run.text())
    with contextlib.suppress(Exception):  # the answer may be cut short by the restart
        demo_run.api.session.post(
            demo_run.api.base + "/api/services/homeassistant/restart", json={}, timeout=30
        )
    demo_run.wait_for(BACK, 300, after=printed)
    assert "exited to restart (code 100)" in demo_run.text()[printed:]
    assert not _alive(hass)
    assert _alive(_child(pid, "/hass "))
    assert _alive(simulator)
    assert _alive(optimizer)
    assert _child(pid, "-m simulator") == simulator
    assert _child(pid, "ems-optimizer serve") == optimizer

    running = demo_run.running()
    numeric, _total = demo.wait_for_sensors(running, 120)
    assert numeric > 0
    for key in ("soc", "pv_power", "house_load"):
        value = (demo_run.api.state(E[key]) or {}).get("state")
        deadline = time.monotonic() + 60
        while not demo._is_number(str(value)):
            assert time.monotonic() < deadline, f"{E[key]} is {value!r} after the restart"
            time.sleep(1)
            value = (demo_run.api.state(E[key]) or {}).get("state")
    # The add-on reconnects by itself: it sees a changed problem and pushes a new plan.
    changed = datetime.now(UTC)
    finish = (changed + timedelta(hours=21)).replace(minute=0, second=0, microsecond=0)
    demo_run.api.service(
        "ems",
        "set_appliance_request",
        {"appliance": _washing_machine(demo_run), "finish_by": finish.isoformat()},
        "re-arm the washing machine",
    )
    status = demo.wait_for_plan(running, 180, after=changed)
    assert status["state"] in demo.PLAN_STATUSES
    assert demo_run.proc.poll() is None


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_ctrl_c_stops_everything(demo_run: DemoRun) -> None:
    """Ctrl-C: exit code 0, every process the demo started (hass too, restarted) stops."""
    children = _children(demo_run.proc.pid)
    assert children
    code = _interrupt(demo_run.proc, demo_run.output)
    text = demo_run.text()
    assert code == 0, text
    assert "demo: stopping" in text, text
    left = {pid: cmd for pid, cmd in children.items() if _alive(pid)}
    assert not left, f"still running after Ctrl-C: {left}"
    assert not (demo_run.work / demo.LOCK_FILE).exists()
