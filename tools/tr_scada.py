"""Strings of the site as a grid asset: the Modbus server for a SCADA, and grid support.

Each entry: (English, French).
"""

from __future__ import annotations

SECTION = (
    "Modbus server (SCADA, external EMS)",
    "Serveur Modbus (SCADA, EMS externe)",
)
SECTION_DESCRIPTION = (
    "Serves the site as a SunSpec device (models 1, 701, 702, 704, 705, 711, 715, 124 and the "
    "ems model 64900) so a SCADA or another EMS can read it and, if you allow it, set the mode "
    "and the battery power. The register map is in the documentation (docs/REGISTER_MAP.md).",
    "Présente le site comme un équipement SunSpec (modèles 1, 701, 702, 704, 705, 711, 715, 124 "
    "et le modèle ems 64900) : un SCADA ou un autre EMS peut le lire et, si vous l'autorisez, "
    "choisir le mode et la puissance de la batterie. La table des registres est dans la "
    "documentation (docs/REGISTER_MAP.md).",
)
FIELDS = {
    "enabled": ("Serve the site over Modbus TCP", "Servir le site en Modbus TCP"),
    "port": ("TCP port", "Port TCP"),
    "unit_id": ("Unit id", "Numéro d'esclave (unit id)"),
    "writable": ("Allow writes", "Autoriser l'écriture"),
    "allowed_clients": ("Allowed clients", "Clients autorisés"),
    "heartbeat_s": ("Watchdog timeout", "Délai du chien de garde"),
    "fallback_mode": ("Mode when the watchdog lapses", "Mode si le chien de garde expire"),
}
DESCRIPTIONS = {
    "enabled": (
        "Off by default. The server runs inside Home Assistant.",
        "Désactivé par défaut. Le serveur tourne dans Home Assistant.",
    ),
    "port": (
        "502 is the Modbus standard but needs privileges on most hosts; 5502 by default.",
        "502 est le port standard mais demande des privilèges sur la plupart des machines ; "
        "5502 par défaut.",
    ),
    "unit_id": (
        "The unit id the SCADA addresses; other ids get no answer.",
        "Le numéro que le SCADA interroge ; les autres numéros n'ont pas de réponse.",
    ),
    "writable": (
        "Off: read only. On: a client may write the mode, the active and reactive power "
        "setpoints (value, enable, unit) and the heartbeat, nothing else. Every setpoint still "
        "goes through the limiter.",
        "Désactivé : lecture seule. Activé : un client peut écrire le mode, les consignes de "
        "puissance active et réactive (valeur, activation, unité) et le battement de cœur, rien "
        "d'autre. Toute consigne passe encore par le limiteur.",
    ),
    "allowed_clients": (
        "IP addresses or networks, comma separated (192.168.1.20, 10.0.0.0/24). Empty: any "
        "client. Others are disconnected at once.",
        "Adresses IP ou réseaux, séparés par des virgules (192.168.1.20, 10.0.0.0/24). Vide : "
        "tout client. Les autres sont déconnectés aussitôt.",
    ),
    "heartbeat_s": (
        "Once a client has taken control, it must write (the heartbeat 715.ControllerHb or a "
        "setpoint) at least this often, or the site falls back. 0: no watchdog.",
        "Quand un client a pris la main, il doit écrire (le battement 715.ControllerHb ou une "
        "consigne) au moins à cet intervalle, sinon le site se replie. 0 : pas de chien de garde.",
    ),
    "fallback_mode": (
        "What the site does when the client falls silent; it stays so until a client sets a "
        "mode again.",
        "Ce que fait le site quand le client se tait ; il y reste jusqu'à ce qu'un client "
        "choisisse de nouveau un mode.",
    ),
}
MODES = {
    "self_consumption": ("Self-consumption", "Autoconsommation"),
    "passive": ("Passive", "Passif"),
    "auto": ("Auto (plan)", "Auto (plan)"),
    "backup": ("Backup", "Secours"),
}
LINK = {
    "listening": ("Listening", "En écoute"),
    "remote": ("Controlled by the SCADA", "Piloté par le SCADA"),
    "lost": ("Heartbeat lost: fallback", "Battement perdu : repli"),
    "error": ("Server error", "Erreur du serveur"),
}
ATTRIBUTES = {
    "port": ("Port", "Port"),
    "unit_id": ("Unit id", "Numéro d'esclave"),
    "writable": ("Writes allowed", "Écriture autorisée"),
    "allowed_clients": ("Allowed clients", "Clients autorisés"),
    "clients": ("Clients connected", "Clients connectés"),
    "heartbeat_s": ("Watchdog timeout", "Délai du chien de garde"),
    "heartbeat_left_s": ("Watchdog time left", "Temps restant du chien de garde"),
    "fallback_mode": ("Fallback mode", "Mode de repli"),
    "writes": ("Writes accepted", "Écritures acceptées"),
    "refused": ("Writes refused", "Écritures refusées"),
    "error": ("Error", "Erreur"),
}
ISSUES = {
    "scada_watchdog": (
        ("{site}: the SCADA stopped writing", "{site} : le SCADA n'écrit plus"),
        (
            "The client that controlled {site} over Modbus wrote nothing for {timeout} s, so the "
            "site fell back to the {mode} mode. Check the SCADA and the network. The site stays "
            "in that mode until a client writes a mode again; this message goes away at the "
            "next write.",
            "Le client qui pilotait {site} en Modbus n'a rien écrit depuis {timeout} s : le site "
            "s'est replié en mode {mode}. Vérifiez le SCADA et le réseau. Le site reste dans ce "
            "mode jusqu'à ce qu'un client écrive de nouveau un mode ; ce message disparaît à la "
            "prochaine écriture.",
        ),
    ),
    "scada_server": (
        (
            "{site}: the Modbus server cannot start",
            "{site} : le serveur Modbus ne démarre pas",
        ),
        (
            "The Modbus server of {site} cannot listen on port {port}: {error}. Another program "
            "may use the port, or it needs privileges (below 1024). Choose another port in the "
            "site's options.",
            "Le serveur Modbus de {site} ne peut pas écouter sur le port {port} : {error}. Un "
            "autre programme utilise peut-être ce port, ou il demande des privilèges (sous "
            "1024). Choisissez un autre port dans les options du site.",
        ),
    ),
}
ERRORS = {
    "invalid_allowed_clients": (
        "Allowed clients: give IP addresses or networks separated by commas "
        "(192.168.1.20, 10.0.0.0/24).",
        "Clients autorisés : indiquez des adresses IP ou des réseaux séparés par des virgules "
        "(192.168.1.20, 10.0.0.0/24).",
    ),
}


GRID_SECTION = ("Grid support (Q(V), P(f))", "Soutien au réseau (Q(V), P(f))")
GRID_DESCRIPTION = (
    "Voltage support and frequency response, armed with the site's two switches. They act on "
    "top of any mode, through the limiter, from the grid meter's voltage and frequency.",
    "Soutien de tension et réponse en fréquence, armés par les deux interrupteurs du site. Ils "
    "agissent par-dessus n'importe quel mode, à travers le limiteur, d'après la tension et la "
    "fréquence du compteur réseau.",
)
GRID_FIELDS = {
    "f1_hz": ("f1: full discharge at or below", "f1 : décharge maximale en dessous"),
    "f2_hz": ("f2: deadband low end", "f2 : bas de la bande morte"),
    "f3_hz": ("f3: deadband high end", "f3 : haut de la bande morte"),
    "f4_hz": ("f4: full charge at or above", "f4 : charge maximale au-dessus"),
    "reserve_pct": ("SOC reserve for P(f)", "Réserve d'état de charge pour P(f)"),
    "ffr_trigger_hz": ("Fast frequency response trigger", "Seuil de réponse rapide en fréquence"),
    "ffr_hold_s": ("Fast frequency response hold", "Maintien de la réponse rapide"),
    "v_nominal": ("Nominal voltage", "Tension nominale"),
    "volt_var_points": ("Volt-var curve", "Courbe volt-var"),
    "q_priority": ("Reactive power first", "Priorité à la puissance réactive"),
    "interval_s": ("Loop interval", "Période de la boucle"),
}
GRID_DESCRIPTIONS = {
    "reserve_pct": (
        "Kept at both ends of the SOC window while P(f) is armed: the modes stop that far from "
        "empty and full, the response may use it.",
        "Gardée aux deux bouts de la plage d'état de charge tant que P(f) est armé : les modes "
        "s'arrêtent à cette distance du vide et du plein, la réponse peut l'utiliser.",
    ),
    "ffr_trigger_hz": (
        "Below it, the full discharge power at once, held for the hold time. 0: off.",
        "En dessous, toute la puissance de décharge d'un coup, maintenue pendant la durée de "
        "maintien. 0 : désactivé.",
    ),
    "volt_var_points": (
        "V:Q pairs, V in per unit of the nominal voltage, Q in share of the apparent power "
        "(+ injects). Default IEEE 1547 category B.",
        "Couples V:Q, V en valeur réduite de la tension nominale, Q en part de la puissance "
        "apparente (+ injecte). Par défaut IEEE 1547 catégorie B.",
    ),
    "q_priority": (
        "Off: active power first, Q from what the apparent power leaves. On: Q first, P cut.",
        "Désactivé : puissance active d'abord, Q dans ce que laisse la puissance apparente. "
        "Activé : Q d'abord, P réduite.",
    ),
    "interval_s": (
        "How often the grid meter's frequency and voltage are read and both functions run "
        "(the site loop runs every 5 s).",
        "Fréquence de lecture de la fréquence et de la tension du compteur et d'exécution des "
        "deux fonctions (la boucle du site tourne toutes les 5 s).",
    ),
}
SUPPORT_STATES = {
    "off": ("Off", "Désactivé"),
    "armed": ("Armed", "Armé"),
    "active": ("Active", "Actif"),
    "error": ("Error", "Erreur"),
}
GRID_ATTRIBUTES = {
    "frequency_hz": ("Frequency", "Fréquence"),
    "voltage_v": ("Voltage", "Tension"),
    "response_w": ("Response", "Réponse"),
    "reactive_var": ("Reactive power", "Puissance réactive"),
    "error": ("Error", "Erreur"),
    "reserve_pct": ("SOC reserve", "Réserve d'état de charge"),
    "ffr_until": ("Fast response held until", "Réponse rapide maintenue jusqu'à"),
    "loop_ms": ("Loop duration", "Durée de la boucle"),
}


def _grid(data: dict, lang: int) -> None:
    """The grid-support strings."""
    init = data["options"]["step"]["init"]
    init["sections"]["grid_support"] = {
        "name": GRID_SECTION[lang],
        "description": GRID_DESCRIPTION[lang],
        "data": {k: v[lang] for k, v in GRID_FIELDS.items()},
        "data_description": {k: v[lang] for k, v in GRID_DESCRIPTIONS.items()},
    }
    init["data"]["grid_support"] = GRID_SECTION[lang]
    data["options"]["error"]["invalid_grid_support"] = (
        "Grid support: {error}",
        "Soutien au réseau : {error}",
    )[lang]
    entity = data["entity"]
    entity.setdefault("switch", {})["voltage_support"] = {
        "name": ("Voltage support Q(V)", "Soutien de tension Q(V)")[lang]
    }
    entity["switch"]["frequency_response"] = {
        "name": ("Frequency response P(f)", "Réponse en fréquence P(f)")[lang]
    }
    for key, names in (
        ("voltage_support_state", ("Voltage support", "Soutien de tension")),
        ("frequency_response_state", ("Frequency response", "Réponse en fréquence")),
    ):
        entity["sensor"][key] = {
            "name": names[lang],
            "state": {k: v[lang] for k, v in SUPPORT_STATES.items()},
            "state_attributes": {k: {"name": v[lang]} for k, v in GRID_ATTRIBUTES.items()},
        }


def merge(data: dict, lang: int) -> dict:
    """Add the Modbus server's strings to a built translation file (0 English, 1 French)."""
    options = data.setdefault("options", {})
    init = options.setdefault("step", {}).setdefault("init", {})
    init.setdefault("sections", {})["modbus_server"] = {
        "name": SECTION[lang],
        "description": SECTION_DESCRIPTION[lang],
        "data": {k: v[lang] for k, v in FIELDS.items()},
        "data_description": {k: v[lang] for k, v in DESCRIPTIONS.items()},
    }
    init.setdefault("data", {})["modbus_server"] = SECTION[lang]
    options.setdefault("error", {}).update({k: v[lang] for k, v in ERRORS.items()})
    data.setdefault("selector", {})["fallback_mode"] = {
        "options": {k: v[lang] for k, v in MODES.items()}
    }
    data.setdefault("entity", {}).setdefault("sensor", {})["scada_link"] = {
        "name": ("SCADA link", "Liaison SCADA")[lang],
        "state": {k: v[lang] for k, v in LINK.items()},
        "state_attributes": {k: {"name": v[lang]} for k, v in ATTRIBUTES.items()},
    }
    for key, (title, description) in ISSUES.items():
        data.setdefault("issues", {})[key] = {
            "title": title[lang],
            "description": description[lang],
        }
    _grid(data, lang)
    return data
