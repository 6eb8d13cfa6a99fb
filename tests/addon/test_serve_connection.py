"""How `serve` reaches Home Assistant: the token kept off the command line, and clear failures.

F15: standalone, the long-lived token comes from $EMS_HA_TOKEN or `--token-file`; `--token`
still works but warns. F17: a URL nobody answers at is "cannot reach Home Assistant at URL",
distinct from a refused token (401) and from Home Assistant starting up ("not ready").
"""

from __future__ import annotations

from collections.abc import Iterator
import logging
from pathlib import Path
import socket
from typing import Any

import pytest
import requests
from test_serve import Clock, _now_problem, _service
from test_serve_fakeha import TOKEN, FakeHA, serve_fake

from ems_optimizer import cli, serve
from ems_optimizer.ha_client import (
    Connection,
    HAClient,
    HAUnreachable,
    connection_failure,
)
from ems_optimizer.serve import Outcome
from ems_optimizer.settings import Settings

MESSAGES = {
    "unreachable": "cannot reach Home Assistant at",
    "not ready": "Home Assistant not ready",
    "refused": "refused the access token (HTTP 401)",
    "server error": "Home Assistant failed to answer",
    "error answer": "is the ems integration set up and loaded?",
}


@pytest.fixture
def ha(socket_enabled: None) -> Iterator[FakeHA]:
    """A fake Home Assistant whose problem starts now (8 × 15 min, no weather)."""
    del socket_enabled
    fake = FakeHA()
    fake.problem = _now_problem()
    with serve_fake(fake) as running:
        yield running


@pytest.fixture
def dead_url(socket_enabled: None) -> str:
    """A loopback URL where nothing listens (connection refused)."""
    del socket_enabled
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _only(text: str, kind: str) -> None:
    """The log says `kind`'s message and none of the others."""
    assert MESSAGES[kind] in text, text
    for other, message in MESSAGES.items():
        if other != kind:
            assert message not in text, (other, text)


# --- F17: which failure it was -------------------------------------------------------------------


def test_an_unreachable_url_is_not_called_not_ready(
    dead_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    service = _service(FakeHA(url=dead_url), tmp_path, clock)
    assert service.once() == serve.EXIT_FAILED
    _only(caplog.text, "unreachable")
    lines = [r for r in caplog.records if MESSAGES["unreachable"] in r.getMessage()]
    assert (
        lines[0]
        .getMessage()
        .startswith(f"cannot reach Home Assistant at {dead_url}/api: Connection refused")
    )
    assert "--ha-url" in lines[0].getMessage()
    assert [r.levelno for r in lines] == [logging.WARNING] + [logging.INFO] * 3


@pytest.mark.parametrize(
    ("fail", "kind"),
    [
        ((502,), "not ready"),  # the Supervisor's proxy while Core restarts
        ((503,), "not ready"),
        ((500,), "server error"),
        ((400,), "error answer"),  # ems.get_problem not registered (yet)
        ((401,), "refused"),
    ],
)
def test_each_failure_has_its_own_message(
    ha: FakeHA,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fail: tuple[int, ...],
    kind: str,
) -> None:
    ha.fail_next("/api/services/ems/get_problem", *fail)
    service = _service(ha, tmp_path, Clock())
    outcome = service.run_round("test")
    assert outcome is (Outcome.UNAUTHORIZED if kind == "refused" else Outcome.RETRY)
    _only(caplog.text, kind)
    assert TOKEN not in caplog.text


def test_a_new_kind_of_failure_is_a_new_warning(
    ha: FakeHA, dead_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = _service(FakeHA(url=dead_url), tmp_path, Clock())
    assert service.run_round("a") is Outcome.RETRY
    assert service.run_round("b") is Outcome.RETRY
    service.client = HAClient(Connection(ha.url, TOKEN, supervisor=False))  # HA comes up
    ha.fail_next("/api/services/ems/get_problem", 502, 502)
    assert service.run_round("c") is Outcome.RETRY
    assert service.run_round("d") is Outcome.RETRY
    assert service.run_round("e") is Outcome.PUSHED
    ours = [
        (r.levelno, r.getMessage().split(" (")[0].split(":")[0])
        for r in caplog.records
        if r.name == "ems_optimizer.serve" and not r.getMessage().startswith("plan")
    ]
    assert ours == [
        (logging.WARNING, "cannot reach Home Assistant at http"),
        (logging.INFO, "cannot reach Home Assistant at http"),
        (logging.WARNING, "Home Assistant not ready, starting or restarting"),
        (logging.INFO, "Home Assistant not ready, starting or restarting"),
        (logging.INFO, "Home Assistant answers again"),
    ]


def test_an_unknown_host_says_so(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    del socket_enabled

    def no_such_host(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    client = HAClient(Connection("http://homeassistant.local:8123", TOKEN, supervisor=False))
    with pytest.raises(HAUnreachable) as caught:
        client.check()
    assert caught.value.reason == "Name or service not known"


def test_the_reason_is_the_innermost_cause(dead_url: str) -> None:
    with pytest.raises(requests.ConnectionError) as caught:
        requests.get(f"{dead_url}/api/", timeout=5)
    assert "HTTPConnectionPool" in str(caught.value)  # what requests says…
    assert connection_failure(caught.value) == "Connection refused"  # …and what we log


def test_inside_the_supervisor_the_proxy_is_named(
    dead_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = HAClient(Connection(f"{dead_url}/core", "sup", supervisor=True))
    service = serve.Service(Settings(), client, _service(FakeHA(url=dead_url), tmp_path).store)
    assert service.run_round("start") is Outcome.RETRY
    assert f"cannot reach Home Assistant at {dead_url}/core/api (the Supervisor's proxy): " in (
        caplog.text
    )
    assert "--ha-url" not in caplog.text


# --- F15: the token off the command line -----------------------------------------------------


def _serve_args(ha: FakeHA, tmp_path: Path, *extra: str) -> list[str]:
    return ["serve", "--once", "--ha-url", ha.url, "--runs-dir", str(tmp_path / "runs"), *extra]


@pytest.fixture
def no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token in the environment: what the command line gives is what counts."""
    monkeypatch.delenv("EMS_HA_TOKEN", raising=False)
    monkeypatch.delenv("SUPERVISOR_TOKEN", raising=False)


def test_the_token_from_a_file(
    ha: FakeHA, tmp_path: Path, no_env_token: None, caplog: pytest.LogCaptureFixture
) -> None:
    del no_env_token
    path = tmp_path / "token"
    path.write_text(f"{TOKEN}\n", encoding="utf-8")
    path.chmod(0o600)
    assert cli.main(_serve_args(ha, tmp_path, "--token-file", str(path))) == 0
    assert len(ha.plans) == 1
    assert {c.headers["Authorization"] for c in ha.calls} == {f"Bearer {TOKEN}"}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "token" in r.msg]
    assert TOKEN not in caplog.text


def test_the_token_from_the_environment(
    ha: FakeHA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("SUPERVISOR_TOKEN", raising=False)
    monkeypatch.setenv("EMS_HA_TOKEN", TOKEN)
    assert cli.main(_serve_args(ha, tmp_path)) == 0
    assert len(ha.plans) == 1
    assert "--token puts" not in caplog.text


def test_token_on_the_command_line_still_works_but_warns(
    ha: FakeHA, tmp_path: Path, no_env_token: None, caplog: pytest.LogCaptureFixture
) -> None:
    del no_env_token
    assert cli.main(_serve_args(ha, tmp_path, "--token", TOKEN)) == 0
    assert len(ha.plans) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("--token puts the access token on the command line" in w for w in warnings)
    assert TOKEN not in caplog.text


def test_a_token_file_others_can_read_is_warned(
    ha: FakeHA, tmp_path: Path, no_env_token: None, caplog: pytest.LogCaptureFixture
) -> None:
    del no_env_token
    path = tmp_path / "token"
    path.write_text(TOKEN, encoding="utf-8")
    path.chmod(0o644)
    assert cli.main(_serve_args(ha, tmp_path, "--token-file", str(path))) == 0
    assert f"--token-file {path} can be read by other users: chmod 600" in caplog.text


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "No such file or directory"), ("  \n\n", "the file is empty")],
)
def test_a_bad_token_file_is_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    message: str,
) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    args = ["serve", "--once", "--ha-url", "http://127.0.0.1:9", "--token-file", str(path)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert f"--token-file {path}: {message}" in err


def test_token_and_token_file_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN, encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        cli.main(["serve", "--once", "--token", "x", "--token-file", str(path)])
    assert done.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_the_token_is_not_in_the_settings_repr() -> None:
    assert TOKEN not in repr(Settings(token=TOKEN, ha_url="http://h:8123"))
