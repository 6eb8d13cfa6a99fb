"""`make soak`: the whole stack under random faults for a fixed wall-clock time, then a report.

``python -m scripts.soak --minutes N`` (``SOAK_MINUTES=N make soak``):

1. starts the simulator in this process (``scripts.sim_thread``, ``--speed`` times real time,
   20 by default) with every client write recorded (``scripts.soak_record``), then a real Home
   Assistant configured by the demo's own code (``scripts.demo``, without the community) and
   the optimizer add-on's loop (``ems-optimizer serve``), in a fresh work dir (kept, printed);
2. waits for the add-on's first plan, notes each process's memory, then for N minutes injects
   random faults (seeded: ``--seed`` / ``$SOAK_SEED``, printed), one at a time, each cleared
   after a while and followed by a pause for the system to recover (20-60 s; shorter when the
   run is too short for every kind: each kind below comes at least once, in a random order,
   before any comes twice):

   - ``connection_drop``: the simulator aborts every Modbus connection, again every 3 s, and
     half the time refuses new ones, while the fault holds;
   - ``exception_reply``: a unit answers Modbus exceptions (device failure or busy; to
     everything, its reads, or its writes only);
   - ``frozen_values``: a unit's registers stop changing;
   - ``out_of_range``: a point reads a value outside its profile's range (SOC 150 %, 300 °C,
     NaN or 5 MW on the meter, ...);
   - ``battery_ignores``: the battery accepts and reads back every setpoint but keeps running
     at the one it had;
   - ``clock_jump``: the simulated site's clock skips 0.5-6 h ahead at once (every model
     advances at its last command: SOC, energy counters and PV jump). The system clock, which
     Home Assistant and the add-on read, cannot be changed without root: the jump is the
     site's, as after a gateway's suspend or an NTP step on it;
   - ``ha_restart``: Home Assistant stopped (SIGTERM, or SIGKILL one time in three) and
     started again on the same config dir;
   - ``addon_restart``: the add-on stopped (SIGTERM, or SIGKILL one time in three) and started
     again;

3. watches the plan all along (every 5 s, and before and after each restart): a plan in force
   that disappears (the site back to "no plan") or is replaced by an older one is *lost*;
4. stops everything and prints faults by kind, commands written (and any outside a limit),
   plans lost, unhandled exceptions in the logs (``scripts.soak_logs``), and each process's
   memory (RSS) at start and end, then the line
   ``soak: F faults, C commands, U outside limits, L plans lost, E exceptions``.

Exit code 0 when U, L and E are all 0; 1 otherwise or when the stack fails; 2 when the soak
could not start.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
import os
from pathlib import Path
import random
import shutil
import signal
import sys
import tempfile
import time

from scripts import demo
from scripts.sim_thread import SimThread
from scripts.soak_faults import Injected, SimFaults
from scripts.soak_logs import Scan, scan
from scripts.soak_record import STORED, WriteRecorder

E = demo.E
KINDS = (
    "connection_drop",
    "exception_reply",
    "frozen_values",
    "out_of_range",
    "battery_ignores",
    "clock_jump",
    "ha_restart",
    "addon_restart",
)
HOLD_S: dict[str, tuple[float, float]] = {  # how long a simulator fault holds
    "frozen_values": (20.0, 150.0),
    "battery_ignores": (20.0, 90.0),
}
DEFAULT_HOLD_S = (10.0, 30.0)
GAP_S = (20.0, 60.0)  # the pause after a fault
MIN_GAP_S = 8.0
MIN_HOLD_S = 6.0
SAMPLE_EVERY_S = 5.0
REPEAT_EVERY_S = 3.0
KILL_CHANCE = 1 / 3
SETTLE_S = 20.0  # after the last fault, before the final checks
PUSH_WAIT_S = 120.0  # after an add-on restart: its first plan
RECEIVED_TOLERANCE = timedelta(seconds=20)  # the plan age is rounded to 0.1 min
SHOWN = 5  # examples per list in the report


class SoakError(Exception):
    """The soak could not go on (the message says why)."""


# --------------------------------------------------------------------------------------------
# The plan in force


@dataclass(frozen=True, slots=True)
class PlanSeen:
    """The plan as Home Assistant shows it."""

    reason: str | None  # why it may not be followed (plan_stale's reason), None: followed
    start: str | None  # its first step (plan_status's ``start``)
    received: datetime | None  # when ems received it (± 3 s: plan_age, when it was written)

    def __str__(self) -> str:
        """Short description."""
        if self.received is None:
            return f"no plan ({self.reason})"
        got = self.received.astimezone().strftime("%H:%M:%S")
        return f"plan from {self.start}, received {got}" + (
            f" ({self.reason})" if self.reason else ""
        )


def read_plan(api: demo.Api) -> PlanSeen | None:
    """The plan in force, None while Home Assistant or the ems entities do not answer."""
    try:
        stale = api.state(E["plan_stale"])
        if stale is None or stale["state"] not in ("on", "off"):
            return None
        status = api.state(E["plan_status"])
        age = api.state(E["plan_age"])
    except demo.DemoError:
        return None
    reason = stale["attributes"].get("reason")
    start = (status or {}).get("attributes", {}).get("start")
    received: datetime | None = None
    with contextlib.suppress(KeyError, TypeError, ValueError):
        # The age is written once a minute: count it from when it was last written.
        at = datetime.fromisoformat(age.get("last_reported") or age["last_updated"])  # type: ignore[union-attr]
        received = at - timedelta(minutes=float(age["state"]))  # type: ignore[index]
    if received is None and reason != "no_plan":
        return None  # the plan entities are not all up yet
    return PlanSeen(reason, start, received)


@dataclass
class PlanWatch:
    """The newest plan seen, and the plans lost (gone, or replaced by an older one)."""

    best: PlanSeen | None = None
    losses: list[str] = field(default_factory=list)
    _losing: bool = False

    def judge(self, seen: PlanSeen | None, where: str) -> None:
        """Look at the plan in force (None: nothing to see now)."""
        if seen is None:
            return
        best = self.best
        lost = None
        if best is not None and best.received is not None:
            if seen.received is None:
                lost = f"{where}: the plan disappeared (had {best})"
            elif seen.received < best.received - RECEIVED_TOLERANCE:
                lost = f"{where}: an older plan came back ({seen}; had {best})"
        if lost is not None:
            if not self._losing:  # one loss until a good plan shows again
                self.losses.append(lost)
                print(f"soak: PLAN LOST {lost}", flush=True)
            self._losing = True
            return
        self._losing = False
        if seen.received is not None and (best is None or seen.received > best.received):  # type: ignore[operator]
            self.best = seen


# --------------------------------------------------------------------------------------------
# Processes


def rss_mib(pid: int | None) -> float | None:
    """A process's resident memory (MiB), None if it does not run."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def stop_proc(proc: demo.Proc, kill: bool) -> None:
    """Stop a process: SIGTERM and wait (``Proc.stop``), or SIGKILL its group at once."""
    if kill and proc.popen is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.popen.pid, signal.SIGKILL)
        proc.popen.wait(30)
    else:
        proc.stop()


# --------------------------------------------------------------------------------------------
# The soak


@dataclass
class Soak:
    """A running soak: the stack, the fault injection, and what was seen."""

    site: demo.Demo
    sim: SimThread
    recorder: WriteRecorder
    rng: random.Random
    timeout: float
    faults: Counter[str] = field(default_factory=Counter)
    plans: PlanWatch = field(default_factory=PlanWatch)
    restarts: Counter[str] = field(default_factory=Counter)
    memory: dict[str, list[float | None]] = field(default_factory=dict)
    began: float = field(default_factory=time.monotonic)
    hass_logs: int = 0

    def say(self, text: str) -> None:
        """One line of the soak's story, with the seconds since it began."""
        print(f"soak: [{time.monotonic() - self.began:5.0f} s] {text}", flush=True)

    def proc(self, name: str) -> demo.Proc:
        """A process of the stack (hass, optimizer)."""
        proc = self.site.proc(name)
        if proc is None:
            raise SoakError(f"no {name} process")
        return proc

    def note_memory(self) -> None:
        """Note each process's RSS (a second call notes the end)."""
        pids = {
            "hass": self.proc("hass").pid,
            "optimizer": self.proc("optimizer").pid,
            "soak + simulator": os.getpid(),
        }
        for name, pid in pids.items():
            self.memory.setdefault(name, []).append(rss_mib(pid))

    # --- time ---------------------------------------------------------------------------------

    def pause(self, seconds: float, repeat: Callable[[], None] | None = None) -> None:
        """Wait, watching the plan (and repeating a fault's action) meanwhile."""
        end = time.monotonic() + max(0.0, seconds)
        next_sample = next_repeat = time.monotonic()
        while (now := time.monotonic()) < end:
            for proc in self.site.procs:
                proc.ensure_alive("soak")
            if repeat is not None and now >= next_repeat:
                repeat()
                next_repeat = now + REPEAT_EVERY_S
            if now >= next_sample:
                self.plans.judge(read_plan(self.site.api), "while running")
                next_sample = time.monotonic() + SAMPLE_EVERY_S
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))

    def run(self, minutes: float) -> None:
        """Inject faults for ``minutes`` (every kind at least once), then let things settle."""
        deadline = self.began + minutes * 60
        pending = list(KINDS)
        self.rng.shuffle(pending)
        while pending or deadline - time.monotonic() > MIN_GAP_S + MIN_HOLD_S:
            kind = pending.pop(0) if pending else self.rng.choice(KINDS)
            left = max(0.0, deadline - time.monotonic())
            # Every kind still due must fit: share what is left between them.
            budget = left / (len(pending) + 1) if pending else None
            started = time.monotonic()
            self.inject(kind, budget)
            spent = time.monotonic() - started
            gap = self.rng.uniform(*GAP_S)
            if budget is not None:
                gap = min(gap, budget - spent)
            gap = min(max(MIN_GAP_S, gap), max(MIN_GAP_S, deadline - time.monotonic()))
            self.pause(gap)
        self.say(f"fault phase over; {SETTLE_S:.0f} s to settle")
        self.pause(SETTLE_S)

    # --- faults -------------------------------------------------------------------------------

    def inject(self, kind: str, budget: float | None) -> None:
        """Inject one fault of ``kind`` and clear it (restarts: stop and start again)."""
        self.faults[kind] += 1
        if kind == "ha_restart":
            self.say(f"{kind}: {self.restart_hass(self.rng.random() < KILL_CHANCE)}")
            return
        if kind == "addon_restart":
            self.say(f"{kind}: {self.restart_addon(self.rng.random() < KILL_CHANCE)}")
            return
        low, high = HOLD_S.get(kind, DEFAULT_HOLD_S)
        hold = self.rng.uniform(low, high)
        if budget is not None:
            hold = max(MIN_HOLD_S, min(hold, 0.5 * budget))
        injected: Injected = getattr(SimFaults(self.sim, self.rng), kind)()
        if kind == "clock_jump":
            self.say(f"{kind}: {injected.what}")
            return
        self.say(f"{kind}: {injected.what}, for {hold:.0f} s")
        try:
            self.pause(hold, injected.repeat)
        finally:
            injected.clear()

    def restart_hass(self, kill: bool) -> str:
        """Stop Home Assistant and start it again; check the plan survived."""
        hass = self.proc("hass")
        before = read_plan(self.site.api)
        self.plans.judge(before, "before a Home Assistant restart")
        started = time.monotonic()
        stop_proc(hass, kill)
        self.save_hass_log()
        hass.start(append=True)
        demo.wait_for_core(self.site.api, hass, self.timeout)
        after = self.wait_for_plan_entities()
        self.plans.judge(after, "after a Home Assistant restart")
        self.restarts["hass"] += 1
        how = "killed (SIGKILL)" if kill else "stopped (SIGTERM)"
        took = time.monotonic() - started
        return f"Home Assistant {how} and back in {took:.0f} s; before: {before}; after: {after}"

    def wait_for_plan_entities(self) -> PlanSeen | None:
        """After a restart: wait until the site entry is loaded and its plan entities answer."""
        step = "soak: the ems entry after a restart"

        def ready() -> PlanSeen | None:
            with contextlib.suppress(demo.DemoError):
                if demo.entry_state(self.site.api, self.site.entry_id, step) == "loaded":
                    return read_plan(self.site.api)
            return None

        return demo.wait_until(ready, self.timeout, step, self.site.procs, every=2)

    def restart_addon(self, kill: bool) -> str:
        """Stop the add-on and start it again; check its next plan is not older."""
        addon = self.proc("optimizer")
        self.plans.judge(read_plan(self.site.api), "before an add-on restart")
        pushed = self.pushes()
        stop_proc(addon, kill)
        addon.start(append=True)
        deadline = time.monotonic() + PUSH_WAIT_S
        while self.pushes() <= pushed and time.monotonic() < deadline:
            self.pause(2)
        after = read_plan(self.site.api)
        self.plans.judge(after, "after an add-on restart")
        self.restarts["optimizer"] += 1
        how = "killed (SIGKILL)" if kill else "stopped (SIGTERM)"
        new = "pushed a plan" if self.pushes() > pushed else "no plan pushed yet"
        return f"add-on {how} and started again, {new}; now: {after}"

    def pushes(self) -> int:
        """How many plans the add-on logged as pushed so far."""
        try:
            return self.proc("optimizer").log.read_text(errors="replace").count("plan pushed")
        except OSError:
            return 0

    def save_hass_log(self) -> None:
        """Keep Home Assistant's log (it moves it aside on start, keeping only one)."""
        log = self.site.work / "config" / "home-assistant.log"
        if log.is_file():
            self.hass_logs += 1
            keep = self.site.work / "logs" / f"home-assistant.{self.hass_logs}.log"
            keep.parent.mkdir(exist_ok=True)
            shutil.copyfile(log, keep)


# --------------------------------------------------------------------------------------------
# Report


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def report(soak: Soak, logs: Scan, *, minutes: float, seed: int) -> tuple[int, int, int, int]:
    """Print the report; return (commands, outside limits, plans lost, exceptions)."""
    writes = soak.recorder.writes
    bad = [w for w in writes if w.problems]
    outcomes = Counter(w.outcome for w in writes)
    points = Counter(f"unit {w.unit} {w.key}" for w in writes)
    print(f"\nsoak report ({minutes:g} min, seed {seed}, work dir {soak.site.work})")
    print("  faults injected:")
    for kind in KINDS:
        print(f"    {kind:<18}{soak.faults[kind]:>5}")
    print(f"  commands written: {len(writes)} ({outcomes[STORED]} stored, ", end="")
    print(
        ", ".join(f"{n} {o}" for o, n in outcomes.items() if o != STORED) or "none refused", end=""
    )
    print("): " + ", ".join(f"{k} ×{n}" for k, n in points.most_common()))
    print(f"  commands outside limits: {len(bad)}")
    for w in bad[:SHOWN]:
        print(f"    {w.sim:%H:%M:%S} unit {w.unit} {w.key}={w.value} ({w.outcome}): {w.problems}")
    print(f"  plans lost: {len(soak.plans.losses)}")
    for loss in soak.plans.losses[:SHOWN]:
        print(f"    {loss}")
    print(f"  unhandled exceptions in the logs: {logs.exception_count}")
    for (source, line), count in logs.exceptions.most_common(SHOWN):
        example = logs.examples[(source, line)]
        print(f"    [{source}] ×{count} {line}\n        … {example.last_line[:200]}")
    print(f"  handled errors (expected from the faults): {logs.handled_count}")
    for (source, line), count in logs.handled.most_common(SHOWN):
        print(f"    [{source}] ×{count} {line}")
    print("  memory (RSS, MiB)      start    end  restarts")
    for name, values in soak.memory.items():
        start, end = values[0], values[-1]
        print(f"    {name:<18}{_mib(start):>7}{_mib(end):>7}{soak.restarts[name]:>10}")
    return len(writes), len(bad), len(soak.plans.losses), logs.exception_count


def scan_logs(work: Path) -> Scan:
    """The logs of the run: Home Assistant's (each one kept), the add-on's, the soak's."""
    hass = sorted((work / "logs").glob("home-assistant.*.log"), key=lambda p: p.stat().st_mtime)
    return scan(
        [
            *(("hass", path) for path in hass),
            ("optimizer", work / "optimizer.log"),
            ("soak", work / "soak.log"),
        ]
    )


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES") or 30)
    )
    seed = os.environ.get("SOAK_SEED")
    parser.add_argument("--seed", type=int, default=int(seed) if seed else None)
    parser.add_argument(
        "--speed", type=float, default=20.0, help="simulated seconds per real second"
    )
    parser.add_argument("--dir", type=Path, default=None, help="work dir (default: a new one)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed per phase")
    parser.add_argument(
        "--battery-profile",
        default=os.environ.get("SOAK_BATTERY") or demo.BATTERY_PROFILE,
        help="the battery's profile: a vendor's soaks its registers and command logic",
    )
    return parser.parse_args(argv)


def _logging(work: Path) -> None:
    """The soak's own log (the in-process simulator's warnings and errors)."""
    handler = logging.FileHandler(work / "soak.log")
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s.%(msecs)03d %(levelname)s (%(threadName)s) [%(name)s] %(message)s",
            "%Y-%m-%d %H:%M:%S",
        )
    )
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def start_stack(args: argparse.Namespace, sim: SimThread, procs: list[demo.Proc]) -> demo.Demo:
    """Home Assistant with ems (the demo's setup) and the add-on; wait for the first plan."""
    dargs = ["--dir", str(args.dir), "--timeout", str(args.timeout)]
    dargs += ["--battery-profile", args.battery_profile]
    site = demo.start(
        demo.parse_args([*dargs, "--no-addon", "--no-community"]), procs, sim_port=sim.port
    )
    demo.start_addon(site)
    for echo in site.echoes:  # the soak tells its own story
        echo.stopped.set()
    print("soak: waiting for the add-on's first plan", flush=True)
    demo.wait_for_plan(site, args.timeout)
    return site


def soak(args: argparse.Namespace, seed: int, procs: list[demo.Proc]) -> int:
    """Run the stack, the faults and the report; return the exit code."""
    with SimThread(demo.sim_start_time(), args.speed, battery_profile=args.battery_profile) as sim:
        recorder = sim.call(WriteRecorder.install)
        site = start_stack(args, sim, procs)
        run = Soak(site, sim, recorder, random.Random(seed), args.timeout)
        run.plans.judge(read_plan(site.api), "at start")
        run.note_memory()
        run.say(f"stack up; faults for {args.minutes:g} min from now")
        run.began = time.monotonic()
        run.run(args.minutes)
        run.plans.judge(read_plan(site.api), "at the end")
        run.note_memory()
        demo.stop_all(procs, site.echoes)
        run.save_hass_log()
        recorder.save(args.dir / "writes.csv")
    logs = scan_logs(args.dir)
    commands, outside, lost, exceptions = report(run, logs, minutes=args.minutes, seed=seed)
    faults = sum(run.faults.values())
    print(
        f"soak: {faults} faults, {commands} commands, {outside} outside limits, "
        f"{lost} plans lost, {exceptions} exceptions",
        flush=True,
    )
    return 1 if outside or lost or exceptions else 0


def main(argv: list[str] | None = None) -> int:
    """Run the soak; return the process exit code."""
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    args.dir = (args.dir or Path(tempfile.mkdtemp(prefix="ems-soak-"))).resolve()
    args.dir.mkdir(parents=True, exist_ok=True)
    _logging(args.dir)
    print(
        f"soak: {args.minutes:g} min of faults, seed {seed} (SOAK_SEED={seed} repeats it), "
        f"simulator at {args.speed:g}×, work dir {args.dir}",
        flush=True,
    )
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, demo.raise_interrupt)
    procs: list[demo.Proc] = []
    try:
        return soak(args, seed, procs)
    except KeyboardInterrupt:
        print("\nsoak: interrupted", file=sys.stderr, flush=True)
        return 1
    except demo.DemoBusy as err:
        print(f"soak: not started: {err}", file=sys.stderr, flush=True)
        return 2
    except (demo.DemoError, SoakError) as err:
        print(f"soak: FAILED: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        demo.stop_all(procs)
        demo.release_lock(args.dir)


if __name__ == "__main__":
    sys.exit(main())
