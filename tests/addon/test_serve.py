"""`ems-optimizer serve`: rounds, the loop, resilience, stored runs, against a fake HA over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
import json
import logging
import os
from pathlib import Path
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_serve_fakeha import (
    LOAD,
    PV,
    TOKEN,
    WEATHER,
    FakeHA,
    household_states,
    problem,
    serve_fake,
    weather_items,
    weather_states,
)

from ems_optimizer import cli, serve
from ems_optimizer.ha_client import Connection, HAClient
from ems_optimizer.runs import RUN_FILE, RunStore
from ems_optimizer.serve import Outcome, Service, backoff_delay, next_aligned
from ems_optimizer.settings import Settings

NOW = datetime(2024, 3, 31, 22, 0, 5, tzinfo=UTC)  # 2024-04-01 00:00:05 in Paris
START = "2024-04-01T00:00:00+02:00"
CYCLE = {
    "id": "wm",
    "type": "cycle",
    "profile_w": [2000.0, 500.0],
    "deadline": "2024-04-01T20:00:00+02:00",
}


class Clock:
    """A fake clock: sleeping moves time on at once; a hook may act at each sleep."""

    def __init__(self, start: datetime = NOW) -> None:
        self.t = start
        self.sleeps: list[float] = []
        self.hook: Callable[[], None] | None = None

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.t += timedelta(seconds=seconds)
        if self.hook:
            self.hook()


@pytest.fixture
def site(socket_enabled: None) -> Iterator[FakeHA]:
    """A fake HA with a day-ahead problem (24 × 1 h), ten days of history and weather."""
    del socket_enabled
    fake = FakeHA()
    fake.problem = problem(START, 24, 60, appliances=[CYCLE])
    fake.states = household_states("2024-03-31T22:00:00+00:00")
    fake.states[WEATHER] = weather_states("2024-03-31T22:00:00+00:00")
    fake.weather = {WEATHER: weather_items("2024-03-31T22:00:00+00:00", 48)}
    with serve_fake(fake) as running:
        yield running


def _service(
    fake: FakeHA, tmp_path: Path, clock: Clock | None = None, token: str = TOKEN, **options: Any
) -> Service:
    clock = clock or Clock()
    settings = Settings(**{"poll_seconds": 30, "solver_time_limit_s": 10, **options})
    client = HAClient(Connection(fake.url, token, supervisor=False))
    store = RunStore(tmp_path / "runs", settings.keep_runs)
    return Service(settings, client, store, now=clock.now, sleep=clock.sleep)


def _warnings(body: dict[str, Any], code: str = "WARN_SOURCE") -> list[str]:
    return [w["message"] for w in body["plan"]["warnings"] if w["code"] == code]


# --- timing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "minutes", "offset", "expected"),
    [
        ("2024-04-01T10:07:00+00:00", 15, 5, "2024-04-01T10:15:05+00:00"),
        ("2024-04-01T10:15:04+00:00", 15, 5, "2024-04-01T10:15:05+00:00"),
        ("2024-04-01T10:15:05+00:00", 15, 5, "2024-04-01T10:30:05+00:00"),
        ("2024-04-01T10:59:59+00:00", 15, 0, "2024-04-01T11:00:00+00:00"),
        ("2024-04-01T10:00:00+00:00", 15, 0, "2024-04-01T10:15:00+00:00"),
        ("2024-04-01T10:20:00+00:00", 60, 0, "2024-04-01T11:00:00+00:00"),
        ("2024-04-01T10:20:00+05:45", 15, 0, "2024-04-01T10:30:00+05:45"),  # Nepal: quarters
    ],
)
def test_next_run_is_aligned_to_the_quarter_hour(
    now: str, minutes: int, offset: float, expected: str
) -> None:
    got = next_aligned(datetime.fromisoformat(now), minutes, offset)
    assert got == datetime.fromisoformat(expected)
    assert got.tzinfo is not None


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff_delay(n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]


# --- one round ---------------------------------------------------------------------------------


def test_once_pushes_a_plan_and_stores_a_replayable_run(
    site: FakeHA, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    site.problem = problem(START, 96, 15, appliances=[CYCLE])
    caplog.set_level(logging.INFO, "ems_optimizer")
    service = _service(site, tmp_path)
    assert service.once() == serve.EXIT_OK

    (body,) = site.plans
    assert set(body) == {"plan", "scenario", "config_entry_id", "source"}
    assert body["source"].startswith("ems-optimizer on ")  # ems tells two optimizers apart
    assert body["config_entry_id"] == "entry1"
    scenario, plan = body["scenario"], body["plan"]
    assert len(scenario["load_w"]) == len(scenario["pv_w"]) == 96
    assert max(scenario["pv_w"]) > 500  # the PV history is used
    assert min(scenario["load_w"]) > 0
    assert plan["start"] == START
    assert plan["appliances"]["wm"]["start"] is not None
    assert plan["warnings"] == []
    assert plan["report"]["consumer_count"] == 1

    (run,) = service.store.runs()
    assert {p.name for p in run.iterdir()} == {"scenario.json", "plan.json", RUN_FILE}
    assert json.loads((run / "plan.json").read_text()) == plan
    assert json.loads((run / "scenario.json").read_text()) == scenario
    meta = json.loads((run / RUN_FILE).read_text())
    assert meta["pushed"] is True
    assert meta["reason"] == "once"
    assert meta["inputs"]["forecast"]["load"]["name"] != "none"
    assert meta["inputs"]["weather"]["past"] > 0
    # The plan says which forecast it used and how far yesterday's forecast was (HA shows it).
    load = plan["forecast"]["load"]
    assert load["method"] == meta["inputs"]["forecast"]["load"]["name"]
    assert load["day"] == "2024-03-31"
    assert load["mae_w"] > 0
    assert load["persistence_mae_w"] > 0
    assert plan["forecast"]["pv"]["method"] == meta["inputs"]["forecast"]["pv"]["name"]

    report = [r.getMessage() for r in caplog.records if "plan pushed" in r.getMessage()]
    assert len(report) == 1
    assert "1 consumer(s)" in report[0]
    assert "deficit min hour" in report[0]
    assert "solve" in report[0]

    assert cli.main(["replay", str(run), "--check"]) == 0
    out = capsys.readouterr().out
    assert "replay: status" in out
    assert "stored: status" in out


def test_the_next_round_uses_the_previous_plan_and_reads_only_new_history(
    site: FakeHA, tmp_path: Path
) -> None:
    clock = Clock()
    service = _service(site, tmp_path, clock)
    assert service.run_round("first") is Outcome.PUSHED
    first_history = len(site.calls_to("/api/history/period"))
    assert first_history == 20  # ten daily chunks, for the power sensors and for the weather
    clock.t += timedelta(minutes=15)
    assert service.run_round("second") is Outcome.PUSHED
    assert len(site.calls_to("/api/history/period")) == first_history + 2
    last = site.calls_to("/api/history/period")[-2]
    assert last.path.endswith("2024-03-31T21:55:05+00:00")  # since the last read, 5 min overlap
    newest = service.store.runs()[-1]
    assert (newest / "previous.json").exists()
    assert json.loads((newest / "previous.json").read_text()) == site.plans[0]["plan"]


def test_only_the_last_runs_are_kept(site: FakeHA, tmp_path: Path) -> None:
    clock = Clock()
    service = _service(site, tmp_path, clock, keep_runs=2)
    for _ in range(3):
        assert service.run_round("test") is Outcome.PUSHED
        clock.t += timedelta(minutes=15)
    assert [p.name for p in service.store.runs()] == ["20240331T221505Z", "20240331T223005Z"]
    # a restarted add-on plans against the last plan HA accepted
    again = _service(site, tmp_path, clock, keep_runs=2)
    assert again.last_plan == site.plans[-1]["plan"]


def test_weather_failure_falls_back_with_a_warning(site: FakeHA, tmp_path: Path) -> None:
    site.weather = {}  # weather.get_forecasts answers 400
    assert _service(site, tmp_path).once() == serve.EXIT_OK
    (body,) = site.plans
    (message,) = _warnings(body)
    assert message.startswith(f"weather forecast of {WEATHER} could not be read")
    assert "planned without weather" in message
    assert body["plan"]["status"] == "optimal"


def test_no_weather_entity_is_no_warning(site: FakeHA, tmp_path: Path) -> None:
    site.problem = problem(START, 24, 60, weather=None)
    assert _service(site, tmp_path).once() == serve.EXIT_OK
    assert _warnings(site.plans[0]) == []
    assert site.calls_to("weather") == []


def test_history_failure_falls_back_to_a_typical_household(site: FakeHA, tmp_path: Path) -> None:
    site.fail_next("/api/history", *[500] * 30)
    assert _service(site, tmp_path, fallback_load_w=400).once() == serve.EXIT_OK
    (body,) = site.plans
    messages = _warnings(body)
    assert any(m.startswith("history could not be read") for m in messages)
    assert (
        f"no usable history of {LOAD}: load forecast from a typical household profile, "
        "3504 kWh a year (the add-on's fallback load)"
    ) in messages
    load = body["scenario"]["load_w"]
    assert sum(load) / len(load) == pytest.approx(400.0, rel=0.25)  # a day near the yearly mean
    assert max(load) > 1.5 * min(load)  # shaped: nights low, evening high
    assert body["plan"]["forecast"]["load"] == {"method": "typical"}
    assert f"no usable history of {PV}: PV forecast 0 W" in messages


def test_a_short_load_history_uses_the_sites_annual_consumption(
    site: FakeHA, tmp_path: Path
) -> None:
    site.problem = problem(START, 24, 60)
    site.problem["sources"]["annual_consumption_kwh"] = 8760.0  # a 1 kW mean
    fresh = pd.Timestamp(NOW) - pd.Timedelta(hours=6)  # a fresh install: six hours of load
    site.states[LOAD] = [s for s in site.states[LOAD] if pd.Timestamp(s[0]) >= fresh]
    assert _service(site, tmp_path).once() == serve.EXIT_OK
    (body,) = site.plans
    messages = _warnings(body)
    assert any(
        f"history of {LOAD} too short" in m and "8760 kWh a year (the site's annual" in m
        for m in messages
    )
    load = body["scenario"]["load_w"]
    assert sum(load) / len(load) == pytest.approx(1000.0, rel=0.25)


def test_history_failure_later_uses_the_history_already_read(site: FakeHA, tmp_path: Path) -> None:
    clock = Clock()
    service = _service(site, tmp_path, clock)
    assert service.run_round("first") is Outcome.PUSHED
    site.fail_next("/api/history", 500)
    clock.t += timedelta(minutes=15)
    assert service.run_round("second") is Outcome.PUSHED
    (message,) = _warnings(site.plans[1])
    assert "using the history read until 2024-03-31 22:00 UTC" in message
    assert site.plans[1]["scenario"]["load_w"] != [500.0] * 24


def test_a_rejected_plan_is_recorded_and_nothing_else_pushed(
    site: FakeHA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site.fail_next("/api/services/ems/set_plan", 400)
    service = _service(site, tmp_path)
    assert service.once() == serve.EXIT_FAILED
    assert site.plans == []
    meta = json.loads((service.store.runs()[0] / RUN_FILE).read_text())
    assert meta["pushed"] is False
    assert "HTTP 400" in meta["push_error"]
    assert "rejected the plan" in caplog.text
    assert service.last_plan is None


def test_a_solver_failure_pushes_nothing(
    site: FakeHA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(serve, "plan", broken)
    assert _service(site, tmp_path).once() == serve.EXIT_FAILED
    assert site.calls_to("set_plan") == []


def test_a_bad_problem_pushes_nothing(
    site: FakeHA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site.problem["scenario"]["import_price_eur_per_kwh"] = [0.2] * 3
    assert _service(site, tmp_path).once() == serve.EXIT_FAILED
    assert site.calls_to("set_plan") == []
    assert "import_price_eur_per_kwh: must have 24 values" in caplog.text


# --- authentication and outages ------------------------------------------------------------------


def test_refused_token_is_one_clear_line_and_exit_3(
    site: FakeHA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    assert _service(site, tmp_path, clock, token="expired").once() == serve.EXIT_UNAUTHORIZED
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "refused the access token (HTTP 401)" in errors[0].getMessage()
    assert "long-lived access token" in errors[0].getMessage()
    assert clock.sleeps == []


def test_the_loop_says_401_once_and_keeps_going(
    site: FakeHA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    service = _service(site, tmp_path, clock, token="expired")

    def stop_after_three_rounds() -> None:
        if len(service.rounds) >= 3:
            service.stop()

    clock.hook = stop_after_three_rounds
    assert service.loop() == serve.EXIT_OK
    assert [outcome for _, outcome in service.rounds] == [Outcome.UNAUTHORIZED] * 3
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1
    assert "HTTP 401" in loud[0].getMessage()
    assert clock.sleeps[:2] == [300.0, 300.0]  # slow retries, never faster than the loop


def test_once_retries_while_ha_restarts(site: FakeHA, tmp_path: Path) -> None:
    site.fail_next("/api/services/ems/get_problem", 502, 502)
    clock = Clock()
    assert _service(site, tmp_path, clock).once() == serve.EXIT_OK
    assert clock.sleeps == [5.0, 10.0]
    assert len(site.plans) == 1


def test_once_gives_up_when_nobody_answers(
    socket_enabled: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    del socket_enabled
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    clock = Clock()
    dead = FakeHA(url=f"http://127.0.0.1:{port}")
    assert _service(dead, tmp_path, clock).once() == serve.EXIT_FAILED
    assert clock.sleeps == [5.0, 10.0, 20.0]
    assert f"cannot reach Home Assistant at http://127.0.0.1:{port}/api: " in caplog.text
    assert "not ready" not in caplog.text  # F17: a wrong URL is not HA starting up


def test_the_loop_backs_off_while_ha_is_down_and_never_dies(site: FakeHA, tmp_path: Path) -> None:
    site.fail_next("/api/services/ems/get_problem", 502, 503, 502)
    clock = Clock()
    service = _service(site, tmp_path, clock)

    def stop_after_the_next_quarter() -> None:
        if clock.t >= datetime(2024, 3, 31, 22, 15, 5, tzinfo=UTC) and len(service.rounds) >= 5:
            service.stop()

    clock.hook = stop_after_the_next_quarter
    assert service.loop() == serve.EXIT_OK
    outcomes = [outcome for _, outcome in service.rounds]
    assert outcomes == [Outcome.RETRY] * 3 + [Outcome.PUSHED] * 2
    assert clock.sleeps[:3] == [5.0, 10.0, 20.0]
    # after recovering at 22:00:40, the next round is on the quarter hour
    assert [reason for reason, _ in service.rounds][-1] == "schedule"
    assert site.plans[-1]["plan"]["start"] == START
    assert service.store.runs()[-1].name == "20240331T221505Z"


def test_an_unexpected_error_does_not_end_the_loop(
    site: FakeHA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    service = _service(site, tmp_path, clock)
    calls = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ZeroDivisionError("oops")
        return real(*args, **kwargs)

    real = serve.plan
    monkeypatch.setattr(serve, "plan", flaky)

    def stop() -> None:
        if len(service.rounds) >= 2:
            service.stop()

    clock.hook = stop
    assert service.loop() == serve.EXIT_OK
    assert [o for _, o in service.rounds] == [Outcome.FAILED, Outcome.PUSHED]
    assert [r for r, _ in service.rounds] == ["start", "schedule"]


# --- the problem changes -------------------------------------------------------------------------


def test_a_changed_problem_is_planned_at_once(site: FakeHA, tmp_path: Path) -> None:
    clock = Clock()
    service = _service(site, tmp_path, clock)
    events: list[str] = []

    def hook() -> None:
        minutes = (clock.t - NOW).total_seconds() / 60
        if minutes >= 2 and "soc" not in events:
            site.problem["scenario"]["battery"]["soc_initial_pct"] = 60  # moves by itself
            events.append("soc")
        elif minutes >= 5 and "request" not in events:
            site.problem["scenario"]["appliances"].append(
                {"id": "dw", "type": "cycle", "profile_w": [1500.0]}
            )
            events.append("request")
        if len(service.rounds) >= 3:
            service.stop()

    clock.hook = hook
    service.loop()
    reasons = [reason for reason, _ in service.rounds]
    assert reasons == ["start", "problem changed", "schedule"]
    times = [
        datetime.fromisoformat(json.loads((p / RUN_FILE).read_text())["time"])
        for p in service.store.runs()
    ]
    assert times[0] == NOW
    assert timedelta(minutes=5) <= times[1] - NOW <= timedelta(minutes=5, seconds=30)
    assert times[2] == datetime(2024, 3, 31, 22, 15, 5, tzinfo=UTC)
    assert "dw" in site.plans[1]["plan"]["appliances"]
    assert site.plans[1]["scenario"]["battery"]["soc_initial_pct"] == 60
    polls = site.calls_to("get_problem")
    assert len(polls) > 10  # polled every 30 s in between


# --- command line ----------------------------------------------------------------------------


def _now_problem(appliances: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    now = datetime.now(UTC).astimezone()
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    return problem(start.isoformat(timespec="seconds"), 8, 15, appliances=appliances, weather=None)


def test_cli_serve_once_standalone(site: FakeHA, tmp_path: Path) -> None:
    site.problem = _now_problem()
    runs = tmp_path / "runs"
    code = cli.main(
        ["serve", "--once", "--ha-url", site.url, "--token", TOKEN, "--runs-dir", str(runs)]
    )
    assert code == 0
    assert len(site.plans) == 1
    assert len(RunStore(runs, 1).runs()) == 1


def test_cli_serve_reads_the_options_file(site: FakeHA, tmp_path: Path) -> None:
    site.problem = _now_problem()
    options = tmp_path / "options.json"
    runs = tmp_path / "elsewhere"
    options.write_text(
        json.dumps({"ha_url": site.url, "token": TOKEN, "objective": "import", "keep_runs": 3})
    )
    code = cli.main(["serve", "--once", "--options", str(options), "--runs-dir", str(runs)])
    assert code == 0
    assert site.plans[0]["scenario"]["objective"] == "import"


def test_cli_serve_inside_the_supervisor(
    site: FakeHA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ems_optimizer import ha_client, settings

    site.prefix = "/core"
    site.token = "supervisor-token"
    site.problem = _now_problem()
    options = tmp_path / "options.json"
    options.write_text(json.dumps({"log_level": "debug", "step_minutes": "auto"}))
    monkeypatch.setenv("SUPERVISOR_TOKEN", "supervisor-token")
    monkeypatch.setattr(ha_client, "SUPERVISOR_URL", f"{site.url}/core")
    monkeypatch.setattr(settings, "ADDON_OPTIONS", options)
    monkeypatch.setattr(settings, "ADDON_RUNS_DIR", tmp_path / "data-runs")
    assert cli.main(["serve", "--once"]) == 0
    assert all(call.path.startswith("/core/api/") for call in site.calls)
    assert all(c.headers["Authorization"] == "Bearer supervisor-token" for c in site.calls)
    assert len(RunStore(tmp_path / "data-runs", 1).runs()) == 1


def test_cli_serve_without_connection_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("SUPERVISOR_TOKEN", raising=False)
    monkeypatch.delenv("EMS_HA_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["serve", "--once"]) == 2
    assert "no Supervisor here" in caplog.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"loop_minutes": 0}, "loop_minutes: must be 1…60"),
        ({"objective": "cheapest"}, "objective: must be one of"),
        ({"colour": "red"}, "unknown option 'colour'"),
    ],
)
def test_cli_serve_bad_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, options: dict[str, Any], message: str
) -> None:
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options))
    assert cli.main(["serve", "--once", "--options", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_cli_serve_401_exit_3(site: FakeHA, tmp_path: Path) -> None:
    site.problem = _now_problem()
    args = ["serve", "--once", "--ha-url", site.url, "--token", "bad", "--runs-dir", str(tmp_path)]
    assert cli.main(args) == 3


def test_the_loop_runs_as_a_process_and_stops_on_sigterm(site: FakeHA, tmp_path: Path) -> None:
    """The add-on as the Supervisor runs it: a real process, real time, stopped by SIGTERM."""
    site.problem = _now_problem()
    command = [
        sys.executable,
        "-m",
        "ems_optimizer",
        "serve",
        "--ha-url",
        site.url,
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    env = {**os.environ, "EMS_HA_TOKEN": TOKEN}
    env.pop("SUPERVISOR_TOKEN", None)
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) as process:
        assert process.stderr is not None
        lines: queue.Queue[str] = queue.Queue()
        # Read in a thread: a blocking readline must never hang the suite if the line never comes.
        reader = threading.Thread(
            target=lambda: [lines.put(line) for line in iter(process.stderr.readline, "")],
            daemon=True,
        )
        reader.start()
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("plan pushed (start)" in s for s in seen):
            try:
                seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                break
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
        reader.join(timeout=5)
    while not lines.empty():
        seen.append(lines.get())
    output = "".join(seen)
    assert process.returncode == 0, output
    assert "plan pushed (start)" in output
    assert "stopping" in output
    assert len(site.plans) == 1


def test_a_solcast_sensor_comes_before_the_own_pv_forecast(site: FakeHA, tmp_path: Path) -> None:
    """A PV forecast entity with a dated series (Solcast's detailedForecast, kW per 30 min)."""
    solcast = "sensor.solcast_pv_forecast_forecast_today"
    start = pd.Timestamp(START)
    records = [  # the first 12 hours only: the add-on's own forecast fills the rest
        {"period_start": (start + pd.Timedelta(minutes=30 * k)).isoformat(), "pv_estimate": 1.5}
        for k in range(24)
    ]
    site.states[solcast] = [(NOW.isoformat(), "12.3", {"detailedForecast": records})]
    site.states["sensor.broken_forecast"] = [(NOW.isoformat(), "5", {"unit": "kWh"})]
    site.problem["sources"]["pv_forecast_entities"] = [solcast, "sensor.broken_forecast"]
    assert _service(site, tmp_path).once() == serve.EXIT_OK
    (body,) = site.plans
    pv = body["scenario"]["pv_w"]
    assert pv[:12] == [1500.0] * 12  # 1.5 kW, hour by hour
    assert pv[12:] != [1500.0] * 12
    # only the method: yesterday's figures would be the add-on's own model's, not Solcast's
    assert body["plan"]["forecast"]["pv"] == {"method": "external"}
    (message,) = [m for m in _warnings(body) if "broken_forecast" in m]
    assert "no dated forecast in its attributes" in message


def test_yesterdays_error_is_scored_on_the_plans_step(site: FakeHA, tmp_path: Path) -> None:
    """A sensor that reports every 7 minutes: the error is still scored (on the plan's hour).

    Guessing the step from the readings gave 7 minutes, which no day divides: no figures.
    """
    begin = pd.Timestamp(NOW) - pd.Timedelta(days=12)
    stamps = pd.date_range(begin, pd.Timestamp(NOW), freq="7min")
    hours = np.asarray(stamps.tz_convert("Europe/Paris").hour)
    site.states[LOAD] = [
        (t.isoformat(), str(300.0 + 900.0 * (h == 19)), None)
        for t, h in zip(stamps, hours, strict=True)
    ]
    clock = Clock()
    service = _service(site, tmp_path, clock)
    assert service.run_round("first") is Outcome.PUSHED
    load = site.plans[0]["plan"]["forecast"]["load"]
    assert load["day"] == "2024-03-31"
    assert load["mae_w"] is not None
