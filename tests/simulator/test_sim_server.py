"""Server life cycle: start, stop, port 0, the clock, unit ids, the CLI and profile loading."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
import re
import signal
import subprocess
import sys

from pymodbus.client import AsyncModbusTcpClient
import pytest
from sim_helpers import read_point

from ems_core.transport import DeviceError, ModbusTransport, TcpParams
from simulator import Simulator, start_simulator

REPO = Path(__file__).resolve().parents[2]


async def test_port_zero_and_clean_stop(socket_enabled: None) -> None:
    async with start_simulator(port=0, auto_tick=False) as sim:
        assert sim.port > 0
        link = ModbusTransport(TcpParams(host="127.0.0.1", port=sim.port), timeout=1.0)
        assert await read_point(link, 1, "soc") == 50
        link.close()
        port = sim.port
    # the port is free again and nothing is left running (the harness checks tasks/timers)
    async with start_simulator(port=port, auto_tick=False) as again:
        assert again.port == port


async def test_two_simulators_side_by_side(socket_enabled: None) -> None:
    async with (
        start_simulator(port=0, auto_tick=False) as one,
        start_simulator(port=0, auto_tick=False) as two,
    ):
        assert one.port != two.port
        one.site.battery.soc = 10.0
        one.site.refresh()
        a = ModbusTransport(TcpParams(host="127.0.0.1", port=one.port))
        b = ModbusTransport(TcpParams(host="127.0.0.1", port=two.port))
        assert await read_point(a, 1, "soc") == 10
        assert await read_point(b, 1, "soc") == 50
        a.close()
        b.close()


async def test_busy_port_raises(sim: Simulator) -> None:
    with pytest.raises(OSError, match="cannot listen"):
        async with start_simulator(port=sim.port, auto_tick=False):
            pass


async def test_auto_tick_advances_time(socket_enabled: None) -> None:
    async with start_simulator(port=0, speed=3600.0, tick_s=0.02) as sim:
        sim.site.units[1].command("setpoint", 5000)
        await asyncio.sleep(0.3)
        elapsed = sim.site.elapsed
        assert elapsed > 300  # ≥ 0.1 s × 3600
        assert sim.site.battery.soc > 50.0
        link = ModbusTransport(TcpParams(host="127.0.0.1", port=sim.port))
        assert await read_point(link, 1, "soc") > 50
        link.close()


async def test_unknown_unit_and_unmapped_address(
    sim: Simulator, transport: ModbusTransport
) -> None:
    with pytest.raises(DeviceError) as err:
        await transport.read(9, sim.site.units[1].point("soc").table, 0, 1)
    assert err.value.code == 0x0B
    with pytest.raises(DeviceError) as err:
        await transport.read(1, sim.site.units[1].point("soc").table, 20, 20)  # runs past 27
    assert err.value.code == 2


async def test_pipelined_requests_are_all_answered(sim: Simulator) -> None:
    """Several requests in flight on one connection each get their own reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    frames = b"".join(
        tid.to_bytes(2, "big") + b"\x00\x00\x00\x06" + bytes([unit, 4, 0, 0, 0, 1])
        for tid, unit in ((1, 1), (2, 2), (3, 3))
    )
    writer.write(frames)
    await writer.drain()
    replies = [await asyncio.wait_for(reader.readexactly(11), 2) for _ in range(3)]
    assert sorted(r[:2] for r in replies) == [b"\x00\x01", b"\x00\x02", b"\x00\x03"]
    writer.close()
    await writer.wait_closed()


async def test_unsupported_function_code(sim: Simulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(b"\x00\x07\x00\x00\x00\x02\x01\x41")  # function 0x41: not Modbus
    await writer.drain()
    reply = await asyncio.wait_for(reader.readexactly(9), 2)
    assert reply == b"\x00\x07\x00\x00\x00\x03\x01\xc1\x01"  # illegal function
    writer.write(b"\x00\x08\x00\x00\x00\x06\x01\x04\x00\x00\x00\x01")  # still serving
    reply = await asyncio.wait_for(reader.readexactly(11), 2)
    assert reply[-2:] == (500).to_bytes(2, "big")
    writer.close()
    await writer.wait_closed()


async def test_raw_pymodbus_client(sim: Simulator) -> None:
    client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=1, retries=0)
    assert await client.connect()
    reply = await client.read_input_registers(0, count=1, slave=1)
    assert reply.registers == [500]
    reply = await client.write_coil(3, True, slave=4)
    assert not reply.isError()
    assert sim.site.relay_board.relay(4) is True
    client.close()


def test_profiles_load_without_home_assistant() -> None:
    code = (
        "import sys, simulator, simulator.doc;"
        "bad = [m for m in sys.modules if m.startswith(('homeassistant', 'custom_components'))];"
        "assert not bad, bad; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


async def test_cli_runs_until_sigterm(socket_enabled: None) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--speed",
        "60",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    try:
        match = None
        while match is None:  # an INFO line about the data source may come first
            line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
            assert line, "the simulator exited before listening"
            match = re.search(r"on 127\.0\.0\.1:(\d+)", line)
        assert "unit 1 battery (generic_bess)" in line
        assert "unit 4 relay_board (relay_board_4ch)" in line
        link = ModbusTransport(TcpParams(host="127.0.0.1", port=int(match.group(1))))
        assert 0 <= await read_point(link, 1, "soc") <= 100
        link.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(proc.stdout.read(), 20)).decode()
        code = await proc.wait()
    assert code == 0
    assert "stopped" in rest


def test_cli_rejects_a_start_outside_the_data() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "simulator", "--start", "2021-01-01T00:00"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert out.returncode != 0
    assert "outside the data" in out.stderr
