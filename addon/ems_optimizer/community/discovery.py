"""The community view in Home Assistant: MQTT discovery of the community and its members.

Any Home Assistant connected to the community's broker (as the `viewer`) shows the community as
a device (members, planned import and export, production, shared production, self-consumption,
self-sufficiency, the gain from planning together, the round) and each member as a device of its
own under it (its state in the round, flexible loads, planned runs, next run, import, export),
every value read from the summary topic. Discovered entities carry a name, not a translation
key, so the coordinator names them in its `language` (en or fr). Members beyond `max_members`
appear in the community's figures only (a view of thousands of devices helps nobody).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .protocol import coordinator_topic, dumps, summary_topic

LANGUAGES = ("en", "fr")
MAX_MEMBER_DEVICES = 250

# key: (English name, French name, template over the summary, unit, device class, icon)
COMMUNITY_SENSORS: dict[str, tuple[str, str, str, str | None, str | None, str | None]] = {
    "members": ("Members in the round", "Membres de la ronde", "members", None, None,
                "mdi:home-group"),
    "planned_import": ("Planned import (24 h)", "Import prévu (24 h)", "import_kwh", "kWh",
                       "energy", "mdi:transmission-tower-import"),
    "planned_export": ("Planned export (24 h)", "Export prévu (24 h)", "export_kwh", "kWh",
                       "energy", "mdi:transmission-tower-export"),
    "production": ("Production (24 h)", "Production (24 h)", "production_kwh", "kWh", "energy",
                   "mdi:solar-power"),
    "shared_production": ("Shared production (24 h)", "Production partagée (24 h)",
                          "shared_production_kwh", "kWh", "energy", "mdi:solar-power-variant"),
    "self_consumption": ("Self-consumption", "Autoconsommation", "self_consumption_pct", "%",
                         None, "mdi:home-lightning-bolt"),
    "self_sufficiency": ("Self-sufficiency", "Autoproduction", "self_sufficiency_pct", "%", None,
                         "mdi:home-battery"),
    "alone_import": ("Import if each home planned alone", "Import si chaque foyer planifiait seul",
                     "alone_import_kwh", "kWh", "energy", "mdi:home-outline"),
    "gain": ("Gain from planning together", "Gain de la planification commune", "gain_kwh",
             "kWh", "energy", "mdi:handshake"),
    "gain_pct": ("Gain from planning together (share)", "Gain de la planification commune (part)",
                 "gain_pct", "%", None, "mdi:handshake-outline"),
    "round": ("Round", "Ronde", "round", None, "timestamp", "mdi:calendar-clock"),
    "round_duration": ("Round duration", "Durée de la ronde", "round_s", "s", "duration",
                       "mdi:timer-outline"),
}  # fmt: skip

MEMBER_SENSORS: dict[str, tuple[str, str, str, str | None, str | None, str | None]] = {
    "state": ("State in the round", "État dans la ronde", "state", None, None, "mdi:home-clock"),
    "flexible": ("Flexible loads", "Charges flexibles", "flexible", None, None,
                 "mdi:washing-machine"),
    "runs": ("Planned runs", "Marches prévues", "runs|length", None, None,
             "mdi:calendar-check"),
    "next_run": ("First planned run", "Première marche prévue", "runs[0].start", None,
                 "timestamp", "mdi:timer-play-outline"),
    "import": ("Planned import (24 h)", "Import prévu (24 h)", "import_kwh", "kWh", "energy",
               "mdi:transmission-tower-import"),
    "export": ("Planned export (24 h)", "Export prévu (24 h)", "export_kwh", "kWh", "energy",
               "mdi:transmission-tower-export"),
}  # fmt: skip

DEVICE_NAMES = {"en": ("Community {}", "Member {}"), "fr": ("Communauté {}", "Membre {}")}


def community_device(community: str, language: str) -> dict[str, Any]:
    """The community's device."""
    return {
        "identifiers": [f"ems_community_{community}"],
        "name": DEVICE_NAMES[language][0].format(community),
        "manufacturer": "ems",
        "model": "Community coordinator",
    }


def _value(path: str) -> str:
    """A template reading `path` of the summary (None while absent)."""
    if path == "runs|length":
        return "{{ value_json.runs | length if value_json.runs is defined else none }}"
    if path == "runs[0].start":
        return "{{ value_json.runs[0].start if value_json.runs else none }}"
    return f"{{{{ value_json.{path} if value_json.{path} is defined else none }}}}"


def _sensor(
    unique_id: str,
    spec: tuple[str, str, str, str | None, str | None, str | None],
    language: str,
    device: dict[str, Any],
    *,
    community: str,
    template: str,
) -> dict[str, Any]:
    english, french, _, unit, device_class, icon = spec
    config: dict[str, Any] = {
        "name": english if language == "en" else french,
        "unique_id": unique_id,
        "object_id": unique_id,
        "state_topic": summary_topic(community),
        "value_template": template,
        "availability_topic": coordinator_topic(community),
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
    }
    if unit:
        config["unit_of_measurement"] = unit
    if device_class:
        config["device_class"] = device_class
    if icon:
        config["icon"] = icon
    return config


def discovery_messages(
    community: str,
    members: Iterable[str],
    language: str = "en",
    prefix: str = "homeassistant",
    max_members: int = MAX_MEMBER_DEVICES,
) -> list[tuple[str, bytes]]:
    """(topic, payload) of every discovery config: the community, then up to `max_members`."""
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r}: one of {', '.join(LANGUAGES)}")
    device = community_device(community, language)
    messages = []
    for key, spec in COMMUNITY_SENSORS.items():
        unique_id = f"ems_community_{community}_{key}"
        config = _sensor(
            unique_id, spec, language, device, community=community, template=_value(spec[2])
        )
        messages.append((f"{prefix}/sensor/{unique_id}/config", dumps(config)))
    for member in sorted(members)[:max_members]:
        member_device = {
            "identifiers": [f"ems_community_{community}_{member}"],
            "name": DEVICE_NAMES[language][1].format(member),
            "manufacturer": "ems",
            "model": "Community member",
            "via_device": f"ems_community_{community}",
        }
        for key, spec in MEMBER_SENSORS.items():
            unique_id = f"ems_community_{community}_{member}_{key}"
            path = spec[2]
            inner = _value(path).replace("value_json.", f"value_json.member['{member}'].")
            template = (
                f"{{% if value_json.member is defined and '{member}' in value_json.member %}}"
                f"{inner}{{% else %}}{'absent' if key == 'state' else '{{ none }}'}{{% endif %}}"
            )
            config = _sensor(
                unique_id, spec, language, member_device, community=community, template=template
            )
            messages.append((f"{prefix}/sensor/{unique_id}/config", dumps(config)))
    return messages


DASHBOARD_TEXT = {
    "en": {
        "title": "Community {}",
        "view": "Community",
        "figures": "The community, next 24 h",
        "together": "Planning together",
        "members": "Members",
    },
    "fr": {
        "title": "Communauté {}",
        "view": "Communauté",
        "figures": "La communauté, 24 h à venir",
        "together": "Planifier ensemble",
        "members": "Membres",
    },
}


def entity_id(community: str, key: str, member: str | None = None) -> str:
    """The entity id Home Assistant gives a discovered sensor (from its object_id)."""
    middle = f"{community}_{member}" if member else community
    return f"sensor.ems_community_{middle}_{key}".replace("-", "_")


def dashboard(community: str, members: Iterable[str], language: str = "en") -> dict[str, Any]:
    """A Lovelace dashboard of the community view (YAML mode): figures, the gain, each member."""
    text = DASHBOARD_TEXT[language]
    index = 0 if language == "en" else 1

    def row(key: str, member: str | None = None) -> dict[str, str]:
        """A row with the sensor's own name (the card's title names the device)."""
        names = MEMBER_SENSORS if member else COMMUNITY_SENSORS
        return {"entity": entity_id(community, key, member), "name": names[key][index]}

    figures = ["members", "planned_import", "planned_export", "production", "shared_production",
               "self_consumption", "self_sufficiency", "round", "round_duration"]  # fmt: skip
    cards: list[dict[str, Any]] = [
        {
            "type": "entities",
            "title": text["figures"],
            "entities": [row(key) for key in figures],
        },
        {
            "type": "entities",
            "title": text["together"],
            "entities": [row(key) for key in ("alone_import", "gain", "gain_pct")],
        },
    ]
    for member in sorted(members)[:MAX_MEMBER_DEVICES]:
        cards.append(
            {
                "type": "entities",
                "title": DEVICE_NAMES[language][1].format(member),
                "entities": [row(key, member) for key in MEMBER_SENSORS],
            }
        )
    return {
        "title": text["title"].format(community),
        "views": [{"title": text["view"], "path": "community", "cards": cards}],
    }
