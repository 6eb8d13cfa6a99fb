"""Translations of the site controller (issue 6): mode, settings, state, limit reason, intents.

Merged into the generated files by tools/gen_translations.py.
"""

from __future__ import annotations

# value: (English, French)
MODES = {
    "auto": ("Auto (plan)", "Auto (plan)"),
    "self_consumption": ("Self-consumption", "Autoconsommation"),
    "peak_shaving": ("Peak shaving", "Écrêtage des pointes"),
    "charge_only": ("Charge only", "Charge seule"),
    "external": ("External", "Externe"),
    "backup": ("Backup", "Secours"),
    "passive": ("Passive", "Passif"),
    "manual": ("Manual", "Manuel"),
}
NUMBERS = {
    "grid_target": ("Grid target", "Consigne réseau"),
    "peak_import_threshold": ("Peak shaving import threshold", "Seuil d'écrêtage (soutirage)"),
    "peak_recharge_threshold": ("Peak shaving recharge threshold", "Seuil de recharge (écrêtage)"),
    "export_cap": ("Export cap", "Plafond d'injection"),
    "target_soc": ("Target state of charge", "État de charge cible"),
    "reserve_soc": ("Backup reserve", "Réserve de secours"),
    "manual_setpoint": ("Manual battery setpoint", "Consigne manuelle batterie"),
    "external_setpoint": ("External battery setpoint", "Consigne externe batterie"),
    "soc_min": ("Minimum state of charge", "État de charge minimal"),
    "soc_max": ("Maximum state of charge", "État de charge maximal"),
}
SWITCHES = {"grid_charging": ("Charge from the grid", "Charge depuis le réseau")}
STATES = {
    "init": ("Starting", "Démarrage"),
    "running": ("Running", "En marche"),
    "degraded": ("Degraded", "Dégradé"),
    "error": ("Error", "Erreur"),
}
REASONS = {
    "none": ("None", "Aucune"),
    "power": ("Power limit", "Limite de puissance"),
    "soc_max": ("Battery full", "Batterie pleine"),
    "soc_min": ("Battery at its floor", "Batterie à son plancher"),
    "cell_voltage_high": ("Cell voltage high", "Tension de cellule haute"),
    "cell_voltage_low": ("Cell voltage low", "Tension de cellule basse"),
    "temperature": ("Temperature", "Température"),
    "ramp": ("Ramp rate", "Rampe de puissance"),
    "capability": ("Device capability", "Capacité de l'appareil"),
    "unknown_state": ("Battery state unknown", "État de la batterie inconnu"),
    "invalid_input": ("Invalid setpoint", "Consigne invalide"),
}
SENSORS = {
    "site_state": ("Controller state", "État du pilotage", STATES),
    "limit_reason": ("Limit reason", "Raison de la limitation", REASONS),
    "site_setpoint": ("Battery setpoint", "Consigne batterie", None),
}


def merge(data: dict, lang: int) -> dict:
    """Add the controller's strings to a built translation file (0 English, 1 French)."""
    entity = data.setdefault("entity", {})
    entity.setdefault("select", {})["mode"] = {
        "name": "Mode",
        "state": {k: v[lang] for k, v in MODES.items()},
    }
    for key, names in NUMBERS.items():
        entity.setdefault("number", {})[key] = {"name": names[lang]}
    for key, names in SWITCHES.items():
        entity.setdefault("switch", {})[key] = {"name": names[lang]}
    for key, (en, fr, states) in SENSORS.items():
        item: dict = {"name": (en, fr)[lang]}
        if states:
            item["state"] = {k: v[lang] for k, v in states.items()}
        entity.setdefault("sensor", {})[key] = item
    data.setdefault("issues", {})["plan_stale"] = {
        "title": "The plan of {name} is stale" if lang == 0 else "Le plan de {name} est périmé",
        "description": (
            "The site is in Auto mode but has no current plan from the optimizer add-on, so it "
            "runs in self-consumption. Check that the add-on is running and can reach Home "
            "Assistant; this message goes away when a new plan arrives or the mode changes."
        )
        if lang == 0
        else (
            "Le site est en mode Auto mais n'a pas de plan à jour de l'optimiseur : il fonctionne "
            "en autoconsommation. Vérifiez que le module complémentaire tourne et joint Home "
            "Assistant ; ce message disparaît à l'arrivée d'un nouveau plan ou au changement "
            "de mode."
        ),
    }
    return data
