"""The add-on's REST client against a real HTTP server standing in for Home Assistant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
import socket

import pytest
from test_serve_fakeha import LOAD, PV, TOKEN, WEATHER, FakeHA, problem, serve_fake

from ems_optimizer.ha_client import (
    SUPERVISOR_URL,
    Connection,
    ConnectionSettingsError,
    HAClient,
    HARequestError,
    HAUnauthorized,
    HAUnavailable,
    resolve_connection,
)

T0 = datetime(2024, 4, 1, 0, 0, tzinfo=UTC)
T1 = datetime(2024, 4, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def ha(socket_enabled: None) -> Iterator[FakeHA]:
    del socket_enabled
    with serve_fake(FakeHA()) as running:
        yield running


def _client(ha: FakeHA, token: str = TOKEN, **kw) -> HAClient:
    return HAClient(Connection(ha.url, token, supervisor=False), **kw)


def test_every_request_carries_the_bearer_token(ha: FakeHA) -> None:
    client = _client(ha)
    assert client.check() == "API running."
    assert client.config()["time_zone"] == "Europe/Paris"
    assert [c.headers["Authorization"] for c in ha.calls] == [f"Bearer {TOKEN}"] * 2
    assert all(c.headers["User-Agent"] == "ems-optimizer" for c in ha.calls)


def test_supervisor_connection_uses_the_supervisor_token_and_proxy_url() -> None:
    connection = resolve_connection(None, None, env={"SUPERVISOR_TOKEN": "sup"})
    assert connection == Connection("http://supervisor/core", "sup", supervisor=True)
    assert SUPERVISOR_URL == "http://supervisor/core"
    assert connection.describe() == "http://supervisor/core/api (Supervisor proxy)"


@pytest.mark.parametrize(
    "url", ["http://ha.local:8123", "http://ha.local:8123/", "http://ha.local:8123/api/"]
)
def test_standalone_url_and_token_win_over_the_supervisor(url: str) -> None:
    connection = resolve_connection(url, "llat", env={"SUPERVISOR_TOKEN": "sup"})
    assert connection == Connection("http://ha.local:8123", "llat", supervisor=False)


def test_standalone_token_from_the_environment() -> None:
    connection = resolve_connection("http://h:8123", "", env={"EMS_HA_TOKEN": "from-env"})
    assert connection.token == "from-env"


@pytest.mark.parametrize(
    ("url", "token", "env", "message"),
    [
        (None, None, {}, "no Supervisor here"),
        ("http://h:8123", None, {}, "a token is needed"),
        ("h:8123", "t", {}, "must start with http"),
    ],
)
def test_missing_connection_settings_are_explained(
    url: str | None, token: str | None, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConnectionSettingsError, match=message):
        resolve_connection(url, token, env=env)


def test_the_supervisor_proxy_path_is_prefixed(ha: FakeHA) -> None:
    ha.prefix = "/core"
    ha.problem = problem()
    client = HAClient(Connection(f"{ha.url}/core", TOKEN, supervisor=True))
    assert client.get_problem()["site"]["entry_id"] == "entry1"
    assert ha.calls[-1].path == "/core/api/services/ems/get_problem"


def test_refused_token_raises_unauthorized(ha: FakeHA) -> None:
    with pytest.raises(HAUnauthorized, match="401"):
        _client(ha, token="wrong").check()


def test_502_while_core_restarts_is_unavailable(ha: FakeHA) -> None:
    ha.fail_next("/api/", 502)
    with pytest.raises(HAUnavailable, match="502"):
        _client(ha).check()
    assert _client(ha).check() == "API running."


def test_nobody_listening_is_unavailable(socket_enabled: None) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HAClient(Connection(f"http://127.0.0.1:{port}", TOKEN, supervisor=False))
    with pytest.raises(HAUnavailable, match="cannot connect"):
        client.check()


def test_get_problem_asks_for_the_response(ha: FakeHA) -> None:
    ha.problem = problem()
    answer = _client(ha).get_problem("entry1")
    assert answer == ha.problem
    call = ha.calls[-1]
    assert call.method == "POST"
    assert "return_response" in call.query
    assert call.body == {"config_entry_id": "entry1"}


def test_set_plan_sends_plan_scenario_and_entry(ha: FakeHA) -> None:
    client = _client(ha)
    with pytest.raises(HARequestError, match="Invalid plan") as caught:
        client.set_plan({"version": 1}, None, "entry1")
    assert caught.value.status == 400
    assert ha.calls[-1].body == {"plan": {"version": 1}, "config_entry_id": "entry1"}
    assert "return_response" not in ha.calls[-1].query


def test_history_query_is_minimal_and_bounded(ha: FakeHA) -> None:
    ha.states = {
        LOAD: [
            ("2024-03-31T23:00:00+00:00", "250.5", None),
            ("2024-04-01T00:30:00+00:00", "300", None),
        ],
        PV: [("2024-04-01T00:10:00+00:00", "unavailable", None)],
    }
    answer = _client(ha).history([LOAD, PV], T0, T1)
    call = ha.calls[-1]
    assert call.path == "/api/history/period/2024-04-01T00:00:00+00:00"
    assert call.query == {
        "filter_entity_id": [f"{LOAD},{PV}"],
        "end_time": ["2024-04-01T01:00:00+00:00"],
        "minimal_response": [""],
        "no_attributes": [""],
    }
    assert answer[0][0]["entity_id"] == LOAD
    assert answer[0][1] == {"state": "300", "last_changed": "2024-04-01T00:30:00+00:00"}
    assert answer[1][0]["state"] == "unavailable"


def test_history_with_attributes_for_the_weather(ha: FakeHA) -> None:
    ha.states = {WEATHER: [("2024-04-01T00:10:00+00:00", "rainy", {"temperature": 9.5})]}
    answer = _client(ha).history(
        [WEATHER],
        T0,
        datetime(2024, 4, 1, 1, tzinfo=UTC),
        attributes=True,
        significant_changes_only=False,
    )
    assert ha.calls[-1].query["significant_changes_only"] == ["0"]
    assert "minimal_response" not in ha.calls[-1].query
    assert answer[0][0]["attributes"] == {"temperature": 9.5}


def test_history_needs_aware_times(ha: FakeHA) -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        _client(ha).history([LOAD], datetime(2024, 4, 1), datetime(2024, 4, 2))


def test_weather_forecast_items(ha: FakeHA) -> None:
    ha.weather = {WEATHER: [{"datetime": "2024-04-01T00:00:00+00:00", "temperature": 8}]}
    assert _client(ha).weather_forecast(WEATHER) == ha.weather[WEATHER]
    assert ha.calls[-1].body == {"entity_id": WEATHER, "type": "hourly"}
    with pytest.raises(HARequestError, match="missing"):
        _client(ha).weather_forecast("weather.nowhere")


def test_a_non_json_answer_is_a_request_error(ha: FakeHA) -> None:
    with pytest.raises(HARequestError, match="404"):
        _client(ha)._request("GET", "/api/nothing")
