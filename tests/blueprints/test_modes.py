"""Mode-switching blueprints: tariff window, tariff entity, price threshold, grid outage."""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.setup import async_setup_component
import pytest

from .conftest import MODE_SELECT, FakeModeSelect, SetupBlueprint, settle


@pytest.fixture
async def paris(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Monday 6 January 2025, 21:59:50 in Paris."""
    await hass.config.async_set_time_zone("Europe/Paris")
    freezer.move_to("2025-01-06T21:59:50+01:00")


# --- 5. tariff time window ---------------------------------------------------------------------


async def test_tariff_window_switches_at_both_ends(
    hass: HomeAssistant,
    paris,
    setup_blueprint: SetupBlueprint,
    mode_select: FakeModeSelect,
    advance,
) -> None:
    await setup_blueprint("tariff_window_mode.yaml", {"mode_select": MODE_SELECT})
    await advance(timedelta(seconds=5))
    assert mode_select.calls == []  # 21:59:55, still peak hours
    await advance(timedelta(seconds=6))
    assert mode_select.calls == ["charge_only"]
    await advance(timedelta(hours=7, minutes=59, seconds=50))  # 05:59:51
    assert mode_select.calls == ["charge_only"]
    await advance(timedelta(seconds=10))
    assert mode_select.calls == ["charge_only", "self_consumption"]


async def test_tariff_window_leaves_backup_alone(
    hass: HomeAssistant,
    paris,
    setup_blueprint: SetupBlueprint,
    mode_select: FakeModeSelect,
    advance,
) -> None:
    mode_select.set("backup")
    await setup_blueprint("tariff_window_mode.yaml", {"mode_select": MODE_SELECT})
    await advance(timedelta(seconds=11))
    assert mode_select.calls == []
    assert mode_select.state == "backup"


async def test_tariff_window_custom_modes_and_window(
    hass: HomeAssistant,
    paris,
    setup_blueprint: SetupBlueprint,
    mode_select: FakeModeSelect,
    advance,
) -> None:
    """A window that does not cross midnight; no change outside its edges."""
    await setup_blueprint(
        "tariff_window_mode.yaml",
        {
            "mode_select": MODE_SELECT,
            "offpeak_start": "23:30:00",
            "offpeak_end": "23:45:00",
            "offpeak_mode": "auto",
            "peak_mode": "peak_shaving",
        },
    )
    await advance(timedelta(minutes=20))  # 22:19:50, nothing at 22:00 now
    assert mode_select.calls == []
    await advance(timedelta(minutes=71))  # 23:30:50
    assert mode_select.calls == ["auto"]
    await advance(timedelta(minutes=15))  # 23:45:50
    assert mode_select.calls == ["auto", "peak_shaving"]


@pytest.mark.parametrize(
    ("local_time", "expected"),
    [("2025-01-06T23:10:00+01:00", ["charge_only"]), ("2025-01-06T12:00:00+01:00", [])],
)
async def test_tariff_window_at_startup(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    setup_blueprint: SetupBlueprint,
    mode_select: FakeModeSelect,
    local_time: str,
    expected: list[str],
) -> None:
    """At start-up the mode of the current window is set (at noon it already is)."""
    await hass.config.async_set_time_zone("Europe/Paris")
    freezer.move_to(local_time)
    hass.set_state(CoreState.not_running)
    await setup_blueprint("tariff_window_mode.yaml", {"mode_select": MODE_SELECT})
    await hass.async_start()
    await settle(hass)
    assert mode_select.calls == expected


# --- 5b. tariff entity -------------------------------------------------------------------------


async def test_tariff_entity_binary_sensor(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, mode_select: FakeModeSelect
) -> None:
    hass.states.async_set("binary_sensor.heures_creuses", "off")
    await setup_blueprint(
        "tariff_entity_mode.yaml",
        {"mode_select": MODE_SELECT, "tariff_entity": "binary_sensor.heures_creuses"},
    )
    hass.states.async_set("binary_sensor.heures_creuses", "off", {"changed": "attribute"})
    hass.states.async_set("binary_sensor.heures_creuses", "unavailable")
    await settle(hass)
    assert mode_select.calls == []
    hass.states.async_set("binary_sensor.heures_creuses", "on")
    await settle(hass)
    assert mode_select.calls == ["charge_only"]
    hass.states.async_set("binary_sensor.heures_creuses", "off")
    await settle(hass)
    assert mode_select.calls == ["charge_only", "self_consumption"]


async def test_tariff_entity_linky_period(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, mode_select: FakeModeSelect
) -> None:
    ptec = "sensor.linky_ptec"
    hass.states.async_set(ptec, "HP..")
    await setup_blueprint(
        "tariff_entity_mode.yaml",
        {
            "mode_select": MODE_SELECT,
            "tariff_entity": ptec,
            "offpeak_mode": "auto",
            "peak_mode": "peak_shaving",
        },
    )
    hass.states.async_set(ptec, "hc..")
    await settle(hass)
    assert mode_select.calls == ["auto"]
    mode_select.set("passive")  # the installer's maintenance mode is kept
    hass.states.async_set(ptec, "HP..")
    await settle(hass)
    assert mode_select.calls == ["auto"]


# --- 6. price threshold ------------------------------------------------------------------------


PRICE = "sensor.electricity_price"


async def test_price_switches_outside_the_band_only(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, mode_select: FakeModeSelect, advance
) -> None:
    hass.states.async_set(PRICE, "0.15")
    await setup_blueprint(
        "price_threshold_mode.yaml", {"mode_select": MODE_SELECT, "price_sensor": PRICE}
    )
    for price in ("0.12", "0.19", "0.10", "0.20"):  # inside the band, edges included
        hass.states.async_set(PRICE, price)
        await advance(timedelta(minutes=60))
    assert mode_select.calls == []

    hass.states.async_set(PRICE, "0.08")
    await settle(hass)
    assert mode_select.calls == ["charge_only"]
    for price in ("0.11", "0.18", "0.09", "0.19"):  # back in the band: stays charge_only
        hass.states.async_set(PRICE, price)
        await settle(hass)
    assert mode_select.calls == ["charge_only"]

    hass.states.async_set(PRICE, "0.26")
    await settle(hass)
    assert mode_select.calls == ["charge_only", "self_consumption"]
    hass.states.async_set(PRICE, "-0.02")  # negative prices are cheap too
    await settle(hass)
    assert mode_select.calls == ["charge_only", "self_consumption", "charge_only"]


async def test_price_hold_time_and_kept_modes(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, mode_select: FakeModeSelect, advance
) -> None:
    hass.states.async_set(PRICE, "150")
    await setup_blueprint(
        "price_threshold_mode.yaml",
        {
            "mode_select": MODE_SELECT,
            "price_sensor": PRICE,
            "cheap_below": 50,
            "expensive_above": 200,
            "expensive_mode": "peak_shaving",
            "hold_time": {"minutes": 5},
            "keep_modes": ["manual"],
        },
    )
    hass.states.async_set(PRICE, "250")
    await advance(timedelta(minutes=4))
    hass.states.async_set(PRICE, "150")  # back before the hold time
    await advance(timedelta(minutes=10))
    assert mode_select.calls == []
    hass.states.async_set(PRICE, "250")
    await advance(timedelta(minutes=6))
    assert mode_select.calls == ["peak_shaving"]
    mode_select.set("manual")
    hass.states.async_set(PRICE, "20")
    await advance(timedelta(minutes=6))
    assert mode_select.calls == ["peak_shaving"]
    assert mode_select.state == "manual"


# --- 7. grid outage → backup ---------------------------------------------------------------------


GRID = "binary_sensor.relay_board_mains"
MEMORY = "input_text.ems_mode_before_outage"


@pytest.fixture
async def memory(hass: HomeAssistant) -> str:
    assert await async_setup_component(
        hass, "input_text", {"input_text": {"ems_mode_before_outage": {"max": 32}}}
    )
    return MEMORY


async def test_outage_goes_to_backup_and_back(
    hass: HomeAssistant,
    setup_blueprint: SetupBlueprint,
    mode_select: FakeModeSelect,
    memory: str,
    advance,
) -> None:
    mode_select.set("peak_shaving")
    hass.states.async_set(GRID, "on")
    await setup_blueprint(
        "grid_outage_backup.yaml",
        {"mode_select": MODE_SELECT, "grid_sensor": GRID, "memory": memory},
    )
    hass.states.async_set(GRID, "off")  # a 5 s blip
    await advance(timedelta(seconds=5))
    hass.states.async_set(GRID, "on")
    await advance(timedelta(minutes=5))
    assert mode_select.calls == []

    hass.states.async_set(GRID, "off")
    await advance(timedelta(seconds=11))
    assert mode_select.calls == ["backup"]
    assert hass.states.get(memory).state == "peak_shaving"

    hass.states.async_set(GRID, "on")  # back for 30 s only
    await advance(timedelta(seconds=30))
    hass.states.async_set(GRID, "off")
    await advance(timedelta(seconds=30))
    assert mode_select.calls == ["backup"]
    assert hass.states.get(memory).state == "peak_shaving"  # not overwritten with backup

    hass.states.async_set(GRID, "on")
    await advance(timedelta(seconds=61))
    assert mode_select.calls == ["backup", "peak_shaving"]
    assert hass.states.get(memory).state == ""


async def test_outage_keeps_a_mode_chosen_during_it(
    hass: HomeAssistant,
    setup_blueprint: SetupBlueprint,
    mode_select: FakeModeSelect,
    memory: str,
    advance,
) -> None:
    hass.states.async_set(GRID, "on")
    await setup_blueprint(
        "grid_outage_backup.yaml",
        {"mode_select": MODE_SELECT, "grid_sensor": GRID, "memory": memory},
    )
    hass.states.async_set(GRID, "off")
    await advance(timedelta(seconds=11))
    assert mode_select.calls == ["backup"]
    mode_select.set("passive")  # the user's choice during the outage
    hass.states.async_set(GRID, "on")
    await advance(timedelta(seconds=61))
    assert mode_select.calls == ["backup"]
    assert mode_select.state == "passive"
    assert hass.states.get(memory).state == ""


async def test_outage_when_already_in_backup(
    hass: HomeAssistant,
    setup_blueprint: SetupBlueprint,
    mode_select: FakeModeSelect,
    memory: str,
    advance,
) -> None:
    """A backup the user set before the outage stays after it."""
    mode_select.set("backup")
    hass.states.async_set(GRID, "on")
    await setup_blueprint(
        "grid_outage_backup.yaml",
        {"mode_select": MODE_SELECT, "grid_sensor": GRID, "memory": memory},
    )
    hass.states.async_set(GRID, "off")
    await advance(timedelta(seconds=11))
    hass.states.async_set(GRID, "on")
    await advance(timedelta(seconds=61))
    assert mode_select.calls == []
    assert mode_select.state == "backup"


async def test_outage_without_memory_uses_the_fallback_and_inverted_sensor(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, mode_select: FakeModeSelect, advance
) -> None:
    outage = "binary_sensor.grid_outage"  # on = no grid
    hass.states.async_set(outage, "off")
    await setup_blueprint(
        "grid_outage_backup.yaml",
        {
            "mode_select": MODE_SELECT,
            "grid_sensor": outage,
            "sensor_inverted": True,
            "fallback_mode": "charge_only",
        },
    )
    hass.states.async_set(outage, "on")
    await advance(timedelta(seconds=11))
    assert mode_select.calls == ["backup"]
    hass.states.async_set(outage, "off")
    await advance(timedelta(seconds=61))
    assert mode_select.calls == ["backup", "charge_only"]


async def test_outage_grid_back_while_home_assistant_was_down(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, mode_select: FakeModeSelect, memory: str
) -> None:
    """The memory survives the restart; at start-up the remembered mode comes back."""
    mode_select.set("backup")
    await hass.services.async_call(
        "input_text", "set_value", {"entity_id": memory, "value": "auto"}, blocking=True
    )
    hass.states.async_set(GRID, "on")
    hass.set_state(CoreState.not_running)
    await setup_blueprint(
        "grid_outage_backup.yaml",
        {"mode_select": MODE_SELECT, "grid_sensor": GRID, "memory": memory},
    )
    await hass.async_start()
    await settle(hass)
    assert mode_select.calls == ["auto"]
    assert hass.states.get(memory).state == ""
