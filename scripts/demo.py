"""Run the ems demo: the site simulator, a real Home Assistant with ems, and the optimizer add-on.

``make demo`` runs this module (``python -m scripts.demo``, from the repository's root) with the
project's virtualenv. It

0. takes the work dir (``.demo``) for itself: a lock file there (``demo.lock``: pid and URL)
   makes a second demo on the same dir refuse to start while the first runs, instead of wiping
   its files; a lock left by a demo that is gone is removed;
1. starts the Modbus site simulator (``python -m simulator``) on a free loopback port. Its clock
   starts at the wall clock's UTC time of day on a day of the data of the same season as today
   (``simulator.data.season_start``: December plays a December day), so the PV curve and the
   plan agree with Home Assistant's clock; ``--speed N`` runs it N times faster;
2. writes a fresh Home Assistant config dir (``.demo/config``, wiped on every run) with an
   explicit component list, the appliances' relays as ``input_boolean`` helpers (the simulator
   has none), the repository's dashboard (``dashboard_file``) as a YAML-mode dashboard and the
   example voice sentences of ``docs/custom_sentences`` in ``custom_sentences/``; links
   ``custom_components/ems`` into it and starts ``hass``;
3. onboards Home Assistant over REST (user ``demo`` / ``demo-ems-2025``) and creates a
   long-lived token (websocket ``auth/long_lived_access_token``, saved in ``.demo/token``);
4. configures ems over REST config flows: the site, one subentry per simulated device, three
   appliances (washing machine = ``cycle``, water heater, EV), then the site options (scan
   interval, writes enabled for the battery and the relay board, tariffs); arms the washing
   machine, sets the site mode to ``auto`` and saves the Energy dashboard's preferences
   (websocket ``energy/save_prefs``);
5. starts the optimizer add-on as a plain process, ``ems-optimizer serve --ha-url URL`` with
   the token in ``$EMS_HA_TOKEN`` (kept off the process list), its runs in ``.demo/runs``;
6. prints the URL and the login, echoes errors (and each plan the add-on pushes), and runs
   until Ctrl-C or SIGTERM, then stops everything it started. When Home Assistant restarts
   itself (Settings → System → Restart: ``hass`` exits with code 100) the demo starts it again
   and keeps going (the simulator and the add-on stay up; the add-on reconnects by itself); any
   other exit of a process stops the demo with a message naming its log.

``--check`` does steps 1-5, also logs in as a person would and loads the frontend's page,
waits until numeric ems sensor states and the add-on's first plan arrive, checks that every
entity the dashboard shows exists, that the energy preferences are saved and that Assist
understands the example sentences, prints the two lines and exits (used by tests and CI). Every
process it starts is stopped on any exit.

The end-to-end tests and ``scripts.screenshots`` import this module (``from scripts import
demo``): ``start`` sets everything up and returns a ``Demo``, ``check`` verifies it,
``stop_all`` stops the processes, ``release_lock`` frees the work dir.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Iterator
import contextlib
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
import os
from pathlib import Path
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.prefix) / "bin"  # the virtualenv running this script (.venv under make)
HOST = "127.0.0.1"
USERNAME = "demo"
PASSWORD = "demo-ems-2025"  # a demo login, printed on purpose
PREFERRED_HA_PORT = 8123
PREFERRED_SCADA_PORT = 5502  # the site's SunSpec Modbus server (another port when taken)
SCADA_UNIT = 1
SCADA_PORT_FILE = "scada_port"  # in the work dir: where the running demo serves the site
STOP_TIMEOUT_S = 30.0

DASHBOARDS = ROOT / "dashboards"
SENTENCES = ROOT / "docs" / "custom_sentences"  # <lang>/*.yaml, copied into the config
# Home Assistant's language in the demo (onboarding, the user's profile, the dashboard).
LANGUAGE = "en"
LOCK_FILE = "demo.lock"  # in the work dir, while a demo runs there
RESTART_EXIT_CODE = 100  # hass's exit code when asked to restart (homeassistant.const)


def dashboard_file(language: str = LANGUAGE) -> Path:
    """The dashboard the demo shows: ``dashboards/ems.<language>.yaml`` if any, else ``ems.yaml``.

    The one place where the dashboard file is chosen (e.g. ``ems.fr.yaml`` for a French demo).
    """
    localised = DASHBOARDS / f"ems.{language}.yaml"
    return localised if language != "en" and localised.is_file() else DASHBOARDS / "ems.yaml"


DASHBOARD_FILE = dashboard_file()
DASHBOARD_URL = "ems-dashboard"  # a YAML dashboard's url path needs a hyphen

# Components loaded instead of default_config (which pulls packages this venv lacks).
COMPONENTS = (
    "frontend",
    "config",
    "api",
    "http",
    "history",
    "logbook",
    "recorder",
    "energy",
    "automation",
    "script",
    "scene",
    "blueprint",
    "conversation",
    "intent",  # assist_pipeline is left out: its tts dependency needs the ffmpeg binary
    "logger",
    "person",
    "sun",
    "input_boolean",
    "input_number",
    "input_select",
    "input_datetime",
    "input_button",
    "input_text",
    "counter",
    "timer",
    "schedule",
    "zone",
    "tag",
    "system_health",
    "repairs",
    "diagnostics",
    "webhook",
)

# Integrations the onboarding's core_config step starts on its own; they need network
# access or packages the demo does not have, so the demo removes their entries.
ONBOARDING_EXTRAS = ("met", "google_translate", "radio_browser", "shopping_list")

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? (\w+) ")


class DemoError(Exception):
    """A step of the demo failed; the message names the step."""


class DemoBusy(DemoError):
    """Another demo runs in the work dir: this one does not start (and touches nothing)."""


@dataclass(frozen=True)
class Device:
    """A simulated device to add to the site as a config subentry."""

    subentry_type: str  # battery, pv, meter, relay_board
    step: str  # menu option: modbus_tcp or sunspec
    name: str
    unit_id: int
    profile: str | None = None  # built-in register profile (modbus_tcp only)
    control: bool = False  # enable writes in the site options


BATTERY_PROFILE = "generic_bess"
# What the form asks of a battery whose registers do not give it: the simulated battery's.
BATTERY_RATINGS = {"capacity_wh": 10000, "max_charge_w": 5000, "max_discharge_w": 5000}

# The simulator's SunSpec hybrid (unit 5) is not part of its grid meter's balance, so counted as
# a site PV it would inflate the site's PV and house load by its output: the demo leaves it out.
DEVICES = (
    Device("battery", "modbus_tcp", "Battery", 1, BATTERY_PROFILE, control=True),
    Device("pv", "modbus_tcp", "PV inverter", 2, "generic_pv_inverter"),
    Device("meter", "modbus_tcp", "Grid meter", 3, "generic_meter_3ph"),
    Device("relay_board", "modbus_tcp", "Relay board", 4, "relay_board_4ch", control=True),
)


@dataclass(frozen=True)
class Appliance:
    """A flexible appliance added as an ``appliance`` subentry, switched by a demo helper."""

    kind: str  # menu option of the appliance flow: cycle, water_heater, ev, ...
    name: str
    relay: str  # object id of its input_boolean (the demo's stand-in for a relay)
    relay_name: str
    icon: str
    fields: dict[str, Any]


CYCLE_HOURS = 2  # the washing machine's profile: 8 steps of 15 min
APPLIANCES = (
    Appliance(
        "cycle",
        "Washing machine",
        "washing_machine",
        "Washing machine plug",
        "mdi:washing-machine",
        {
            "profile_w": "2000, 2000, 300, 300, 300, 150, 700, 700",
            "profile_step_minutes": 15,
            "finish_by": "07:00:00",
        },
    ),
    Appliance(
        "water_heater",
        "Water heater",
        "water_heater",
        "Water heater relay",
        "mdi:water-boiler",
        {
            "power_w": 2400,
            "energy_wh": 4000,
            "windows": "22:00-06:00, 12:00-16:00",
            "finish_by": "07:00:00",
        },
    ),
    Appliance(
        "ev",
        "Electric car",
        "ev_charger",
        "EV charging point",
        "mdi:ev-station",
        {
            "max_power_w": 7400,
            "min_power_w": 1400,
            "energy_wh": 10000,
            "finish_by": "07:30:00",
            "allow_partial": True,
        },
    ),
)

SITE = {"name": "Demo site", "import_limit_w": 9000, "export_limit_w": 6000}
SCAN_INTERVAL_S = 5
# French regulated tariff with off-peak hours (€/kWh), surplus sold at a feed-in price.
TARIFFS = {
    "objective": "cost",
    "peak_price": 0.2516,
    "offpeak_price": 0.1828,
    "offpeak_hours": "22:00-06:00",
    "export_price": 0.04,
}
# The simulator's PV is a 6 kW inverter: a clear-sky PV forecast until the recorder has history.
PV_PEAK_W = 6000
MODE = "auto"
# The demo user's profile: 24-hour clock, the server's time zone, weeks from Monday.
USER_LOCALE = {
    "language": "en-GB" if LANGUAGE == "en" else LANGUAGE,
    "number_format": "language",
    "time_format": "24",
    "date_format": "language",
    "time_zone": "server",
    "first_weekday": "monday",
}

# Entity ids the demo, its dashboard and the tests rely on (from the names above).
E = {
    "mode": "select.demo_site_mode",
    "grid_charging": "switch.demo_site_charge_from_the_grid",
    "status": "sensor.demo_site_status",
    "battery_intent": "sensor.demo_site_battery_plan_now",
    "manual_setpoint": "number.demo_site_manual_battery_setpoint",
    "pv_power": "sensor.demo_site_pv_power",
    "battery_power": "sensor.demo_site_battery_power",
    "grid_power": "sensor.demo_site_grid_power",
    "house_load": "sensor.demo_site_house_load",
    "soc": "sensor.demo_site_battery_state_of_charge",
    "site_state": "sensor.demo_site_controller_state",
    "limit_reason": "sensor.demo_site_limit_reason",
    "setpoint": "sensor.demo_site_battery_setpoint",
    "plan_status": "sensor.demo_site_plan_status",
    "planning": "sensor.demo_site_planning",
    "load_forecast_method": "sensor.demo_site_load_forecast_method",
    "pv_forecast_method": "sensor.demo_site_pv_forecast_method",
    "plan_age": "sensor.demo_site_plan_age",
    "plan_stale": "binary_sensor.demo_site_plan_stale",
    "plan_battery": "sensor.demo_site_planned_battery_power",
    "calendar": "calendar.demo_site_plan",
    "battery_soc": "sensor.battery_state_of_charge",
    "battery_charge_limit": "number.battery_charge_power_limit",  # only with control enabled
    "washing_schedule": "switch.washing_machine_let_ems_schedule_it",
    "battery_device_power": "sensor.battery_power",
    "battery_connection": "binary_sensor.battery_connection",
    "pv_inverter_power": "sensor.pv_inverter_power",
    "grid_import": "sensor.grid_meter_energy_imported",
    "grid_export": "sensor.grid_meter_energy_exported",
    "pv_energy": "sensor.pv_inverter_energy_produced",
    "battery_in": "sensor.battery_energy_charged",
    "battery_out": "sensor.battery_energy_discharged",
}
PLAN_STATUSES = ("optimal", "feasible", "relaxed", "infeasible")
ENTITY_ID = re.compile(
    r"\b(?:sensor|binary_sensor|select|number|switch|calendar|datetime|input_boolean)"
    r"\.[a-z0-9_]+\b"
)


# --------------------------------------------------------------------------------------------
# Processes


def _load_prctl() -> Callable[..., int] | None:
    """The C library's prctl, bound here so that the forked child imports and loads nothing."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # noqa: PLC0415

    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the child if this runner dies without cleaning up."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Proc:
    """A child process in its own process group, with its output in a log file."""

    name: str
    args: list[str]
    log: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    popen: subprocess.Popen[bytes] | None = None

    def start(self, *, append: bool = False) -> None:
        """Start the process (new session, output to the log file, appended on a restart)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab" if append else "wb") as out:
            self.popen = subprocess.Popen(
                self.args,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_child_setup,  # noqa: PLW1509  (one pre-bound C call)
            )

    @property
    def pid(self) -> int | None:
        """The process id (once started)."""
        return None if self.popen is None else self.popen.pid

    def alive(self) -> bool:
        """Whether the process runs."""
        return self.popen is not None and self.popen.poll() is None

    def exit_code(self) -> int | None:
        """The exit code once the process has exited, else None."""
        return None if self.popen is None else self.popen.poll()

    def ensure_alive(self, step: str) -> None:
        """Raise DemoError with the log's tail if the process has exited."""
        if self.popen is not None and self.popen.poll() is not None:
            raise DemoError(
                f"{step}: {self.name} exited with code {self.popen.returncode}\n"
                f"--- last lines of {self.log} ---\n{tail(self.log)}"
            )

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Terminate the process group, wait, then kill it after the timeout."""
        if self.popen is None:
            return
        pgid = self.popen.pid  # leader of its own session
        if self.popen.poll() is None:
            _signal_group(pgid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"demo: {self.name} did not stop in {timeout:.0f} s, killing it")
        _signal_group(pgid, signal.SIGKILL)  # stragglers of the group, if any
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def tail(path: Path, lines: int = 40) -> str:
    """Return the last lines of a text file ('' if it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def free_port(preferred: int | None = None) -> int:
    """Return a free TCP port on the loopback interface, the preferred one if free."""
    if preferred:
        with socket.socket() as sock:
            # As aiohttp binds: connections in TIME_WAIT do not make the port busy.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, preferred))
            except OSError:
                pass
            else:
                return preferred
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(proc: Proc, port: int, timeout: float, step: str) -> None:
    """Wait until something accepts TCP connections on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.ensure_alive(step)
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.2)
    raise DemoError(f"{step}: nothing listens on {HOST}:{port} after {timeout:.0f} s")


class LogEcho(threading.Thread):
    """Echo the records of a log file that ``show(level, text)`` selects, with a prefix."""

    def __init__(self, path: Path, prefix: str, show: Callable[[str, str], bool]) -> None:
        super().__init__(daemon=True, name=f"{prefix}-log-echo")
        self.path = path
        self.prefix = prefix
        self.show = show
        self.stopped = threading.Event()

    def _flush(self, record: list[str]) -> None:
        if not record:
            return
        match = LOG_LINE.match(record[0])
        if match and self.show(match.group(1), "".join(record)):
            print("".join(f"{self.prefix} | {line}" for line in record), end="", flush=True)
        record.clear()

    def run(self) -> None:
        """Follow the log file (reopened when it is rotated) and print the selected records."""
        while not self.stopped.is_set():
            while not self.path.exists() and not self.stopped.wait(0.5):
                pass
            with contextlib.suppress(OSError), self.path.open(errors="replace") as log:
                self._follow(log)

    def _follow(self, log: Any) -> None:
        """Echo records until stopped or until the path names another file (a new log)."""
        record: list[str] = []
        while not self.stopped.is_set():
            line = log.readline()
            if not line:
                self._flush(record)  # the writer is idle: the record is complete
                if _rotated(self.path, log):
                    return  # Home Assistant restarted: it moved its log to .1 and began anew
                self.stopped.wait(0.5)
                continue
            if LOG_LINE.match(line):
                self._flush(record)
            if record or LOG_LINE.match(line):
                record.append(line if line.endswith("\n") else line + "\n")


def _rotated(path: Path, log: Any) -> bool:
    """Whether ``path`` no longer names the open file ``log`` (moved away or replaced)."""
    try:
        return os.stat(path).st_ino != os.fstat(log.fileno()).st_ino
    except FileNotFoundError:
        return True


# Records about the integrations that onboarding starts on its own (ONBOARDING_EXTRAS) are left
# out: they fail for want of network or packages, which says nothing about ems.
_HASS_NOISE = re.compile(
    "|".join(rf"\b{re.escape(domain)}\b" for domain in ONBOARDING_EXTRAS)
    + r"|\bmetno\b|\bradios\b|\bgtts\b"
    + r"|libturbojpeg"  # camera snapshots: the system library is not installed
)


def hass_errors(level: str, text: str) -> bool:
    """Home Assistant's ERROR/CRITICAL records, less the onboarding extras' noise."""
    return level in ("ERROR", "CRITICAL") and not _HASS_NOISE.search(text)


def addon_news(level: str, text: str) -> bool:
    """The add-on's errors and its one line per pushed plan."""
    return level in ("ERROR", "CRITICAL") or "plan pushed" in text


# --------------------------------------------------------------------------------------------
# The work dir's lock: one demo per work dir


def _started(pid: int) -> str | None:
    """A process's start time (clock ticks since boot, Linux), None if it does not run."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def _running(pid: int, started: str | None) -> bool:
    """Whether that process still runs (the same one: a reused pid has another start time)."""
    if Path("/proc/self/stat").is_file():
        now = _started(pid)
        return now is not None and (started is None or now == started)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_lock(work: Path, url: str | None, *, replace: bool) -> bool:
    """Write this process's lock (atomically); False when ``replace`` is off and one exists."""
    pid = os.getpid()
    body = {
        "pid": pid,
        "started": _started(pid),
        "url": url,
        "since": datetime.now(UTC).isoformat(),
    }
    tmp = work / f".{LOCK_FILE}.{pid}"
    tmp.write_text(json.dumps(body) + "\n")
    try:
        if replace:
            tmp.replace(work / LOCK_FILE)
        else:
            os.link(tmp, work / LOCK_FILE)  # fails if the lock exists: no race between demos
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def read_lock(work: Path) -> dict[str, Any] | None:
    """The lock's content (pid, started, url, since), None without a readable lock."""
    try:
        found = json.loads((work / LOCK_FILE).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and isinstance(found.get("pid"), int) else None


def acquire_lock(work: Path) -> None:
    """Take the work dir, or raise DemoError naming the demo that runs there.

    A lock left by a demo that no longer runs (or an unreadable one) is removed.
    """
    work.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        if _write_lock(work, None, replace=False):
            return
        holder = read_lock(work)
        if holder is not None and _running(holder["pid"], holder.get("started")):
            url = holder.get("url") or "(Home Assistant still starting)"
            raise DemoBusy(
                f"another demo is running in {work}: pid {holder['pid']}, Home Assistant at "
                f"{url}, since {holder.get('since')}. Its files are left alone: use it, stop it "
                f"first (Ctrl-C in its terminal, or kill {holder['pid']}), or give this one "
                "another --dir"
            )
        what = f"pid {holder['pid']}" if holder else "unreadable"
        print(f"demo: removing the lock of a demo that no longer runs ({what})", flush=True)
        (work / LOCK_FILE).unlink(missing_ok=True)
    raise DemoError(f"cannot take the lock {work / LOCK_FILE}: another demo keeps taking it")


def update_lock(work: Path, url: str) -> None:
    """Add Home Assistant's URL to this process's lock."""
    holder = read_lock(work)
    if holder is not None and holder["pid"] == os.getpid():
        _write_lock(work, url, replace=True)


def release_lock(work: Path) -> None:
    """Remove the work dir's lock if this process holds it."""
    holder = read_lock(work)
    if holder is not None and holder["pid"] == os.getpid():
        (work / LOCK_FILE).unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Home Assistant REST and websocket


class Api:
    """A small REST client for the demo's Home Assistant."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def set_token(self, token: str) -> None:
        """Authenticate the following requests with a bearer token."""
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(
        self, method: str, path: str, step: str, *, ok: tuple[int, ...] = (200, 201), **kw: Any
    ) -> Any:
        """Send a request; return its JSON body, or raise DemoError naming the step."""
        try:
            resp = self.session.request(method, self.base + path, timeout=60, **kw)
        except requests.RequestException as err:
            raise DemoError(f"{step}: {method} {path} failed: {err}") from err
        if resp.status_code not in ok:
            raise DemoError(
                f"{step}: {method} {path} answered HTTP {resp.status_code}: {resp.text[:2000]}"
            )
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            return resp.text

    def post(self, path: str, step: str, body: Any = None, **kw: Any) -> Any:
        """POST a JSON body."""
        return self.call("POST", path, step, json=body, **kw)

    def get(self, path: str, step: str, **kw: Any) -> Any:
        """GET a path."""
        return self.call("GET", path, step, **kw)

    def state(self, entity_id: str, step: str = "read a state") -> dict[str, Any] | None:
        """An entity's state object, None if it does not exist."""
        found = self.call("GET", f"/api/states/{entity_id}", step, ok=(200, 404))
        return found if isinstance(found, dict) and "state" in found else None

    def states(self, step: str = "read the states") -> dict[str, dict[str, Any]]:
        """Every state object, by entity id."""
        return {s["entity_id"]: s for s in self.get("/api/states", step)}

    def service(self, domain: str, service: str, data: dict[str, Any], step: str) -> Any:
        """Call an action (blocking until it is done)."""
        return self.post(f"/api/services/{domain}/{service}", step, data)


def ws_commands(base: str, token: str, commands: list[dict[str, Any]], step: str) -> list[Any]:
    """Run websocket API commands in order and return their results."""
    import aiohttp  # noqa: PLC0415  (Home Assistant's own dependency)

    async def run() -> list[Any]:
        results: list[Any] = []
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(base.replace("http", "ws", 1) + "/api/websocket") as ws,
        ):
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": token})
            if (msg := await ws.receive_json()).get("type") != "auth_ok":
                raise DemoError(f"{step}: websocket authentication failed: {msg}")
            for msg_id, command in enumerate(commands, start=1):
                await ws.send_json({"id": msg_id, **command})
                while (reply := await ws.receive_json()).get("id") != msg_id:
                    pass
                if not reply.get("success"):
                    raise DemoError(f"{step}: websocket {command['type']} failed: {reply}")
                results.append(reply.get("result"))
        return results

    try:
        return asyncio.run(asyncio.wait_for(run(), 60))
    except (aiohttp.ClientError, TimeoutError) as err:
        raise DemoError(f"{step}: websocket error: {err!r}") from err


def wait_until(
    probe: Callable[[], Any], timeout: float, step: str, procs: list[Proc], every: float = 1.0
) -> Any:
    """Call ``probe`` until it returns something truthy.

    DemoError (with its last answer) after the timeout, or when one of the processes exits.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        for proc in procs:
            proc.ensure_alive(step)
        if result := probe():
            return result
        last = result
        if time.monotonic() > deadline:
            raise DemoError(f"{step}: still waiting after {timeout:.0f} s (last: {last!r})")
        time.sleep(every)


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


def write_config(config_dir: Path, port: int, *, community: bool = False) -> None:
    """Write a fresh Home Assistant config dir with ems, the relays and the dashboard(s)."""
    if config_dir.exists():
        shutil.rmtree(config_dir)
    (config_dir / "custom_components").mkdir(parents=True)
    (config_dir / "custom_components" / "ems").symlink_to(ROOT / "custom_components" / "ems")
    (config_dir / "dashboards").symlink_to(DASHBOARD_FILE.parent)  # edits show on reload
    # The README's example voice sentences, for the built-in conversation agent (Assist).
    shutil.copytree(SENTENCES, config_dir / "custom_sentences")
    washing = next(a for a in APPLIANCES if a.kind == "cycle")
    lines = [
        "# Written by scripts/demo.py on every run: edits are lost.",
        "homeassistant:",
        "  name: ems demo",
        "  latitude: 47.52",  # La Roche-Bernard, Pays de Vilaine
        "  longitude: -2.30",
        "  elevation: 10",
        "  unit_system: metric",
        "  time_zone: Europe/Paris",
        "  currency: EUR",
        "  country: FR",
        "http:",
        f"  server_host: {HOST}",
        f"  server_port: {port}",
        "logger:",
        "  default: warning",
        "lovelace:",
        "  mode: storage",
        "  dashboards:",
        f"    {DASHBOARD_URL}:",
        "      mode: yaml",
        "      title: Energy (ems)",
        "      icon: mdi:home-lightning-bolt",
        "      show_in_sidebar: true",
        f"      filename: dashboards/{DASHBOARD_FILE.name}",
        *(community_dashboard(config_dir) if community else []),
        "# The appliances' relays: the simulator has none, so helpers stand in for them.",
        "input_boolean:",
        *(
            line
            for a in APPLIANCES
            for line in (
                f"  {a.relay}:",
                f"    name: {_yaml_str(a.relay_name)}",
                f"    icon: {a.icon}",
            )
        ),
        "# A washing machine stops by itself at the end of its cycle.",
        "automation:",
        "  - id: demo_washing_machine_cycle_end",
        "    alias: Demo - washing machine cycle ends",
        "    triggers:",
        "      - trigger: state",
        f"        entity_id: input_boolean.{washing.relay}",
        "        to: 'on'",
        f"        for: '{CYCLE_HOURS:02d}:00:00'",
        "    actions:",
        "      - action: input_boolean.turn_off",
        f"        target: {{entity_id: input_boolean.{washing.relay}}}",
        *(
            f"{name}:"
            for name in COMPONENTS
            if name not in ("http", "logger", "automation", "input_boolean")
        ),
        "",
    ]
    (config_dir / "configuration.yaml").write_text("\n".join(lines))


def onboard(api: Api, timeout: float, hass: Proc) -> str:
    """Create the demo user and finish onboarding; return an access token."""
    step = "waiting for Home Assistant's API"
    deadline = time.monotonic() + timeout
    while True:
        hass.ensure_alive(step)
        with contextlib.suppress(requests.RequestException):
            if api.session.get(api.base + "/api/onboarding", timeout=5).status_code == 200:
                break
        if time.monotonic() > deadline:
            raise DemoError(f"{step}: no answer from {api.base}/api/onboarding in {timeout:.0f} s")
        time.sleep(0.5)

    client_id = api.base + "/"
    created = api.post(
        "/api/onboarding/users",
        "onboarding: create user",
        {
            "client_id": client_id,
            "name": "Demo",
            "username": USERNAME,
            "password": PASSWORD,
            "language": LANGUAGE,
        },
    )
    token = api.call(
        "POST",
        "/auth/token",
        "onboarding: get token",
        data={
            "grant_type": "authorization_code",
            "code": created["auth_code"],
            "client_id": client_id,
        },
    )
    api.set_token(token["access_token"])
    api.post("/api/onboarding/core_config", "onboarding: core_config")
    api.post("/api/onboarding/analytics", "onboarding: analytics")
    api.post(
        "/api/onboarding/integration",
        "onboarding: integration",
        {"client_id": client_id, "redirect_uri": client_id + "?auth_callback=1"},
    )
    wait_for_core(api, hass, max(deadline - time.monotonic(), 10.0))
    return str(token["access_token"])


def wait_for_core(api: Api, hass: Proc, timeout: float) -> None:
    """Wait until Home Assistant answers (authenticated) and its core state is RUNNING."""
    step = "waiting for Home Assistant to finish starting"
    deadline = time.monotonic() + timeout
    state: Any = "no answer"
    while True:
        hass.ensure_alive(step)
        with contextlib.suppress(requests.RequestException, ValueError, AttributeError):
            state = api.session.get(api.base + "/api/config", timeout=5).json().get("state")
            if state == "RUNNING":
                return
        if time.monotonic() > deadline:
            raise DemoError(f"{step}: core state is still {state!r} after {timeout:.0f} s")
        time.sleep(0.5)


def verify_login(base: str) -> None:
    """Log in as a person would (login flow) and load the frontend's page."""
    step = "check: login and frontend"
    api = Api(base)
    client_id = base + "/"
    flow = api.post(
        "/auth/login_flow",
        step,
        {"client_id": client_id, "handler": ["homeassistant", None], "redirect_uri": client_id},
    )
    result = api.post(
        f"/auth/login_flow/{flow['flow_id']}",
        step,
        {"client_id": client_id, "username": USERNAME, "password": PASSWORD},
    )
    if result.get("type") != "create_entry":
        raise DemoError(f"{step}: login as {USERNAME!r} refused: {result}")
    page = api.get("/", step)
    if not isinstance(page, str) or "<html" not in page.lower():
        raise DemoError(f"{step}: GET / did not return the frontend's HTML page")


def remove_onboarding_extras(api: Api) -> None:
    """Remove the entries onboarding created for integrations the demo cannot run."""
    step = "onboarding: remove extra integrations"
    for _ in range(3):  # they are created by background tasks of the core_config step
        time.sleep(1)
        for entry in api.get("/api/config/config_entries/entry", step):
            if entry.get("domain") in ONBOARDING_EXTRAS:
                api.call("DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}", step)


# --------------------------------------------------------------------------------------------
# ems configuration over config flows


def expect(
    result: Any, step: str, rtype: str, step_id: str | None = None, fields: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Check a flow result's type, step and form fields; raise DemoError naming the step."""
    if not isinstance(result, dict):
        raise DemoError(f"{step}: expected a flow result, got {result!r}")
    if result.get("type") != rtype or (step_id and result.get("step_id") != step_id):
        want = f"{rtype!r}" + (f" with step_id {step_id!r}" if step_id else "")
        errors = f" (errors: {result['errors']})" if result.get("errors") else ""
        raise DemoError(
            f"{step}: expected {want}, got type {result.get('type')!r} step_id "
            f"{result.get('step_id')!r}{errors}: {json.dumps(result)[:2000]}"
        )
    if rtype == "form":
        names = {item.get("name") for item in result.get("data_schema") or []}
        if missing := [name for name in fields if name not in names]:
            raise DemoError(f"{step}: form lacks fields {missing}; it has {sorted(names)}")
        required = {
            item["name"]
            for item in result.get("data_schema") or []
            if item.get("required") and "default" not in item
        }
        if unknown := sorted(required - set(fields)):
            raise DemoError(f"{step}: form requires fields the demo does not fill: {unknown}")
    if rtype == "menu":
        options = result.get("menu_options") or []
        if missing := [name for name in fields if name not in options]:
            raise DemoError(f"{step}: menu lacks options {missing}; it has {list(options)}")
    return result


def add_site(api: Api) -> str:
    """Create the site config entry; return its entry id."""
    step = "site: start config flow"
    result = api.post("/api/config/config_entries/flow", step, {"handler": "ems"})
    expect(result, step, "form", "user", tuple(SITE))
    step = "site: submit form 'user'"
    result = api.post(f"/api/config/config_entries/flow/{result['flow_id']}", step, SITE)
    expect(result, step, "create_entry")
    return str(result["result"]["entry_id"])


def _add_subentry(
    api: Api, entry_id: str, kind: tuple[str, str], data: dict[str, Any], label: str
) -> None:
    """Run a subentry flow: ``kind`` = (subentry type, menu option), then one form."""
    subentry_type, option = kind
    step = f"{label}: start subentry flow"
    base = "/api/config/config_entries/subentries/flow"
    result = api.post(base, step, {"handler": [entry_id, subentry_type]})
    expect(result, step, "menu", "user", (option,))
    step = f"{label}: choose menu option {option!r}"
    result = api.post(f"{base}/{result['flow_id']}", step, {"next_step_id": option})
    expect(result, step, "form", option, tuple(data))
    step = f"{label}: submit form {option!r}"
    result = api.post(f"{base}/{result['flow_id']}", step, data)
    expect(result, step, "create_entry")


def add_device(api: Api, entry_id: str, device: Device, sim_port: int) -> None:
    """Add one simulated device as a subentry of the site."""
    data: dict[str, Any] = {
        "name": device.name,
        "host": HOST,
        "port": sim_port,
        "unit_id": device.unit_id,
    }
    if device.profile:
        data["profile"] = device.profile
    if device.subentry_type == "battery" and device.profile != BATTERY_PROFILE:
        data.update(BATTERY_RATINGS)  # a vendor's map may lack them
    label = f"device {device.name!r} ({device.subentry_type}/{device.step})"
    _add_subentry(api, entry_id, (device.subentry_type, device.step), data, label)


def add_appliance(api: Api, entry_id: str, appliance: Appliance) -> None:
    """Add one appliance as a subentry of the site, switched by its helper."""
    data = {
        "name": appliance.name,
        "switch_entity": f"input_boolean.{appliance.relay}",
        **appliance.fields,
    }
    label = f"appliance {appliance.name!r} ({appliance.kind})"
    _add_subentry(api, entry_id, ("appliance", appliance.kind), data, label)


def subentry_ids(base: str, token: str, entry_id: str) -> dict[str, str]:
    """Map each subentry's title (demo devices and appliances) to its subentry id."""
    step = "site: list subentries"
    (subentries,) = ws_commands(
        base, token, [{"type": "config_entries/subentries/list", "entry_id": entry_id}], step
    )
    ids: dict[str, str] = {}
    for name in [d.name for d in DEVICES] + [a.name for a in APPLIANCES]:
        match = [s for s in subentries if s.get("title") == name]
        if len(match) != 1:
            raise DemoError(f"{step}: cannot find the subentry of {name!r} in {subentries}")
        ids[name] = match[0]["subentry_id"]
    return ids


def set_options(api: Api, entry_id: str, control: list[str], scada_port: int) -> None:
    """Set the site options: scan interval, writes enabled, tariffs, the Modbus server.

    The server (for a SCADA) is read-write and answers loopback clients only.
    """
    step = "site options: start options flow"
    base = "/api/config/config_entries/options/flow"
    result = api.post(base, step, {"handler": entry_id})
    data = {
        "scan_interval": SCAN_INTERVAL_S,
        "control": control,
        **TARIFFS,
        "pv_peak_w": PV_PEAK_W,
        "modbus_server": {
            "enabled": True,
            "port": scada_port,
            "unit_id": SCADA_UNIT,
            "writable": True,
            "allowed_clients": HOST,
            "heartbeat_s": 60,
            "fallback_mode": "self_consumption",
        },
    }
    expect(result, step, "form", "init", tuple(data))
    step = "site options: submit form 'init'"
    expect(api.post(f"{base}/{result['flow_id']}", step, data), step, "create_entry")


def entry_state(api: Api, entry_id: str, step: str) -> str:
    """Return the state of a config entry (loaded, setup_retry, …)."""
    for entry in api.get("/api/config/config_entries/entry", step):
        if entry.get("entry_id") == entry_id:
            return str(entry.get("state"))
    raise DemoError(f"{step}: the site entry {entry_id} has disappeared")


def arm_washing_machine(api: Api, subentry_id: str) -> str:
    """Ask ems to schedule the washing machine, done within 20 hours; return the deadline.

    Any 20 hours hold at least 4 off-peak hours (22:00-06:00), so the cycle has a cheap slot.
    """
    finish_by = (datetime.now(UTC) + timedelta(hours=20)).replace(minute=0, second=0)
    finish = finish_by.isoformat(timespec="seconds")
    api.service(
        "ems",
        "set_appliance_request",
        {"appliance": subentry_id, "finish_by": finish, "enabled": True},
        "appliances: arm the washing machine (ems.set_appliance_request)",
    )
    return finish


def set_mode(api: Api, mode: str, procs: list[Proc], timeout: float = 30) -> None:
    """Set the site mode and wait until the select shows it."""
    step = f"site: set mode {mode!r}"
    api.service("select", "select_option", {"entity_id": E["mode"], "option": mode}, step)

    def shown() -> bool:
        state = api.state(E["mode"], step)
        return state is not None and state["state"] == mode

    wait_until(shown, timeout, step, procs, every=0.5)


def energy_prefs() -> dict[str, Any]:
    """The Energy dashboard: grid import/export, PV and battery energy of the ems devices."""
    return {
        "energy_sources": [
            {
                "type": "grid",
                "flow_from": [
                    {
                        "stat_energy_from": E["grid_import"],
                        "stat_cost": None,
                        "entity_energy_price": None,
                        "number_energy_price": TARIFFS["peak_price"],
                    }
                ],
                "flow_to": [
                    {
                        "stat_energy_to": E["grid_export"],
                        "stat_compensation": None,
                        "entity_energy_price": None,
                        "number_energy_price": TARIFFS["export_price"],
                    }
                ],
                "cost_adjustment_day": 0,
            },
            {
                "type": "solar",
                "stat_energy_from": E["pv_energy"],
                "config_entry_solar_forecast": None,
            },
            {
                "type": "battery",
                "stat_energy_from": E["battery_out"],
                "stat_energy_to": E["battery_in"],
            },
        ],
        "device_consumption": [],
    }


# --------------------------------------------------------------------------------------------
# The demo


@dataclass
class Demo:
    """A running demo: where it is, how to reach it, and what it started."""

    work: Path
    base: str
    api: Api  # authenticated with the long-lived token
    token: str  # the long-lived token (also in work/token)
    entry_id: str
    subentries: dict[str, str]  # title → subentry id (devices and appliances)
    sim_port: int
    procs: list[Proc]
    scada_port: int = 0
    echoes: list[LogEcho] = field(default_factory=list)
    community: Any = None  # the community's broker setup, when the demo runs one
    battery_profile: str = BATTERY_PROFILE

    @property
    def dashboard_url(self) -> str:
        """The ems dashboard's URL."""
        return f"{self.base}/{DASHBOARD_URL}/site"

    def proc(self, name: str) -> Proc | None:
        """The started process of that name (simulator, hass, optimizer), if any."""
        return next((p for p in self.procs if p.name == name), None)

    def ws(self, commands: list[dict[str, Any]], step: str) -> list[Any]:
        """Run websocket commands with the long-lived token."""
        return ws_commands(self.base, self.token, commands, step)


def sim_start_time(now: datetime | None = None) -> datetime:
    """The simulated start: now's UTC time of day on a day of the data of today's season."""
    from simulator.data import season_start  # noqa: PLC0415  (reads the data files)

    return season_start(now)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def start_simulator(args: argparse.Namespace, work: Path, procs: list[Proc]) -> int:
    """Start the simulator process; return its port."""
    port = free_port()
    start = args.sim_start or sim_start_time()
    sim = Proc(
        "simulator",
        [
            str(BIN / "python"),
            "-m",
            "simulator",
            "--host",
            HOST,
            "--port",
            str(port),
            "--speed",
            f"{args.speed:g}",
            "--start",
            start.isoformat(),
            "--battery-profile",
            args.battery_profile,
        ],
        work / "simulator.log",
        ROOT,
        _clean_env(),
    )
    procs.append(sim)
    when = "as asked" if args.sim_start else "a day of today's season, now's time of day"
    print(
        f"demo: starting the simulator on {HOST}:{port}, {args.speed:g}× real time from "
        f"{start.isoformat()} in its data ({when}; log: {sim.log})",
        flush=True,
    )
    sim.start()
    wait_for_port(sim, port, args.timeout, "starting the simulator")
    return port


def start_addon(demo: Demo, extra: list[str] | None = None) -> Proc:
    """Start the optimizer add-on's loop as a plain process (standalone mode)."""
    runs = demo.work / "runs"
    env = {**_clean_env(), "EMS_HA_TOKEN": demo.token}  # not on the command line (ps)
    addon = Proc(
        "optimizer",
        [
            str(BIN / "ems-optimizer"),
            "serve",
            "--ha-url",
            demo.base,
            "--runs-dir",
            str(runs),
            "--poll-seconds",
            "15",
            *(extra or []),
        ],
        demo.work / "optimizer.log",
        demo.work,
        env,
    )
    demo.procs.append(addon)
    print(
        f"demo: starting the optimizer add-on: ems-optimizer serve --ha-url {demo.base} "
        f"--token-file {demo.work / 'token'} --runs-dir {runs} (log: {addon.log})",
        flush=True,
    )
    addon.start()
    echo = LogEcho(addon.log, "optimizer", addon_news)
    echo.start()
    demo.echoes.append(echo)
    return addon


def configure_ems(demo: Demo, timeout: float) -> None:
    """Site, devices, appliances, options; then arm the washing machine, mode, energy prefs."""
    api, procs = demo.api, demo.procs
    print("demo: configuring ems (site, devices, appliances, options)", flush=True)
    demo.entry_id = entry_id = add_site(api)
    for device in DEVICES:
        if device.subentry_type == "battery":
            device = dataclasses.replace(device, profile=demo.battery_profile)  # noqa: PLW2901
        add_device(api, entry_id, device, demo.sim_port)
    for appliance in APPLIANCES:
        add_appliance(api, entry_id, appliance)
    demo.subentries = subentry_ids(demo.base, demo.token, entry_id)
    demo.scada_port = free_port(PREFERRED_SCADA_PORT)
    (demo.work / SCADA_PORT_FILE).write_text(f"{demo.scada_port}\n")  # for later checks
    control = [demo.subentries[d.name] for d in DEVICES if d.control]
    set_options(api, entry_id, control, demo.scada_port)

    step = "site: reloaded with the options"

    def ready(*markers: str) -> bool:
        if entry_state(api, entry_id, step) != "loaded":
            return False
        states = [api.state(marker, step) for marker in markers]
        return all(s is not None and s["state"] not in ("unavailable", "unknown") for s in states)

    # Each subentry and the options reload the entry, but a change made while a reload runs is
    # not seen by it (the entry's update listener is gone until its setup ends). Once the
    # options are in force (the battery's limit numbers exist only with control enabled), one
    # more reload (queued after any running one) makes sure the entry has everything.
    # (A vendor's battery has no limit numbers: its site's mode shows the reloaded entry.)
    limits = E["battery_charge_limit"] if demo.battery_profile == BATTERY_PROFILE else E["mode"]
    wait_until(lambda: ready(limits), timeout, step, procs)
    api.post(f"/api/config/config_entries/entry/{entry_id}/reload", step)
    markers = (limits, E["washing_schedule"], E["mode"])
    wait_until(lambda: ready(*markers), timeout, step, procs)
    washing = next(a for a in APPLIANCES if a.kind == "cycle")
    finish = arm_washing_machine(api, demo.subentries[washing.name])
    print(f"demo: {washing.name.lower()} armed, to finish by {finish}", flush=True)
    # Off-peak hours are cheap: the plan may charge the battery from the grid then.
    api.service(
        "switch", "turn_on", {"entity_id": E["grid_charging"]}, "allow charging from the grid"
    )
    set_mode(api, MODE, procs)
    demo.ws(
        [
            {"type": "energy/save_prefs", **energy_prefs()},
            {"type": "frontend/set_user_data", "key": "language", "value": USER_LOCALE},
        ],
        "energy and profile: save preferences",
    )
    print(f"demo: mode {MODE!r}; Energy dashboard configured", flush=True)


def start(args: argparse.Namespace, procs: list[Proc], *, sim_port: int | None = None) -> Demo:
    """Start and configure everything; return the running demo.

    ``sim_port``: use a simulator that already listens there (the e2e tests run one in-process
    to inject faults) instead of starting one. Every process started is appended to ``procs``
    as soon as it starts, so that the caller can stop them whatever happens. The work dir is
    locked first (DemoError if another demo runs there, before anything is touched); the
    caller frees it with ``release_lock`` once the processes are stopped.
    """
    work = args.dir.resolve()
    acquire_lock(work)
    if not args.skip_ems and sim_port is None:
        sim_port = start_simulator(args, work, procs)

    port = args.port or free_port(PREFERRED_HA_PORT)
    update_lock(work, f"http://{HOST}:{port}")
    config_dir = work / "config"
    community = None
    if not args.skip_ems and not args.no_community:
        community = start_community(work, procs, args.timeout)
    write_config(config_dir, port, community=community is not None)
    hass = Proc(
        "hass",
        [str(BIN / "hass"), "-c", str(config_dir), "--skip-pip", "--log-no-color"],
        work / "hass.console.log",
        work,
        _clean_env(),
    )
    procs.append(hass)
    print(f"demo: starting Home Assistant on {HOST}:{port} (config: {config_dir})", flush=True)
    hass.start()
    echo = LogEcho(config_dir / "home-assistant.log", "hass", hass_errors)
    echo.start()

    base = f"http://{HOST}:{port}"
    api = Api(base)
    token = onboard(api, args.timeout, hass)
    remove_onboarding_extras(api)
    long_lived = ws_commands(
        base,
        token,
        [{"type": "auth/long_lived_access_token", "client_name": "ems demo", "lifespan": 365}],
        "onboarding: long-lived token",
    )[0]
    token_file = work / "token"
    token_file.write_text(str(long_lived) + "\n")
    token_file.chmod(0o600)
    api.set_token(str(long_lived))
    demo = Demo(work, base, api, str(long_lived), "", {}, sim_port or 0, procs, echoes=[echo])
    demo.battery_profile = args.battery_profile
    demo.community = community
    if not args.skip_ems:
        configure_ems(demo, args.timeout)
        if community is not None:
            add_mqtt_viewer(api, community)
        if not args.no_addon:
            start_addon(demo, community_flags(demo))
    return demo


def community_flags(demo: Demo) -> list[str]:
    """The add-on's flags that make the demo's home a member of the community (if it runs)."""
    if demo.community is None:
        return []
    return ["--community", str(demo.work / "community" / "credentials" / f"{HOME_MEMBER}.json")]


# --------------------------------------------------------------------------------------------
# The community: a broker, a coordinator, simulated neighbours; the demo's home is a member and
# Home Assistant shows the community through MQTT discovery.

COMMUNITY = "demo"
HOME_MEMBER = "home"
NEIGHBOURS = ("neighbour1", "neighbour2", "neighbour3", "plant")
COMMUNITY_DASHBOARD_URL = "ems-community"
COMMUNITY_DASHBOARD_FILE = "community.yaml"
COMMUNITY_COLLECT_S = 5


def community_data() -> Path | None:
    """The shared data the neighbours are built from (None: no community in the demo)."""
    folder = Path(os.environ.get("EMS_DATA_DIR") or ROOT.parent / "shared" / "data")
    needed = ("household_fr_30min_2023-12_2024-09.csv", "price_fr_day_ahead_hourly_2015-2021.csv")
    return folder if all((folder / name).is_file() for name in needed) else None


def community_dashboard(config_dir: Path) -> list[str]:
    """Write the community view's dashboard; its lines of configuration.yaml."""
    from ems_optimizer.community.discovery import dashboard  # noqa: PLC0415

    config = dashboard(COMMUNITY, [HOME_MEMBER, *NEIGHBOURS], LANGUAGE)
    (config_dir / COMMUNITY_DASHBOARD_FILE).write_text(json.dumps(config, indent=2))
    title = "Communauté (ems)" if LANGUAGE == "fr" else "Community (ems)"
    return [
        f"    {COMMUNITY_DASHBOARD_URL}:",
        "      mode: yaml",
        f"      title: {_yaml_str(title)}",
        "      icon: mdi:home-group",
        "      show_in_sidebar: true",
        f"      filename: {COMMUNITY_DASHBOARD_FILE}",
    ]


def start_community(work: Path, procs: list[Proc], timeout: float) -> Any:
    """mosquitto, the coordinator and the neighbours; the community's Setup (None: none)."""
    from ems_optimizer.community.broker import (  # noqa: PLC0415
        find_mosquitto,
        local_config,
        setup_community,
    )

    data = community_data()
    mosquitto = find_mosquitto()
    if data is None or mosquitto is None or find_mosquitto("mosquitto_passwd") is None:
        print(
            "demo: no community (needs mosquitto, `make setup` installs it, and the shared data)",
            flush=True,
        )
        return None
    folder = work / "community"
    setup = setup_community(folder, COMMUNITY, [HOME_MEMBER, *NEIGHBOURS], free_port())
    broker = Proc("mosquitto", [mosquitto, "-c", str(local_config(folder / "mosquitto.conf"))],
                  work / "mosquitto.log", work, _clean_env())  # fmt: skip
    procs.append(broker)
    broker.start()
    wait_for_port(broker, setup.port, timeout, "community: the broker")
    credentials = folder / "credentials"
    coordinator = Proc(
        "coordinator",
        [str(BIN / "ems-optimizer"), "community", "serve", "--credentials",
         str(credentials / "coordinator.json"), "--collect-s", str(COMMUNITY_COLLECT_S),
         "--min-gap-s", str(COMMUNITY_COLLECT_S),
         "--members", ",".join([HOME_MEMBER, *NEIGHBOURS]),
         "--language", LANGUAGE],
        work / "coordinator.log", work, _clean_env(),
    )  # fmt: skip
    procs.append(coordinator)
    coordinator.start()
    neighbours = Proc(
        "neighbours",
        [str(BIN / "ems-optimizer"), "community", "members", "--credentials-dir",
         str(credentials), "--members", ",".join(NEIGHBOURS), "--data", str(data)],
        work / "neighbours.log", work, _clean_env(),
    )  # fmt: skip
    procs.append(neighbours)
    neighbours.start()
    print(
        f"demo: community {COMMUNITY!r} on mqtt://{HOST}:{setup.port}: coordinator, "
        f"{len(NEIGHBOURS)} simulated neighbours (logs: coordinator.log, neighbours.log)",
        flush=True,
    )
    return setup


def add_mqtt_viewer(api: Api, setup: Any) -> None:
    """Home Assistant's MQTT integration on the community's broker, as its viewer."""
    step = "community: start the MQTT config flow"
    result = api.post("/api/config/config_entries/flow", step, {"handler": "mqtt"})
    if result.get("type") == "menu":
        step = "community: MQTT menu"
        result = api.post(
            f"/api/config/config_entries/flow/{result['flow_id']}", step,
            {"next_step_id": "broker"},
        )  # fmt: skip
    data = {
        "broker": HOST,
        "port": setup.port,
        "username": "viewer",
        "password": setup.accounts["viewer"],
    }
    expect(result, step, "form", "broker", ("broker", "port", "username", "password"))
    step = "community: submit the broker"
    result = api.post(f"/api/config/config_entries/flow/{result['flow_id']}", step, data)
    expect(result, step, "create_entry")


def check_community(demo: Demo, timeout: float) -> str:
    """The community view shows the round; the home plans with the community."""
    step = "check: the community"
    members = f"sensor.ems_community_{COMMUNITY}_members"

    def seen() -> dict[str, Any] | None:
        state = demo.api.state(members, step) or {}
        planning = demo.api.state(E["planning"], step) or {}
        value = state.get("state", "")
        if _is_number(value) and float(value) >= 2 and planning.get("state") == "community":
            return state
        return None

    state = wait_until(seen, timeout, step, demo.procs)
    (config,) = demo.ws([{"type": "lovelace/config", "url_path": COMMUNITY_DASHBOARD_URL}], step)
    states = demo.api.states(step)
    if missing := sorted(dashboard_entities(config) - states.keys()):
        raise DemoError(f"{step}: the community dashboard shows entities that do not exist: "
                        f"{missing}")  # fmt: skip
    gain = states.get(f"sensor.ems_community_{COMMUNITY}_gain", {}).get("state")
    return f"{state['state']} members in the round, gain {gain} kWh"


# --------------------------------------------------------------------------------------------
# Checks


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def wait_for_sensors(demo: Demo, timeout: float) -> tuple[int, int]:
    """Wait until ems sensors report numbers; return (numeric, total) sensor counts."""
    step = "check: numeric ems sensor states"
    template = "{{ integration_entities('ems') | select('match', 'sensor[.]') | list | tojson }}"
    counts = (0, 0)

    def numeric() -> tuple[int, int] | None:
        nonlocal counts
        rendered = demo.api.post("/api/template", step, {"template": template})
        sensors = set(json.loads(rendered) if isinstance(rendered, str) else rendered)
        states = demo.api.states(step)
        values = [states[s]["state"] for s in sensors if s in states]
        counts = (sum(1 for value in values if _is_number(value)), len(sensors))
        return counts if counts[0] else None

    try:
        return wait_until(numeric, timeout, step, demo.procs)
    except DemoError as err:
        state = entry_state(demo.api, demo.entry_id, step)
        raise DemoError(f"{err}; {counts[1]} ems sensors, site entry state {state!r}") from None


def wait_for_plan(demo: Demo, timeout: float, after: datetime | None = None) -> dict[str, Any]:
    """Wait until ems holds a current plan (received after ``after``); return its status state."""
    step = "check: a plan from the optimizer add-on"

    def plan() -> dict[str, Any] | None:
        status = demo.api.state(E["plan_status"], step)
        stale = demo.api.state(E["plan_stale"], step)
        if status is None or status["state"] not in PLAN_STATUSES:
            return None
        if stale is None or stale["state"] != "off":
            return None
        if after is not None:
            age = demo.api.state(E["plan_age"], step)
            if age is None or not _is_number(age["state"]):
                return None
            received = datetime.now(UTC) - timedelta(minutes=float(age["state"]))
            if received < after - timedelta(seconds=10):  # the age is rounded to 0.1 min
                return None
        return status

    return wait_until(plan, timeout, step, demo.procs, every=2)


def dashboard_entities(config: Any) -> set[str]:
    """Entity ids a dashboard config mentions (cards, rows, templates)."""
    return set(ENTITY_ID.findall(json.dumps(config)))


def check_dashboard(demo: Demo) -> int:
    """Home Assistant serves the ems dashboard and every entity it shows exists."""
    step = "check: the ems dashboard"
    (config,) = demo.ws([{"type": "lovelace/config", "url_path": DASHBOARD_URL}], step)
    if not isinstance(config, dict) or not config.get("views"):
        raise DemoError(f"{step}: no views in the dashboard's config: {config!r}")
    states = demo.api.states(step)
    if missing := sorted(dashboard_entities(config) - states.keys()):
        raise DemoError(f"{step}: {DASHBOARD_FILE} shows entities that do not exist: {missing}")
    return len(dashboard_entities(config))


def check_energy(demo: Demo) -> None:
    """The Energy dashboard's preferences list the grid, PV and battery sources."""
    step = "check: energy preferences"
    (prefs,) = demo.ws([{"type": "energy/get_prefs"}], step)
    kinds = sorted(source["type"] for source in prefs.get("energy_sources", []))
    if kinds != ["battery", "grid", "solar"]:
        raise DemoError(f"{step}: expected battery, grid and solar sources, got {kinds}")


# A question of docs/custom_sentences/<language>/ems.yaml (EmsGetMode) that --check asks Assist.
VOICE_QUESTION = {"en": "what is the energy mode", "fr": "quel est le mode énergie"}


def ask_assist(api: Api, text: str, step: str, language: str = LANGUAGE) -> dict[str, Any]:
    """Send a sentence to Assist (the built-in conversation agent); return its response."""
    result = api.post("/api/conversation/process", step, {"text": text, "language": language})
    response = result.get("response") if isinstance(result, dict) else None
    if not isinstance(response, dict):
        raise DemoError(f"{step}: no response from Assist to {text!r}: {result!r}")
    return response


def speech(response: dict[str, Any]) -> str:
    """What Assist says in a response ('' if nothing)."""
    return str(((response.get("speech") or {}).get("plain") or {}).get("speech") or "")


def check_voice(demo: Demo) -> str:
    """Assist understands an example sentence (they are installed); return its answer."""
    step = "check: voice (Assist, docs/custom_sentences)"
    question = VOICE_QUESTION[LANGUAGE]
    response = ask_assist(demo.api, question, step)
    if response.get("response_type") != "action_done" or "mode" not in speech(response):
        raise DemoError(f"{step}: Assist did not handle {question!r}: {response}")
    return speech(response)


def check(demo: Demo, timeout: float, *, plan: bool = True) -> str:
    """Log in, wait for values and the first plan, check dashboard, energy, voice; a summary."""
    verify_login(demo.base)
    numeric, total = wait_for_sensors(demo, timeout)
    status = wait_for_plan(demo, timeout) if plan else {"state": "not awaited (no add-on)"}
    shown = check_dashboard(demo)
    check_energy(demo)
    step = "check: mode"

    def mode_runs() -> dict[str, Any] | None:
        mode = demo.api.state(E["mode"], step) or {}
        if mode.get("state") != MODE:
            raise DemoError(f"{step}: expected {MODE!r}, got {mode!r}")
        # With a plan, auto runs as auto from the controller's next tick (every 5 s).
        effective = mode["attributes"].get("effective_mode")
        return mode if not plan or effective == MODE else None

    mode = wait_until(mode_runs, 30, step, demo.procs)
    answer = check_voice(demo)
    scada = check_scada(demo)
    community = check_community(demo, timeout) if demo.community is not None and plan else "off"
    return (
        f"{numeric} of {total} ems sensors are numeric; plan {status['state']}; "
        f"mode {mode['state']} (runs as {mode['attributes'].get('effective_mode')}); "
        f"dashboard shows {shown} entities; Assist: {answer!r}; Modbus server: {scada}; "
        f"community: {community}"
    )


def check_scada(demo: Demo) -> str:
    """The SunSpec Modbus server answers as a SCADA reads it: the marker, the mode, the SOC."""
    from pymodbus.client import ModbusTcpClient  # noqa: PLC0415 (only for --check)

    from ems_core.site_server import EMS_MODEL_ID, load_site_map  # noqa: PLC0415

    port = demo.scada_port or int((demo.work / SCADA_PORT_FILE).read_text())
    step = f"check: Modbus server on {HOST}:{port}"
    client = ModbusTcpClient(HOST, port=port, timeout=5)
    try:
        if not client.connect():
            raise DemoError(f"{step}: cannot connect")
        marker = client.read_holding_registers(40000, count=2, slave=SCADA_UNIT)
        if marker.isError() or marker.registers != [0x5375, 0x6E53]:
            raise DemoError(f"{step}: no SunSpec marker at 40000: {marker}")
        # The ems model is the last one: walk the chain as any SunSpec client does.
        address = 40002
        while True:
            header = client.read_holding_registers(address, count=2, slave=SCADA_UNIT).registers
            if header[0] in (EMS_MODEL_ID, 0xFFFF):
                break
            address += 2 + header[1]
        if header[0] != EMS_MODEL_ID:
            raise DemoError(f"{step}: the ems model 64900 is not in the map")
        words = client.read_holding_registers(address + 2, count=11, slave=SCADA_UNIT).registers
    finally:
        client.close()
    modes = load_site_map().enums["mode"]
    mode = modes[words[0]] if words[0] < len(modes) else str(words[0])
    if mode != MODE:
        raise DemoError(f"{step}: mode register says {mode!r}, the site is in {MODE!r}")
    return f"mode {mode}, SOC {words[10] / 10:g} %"


def stop_all(procs: list[Proc], echoes: list[LogEcho] | None = None) -> None:
    """Stop the processes, last started first (Ctrl-C and SIGTERM are ignored meanwhile)."""
    with _signals_ignored():
        for proc in reversed(procs):
            proc.stop()
    for echo in echoes or []:
        echo.stopped.set()


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Ignore Ctrl-C and SIGTERM while the children are being stopped (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------------------------
# Main


def _iso(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        "--no-wait",
        action="store_true",
        help="set everything up, verify values, plan, dashboard and energy, then stop and exit",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=ROOT / ".demo",
        help="work dir (wiped on start; refused while another demo runs there)",
    )
    parser.add_argument("--port", type=int, default=0, help="Home Assistant port (default: free)")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="time acceleration of the simulator: simulated seconds per real second "
        "(default 1: its clock follows Home Assistant's)",
    )
    parser.add_argument(
        "--sim-start",
        type=_iso,
        default=None,
        help="simulated start time in the data (default: now's UTC time of day on a day of the "
        "data of the same season as today)",
    )
    parser.add_argument("--timeout", type=float, default=180, help="seconds allowed per phase")
    parser.add_argument(
        "--battery-profile",
        default=BATTERY_PROFILE,
        help="the battery's register profile: a vendor's (e.g. huawei_sun2000_luna2000) makes "
        "the simulator serve that vendor's registers and command logic",
    )
    parser.add_argument("--no-addon", action="store_true", help="do not start the optimizer add-on")
    parser.add_argument(
        "--no-community",
        action="store_true",
        help="no community (mosquitto, coordinator, simulated neighbours, the community view)",
    )
    parser.add_argument(
        "--skip-ems",
        action="store_true",
        help="only start and onboard Home Assistant (no simulator, no ems configuration)",
    )
    return parser.parse_args(argv)


def raise_interrupt(signum: int, _frame: object) -> None:
    """Signal handler: stop as on Ctrl-C (SIGTERM)."""
    raise KeyboardInterrupt


def run(args: argparse.Namespace, procs: list[Proc], echoes: list[LogEcho]) -> None:
    """Start and configure everything; in interactive mode, wait until interrupted."""
    demo = start(args, procs)
    echoes.extend(demo.echoes)
    if args.check:
        if args.skip_ems:
            verify_login(demo.base)
        else:
            summary = check(demo, args.timeout, plan=not args.no_addon)
            print(f"demo: check passed: {summary}", flush=True)

    bold, reset = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(
        f"\n{bold}Home Assistant: {demo.base}{reset}\n{bold}login: {USERNAME} / {PASSWORD}{reset}\n"
    )
    if not args.skip_ems:
        print(f"demo: ems dashboard: {demo.dashboard_url}", flush=True)
        print(
            f"demo: SunSpec Modbus server (SCADA) on {HOST}:{demo.scada_port}, unit {SCADA_UNIT}"
            " (register map: docs/REGISTER_MAP.md)",
            flush=True,
        )
    print(f"demo: long-lived API token in {demo.work / 'token'}", flush=True)
    if args.check:
        return
    names = ", ".join(p.name for p in procs)
    print(f"demo: running; Ctrl-C stops everything it started ({names})", flush=True)
    while True:
        watch(demo, args.timeout)
        time.sleep(1)


def watch(demo: Demo, timeout: float) -> None:
    """Look at the processes once: start Home Assistant again when it asked for a restart.

    Any other exit (of Home Assistant, the simulator or the add-on) raises DemoError.
    """
    for proc in demo.procs:
        code = proc.exit_code()
        if code is None:
            continue
        if proc.name != "hass":
            proc.ensure_alive("running")
        elif code == RESTART_EXIT_CODE:
            restart_hass(demo, proc, timeout)
        else:
            raise DemoError(
                f"Home Assistant exited with code {code}, so the demo stops; its log: "
                f"{demo.work / 'config' / 'home-assistant.log'} (console: {proc.log})"
            )


def restart_hass(demo: Demo, hass: Proc, timeout: float) -> None:
    """Start Home Assistant again after it exited to restart; wait until it runs."""
    print(
        f"demo: Home Assistant exited to restart (code {RESTART_EXIT_CODE}): starting it again; "
        "the simulator and the add-on keep running",
        flush=True,
    )
    hass.start(append=True)
    wait_for_core(demo.api, hass, timeout)
    print(f"demo: Home Assistant is back: {demo.base} (pid {hass.pid})", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the process exit code."""
    args = parse_args(argv)
    procs: list[Proc] = []
    echoes: list[LogEcho] = []
    # Ctrl-C stops the demo even when it was started with SIGINT ignored (e.g. with `&`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, raise_interrupt)
    code = 0
    try:
        run(args, procs, echoes)
    except KeyboardInterrupt:
        print("\ndemo: stopping", flush=True)
    except DemoBusy as err:
        print(f"demo: not started: {err}", file=sys.stderr, flush=True)
        code = 2
    except DemoError as err:
        print(f"demo: FAILED: {err}", file=sys.stderr, flush=True)
        for proc in procs:
            if proc.name == "hass":
                log = args.dir.resolve() / "config" / "home-assistant.log"
                print(f"--- last lines of {log} ---\n{tail(log)}", file=sys.stderr)
            elif proc.name == "optimizer":
                print(f"--- last lines of {proc.log} ---\n{tail(proc.log)}", file=sys.stderr)
        code = 1
    finally:
        stop_all(procs, echoes)
        release_lock(args.dir.resolve())
    return code


if __name__ == "__main__":
    sys.exit(main())
