"""Faults injected into the simulated battery, against a real Home Assistant (issue F1-F4).

An alarm brings the battery to 0 W within 30 s and shows; frozen registers within 180 s;
rejected writes show within 60 s; NaN, inf and 1e308 on a number are refused and control goes
on (NaN reaches ems's own check: a 400 naming the entity; inf and 1e308 are refused by Home
Assistant's own range check first, which its REST API answers with a 500). One Home Assistant
for the module; each test leaves the battery healthy.
"""

from __future__ import annotations

import time

import pytest
import requests

from .harness import Site, demo

E = demo.E
pytestmark = pytest.mark.e2e

PROBLEM = "binary_sensor.battery_control_problem"
STATUS = "sensor.demo_site_status"
GRID_CHARGING = "switch.demo_site_charge_from_the_grid"


def _register(site: Site) -> float:
    return float(site.sim.call(lambda sim: sim.site.units[1].get("setpoint")))


def _discharge(site: Site, watts: float = -1500.0) -> None:
    """Manual mode, discharging (no grid charging involved), and wait until it is done."""
    site.service("number", "set_value", {"entity_id": E["manual_setpoint"], "value": watts})
    site.service("select", "select_option", {"entity_id": E["mode"], "option": "manual"})
    site.wait(lambda: abs(_register(site) - watts) <= 1, 60, f"the battery runs at {watts} W")


def _healthy(site: Site) -> None:
    site.wait(lambda: site.value(PROBLEM) == "off", 90, "the battery's problem clears")


@pytest.mark.timeout(180)
def test_alarm_brings_the_battery_to_zero(site: Site) -> None:
    _discharge(site)
    site.sim.call(lambda sim: sim.faults.device_fault(1))
    started = time.monotonic()
    site.wait(lambda: abs(_register(site)) <= 1, 30, "an alarm brings the battery to 0 W")
    assert time.monotonic() - started <= 30
    site.wait(lambda: site.value(PROBLEM) == "on", 15, "the problem sensor shows the alarm")
    assert site.state(PROBLEM)["attributes"]["problems"] == ["battery_alarm"]
    assert site.value(E["limit_reason"]) == "alarm"
    assert site.value(STATUS) == "batteries_held"
    # Cleared: the power comes back by ramps (never a jump back to the full setpoint).
    site.sim.call(lambda sim: sim.faults.device_fault(1, on=False))
    seen: list[float] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not seen or abs(seen[-1] + 1500) > 1):
        seen.append(_register(site))
        time.sleep(0.5)
    assert abs(seen[-1] + 1500) <= 1, seen
    between = [w for w in seen if -1500 + 1 < w < -1]
    assert between, f"the power jumped back instead of ramping: {seen}"
    _healthy(site)


@pytest.mark.timeout(300)
def test_frozen_registers_bring_the_battery_to_zero(site: Site) -> None:
    _discharge(site)
    site.sim.call(lambda sim: sim.faults.freeze(1))
    try:
        site.wait(lambda: abs(_register(site)) <= 1, 180, "frozen values bring the battery to 0 W")
        assert site.value(PROBLEM) == "on"
        assert "battery_stale" in site.state(PROBLEM)["attributes"]["problems"]
    finally:
        site.sim.call(lambda sim: sim.faults.unfreeze(1))
    _healthy(site)


@pytest.mark.timeout(240)
def test_rejected_writes_show(site: Site) -> None:
    site.service("number", "set_value", {"entity_id": E["manual_setpoint"], "value": -1000})
    site.service("select", "select_option", {"entity_id": E["mode"], "option": "manual"})
    site.sim.call(lambda sim: sim.faults.exception(1, 4, table="holding", writes_only=True))
    try:
        site.service("number", "set_value", {"entity_id": E["manual_setpoint"], "value": -2000})
        site.wait(lambda: site.value(PROBLEM) == "on", 60, "rejected writes show")
        attributes = site.state(PROBLEM)["attributes"]
        assert attributes["write_failures"] >= 2
        assert "battery_write_failed" in attributes["problems"]
        assert site.value(E["site_state"]) in ("degraded", "error")
    finally:
        site.sim.call(lambda sim: sim.faults.clear_exception(1))
    _healthy(site)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", 1e308])
def test_bad_numbers_are_refused(site: Site, value: object) -> None:
    entity_id = "number.demo_site_minimum_state_of_charge"
    before = site.value(entity_id)
    resp = requests.post(
        f"{site.demo.base}/api/services/number/set_value",
        json={"entity_id": entity_id, "value": value},
        headers={"Authorization": f"Bearer {site.demo.token}"},
        timeout=30,
    )
    if value == "nan":  # reaches ems's own check: a 400 naming the entity
        assert resp.status_code == 400, resp.text
        assert entity_id in resp.text
    else:
        # Out of range: Home Assistant's number platform refuses it before ems sees it, with
        # a ServiceValidationError its REST API (2025.4) answers as 500. Refused all the same.
        assert resp.status_code in (400, 500), resp.text
    assert site.value(entity_id) == before
    # Control goes on: the controller keeps ticking and its state is not an error.
    _discharge(site, -1200.0 if value != 1e308 else -1300.0)
    assert site.value(E["site_state"]) in ("running", "degraded")
