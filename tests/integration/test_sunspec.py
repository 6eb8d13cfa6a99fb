"""SunSpec: discovery, profiles and the simulated SunSpec device, over real loopback Modbus TCP.

A minimal pymodbus TCP server serves the simulated device (unit 5) and a few broken maps; the
integration's transport, read planner and decoder read it back, and pysunspec2 (a standard
SunSpec client) scans it as a third-party check.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
import json
from pathlib import Path
import socket
from typing import Any

from pymodbus.datastore import ModbusServerContext
from pymodbus.datastore.context import ModbusBaseSlaveContext
from pymodbus.server import ModbusTcpServer
import pytest
import sunspec2
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from custom_components.ems.core import sunspec
from custom_components.ems.core.profile import Profile, Table, decode_all, encode, plan_reads
from custom_components.ems.core.sunspec import (
    MODELS,
    ModelRef,
    SunSpecDevice as Discovered,
    SunSpecError,
    async_discover,
    build_profile,
    profile_from_subentry,
    sunspec_subentry_data,
)
from custom_components.ems.core.transport import DeviceError, ModbusTransport, TcpParams
from simulator.sunspec import SunSpecDevice

UNIT = 5  # the simulated SunSpec device
UNIT_PLAIN = 6  # registers everywhere, no "SunS"
UNIT_ENDLESS = 7  # "SunS", then 2-word models forever (no end marker)
UNIT_OVERFLOW = 8  # "SunS", then a model so long the chain runs past 65535
UNIT_NO_END = 9  # "SunS", model 1, then illegal address instead of an end marker
SUNS = [0x5375, 0x6E53]

Reader = Callable[[int, int], Sequence[int] | None]


class _Context(ModbusBaseSlaveContext):
    """A pymodbus slave context of holding registers served by functions (no +1 shift)."""

    def __init__(
        self,
        read: Reader,
        writable: Callable[[int, int], bool] = lambda a, c: False,
        write: Callable[[int, list[int]], bool] = lambda a, w: False,
    ) -> None:
        self._read = read
        self._writable = writable
        self._write = write

    def reset(self) -> None:
        pass

    def validate(self, fc_as_hex: int, address: int, count: int = 1) -> bool:
        if fc_as_hex == 3:
            return self._read(address, count) is not None
        if fc_as_hex in (6, 16):
            return self._writable(address, count)
        return False

    def getValues(self, fc_as_hex: int, address: int, count: int = 1) -> list[int]:
        return list(self._read(address, count) or [])

    def setValues(self, fc_as_hex: int, address: int, values: Any) -> None:
        assert self._write(address, list(values))


def _sim_reader(device: SunSpecDevice) -> Reader:
    def read(address: int, count: int) -> list[int] | None:
        try:
            return device.read(address, count)
        except IndexError:
            return None

    return read


def _plain(address: int, count: int) -> list[int]:
    return [(address + i) & 0xFFFF for i in range(count)]


def _endless(address: int, count: int) -> list[int]:
    # SunS at 40000, then every model header reads (id 64000, L 0).
    return [
        SUNS[a - 40000] if a < 40002 else (64000 if a % 2 == 0 else 0)
        for a in _span(address, count)
    ]


def _overflow(address: int, count: int) -> list[int] | None:
    image = {40000: SUNS[0], 40001: SUNS[1], 40002: 1, 40003: 0xFFF0}
    return [image.get(a, 0) for a in _span(address, count)] if address >= 40000 else None


def _no_end(address: int, count: int) -> list[int] | None:
    if address < 40000 or address + count > 40000 + 2 + 2 + 66:
        return None
    image = SUNS + [1, 66] + [0] * 66
    return image[address - 40000 : address - 40000 + count]


def _span(address: int, count: int) -> range:
    return range(address, address + count)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Site:
    """The running test server: the simulated device, its port, a transport to it."""

    def __init__(self, device: SunSpecDevice, port: int, transport: ModbusTransport) -> None:
        self.device = device
        self.port = port
        self.transport = transport


@pytest.fixture
async def site(socket_enabled: None) -> AsyncIterator[Site]:
    """Serve the simulated device and the broken maps on 127.0.0.1."""
    device = SunSpecDevice()
    slaves = {
        UNIT: _Context(_sim_reader(device), device.writable, device.write),
        UNIT_PLAIN: _Context(_plain),
        UNIT_ENDLESS: _Context(_endless),
        UNIT_OVERFLOW: _Context(_overflow),
        UNIT_NO_END: _Context(_no_end),
    }
    port = _free_port()
    server = ModbusTcpServer(
        ModbusServerContext(slaves=slaves, single=False), address=("127.0.0.1", port)
    )
    await server.serve_forever(background=True)
    transport = ModbusTransport(TcpParams(host="127.0.0.1", port=port), timeout=2.0)
    try:
        yield Site(device, port, transport)
    finally:
        transport.close()
        await server.shutdown()
        await asyncio.sleep(0)


async def _poll(site: Site, profile: Profile, keys: set[str] | None = None) -> dict[str, Any]:
    """Read a profile's points the way the integration does: planned blocks, one decoder."""
    pairs = []
    for block in plan_reads(profile, keys):
        assert block.count <= 125
        words = await site.transport.read(UNIT, block.table, block.address, block.count)
        pairs.append((block, words))
    return decode_all(profile, pairs)


# --- discovery ---------------------------------------------------------------------------------


async def test_discover_simulated_device(site: Site) -> None:
    found = await async_discover(site.transport, UNIT)
    assert found.base == 40000
    assert found.model_ids == [1, 103, 124, 704, 802]
    assert found.models == [
        ModelRef(1, 40002, 66),
        ModelRef(103, 40070, 50),
        ModelRef(124, 40122, 24),
        ModelRef(704, 40148, 65),
        ModelRef(802, 40215, 62),
    ]
    assert site.device.models == [tuple(m) for m in found.models]
    assert (found.manufacturer, found.model, found.serial) == ("ems", "SimHybrid", "SIMSUNSPEC01")
    assert found.version == "1.0.0"


async def test_discover_other_base(site: Site) -> None:
    """Bases are tried in order; an illegal-address base is skipped."""
    found = await async_discover(site.transport, UNIT, bases=(0, 50000, 40000))
    assert found.base == 40000


async def test_no_suns(site: Site) -> None:
    with pytest.raises(SunSpecError, match="'SunS' not found at 40000, 0, 50000"):
        await async_discover(site.transport, UNIT_PLAIN)
    with pytest.raises(SunSpecError):  # every base refused
        await async_discover(site.transport, UNIT, bases=(0, 50000))


async def test_endless_chain_terminates(site: Site) -> None:
    with pytest.raises(SunSpecError, match="no SunSpec end marker after 100 models"):
        await async_discover(site.transport, UNIT_ENDLESS)
    assert site.transport.requests <= sunspec.MAX_MODELS + 3


async def test_chain_past_address_space_terminates(site: Site) -> None:
    with pytest.raises(SunSpecError, match="runs past register 65535"):
        await async_discover(site.transport, UNIT_OVERFLOW)


async def test_chain_without_end_marker(site: Site) -> None:
    """A device that refuses reads after its last model ends the chain there."""
    found = await async_discover(site.transport, UNIT_NO_END)
    assert found.models == [ModelRef(1, 40002, 66)]
    assert found.serial == ""


# --- profiles ----------------------------------------------------------------------------------


async def test_battery_profile_reads_simulator(site: Site) -> None:
    for _ in range(6):
        site.device.tick(60.0, 0.4)  # 2 kW of PV, all charged
    found = await async_discover(site.transport, UNIT)
    profile = build_profile(found, "battery")
    assert profile.kind == "battery"
    assert profile.serial_key == "serial"
    assert (profile.manufacturer, profile.model) == ("ems", "SimHybrid")
    assert len(plan_reads(profile)) <= 2
    values = await _poll(site, profile)
    sim = site.device
    assert sim.battery_w == 2000.0
    assert values["power"] == 2000  # + charging (SunSpec 802 W is -2000)
    assert site.device.value(802, "W") == -2000
    assert values["soc"] == pytest.approx(sim.soc, abs=0.05)
    assert values["soc"] > 50
    assert values["current"] > 0
    assert values["current"] == pytest.approx(2000 / values["voltage"], abs=0.2)
    assert values["capacity"] == 5000
    assert values["max_charge_power"] == 2500
    assert values["max_discharge_power"] == 2500
    assert values["soh"] == 98
    assert 3.0 < values["cell_voltage_min"] < values["cell_voltage_max"] < 3.4
    assert values["serial"] == "SIMSUNSPEC01"
    assert values["alarm_over_voltage"] is False
    # every profile point has the generic profiles' unit for its key
    assert profile["power"].unit == "W"
    assert profile["soc"].unit == "%"
    assert profile["power"].sf == "m802_w_sf"
    assert profile["power"].na


async def test_battery_discharge_sign_and_alarm(site: Site) -> None:
    """Force a discharge through model 124 over Modbus: ems power goes negative."""
    found = await async_discover(site.transport, UNIT)
    storage = found.find(124)
    assert storage is not None
    rte = next(p for p in MODELS["models"][124]["points"] if p["name"] == "InWRte")
    mode = next(p for p in MODELS["models"][124]["points"] if p["name"] == "StorCtl_Mod")
    # StorCtl_Mod bit 0 with InWRte -40.00 % (sf -2): discharge at 40 % of 2500 W.
    await site.transport.write(UNIT, Table.HOLDING, storage.address + 2 + mode["offset"], [1])
    await site.transport.write(
        UNIT, Table.HOLDING, storage.address + 2 + rte["offset"], [(-4000) & 0xFFFF]
    )
    site.device.alarms = 1 << 9  # over-voltage alarm
    site.device.tick(10.0, 0.0)
    profile = build_profile(found, "battery")
    values = await _poll(site, profile, {"power", "current", "soc", "alarm_over_voltage"})
    assert values["power"] == -1000
    assert values["current"] < 0
    assert values["soc"] < 50
    assert values["alarm_over_voltage"] is True


async def test_subentry_round_trip(site: Site) -> None:
    """A subentry stores the discovery as JSON; the profile is rebuilt from it alone."""
    found = await async_discover(site.transport, UNIT)
    data = json.loads(json.dumps(sunspec_subentry_data(found)))
    assert data["serial"] == "SIMSUNSPEC01"
    assert data["sunspec_base"] == 40000
    rebuilt = sunspec.device_from_subentry({"profile": "sunspec", **data})
    assert rebuilt == found
    assert profile_from_subentry(data, "battery") == build_profile(found, "battery")
    with pytest.raises(SunSpecError, match="add the device again"):
        profile_from_subentry({"profile": "sunspec"}, "battery")


async def test_read_only_and_unmapped_writes_refused(site: Site) -> None:
    battery = build_profile(await async_discover(site.transport, UNIT), "battery")
    with pytest.raises(DeviceError):
        await site.transport.write(UNIT, Table.HOLDING, battery["soc"].address, [100])
    with pytest.raises(DeviceError):
        await site.transport.write(UNIT, Table.HOLDING, 30000, [1])
    assert site.device.write(battery["soc"].address, [100]) is False
    with pytest.raises(IndexError):
        site.device.read(site.device.end, 1)


async def test_pv_profile_reads_simulator(site: Site) -> None:
    site.device.tick(3600.0, 0.5)
    profile = build_profile(await async_discover(site.transport, UNIT), "pv")
    assert profile.kind == "pv"
    values = await _poll(site, profile)
    assert values["power"] == 2500
    assert values["energy_total"] == 2.5  # kWh (SunSpec WH is Wh)
    assert values["ac_voltage"] == 230
    assert values["frequency"] == 50
    assert values["dc_voltage"] == 600
    assert values["dc_current"] == pytest.approx(2500 / 600, abs=0.01)
    assert values["temperature"] == 35
    assert values["alarm_fault"] is False
    assert "soc" not in profile


async def test_meter_kind_on_hybrid_device(site: Site) -> None:
    found = await async_discover(site.transport, UNIT)
    with pytest.raises(SunSpecError, match="no meter model"):
        build_profile(found, "meter")
    with pytest.raises(SunSpecError, match="not 'relay_board'"):
        build_profile(found, "relay_board")
    assert issubclass(SunSpecError, ValueError)


def test_battery_without_802_uses_124_and_inverter_power() -> None:
    """124 gives SOC; the inverter's AC power, sign flipped, gives battery power."""
    found = Discovered(
        base=40000,
        models=[ModelRef(1, 40002, 66), ModelRef(103, 40070, 50), ModelRef(124, 40122, 24)],
    )
    profile = build_profile(found, "battery")
    assert profile["soc"].address == 40122 + 2 + 6  # ChaState
    assert profile["power"].address == 40070 + 2 + 12  # 103 W
    assert profile["power"].scale == -1
    assert "capacity" not in profile
    with pytest.raises(SunSpecError, match="gives no battery power"):
        build_profile(Discovered(base=0, models=[ModelRef(124, 2, 24)]), "battery")


def test_short_model_points_left_out() -> None:
    """Points past a device's (older, shorter) model length are not read."""
    short_802 = ModelRef(802, 40002, 40)  # its scale factors (offsets 50..61) are missing
    found = Discovered(base=40000, models=[short_802, ModelRef(103, 40044, 50)])
    with pytest.raises(SunSpecError, match="gives no battery soc"):
        build_profile(found, "battery")
    found.models.append(ModelRef(124, 40096, 24))
    profile = build_profile(found, "battery")
    assert profile["soc"].address == 40096 + 2 + 6  # 124 ChaState
    assert profile["power"].address == 40044 + 2 + 12  # 103 W
    assert profile["alarm_over_voltage"].address == 40002 + 2 + 24  # 802 Evt1 fits
    assert all(p.address < 40002 + 2 + 40 for p in profile.points if p.address < 40044)
    assert "capacity" not in profile
    assert "serial" not in profile


def test_meter_profile() -> None:
    found = Discovered(base=0, models=[ModelRef(1, 2, 66), ModelRef(203, 70, 105)])
    profile = build_profile(found, "meter")
    assert profile["power"].address == 70 + 2 + 16
    assert profile["power"].scale == 1  # SunSpec meters are + import, as ems
    assert profile["energy_import"].address == 70 + 2 + 44
    assert profile["energy_import"].scale == 0.001
    assert profile["power_l3"].sf == profile["power"].sf == "m203_w_sf"
    sf_words = encode(profile["m203_w_sf"], -1)
    pairs = []
    for block in plan_reads(profile, {"power"}):
        image = [0] * block.count
        image[profile["power"].address - block.address] = encode(profile["power"], 1234.5, -1)[0]
        image[profile["m203_w_sf"].address - block.address] = sf_words[0]
        pairs.append((block, image))
    assert decode_all(profile, pairs)["power"] == 1234.5


# --- the model file ----------------------------------------------------------------------------

_SIZES = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "acc32": 2, "sunssf": 1}
_SIZES |= {"enum16": 1, "bitfield16": 1, "bitfield32": 2, "pad": 1, "uint64": 4, "acc64": 4}


def _flatten(
    group: dict[str, Any], counts: dict[str, int], prefix: str, offset: int, out: dict
) -> int:
    """Points of a group and its repeating groups, named as the model file names them."""
    for p in group.get("points", []):
        size = p.get("size") or _SIZES[p["type"]]
        if prefix or p["name"] not in ("ID", "L"):
            out[prefix + p["name"]] = {**p, "offset": offset, "size": size}
            offset += size
    for sub in group.get("groups", []):
        repeated = isinstance(sub.get("count", 1), str)  # counted by a point (NCrv, NPt)
        for i in range(1, (counts[sub["name"]] if repeated else 1) + 1):
            name = f"{sub['name']}{i}_" if repeated else f"{sub['name']}_"
            offset = _flatten(sub, counts, prefix + name, offset, out)
    return offset


def _sunspec2_points(model_id: int, counts: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Point facts of pysunspec2's model definition, offsets after the ID/L header."""
    path = Path(sunspec2.__file__).parent / "models" / "json" / f"model_{model_id}.json"
    points: dict[str, dict[str, Any]] = {}
    length = _flatten(json.loads(path.read_text(encoding="utf-8"))["group"], counts, "", 0, points)
    points["__length__"] = {"offset": length}
    return points


_VENDOR_MODELS = {64900}  # ems's own: checked against its generated definition instead


@pytest.mark.parametrize("model_id", sorted(set(MODELS["models"]) - _VENDOR_MODELS))
def test_model_file_matches_sunspec_definitions(model_id: int) -> None:
    model = MODELS["models"][model_id]
    reference = _sunspec2_points(model_id, model.get("counts", {}))
    assert model["length"] == reference.pop("__length__")["offset"]
    covered: list[int] = []
    for p in model["points"]:
        ref = reference[p["name"]]
        assert p["offset"] == ref["offset"], p["name"]
        assert p["type"] == ref["type"], p["name"]
        assert p.get("sf") == ref.get("sf"), p["name"]
        assert p["access"] == ref.get("access", "R").lower(), p["name"]
        size = p.get("size", _SIZES.get(p["type"], 1))
        assert size == ref["size"], p["name"]
        covered += range(p["offset"], p["offset"] + size)
    assert len(covered) == len(set(covered))
    if model_id not in (201, 202, 203, 204):  # meters list only what ems reads
        assert sorted(covered) == list(range(model["length"]))


def test_simulator_fills_not_implemented() -> None:
    device = SunSpecDevice(base=0)
    va = device.models[1][1] + 2 + 16  # model 103 VA (int16): not implemented
    assert device.read(va, 1) == [0x8000]
    assert device.value(103, "VA") is None
    assert device.value(802, "ReqW") is None
    assert device.read(device.end - 2, 2) == [0xFFFF, 0]
    assert device.read(0, 2) == SUNS


def test_simulator_controls() -> None:
    """124 steers the battery (negative OutWRte forces a charge); SOC limits and SetOp hold."""
    device = SunSpecDevice()
    address = {model_id: address for model_id, address, _ in device.models}
    storage = address[124] + 2
    battery = address[802] + 2
    assert device.write(storage + 3, [2])  # StorCtl_Mod: discharge limit
    assert device.write(storage + 10, [(-8000) & 0xFFFF])  # OutWRte -80 %: charge 2000 W
    device.tick(60.0, 0.0)
    assert device.battery_w == 2000.0
    assert device.value(124, "ChaSt") == 4  # charging
    assert device.write(battery + 48, [2])  # SetOp: disconnect
    device.tick(60.0, 1.0)
    assert device.battery_w == 0.0
    assert device.value(802, "State") == 1
    assert device.write(battery + 48, [1])
    assert device.write(storage + 3, [0])
    for _ in range(200):
        device.tick(60.0, 1.0)
    assert device.soc == 100.0
    assert device.battery_w == 0.0
    assert device.value(124, "ChaSt") == 5  # full
    assert device.write(storage + 3, [1])  # StorCtl_Mod: charge limit
    assert device.write(storage + 11, [(-10000) & 0xFFFF])  # InWRte -100 %: discharge
    for _ in range(400):
        device.tick(60.0, 0.0)
    assert device.soc == pytest.approx(5.0)  # SoCRsvMin
    assert device.value(124, "ChaSt") == 2  # empty
    assert device.value(802, "Hb") == 602  # one per tick


# --- a standard SunSpec client -----------------------------------------------------------------


async def test_pysunspec2_scans_simulator(site: Site) -> None:
    for _ in range(3):
        site.device.tick(60.0, 0.3)
    soc = site.device.soc

    def scan() -> dict[str, Any]:
        client = SunSpecModbusClientDeviceTCP(
            slave_id=UNIT, ipaddr="127.0.0.1", ipport=site.port, timeout=5
        )
        try:
            client.scan()
            models = [m.model_id for m in client.model_list]
            errors = [m.error_info for m in client.model_list]
            common = client.models[1][0]
            battery = client.models[802][0]
            storage = client.models[124][0]
            return {
                "base": client.base_addr,
                "models": models,
                "errors": errors,
                "sn": common.SN.value,
                "mn": common.Mn.value,
                "soc": battery.SoC.cvalue,
                "w": battery.W.cvalue,
                "cha_state": storage.ChaState.cvalue,
                "pv_w": client.models[103][0].W.cvalue,
            }
        finally:
            client.close()

    result = await asyncio.to_thread(scan)
    assert result["base"] == 40000
    assert result["models"] == [1, 103, 124, 704, 802]
    assert result["errors"] == ["", "", "", "", ""]  # model lengths agree with the definitions
    assert (result["sn"], result["mn"]) == ("SIMSUNSPEC01", "ems")
    assert result["soc"] == pytest.approx(soc, abs=0.05)
    assert result["cha_state"] == pytest.approx(soc, abs=0.05)
    assert result["w"] == -1500  # SunSpec: charging is negative
    assert result["pv_w"] == 1500
