"""Mode auto carries out the plan step's intent when the real load departs from the forecast.

A real Home Assistant with ems and the simulator (the ``site`` fixture, one for this module).
Each test pushes a plan of its own through ``ems.set_plan`` (validated here first by the
contract's one validator): 15-minute steps, every one with the same intent, the first starting
one minute before now. Not on the quarter-hour grid, on purpose: a test lasts less than a
minute, so it always runs early in a step, never in the last minute where the executor squeezes
the SOC tracking (and where a 0.1 % SOC register is worth hundreds of watts): the expected powers
hold to ±150 W whenever the test runs. The forecast behind it is a flat house load of
``BASE_LOAD_W``; then a kettle the forecast did not know (``KETTLE_W`` added to the simulator's
load) checks what each intent does with the departure (``EMS_E2E_SAMPLES=1`` and ``-s`` print
every sample):

* ``self_consumption``: the battery takes the kettle, the grid comes back near 0 W; without the
  kettle it goes back to the forecast's load;
* ``charge``: the battery keeps charging at the tracked power; the grid takes the kettle;
* ``hold``: the battery never discharges; the grid takes the kettle;
* ``discharge``: never charges, never exports (at most the house's net load);
* ``export``: never charges, exports what the plan meant to.

The control experiment (the last test) pushes the same forecast as an older plan without
intents: its planned power is replayed and the grid keeps the kettle, which is what the
``self_consumption`` test would see without the executor (its check must fail there).

Determinism, and why the add-on is stopped: the fixture's add-on loop pushes a plan on every
aligned quarter hour and whenever the problem it polls (every 15 s) changes, which would replace
ours mid-test; it has no documented pause, and pushing again before each check would race with
it. This module therefore stops the add-on's process once, at its start (as ``test_serve_once``
does in ``test_site.py``); the ``site`` fixture is per module, so no other module is affected.
The simulator is made flat for the module (restored at its end): no PV (``pv.scale`` 0), the
house load from the data off (``load_scale`` 0) and replaced by ``BASE_LOAD_W`` through
``extra_load_w``, the battery at 50 % SOC: no PV surplus, no SOC limit, no grid limit can bind,
and every expected number is known in advance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math
import os
import time
from typing import Any

import pytest

from ems_core.contract import validate_plan

from .harness import Site, demo

E = demo.E
pytestmark = pytest.mark.e2e

BASE_LOAD_W = 400.0  # the house load the plan's forecast expects
KETTLE_W = 1500.0  # what the forecast did not know
STEP_MINUTES = 15
STEPS = 8  # two hours from the current step's boundary
SOURCE = "e2e test_intents"
START_SOC = 50.0
EFFICIENCY = 0.95  # the simulator's one-way efficiency, as the executor assumes
GRID_TOLERANCE_W = 150.0  # "near 0 W" for the grid
SETTLE_S = 45.0  # bound on the time for the battery to take (or give back) a load step
HOLD_S = 12.0  # how long a settled state is watched (two to three control ticks)
WATCH_S = 20.0  # how long an intent is watched with the kettle on (four control ticks)


# --- the site, made flat -----------------------------------------------------------------------


@dataclass(frozen=True)
class Lab:
    """The site with the add-on stopped and a flat simulator; the battery's ratings."""

    site: Site
    capacity_wh: float
    max_charge_w: float
    max_discharge_w: float


def _set_load(site: Site, watts: float) -> None:
    def apply(sim: Any) -> None:
        sim.site.meter.extra_load_w = watts
        sim.site.refresh()

    site.sim.call(apply)


@pytest.fixture(scope="module")
def lab(site: Site) -> Iterator[Lab]:
    """Stop the add-on (it would replace our plans), flatten the simulator, mode auto."""
    addon = site.demo.proc("optimizer")
    if addon is not None:
        addon.stop()
        site.demo.procs.remove(addon)

    def flatten(sim: Any) -> tuple[float, float, float, float, float, float]:
        saved = (sim.site.pv.scale, sim.site.meter.load_scale, sim.site.meter.extra_load_w)
        sim.site.pv.scale = 0.0
        sim.site.meter.load_scale = 0.0
        sim.site.meter.extra_load_w = BASE_LOAD_W
        sim.site.battery.soc = START_SOC
        sim.site.refresh()
        p = sim.site.battery.p
        return (*saved, p.capacity_wh, p.max_charge_w, p.max_discharge_w)

    pv_scale, load_scale, extra, capacity, charge_w, discharge_w = site.sim.call(flatten)
    site.service("switch", "turn_on", {"entity_id": E["grid_charging"]})
    site.service("select", "select_option", {"entity_id": E["mode"], "option": "auto"})
    try:
        yield Lab(site, capacity, charge_w, discharge_w)
    finally:

        def restore(sim: Any) -> None:
            sim.site.pv.scale = pv_scale
            sim.site.meter.load_scale = load_scale
            sim.site.meter.extra_load_w = extra
            sim.site.refresh()

        site.sim.call(restore)


# --- plans -------------------------------------------------------------------------------------


def _soc_targets(
    capacity_wh: float, now: datetime, start: datetime, soc: float, power_w: float
) -> list[float]:
    """End-of-step SOC of a battery at ``power_w`` (AC, + charge) from ``soc`` now.

    The executor asks for (target − SOC) × capacity / η / time left when charging (× η when
    discharging): with these targets it asks for ``power_w`` all along, whatever the step.
    """
    per_hour = (power_w * EFFICIENCY if power_w >= 0 else power_w / EFFICIENCY) / capacity_wh
    targets = []
    for k in range(STEPS):
        end = start + timedelta(minutes=STEP_MINUTES * (k + 1))
        hours = (end - now) / timedelta(hours=1)
        targets.append(round(min(99.0, max(11.0, soc + 100.0 * per_hour * hours)), 3))
    return targets


def _plan(lab: Lab, kind: str | None, battery_w: float) -> dict[str, Any]:
    """A valid plan from one minute ago: every step ``kind`` at ``battery_w``.

    ``kind`` None: an older plan without intents (its battery power is replayed).
    """
    now = datetime.now(UTC)
    start = now.replace(microsecond=0) - timedelta(minutes=1)
    soc = float(lab.site.sim.call(lambda sim: sim.site.battery.soc))
    tracked = kind in ("charge", "discharge", "export")
    targets = _soc_targets(lab.capacity_wh, now, start, soc, battery_w if tracked else 0.0)
    grid = [BASE_LOAD_W + battery_w] * STEPS
    hours = STEP_MINUTES / 60
    plan: dict[str, Any] = {
        "version": 1,
        "start": start.isoformat(timespec="seconds"),
        "step_minutes": STEP_MINUTES,
        "horizon_steps": STEPS,
        "status": "optimal",
        "objective_value": None,
        "solve_time_ms": 0,
        "build_time_ms": 0,
        "grid_w": grid,
        "battery_w": [battery_w] * STEPS,
        "soc_pct": [round(soc, 3), *targets],
        "pv_used_w": [0.0] * STEPS,
        "appliances": {},
        "warnings": [],
        "report": {
            "consumer_count": 1,
            "import_wh": sum(max(g, 0.0) for g in grid) * hours,
            "export_wh": sum(max(-g, 0.0) for g in grid) * hours,
            "cost_eur": None,
            "self_consumption_pct": 100.0,
            "deficit_min_hour": {"start": None, "w": None},
            "deficit_max_hour": {"start": None, "w": None},
        },
        "curves": {
            "net_without_flexible_w": [BASE_LOAD_W] * STEPS,
            "net_with_flexible_w": grid,
        },
    }
    if kind is not None:
        reason = {
            "self_consumption": "cover_load",
            "hold": "keep_for_later",
            "charge": "cheap_grid_now",
            "discharge": "expensive_now",
            "export": "sell_high",
        }[kind]
        plan["intents"] = [
            {
                "kind": kind,
                "power_w": battery_w,
                "soc_target_pct": target if tracked else round(soc, 3),
                "reason": reason,
            }
            for target in targets
        ]
    return validate_plan(plan)


def _push(lab: Lab, kind: str | None, battery_w: float) -> None:
    """Push the plan and wait until ems follows it (mode auto, the intent shown)."""
    site = lab.site
    plan = _plan(lab, kind, battery_w)
    site.service(
        "ems",
        "set_plan",
        {"plan": plan, "source": SOURCE, "config_entry_id": site.demo.entry_id},
    )
    site.service("select", "select_option", {"entity_id": E["mode"], "option": "auto"})

    def following() -> bool:
        mode = site.state(E["mode"])
        if mode["state"] != "auto" or mode["attributes"].get("effective_mode") != "auto":
            return False
        if site.value(E["plan_status"]) != "optimal":
            return False
        start = site.state(E["plan_status"])["attributes"].get("start")
        if start is None or datetime.fromisoformat(start) != datetime.fromisoformat(plan["start"]):
            return False
        intent = site.value(E["battery_intent"])
        return intent == (kind or "unavailable")

    site.wait(following, 30, f"ems follows the pushed plan ({kind or 'no intents'})")


# --- measuring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """What Home Assistant shows of the site at one moment (s since the load step)."""

    t: float
    grid_w: float | None
    setpoint_w: float | None
    battery_w: float | None
    reason: str
    intent: str

    def __str__(self) -> str:
        return (
            f"t={self.t:.0f}s grid={self.grid_w} setpoint={self.setpoint_w} "
            f"battery={self.battery_w} reason={self.reason} intent={self.intent}"
        )


def _sample(site: Site, since: float) -> Sample:
    return Sample(
        t=time.monotonic() - since,
        grid_w=site.number(E["grid_power"]),
        setpoint_w=site.number(E["setpoint"]),
        battery_w=site.number(E["battery_power"]),
        reason=site.value(E["limit_reason"]),
        intent=site.value(E["battery_intent"]),
    )


def _near(value: float | None, target: float, tolerance: float) -> bool:
    return value is not None and abs(value - target) <= tolerance


def _until(
    site: Site, ok: Callable[[Sample], bool], timeout: float, what: str
) -> tuple[float, list[Sample]]:
    """Sample every second until ``ok`` holds; its time (s) and the samples seen so far."""
    since = time.monotonic()
    seen: list[Sample] = []
    while True:
        for proc in site.demo.procs:
            proc.ensure_alive(what)
        seen.append(_sample(site, since))
        if ok(seen[-1]):
            return seen[-1].t, seen
        if seen[-1].t > timeout:
            pytest.fail(f"{what}: not after {timeout:.0f} s; last samples:\n{_dump(seen[-10:])}")
        time.sleep(1.0)


def _watch(site: Site, seconds: float) -> list[Sample]:
    """Samples every second for ``seconds``."""
    since = time.monotonic()
    seen = [_sample(site, since)]
    while seen[-1].t < seconds:
        time.sleep(1.0)
        seen.append(_sample(site, since))
    return seen


def _dump(samples: list[Sample]) -> str:
    return "\n".join(map(str, samples))


def _report(what: str, samples: list[Sample]) -> None:
    grids = [s.grid_w for s in samples if s.grid_w is not None]
    setpoints = [s.setpoint_w for s in samples if s.setpoint_w is not None]
    print(
        f"\n{what}: {len(samples)} samples over {samples[-1].t:.0f} s; grid "
        f"{min(grids):.0f}..{max(grids):.0f} W, setpoint {min(setpoints):.0f}.."
        f"{max(setpoints):.0f} W, reasons {sorted({s.reason for s in samples})}"
    )
    if os.environ.get("EMS_E2E_SAMPLES"):
        print(_dump(samples))


@pytest.fixture
def kettle(lab: Lab) -> Iterator[Callable[[bool], None]]:
    """Switch the kettle on or off; off again, and mode auto, whatever the test did."""
    site = lab.site
    try:
        yield lambda on: _set_load(site, BASE_LOAD_W + (KETTLE_W if on else 0.0))
    finally:
        _set_load(site, BASE_LOAD_W)
        site.service("select", "select_option", {"entity_id": E["mode"], "option": "auto"})


# --- the intents -------------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_self_consumption_covers_an_unforeseen_load(
    lab: Lab, kettle: Callable[[bool], None]
) -> None:
    """Self-consumption follows the real deficit: the battery takes the kettle, then gives it back.

    The plan expected the house's 400 W (battery −400 W); the kettle adds 1500 W. A replay of
    the planned power would leave the grid at +1500 W (see the last test); the intent's PI loop
    brings it back near 0 W within ``SETTLE_S`` and keeps it there.
    """
    site = lab.site
    kettle(False)
    _push(lab, "self_consumption", -BASE_LOAD_W)

    def covers(load: float) -> Callable[[Sample], bool]:
        return lambda s: (
            _near(s.grid_w, 0, GRID_TOLERANCE_W) and _near(s.setpoint_w, -load, GRID_TOLERANCE_W)
        )

    _until(site, covers(BASE_LOAD_W), SETTLE_S, "the battery covers the forecast's load")

    kettle(True)
    took, seen = _until(
        site, covers(BASE_LOAD_W + KETTLE_W), SETTLE_S, "the battery takes the kettle"
    )
    steady = _watch(site, HOLD_S)
    _report(f"self_consumption, kettle on: settled in {took:.0f} s", seen)
    _report("self_consumption, kettle on, settled", steady)
    for sample in steady:
        assert _near(sample.grid_w, 0, GRID_TOLERANCE_W), _dump(steady)
        assert sample.setpoint_w is not None, _dump(steady)
        assert sample.setpoint_w <= -(BASE_LOAD_W + KETTLE_W) + GRID_TOLERANCE_W, _dump(steady)
        assert sample.reason in ("none", "ramp"), _dump(steady)  # nothing binds here
        assert sample.intent == "self_consumption"

    kettle(False)
    back, seen = _until(site, covers(BASE_LOAD_W), SETTLE_S, "the battery gives the kettle back")
    _report(f"self_consumption, kettle off: settled in {back:.0f} s", seen)
    # Charging from the grid while backing off would be an overshoot of the loop.
    assert all(s.setpoint_w is None or s.setpoint_w <= 0 for s in seen), _dump(seen)


@pytest.mark.timeout(180)
def test_charge_keeps_charging_and_the_grid_takes_the_load(
    lab: Lab, kettle: Callable[[bool], None]
) -> None:
    """Charge tracks its SOC target: the kettle neither stops the charge nor makes it discharge.

    The targets ask for 1000 W all along; the setpoint stays inside the battery's ratings and
    the grid carries the house, the kettle and the charge.
    """
    site = lab.site
    power = 1000.0
    kettle(False)
    _push(lab, "charge", power)
    _until(
        site,
        lambda s: _near(s.setpoint_w, power, 150) and _near(s.battery_w, power, 150),
        SETTLE_S,
        "the battery charges at the tracked power",
    )

    kettle(True)
    seen = _watch(site, WATCH_S)
    _report("charge, kettle on", seen)
    for sample in seen:
        assert sample.setpoint_w is not None, _dump(seen)
        assert 0 < sample.setpoint_w <= lab.max_charge_w, _dump(seen)
        assert _near(sample.setpoint_w, power, 150), _dump(seen)  # the kettle changes nothing
        assert sample.battery_w is not None, _dump(seen)
        assert sample.battery_w > 0, _dump(seen)
        assert sample.intent == "charge"
    last = seen[-1]
    assert last.setpoint_w is not None
    expected = BASE_LOAD_W + KETTLE_W + last.setpoint_w
    assert _near(last.grid_w, expected, GRID_TOLERANCE_W), _dump(seen)


@pytest.mark.timeout(180)
def test_hold_never_discharges_for_an_unforeseen_load(
    lab: Lab, kettle: Callable[[bool], None]
) -> None:
    """Hold keeps the energy for later: with the kettle on the battery stays at 0 W, never below."""
    site = lab.site
    kettle(False)
    _push(lab, "hold", 0.0)
    _until(
        site,
        lambda s: _near(s.setpoint_w, 0, 10) and _near(s.grid_w, BASE_LOAD_W, GRID_TOLERANCE_W),
        SETTLE_S,
        "the battery holds (0 W, the grid takes the house)",
    )

    kettle(True)
    seen = _watch(site, WATCH_S)
    _report("hold, kettle on", seen)
    for sample in seen:
        assert sample.setpoint_w is not None, _dump(seen)
        assert sample.setpoint_w >= 0, _dump(seen)
        assert sample.battery_w is not None, _dump(seen)
        assert sample.battery_w >= -10, _dump(seen)
        assert sample.intent == "hold"
    assert _near(seen[-1].grid_w, BASE_LOAD_W + KETTLE_W, GRID_TOLERANCE_W), _dump(seen)


@pytest.mark.timeout(180)
def test_discharge_never_charges_nor_exports(lab: Lab, kettle: Callable[[bool], None]) -> None:
    """Discharge tracks its target, never charges, and never discharges into the grid.

    With the kettle on, the battery gives the 1000 W planned and the grid the rest; with the
    kettle off the house needs only 400 W: the battery gives those, not the 1000 W (no export).
    """
    site = lab.site
    power = -1000.0
    kettle(True)
    _push(lab, "discharge", power)
    _until(
        site,
        lambda s: (
            _near(s.setpoint_w, power, 150)
            and _near(s.grid_w, BASE_LOAD_W + KETTLE_W + power, GRID_TOLERANCE_W + 150)
        ),
        SETTLE_S,
        "the battery discharges at the tracked power, the grid gives the rest",
    )

    kettle(False)
    took, seen = _until(
        site,
        lambda s: (
            _near(s.setpoint_w, -BASE_LOAD_W, GRID_TOLERANCE_W)
            and _near(s.grid_w, 0, GRID_TOLERANCE_W)
        ),
        SETTLE_S,
        "the battery gives only what the house needs",
    )
    steady = _watch(site, HOLD_S)
    _report(f"discharge, kettle off: settled in {took:.0f} s", seen + steady)
    for sample in seen + steady:
        assert sample.setpoint_w is not None, _dump(seen + steady)
        assert sample.setpoint_w <= 0, _dump(seen + steady)
    for sample in steady:
        assert sample.grid_w is not None, _dump(steady)
        assert sample.grid_w >= -GRID_TOLERANCE_W, _dump(steady)  # no export
        assert sample.intent == "discharge"


@pytest.mark.timeout(180)
def test_export_never_charges(lab: Lab, kettle: Callable[[bool], None]) -> None:
    """Export discharges at the tracked power into the grid; never charges, kettle or not."""
    site = lab.site
    power = -1000.0
    kettle(False)
    _push(lab, "export", power)
    _until(
        site,
        lambda s: (
            _near(s.setpoint_w, power, 150)
            and _near(s.grid_w, BASE_LOAD_W + power, GRID_TOLERANCE_W + 150)
        ),
        SETTLE_S,
        "the battery exports at the tracked power",
    )
    kettle(True)
    seen = _watch(site, HOLD_S)
    _report("export, kettle on", seen)
    for sample in seen:
        assert sample.setpoint_w is not None, _dump(seen)
        assert sample.setpoint_w < 0, _dump(seen)
        assert _near(sample.setpoint_w, power, 150), _dump(seen)
        assert sample.intent == "export"


@pytest.mark.timeout(180)
def test_a_plan_without_intents_replays_its_power(lab: Lab, kettle: Callable[[bool], None]) -> None:
    """The control experiment: an older plan (no intents) replays −400 W; the grid keeps 1500 W.

    The same forecast and kettle as the self-consumption test: what that test checks (the grid
    back near 0 W) fails here, so it can fail.
    """
    site = lab.site
    kettle(False)
    _push(lab, None, -BASE_LOAD_W)
    _until(
        site,
        lambda s: _near(s.setpoint_w, -BASE_LOAD_W, 10) and _near(s.grid_w, 0, GRID_TOLERANCE_W),
        SETTLE_S,
        "the planned power is replayed",
    )
    kettle(True)
    seen = _watch(site, WATCH_S)
    _report("no intents, kettle on", seen)
    assert all(_near(s.setpoint_w, -BASE_LOAD_W, 10) for s in seen), _dump(seen)
    assert _near(seen[-1].grid_w, KETTLE_W, GRID_TOLERANCE_W), _dump(seen)
    assert not any(_near(s.grid_w, 0, GRID_TOLERANCE_W) for s in seen[-5:]), _dump(seen)


def test_soc_targets_ask_for_the_power() -> None:
    """The plan's SOC targets make the executor ask for the intended power (no site needed)."""
    from ems_core.executor import Intent, Measured, execute

    now = datetime(2026, 1, 1, 12, 7, 30, tzinfo=UTC)
    start = now - timedelta(minutes=1)
    for power, kind in ((1000.0, "charge"), (-1000.0, "discharge"), (-1000.0, "export")):
        target = _soc_targets(10_000.0, now, start, 50.0, power)[0]
        left = (start + timedelta(minutes=STEP_MINUTES) - now).total_seconds()
        measured = Measured(soc_pct=50.0, capacity_wh=10_000.0, net_w=5000.0, step_left_s=left)
        asked = execute(Intent(kind=kind, soc_target_pct=target), measured)
        assert asked is not None
        assert math.isclose(asked, power, abs_tol=5), (kind, target, asked)
