"""Write dashboards/ems.yaml (English) and ems.<lang>.yaml from one template and one table.

Run from the repository root: .venv/bin/python -m tools.gen_dashboards

The template (tools/dashboard_template.yaml) holds placeholders:

- ``[[t:key]]``: a text of the dashboard, from ``TEXTS`` (every title, heading, name, label);
- ``[[d:key]]``: the name of one of the demo's devices in that language, from ``DEVICES``;
- ``[[e:platform.translation_key@device]]``: the entity id Home Assistant gives that entity when
  it runs in that language: the device's name and the entity's translated name (from ems's
  generated translations), slugified as Home Assistant does;
- ``[[lang]]``: the language code.

A text that would not be a plain YAML scalar (``Plan : 24 h``) is written double-quoted.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
import json
from pathlib import Path
import re
import sys

from homeassistant.util import slugify
import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "tools" / "dashboard_template.yaml"
OUT = ROOT / "dashboards"
TRANSLATIONS = ROOT / "custom_components" / "ems" / "translations"
LANGUAGES = ("en", "fr")  # English first: ems.yaml, the others ems.<lang>.yaml

# The demo's site, devices and appliances as a household names them (scripts/demo.py names
# them so in that language): (English, French).
DEVICES = {
    "site": ("Demo site", "Site démo"),
    "battery": ("Battery", "Batterie"),
    "pv": ("PV inverter", "Onduleur PV"),
    "meter": ("Grid meter", "Compteur réseau"),
    "relays": ("Relay board", "Carte relais"),
    "washing_machine": ("Washing machine", "Lave-linge"),
    "water_heater": ("Water heater", "Chauffe-eau"),
    "ev": ("Electric car", "Voiture électrique"),
}

# Texts of the dashboard: (English, French).
TEXTS = {
    "view_site": ("Site", "Site"),
    "view_plan": ("Plan", "Plan"),
    "power_now": ("Power now", "Puissance instantanée"),
    "pv": ("PV", "PV"),
    "house_load": ("House load", "Consommation"),
    "grid": ("Grid", "Réseau"),
    "grid_signed": ("Grid (+ import)", "Réseau (+ soutirage)"),
    "battery": ("Battery", "Batterie"),
    "battery_signed": ("Battery (+ charge)", "Batterie (+ charge)"),
    "battery_soc": ("Battery SOC", "État de charge des batteries"),
    "power_flows": ("Power flows (2 h)", "Flux de puissance (2 h)"),
    "control": ("Control", "Pilotage"),
    "mode": ("Mode", "Mode"),
    "running_now": ("Running now", "En ce moment"),
    "ramp_rate": ("Ramp rate", "Rampe de puissance"),
    "controller_and_limiter": ("Controller and limiter", "Pilotage et limitations"),
    "controller_state": ("Controller state", "État du pilotage"),
    "limited_by": ("Limited by", "Limité par"),
    "register_writes": ("Battery registers", "Registres des batteries"),
    "written_writes": ("ems writes", "ems écrit"),
    "dry_run_writes": ("dry run, ems would write", "à blanc, ems écrirait"),
    "no_battery_command": ("No battery command yet", "Pas encore de commande de batterie"),
    "battery_setpoint": ("Battery setpoint", "Consigne batterie"),
    "planned_battery_power": ("Planned battery power", "Puissance batterie planifiée"),
    "manual_setpoint": ("Manual setpoint", "Consigne manuelle"),
    "charge_from_grid": ("Charge from the grid", "Charge depuis le réseau"),
    "voltage_support": ("Voltage support Q(V)", "Soutien de tension Q(V)"),
    "frequency_response": ("Frequency response P(f)", "Réponse en fréquence P(f)"),
    "soc_min": ("Minimum SOC", "État de charge minimal"),
    "soc_max": ("Maximum SOC", "État de charge maximal"),
    "battery_vs_plan": ("Battery vs plan (2 h)", "Batterie et plan (2 h)"),
    "setpoint": ("Setpoint", "Consigne"),
    "plan": ("Plan", "Plan"),
    "alarms_and_devices": ("Alarms and devices", "Alarmes et appareils"),
    "alarms": ("Alarms", "Alarmes"),
    "devices_connected": ("Devices connected", "Appareils connectés"),
    "meter": ("Meter", "Compteur"),
    "relays": ("Relays", "Relais"),
    "plan_24h": ("Plan (next 24 h)", "Plan (24 h à venir)"),
    "plan_chart": ("Power and state of charge", "Puissance et état de charge"),
    "current_step": ("Current step of the plan", "Étape en cours du plan"),
    "status": ("Status", "État"),
    "age": ("Age", "Âge"),
    "stale": ("Stale", "Périmé"),
    "pv_forecast": ("PV forecast", "Prévision PV"),
    "load_forecast": ("Load forecast", "Prévision de consommation"),
    "soc": ("SOC", "État de charge"),
    "cost": ("Cost over the horizon", "Coût sur l'horizon"),
    "appliances": ("Appliances", "Appareils pilotés"),
    "let_ems_schedule": ("Let ems schedule it", "Laisser ems le programmer"),
    "finish_by": ("Finish by", "Terminer avant"),
    "next_start": ("Next start", "Prochain démarrage"),
    "energy_needed": ("Energy needed", "Énergie nécessaire"),
    "plug": ("Plug", "Prise"),
    "relay": ("Relay", "Relais"),
    "charging_point": ("Charging point", "Borne de recharge"),
    "calendar": ("Calendar", "Calendrier"),
    # In the markdown card (a Jinja template): plain text, or a Jinja list for the weekdays.
    "weekdays": (
        "['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']",
        "['lun.', 'mar.', 'mer.', 'jeu.', 'ven.', 'sam.', 'dim.']",
    ),
    "appliance_runs": ("Appliance runs:", "Démarrages des appareils :"),
    "not_planned": ("not planned", "non planifié"),
    "no_plan_yet": (
        "No plan yet: the optimizer add-on sends one when it starts, then every 15 minutes.",
        "Pas encore de plan : le module d'optimisation en envoie un à son démarrage, puis "
        "toutes les 15 minutes.",
    ),
}

_PLACEHOLDER = re.compile(r"\[\[(?:(?P<kind>[tde]):(?P<key>[\w.@]+)|(?P<lang>lang))\]\]")
# A placeholder that is the whole value of a "key: value" line (or list item).
_WHOLE_VALUE = re.compile(r"^(?P<head>\s*(?:- )?(?:[\w-]+: )?)(?P<value>\[\[[^\]]+\]\])$")


@cache
def _entity_names(lang: str) -> dict[str, dict[str, dict[str, str]]]:
    """Entity translations of ems in ``lang`` (platform → translation key → strings)."""
    data = json.loads((TRANSLATIONS / f"{lang}.json").read_text(encoding="utf-8"))
    return data["entity"]


def entity_id(lang: str, ref: str) -> str:
    """The id of ``platform.translation_key@device`` in a Home Assistant running in ``lang``."""
    entity, device = ref.split("@")
    platform, key = entity.split(".")
    name = _entity_names(lang)[platform][key]["name"]
    return f"{platform}.{slugify(f'{device_name(lang, device)} {name}')}"


def device_name(lang: str, device: str) -> str:
    """The demo's name of ``device`` in ``lang``."""
    return DEVICES[device][LANGUAGES.index(lang)]


def text(lang: str, key: str) -> str:
    """A text of the dashboard in ``lang``."""
    return TEXTS[key][LANGUAGES.index(lang)]


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar: plain when it reads back unchanged, else double-quoted."""
    try:
        plain_ok = yaml.safe_load(f"k: {value}") == {"k": value}
    except yaml.YAMLError:
        plain_ok = False
    return value if plain_ok else json.dumps(value, ensure_ascii=False)


def render(lang: str, texts: Callable[[str, str], str] = text) -> str:
    """The dashboard in ``lang`` (``texts`` replaces the table, e.g. to mark every text)."""

    def value(match: re.Match[str]) -> str:
        if match["lang"]:
            return lang
        kind, key = match["kind"], match["key"]
        if kind == "t":
            return texts(lang, key)
        if kind == "d":
            return device_name(lang, key)
        return entity_id(lang, key)

    lines = []
    block_indent: int | None = None  # inside a block scalar (the markdown): text as is
    for line in TEMPLATE.read_text(encoding="utf-8").splitlines():
        indent = len(line) - len(line.lstrip())
        if block_indent is not None and line.strip() and indent <= block_indent:
            block_indent = None
        whole = _WHOLE_VALUE.match(line)
        if whole and block_indent is None and not line.lstrip().startswith("#"):
            lines.append(whole["head"] + _scalar(_PLACEHOLDER.sub(value, whole["value"])))
        else:
            lines.append(_PLACEHOLDER.sub(value, line))
        if block_indent is None and re.search(r":\s*[|>][-+]?$", line):
            block_indent = indent
    out = "\n".join(lines) + "\n"
    if _PLACEHOLDER.search(out):
        raise ValueError("a placeholder was left in the dashboard")
    return out


def path(lang: str) -> Path:
    """Where the dashboard in ``lang`` is written."""
    return OUT / ("ems.yaml" if lang == LANGUAGES[0] else f"ems.{lang}.yaml")


def main() -> int:
    """Write every dashboard."""
    for lang in LANGUAGES:
        path(lang).write_text(render(lang), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
