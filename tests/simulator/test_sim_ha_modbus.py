"""A third-party client: Home Assistant's own modbus integration reads the simulator."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import homeassistant.util.dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from sim_helpers import profile_of

from simulator import start_simulator

HUB = "ems_sim"
MODBUS_DOMAIN = "modbus"


async def _wait_for_state(hass: HomeAssistant, entity_id: str, expected: str) -> None:
    """Let HA poll until the entity shows the expected state (or fail after 5 s)."""
    for _ in range(100):
        state = hass.states.get(entity_id)
        if state is not None and state.state == expected:
            return
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=6))
        await hass.async_block_till_done()
        await asyncio.sleep(0.05)
    state = hass.states.get(entity_id)
    raise AssertionError(f"{entity_id} is {state and state.state}, expected {expected}")


async def test_home_assistant_modbus_reads_soc_and_relay(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    soc = profile_of(1)["soc"]
    relay = profile_of(4)["relay_1"]
    async with start_simulator(port=0, auto_tick=False) as sim:
        sim.site.battery.soc = 72.3
        sim.site.refresh()
        config = {
            MODBUS_DOMAIN: [
                {
                    "name": HUB,
                    "type": "tcp",
                    "host": "127.0.0.1",
                    "port": sim.port,
                    "timeout": 2,
                    "sensors": [
                        {
                            "name": "BESS SOC",
                            "slave": 1,
                            "address": soc.address,
                            "input_type": soc.table.value,
                            "data_type": "uint16",
                            "scale": soc.scale,
                            "precision": 1,
                            "unit_of_measurement": "%",
                            "scan_interval": 5,
                        }
                    ],
                    "switches": [
                        {
                            "name": "Relay mains",
                            "slave": 4,
                            "address": relay.address,
                            "write_type": "coil",
                            "verify": {},  # read the coil back instead of assuming
                            "scan_interval": 5,
                        }
                    ],
                }
            ]
        }
        assert await async_setup_component(hass, MODBUS_DOMAIN, config)
        await hass.async_block_till_done()

        await _wait_for_state(hass, "sensor.bess_soc", "72.3")
        await _wait_for_state(hass, "switch.relay_mains", "on")
        assert sim.site.units[1].get("soc") == 72.3

        # the simulator moves on, HA follows
        sim.site.units[1].command("setpoint", 5000)
        sim.site.step(1200)
        await _wait_for_state(hass, "sensor.bess_soc", f"{sim.site.units[1].get('soc'):.1f}")

        # HA writes a coil: the relay board opens R1 for real
        await hass.services.async_call(
            "switch", "turn_off", {"entity_id": "switch.relay_mains"}, blocking=True
        )
        assert sim.site.relay_board.relay(1) is False
        assert sim.site.units[4].get("ch4_bus_voltage") == 0
        await _wait_for_state(hass, "switch.relay_mains", "off")

        await hass.services.async_call(MODBUS_DOMAIN, "stop", {"hub": HUB}, blocking=True)
        await hass.async_block_till_done()
