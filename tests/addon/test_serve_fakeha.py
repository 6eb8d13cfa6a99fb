"""A small stand-in for Home Assistant's REST API (stdlib http.server on 127.0.0.1:0).

It serves what the add-on uses, shaped as HA 2025.4 answers it: /api/, /api/config,
/api/history/period/<start> (minimal_response / no_attributes / significant_changes_only),
POST /api/services/<domain>/<service>[?return_response] for ems.get_problem, ems.set_plan
(validated with the contract, 400 on rejection, as the integration does) and
weather.get_forecasts. Knobs make it refuse the token, fail a path, or answer 502 as the
Supervisor's proxy does while Core restarts. The tests at the bottom check the fake itself.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
from pathlib import Path
import threading
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pandas as pd
import pytest
import requests

from ems_core.contract import ContractError, validate_plan, validate_scenario

TOKEN = "test-token"
DATA = Path(__file__).parent / "data"


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeHA:
    """The fake's state; tests change it between calls."""

    token: str = TOKEN
    prefix: str = ""  # "/core" serves the API where the Supervisor's proxy has it
    problem: dict[str, Any] = field(default_factory=dict)
    states: dict[str, list[tuple[str, Any, dict[str, Any] | None]]] = field(default_factory=dict)
    weather: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    config: dict[str, Any] = field(
        default_factory=lambda: {
            "time_zone": "Europe/Paris",
            "unit_system": {"temperature": "°C"},
            "version": "2025.4.4",
        }
    )
    fail: dict[str, list[int]] = field(default_factory=dict)  # path prefix → statuses to send
    calls: list[Call] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def fail_next(self, path_prefix: str, *statuses: int) -> None:
        """Answer the next requests under `path_prefix` with these statuses, in order."""
        self.fail.setdefault(path_prefix, []).extend(statuses)

    def calls_to(self, fragment: str) -> list[Call]:
        """The requests whose path contains `fragment`."""
        return [c for c in self.calls if fragment in c.path]

    # --- answers ---------------------------------------------------------------------------

    def history(self, start: datetime, query: dict[str, list[str]]) -> list[list[dict]]:
        end_text = query.get("end_time", [None])[0]
        end = datetime.fromisoformat(end_text) if end_text else start + timedelta(days=1)
        minimal = "minimal_response" in query
        no_attributes = "no_attributes" in query
        out = []
        for entity_id in query["filter_entity_id"][0].split(","):
            rows = [(datetime.fromisoformat(t), s, a) for t, s, a in self.states.get(entity_id, [])]
            before = [r for r in rows if r[0] <= start]
            inside = [r for r in rows if start < r[0] < end]
            if before:  # the state at the start, stamped with the start (HA does the same)
                inside.insert(0, (start, before[-1][1], before[-1][2]))
            items = []
            for k, (when, state, attributes) in enumerate(inside):
                stamp = when.isoformat()
                if minimal and k > 0:
                    items.append({"state": state, "last_changed": stamp})
                    continue
                item = {"entity_id": entity_id, "state": state, "last_changed": stamp}
                item["last_updated"] = stamp
                if not no_attributes:
                    item["attributes"] = attributes or {}
                items.append(item)
            if items:
                out.append(items)
        return out

    def service(self, domain: str, service: str, body: Any, respond: bool):
        if (domain, service) == ("ems", "get_problem"):
            if not respond:
                return 400, {"message": "Service call requires responses but caller did not ask"}
            return 200, {"changed_states": [], "service_response": self.problem}
        if (domain, service) == ("ems", "set_plan"):
            try:
                scenario = validate_scenario(body["scenario"]) if "scenario" in body else None
                validate_plan(body["plan"], scenario)
            except (ContractError, KeyError) as err:
                return 400, {"message": f"Invalid plan: {err}"}
            self.plans.append(body)
            return 200, []
        if (domain, service) == ("weather", "get_forecasts"):
            entity = body.get("entity_id")
            if entity not in self.weather:
                return 400, {"message": f"Referenced entities {entity} are missing"}
            items = self.weather[entity]
            return 200, {"changed_states": [], "service_response": {entity: {"forecast": items}}}
        return 400, {"message": f"Service {domain}.{service} not found."}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHA

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def _send(self, status: int, data: Any) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        body = text.encode()
        self.send_response(status)
        kind = "text/plain" if isinstance(data, str) else "application/json"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        fake.calls.append(Call(method, path, query, dict(self.headers), body))
        if fake.prefix:
            if not path.startswith(fake.prefix + "/"):
                self._send(404, "404: Not Found")
                return
            path = path.removeprefix(fake.prefix)
        for prefix, statuses in fake.fail.items():
            if path.startswith(prefix) and statuses:
                status = statuses.pop(0)
                self._send(status, "401: Unauthorized" if status == 401 else {"message": "boom"})
                return
        if self.headers.get("Authorization") != f"Bearer {fake.token}":
            self._send(401, "401: Unauthorized")
            return
        if method == "GET" and path == "/api/":
            self._send(200, {"message": "API running."})
        elif method == "GET" and path == "/api/config":
            self._send(200, fake.config)
        elif method == "GET" and path.startswith("/api/states/"):
            entity = unquote(path.removeprefix("/api/states/"))
            if not fake.states.get(entity):
                self._send(404, {"message": "Entity not found."})
            else:
                stamp, state, attributes = fake.states[entity][-1]
                self._send(
                    200,
                    {
                        "entity_id": entity,
                        "state": state,
                        "attributes": attributes or {},
                        "last_changed": stamp,
                    },
                )
        elif method == "GET" and path.startswith("/api/history/period/"):
            start = datetime.fromisoformat(path.removeprefix("/api/history/period/"))
            self._send(200, fake.history(start, query))
        elif method == "POST" and path.startswith("/api/services/"):
            domain, service = path.removeprefix("/api/services/").split("/")
            status, data = fake.service(domain, service, body or {}, "return_response" in query)
            self._send(status, data)
        else:
            self._send(404, "404: Not Found")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


@contextlib.contextmanager
def serve_fake(fake: FakeHA) -> Iterator[FakeHA]:
    """Run the fake on a free loopback port; fake.url is its base URL."""
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- data: a real household's history as HA states ----------------------------------------------

LOAD = "sensor.home_house_load"
PV = "sensor.home_pv_power"
WEATHER = "weather.home"


def household_states(until: str) -> dict[str, list[tuple[str, Any, None]]]:
    """The French household of tests/addon/data as HA state changes (before `until`)."""
    frame = pd.read_csv(DATA / "household_fr_30min_2024-03-10_2024-04-21.csv")
    frame = frame[pd.to_datetime(frame["timestamp"]) < pd.Timestamp(until)]
    out: dict[str, list[tuple[str, Any, None]]] = {LOAD: [], PV: []}
    for column, entity in (("load_base_w", LOAD), ("pv_w", PV)):
        last = None
        for stamp, value in zip(frame["timestamp"], frame[column], strict=True):
            if value != last:  # HA records changes only
                out[entity].append((stamp, str(value), None))
                last = value
    return out


def weather_items(since: str, hours: int) -> list[dict[str, Any]]:
    """Hourly forecast items (weather.get_forecasts) from the Nantes weather of tests/data."""
    frame = pd.read_csv(DATA / "weather_nantes_hourly_2024-03-10_2024-04-22.csv")
    times = pd.to_datetime(frame["timestamp"])
    frame = frame[times >= pd.Timestamp(since)].head(hours)
    return [
        {
            "datetime": stamp,
            "condition": "cloudy",
            "temperature": temp,
            "cloud_coverage": cloud,
        }
        for stamp, temp, cloud in zip(
            frame["timestamp"], frame["temp_c"], frame["cloud_cover_pct"], strict=True
        )
    ]


def weather_states(until: str, days: int = 12) -> list[tuple[str, Any, dict[str, Any]]]:
    """The weather entity's recorded states (attributes temperature, cloud_coverage)."""
    frame = pd.read_csv(DATA / "weather_nantes_hourly_2024-03-10_2024-04-22.csv")
    times = pd.to_datetime(frame["timestamp"])
    end = pd.Timestamp(until)
    frame = frame[(times < end) & (times >= end - pd.Timedelta(days=days))]
    return [
        (stamp, "cloudy", {"temperature": temp, "cloud_coverage": cloud})
        for stamp, temp, cloud in zip(
            frame["timestamp"], frame["temp_c"], frame["cloud_cover_pct"], strict=True
        )
    ]


def problem(
    start: str = "2024-04-01T00:00:00+02:00",
    steps: int = 96,
    step_minutes: int = 15,
    *,
    appliances: list[dict[str, Any]] | None = None,
    weather: str | None = WEATHER,
) -> dict[str, Any]:
    """A get_problem answer as the interface describes it (scenario without load_w/pv_w)."""
    prices = [0.2 if (k * step_minutes // 60) % 24 < 6 else 0.3 for k in range(steps)]
    return {
        "version": 1,
        "site": {"entry_id": "entry1", "name": "Home"},
        "scenario": {
            "version": 1,
            "start": start,
            "step_minutes": step_minutes,
            "horizon_steps": steps,
            "objective": "cost",
            "import_price_eur_per_kwh": prices,
            "export_price_eur_per_kwh": [0.05] * steps,
            "grid": {"import_limit_w": 9000, "export_limit_w": None},
            "battery": {
                "capacity_wh": 10000,
                "soc_initial_pct": 50,
                "soc_min_pct": 10,
                "soc_max_pct": 95,
                "charge_max_w": 3000,
                "discharge_max_w": 3000,
                "charge_efficiency": 0.95,
                "discharge_efficiency": 0.95,
            },
            "appliances": appliances or [],
        },
        "sources": {
            "load_power_entity": LOAD,
            "pv_power_entity": PV,
            "weather_entity": weather,
            "timezone": "Europe/Paris",
        },
        "run_requested_at": None,
    }


# --- the fake itself ------------------------------------------------------------------------------


@pytest.fixture
def fake(socket_enabled: None) -> Iterator[FakeHA]:
    del socket_enabled
    with serve_fake(FakeHA()) as running:
        yield running


def test_fake_refuses_a_wrong_token(fake: FakeHA) -> None:
    answer = requests.get(f"{fake.url}/api/", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert answer.status_code == 401
    answer = requests.get(
        f"{fake.url}/api/", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert answer.json() == {"message": "API running."}


def test_fake_history_is_minimal_after_the_first_state(fake: FakeHA) -> None:
    fake.states = {
        LOAD: [
            ("2024-04-01T00:00:00+00:00", "100", None),
            ("2024-04-01T01:00:00+00:00", "200", None),
        ]
    }
    answer = requests.get(
        f"{fake.url}/api/history/period/2024-03-31T23:00:00+00:00",
        params={
            "filter_entity_id": LOAD,
            "end_time": "2024-04-01T02:00:00+00:00",
            "minimal_response": "",
            "no_attributes": "",
        },
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).json()
    assert answer == [
        [
            {
                "entity_id": LOAD,
                "state": "100",
                "last_changed": "2024-04-01T00:00:00+00:00",
                "last_updated": "2024-04-01T00:00:00+00:00",
            },
            {"state": "200", "last_changed": "2024-04-01T01:00:00+00:00"},
        ]
    ]
