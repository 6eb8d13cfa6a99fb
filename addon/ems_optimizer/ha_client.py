"""Home Assistant's REST API, as the add-on uses it (requests; never imports Home Assistant).

Inside the Supervisor the add-on reaches Core through the Supervisor's proxy
(`http://supervisor/core/api/…`) with the `SUPERVISOR_TOKEN` it is given; standalone, next to a
plain HA Core, it needs Core's URL and a long-lived access token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
import os
from typing import Any
from urllib.parse import quote

import requests

from .settings import TOKEN_ENV

SUPERVISOR_URL = "http://supervisor/core"
SUPERVISOR_TOKEN_ENV = "SUPERVISOR_TOKEN"

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0


class HAError(Exception):
    """Something went wrong talking to Home Assistant."""


class HAUnavailable(HAError):
    """HA cannot be reached or answers that it is not ready (down, restarting, 5xx)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HAUnreachable(HAUnavailable):
    """No connection to HA at all (refused, unknown host, no route, TLS): URL or network."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class HAUnauthorized(HAError):
    """HA refused the token (401/403)."""


class HARequestError(HAError):
    """HA answered but rejected the request (4xx other than 401/403) or sent no usable JSON."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Connection:
    """Where Core's API is and which token to use."""

    base_url: str  # without the trailing /api
    token: str
    supervisor: bool

    def describe(self) -> str:
        """Where the add-on talks to, for the log (never the token)."""
        where = "Supervisor proxy" if self.supervisor else "standalone"
        return f"{self.base_url}/api ({where})"


class ConnectionSettingsError(ValueError):
    """Neither a Supervisor token nor a URL + token to reach Home Assistant."""


def _strip_api(url: str) -> str:
    url = url.strip().rstrip("/")
    return url.removesuffix("/api")


def resolve_connection(
    ha_url: str | None, token: str | None, env: Mapping[str, str] | None = None
) -> Connection:
    """The connection to use.

    An explicit URL (and token) wins: that is the standalone mode. Without a URL, the
    Supervisor's token in the environment means we run as an add-on. Outside the Supervisor a
    token may also come from the environment variable `EMS_HA_TOKEN` (kept out of `ps`).
    """
    env = os.environ if env is None else env
    supervisor_token = env.get(SUPERVISOR_TOKEN_ENV, "").strip()
    ha_url = (ha_url or "").strip()
    token = (token or "").strip() or env.get(TOKEN_ENV, "").strip()
    if ha_url:
        if not token:
            raise ConnectionSettingsError(
                f"a token is needed with the URL {ha_url}: a long-lived access token from "
                f"your HA profile (Security tab), in ${TOKEN_ENV} or a --token-file"
            )
        if not ha_url.startswith(("http://", "https://")):
            raise ConnectionSettingsError(f"the URL must start with http:// or https://: {ha_url}")
        return Connection(_strip_api(ha_url), token, supervisor=False)
    if supervisor_token:
        return Connection(SUPERVISOR_URL, supervisor_token, supervisor=True)
    raise ConnectionSettingsError(
        "no Supervisor here ($SUPERVISOR_TOKEN is not set): give Home Assistant's URL and a "
        f"long-lived access token (--ha-url URL with ${TOKEN_ENV} or --token-file FILE, or the "
        "ha_url and token options)"
    )


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("times sent to Home Assistant need a UTC offset")
    return moment.isoformat(timespec="seconds")


class HAClient:
    """A thin, synchronous client of the REST endpoints the add-on needs."""

    def __init__(
        self,
        connection: Connection,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
    ) -> None:
        self.connection = connection
        self.timeout = timeout
        self._session = session or requests.Session()
        self._session.headers.update(
            {
                "Authorization": f"Bearer {connection.token}",
                "Content-Type": "application/json",
                "User-Agent": "ems-optimizer",
            }
        )

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    # --- transport ----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        url = f"{self.connection.base_url}{path}"
        try:
            response = self._session.request(
                method, url, params=params, json=body, timeout=self.timeout
            )
        except requests.ConnectTimeout:
            reason = f"no connection within {self.timeout[0]:g} s"
            raise HAUnreachable(f"{method} {path}: cannot connect ({reason})", reason) from None
        except requests.Timeout:
            raise HAUnavailable(
                f"{method} {path}: no answer within {self.timeout[1]:g} s"
            ) from None
        except (requests.ConnectionError, requests.exceptions.InvalidURL) as err:
            reason = connection_failure(err)
            raise HAUnreachable(f"{method} {path}: cannot connect ({reason})", reason) from None
        except requests.RequestException as err:
            raise HAUnavailable(f"{method} {path}: {connection_failure(err)}") from None
        status = response.status_code
        if status in (401, 403):
            raise HAUnauthorized(f"{method} {path}: HTTP {status}, the token was refused")
        if status >= 500:
            raise HAUnavailable(f"{method} {path}: HTTP {status} {_message(response)}", status)
        if status >= 400:
            raise HARequestError(f"{method} {path}: HTTP {status} {_message(response)}", status)
        try:
            return response.json()
        except ValueError:
            raise HARequestError(f"{method} {path}: the answer is not JSON", status) from None

    def _service(self, domain: str, service: str, body: Mapping[str, Any], *, response: bool):
        path = f"/api/services/{domain}/{service}"
        if response:
            path += "?return_response"
        data = self._request("POST", path, body=dict(body))
        if not response:
            return data
        if not isinstance(data, Mapping) or "service_response" not in data:
            raise HARequestError(f"{domain}.{service}: no service_response in the answer")
        return data["service_response"]

    # --- endpoints ----------------------------------------------------------------------------

    def check(self) -> str:
        """GET /api/: raises unless the API runs and accepts the token."""
        data = self._request("GET", "/api/")
        return str(data.get("message", "")) if isinstance(data, Mapping) else ""

    def config(self) -> dict[str, Any]:
        """GET /api/config: time zone, unit system and version."""
        data = self._request("GET", "/api/config")
        if not isinstance(data, dict):
            raise HARequestError("/api/config: expected an object")
        return data

    def get_problem(self, config_entry_id: str | None = None) -> dict[str, Any]:
        """`ems.get_problem`: the site's scenario without forecasts, and where to read them."""
        body = {"config_entry_id": config_entry_id} if config_entry_id else {}
        data = self._service("ems", "get_problem", body, response=True)
        if not isinstance(data, dict) or not isinstance(data.get("scenario"), dict):
            raise HARequestError("ems.get_problem: the answer has no scenario")
        return data

    def set_plan(
        self,
        plan: Mapping[str, Any],
        scenario: Mapping[str, Any] | None = None,
        config_entry_id: str | None = None,
        source: str | None = None,
    ) -> None:
        """`ems.set_plan`; a rejected plan raises HARequestError with HA's message (HTTP 400).

        ``source`` names this optimizer, so that ems can tell when two of them push plans.
        """
        body: dict[str, Any] = {"plan": plan}
        if scenario is not None:
            body["scenario"] = scenario
        if source:
            body["source"] = source[:80]
        if config_entry_id:
            body["config_entry_id"] = config_entry_id
        self._service("ems", "set_plan", body, response=False)

    def history(
        self,
        entity_ids: Iterable[str],
        start: datetime,
        end: datetime,
        *,
        attributes: bool = False,
        significant_changes_only: bool = True,
    ) -> list[list[dict[str, Any]]]:
        """GET /api/history/period/<start>: one list of states per entity (entities may be absent).

        Without `attributes` the answer is minimal (state and last_changed after the first
        state of each entity). With them, every state carries its attributes; a weather entity's
        temperature and cloud cover live there and change without changing the state, hence
        `significant_changes_only=False` for it.
        """
        params = {"filter_entity_id": ",".join(entity_ids), "end_time": _iso(end)}
        if not attributes:
            params |= {"minimal_response": "", "no_attributes": ""}
        if not significant_changes_only:
            params["significant_changes_only"] = "0"
        data = self._request(
            "GET", f"/api/history/period/{quote(_iso(start), safe='')}", params=params
        )
        if not isinstance(data, list) or not all(isinstance(item, list) for item in data):
            raise HARequestError("/api/history/period: expected a list of lists")
        return data

    def state(self, entity_id: str) -> dict[str, Any]:
        """GET /api/states/<entity_id>: its state and attributes now."""
        data = self._request("GET", f"/api/states/{quote(entity_id, safe='')}")
        if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
            raise HARequestError(f"/api/states/{entity_id}: expected a state with attributes")
        return data

    def weather_forecast(self, entity_id: str, kind: str = "hourly") -> list[dict[str, Any]]:
        """`weather.get_forecasts` for one entity: its list of forecast items."""
        data = self._service(
            "weather", "get_forecasts", {"entity_id": entity_id, "type": kind}, response=True
        )
        item = data.get(entity_id) if isinstance(data, Mapping) else None
        forecast = item.get("forecast") if isinstance(item, Mapping) else None
        if not isinstance(forecast, list):
            raise HARequestError(f"weather.get_forecasts: no {kind} forecast for {entity_id}")
        return forecast


def connection_failure(err: BaseException) -> str:
    """The innermost cause of a failed request, short: "Connection refused", not urllib3's chain."""
    seen: set[int] = set()
    current: BaseException | None = err
    innermost = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        innermost = current
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError
        wrapped = current.args[0] if current.args else None  # requests wraps urllib3's error
        if isinstance(reason, BaseException):
            current = reason
        elif isinstance(wrapped, BaseException):
            current = wrapped
        else:
            current = current.__cause__ or current.__context__
    if isinstance(innermost, OSError) and innermost.strerror:
        return innermost.strerror
    text = str(innermost).strip()
    if ": " in text and text.startswith("<"):  # "<urllib3… object at 0x…>: Failed to …"
        text = text.split(": ", 1)[1]
    return text[:200] or type(innermost).__name__


def _message(response: requests.Response) -> str:
    """HA's error message from a JSON body ({"message": …}) or the start of the text."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(data, Mapping) and "message" in data:
        return str(data["message"])
    return str(data)[:200]
