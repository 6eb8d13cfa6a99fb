"""The site's Modbus server against the simulated site, read and written by real clients.

A plain pymodbus client and pysunspec2 (a standard SunSpec client) play the SCADA over loopback
TCP: what they read matches the entities, the whitelisted writes act, every other write gets a
Modbus exception and changes nothing, and the watchdog falls back when the client falls silent.
"""

from __future__ import annotations

from contextlib import closing
from datetime import timedelta
from pathlib import Path
import socket
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from site_helpers import HaClock, setup_site
import sunspec2.device as sunspec_device
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from custom_components.ems.const import DOMAIN
from custom_components.ems.core.decide import Mode
from custom_components.ems.core.site_server import SiteImage, load_site_map
from custom_components.ems.scada import Link, server_options

DOCS_SUNSPEC = Path(__file__).resolve().parents[2] / "docs" / "sunspec"
UNIT = 1
LAYOUT = SiteImage(load_site_map(), writable=True).image  # where each point lives
MODES = load_site_map().enums["mode"]


def addr(model: int, name: str) -> int:
    """A point's first register."""
    return LAYOUT.slots[(model, name)].first


def s16(word: int) -> int:
    return word - 0x10000 if word & 0x8000 else word


async def setup_server_site(hass: HomeAssistant, sim, **server: Any) -> MockConfigEntry:
    """Battery (controlled), PV and meter, with the Modbus server on a free port."""
    section = {"enabled": True, "port": 0, "unit_id": UNIT, "heartbeat_s": 30, **server}
    return await setup_site(hass, sim, options={"modbus_server": section})


@pytest.fixture
async def house(hass: HomeAssistant, sim):
    """A dark evening: 800 W of house load, the battery at 60 %."""
    sim.site.pv.scale = 0.0
    sim.site.meter.load_scale = 0.0
    sim.site.meter.extra_load_w = 800.0
    sim.site.battery.soc = 60.0
    sim.site.refresh()
    entries: list[MockConfigEntry] = []

    async def make(**server: Any) -> MockConfigEntry:
        entry = await setup_server_site(hass, sim, **server)
        entries.append(entry)
        return entry

    yield make
    for entry in entries:
        assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def client_for(entry: MockConfigEntry) -> AsyncModbusTcpClient:
    client = AsyncModbusTcpClient("127.0.0.1", port=entry.runtime_data.scada.port, timeout=3)
    assert await client.connect()
    return client


async def read(client: AsyncModbusTcpClient, address: int, count: int = 1) -> list[int]:
    reply = await client.read_holding_registers(address, count=count, slave=UNIT)
    assert not reply.isError(), reply
    return reply.registers


async def write(client: AsyncModbusTcpClient, address: int, words: list[int]) -> int | None:
    """Write registers; the exception code of a refusal, None when accepted."""
    reply = await client.write_registers(address, words, slave=UNIT)
    return reply.exception_code if reply.isError() else None


async def test_reads_match_entities(hass: HomeAssistant, house) -> None:
    entry = await house()
    controller = entry.runtime_data.controller
    await controller.async_tick()
    await hass.async_block_till_done()
    client = await client_for(entry)
    try:
        assert await read(client, 40000, 2) == [0x5375, 0x6E53]  # "SunS"
        ems = await read(client, addr(64900, "Mode"), 24)
    finally:
        client.close()
    state = hass.states.get

    def close(register: float, entity: str, tol: float) -> None:
        assert register == pytest.approx(float(state(entity).state), abs=tol), entity

    assert MODES[ems[0]] == state("select.home_mode").state == "self_consumption"
    close(s16(ems[6]), "sensor.home_grid_power", 1.0)
    close(s16(ems[7]), "sensor.home_pv_power", 1.0)
    close(s16(ems[8]), "sensor.home_house_load", 1.0)
    close(s16(ems[9]), "sensor.home_battery_power", 1.0)
    close(ems[10] / 10, "sensor.home_battery_state_of_charge", 0.1)
    assert ems[13] == 30  # heartbeat timeout
    assert MODES[ems[15]] == "self_consumption"  # fallback mode
    assert 0 < s16(ems[12]) <= 5000  # discharge rating of the simulated battery
    assert hass.states.get("sensor.home_scada_link").state == Link.LISTENING


async def test_read_only_server_refuses_every_write(hass: HomeAssistant, house) -> None:
    entry = await house(writable=False)
    client = await client_for(entry)
    try:
        assert await write(client, addr(64900, "Mode"), [MODES.index("manual")]) == 2
        assert await write(client, addr(715, "ControllerHb"), [0, 1]) == 2
    finally:
        client.close()
    assert entry.runtime_data.controller.mode is Mode.SELF_CONSUMPTION
    assert entry.runtime_data.scada.refused == 2


async def test_whitelisted_writes_act_others_refused(hass: HomeAssistant, house, sim) -> None:
    entry = await house(writable=True)
    controller = entry.runtime_data.controller
    client = await client_for(entry)
    wset = addr(704, "WSet")
    try:
        assert await write(client, addr(64900, "Mode"), [MODES.index("manual")]) is None
        await hass.async_block_till_done()
        assert hass.states.get("select.home_mode").state == "manual"
        # Follow a setpoint: enable, then 600 W of discharge (SunSpec: + discharging).
        assert await write(client, addr(704, "WSetEna"), [1]) is None
        assert controller.mode is Mode.EXTERNAL
        assert await write(client, wset, [0, 600]) is None
        assert controller.settings.external_setpoint_w == -600.0
        result = await controller.async_tick(dt_util.utcnow() + timedelta(seconds=5))
        assert result.effective_mode is Mode.EXTERNAL
        assert -600.0 <= result.setpoint_w < 0  # ramped and limited, never past the request
        assert (await read(client, wset, 2))[1] == 600  # reads back
        # Refused whole, nothing changed:
        assert await write(client, wset, [0, 60000]) == 3  # past the discharge rating
        assert await write(client, wset, [0]) == 2  # half of a 32-bit point
        assert await write(client, addr(64900, "Mode"), [99]) == 3  # not a mode
        assert await write(client, addr(702, "WMax"), [100]) == 2  # rw in SunSpec, not here
        assert await write(client, addr(124, "StorCtl_Mod"), [1]) == 2
        assert await write(client, addr(64900, "SoC"), [500]) == 2  # a measurement
        assert await write(client, 39000, [1]) == 2  # outside the map
        span = addr(704, "WSetEna")  # WSetEna, WSetMod, WSet in one write
        assert wset == span + 2
        assert await write(client, span, [0, 1, 0x7FFF, 0xFFFF]) == 3  # WSet out of range
        assert await write(client, span, [0, 0, 0, 100]) == 3  # WSetMod 0: % of WMax
        assert await write(client, span, [0, 1, 0, 100, 0]) == 2  # runs into WSetRvrt
        assert controller.mode is Mode.EXTERNAL
        assert controller.settings.external_setpoint_w == -600.0
        # Disable: back to the mode before.
        assert await write(client, addr(704, "WSetEna"), [0]) is None
        assert controller.mode is Mode.MANUAL
    finally:
        client.close()
    assert entry.runtime_data.scada.refused == 10


async def test_setpoint_still_goes_through_the_limiter(hass: HomeAssistant, house, sim) -> None:
    """Full discharge asked at 10.5 % SOC: the limiter keeps the battery above its floor."""
    sim.site.battery.soc = 10.5
    sim.site.refresh()
    entry = await house(writable=True)
    controller = entry.runtime_data.controller
    client = await client_for(entry)
    try:
        assert await write(client, addr(704, "WSetEna"), [1]) is None
        rating = (await read(client, addr(702, "WDisChaRteMaxRtg")))[0]
        assert await write(client, addr(704, "WSet"), [0, rating]) is None
    finally:
        client.close()
    for step in range(1, 4):
        result = await controller.async_tick(dt_util.utcnow() + timedelta(seconds=5 * step))
    assert controller.settings.external_setpoint_w == -float(rating)
    assert result.setpoint_w is not None
    assert result.setpoint_w > -float(rating)
    assert result.reason.value != "none"


async def test_watchdog_falls_back_and_says_so(hass: HomeAssistant, house) -> None:
    entry = await house(writable=True, heartbeat_s=10, fallback_mode="backup")
    controller = entry.runtime_data.controller
    scada = entry.runtime_data.scada
    issues = ir.async_get(hass)
    issue_id = f"scada_watchdog_{entry.entry_id}"
    client = await client_for(entry)
    with HaClock() as clock, closing(client):
        assert await write(client, addr(704, "WSetEna"), [1]) is None
        assert controller.mode is Mode.EXTERNAL
        await hass.async_block_till_done()
        assert hass.states.get("sensor.home_scada_link").state == Link.REMOTE
        await clock.tick(hass, 6)
        assert controller.mode is Mode.EXTERNAL  # in time
        assert issues.async_get_issue(DOMAIN, issue_id) is None
        await clock.tick(hass, 5)
        assert controller.mode is Mode.BACKUP
        assert scada.link is Link.LOST
        assert hass.states.get("sensor.home_scada_link").state == Link.LOST
        assert issues.async_get_issue(DOMAIN, issue_id) is not None
        ems = await read(client, addr(64900, "Alrm"), 1)
        assert ems[0] & (1 << 5)  # watchdog alarm bit
        assert (await read(client, addr(64900, "HbSt")))[0] == 2  # lost
        # The client is back: the repair goes, the site stays in its fallback mode.
        assert await write(client, addr(715, "ControllerHb"), [0, 7]) is None
        await hass.async_block_till_done()
        assert issues.async_get_issue(DOMAIN, issue_id) is None
        assert scada.link is Link.REMOTE
        assert controller.mode is Mode.BACKUP


async def test_watchdog_leaves_a_mode_the_user_chose(hass: HomeAssistant, house) -> None:
    """A mode chosen in Home Assistant after the client's is not the client's to revert."""
    entry = await house(writable=True, heartbeat_s=10)
    controller = entry.runtime_data.controller
    client = await client_for(entry)
    with HaClock() as clock:
        assert await write(client, addr(64900, "Mode"), [MODES.index("peak_shaving")]) is None
        client.close()
        await controller.async_set_mode(Mode.MANUAL)  # the user, from the dashboard
        await clock.tick(hass, 11)
    assert entry.runtime_data.scada.link is Link.LOST
    assert controller.mode is Mode.MANUAL


async def test_reactive_setpoint_through_grid_support(hass: HomeAssistant, house, sim) -> None:
    """VarSetEna + VarSet: the batteries give the client's Q, within S, until the watchdog."""
    entry = await house(writable=True, heartbeat_s=10)
    runner = entry.runtime_data.grid
    await entry.runtime_data.controller.async_tick()  # the batteries are watched from here
    client = await client_for(entry)
    with HaClock() as clock, closing(client):
        assert await write(client, addr(704, "VarSet"), [0, 1500]) is None
        assert await write(client, addr(704, "VarSetEna"), [1]) is None
        assert await write(client, addr(704, "VarSet"), [0, 60000]) == 3  # beyond 6 kVA
        await runner.async_step(clock.now)
        sim.site.step(1.0)
        assert sim.site.battery.reactive == 1500.0
        await entry.runtime_data.controller.async_tick()  # reads the batteries again
        assert s16((await read(client, addr(701, "Var"), 1))[0]) == 1500
        await clock.tick(hass, 11)  # the client falls silent: its Q lapses with the watchdog
        await runner.async_step(clock.now)
        sim.site.step(1.0)
        assert sim.site.battery.reactive == 0.0


async def test_pysunspec2_scans_and_writes(hass: HomeAssistant, house) -> None:
    entry = await house(writable=True)
    port = entry.runtime_data.scada.port
    await entry.runtime_data.controller.async_tick()

    def scan_and_write() -> dict[str, Any]:
        previous = sunspec_device.get_model_defs_path()
        sunspec_device.set_model_defs_path([str(DOCS_SUNSPEC), *previous])
        client = SunSpecModbusClientDeviceTCP(
            slave_id=UNIT, ipaddr="127.0.0.1", ipport=port, timeout=5
        )
        try:
            client.scan()
            ems = client.models[64900][0]
            controls = client.models[704][0]
            controls.WSetEna.value = 1
            controls.WSetEna.write()
            controls.WSet.value = -500
            controls.WSet.write()
            controls.read()
            curve = client.models[705][0].Crv[0]
            droop = client.models[711][0].Ctl[0]
            return {
                "curve": [(pt.V.cvalue, pt.Var.cvalue) for pt in curve.Pt],
                "droop": (droop.DbOf.cvalue, droop.DbUf.cvalue, droop.KOf.cvalue, droop.KUf.cvalue),
                "models": [m.model_id for m in client.model_list],
                "errors": [m.error_info for m in client.model_list],
                "manufacturer": client.common[0].Mn.value,
                "soc": ems.SoC.cvalue,
                "mode": ems.Mode.value,
                "wset": controls.WSet.value,
            }
        finally:
            client.close()
            sunspec_device.set_model_defs_path(previous)

    found = await hass.async_add_executor_job(scan_and_write)
    assert found["models"] == [1, 701, 702, 704, 705, 711, 715, 124, 64900]
    assert found["curve"] == [(92.0, 44.0), (98.0, 0.0), (102.0, 0.0), (108.0, -44.0)]
    assert found["droop"] == pytest.approx((0.1, 0.1, 0.008, 0.008))
    assert not any(found["errors"])
    assert found["manufacturer"] == "ems"
    soc = float(hass.states.get("sensor.home_battery_state_of_charge").state)
    assert found["soc"] == pytest.approx(soc, abs=0.1)
    assert found["wset"] == -500
    controller = entry.runtime_data.controller
    assert controller.mode is Mode.EXTERNAL
    assert controller.settings.external_setpoint_w == 500.0


async def test_clients_not_allowed_are_disconnected(hass: HomeAssistant, house) -> None:
    entry = await house(allowed_clients="10.9.9.0/24, 192.168.1.20")
    client = AsyncModbusTcpClient(
        "127.0.0.1", port=entry.runtime_data.scada.port, timeout=1, retries=0
    )
    await client.connect()
    try:
        with pytest.raises((ConnectionException, ModbusIOException)):
            await client.read_holding_registers(40000, count=2, slave=UNIT)
    finally:
        client.close()


async def test_port_in_use_is_a_repair_not_a_crash(hass: HomeAssistant, house) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        entry = await house(port=port)
    scada = entry.runtime_data.scada
    assert scada.link is Link.ERROR
    assert hass.states.get("sensor.home_scada_link").state == Link.ERROR
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"scada_server_{entry.entry_id}")


async def test_options_section(hass: HomeAssistant) -> None:
    """The server's options: off by default, a bad client list named, then saved."""
    entry = MockConfigEntry(domain=DOMAIN, title="Home", unique_id="home", data={})
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    section = {"enabled": True, "port": 1502, "unit_id": 3, "writable": True}
    section |= {"heartbeat_s": 20, "fallback_mode": "passive"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"scan_interval": 5, "modbus_server": section | {"allowed_clients": "10.0.0.0/33"}},
    )
    assert result["errors"] == {"modbus_server": "invalid_allowed_clients"}
    assert entry.options == {}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"scan_interval": 5, "modbus_server": section | {"allowed_clients": "10.0.0.0/24"}},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["modbus_server"] == section | {"allowed_clients": "10.0.0.0/24"}
    options = server_options(entry.options)
    assert options is not None
    assert options["fallback_mode"] is Mode.PASSIVE
    assert server_options({}) is None  # off by default


async def test_enable_and_setpoint_in_one_write_follow_the_new_setpoint(
    hass: HomeAssistant, house
) -> None:
    entry = await house(writable=True)
    controller = entry.runtime_data.controller
    client = await client_for(entry)
    span = addr(704, "WSetEna")
    with closing(client):
        assert await write(client, span, [1, 1, 0, 3000]) is None
        assert await write(client, span, [0, 1, 0, 3000]) is None  # off, WSet stays 3000
        with patch.object(controller, "async_tick", wraps=controller.async_tick) as ticks:
            assert await write(client, span, [1, 1, 0, 0]) is None  # on again with 0 W
        assert controller.settings.external_setpoint_w == 0.0
        assert all(call.args == () for call in ticks.call_args_list)
        assert controller.last is not None
        assert controller.last.requested_w == 0.0  # never the old 3000 W


async def test_watchdog_lapse_reverts_the_setpoints(hass: HomeAssistant, house) -> None:
    entry = await house(writable=True, heartbeat_s=10)
    controller = entry.runtime_data.controller
    client = await client_for(entry)
    with HaClock() as clock, closing(client):
        assert await write(client, addr(704, "WSetEna"), [1, 1, 0, 3000]) is None
        assert await write(client, addr(704, "VarSet"), [0, 1000]) is None
        assert await write(client, addr(704, "VarSetEna"), [1]) is None
        await clock.tick(hass, 11)
        assert controller.mode is Mode.SELF_CONSUMPTION
        assert controller.settings.external_setpoint_w == 0.0  # 704.WSetRvrt
        assert entry.runtime_data.grid.external_q_var is None
        assert await write(client, addr(704, "WSetEna"), [1]) is None  # no old 3 kW comes back
        assert controller.settings.external_setpoint_w == 0.0


async def test_restart_under_client_control_arms_the_watchdog(hass: HomeAssistant, house) -> None:
    entry = await house(writable=True, heartbeat_s=10)
    client = await client_for(entry)
    with closing(client):
        assert await write(client, addr(704, "WSetEna"), [1]) is None
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.controller.mode is Mode.EXTERNAL  # kept across the restart
    assert entry.runtime_data.scada.link is Link.REMOTE
    with HaClock() as clock:
        await clock.tick(hass, 11)  # the client does not come back
    assert entry.runtime_data.controller.mode is Mode.SELF_CONSUMPTION


async def test_client_reactive_setpoint_lapses_without_a_watchdog(
    hass: HomeAssistant, house, sim
) -> None:
    entry = await house(writable=True, heartbeat_s=0)
    runner = entry.runtime_data.grid
    await entry.runtime_data.controller.async_tick()
    client = await client_for(entry)
    with HaClock() as clock, closing(client):
        assert await write(client, addr(704, "VarSet"), [0, 1500]) is None
        assert await write(client, addr(704, "VarSetEna"), [1]) is None
        await runner.async_step(clock.now)
        assert sim.site.battery.unit.model_value("reactive_setpoint") == 1500
        await clock.tick(hass, 121)  # like the external setpoint: stale after 120 s
        await runner.async_step(clock.now)
        assert sim.site.battery.unit.model_value("reactive_setpoint") == 0
