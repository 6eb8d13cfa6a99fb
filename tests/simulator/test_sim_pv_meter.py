"""PV inverter follows the real data and its power limit; the meter closes the site balance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymodbus.client import AsyncModbusTcpClient
import pytest
from sim_helpers import profile_of, read_point, write_point

from ems_core.transport import ModbusTransport
from simulator import DEFAULT_START, Simulator, Site
from simulator.data import (
    BUNDLED_FILE,
    BUNDLED_WINTER_FILE,
    GHI_COLUMN,
    PV_W_PER_GHI,
    WEATHER_FILE,
    WINTER_LOAD_FILE,
    find_data_file,
    load_house_data,
    load_winter_data,
)


@pytest.fixture
def site() -> Site:
    """A site on the manual clock (no server)."""
    return Site.create(sunspec=False)


def _csv_value(column: str, when: datetime) -> float:
    """Look a value up in the data file itself (no interpolation code involved)."""
    import csv

    with find_data_file().open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if datetime.fromisoformat(row["timestamp"]) == when:
                return float(row[column])
    raise LookupError(when)


def test_pv_follows_the_data(site: Site) -> None:
    unit = site.units[2]
    noon = datetime(2024, 6, 13, 12, 0, tzinfo=UTC)
    site.step((noon - DEFAULT_START).total_seconds())
    assert site.now == noon
    assert unit.get("power") == round(_csv_value("pv_w", noon))
    # halfway between two samples: linear interpolation
    site.step(900)
    half = (_csv_value("pv_w", noon) + _csv_value("pv_w", noon + timedelta(minutes=30))) / 2
    assert unit.get("power") == pytest.approx(half, abs=1)
    assert unit.get("dc_voltage") > 300
    assert unit.get("dc_current") == pytest.approx(half / 0.97 / unit.get("dc_voltage"), abs=0.05)
    assert 225 < unit.get("ac_voltage") < 236
    assert 49.9 < unit.get("frequency") < 50.1
    assert unit.get("serial") == "SIMPV0001"


def test_power_limit_clips_the_output(site: Site) -> None:
    unit = site.units[2]
    site.step(6 * 3600)  # 12:00, ~3.7 kW available
    available = site.pv.available
    assert available > 3000
    unit.command("power_limit", 50)  # 3000 W of 6000 W
    assert unit.get("power") == 3000
    unit.command("power_limit", 10)
    assert unit.get("power") == 600
    curtailed_vdc = unit.get("dc_voltage")
    unit.command("power_limit", 100)
    assert unit.get("power") == round(available)
    assert unit.get("dc_voltage") < curtailed_vdc  # back at the maximum power point


def test_pv_energy_counter_integrates(site: Site) -> None:
    site.step(3600)
    first = site.units[2].get("energy_total")
    site.step(3600)
    second = site.units[2].get("energy_total")
    assert 0 < first < second
    # between 06:00 and 08:00 on 2024-06-13 the data gives ~1.6 kWh
    assert second == pytest.approx(site.pv.energy_kwh, abs=1e-3)
    assert 1.0 < second < 2.5


def test_night_is_dark(site: Site) -> None:
    site.step(17 * 3600)  # 23:00
    unit = site.units[2]
    assert unit.get("power") == 0
    assert unit.get("dc_voltage") == 0
    assert site.pv.pv_fraction == 0


def test_meter_balance(site: Site) -> None:
    meter = site.units[3]
    for setpoint, seconds in ((0, 600), (2500, 3600), (-4000, 1800), (1000, 7200)):
        site.units[1].command("setpoint", setpoint)
        site.step(seconds)
        load = site.data.load_w.at(site.now.timestamp())
        expected = load + site.battery.power - site.pv.power
        assert site.meter.power == pytest.approx(expected, abs=1e-6)
        assert meter.get("power") == pytest.approx(expected, abs=1)
        phases = [meter.get(f"power_l{i}") for i in (1, 2, 3)]
        assert sum(phases) == pytest.approx(meter.get("power"), abs=2)
        for i in (1, 2, 3):
            volts = meter.get(f"voltage_l{i}")
            assert 226 < volts < 236
            amps = meter.get(f"current_l{i}")
            assert amps == pytest.approx(meter.get(f"power_l{i}") / volts, abs=0.02)
        assert 49.9 < meter.get("frequency") < 50.1


def test_meter_counters_integrate_import_and_export(site: Site) -> None:
    meter = site.units[3]
    site.units[1].command("setpoint", 5000)  # 07:00: import
    site.step(3600)
    imported = meter.get("energy_import")
    assert imported > 4.5  # ≥ 5 kWh of charging minus the morning PV, plus the house
    assert meter.get("energy_export") == 0
    site.units[1].command("setpoint", -5000)  # export
    site.step(1800)
    assert meter.get("energy_export") > 1.0
    assert meter.get("energy_import") == pytest.approx(imported, abs=0.05)


def test_data_fallback_to_the_bundled_slice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setattr("simulator.data.REPO_ROOT", tmp_path)
    monkeypatch.delenv("EMS_DATA_DIR", raising=False)
    assert find_data_file() == BUNDLED_FILE
    monkeypatch.setenv("EMS_DATA_DIR", str(BUNDLED_FILE.parent.parent.parent / "nowhere"))
    assert find_data_file() == BUNDLED_FILE
    bundled = load_house_data(BUNDLED_FILE)
    assert bundled.start <= DEFAULT_START <= bundled.end
    site = Site(data=bundled, sunspec=False)
    site.step(6 * 3600)
    assert site.pv.power > 1000
    readme = (BUNDLED_FILE.parent / "README.md").read_text(encoding="utf-8")
    assert "MIT, from the data folder of the EMHASS project" in readme


def test_env_var_points_at_the_data(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pathlib import Path
    import shutil

    folder = Path(str(tmp_path))
    shutil.copy(BUNDLED_FILE, folder / "household_fr_30min_2023-12_2024-09.csv")
    monkeypatch.setenv("EMS_DATA_DIR", str(folder))
    assert find_data_file() == folder / "household_fr_30min_2023-12_2024-09.csv"


def test_bundled_slice_matches_the_shared_data() -> None:
    full = find_data_file()
    if full == BUNDLED_FILE:
        pytest.skip("the shared data folder is not here")
    winter = load_winter_data(full.parent / WINTER_LOAD_FILE, full.parent / WEATHER_FILE)
    pairs = ((load_house_data(full), BUNDLED_FILE), (winter, BUNDLED_WINTER_FILE))
    for shared, path in pairs:
        bundled = load_house_data(path)
        assert bundled.pv_modelled == shared.pv_modelled
        for series in ("load_w", "pv_w"):
            small = getattr(bundled, series)
            big = getattr(shared, series)
            for t, value in zip(small.times, small.values, strict=True):
                assert big.at(t) == pytest.approx(value, abs=0.051)
    # The modelled PV's factor: the measured PV over the weather's estimate, March → September.
    measured = load_house_data(full).pv_w
    import csv

    with (full.parent / WEATHER_FILE).open(encoding="utf-8") as handle:
        hours = [
            (datetime.fromisoformat(row["timestamp"]), float(row[GHI_COLUMN]))
            for row in csv.DictReader(handle)
            if row[GHI_COLUMN]
        ]
    march = datetime(2024, 3, 1, tzinfo=UTC).timestamp()
    pv_sum = ghi_sum = 0.0
    for when, value in hours:
        t = when.timestamp()
        if march <= t and t + 1800 <= measured.end:
            pv_sum += (measured.at(t) + measured.at(t + 1800)) / 2
            ghi_sum += value
    assert pv_sum / ghi_sum == pytest.approx(PV_W_PER_GHI, rel=0.02)


def test_start_outside_the_data_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the data"):
        Site(start=datetime(2021, 1, 1, tzinfo=UTC), sunspec=False)


async def test_pv_and_meter_over_modbus(sim: Simulator, transport: ModbusTransport) -> None:
    sim.site.step(6 * 3600)
    pv = await read_point(transport, 2, "power")
    assert pv == round(sim.site.pv.power) > 1000
    await write_point(transport, 2, "power_limit", 20)
    assert await read_point(transport, 2, "power") == 1200
    meter = await read_point(transport, 3, "power")
    load = sim.site.data.load_w.at(sim.site.now.timestamp())
    assert meter == pytest.approx(load - 1200, abs=1)


async def test_every_planned_read_of_the_integration_works(sim: Simulator) -> None:
    """The integration's own read plan (plan_reads) succeeds on every unit."""
    from ems_core.profile import decode_all, plan_reads

    client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=1, retries=0)
    await client.connect()
    try:
        for unit in (1, 2, 3, 4):
            profile = profile_of(unit)
            pairs = []
            for block in plan_reads(profile):
                method = {
                    "holding": client.read_holding_registers,
                    "input": client.read_input_registers,
                    "coil": client.read_coils,
                    "discrete": client.read_discrete_inputs,
                }[block.table.value]
                reply = await method(block.address, count=block.count, slave=unit)
                assert not reply.isError(), (unit, block)
                words = (
                    reply.bits[: block.count]
                    if block.table.value in ("coil", "discrete")
                    else reply.registers
                )
                pairs.append((block, words))
            values = decode_all(profile, pairs)
            assert None not in values.values(), (unit, values)
            assert set(values) == {p.key for p in profile.points}
    finally:
        client.close()
