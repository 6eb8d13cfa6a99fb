"""Relay board: the 12 V backup battery, its charger and the four INA219 channels."""

from __future__ import annotations

import pytest
from sim_helpers import read_point, write_point

from ems_core.transport import ModbusTransport
from simulator import Simulator, Site


@pytest.fixture
def site() -> Site:
    """A site on the manual clock (no server)."""
    return Site.create(sunspec=False)


def test_default_state_charges(site: Site) -> None:
    unit = site.units[4]
    assert [unit.get(f"relay_{n}") for n in (1, 2, 3, 4)] == [True, True, False, False]
    assert unit.get("mains_present") is True
    assert unit.get("serial") == "SIMRELAY0001"
    site.step(600)
    assert unit.get("ch1_current") == pytest.approx(3.0)  # bulk: the charger's 3 A
    assert unit.get("ch1_shunt_voltage") == pytest.approx(300.0)  # 3 A × 0.1 Ω
    assert unit.get("ch2_current") == pytest.approx(3.0)
    assert unit.get("ch1_bus_voltage") == pytest.approx(unit.get("ch2_bus_voltage"))
    assert unit.get("ch1_power") == pytest.approx(
        unit.get("ch1_bus_voltage") * unit.get("ch1_current"), abs=0.02
    )
    assert unit.get("ch4_bus_voltage") > 18.5  # mains adapter
    assert unit.get("ch4_current") > 2.0
    assert unit.get("ch3_bus_voltage") == 0  # R3 open


def test_charging_climbs_to_absorption_then_float(site: Site) -> None:
    unit = site.units[4]
    volts = []
    for _ in range(8):
        site.step(1800)
        volts.append(unit.get("ch1_bus_voltage"))
    assert volts[0] > 13.0
    assert max(volts) == pytest.approx(14.4, abs=0.02)  # absorption
    assert volts == sorted(volts) or site.relay_board.stage == "float"
    site.step(8 * 3600)
    assert site.relay_board.stage == "float"
    assert unit.get("ch1_bus_voltage") == pytest.approx(13.8, abs=0.02)
    assert 0 < unit.get("ch1_current") < 0.4


def test_opening_r2_stops_charging_and_the_voltage_relaxes(site: Site) -> None:
    unit = site.units[4]
    site.step(1800)
    charging = unit.get("ch1_bus_voltage")
    assert charging > 13.3
    unit.command("relay_2", False)
    assert unit.get("ch1_current") == 0  # at once
    assert unit.get("ch1_bus_voltage") < charging
    assert unit.get("ch2_current") == 0
    assert unit.get("ch2_bus_voltage") == pytest.approx(14.4)  # idle charger, still powered
    site.step(900)
    rest = unit.get("ch1_bus_voltage")
    assert 11.9 <= rest < 12.9  # open-circuit voltage by SOC
    assert rest == pytest.approx(site.relay_board.ocv, abs=0.05)


def test_opening_r1_unpowers_the_charger(site: Site) -> None:
    unit = site.units[4]
    site.step(1800)
    unit.command("relay_1", False)
    assert unit.get("ch4_bus_voltage") == 0
    assert unit.get("ch4_current") == 0
    assert unit.get("ch2_bus_voltage") == 0
    site.step(900)
    assert unit.get("ch1_bus_voltage") < 12.9
    assert unit.get("mains_present") is True  # mains is upstream of R1


def test_load_on_r3_discharges_the_battery(site: Site) -> None:
    unit = site.units[4]
    unit.command("relay_2", False)
    site.step(1800)
    soc = site.relay_board.soc
    rest = unit.get("ch1_bus_voltage")
    unit.command("relay_3", True)
    load = unit.get("ch3_current")
    assert load == pytest.approx(1.5, abs=0.05)
    assert unit.get("ch3_shunt_voltage") == pytest.approx(load * 100, abs=0.05)
    assert unit.get("ch1_current") == pytest.approx(-load, abs=0.001)
    assert unit.get("ch1_shunt_voltage") < 0
    unit.command("relay_4", True)
    assert unit.get("ch1_current") == pytest.approx(-load - 0.2, abs=0.01)
    site.step(3600)
    assert unit.get("ch1_bus_voltage") < rest
    assert site.relay_board.soc == pytest.approx(soc - 1.7 / 40, abs=0.005)


def test_charger_feeds_the_load_first(site: Site) -> None:
    unit = site.units[4]
    unit.command("relay_3", True)
    site.step(60)
    assert unit.get("ch2_current") == pytest.approx(3.0)
    assert unit.get("ch1_current") == pytest.approx(3.0 - unit.get("ch3_current"), abs=0.002)


def test_mains_cut_stops_the_charger(site: Site) -> None:
    unit = site.units[4]
    site.step(1800)
    site.grid_available = False
    assert unit.get("mains_present") is False
    assert unit.get("ch4_bus_voltage") == 0
    assert unit.get("ch2_bus_voltage") == 0
    assert unit.get("ch1_current") == 0
    site.grid_available = True
    assert unit.get("mains_present") is True
    assert unit.get("ch1_current") > 0


async def test_relays_over_modbus(sim: Simulator, transport: ModbusTransport) -> None:
    sim.site.step(1800)
    assert await read_point(transport, 4, "relay_2") is True
    charging = await read_point(transport, 4, "ch1_bus_voltage")
    await write_point(transport, 4, "relay_2", False)
    assert await read_point(transport, 4, "relay_2") is False
    assert await read_point(transport, 4, "ch1_current") == 0
    sim.site.step(900)
    assert await read_point(transport, 4, "ch1_bus_voltage") < charging - 0.5
    await write_point(transport, 4, "relay_3", True)
    assert await read_point(transport, 4, "ch3_current") == pytest.approx(1.5, abs=0.05)
    assert await read_point(transport, 4, "mains_present") is True
