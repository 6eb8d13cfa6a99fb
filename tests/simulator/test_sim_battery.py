"""BESS model: SOC integration with efficiencies, power and SOC limits, electrical and thermal."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
import pytest
from sim_helpers import read_point, write_point

from ems_core.transport import DeviceError, ModbusTransport
from simulator import Simulator, Site


@pytest.fixture
def site() -> Site:
    """A site on the manual clock (no server)."""
    return Site.create(sunspec=False)


def test_charge_one_hour_stores_energy_times_efficiency(site: Site) -> None:
    bess, unit = site.battery, site.units[1]
    unit.command("setpoint", 2000)
    site.step(3600)
    # 2000 W × 1 h × 0.95 = 1900 Wh of a 10 kWh pack: +19 %
    assert bess.soc == pytest.approx(69.0, abs=1e-9)
    assert unit.get("soc") == 69
    assert unit.get("energy_charged") == pytest.approx(2.0)
    assert unit.get("energy_discharged") == 0
    assert unit.get("power") == 2000
    assert unit.get("current") > 0


def test_discharge_one_hour_draws_energy_over_efficiency(site: Site) -> None:
    bess, unit = site.battery, site.units[1]
    unit.command("setpoint", -2000)
    site.step(3600)
    # 2000 W × 1 h / 0.95 = 2105.3 Wh out of the pack
    assert bess.soc == pytest.approx(50.0 - 2000 / 0.95 / 10000 * 100, abs=1e-9)
    assert unit.get("soc") == pytest.approx(28.9)
    assert unit.get("energy_discharged") == pytest.approx(2.0)
    assert unit.get("power") == -2000
    assert unit.get("current") < 0


def test_power_is_clamped_by_ratings_and_limit_registers(site: Site) -> None:
    unit = site.units[1]
    unit.command("setpoint", 8000)
    assert unit.get("power") == 5000  # the 5 kW rating
    unit.command("charge_limit", 1200)
    assert unit.get("power") == 1200
    unit.command("setpoint", -9000)
    assert unit.get("power") == -5000
    unit.command("discharge_limit", 700)
    assert unit.get("power") == -700
    unit.command("setpoint", -300)
    assert unit.get("power") == -300


def test_bms_stops_at_full_and_empty(site: Site) -> None:
    bess, unit = site.battery, site.units[1]
    bess.soc = 95.0
    unit.command("setpoint", 5000)
    site.step(3600)
    assert bess.soc == 100.0
    assert unit.get("soc") == 100
    assert unit.get("power") == 0  # the actual power, not the setpoint
    assert unit.get("setpoint") == 5000
    # only the energy that fitted was counted: 500 Wh / 0.95
    assert unit.get("energy_charged") == pytest.approx(0.5 / 0.95, abs=1e-3)
    unit.command("setpoint", -5000)
    assert unit.get("power") == -5000
    site.step(3 * 3600)
    assert bess.soc == 0.0
    assert unit.get("power") == 0
    assert unit.get("energy_discharged") == pytest.approx(10.0 * 0.95, abs=1e-3)


def test_pack_electrical_values_are_plausible(site: Site) -> None:
    unit = site.units[1]
    assert unit.get("soc") == 50
    rest = unit.get("voltage")
    assert 51.0 < rest < 54.0  # 16 LFP cells on the plateau
    assert 3.2 < unit.get("cell_voltage_min") <= unit.get("cell_voltage_max") < 3.45
    unit.command("setpoint", 5000)
    charging = unit.get("voltage")
    assert charging > rest  # + R·I
    current = unit.get("current")
    assert current == pytest.approx(5000 * 0.95 / charging, abs=0.2)
    unit.command("setpoint", -5000)
    assert unit.get("voltage") < rest
    assert unit.get("capacity") == 10000
    assert unit.get("max_charge_power") == unit.get("max_discharge_power") == 5000
    assert unit.get("serial") == "SIMBESS0001"
    assert unit.get("soh") == pytest.approx(98.5)


def test_temperature_rises_with_current_and_cools_back(site: Site) -> None:
    bess, unit = site.battery, site.units[1]
    start = unit.get("temperature")
    unit.command("setpoint", 5000)
    site.step(1800)
    warm = bess.temperature
    assert warm > start + 1.0
    unit.command("setpoint", 0)
    site.step(6 * 3600)
    assert bess.temperature < warm
    assert bess.temperature == pytest.approx(bess.ambient_c, abs=0.5)


def test_alarm_bits(site: Site) -> None:
    bess, unit = site.battery, site.units[1]
    assert not any(unit.get(p.key) for p in unit.profile.points if p.key.startswith("alarm_"))
    bess.temperature = 57.0
    site.refresh()
    assert unit.get("alarm_over_temperature") is True
    assert unit.get("alarm_under_temperature") is False
    bess.temperature = 61.0  # above the BMS stop temperature
    unit.command("setpoint", 3000)
    assert unit.get("power") == 0
    bess.temperature = -3.0
    site.refresh()
    assert unit.get("alarm_under_temperature") is True
    assert unit.get("power") == 0  # no charging below 0 °C
    unit.command("setpoint", -3000)
    assert unit.get("power") == -3000  # discharging is allowed
    bess.temperature = 25.0
    bess.soc = 100.0
    site.refresh()
    raw = unit.words(unit.point("alarm_fault"))[0]
    assert raw == 0  # every alarm bit of the shared register is clear


@settings(max_examples=40, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.integers(-7000, 7000), st.integers(1, 7200)), min_size=1, max_size=6
    ),
    soc=st.floats(0, 100),
)
def test_energy_balance_holds_for_any_schedule(plan: list[tuple[int, int]], soc: float) -> None:
    site = Site.create(sunspec=False)
    bess = site.battery
    bess.soc = soc
    for setpoint, seconds in plan:
        site.units[1].command("setpoint", setpoint)
        site.step(seconds)
        assert 0.0 <= bess.soc <= 100.0
    # E_end − E_start = 0.95·E_charged − E_discharged / 0.95
    stored = (bess.soc - soc) / 100 * 10000
    expected = 0.95 * bess.energy_charged_kwh * 1000 - bess.energy_discharged_kwh * 1000 / 0.95
    assert stored == pytest.approx(expected, abs=1e-6)


async def test_setpoint_over_modbus(sim: Simulator, transport: ModbusTransport) -> None:
    assert await read_point(transport, 1, "soc") == 50
    await write_point(transport, 1, "setpoint", -3000)
    assert await read_point(transport, 1, "power") == -3000  # at once
    sim.site.step(1800)
    soc = await read_point(transport, 1, "soc")
    assert soc == pytest.approx(50 - 1500 / 0.95 / 100, abs=0.05)
    assert await read_point(transport, 1, "energy_discharged") == pytest.approx(1.5)


async def test_device_refuses_bad_writes(sim: Simulator, transport: ModbusTransport) -> None:
    with pytest.raises(DeviceError) as err:
        await write_point(transport, 1, "setpoint", 200000)  # above the point's max
    assert err.value.code == 3
    assert sim.site.units[1].get("setpoint") == 0  # nothing was stored
    with pytest.raises(DeviceError) as err:
        await write_point(transport, 3, "serial", "HACKED")  # read-only holding register
    assert err.value.code == 2
    with pytest.raises(DeviceError) as err:
        await transport.read(1, sim.site.units[1].point("setpoint").table, 0, 2)  # unmapped
    assert err.value.code == 2
