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
    "ramp_rate": ("Ramp rate", "Rampe de puissance"),
}
SWITCHES = {"grid_charging": ("Charge from the grid", "Charge depuis le réseau")}
# What the site really does (sensor "status").
STATUSES = {
    "starting": ("Starting", "Démarrage"),
    "following_plan": ("Following the plan", "Suit le plan"),
    "self_consumption_no_plan": (
        "Self-consumption (no fresh plan)",
        "Autoconsommation (pas de plan à jour)",
    ),
    "self_consumption_waiting_plan": (
        "Self-consumption (waiting for the plan to start)",
        "Autoconsommation (en attente du début du plan)",
    ),
    **{k: v for k, v in MODES.items() if k != "auto"},
    "dry_run": (
        "Dry run: no battery ems may command",
        "À blanc : aucune batterie pilotable par ems",
    ),
    "no_battery": ("No battery answers", "Aucune batterie ne répond"),
    "batteries_held": (
        "Batteries held at 0 W (see their problems)",
        "Batteries maintenues à 0 W (voir leurs problèmes)",
    ),
    "no_meter": ("Held at 0 W: no grid meter", "Maintenu à 0 W : pas de compteur réseau"),
    "external_timeout": (
        "Held at 0 W: external setpoint not refreshed",
        "Maintenu à 0 W : consigne externe non rafraîchie",
    ),
}
# Battery problems: (title, description) × (English, French).
PROBLEMS = {
    "battery_alarm": (
        ("{name} reports an alarm", "{name} signale une alarme"),
        (
            "The battery reports {detail}. ems holds it at 0 W until the alarm clears, then "
            "ramps its power back at the site's ramp rate. Check the battery.",
            "La batterie signale {detail}. ems la maintient à 0 W jusqu'à la fin de l'alarme, "
            "puis remonte sa puissance à la rampe du site. Vérifiez la batterie.",
        ),
    ),
    "battery_stale": (
        ("{name}: values frozen", "{name} : valeurs figées"),
        (
            "The values of this battery stopped changing while ems commanded power ({detail}): "
            "the gateway or the device may be stuck. ems holds it at 0 W until they move again.",
            "Les valeurs de cette batterie ne changent plus alors qu'ems lui demande de la "
            "puissance ({detail}) : la passerelle ou l'appareil est peut-être bloqué. ems la "
            "maintient à 0 W jusqu'à ce qu'elles bougent à nouveau.",
        ),
    ),
    "battery_write_failed": (
        ("{name} refuses its setpoint", "{name} refuse sa consigne"),
        (
            "Setpoint writes to this battery fail or do not read back ({detail}). ems retries "
            "with a growing delay and counts the failures (see the battery's control problem "
            "sensor and the diagnostics). Check the connection and the device's remote-control "
            "setting.",
            "Les écritures de consigne vers cette batterie échouent ou ne se relisent pas "
            "({detail}). ems réessaie avec un délai croissant et compte les échecs (voir le "
            "capteur de problème de pilotage de la batterie et les diagnostics). Vérifiez la "
            "liaison et le réglage de pilotage à distance de l'appareil.",
        ),
    ),
    "battery_not_following": (
        ("{name} does not follow its setpoint", "{name} ne suit pas sa consigne"),
        (
            "The battery's measured power stays far from what ems commands ({detail}). It may "
            "be limited by its own BMS, in a local mode, or ignoring remote commands.",
            "La puissance mesurée de la batterie reste loin de la consigne d'ems ({detail}). "
            "Elle est peut-être limitée par son BMS, en mode local, ou ignore le pilotage à "
            "distance.",
        ),
    ),
}
EXCEPTIONS = {
    "write_not_confirmed": (
        "{name} did not confirm its setpoint: {error}",
        "{name} n'a pas confirmé sa consigne : {error}",
    ),
    "setpoint_by_controller": (
        "The setpoint of {name} belongs to the site controller: use the Manual mode",
        "La consigne de {name} appartient au pilotage du site : utilisez le mode Manuel",
    ),
    "invalid_setting": (
        "Invalid value for {field}: {error}",
        "Valeur invalide pour {field} : {error}",
    ),
}
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
    "grid_charging_off": ("Charging from the grid is off", "Charge depuis le réseau désactivée"),
    "grid_import_limit": ("Grid import limit", "Limite de soutirage réseau"),
    "grid_export_limit": ("Grid export limit", "Limite d'injection réseau"),
    "alarm": ("Battery alarm", "Alarme batterie"),
    "stale_values": ("Battery values frozen", "Valeurs de la batterie figées"),
    "write_failed": ("Setpoint not confirmed", "Consigne non confirmée"),
}
SENSORS = {
    "site_state": ("Controller state", "État du pilotage", STATES),
    "limit_reason": ("Limit reason", "Raison de la limitation", REASONS),
    "site_setpoint": ("Battery setpoint", "Consigne batterie", None),
    "status": ("Status", "Statut", STATUSES),
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
    entity.setdefault("binary_sensor", {})["control_problem"] = {
        "name": ("Control problem", "Problème de pilotage")[lang]
    }
    for key, (title, description) in PROBLEMS.items():
        data.setdefault("issues", {})[key] = {
            "title": title[lang],
            "description": description[lang],
        }
    for key, message in EXCEPTIONS.items():
        data.setdefault("exceptions", {})[key] = {"message": message[lang]}
    data.setdefault("issues", {})["plan_sources"] = {
        "title": ("Two optimizers plan {name}", "Deux optimiseurs planifient {name}")[lang],
        "description": (
            "Plans for {name} came from more than one source within an hour ({sources}). Each "
            "replaces the other's plan and the battery follows whichever came last. Stop all "
            "but one (an add-on and a standalone ems-optimizer, or two add-on installs).",
            "Des plans pour {name} viennent de plusieurs sources en moins d'une heure "
            "({sources}). Chacun remplace le plan de l'autre et la batterie suit le dernier "
            "arrivé. N'en gardez qu'un (le module complémentaire et un ems-optimizer autonome, "
            "ou deux installations du module).",
        )[lang],
    }
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
