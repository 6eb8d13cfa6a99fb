"""The add-on's loop: every quarter hour (and at once when the problem changes) plan and push.

One round: `ems.get_problem` → history (`/api/history/period`) and weather
(`weather.get_forecasts`) → load and PV forecasts → MILP → stored run → `ems.set_plan`.

Resilience: Home Assistant down or restarting → the round is retried with a growing delay and
the loop goes on; a refused token → one clear log line; an input that cannot be read → a
fallback (the history already read, a flat load, no weather) and a WARN_SOURCE warning in the
plan; a round that fails pushes nothing, so the last plan stays in force until it expires.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import enum
import logging
import math
import socket
import threading
import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from ems_core.contract import (
    MAX_MESSAGE_LENGTH,
    ContractError,
    validate_plan,
    validate_scenario,
)

from .community.member import CommunityLink
from .community.protocol import COMMUNITY_HORIZON_STEPS, COMMUNITY_STEP_MINUTES
from .forecast import ForecastConfig, forecast
from .forecast.backtest import yesterday_errors
from .forecast.core import Site
from .forecast.physical import physical_pv_w
from .forecast.pv import external_pv_w
from .forecast.typical import typical_load_w
from .ha_client import (
    HAClient,
    HAError,
    HARequestError,
    HAUnauthorized,
    HAUnavailable,
    HAUnreachable,
)
from .ha_data import (
    HistoryCache,
    history_frame,
    power_series,
    weather_forecast_frame,
    weather_history_frame,
    weather_value,
)
from .model.site import SolverSettings
from .planner import PlanOptions, plan
from .problem import adapt_scenario, problem_changed
from .runs import RunStore
from .settings import Settings

LOGGER = logging.getLogger("ems_optimizer.serve")
# A community plans every home on one step grid: a quarter hour, a day ahead.
COMMUNITY_HORIZON_HOURS = COMMUNITY_HORIZON_STEPS * COMMUNITY_STEP_MINUTES // 60

RUN_OFFSET_S = 5.0  # run a few seconds after the quarter hour: HA's problem starts on it
RETRY_INITIAL_S = 5.0
RETRY_MAX_S = 300.0
ONCE_ATTEMPTS = 4
# HA records a power sensor only when it changes: a reading holds until the next one, for up
# to a day (a PV sensor stays at 0 W all night).
HISTORY_MAX_HOLD = pd.Timedelta(hours=24)
# Less PV history than this (known hours) is too short to forecast from: a fresh install.
PV_MIN_HISTORY_HOURS = 24.0
LOAD_MIN_HISTORY_HOURS = 24.0  # under a day of load history: the typical household profile
HOURS_PER_YEAR = 8760.0

EXIT_OK, EXIT_FAILED, EXIT_BAD_SETTINGS, EXIT_UNAUTHORIZED = 0, 1, 2, 3


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def next_aligned(now: datetime, minutes: int, offset_s: float = RUN_OFFSET_S) -> datetime:
    """The first time after `now` that is a multiple of `minutes` (+ `offset_s`).

    Multiples are counted from the Unix epoch, so a 15-minute loop runs on the quarter hours of
    every time zone whose offset is a whole number of quarter hours (all of them in use).
    """
    period = minutes * 60
    k = math.floor((now.timestamp() - offset_s) / period) + 1
    return datetime.fromtimestamp(k * period + offset_s, UTC)


def backoff_delay(failures: int, initial: float = RETRY_INITIAL_S, cap: float = RETRY_MAX_S):
    """The wait before retry number `failures` (1, 2, …): doubling from `initial` up to `cap`."""
    return min(cap, initial * 2 ** max(0, failures - 1))


class Outcome(enum.Enum):
    """How a round ended, for the loop."""

    PUSHED = "pushed"
    FAILED = "failed"  # nothing to retry soon: bad problem, solver error, plan rejected
    RETRY = "retry"  # Home Assistant unreachable or not ready: retry with backoff
    UNAUTHORIZED = "unauthorized"


class RoundError(Exception):
    """A round that cannot produce or deliver a plan (not a connection problem)."""


def _source_warning(message: str) -> dict[str, Any]:
    return {"code": "WARN_SOURCE", "appliance": None, "message": message}


@dataclass
class Inputs:
    """What a round's forecasts were built from, for the plan's warnings and run.json."""

    warnings: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    accuracy: dict[str, Any] | None = None  # the plan's `forecast` field


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _known_hours(series: Any, step_minutes: int) -> float:
    """Hours of measured history behind one series' forecast."""
    quality = series.quality
    return (quality.steps - quality.steps_missing) * step_minutes / 60


def _positive(value: Any) -> float | None:
    """A finite positive number, else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _peak(sources: Mapping[str, Any]) -> float | None:
    """The site's PV peak power (W) from get_problem's sources, None when unknown."""
    return _positive(sources.get("pv_peak_w"))


def _short(err: BaseException) -> str:
    return str(err) or type(err).__name__


class Service:
    """The serve loop around one Home Assistant client."""

    def __init__(
        self,
        settings: Settings,
        client: HAClient,
        store: RunStore,
        *,
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Any] | None = None,
        community: CommunityLink | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.store = store
        self.now = now
        self._stop = threading.Event()
        self.sleep = sleep or self._stop.wait
        self.history = HistoryCache(days=settings.history_days)
        self._scored_day: Any = None  # the day yesterday's forecast errors are for
        self._scores: dict[str, dict[str, Any]] = {}
        self.weather_history = HistoryCache(days=settings.history_days, parse=weather_value)
        self.ha_config: dict[str, Any] | None = None
        self.last_problem: dict[str, Any] | None = None
        self.last_plan: dict[str, Any] | None = store.last_pushed_plan()
        self.last_round_at: datetime | None = None
        self.rounds: list[tuple[str, Outcome]] = []  # (reason, outcome) of every round
        # Who pushes the plans: ems reports it when two optimizers plan one site.
        self.source = (
            "ems-optimizer add-on"
            if client.connection.supervisor
            else f"ems-optimizer on {socket.gethostname()} ({store.root})"
        )
        self._auth_logged = False
        self._failures = 0
        self._failure_kind: str | None = None  # warned once per kind in a row
        self.community: CommunityLink | None = community

    # --- control ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end after the current step."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether stop() was called."""
        return self._stop.is_set()

    # --- one round ----------------------------------------------------------------------------

    def run_round(self, reason: str, problem: dict[str, Any] | None = None) -> Outcome:
        """One planning round; its outcome (HA errors are caught and logged here)."""
        began = time.perf_counter()
        try:
            outcome = self._round(reason, problem, began)
        except HAUnauthorized as err:
            self._log_unauthorized(err)
            outcome = Outcome.UNAUTHORIZED
        except (HAUnavailable, HARequestError) as err:
            self._log_unavailable(err)
            outcome = Outcome.RETRY
        except RoundError as err:
            LOGGER.error("no plan this round (%s): %s", reason, err)
            outcome = Outcome.FAILED
        except Exception:
            LOGGER.exception("no plan this round (%s): unexpected error", reason)
            outcome = Outcome.FAILED
        if outcome in (Outcome.PUSHED, Outcome.FAILED):
            if self._failures:
                LOGGER.info("Home Assistant answers again")
            self._failures = 0
            self._failure_kind = None
            self._auth_logged = False
        self.last_round_at = self.now()
        self.rounds.append((reason, outcome))
        return outcome

    def _log_unavailable(self, err: HAError) -> None:
        """Say why HA cannot be used this round: unreachable, not ready, or an error answer.

        A new kind of failure is a warning, the same one again only an info line.
        """
        self._failures += 1
        connection = self.client.connection
        if isinstance(err, HAUnreachable):
            kind = "unreachable"
            where = f"{connection.base_url}/api"
            if connection.supervisor:
                where += " (the Supervisor's proxy)"
            message = f"cannot reach Home Assistant at {where}: {err.reason}"
            if not connection.supervisor:
                message += " (check the URL, --ha-url or the ha_url option, and the network)"
        elif isinstance(err, HAUnavailable) and err.status != 500:  # 502-504, slow: no Core yet
            kind = "not ready"
            message = f"Home Assistant not ready, starting or restarting ({_short(err)})"
        elif isinstance(err, HAUnavailable):
            kind = "server error"
            message = f"Home Assistant failed to answer ({_short(err)}): see its log"
        else:
            kind = "error answer"
            message = (
                f"Home Assistant answered with an error ({_short(err)}): "
                "is the ems integration set up and loaded?"
            )
        level = logging.WARNING if kind != self._failure_kind else logging.INFO
        self._failure_kind = kind
        LOGGER.log(level, "%s", message)

    def _log_unauthorized(self, err: HAUnauthorized) -> None:
        self._failure_kind = None
        if self._auth_logged:
            LOGGER.debug("still refused: %s", err)
            return
        self._auth_logged = True
        if self.client.connection.supervisor:
            hint = "the add-on needs `homeassistant_api: true`; restart the add-on"
        else:
            hint = (
                "create a long-lived access token in your HA profile (Security tab) and give it "
                "in $EMS_HA_TOKEN, a --token-file or the token option"
            )
        LOGGER.error(
            "Home Assistant refused the access token (HTTP 401) at %s: %s",
            self.client.connection.describe(),
            hint,
        )

    def _round(self, reason: str, problem: dict[str, Any] | None, began: float) -> Outcome:
        now = self.now()
        if problem is None:
            problem = self.client.get_problem(self.settings.config_entry_id or None)
        self.last_problem = problem  # a failing problem is not retried until it changes
        if self.ha_config is None:
            try:
                self.ha_config = self.client.config()
            except HAUnauthorized:
                raise
            except HAError as err:
                LOGGER.debug("GET /api/config failed: %s", err)
        try:
            scenario, notes = adapt_scenario(
                problem["scenario"],
                objective=self.settings.objective_override,
                step_minutes=self.settings.step_override
                or (COMMUNITY_STEP_MINUTES if self.community else None),
                horizon_hours=self.settings.horizon_override
                or (COMMUNITY_HORIZON_HOURS if self.community else None),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise RoundError(f"Home Assistant's problem cannot be used: {_short(err)}") from None
        inputs = self._forecasts(problem, scenario, now)
        scenario["load_w"], scenario["pv_w"] = inputs.info.pop("load_w"), inputs.info.pop("pv_w")
        try:
            checked = validate_scenario(scenario)
        except ContractError as err:
            raise RoundError(f"the scenario is not valid: {err}") from None
        previous = self.last_plan
        result = self._plan(checked, previous)
        result = self._with_warnings(result, [*notes, *inputs.warnings])
        if inputs.accuracy:
            result["forecast"] = inputs.accuracy
        validate_plan(result, checked)
        elapsed = time.perf_counter() - began
        site = problem.get("site") if isinstance(problem.get("site"), Mapping) else {}
        entry_id = self.settings.config_entry_id or site.get("entry_id") or None
        meta = {
            "reason": reason,
            "time": now.isoformat(timespec="seconds"),
            "site": site,
            "sources": problem.get("sources"),
            "inputs": inputs.info,
            "round_s": round(elapsed, 3),
            "pushed": False,
        }
        path = self.store.save(now, scenario, result, previous, meta)
        try:
            self.client.set_plan(result, scenario, entry_id, source=self.source)
        except HARequestError as err:
            self.store.update_meta(path, push_error=str(err))
            if err.status == 400:
                raise RoundError(f"Home Assistant rejected the plan: {err}") from None
            raise
        except HAError as err:
            self.store.update_meta(path, push_error=str(err))
            raise
        self.store.update_meta(path, pushed=True)
        self.last_plan = result
        self._log_report(reason, result, path, elapsed)
        return Outcome.PUSHED

    def _plan(self, scenario: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        """The community's plan for the home, else the home's own (saying why alone).

        The home plans alone first: the fallback is ready, and the community's plan is taken
        only if it gives up nothing the home's own plan keeps.
        """
        result = plan(
            scenario,
            previous,
            PlanOptions(
                solver=SolverSettings(time_limit_s=self.settings.solver_time_limit_s),
                replace_threshold_eur=self.settings.replan_threshold_cents / 100,
            ),
        )
        exchange = self.community.exchange(scenario, result) if self.community else None
        if exchange is not None and exchange.plan is not None:
            return exchange.plan
        if exchange is not None:
            LOGGER.warning("planning alone: %s", exchange.reason)
            result["community"] = {
                "name": self.settings.community_name,
                "state": "alone",
                "members": None,
                "round": None,
                "reason": (exchange.reason or "")[:MAX_MESSAGE_LENGTH],
            }
        return result

    @staticmethod
    def _with_warnings(result: dict[str, Any], extra: list[dict[str, Any]]) -> dict[str, Any]:
        if not extra:
            return result
        result = dict(result)
        result["warnings"] = [*result["warnings"], *extra]
        codes = {w["code"] for w in extra}
        if codes & {"WARN_CONSTRAINT", "WARN_IGNORED"} and result["status"] in (
            "optimal",
            "feasible",
        ):
            result["status"] = "relaxed"
        return result

    def _log_report(self, reason: str, result: dict[str, Any], path: Any, elapsed: float) -> None:
        report = result["report"]
        low, high = report["deficit_min_hour"], report["deficit_max_hour"]
        LOGGER.info(
            "plan pushed (%s): status %s, %d consumer(s), solve %.0f ms (+ build %.0f ms), "
            "round %.1f s, deficit min hour %s %.0f W, max hour %s %.0f W, %d warning(s); run %s",
            reason,
            result["status"],
            report["consumer_count"],
            result["solve_time_ms"],
            result["build_time_ms"],
            elapsed,
            low["start"],
            low["w"] or 0.0,
            high["start"],
            high["w"] or 0.0,
            len(result["warnings"]),
            path,
        )
        for warning in result["warnings"]:
            LOGGER.warning(
                "plan warning %s%s: %s",
                warning["code"],
                f" ({warning['appliance']})" if warning["appliance"] else "",
                warning["message"],
            )

    # --- forecasts ----------------------------------------------------------------------------

    def _forecasts(
        self, problem: Mapping[str, Any], scenario: Mapping[str, Any], now: datetime
    ) -> Inputs:
        """Load and PV forecasts on the scenario's grid, with fallbacks and their warnings."""
        sources = problem.get("sources") if isinstance(problem.get("sources"), Mapping) else {}
        load_entity = sources.get("load_power_entity") or None
        pv_entity = sources.get("pv_power_entity") or None
        weather_entity = sources.get("weather_entity") or None
        zone = _zone(sources.get("timezone")) or _zone((self.ha_config or {}).get("time_zone"))
        fahrenheit = (self.ha_config or {}).get("unit_system", {}).get("temperature") == "°F"
        inputs = Inputs()
        steps = scenario["horizon_steps"]

        self._history(inputs, [e for e in (load_entity, pv_entity) if e], now)
        weather = self._weather(inputs, weather_entity, now, fahrenheit)
        columns = {}
        if load_entity:
            columns["load_w"] = power_series(self.history.get(load_entity))
        if pv_entity:
            columns["pv_w"] = power_series(self.history.get(pv_entity))
        frame = history_frame(columns)
        site = self._site(sources)
        external = self._external_pv(inputs, sources)
        result = self._forecast(
            inputs,
            frame=frame,
            scenario=scenario,
            weather=weather,
            zone=zone,
            site=site,
            external=external,
        )
        load_w: list[float] | None = None
        pv_w: list[float] | None = None
        if result is not None:
            inputs.info["forecast"] = result.as_json()["method"]
            inputs.accuracy = self._accuracy(frame, result, weather, zone, site)
            if load_entity and result.load.method != "none":
                load_w = self._load_from_history(
                    inputs, result, sources=sources, scenario=scenario, site=site
                )
            if result.pv.external_steps:  # a PV forecast entity: it takes precedence
                pv_w = [round(float(v), 1) for v in result.pv.power_w]
            elif pv_entity and result.pv.method != "none":
                pv_w = self._pv_from_history(inputs, result, sources, scenario, pv_entity)
        if pv_entity and pv_w is None:
            pv_w = self._pv_without_history(
                inputs, sources, scenario, pv_entity, failed=result is None
            )
        if load_w is None:
            why = f"no usable history of {load_entity}" if load_entity else "no load sensor"
            load_w = self._typical_load(
                inputs, sources=sources, scenario=scenario, zone=zone, site=site, why=why
            )
        inputs.info["load_w"] = load_w
        inputs.info["pv_w"] = pv_w or [0.0] * steps
        return inputs

    def _forecast(
        self,
        inputs: Inputs,
        *,
        frame: Any,
        scenario: Mapping[str, Any],
        weather: Any,
        zone: Any,
        site: Site,
        external: pd.Series | None = None,
    ) -> Any:
        """The forecast of load and PV, or None (with a warning) when it fails."""
        try:
            return forecast(
                frame,
                scenario["start"],
                scenario["horizon_steps"],
                scenario["step_minutes"],
                weather=weather,
                tz=zone,
                config=ForecastConfig(max_hold=HISTORY_MAX_HOLD),
                site=site,
                pv_forecast_w=external,
            )
        except Exception as err:  # any failure: plan on the fallback instead
            inputs.warnings.append(_source_warning(f"forecast failed ({_short(err)})"))
            LOGGER.warning("forecast failed: %s", _short(err), exc_info=True)
            return None

    def _load_from_history(
        self,
        inputs: Inputs,
        result: Any,
        *,
        sources: Mapping[str, Any],
        scenario: Mapping[str, Any],
        site: Site,
    ) -> list[float]:
        """The load forecast from history; the typical profile while the history is short."""
        known_h = _known_hours(result.load, scenario["step_minutes"])
        if known_h >= LOAD_MIN_HISTORY_HOURS:
            return [round(float(v), 1) for v in result.load.power_w]
        why = f"history of {sources.get('load_power_entity')} too short ({known_h:.1f} h)"
        zone = _zone(result.timezone) or result.index[0].tzinfo
        return self._typical_load(
            inputs, sources=sources, scenario=scenario, zone=zone, site=site, why=why
        )

    def _typical_load(
        self,
        inputs: Inputs,
        *,
        sources: Mapping[str, Any],
        scenario: Mapping[str, Any],
        zone: Any,
        site: Site,
        why: str,
    ) -> list[float]:
        """A typical household's load for the site's annual consumption (said in a warning).

        Without the site's figure, the add-on's `fallback_load_w` as a yearly mean.
        """
        annual = _positive(sources.get("annual_consumption_kwh"))
        told = annual is not None
        if annual is None:
            annual = self.settings.fallback_load_w * HOURS_PER_YEAR / 1000.0
        steps, step = scenario["horizon_steps"], scenario["step_minutes"]
        if annual <= 0:
            inputs.warnings.append(_source_warning(f"{why}: load forecast 0 W"))
            return [0.0] * steps
        grid = pd.date_range(pd.Timestamp(scenario["start"]), periods=steps, freq=f"{step}min")
        load = typical_load_w(
            grid, step, annual_kwh=annual, tz=zone or grid[0].tzinfo, country=site.country
        )
        inputs.info["load_fallback"] = "typical"
        inputs.accuracy = {**(inputs.accuracy or {}), "load": {"method": "typical"}}
        source = "the site's annual consumption" if told else "the add-on's fallback load"
        inputs.warnings.append(
            _source_warning(
                f"{why}: load forecast from a typical household profile, {annual:.0f} kWh a "
                f"year ({source})"
            )
        )
        return [round(float(v), 1) for v in load]

    def _pv_from_history(
        self,
        inputs: Inputs,
        result: Any,
        sources: Mapping[str, Any],
        scenario: Mapping[str, Any],
        pv_entity: str,
    ) -> list[float]:
        """The PV forecast from history; a clear-sky estimate while the history is short."""
        pv_w = [round(float(v), 1) for v in result.pv.power_w]
        known_h = _known_hours(result.pv, scenario["step_minutes"])
        if known_h >= PV_MIN_HISTORY_HOURS:
            return pv_w
        clear = self._clear_sky_pv(sources, scenario)
        if clear is None:
            return pv_w
        inputs.info["pv_fallback"] = "clear_sky"
        inputs.accuracy = {**(inputs.accuracy or {}), "pv": {"method": "clear_sky"}}
        inputs.warnings.append(
            _source_warning(
                f"history of {pv_entity} too short ({known_h:.1f} h): "
                f"PV forecast from a clear-sky estimate ({_peak(sources):.0f} W peak)"
            )
        )
        return clear

    def _pv_without_history(
        self,
        inputs: Inputs,
        sources: Mapping[str, Any],
        scenario: Mapping[str, Any],
        pv_entity: str,
        *,
        failed: bool,
    ) -> list[float] | None:
        """No PV forecast from history: a clear-sky estimate, else 0 W (said in a warning)."""
        pv_w = self._clear_sky_pv(sources, scenario)
        if pv_w is not None:
            inputs.info["pv_fallback"] = "clear_sky"
            inputs.accuracy = {**(inputs.accuracy or {}), "pv": {"method": "clear_sky"}}
            inputs.warnings.append(
                _source_warning(
                    f"no usable history of {pv_entity}: PV forecast from a clear-sky "
                    f"estimate ({_peak(sources):.0f} W peak)"
                )
            )
        elif not failed:  # a failed forecast has its own warning
            inputs.warnings.append(
                _source_warning(f"no usable history of {pv_entity}: PV forecast 0 W")
            )
        return pv_w

    def _external_pv(self, inputs: Inputs, sources: Mapping[str, Any]) -> pd.Series | None:
        """The PV forecast entities' series (Solcast…), joined; None without any.

        An entity that cannot be read or has no dated series is left out with a warning.
        """
        entities = sources.get("pv_forecast_entities") or []
        if not isinstance(entities, list):
            return None
        parts = []
        for entity in entities:
            try:
                series = external_pv_w(self.client.state(str(entity))["attributes"])
                if series is None:
                    raise ValueError("no dated forecast in its attributes (detailedForecast)")
                parts.append(series)
            except HAUnauthorized:
                raise
            except (HAError, ValueError, TypeError, KeyError) as err:
                inputs.warnings.append(
                    _source_warning(f"PV forecast of {entity} could not be used ({_short(err)})")
                )
        if not parts:
            return None
        joined = pd.concat(parts).sort_index()
        joined = joined[~joined.index.duplicated(keep="last")]
        inputs.info["pv_forecast_entities"] = {"entities": entities, "points": len(joined)}
        return joined

    def _site(self, sources: Mapping[str, Any]) -> Site:
        """What the forecast may know of the site: its panels and its country's holidays."""
        return Site.of(sources, self.ha_config)

    def _accuracy(
        self, frame: Any, result: Any, weather: Any, zone: Any, site: Site
    ) -> dict[str, Any] | None:
        """The plan's `forecast` field: per series, the method now and yesterday's error.

        Yesterday's day-ahead error (on the plan's step, with the weather as it is known now)
        is computed once a day; a failure is retried at the next round.
        """
        zone = zone or result.index[0].tzinfo
        yesterday = result.index[0].tz_convert(zone).date() - timedelta(days=1)
        if self._scored_day != yesterday:
            try:
                self._scores = yesterday_errors(
                    frame,
                    yesterday,
                    tz=zone,
                    step_minutes=result.step_minutes,
                    weather=weather,
                    site=site,
                    config=ForecastConfig(max_hold=HISTORY_MAX_HOLD),
                )
                self._scored_day = yesterday
            except Exception as err:  # an accuracy figure must never cost the plan
                self._scores = {}
                LOGGER.warning("yesterday's forecast error not computed: %s", _short(err))
        out = {}
        for kind, series in (("load", result.load), ("pv", result.pv)):
            if series.external_steps:  # the figures are the own model's, which it replaced
                out[kind] = {"method": "external"}
            elif series.method != "none":
                out[kind] = {"method": series.method, **self._scores.get(kind, {})}
        return out or None

    def _clear_sky_pv(
        self, sources: Mapping[str, Any], scenario: Mapping[str, Any]
    ) -> list[float] | None:
        """A clear-sky PV forecast from the site's peak power and place, None without them."""
        pv = self._site(sources).pv
        if pv is None:
            return None
        start = datetime.fromisoformat(str(scenario["start"]))
        return physical_pv_w(
            start,
            scenario["horizon_steps"],
            scenario["step_minutes"],
            pv.array,
            latitude=pv.latitude,
            longitude=pv.longitude,
        )

    def _history(self, inputs: Inputs, entities: list[str], now: datetime) -> None:
        if not entities:
            return

        def fetch(begin: datetime, end: datetime) -> list[list[dict[str, Any]]]:
            return self.client.history(entities, begin, end)

        try:
            self.history.update(entities, now, fetch)
        except HAUnauthorized:
            raise
        except (HAError, ValueError, TypeError, KeyError) as err:
            read = self.history.until
            since = f"the history read until {read:%Y-%m-%d %H:%M} UTC" if read else "no history"
            inputs.warnings.append(
                _source_warning(f"history could not be read ({_short(err)}): using {since}")
            )
            LOGGER.warning("history could not be read: %s", _short(err))
        inputs.info["history"] = {
            "entities": entities,
            "readings": {e: len(self.history.get(e)) for e in entities},
            "until": self.history.until.isoformat() if self.history.until else None,
        }

    def _weather(
        self, inputs: Inputs, entity: str | None, now: datetime, fahrenheit: bool
    ) -> list[pd.DataFrame]:
        if not entity:
            return []
        frames: list[pd.DataFrame] = []
        try:
            items = self.client.weather_forecast(entity, "hourly")
            future = weather_forecast_frame(items, fahrenheit=fahrenheit)
            if future.empty:
                raise ValueError("the forecast has no temperature or cloud cover")
            frames.append(future)
        except HAUnauthorized:
            raise
        except (HAError, ValueError, TypeError, KeyError, AttributeError) as err:
            inputs.warnings.append(
                _source_warning(
                    f"weather forecast of {entity} could not be read ({_short(err)}): "
                    "planned without weather"
                )
            )
            LOGGER.warning("weather forecast of %s could not be read: %s", entity, _short(err))
            return []

        def fetch(begin: datetime, end: datetime) -> list[list[dict[str, Any]]]:
            return self.client.history(
                [entity], begin, end, attributes=True, significant_changes_only=False
            )

        try:  # past weather lets the forecast learn how this site reacts to it
            self.weather_history.update([entity], now, fetch)
        except HAUnauthorized:
            raise
        except (HAError, ValueError, TypeError, KeyError) as err:
            LOGGER.info("past weather of %s not read (%s)", entity, _short(err))
        past = weather_history_frame(self.weather_history.get(entity), fahrenheit=fahrenheit)
        if not past.empty:
            frames.insert(0, past)
        inputs.info["weather"] = {"entity": entity, "forecast_rows": len(future), "past": len(past)}
        return frames

    # --- polling and the loop ---------------------------------------------------------------

    def poll(self) -> dict[str, Any] | None:
        """The current problem if it differs from the last round's, else None."""
        try:
            problem = self.client.get_problem(self.settings.config_entry_id or None)
        except HAUnauthorized as err:
            self._log_unauthorized(err)
            return None
        except HAError as err:
            LOGGER.debug("poll: %s", err)
            return None
        return problem if problem_changed(self.last_problem, problem) else None

    def once(self, attempts: int = ONCE_ATTEMPTS) -> int:
        """One round, retried while Home Assistant is not ready; the exit code."""
        for attempt in range(1, attempts + 1):
            outcome = self.run_round("once")
            if outcome is Outcome.PUSHED:
                return EXIT_OK
            if outcome is Outcome.UNAUTHORIZED:
                return EXIT_UNAUTHORIZED
            if outcome is Outcome.FAILED or attempt == attempts:
                break
            delay = backoff_delay(attempt)
            LOGGER.info("retrying in %.0f s (attempt %d of %d)", delay, attempt + 1, attempts)
            self.sleep(delay)
            if self.stopping:
                break
        return EXIT_FAILED

    def loop(self) -> int:
        """Plan now, then on every aligned loop period and whenever the problem changes."""
        minutes = self.settings.loop_minutes
        LOGGER.info(
            "serving %s: a plan every %d min, problem checked every %d s, runs in %s",
            self.client.connection.describe(),
            minutes,
            self.settings.poll_seconds,
            self.store.root,
        )
        due, reason, problem = self.now(), "start", None
        failures = 0
        while not self.stopping:
            now = self.now()
            if now >= due:
                outcome = self.run_round(reason, problem)
                problem = None
                if outcome in (Outcome.RETRY, Outcome.UNAUTHORIZED):
                    failures += 1
                    delay = backoff_delay(failures)
                    if outcome is Outcome.UNAUTHORIZED:
                        delay = RETRY_MAX_S
                    retry_at = self.now() + timedelta(seconds=delay)
                    due = min(retry_at, next_aligned(self.now(), minutes))
                    LOGGER.info("next attempt at %s", due.isoformat(timespec="seconds"))
                    reason = "retry"
                else:
                    failures = 0
                    due = next_aligned(self.now(), minutes)
                    reason = "schedule"
                continue
            wait = (due - now).total_seconds()
            if failures or self.last_problem is None or wait <= self.settings.poll_seconds:
                self.sleep(wait)
                continue
            self.sleep(self.settings.poll_seconds)
            if self.stopping or self.now() >= due:
                continue
            changed = self.poll()
            if changed is not None:
                LOGGER.info("the problem changed: planning now")
                due, reason, problem = self.now(), "problem changed", changed
        LOGGER.info("stopped")
        return EXIT_OK
