"""Translations of the cost and savings sensors of the site.

Merged into the generated files by tools/gen_translations.py. Every value is (English, French).
"""

from __future__ import annotations

SENSORS = {
    "cost_today": ("Grid cost today", "Coût du réseau aujourd'hui"),
    "cost_month": ("Grid cost this month", "Coût du réseau ce mois-ci"),
    "saved_today": ("Saved by the battery today", "Économisé par la batterie aujourd'hui"),
    "saved_month": ("Saved by the battery this month", "Économisé par la batterie ce mois-ci"),
    "saved_vs_self_consumption_today": (
        "Saved against plain self-consumption today",
        "Économisé par rapport à l'autoconsommation simple aujourd'hui",
    ),
    "saved_vs_self_consumption_month": (
        "Saved against plain self-consumption this month",
        "Économisé par rapport à l'autoconsommation simple ce mois-ci",
    ),
}
ATTRIBUTES = {
    "skipped_seconds": ("Time not counted", "Durée non comptée"),
    "shadow_soc": (
        "Self-consumption battery state of charge",
        "État de charge de la batterie en autoconsommation",
    ),
}
SKIP_REASONS = {
    "meter_unavailable": ("Grid meter unavailable", "Compteur réseau indisponible"),
    "battery_unavailable": ("Battery unavailable", "Batterie indisponible"),
    "price_unavailable": ("Price unavailable", "Prix indisponible"),
}


def merge(data: dict, lang: int) -> dict:
    """Add the savings sensors' strings to a built translation file (0 English, 1 French)."""
    sensors = data.setdefault("entity", {}).setdefault("sensor", {})
    for key, names in SENSORS.items():
        attributes: dict = {k: {"name": v[lang]} for k, v in ATTRIBUTES.items()}
        if not key.startswith("saved_vs"):
            del attributes["shadow_soc"]
        attributes["skip_reason"] = {
            "name": ("Why not counted", "Raison de la non-prise en compte")[lang],
            "state": {k: v[lang] for k, v in SKIP_REASONS.items()},
        }
        sensors[key] = {"name": names[lang], "state_attributes": attributes}
    return data
