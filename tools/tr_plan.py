"""Translations of the plan loop (issue 5): appliances, tariffs, plan entities, actions.

Merged into the generated files by tools/gen_translations.py. Every value is (English, French).
"""

from __future__ import annotations

KINDS = {
    "cycle": ("Washing machine, dishwasher… (one cycle)", "Lave-linge, lave-vaisselle… (un cycle)"),
    "water_heater": ("Water heater", "Chauffe-eau"),
    "ev": ("EV charging", "Recharge de véhicule électrique"),
    "pilot_wire_heater": ("Heater on a pilot wire", "Radiateur à fil pilote"),
    "thermal": ("Regulated heating", "Chauffage régulé"),
}
KIND_DESCRIPTIONS = {
    "cycle": (
        "One uninterrupted run that must be over by the finish-by time. ems turns the switch on "
        "at the planned start (use the appliance's delayed-start mode or a smart plug).",
        "Un cycle sans interruption, terminé avant l'heure de fin. ems allume l'interrupteur au "
        "démarrage planifié (mode départ différé de l'appareil ou prise connectée).",
    ),
    "water_heater": (
        "On/off at its power until the energy needed is delivered, inside the allowed hours.",
        "Marche/arrêt à sa puissance jusqu'à fournir l'énergie nécessaire, dans les heures "
        "autorisées.",
    ),
    "ev": (
        "Charges the energy needed by the finish-by time; ems switches the charging point.",
        "Charge l'énergie nécessaire avant l'heure de fin ; ems commande la borne.",
    ),
    "pilot_wire_heater": (
        "ems sets comfort or eco on the pilot-wire select, with at least the share of comfort "
        "you choose during the allowed hours.",
        "ems règle confort ou éco sur le sélecteur du fil pilote, avec au moins la part de "
        "confort choisie pendant les heures autorisées.",
    ),
    "thermal": (
        "Keeps the room between the two temperatures using a simple thermal model.",
        "Maintient la pièce entre les deux températures avec un modèle thermique simple.",
    ),
}
FIELDS = {
    "name": ("Name", "Nom"),
    "switch_entity": ("Switch that powers it", "Interrupteur qui l'alimente"),
    "power_w": ("Power", "Puissance"),
    "duration_minutes": ("Cycle duration", "Durée du cycle"),
    "profile_w": ("Power profile", "Profil de puissance"),
    "profile_step_minutes": ("Profile step", "Pas du profil"),
    "finish_by": ("Default finish-by time", "Heure de fin par défaut"),
    "energy_wh": ("Default energy needed", "Énergie nécessaire par défaut"),
    "windows": ("Allowed hours", "Heures autorisées"),
    "max_power_w": ("Maximum power", "Puissance maximale"),
    "min_power_w": ("Minimum charging power", "Puissance de charge minimale"),
    "allow_partial": (
        "Charge as much as possible when the full energy cannot be delivered",
        "Charger au mieux si toute l'énergie ne peut pas être fournie",
    ),
    "comfort_power_w": ("Power in comfort", "Puissance en confort"),
    "eco_power_w": ("Power in eco", "Puissance en éco"),
    "comfort_ratio": ("Minimum share of time in comfort", "Part minimale du temps en confort"),
    "comfort_option": ("Comfort option of the select", "Option « confort » du sélecteur"),
    "eco_option": ("Eco option of the select", "Option « éco » du sélecteur"),
    "cop": ("Coefficient of performance (COP)", "Coefficient de performance (COP)"),
    "heat_loss_w_per_k": ("Heat loss", "Déperditions thermiques"),
    "thermal_capacity_wh_per_k": ("Thermal capacity", "Capacité thermique"),
    "t_min_c": ("Minimum temperature", "Température minimale"),
    "t_max_c": ("Maximum temperature", "Température maximale"),
    "indoor_temperature_entity": ("Room temperature sensor", "Capteur de température intérieure"),
    "outdoor_temperature_entity": (
        "Outdoor temperature sensor",
        "Capteur de température extérieure",
    ),
}
PILOT_SWITCH = ("Pilot-wire select", "Sélecteur du fil pilote")
FIELD_DESCRIPTIONS = {
    "switch_entity": (
        "ems turns it on at the planned start (and off at the end for energy loads).",
        "ems l'allume au démarrage planifié (et l'éteint à la fin pour les charges en énergie).",
    ),
    "profile_w": (
        "Power values in W, one per profile step, e.g. 2000, 2000, 150, 150. Leave empty to use "
        "the power and the cycle duration.",
        "Puissances en W, une par pas du profil, p. ex. 2000, 2000, 150, 150. Laisser vide pour "
        "utiliser la puissance et la durée du cycle.",
    ),
    "finish_by": (
        "When it must be done, unless you set another time from the dashboard or an automation.",
        "Quand il doit avoir fini, sauf si vous fixez une autre heure depuis le tableau de bord "
        "ou une automatisation.",
    ),
    "energy_wh": (
        "Used when no other energy was asked for this finish-by time.",
        "Utilisée quand aucune autre énergie n'a été demandée pour cette heure de fin.",
    ),
    "windows": (
        "Daily hours when it may run, e.g. 22:00-06:00 (off-peak). Empty: any time.",
        "Heures quotidiennes où il peut fonctionner, p. ex. 22:00-06:00 (heures creuses). "
        "Vide : à toute heure.",
    ),
    "comfort_option": (
        "The select's option for comfort (e.g. comfort).",
        "L'option du sélecteur pour le confort (p. ex. comfort).",
    ),
    "eco_option": (
        "The select's option for eco (e.g. eco).",
        "L'option du sélecteur pour l'éco (p. ex. eco).",
    ),
    "outdoor_temperature_entity": (
        "Empty: the site's weather entity.",
        "Vide : l'entité météo du site.",
    ),
}
STEP_FIELDS = {
    "cycle": [
        "name",
        "switch_entity",
        "power_w",
        "duration_minutes",
        "profile_w",
        "profile_step_minutes",
        "finish_by",
    ],
    "water_heater": ["name", "switch_entity", "power_w", "energy_wh", "windows", "finish_by"],
    "ev": [
        "name",
        "switch_entity",
        "max_power_w",
        "min_power_w",
        "energy_wh",
        "finish_by",
        "allow_partial",
    ],
    "pilot_wire_heater": [
        "name",
        "switch_entity",
        "comfort_power_w",
        "eco_power_w",
        "comfort_ratio",
        "windows",
        "comfort_option",
        "eco_option",
    ],
    "thermal": [
        "name",
        "switch_entity",
        "max_power_w",
        "cop",
        "heat_loss_w_per_k",
        "thermal_capacity_wh_per_k",
        "t_min_c",
        "t_max_c",
        "indoor_temperature_entity",
        "outdoor_temperature_entity",
    ],
}
ERRORS = {
    "entity_not_found": ("This entity does not exist.", "Cette entité n'existe pas."),
    "invalid_windows": (
        "Write hours as HH:MM-HH:MM, separated by commas (e.g. 22:00-06:00, 12:00-14:00).",
        "Écrivez les heures sous la forme HH:MM-HH:MM, séparées par des virgules "
        "(p. ex. 22:00-06:00, 12:00-14:00).",
    ),
    "invalid_profile": (
        "The profile must be a list of powers in W (numbers ≥ 0).",
        "Le profil doit être une liste de puissances en W (nombres ≥ 0).",
    ),
    "profile_or_power": (
        "Give either a power profile, or a power and a cycle duration.",
        "Indiquez soit un profil de puissance, soit une puissance et une durée de cycle.",
    ),
    "min_above_max": (
        "The minimum power is above the maximum power.",
        "La puissance minimale dépasse la puissance maximale.",
    ),
    "eco_above_comfort": (
        "The eco power is above the comfort power.",
        "La puissance en éco dépasse la puissance en confort.",
    ),
    "option_not_found": (
        "The select has no such option. Its options: {options}",
        "Le sélecteur n'a pas cette option. Ses options : {options}",
    ),
    "t_min_above_max": (
        "The minimum temperature must be below the maximum temperature.",
        "La température minimale doit être inférieure à la température maximale.",
    ),
}
TARIFF_FIELDS = {
    "objective": ("Optimization objective", "Objectif de l'optimisation"),
    "peak_price": ("Import price (peak hours)", "Prix du kWh (heures pleines)"),
    "offpeak_price": ("Import price (off-peak hours)", "Prix du kWh (heures creuses)"),
    "offpeak_hours": ("Off-peak hours", "Heures creuses"),
    "export_price": ("Export price", "Prix de revente du kWh"),
    "price_entity": ("Price sensor", "Capteur de prix"),
    "weather_entity": ("Weather", "Météo"),
    "pv_peak_w": ("PV peak power (W)", "Puissance crête PV (W)"),
    "pv_tilt_deg": ("PV panel tilt", "Inclinaison des panneaux PV"),
    "pv_azimuth_deg": ("PV panel orientation", "Orientation des panneaux PV"),
    "annual_consumption_kwh": ("Yearly consumption (kWh)", "Consommation annuelle (kWh)"),
    "pv_forecast_entities": ("PV forecast sensors", "Capteurs de prévision PV"),
}
TARIFF_DESCRIPTIONS = {
    "peak_price": (
        "€/kWh. Empty: 0.25 €/kWh. Without off-peak hours, the price of every hour.",
        "€/kWh. Vide : 0,25 €/kWh. Sans heures creuses, le prix de toutes les heures.",
    ),
    "offpeak_hours": (
        "e.g. 22:00-06:00, or 01:00-07:00, 12:30-14:30.",
        "p. ex. 22:00-06:00, ou 01:00-07:00, 12:30-14:30.",
    ),
    "price_entity": (
        "Optional (€/kWh): its value is the price of the current step, and dated prices in its "
        "attributes (forecast, Nord Pool) replace the tariff where they apply.",
        "Facultatif (€/kWh) : sa valeur est le prix du pas en cours, et les prix datés de ses "
        "attributs (prévision, Nord Pool) remplacent le tarif là où ils s'appliquent.",
    ),
    "weather_entity": (
        "Optional: the add-on reads its forecast for PV and heating.",
        "Facultatif : le module complémentaire lit ses prévisions pour le PV et le chauffage.",
    ),
    "pv_peak_w": (
        "Optional: while there is no PV history yet (fresh install), the add-on forecasts a "
        "clear-sky PV production from this peak power instead of 0 W.",
        "Facultatif : tant qu'il n'y a pas encore d'historique PV (nouvelle installation), le "
        "module complémentaire prévoit une production PV par ciel clair à partir de cette "
        "puissance crête au lieu de 0 W.",
    ),
    "pv_tilt_deg": (
        "Optional, degrees from horizontal (0 flat, 90 vertical). Empty: 35°.",
        "Facultatif, en degrés depuis l'horizontale (0 à plat, 90 vertical). Vide : 35°.",
    ),
    "annual_consumption_kwh": (
        "Optional: until there is a day of load history (fresh install), the add-on forecasts "
        "the load of a typical household using this much a year instead of a flat load.",
        "Facultatif : tant qu'il n'y a pas un jour d'historique de consommation (nouvelle "
        "installation), le module complémentaire prévoit la consommation d'un foyer type "
        "consommant autant par an, au lieu d'une consommation constante.",
    ),
    "pv_forecast_entities": (
        "Optional: sensors with a dated PV forecast (Solcast's forecast today and tomorrow, "
        "with their detailedForecast attribute). Where they cover the plan, the add-on uses "
        "them instead of its own PV forecast.",
        "Facultatif : capteurs portant une prévision PV datée (prévisions Solcast du jour et "
        "du lendemain, avec leur attribut detailedForecast). Là où ils couvrent le plan, le "
        "module complémentaire les utilise à la place de sa propre prévision PV.",
    ),
    "pv_azimuth_deg": (
        "Optional, the direction the panels face, degrees from north (90 east, 180 south, "
        "270 west). Empty: south.",
        "Facultatif, la direction vers laquelle les panneaux sont tournés, en degrés depuis le "
        "nord (90 est, 180 sud, 270 ouest). Vide : sud.",
    ),
}
OBJECTIVES = {
    "cost": ("Lowest cost", "Coût minimal"),
    "import": ("Least grid import", "Soutirage minimal"),
    "self_consumption": ("Most self-consumption", "Autoconsommation maximale"),
}
SENSORS = {
    "plan_battery_power": ("Planned battery power", "Puissance batterie planifiée"),
    "plan_grid_power": ("Planned grid power", "Puissance réseau planifiée"),
    "plan_pv_forecast": ("PV forecast", "Prévision PV"),
    "plan_load_forecast": ("Load forecast", "Prévision de consommation"),
    "plan_soc": ("Planned state of charge", "État de charge planifié"),
    "plan_cost": ("Planned cost", "Coût planifié"),
    "plan_age": ("Plan age", "Âge du plan"),
    "next_start": ("Next start", "Prochain démarrage"),
}
STATUSES = {
    "optimal": ("Optimal", "Optimal"),
    "feasible": ("Feasible", "Réalisable"),
    "relaxed": ("Constraints relaxed", "Contraintes assouplies"),
    "infeasible": ("Infeasible", "Irréalisable"),
}
FORECAST_METHODS = {
    "persistence": ("Same time yesterday", "Même heure la veille"),
    "weekly": ("Same day last week", "Même jour la semaine passée"),
    "blend": ("Blend of recent days", "Mélange des jours récents"),
    "blend_temp": ("Recent days and temperature", "Jours récents et température"),
    "learned": ("Learned model", "Modèle appris"),
    "ensemble": ("Ensemble", "Ensemble"),
    "weather": ("Weather and recent clear days", "Météo et jours clairs récents"),
    "physical": ("Physical model, calibrated", "Modèle physique calibré"),
    "clear_sky_blend": ("Recent days on clear-sky model", "Jours récents sur ciel clair"),
    "external": ("External forecast", "Prévision externe"),
    "typical": ("Typical household profile", "Profil type d'un foyer"),
    "clear_sky": ("Clear-sky model of the panels", "Modèle ciel clair des panneaux"),
}
STALE_REASONS = {
    "no_plan": ("No plan", "Aucun plan"),
    "ended": ("Plan over", "Plan terminé"),
    "too_old": ("Too old", "Trop ancien"),
    "not_started": ("Not started yet", "Pas encore commencé"),
}
EXCEPTIONS = {
    "invalid_plan": (
        "The plan was rejected and nothing changed: {field}: {error}",
        "Le plan a été refusé et rien n'a changé : {field} : {error}",
    ),
    "invalid_scenario": (
        "The plan's scenario was rejected and nothing changed: {field}: {error}",
        "Le scénario du plan a été refusé et rien n'a changé : {field} : {error}",
    ),
    "plan_expired": (
        "The plan was rejected: it ended at {end}.",
        "Le plan a été refusé : il s'est terminé à {end}.",
    ),
    "site_not_found": (
        "No ems site has the entry id {entry_id}.",
        "Aucun site ems n'a l'identifiant {entry_id}.",
    ),
    "site_not_loaded": (
        "The ems site {name} is not running.",
        "Le site ems {name} n'est pas démarré.",
    ),
    "no_site": ("No ems site is set up.", "Aucun site ems n'est configuré."),
    "appliance_not_found": (
        "{target} is not an ems appliance.",
        "{target} n'est pas un appareil ems.",
    ),
    "finish_by_past": (
        "The finish-by time of {name} must be in the future.",
        "L'heure de fin de {name} doit être dans le futur.",
    ),
    "not_applicable": ("{name} does not take {field}.", "{name} n'accepte pas {field}."),
    "invalid_energy": (
        "The energy needed by {name} must be a number ≥ 0.",
        "L'énergie nécessaire à {name} doit être un nombre ≥ 0.",
    ),
}
SITE_FIELD = (
    "Site",
    "Site",
    "The ems site (default: the first one).",
    "Le site ems (par défaut : le premier).",
)
SERVICES = {
    "get_problem": (
        ("Get the planning problem", "Obtenir le problème de planification"),
        (
            "Returns the site's scenario (plan contract v1, without forecasts) and where to read "
            "the history and weather to forecast from. Used by the optimizer add-on.",
            "Renvoie le scénario du site (contrat de plan v1, sans prévisions) et où lire "
            "l'historique et la météo pour les établir. Utilisé par le module d'optimisation.",
        ),
        {"config_entry_id": SITE_FIELD},
    ),
    "set_plan": (
        ("Set the plan", "Appliquer un plan"),
        (
            "Checks a plan (contract v1) and makes it the site's plan; a malformed plan is "
            "rejected whole.",
            "Vérifie un plan (contrat v1) et en fait le plan du site ; un plan mal formé est "
            "refusé en entier.",
        ),
        {
            "plan": (
                "Plan",
                "Plan",
                "A plan of contract v1, as the optimizer produces it.",
                "Un plan du contrat v1, tel que l'optimiseur le produit.",
            ),
            "scenario": (
                "Scenario",
                "Scénario",
                "The scenario the plan was solved for, with its forecasts (optional).",
                "Le scénario pour lequel le plan a été calculé, avec ses prévisions (facultatif).",
            ),
            "source": (
                "Source",
                "Source",
                "Who computed the plan (e.g. the optimizer's name); two sources in one hour raise "
                "a repair.",
                "Qui a calculé le plan (par ex. le nom de l'optimiseur) ; deux sources en une "
                "heure ouvrent une réparation.",
            ),
            "config_entry_id": SITE_FIELD,
        },
    ),
    "request_run": (
        ("Re-plan now", "Replanifier maintenant"),
        (
            "Asks the optimizer add-on for a new plan at once.",
            "Demande tout de suite un nouveau plan au module d'optimisation.",
        ),
        {"config_entry_id": SITE_FIELD},
    ),
    "set_appliance_request": (
        ("Set an appliance request", "Définir une demande pour un appareil"),
        (
            "Tells ems when an appliance must be done and how much energy it needs, e.g. "
            "dishwasher done by 07:00, EV needs 20 kWh by 07:30.",
            "Indique à ems quand un appareil doit avoir fini et l'énergie qu'il lui faut, p. ex. "
            "lave-vaisselle fini à 07:00, voiture à charger de 20 kWh avant 07:30.",
        ),
        {
            "entity_id": (
                "Entities",
                "Entités",
                "An entity of the appliance (e.g. its finish-by).",
                "Une entité de l'appareil (p. ex. son heure de fin).",
            ),
            "device_id": ("Devices", "Appareils", "The appliance's device.", "L'appareil."),
            "appliance": (
                "Appliance id",
                "Identifiant de l'appareil",
                "Its id in plans (or its subentry id).",
                "Son identifiant dans les plans (ou celui de sa sous-entrée).",
            ),
            "finish_by": (
                "Finish by",
                "Terminer avant",
                "A date and time, or a time of day (its next occurrence).",
                "Une date et une heure, ou une heure du jour (sa prochaine occurrence).",
            ),
            "energy_wh": (
                "Energy needed",
                "Énergie nécessaire",
                "In Wh (water heater, EV).",
                "En Wh (chauffe-eau, véhicule électrique).",
            ),
            "enabled": (
                "Let ems schedule it",
                "Laisser ems le programmer",
                "Turned on when a finish-by or an energy is given and this is left out.",
                "Activé si une heure de fin ou une énergie est donnée et ce champ omis.",
            ),
        },
    ),
}


def _appliance(lang: int) -> dict:
    steps: dict = {
        "user": {
            "title": ("Appliance", "Appareil")[lang],
            "description": ("What kind of appliance?", "Quel type d'appareil ?")[lang],
            "menu_options": {k: v[lang] for k, v in KINDS.items()},
        }
    }
    for kind, keys in STEP_FIELDS.items():
        data = {k: FIELDS[k][lang] for k in keys}
        if kind == "pilot_wire_heater":
            data["switch_entity"] = PILOT_SWITCH[lang]
        if kind == "water_heater":
            data["energy_wh"] = ("Energy per day", "Énergie par jour")[lang]
        if kind == "ev":
            data["max_power_w"] = ("Maximum charging power", "Puissance de charge maximale")[lang]
        steps[kind] = {
            "title": KINDS[kind][lang],
            "description": KIND_DESCRIPTIONS[kind][lang],
            "data": data,
            "data_description": {
                k: FIELD_DESCRIPTIONS[k][lang] for k in keys if k in FIELD_DESCRIPTIONS
            },
        }
    return {
        "entry_type": ("Appliance", "Appareil")[lang],
        "initiate_flow": {
            "user": ("Add an appliance", "Ajouter un appareil")[lang],
            "reconfigure": ("Reconfigure the appliance", "Reconfigurer l'appareil")[lang],
        },
        "step": steps,
        "error": {k: v[lang] for k, v in ERRORS.items()},
        "abort": {
            "already_configured": (
                "Another appliance already uses this switch.",
                "Un autre appareil utilise déjà cet interrupteur.",
            )[lang],
            "reconfigure_successful": (
                "The appliance was reconfigured.",
                "L'appareil a été reconfiguré.",
            )[lang],
        },
    }


# The plan calendar's event texts (calendar.py reads them in Home Assistant's language); the
# placeholders arrive formatted (energy in kWh with 2 decimals, power in W without).
CALENDAR = {
    "calendar_charge": ("Battery charge", "Charge de la batterie"),
    "calendar_discharge": ("Battery discharge", "Décharge de la batterie"),
    "calendar_description": (
        "Planned by ems: {energy} kWh, {power} W on average.",
        "Planifié par ems : {energy} kWh, {power} W en moyenne.",
    ),
}


# What the plan means the battery to do (contract INTENT_KINDS), in a household's words.
INTENT_KINDS = {
    "self_consumption": (
        "Cover the house, store the surplus",
        "Couvrir la maison, stocker le surplus",
    ),
    "hold": ("Keep the energy for later", "Garder l'énergie pour plus tard"),
    "charge": ("Charge", "Charger"),
    "discharge": ("Discharge for the house", "Décharger pour la maison"),
    "export": ("Sell to the grid", "Vendre au réseau"),
}
INTENT_REASONS = {
    "store_pv_surplus": ("Solar surplus to store", "Surplus solaire à stocker"),
    "cover_load": ("The battery covers the house", "La batterie alimente la maison"),
    "cheap_grid_now": (
        "Grid power is cheaper now than when it will be used",
        "Le courant est moins cher maintenant qu'au moment où il servira",
    ),
    "expensive_now": ("Grid power is expensive now", "Le courant est cher maintenant"),
    "keep_for_later": (
        "The stored energy is worth more later",
        "L'énergie stockée vaudra plus tard davantage",
    ),
    "sell_high": ("The feed-in price is worth it", "Le prix de revente en vaut la peine"),
    "peak_limit": ("Keeps the grid import under its limit", "Garde le soutirage sous sa limite"),
    "reach_final_soc": (
        "To end the plan at its state of charge",
        "Pour finir le plan à son état de charge",
    ),
    "at_limit": ("The battery is full or empty", "La batterie est pleine ou vide"),
}


# The plan's ``replan`` decision (stable execution, see the add-on's stability.py).
REPLAN_DECISIONS = {
    "first": ("First plan", "Premier plan"),
    "replaced": ("New plan (it saves enough)", "Nouveau plan (il économise assez)"),
    "kept": ("Previous plan kept", "Plan précédent conservé"),
}


def merge(data: dict, lang: int) -> dict:
    """Add the plan's strings to a built translation file (0 English, 1 French)."""
    data.setdefault("config_subentries", {})["appliance"] = _appliance(lang)
    init = data.setdefault("options", {}).setdefault("step", {}).setdefault("init", {})
    init.setdefault("data", {}).update({k: v[lang] for k, v in TARIFF_FIELDS.items()})
    init.setdefault("data_description", {}).update(
        {k: v[lang] for k, v in TARIFF_DESCRIPTIONS.items()}
    )
    data["options"].setdefault("error", {})["invalid_windows"] = ERRORS["invalid_windows"][lang]
    data.setdefault("selector", {})["objective"] = {
        "options": {k: v[lang] for k, v in OBJECTIVES.items()}
    }
    entity = data.setdefault("entity", {})
    for key, names in SENSORS.items():
        entity.setdefault("sensor", {})[key] = {"name": names[lang]}
    entity["sensor"]["plan_status"] = {
        "name": ("Plan status", "État du plan")[lang],
        "state": {k: v[lang] for k, v in STATUSES.items()},
        "state_attributes": {
            "replan": {
                "name": ("Compared with the previous plan", "Par rapport au plan précédent")[lang],
                "state": {k: v[lang] for k, v in REPLAN_DECISIONS.items()},
            },
            "running_step_kept": {
                "name": ("Step under way kept", "Pas en cours conservé")[lang],
                "state": {"true": ("Yes", "Oui")[lang], "false": ("No", "Non")[lang]},
            },
            "replan_gain_eur": {
                "name": ("Saving of the new plan", "Économie du nouveau plan")[lang]
            },
            "replan_threshold_eur": {
                "name": ("Saving needed to change", "Économie exigée pour changer")[lang]
            },
        },
    }
    entity["sensor"]["plan_community"] = {
        "name": ("Planning", "Planification")[lang],
        "state": {
            "community": ("With the community", "Avec la communauté")[lang],
            "alone": ("Alone", "Seul")[lang],
        },
        "state_attributes": {
            "community": {"name": ("Community", "Communauté")[lang]},
            "members": {"name": ("Members in the round", "Membres de la ronde")[lang]},
            "round": {"name": ("Round", "Ronde")[lang]},
            "reason": {"name": ("Why alone", "Pourquoi seul")[lang]},
        },
    }
    entity["sensor"]["battery_intent"] = {
        "name": ("Battery plan now", "Plan de la batterie maintenant")[lang],
        "state": {k: v[lang] for k, v in INTENT_KINDS.items()},
        "state_attributes": {
            "reason": {
                "name": ("Why", "Pourquoi")[lang],
                "state": {k: v[lang] for k, v in INTENT_REASONS.items()},
            },
            "power_w": {"name": ("Planned power", "Puissance prévue")[lang]},
            "soc_target_pct": {"name": ("State of charge aimed at", "État de charge visé")[lang]},
            "until": {"name": ("Until", "Jusqu'à")[lang]},
        },
    }
    for series, names in (
        ("load", ("Load forecast error yesterday", "Erreur de prévision de consommation d'hier")),
        ("pv", ("PV forecast error yesterday", "Erreur de prévision PV d'hier")),
    ):
        methods = {k: v[lang] for k, v in FORECAST_METHODS.items()}
        entity["sensor"][f"{series}_forecast_error"] = {
            "name": names[lang],
            "state_attributes": {
                "method": {"name": ("Method in use", "Méthode utilisée")[lang], "state": methods},
                "method_then": {
                    "name": ("Method used that day", "Méthode utilisée ce jour-là")[lang],
                    "state": methods,
                },
                "day": {"name": ("Day", "Jour")[lang]},
                "persistence_mae_w": {
                    "name": ("Error of same time yesterday", "Erreur de « même heure la veille »")[
                        lang
                    ]
                },
                "vs_persistence_pct": {
                    "name": ("Against same time yesterday", "Par rapport à la veille")[lang]
                },
            },
        }
    for series, names in (
        ("load", ("Load forecast method", "Méthode de prévision de consommation")),
        ("pv", ("PV forecast method", "Méthode de prévision PV")),
    ):
        entity["sensor"][f"{series}_forecast_method"] = {
            "name": names[lang],
            "state": {k: v[lang] for k, v in FORECAST_METHODS.items()},
        }
    entity.setdefault("binary_sensor", {})["plan_stale"] = {
        "name": ("Plan stale", "Plan périmé")[lang],
        "state_attributes": {
            "reason": {
                "name": ("Reason", "Raison")[lang],
                "state": {k: v[lang] for k, v in STALE_REASONS.items()},
            }
        },
    }
    entity.setdefault("calendar", {})["plan"] = {"name": "Plan"}
    entity.setdefault("datetime", {})["finish_by"] = {"name": ("Finish by", "Terminer avant")[lang]}
    entity.setdefault("number", {})["energy_needed"] = {
        "name": ("Energy needed", "Énergie nécessaire")[lang]
    }
    entity.setdefault("switch", {})["schedule"] = {
        "name": ("Let ems schedule it", "Laisser ems le programmer")[lang]
    }
    exceptions = data.setdefault("exceptions", {})
    for key, messages in EXCEPTIONS.items():
        exceptions[key] = {"message": messages[lang]}
    data.setdefault("common", {}).update({k: v[lang] for k, v in CALENDAR.items()})
    data["common"]["calendar_why"] = ("Why: {reason}.", "Pourquoi : {reason}.")[lang]
    data["common"].update(
        {f"calendar_reason_{k}": v[lang].lower() for k, v in INTENT_REASONS.items()}
    )
    services = data.setdefault("services", {})
    for service, (name, description, fields) in SERVICES.items():
        services[service] = {
            "name": name[lang],
            "description": description[lang],
            "fields": {
                key: {"name": (en, fr)[lang], "description": (den, dfr)[lang]}
                for key, (en, fr, den, dfr) in fields.items()
            },
        }
    return data
