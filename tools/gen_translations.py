"""Write custom_components/ems/translations/{en,fr}.json from one table (keeps keys in step).

Run from the repository root: .venv/bin/python -m tools.gen_translations
"""

from __future__ import annotations

import json
from pathlib import Path

from tools.tr_control import merge
from tools.tr_plan import merge as merge_plan
from tools.tr_savings import merge as merge_savings
from tools.tr_scada import merge as merge_scada
from tools.tr_validation import merge as merge_validation

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "custom_components" / "ems" / "translations"

# (key, English, French)
SENSORS = [
    ("reactive_power", "Reactive power", "Puissance réactive"),
    ("max_apparent_power", "Maximum apparent power", "Puissance apparente maximale"),
    ("soc", "State of charge", "État de charge"),
    ("soh", "State of health", "État de santé"),
    ("voltage", "Voltage", "Tension"),
    ("current", "Current", "Courant"),
    ("power", "Power", "Puissance"),
    ("temperature", "Temperature", "Température"),
    ("cell_voltage_min", "Lowest cell voltage", "Tension de cellule minimale"),
    ("cell_voltage_max", "Highest cell voltage", "Tension de cellule maximale"),
    ("energy_charged", "Energy charged", "Énergie chargée"),
    ("energy_discharged", "Energy discharged", "Énergie déchargée"),
    ("capacity", "Capacity", "Capacité"),
    ("pv_power_1", "PV string 1 power", "Puissance de la chaîne PV 1"),
    ("pv_power_2", "PV string 2 power", "Puissance de la chaîne PV 2"),
    ("max_charge_power", "Maximum charge power", "Puissance de charge maximale"),
    ("max_discharge_power", "Maximum discharge power", "Puissance de décharge maximale"),
    ("energy_total", "Energy produced", "Énergie produite"),
    ("dc_voltage", "DC voltage", "Tension DC"),
    ("dc_current", "DC current", "Courant DC"),
    ("dc_power", "DC power", "Puissance DC"),
    ("ac_voltage", "AC voltage", "Tension AC"),
    ("frequency", "Frequency", "Fréquence"),
    ("voltage_l1", "Voltage L1", "Tension L1"),
    ("voltage_l2", "Voltage L2", "Tension L2"),
    ("voltage_l3", "Voltage L3", "Tension L3"),
    ("current_l1", "Current L1", "Courant L1"),
    ("current_l2", "Current L2", "Courant L2"),
    ("current_l3", "Current L3", "Courant L3"),
    ("power_l1", "Power L1", "Puissance L1"),
    ("power_l2", "Power L2", "Puissance L2"),
    ("power_l3", "Power L3", "Puissance L3"),
    ("energy_import", "Energy imported", "Énergie soutirée"),
    ("energy_export", "Energy exported", "Énergie injectée"),
    ("site_pv_power", "PV power", "Puissance PV"),
    ("site_battery_power", "Battery power", "Puissance batterie"),
    ("site_grid_power", "Grid power", "Puissance réseau"),
    ("site_house_load", "House load", "Consommation de la maison"),
    ("site_soc", "Battery state of charge", "État de charge des batteries"),
]
CHANNELS = [
    ("bus_voltage", "bus voltage", "tension bus"),
    ("shunt_voltage", "shunt voltage", "tension shunt"),
    ("current", "current", "courant"),
    ("power", "power", "puissance"),
]
CHANNEL_NAMES = {
    1: ("Backup battery", "Batterie de secours"),
    2: ("Charger", "Chargeur"),
    3: ("Load", "Charge"),
    4: ("Mains adapter", "Alimentation secteur"),
}
for ch, (en_ch, fr_ch) in CHANNEL_NAMES.items():
    for key, en, fr in CHANNELS:
        SENSORS.append((f"ch{ch}_{key}", f"{en_ch} {en}", f"{fr_ch} : {fr}"))

BINARY_SENSORS = [
    ("alarm_over_voltage", "Over-voltage alarm", "Alarme surtension"),
    ("alarm_under_voltage", "Under-voltage alarm", "Alarme sous-tension"),
    ("alarm_over_temperature", "Over-temperature alarm", "Alarme surchauffe"),
    ("alarm_under_temperature", "Under-temperature alarm", "Alarme température basse"),
    ("alarm_over_current", "Over-current alarm", "Alarme surintensité"),
    ("alarm_fault", "Fault", "Défaut"),
    ("mains_present", "Mains", "Secteur"),
    ("connected", "Connection", "Connexion"),
]
SWITCHES = [
    ("relay_1", "Relay 1 (mains)", "Relais 1 (secteur)"),
    ("relay_2", "Relay 2 (charge circuit)", "Relais 2 (circuit de charge)"),
    ("relay_3", "Relay 3 (load)", "Relais 3 (charge)"),
    ("relay_4", "Relay 4 (auxiliary)", "Relais 4 (auxiliaire)"),
]
NUMBERS = [
    ("setpoint", "Power setpoint", "Consigne de puissance"),
    ("charge_limit", "Charge power limit", "Limite de puissance de charge"),
    ("discharge_limit", "Discharge power limit", "Limite de puissance de décharge"),
    ("power_limit", "Output limit", "Limitation de production"),
]

KINDS = {
    "battery": ("Battery", "Batterie", "battery", "batterie"),
    "pv": ("PV inverter", "Onduleur PV", "PV inverter", "onduleur PV"),
    "meter": ("Grid meter", "Compteur réseau", "meter", "compteur"),
    "relay_board": ("Relay board", "Carte relais", "relay board", "carte relais"),
}

ERRORS = {
    "cannot_connect": (
        "Cannot connect to the device: {error}",
        "Impossible de se connecter à l'appareil : {error}",
    ),
    "device_error": (
        "The device answered with a Modbus error ({error}). Check the unit id and the profile.",
        "L'appareil a répondu par une erreur Modbus ({error}). Vérifiez l'identifiant d'esclave et le profil.",
    ),
    "profile_mismatch": (
        "The device does not answer the profile's main values ({error}). Is it the right profile?",
        "L'appareil ne fournit pas les valeurs principales du profil ({error}). Est-ce le bon profil ?",
    ),
    "no_sunspec": (
        "No usable SunSpec device found: {error}",
        "Aucun appareil SunSpec utilisable : {error}",
    ),
    "entity_not_found": ("This entity does not exist.", "Cette entité n'existe pas."),
}

FIELDS_EN = {
    "name": "Name",
    "host": "Host",
    "port": "Port",
    "unit_id": "Unit id",
    "profile": "Register profile",
    "serial_port": "Serial port",
    "baudrate": "Baud rate",
    "parity": "Parity",
    "stopbits": "Stop bits",
    "bytesize": "Data bits",
    "power_entity": "Power sensor",
    "invert_power": "Invert the power sign",
    "soc_entity": "State of charge sensor",
    "capacity_wh": "Usable capacity",
    "max_charge_w": "Maximum charge power",
    "max_discharge_w": "Maximum discharge power",
    "setpoint_entity": "Setpoint entity (to command the battery)",
    "energy_in_entity": "Energy in sensor",
    "energy_out_entity": "Energy out sensor",
}
FIELDS_FR = {
    "name": "Nom",
    "host": "Hôte",
    "port": "Port",
    "unit_id": "Identifiant d'esclave",
    "profile": "Profil de registres",
    "serial_port": "Port série",
    "baudrate": "Débit (bauds)",
    "parity": "Parité",
    "stopbits": "Bits de stop",
    "bytesize": "Bits de données",
    "power_entity": "Capteur de puissance",
    "invert_power": "Inverser le signe de la puissance",
    "soc_entity": "Capteur d'état de charge",
    "capacity_wh": "Capacité utile",
    "max_charge_w": "Puissance de charge maximale",
    "max_discharge_w": "Puissance de décharge maximale",
    "setpoint_entity": "Entité de consigne (pour piloter la batterie)",
    "energy_in_entity": "Capteur d'énergie entrante",
    "energy_out_entity": "Capteur d'énergie sortante",
}
DESC_EN = {
    "power_entity": "Battery: + charging. Meter: + import. Tick 'invert' if yours is the other way.",
    "unit_id": "Modbus unit (slave) id of the device.",
    "profile": "The register map ems reads from this device.",
}
# Modbus steps only: a battery whose registers lack its ratings.
RATING_DESC_EN = {
    "capacity_wh": "Battery: needed when its registers do not give it (the planner uses it).",
    "max_charge_w": "Battery: the power it may charge at, when its registers do not give it.",
    "max_discharge_w": "Battery: the power it may discharge at, when its registers do not give it.",
}
DESC_FR = {
    "power_entity": "Batterie : + en charge. Compteur : + en soutirage. Cochez « inverser » sinon.",
    "unit_id": "Identifiant Modbus (esclave) de l'appareil.",
    "profile": "La table de registres qu'ems lit sur cet appareil.",
}
RATING_DESC_FR = {
    "capacity_wh": "Batterie : nécessaire si ses registres ne la donnent pas (pour le planificateur).",
    "max_charge_w": "Batterie : la puissance de charge permise, si ses registres ne la donnent pas.",
    "max_discharge_w": "Batterie : la puissance de décharge permise, si ses registres ne la donnent pas.",
}
STEP_FIELDS = {
    "modbus_tcp": [
        "name",
        "host",
        "port",
        "unit_id",
        "profile",
        "capacity_wh",
        "max_charge_w",
        "max_discharge_w",
    ],
    "modbus_rtu": [
        "name",
        "serial_port",
        "baudrate",
        "parity",
        "stopbits",
        "bytesize",
        "unit_id",
        "profile",
        "capacity_wh",
        "max_charge_w",
        "max_discharge_w",
    ],
    "sunspec": ["name", "host", "port", "unit_id"],
    "entities": [
        "name",
        "power_entity",
        "invert_power",
        "soc_entity",
        "capacity_wh",
        "max_charge_w",
        "max_discharge_w",
        "setpoint_entity",
        "energy_in_entity",
        "energy_out_entity",
    ],
}
STEP_TITLES = {
    "modbus_tcp": ("Modbus TCP", "Modbus TCP"),
    "modbus_rtu": ("Modbus RTU (serial)", "Modbus RTU (série)"),
    "sunspec": ("SunSpec discovery", "Découverte SunSpec"),
    "entities": ("From existing entities", "À partir d'entités existantes"),
}


def subentry(kind: str, lang: int) -> dict:
    """Translations of one device subentry type."""
    en, fr, en_l, fr_l = KINDS[kind]
    title = en if lang == 0 else fr
    fields = FIELDS_EN if lang == 0 else FIELDS_FR
    descs = DESC_EN if lang == 0 else DESC_FR
    steps: dict = {
        "user": {
            "title": title,
            "description": "How is the device connected?"
            if lang == 0
            else "Comment l'appareil est-il connecté ?",
            "menu_options": {k: v[lang] for k, v in STEP_TITLES.items()},
        }
    }
    ratings = RATING_DESC_EN if lang == 0 else RATING_DESC_FR
    for step, keys in STEP_FIELDS.items():
        step_descs = {**descs, **ratings} if step.startswith("modbus") else descs
        steps[step] = {
            "title": STEP_TITLES[step][lang],
            "data": {k: fields[k] for k in keys},
            "data_description": {k: step_descs[k] for k in keys if k in step_descs},
        }
    return {
        "entry_type": title,
        "initiate_flow": {
            "user": f"Add a {en_l}" if lang == 0 else f"Ajouter : {fr_l}",
            "reconfigure": f"Reconfigure the {en_l}" if lang == 0 else f"Reconfigurer : {fr_l}",
        },
        "step": steps,
        "error": {k: v[lang] for k, v in ERRORS.items()},
        "abort": {
            "already_configured": "This device is already configured."
            if lang == 0
            else "Cet appareil est déjà configuré.",
            "reconfigure_successful": "The device was reconfigured."
            if lang == 0
            else "L'appareil a été reconfiguré.",
        },
    }


def build(lang: int) -> dict:
    """The whole translation file for English (0) or French (1)."""
    pick = (lambda t: t[1]) if lang == 0 else (lambda t: t[2])
    site_fields = (
        {
            "name": "Site name",
            "import_limit_w": "Grid import limit",
            "export_limit_w": "Grid export limit",
        }
        if lang == 0
        else {
            "name": "Nom du site",
            "import_limit_w": "Limite de soutirage réseau",
            "export_limit_w": "Limite d'injection réseau",
        }
    )
    site_desc = (
        {
            "import_limit_w": "Leave empty for no limit.",
            "export_limit_w": "Leave empty for no limit (0 for zero export).",
        }
        if lang == 0
        else {
            "import_limit_w": "Laisser vide pour aucune limite.",
            "export_limit_w": "Laisser vide pour aucune limite (0 pour aucune injection).",
        }
    )
    en = lang == 0
    return {
        "title": "ems",
        "config": {
            "step": {
                "user": {
                    "title": "Energy site" if en else "Site énergétique",
                    "description": "Create the site; then add its devices (battery, PV, meter, relays)."
                    if en
                    else "Créez le site, puis ajoutez ses appareils (batterie, PV, compteur, relais).",
                    "data": site_fields,
                    "data_description": site_desc,
                },
                "reconfigure": {
                    "title": "Energy site" if en else "Site énergétique",
                    "data": site_fields,
                    "data_description": site_desc,
                },
            },
            "abort": {
                "already_configured": "A site with this name exists already."
                if en
                else "Un site de ce nom existe déjà.",
                "reconfigure_successful": "The site was reconfigured."
                if en
                else "Le site a été reconfiguré.",
            },
        },
        "config_subentries": {kind: subentry(kind, lang) for kind in KINDS},
        "options": {
            "step": {
                "init": {
                    "title": "Polling and control" if en else "Interrogation et pilotage",
                    "data": {
                        "scan_interval": "Poll interval" if en else "Intervalle d'interrogation",
                        "control": "Devices ems may command"
                        if en
                        else "Appareils qu'ems peut piloter",
                    },
                    "data_description": {
                        "control": "Without this, ems only reads the device and never writes to it."
                        if en
                        else "Sinon, ems lit seulement l'appareil et n'y écrit jamais.",
                    },
                }
            }
        },
        "selector": {
            "parity": {
                "options": {
                    # Keys hassfest accepts ([a-z0-9-_]); link_params maps them to N/E/O.
                    "none": "None" if en else "Aucune",
                    "even": "Even" if en else "Paire",
                    "odd": "Odd" if en else "Impaire",
                }
            }
        },
        "entity": {
            "sensor": {k: {"name": pick((k, e, f))} for k, e, f in SENSORS},
            "binary_sensor": {k: {"name": pick((k, e, f))} for k, e, f in BINARY_SENSORS},
            "switch": {k: {"name": pick((k, e, f))} for k, e, f in SWITCHES},
            "number": {k: {"name": pick((k, e, f))} for k, e, f in NUMBERS},
        },
        "exceptions": {
            "device_unreachable": {
                "message": "{name} does not answer: {error}"
                if en
                else "{name} ne répond pas : {error}"
            },
            "control_disabled": {
                "message": "Control of {name} is not enabled; enable it in the site's options."
                if en
                else "Le pilotage de {name} n'est pas activé ; activez-le dans les options du site."
            },
            "value_rejected": {
                "message": "{name} refused the value: {error}"
                if en
                else "{name} a refusé la valeur : {error}"
            },
            "write_failed": {
                "message": "Writing to {name} failed: {error}"
                if en
                else "L'écriture vers {name} a échoué : {error}"
            },
        },
        "issues": {
            "user_profile_invalid": {
                "title": "A register profile of yours is not loaded"
                if en
                else "Un de vos profils de registres n'est pas chargé",
                "description": (
                    "ems did not load {file} from {folder}: {error}. The other profiles work; fix "
                    "the file (docs/PROFILES.md says how) and restart Home Assistant."
                )
                if en
                else (
                    "ems n'a pas chargé {file} depuis {folder} : {error}. Les autres profils "
                    "fonctionnent ; corrigez le fichier (voir docs/PROFILES.md) et redémarrez "
                    "Home Assistant."
                ),
            },
            "invalid_profile": {
                "title": "{name} cannot be set up" if en else "{name} ne peut pas être configuré",
                "description": (
                    "The register map stored for {name} no longer fits ({error}). Its entities are "
                    "not created. Reconfigure the device (or remove it and add it again)."
                )
                if en
                else (
                    "La table de registres enregistrée pour {name} ne convient plus ({error}). Ses "
                    "entités ne sont pas créées. Reconfigurez l'appareil (ou supprimez-le et "
                    "ajoutez-le de nouveau)."
                ),
            },
            "device_unreachable": {
                "title": "{name} is unreachable" if en else "{name} est injoignable",
                "description": (
                    "ems has not reached {name} for {minutes} minutes. Its entities are unavailable "
                    "and ems does not command it. Check its power, cable or network, and its address "
                    "(reconfigure the device if it changed). This message goes away when it answers again."
                )
                if en
                else (
                    "ems n'a pas pu joindre {name} depuis {minutes} minutes. Ses entités sont "
                    "indisponibles et ems ne le pilote plus. Vérifiez son alimentation, son câble ou "
                    "le réseau, et son adresse (reconfigurez l'appareil si elle a changé). Ce message "
                    "disparaît dès qu'il répond de nouveau."
                ),
            },
        },
    }


LANGUAGES = {"en": 0, "fr": 1}


def render(lang: str) -> str:
    """The text of translations/<lang>.json."""
    index = LANGUAGES[lang]
    # Validation last: its form errors go to every subentry type, the plan's included.
    data = merge_validation(merge_plan(merge(build(index), index), index), index)
    data = merge_scada(merge_savings(data, index), index)
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    """Write both files."""
    OUT.mkdir(exist_ok=True)
    for lang in LANGUAGES:
        (OUT / f"{lang}.json").write_text(render(lang), encoding="utf-8")


if __name__ == "__main__":
    main()
