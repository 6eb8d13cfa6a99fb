"""The community view: MQTT discovery configs and the dashboard that shows them."""

from __future__ import annotations

import json

import jinja2
import pytest

from ems_optimizer.community.discovery import (
    COMMUNITY_SENSORS,
    MEMBER_SENSORS,
    dashboard,
    discovery_messages,
    entity_id,
)

SUMMARY = {
    "members": 2,
    "import_kwh": 12.5,
    "export_kwh": 0.0,
    "production_kwh": 30.0,
    "shared_production_kwh": 20.0,
    "self_consumption_pct": 100.0,
    "self_sufficiency_pct": 70.1,
    "alone_import_kwh": None,
    "gain_kwh": None,
    "gain_pct": None,
    "round": "2024-06-15T12:00:00+02:00",
    "round_s": 0.4,
    "member": {
        "home": {"state": "planned", "flexible": 2, "runs": [
            {"type": "ev", "start": "2024-06-15T14:00:00+02:00", "kwh": 7.4}],
            "import_kwh": 3.0, "export_kwh": 0.0},
        "plant": {"state": "planned", "flexible": 0, "runs": [], "import_kwh": 0.0,
                  "export_kwh": 20.0},
    },
}  # fmt: skip


def _render(config: dict, summary: dict) -> str:
    """What Home Assistant's MQTT sensor makes of the summary (value_json = the payload)."""
    template = jinja2.Environment(autoescape=False).from_string(config["value_template"])
    return template.render(value_json=summary).strip()


def _configs(language: str = "en", members: tuple[str, ...] = ("home", "plant", "gone")):
    return {
        topic: json.loads(payload)
        for topic, payload in discovery_messages("vilaine", members, language)
    }


def test_every_sensor_reads_the_summary() -> None:
    configs = _configs()
    assert len(configs) == len(COMMUNITY_SENSORS) + 3 * len(MEMBER_SENSORS)
    unique = {c["unique_id"] for c in configs.values()}
    assert len(unique) == len(configs)
    values = {c["unique_id"]: _render(c, SUMMARY) for c in configs.values()}
    assert values["ems_community_vilaine_members"] == "2"
    assert values["ems_community_vilaine_planned_import"] == "12.5"
    assert values["ems_community_vilaine_gain"] == "None"  # Home Assistant: unknown
    assert values["ems_community_vilaine_round"] == "2024-06-15T12:00:00+02:00"
    assert values["ems_community_vilaine_home_state"] == "planned"
    assert values["ems_community_vilaine_home_runs"] == "1"
    assert values["ems_community_vilaine_home_next_run"] == "2024-06-15T14:00:00+02:00"
    assert values["ems_community_vilaine_plant_next_run"] == "None"
    assert values["ems_community_vilaine_plant_export"] == "20.0"
    # a member that is not in this round's summary is "absent", its figures unknown
    assert values["ems_community_vilaine_gone_state"] == "absent"
    assert values["ems_community_vilaine_gone_import"] == "None"
    for config in configs.values():
        assert config["state_topic"] == "ems/vilaine/summary"
        assert config["availability_topic"] == "ems/vilaine/coordinator"
        assert config["device"]["manufacturer"] == "ems"


def test_members_are_devices_of_the_community_and_names_are_translated() -> None:
    english, french = _configs("en"), _configs("fr")
    member = english["homeassistant/sensor/ems_community_vilaine_home_import/config"]
    assert member["device"]["via_device"] == "ems_community_vilaine"
    assert member["device"]["name"] == "Member home"
    assert member["unit_of_measurement"] == "kWh"
    assert member["device_class"] == "energy"
    fr = french["homeassistant/sensor/ems_community_vilaine_home_import/config"]
    assert (fr["name"], fr["device"]["name"]) == ("Import prévu (24 h)", "Membre home")
    with pytest.raises(ValueError, match="language 'de'"):
        discovery_messages("vilaine", [], "de")


def test_the_dashboard_shows_discovered_entities_only() -> None:
    config = dashboard("vilaine", ["home", "plant"], "fr")
    assert config["title"] == "Communauté vilaine"
    rows = [row for card in config["views"][0]["cards"] for row in card["entities"]]
    shown = {row["entity"] for row in rows}
    assert {
        "name": "Gain de la planification commune",
        "entity": entity_id("vilaine", "gain"),
    } in rows
    discovered = {f"sensor.{c['object_id']}" for c in _configs("fr", ("home", "plant")).values()}
    assert shown <= discovered
    assert entity_id("vilaine", "gain") in shown
    assert entity_id("vilaine", "import", "home") in shown


def test_a_large_community_shows_its_first_members_only() -> None:
    names = [f"home{i:04d}" for i in range(300)]
    configs = discovery_messages("big", names, max_members=250)
    assert len(configs) == len(COMMUNITY_SENSORS) + 250 * len(MEMBER_SENSORS)
