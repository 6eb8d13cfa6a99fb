"""Strings of the site's Modbus server for a SCADA (options section, link sensor, repairs).

Each entry: (English, French).
"""

from __future__ import annotations

SECTION = (
    "Modbus server (SCADA, external EMS)",
    "Serveur Modbus (SCADA, EMS externe)",
)
SECTION_DESCRIPTION = (
    "Serves the site as a SunSpec device (models 1, 701, 702, 704, 715, 124 and the ems model "
    "64900) so a SCADA or another EMS can read it and, if you allow it, set the mode and the "
    "battery power. The register map is in the documentation (docs/REGISTER_MAP.md).",
    "Présente le site comme un équipement SunSpec (modèles 1, 701, 702, 704, 715, 124 et le "
    "modèle ems 64900) : un SCADA ou un autre EMS peut le lire et, si vous l'autorisez, choisir "
    "le mode et la puissance de la batterie. La table des registres est dans la documentation "
    "(docs/REGISTER_MAP.md).",
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
        "Off: read only. On: a client may write the mode, the active power setpoint (its "
        "value, enable and unit), and the heartbeat, nothing else. Every setpoint still goes "
        "through the limiter.",
        "Désactivé : lecture seule. Activé : un client peut écrire le mode, la consigne de "
        "puissance active (valeur, activation et unité) et le battement de cœur, rien d'autre. "
        "Toute consigne passe encore par le limiteur.",
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
    return data
