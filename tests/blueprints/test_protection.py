"""Protection blueprints: over-charge, deep discharge, temperature, battery exercise cycle."""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import CoreState, HomeAssistant, ServiceCall
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service

from .conftest import SetupBlueprint, settle

VOLTAGE = "sensor.battery_voltage_mean"
TEMPERATURE = "sensor.battery_temperature"
MAINS = "switch.relay_board_relay_1_mains"
CHARGE = "switch.relay_board_relay_2_charge_circuit"
LOAD = "switch.relay_board_relay_3_load"


def sec(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


class Switches:
    """Captures switch.turn_on / switch.turn_off (the edge of these blueprints)."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.on = async_mock_service(hass, "switch", "turn_on")
        self.off = async_mock_service(hass, "switch", "turn_off")

    @staticmethod
    def _ids(calls: list[ServiceCall]) -> list[list[str]]:
        out = []
        for call in calls:
            ids = call.data["entity_id"]
            out.append([ids] if isinstance(ids, str) else list(ids))
        return out

    @property
    def turned_on(self) -> list[list[str]]:
        return self._ids(self.on)

    @property
    def turned_off(self) -> list[list[str]]:
        return self._ids(self.off)

    def none(self) -> bool:
        return not self.on and not self.off

    def clear(self) -> None:
        self.on.clear()
        self.off.clear()


@pytest.fixture
def switches(hass: HomeAssistant) -> Switches:
    for entity_id in (MAINS, CHARGE):
        hass.states.async_set(entity_id, "on")
    hass.states.async_set(LOAD, "off")
    return Switches(hass)


def set_voltage(hass: HomeAssistant, volts: float) -> None:
    hass.states.async_set(VOLTAGE, str(volts), {"unit_of_measurement": "V"})


# --- 1. over-charge protection -----------------------------------------------------------------

OVERCHARGE = {"voltage_sensor": VOLTAGE, "charge_relay": CHARGE}


async def test_overcharge_opens_above_and_closes_below(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, switches: Switches, advance
) -> None:
    set_voltage(hass, 12.8)
    await setup_blueprint("overcharge_protection.yaml", OVERCHARGE)

    set_voltage(hass, 12.95)
    await advance(sec(20))
    assert switches.none()  # not yet held for 30 s
    await advance(sec(15))
    assert switches.turned_off == [[CHARGE]]
    assert not switches.on

    switches.clear()
    for volts in (12.85, 12.75, 12.71, 12.89, 12.7):  # the hysteresis band (12.7 is not below)
        set_voltage(hass, volts)
        await advance(sec(60))
    assert switches.none()

    set_voltage(hass, 12.65)
    await advance(sec(31))
    assert switches.turned_on == [[CHARGE]]
    assert not switches.off


async def test_overcharge_ignores_the_band_and_short_spikes(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, switches: Switches, advance
) -> None:
    set_voltage(hass, 12.8)
    await setup_blueprint("overcharge_protection.yaml", OVERCHARGE)
    for volts in (12.72, 12.88, 12.9, 12.71, 13.2):  # 12.9 is not above 12.9
        set_voltage(hass, volts)
        await advance(sec(10) if volts == 13.2 else sec(120))
    set_voltage(hass, 12.8)  # the 13.2 V spike lasted 10 s only
    await advance(sec(120))
    assert switches.none()


async def test_overcharge_inverted_relay_and_close_conditions(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, switches: Switches, advance
) -> None:
    set_voltage(hass, 12.8)
    hass.states.async_set("binary_sensor.battery_cool", "off")
    await setup_blueprint(
        "overcharge_protection.yaml",
        {
            **OVERCHARGE,
            "relay_inverted": True,
            "open_above": 13.0,
            "close_below": 12.5,
            "hold_time": {"seconds": 0},
            "close_conditions": [
                {"condition": "state", "entity_id": "binary_sensor.battery_cool", "state": "on"}
            ],
        },
    )
    set_voltage(hass, 12.95)  # inside the custom band
    await settle(hass)
    assert switches.none()
    set_voltage(hass, 13.05)
    await settle(hass)
    assert switches.turned_on == [[CHARGE]]  # normally-closed: opening is turn_on

    switches.clear()
    set_voltage(hass, 12.4)  # below, but the extra condition says no
    await settle(hass)
    assert switches.none()

    hass.states.async_set("binary_sensor.battery_cool", "on")
    set_voltage(hass, 12.6)
    await settle(hass)
    set_voltage(hass, 12.4)
    await settle(hass)
    assert switches.turned_off == [[CHARGE]]


async def test_overcharge_checks_the_voltage_at_startup(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, switches: Switches
) -> None:
    """A voltage already above the threshold when HA starts opens the relay at once."""
    set_voltage(hass, 13.1)
    hass.set_state(CoreState.not_running)
    await setup_blueprint("overcharge_protection.yaml", OVERCHARGE)
    assert switches.none()
    await hass.async_start()
    await settle(hass)
    assert switches.turned_off == [[CHARGE]]


async def test_overcharge_startup_inside_the_band_does_nothing(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, switches: Switches
) -> None:
    set_voltage(hass, 12.8)
    hass.set_state(CoreState.not_running)
    await setup_blueprint("overcharge_protection.yaml", OVERCHARGE)
    await hass.async_start()
    await settle(hass)
    assert switches.none()


# --- 2. deep-discharge cut-off -------------------------------------------------------------------

DEEP = {"voltage_sensor": VOLTAGE, "load_switches": [LOAD, "switch.aux"]}


async def test_deep_discharge_cuts_and_reconnects(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, switches: Switches, advance
) -> None:
    notified = async_mock_service(hass, "test", "cutoff")
    set_voltage(hass, 12.2)
    await setup_blueprint(
        "deep_discharge_cutoff.yaml",
        {
            **DEEP,
            "charge_switches": [MAINS, CHARGE],
            "cutoff_actions": [{"action": "test.cutoff", "data": {"v": "{{ voltage }}"}}],
        },
    )
    set_voltage(hass, 11.75)
    await advance(sec(31))
    assert switches.turned_off == [[LOAD, "switch.aux"]]
    assert switches.turned_on == [[MAINS, CHARGE]]
    assert len(notified) == 1
    assert notified[0].data["v"] == 11.75

    switches.clear()
    for volts in (12.0, 12.3, 12.4):  # between cut-off and reconnect
        set_voltage(hass, volts)
        await advance(sec(60))
    assert switches.none()

    set_voltage(hass, 12.5)
    await advance(sec(31))
    assert switches.turned_on == [[LOAD, "switch.aux"]]
    assert not switches.off


async def test_deep_discharge_without_auto_reconnect(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, switches: Switches, advance
) -> None:
    set_voltage(hass, 11.7)
    await setup_blueprint("deep_discharge_cutoff.yaml", {**DEEP, "auto_reconnect": False})
    set_voltage(hass, 12.6)
    await advance(sec(31))
    assert switches.none()  # reconnecting is the user's job
    set_voltage(hass, 11.9)  # and 11.9 V is above the cut-off
    await advance(sec(60))
    assert switches.none()


# --- 3. temperature alarm and cut-off ----------------------------------------------------------

TEMP = {
    "temperature_sensor": TEMPERATURE,
    "charge_relay": CHARGE,
    "notify_action": "notify.mobile_app_phone",
}


def set_temperature(hass: HomeAssistant, celsius: float) -> None:
    hass.states.async_set(TEMPERATURE, str(celsius), {"unit_of_measurement": "°C"})


@pytest.fixture
def notifications(hass: HomeAssistant) -> dict[str, list[ServiceCall]]:
    return {
        "create": async_mock_service(hass, "persistent_notification", "create"),
        "dismiss": async_mock_service(hass, "persistent_notification", "dismiss"),
        "phone": async_mock_service(hass, "notify", "mobile_app_phone"),
    }


async def test_temperature_alarm_then_cut_from_the_phone(
    hass: HomeAssistant,
    setup_blueprint: SetupBlueprint,
    switches: Switches,
    notifications,
    advance,
) -> None:
    set_temperature(hass, 30)
    await setup_blueprint("temperature_protection.yaml", TEMP)

    set_temperature(hass, 39.5)
    await advance(sec(120))
    assert not notifications["create"]
    assert not notifications["phone"]

    set_temperature(hass, 41.2)
    await advance(sec(31))
    assert switches.none()  # an alarm only
    assert len(notifications["create"]) == 1
    alarm = notifications["create"][0].data
    assert alarm["title"] == "Battery temperature alarm"
    assert alarm["message"] == "Battery temperature 41.2 °C is above 40 °C."
    phone = notifications["phone"][0].data
    assert phone["data"]["actions"] == [{"action": "EMS_CUT_CHARGING", "title": "Cut charging"}]

    hass.bus.async_fire("mobile_app_notification_action", {"action": "SOMETHING_ELSE"})
    await settle(hass)
    assert switches.none()
    hass.bus.async_fire("mobile_app_notification_action", {"action": "EMS_CUT_CHARGING"})
    await settle(hass)
    assert switches.turned_off == [[CHARGE]]
    assert "on request" in notifications["create"][-1].data["message"]

    set_temperature(hass, 34)  # cooled: charging resumes
    await settle(hass)
    assert switches.turned_on == [[CHARGE]]
    assert len(notifications["dismiss"]) == 1


async def test_temperature_cutoff_and_resume_with_hysteresis(
    hass: HomeAssistant,
    setup_blueprint: SetupBlueprint,
    switches: Switches,
    notifications,
    advance,
) -> None:
    set_temperature(hass, 30)
    await setup_blueprint("temperature_protection.yaml", {**TEMP, "language": "fr"})
    set_temperature(hass, 47)
    await advance(sec(31))
    assert switches.turned_off == [[CHARGE]]
    messages = [c.data["message"] for c in notifications["create"]]
    # The alarm and the cut-off fire together: one message, the cut-off's, in French.
    assert messages == [
        "La température de la batterie (47,0 °C) dépasse 45 °C : le relais de charge est ouvert."
    ]
    assert notifications["create"][0].data["title"] == "Charge de la batterie coupée"
    assert notifications["phone"][0].data["data"]["actions"] == []

    for celsius in (44, 40, 36, 35):  # not below 35 °C yet
        set_temperature(hass, celsius)
        await advance(sec(60))
    assert not switches.on
    set_temperature(hass, 34.5)
    await settle(hass)
    assert switches.turned_on == [[CHARGE]]


async def test_temperature_resume_waits_for_the_conditions(
    hass: HomeAssistant,
    setup_blueprint: SetupBlueprint,
    switches: Switches,
    notifications,
    advance,
) -> None:
    set_temperature(hass, 30)
    set_voltage(hass, 13.0)
    await setup_blueprint(
        "temperature_protection.yaml",
        {
            **TEMP,
            "reconnect_conditions": [
                {"condition": "numeric_state", "entity_id": VOLTAGE, "below": 12.7}
            ],
        },
    )
    set_temperature(hass, 50)
    await advance(sec(31))
    assert switches.turned_off == [[CHARGE]]
    set_temperature(hass, 30)
    await settle(hass)
    assert not switches.on  # cool, but the battery is full: leave it to the over-charge one


async def test_temperature_without_auto_reconnect(
    hass: HomeAssistant,
    setup_blueprint: SetupBlueprint,
    switches: Switches,
    notifications,
    advance,
) -> None:
    set_temperature(hass, 30)
    await setup_blueprint("temperature_protection.yaml", {**TEMP, "auto_reconnect": False})
    set_temperature(hass, 46)
    await advance(sec(31))
    set_temperature(hass, 20)
    await advance(sec(60))
    assert switches.turned_off == [[CHARGE]]
    assert not switches.on


# --- 4. battery exercise cycle -------------------------------------------------------------------

CYCLE = {
    "voltage_sensor": VOLTAGE,
    "mains_relay": MAINS,
    "charge_relay": CHARGE,
    "load_switches": [LOAD],
}


@pytest.fixture
async def paris(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Sunday 5 January 2025, 02:59:50 in Paris."""
    await hass.config.async_set_time_zone("Europe/Paris")
    freezer.move_to("2025-01-05T02:59:50+01:00")


async def test_exercise_cycle_runs_its_three_phases(
    hass: HomeAssistant, paris, setup_blueprint: SetupBlueprint, switches: Switches, advance
) -> None:
    set_voltage(hass, 12.8)
    await setup_blueprint("battery_exercise_cycle.yaml", CYCLE)
    await advance(sec(5))
    assert switches.none()
    await advance(sec(6))  # 03:00:01
    assert switches.turned_off == [[MAINS]]
    assert switches.turned_on == [[LOAD]]

    switches.clear()
    for volts in (12.6, 12.45, 12.4):  # not below 12.4 V yet
        set_voltage(hass, volts)
        await advance(sec(600))
    assert switches.none()
    set_voltage(hass, 12.35)
    await advance(sec(31))
    assert switches.turned_off == [[LOAD]]
    assert switches.turned_on == [[MAINS, CHARGE]]

    switches.clear()
    for volts in (12.6, 12.85, 12.9):  # charging, not above 12.9 V yet
        set_voltage(hass, volts)
        await advance(sec(600))
    assert switches.none()
    set_voltage(hass, 12.95)
    await advance(sec(31))
    assert switches.turned_off == [[CHARGE]]
    assert not switches.on


async def test_exercise_cycle_only_on_its_days(
    hass: HomeAssistant, paris, setup_blueprint: SetupBlueprint, switches: Switches, advance
) -> None:
    set_voltage(hass, 12.8)
    await setup_blueprint("battery_exercise_cycle.yaml", {**CYCLE, "weekdays": ["sat"]})
    await advance(sec(20))  # Sunday 03:00:10
    assert switches.none()


async def test_exercise_cycle_time_limits(
    hass: HomeAssistant, paris, setup_blueprint: SetupBlueprint, switches: Switches, advance
) -> None:
    notes = async_mock_service(hass, "persistent_notification", "create")
    set_voltage(hass, 12.8)
    await setup_blueprint(
        "battery_exercise_cycle.yaml",
        {**CYCLE, "max_discharge": {"hours": 2}, "max_charge": {"hours": 3}},
    )
    await advance(sec(11))
    set_voltage(hass, 12.5)  # the battery never gets down to 12.4 V
    await advance(timedelta(hours=1))
    assert switches.turned_on == [[LOAD]]
    await advance(timedelta(hours=1))
    assert switches.turned_on == [[LOAD], [MAINS, CHARGE]]
    assert "did not reach 12.4 V" in notes[0].data["message"]

    switches.clear()
    await advance(timedelta(hours=3, seconds=1))  # nor up to 12.9 V: it keeps charging
    assert switches.none()
    assert "did not reach 12.9 V" in notes[1].data["message"]


async def test_exercise_cycle_recovers_after_a_restart(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, switches: Switches
) -> None:
    set_voltage(hass, 12.5)
    hass.states.async_set(MAINS, "off")  # a cycle was interrupted by the restart
    hass.set_state(CoreState.not_running)
    await setup_blueprint("battery_exercise_cycle.yaml", CYCLE)
    await hass.async_start()
    await settle(hass)
    assert switches.turned_on == [[MAINS, CHARGE]]
    assert not switches.off


async def test_exercise_cycle_restart_with_mains_closed_does_nothing(
    hass: HomeAssistant, setup_blueprint: SetupBlueprint, switches: Switches
) -> None:
    set_voltage(hass, 12.5)
    hass.set_state(CoreState.not_running)
    await setup_blueprint("battery_exercise_cycle.yaml", CYCLE)
    await hass.async_start()
    await settle(hass)
    assert switches.none()
