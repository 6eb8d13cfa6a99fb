"""Device form fields: the unit id in a number box (F14), parity as lowercase translation keys."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import config_validation as cv
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous_serialize

from custom_components.ems import link_params
from custom_components.ems.const import DOMAIN
from custom_components.ems.core.transport import SerialParams

RTU = {
    "connection": "rtu",
    "serial_port": "/dev/ems-no-such-port",
    "baudrate": "9600",
    "stopbits": 1,
    "bytesize": 8,
    "unit_id": 1,
    "profile": "generic_meter_3ph",
}


def _site(
    hass: HomeAssistant, subentries: list[ConfigSubentryData] | None = None
) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN, title="Home", unique_id="home", data={}, subentries_data=subentries or []
    )
    entry.add_to_hass(hass)
    return entry


async def _form(hass: HomeAssistant, entry: MockConfigEntry, kind: str, step: str) -> dict:
    menu = await hass.config_entries.subentries.async_init(
        (entry.entry_id, kind), context={"source": SOURCE_USER}
    )
    return await hass.config_entries.subentries.async_configure(
        menu["flow_id"], {"next_step_id": step}
    )


def _fields(result: dict) -> dict[str, dict[str, Any]]:
    """The form as the frontend receives it, by field name."""
    serialized = voluptuous_serialize.convert(
        result["data_schema"], custom_serializer=cv.custom_serializer
    )
    return {field["name"]: field for field in serialized}


@pytest.mark.parametrize(
    ("stored", "parity"),
    [("none", "N"), ("even", "E"), ("odd", "O"), ("N", "N"), ("E", "E"), ("O", "O")],
)
def test_link_params_map_parity_to_pymodbus(stored: str, parity: str) -> None:
    """New entries store none/even/odd, older ones N/E/O: both reach pymodbus as N/E/O."""
    params = link_params({**RTU, "parity": stored})
    assert isinstance(params, SerialParams)
    assert params.parity == parity


@pytest.mark.parametrize(
    ("kind", "step"), [("meter", "modbus_tcp"), ("meter", "modbus_rtu"), ("pv", "sunspec")]
)
async def test_unit_id_is_a_number_box(hass: HomeAssistant, kind: str, step: str) -> None:
    """A range under 256 made HA's form draw a slider without its value: a box instead."""
    result = await _form(hass, _site(hass), kind, step)
    unit_id = _fields(result)["unit_id"]
    assert unit_id["selector"]["number"]["mode"] == "box"
    assert unit_id["selector"]["number"]["step"] == 1
    assert unit_id["default"] == 1


async def test_port_and_numbers_of_the_device_forms_are_no_sliders(hass: HomeAssistant) -> None:
    """Other numeric fields: text boxes (range of 256 and more) or selects, never sliders."""
    entry = _site(hass)
    for kind, step in (("meter", "modbus_tcp"), ("meter", "modbus_rtu"), ("battery", "entities")):
        for name, field in _fields(await _form(hass, entry, kind, step)).items():
            if "selector" in field and "number" in field["selector"]:
                assert field["selector"]["number"]["mode"] == "box", name
            elif "valueMin" in field and "valueMax" in field:
                assert field["valueMax"] - field["valueMin"] >= 256, name  # HA's slider rule


async def test_rtu_parity_options_and_old_default(hass: HomeAssistant) -> None:
    """The parity select offers keys; an entry stored with "E" shows "even" when reconfigured."""
    old = ConfigSubentryData(
        data={**RTU, "parity": "E", "unit_id": 7, "serial": None},
        subentry_type="meter",
        title="Meter",
        unique_id="rtu:/dev/ems-no-such-port:7",
    )
    entry = _site(hass, [old])
    result = await _form(hass, entry, "meter", "modbus_rtu")
    parity = _fields(result)["parity"]
    assert parity["selector"]["select"]["options"] == ["none", "even", "odd"]
    assert parity["selector"]["select"]["translation_key"] == "parity"
    assert parity["default"] == "none"

    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "meter"),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": next(iter(entry.subentries))},
    )
    assert result["step_id"] == "modbus_rtu"
    fields = _fields(result)
    assert fields["parity"]["default"] == "even"
    assert fields["unit_id"]["default"] == 7
    form = {k: v for k, v in RTU.items() if k != "connection"} | {"name": "Meter"}
    with pytest.raises(InvalidData, match="parity"):  # the old value is no option any more
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], form | {"parity": "E"}
        )


async def test_unit_id_is_stored_whole(hass: HomeAssistant, sim) -> None:
    """The box sends a number (3 or 3.0): stored as the int 3; a fraction is refused."""
    entry = _site(hass)
    values = {
        "name": "Grid meter",
        "host": "127.0.0.1",
        "port": sim.port,
        "profile": "generic_meter_3ph",
    }
    result = await _form(hass, entry, "meter", "modbus_tcp")
    with pytest.raises(InvalidData, match="unit_id"):
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], values | {"unit_id": 2.5}
        )
    result = await _form(hass, entry, "meter", "modbus_tcp")
    with pytest.raises(InvalidData, match="unit_id"):
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], values | {"unit_id": float("nan")}
        )
    result = await _form(hass, entry, "meter", "modbus_tcp")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], values | {"unit_id": 3.0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    unit_id = next(iter(entry.subentries.values())).data["unit_id"]
    assert unit_id == 3
    assert type(unit_id) is int
