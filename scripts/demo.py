"""Run the ems demo: the site simulator plus a real Home Assistant with ems configured.

``make demo`` runs this file with the project's virtualenv. It

1. starts the Modbus site simulator (``python -m simulator``) on a free loopback port;
2. writes a fresh Home Assistant config dir (``.demo/config``, wiped on every run) with an
   explicit component list, links ``custom_components/ems`` into it and starts ``hass``;
3. onboards Home Assistant over REST (user ``demo`` / ``demo-ems-2025``);
4. configures ems over REST config flows: the site, one subentry per simulated device,
   then the site options (scan interval, which devices may be written to);
5. prints the URL and the login, echoes Home Assistant's errors, and runs until Ctrl-C or
   SIGTERM, then stops everything it started.

``--check`` does steps 1-4, also logs in as a person would and loads the frontend's page,
waits until numeric ems sensor states arrive, prints the two lines and exits (used by tests
and CI). Every process it starts is stopped on any exit.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
import contextlib
from dataclasses import dataclass, field
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
STOP_TIMEOUT_S = 30.0

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


@dataclass(frozen=True)
class Device:
    """A simulated device to add to the site as a config subentry."""

    subentry_type: str  # battery, pv, meter, relay_board
    step: str  # menu option: modbus_tcp or sunspec
    name: str
    unit_id: int
    profile: str | None = None  # built-in register profile (modbus_tcp only)
    control: bool = False  # enable writes in the site options


DEVICES = (
    Device("battery", "modbus_tcp", "Battery", 1, "generic_bess", control=True),
    Device("pv", "modbus_tcp", "PV inverter", 2, "generic_pv_inverter"),
    Device("meter", "modbus_tcp", "Grid meter", 3, "generic_meter_3ph"),
    Device("relay_board", "modbus_tcp", "Relay board", 4, "relay_board_4ch", control=True),
    Device("pv", "sunspec", "Hybrid inverter (SunSpec)", 5),
)
SITE = {"name": "Demo site", "import_limit_w": 9000, "export_limit_w": 6000}
SCAN_INTERVAL_S = 5


# --------------------------------------------------------------------------------------------
# Processes


def _child_setup() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the child if this runner dies without cleaning up."""
    if sys.platform.startswith("linux"):
        import ctypes  # noqa: PLC0415

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Proc:
    """A child process in its own process group, with its output in a log file."""

    name: str
    args: list[str]
    log: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (new session, output to the log file)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                self.args,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_child_setup,  # noqa: PLW1509  (no threads run yet)
            )

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
    """Echo ERROR/CRITICAL records (with their tracebacks) of Home Assistant's log.

    Records about the integrations that onboarding starts on its own (ONBOARDING_EXTRAS)
    are left out: they fail for want of network or packages, which says nothing about ems.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True, name="hass-log-echo")
        self.path = path
        self.stopped = threading.Event()
        self.noise = re.compile(
            "|".join(rf"\b{re.escape(domain)}\b" for domain in ONBOARDING_EXTRAS)
            + r"|\bmetno\b|\bradios\b|\bgtts\b"
            + r"|libturbojpeg"  # camera snapshots: the system library is not installed
        )

    def _flush(self, record: list[str]) -> None:
        if not record:
            return
        match = LOG_LINE.match(record[0])
        text = "".join(record)
        if match and match.group(1) in ("ERROR", "CRITICAL") and not self.noise.search(text):
            print("".join(f"hass | {line}" for line in record), end="", flush=True)
        record.clear()

    def run(self) -> None:
        """Follow the log file and print error records as they complete."""
        while not self.path.exists() and not self.stopped.wait(0.5):
            pass
        record: list[str] = []
        with contextlib.suppress(OSError), self.path.open(errors="replace") as log:
            while not self.stopped.is_set():
                line = log.readline()
                if not line:
                    self._flush(record)  # the writer is idle: the record is complete
                    self.stopped.wait(0.5)
                    continue
                if LOG_LINE.match(line):
                    self._flush(record)
                if record or LOG_LINE.match(line):
                    record.append(line if line.endswith("\n") else line + "\n")


# --------------------------------------------------------------------------------------------
# Home Assistant REST


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


def write_config(config_dir: Path, port: int) -> None:
    """Write a fresh Home Assistant config dir with ems linked into it."""
    if config_dir.exists():
        shutil.rmtree(config_dir)
    (config_dir / "custom_components").mkdir(parents=True)
    (config_dir / "custom_components" / "ems").symlink_to(ROOT / "custom_components" / "ems")
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
        *(f"{name}:" for name in COMPONENTS if name not in ("http", "logger")),
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
            "language": "en",
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
    step = "waiting for Home Assistant to finish starting"
    while (state := api.get("/api/config", step).get("state")) != "RUNNING":
        hass.ensure_alive(step)
        if time.monotonic() > deadline:
            raise DemoError(f"{step}: core state is still {state!r} after {timeout:.0f} s")
        time.sleep(0.5)
    return str(token["access_token"])


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


def add_device(api: Api, entry_id: str, device: Device, sim_port: int) -> None:
    """Add one simulated device as a subentry of the site."""
    label = f"device {device.name!r} ({device.subentry_type}/{device.step})"
    step = f"{label}: start subentry flow"
    base = "/api/config/config_entries/subentries/flow"
    result = api.post(base, step, {"handler": [entry_id, device.subentry_type]})
    expect(result, step, "menu", "user", (device.step,))
    step = f"{label}: choose menu option {device.step!r}"
    result = api.post(f"{base}/{result['flow_id']}", step, {"next_step_id": device.step})
    data: dict[str, Any] = {
        "name": device.name,
        "host": HOST,
        "port": sim_port,
        "unit_id": device.unit_id,
    }
    if device.profile:
        data["profile"] = device.profile
    expect(result, step, "form", device.step, tuple(data))
    step = f"{label}: submit form {device.step!r}"
    result = api.post(f"{base}/{result['flow_id']}", step, data)
    expect(result, step, "create_entry")


def subentry_ids(base: str, token: str, entry_id: str) -> dict[str, str]:
    """Map each demo device's name to its subentry id."""
    step = "site: list subentries"
    (subentries,) = ws_commands(
        base, token, [{"type": "config_entries/subentries/list", "entry_id": entry_id}], step
    )
    ids: dict[str, str] = {}
    for device in DEVICES:
        by_title = [s for s in subentries if s.get("title") == device.name]
        by_type = [s for s in subentries if s.get("subentry_type") == device.subentry_type]
        match = by_title or (by_type if len(by_type) == 1 else [])
        if len(match) != 1:
            raise DemoError(f"{step}: cannot find the subentry of {device.name!r} in {subentries}")
        ids[device.name] = match[0]["subentry_id"]
    return ids


def set_options(api: Api, entry_id: str, control: list[str]) -> None:
    """Set the site options: scan interval and the devices whose writes are enabled."""
    step = "site options: start options flow"
    base = "/api/config/config_entries/options/flow"
    result = api.post(base, step, {"handler": entry_id})
    data = {"scan_interval": SCAN_INTERVAL_S, "control": control}
    expect(result, step, "form", "init", tuple(data))
    step = "site options: submit form 'init'"
    expect(api.post(f"{base}/{result['flow_id']}", step, data), step, "create_entry")


def entry_state(api: Api, entry_id: str, step: str) -> str:
    """Return the state of a config entry (loaded, setup_retry, …)."""
    for entry in api.get("/api/config/config_entries/entry", step):
        if entry.get("entry_id") == entry_id:
            return str(entry.get("state"))
    raise DemoError(f"{step}: the site entry {entry_id} has disappeared")


def wait_for_sensors(api: Api, entry_id: str, timeout: float, hass: Proc) -> tuple[int, int]:
    """Wait until ems sensors report numbers; return (numeric, total) sensor counts."""
    step = "check: numeric ems sensor states"
    template = "{{ integration_entities('ems') | select('match', 'sensor\\.') | list | tojson }}"
    deadline = time.monotonic() + timeout
    numeric, total = 0, 0
    while time.monotonic() < deadline:
        hass.ensure_alive(step)
        rendered = api.post("/api/template", step, {"template": template})
        sensors = set(json.loads(rendered) if isinstance(rendered, str) else rendered)
        values = [s["state"] for s in api.get("/api/states", step) if s["entity_id"] in sensors]
        numeric = sum(1 for value in values if _is_number(value))
        total = len(sensors)
        if numeric:
            return numeric, total
        time.sleep(1)
    raise DemoError(
        f"{step}: no numeric state among {total} ems sensors after {timeout:.0f} s "
        f"(site entry state: {entry_state(api, entry_id, step)})"
    )


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        "--no-wait",
        action="store_true",
        help="set everything up, verify that ems sensor states arrive, then stop and exit",
    )
    parser.add_argument("--dir", type=Path, default=ROOT / ".demo", help="work dir (wiped)")
    parser.add_argument("--port", type=int, default=0, help="Home Assistant port (default: free)")
    parser.add_argument("--speed", type=float, default=30, help="simulator time factor")
    parser.add_argument("--timeout", type=float, default=180, help="seconds allowed per phase")
    parser.add_argument(
        "--skip-ems",
        action="store_true",
        help="only start and onboard Home Assistant (no simulator, no ems configuration)",
    )
    return parser.parse_args(argv)


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace, procs: list[Proc]) -> None:
    """Start and configure everything; in interactive mode, wait until interrupted."""
    work = args.dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}

    sim_port = 0
    if not args.skip_ems:
        sim_port = free_port()
        sim = Proc(
            "simulator",
            [
                str(BIN / "python"),
                "-m",
                "simulator",
                "--host",
                HOST,
                "--port",
                str(sim_port),
                "--speed",
                f"{args.speed:g}",
            ],
            work / "simulator.log",
            ROOT,
            env,
        )
        procs.append(sim)
        print(f"demo: starting the simulator on {HOST}:{sim_port} (log: {sim.log})", flush=True)
        sim.start()
        wait_for_port(sim, sim_port, args.timeout, "starting the simulator")

    port = args.port or free_port(PREFERRED_HA_PORT)
    config_dir = work / "config"
    write_config(config_dir, port)
    hass = Proc(
        "hass",
        [str(BIN / "hass"), "-c", str(config_dir), "--skip-pip", "--log-no-color"],
        work / "hass.console.log",
        work,
        env,
    )
    procs.append(hass)
    print(f"demo: starting Home Assistant on {HOST}:{port} (config: {config_dir})", flush=True)
    hass.start()
    echo = LogEcho(config_dir / "home-assistant.log")
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

    if args.check:
        verify_login(base)

    if not args.skip_ems:
        print("demo: configuring ems (site, devices, options)", flush=True)
        entry_id = add_site(api)
        for device in DEVICES:
            add_device(api, entry_id, device, sim_port)
        ids = subentry_ids(base, token, entry_id)
        set_options(api, entry_id, [ids[d.name] for d in DEVICES if d.control])
        if args.check:
            numeric, total = wait_for_sensors(api, entry_id, args.timeout, hass)
            print(f"demo: check passed: {numeric} of {total} ems sensors are numeric", flush=True)

    bold, reset = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}Home Assistant: {base}{reset}\n{bold}login: {USERNAME} / {PASSWORD}{reset}\n")
    print(f"demo: long-lived API token in {token_file}", flush=True)
    if args.check:
        return
    print("demo: running; Ctrl-C stops Home Assistant and the simulator", flush=True)
    while True:
        for proc in procs:
            proc.ensure_alive("running")
        time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the process exit code."""
    args = parse_args(argv)
    procs: list[Proc] = []
    signal.signal(signal.SIGTERM, _raise_interrupt)
    code = 0
    try:
        run(args, procs)
    except KeyboardInterrupt:
        print("\ndemo: stopping", flush=True)
    except DemoError as err:
        print(f"demo: FAILED: {err}", file=sys.stderr, flush=True)
        for proc in procs:
            if proc.name == "hass":
                log = args.dir.resolve() / "config" / "home-assistant.log"
                print(f"--- last lines of {log} ---\n{tail(log)}", file=sys.stderr)
        code = 1
    finally:
        with _signals_ignored():
            for proc in reversed(procs):
                proc.stop()
    return code


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Ignore Ctrl-C and SIGTERM while the children are being stopped."""
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
