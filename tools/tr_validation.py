"""Translations of input validation: refusals of actions and entities, form errors on numbers.

Merged into the generated files by tools/gen_translations.py (after the other tables, so that
every subentry type is there). Every value is (English, French).
"""

from __future__ import annotations

EXCEPTIONS = {
    # A field of an action refused by its schema (NaN, ±inf, out of its bounds, wrong type…).
    "invalid_field": (
        "Refused, nothing changed: {field}: {error}",
        "Refusé, rien n'a changé : {field} : {error}",
    ),
    # A value given to an entity (number, date-time) refused.
    "invalid_value": (
        "{field} cannot take {value} ({error}); nothing changed.",
        "{field} ne peut pas prendre {value} ({error}) ; rien n'a changé.",
    ),
}
FORM_ERRORS = {
    "invalid_number": (
        "Enter a finite number within the allowed range.",
        "Saisissez un nombre fini dans la plage autorisée.",
    ),
}


def merge(data: dict, lang: int) -> dict:
    """Add the validation strings to a built translation file (0 English, 1 French)."""
    exceptions = data.setdefault("exceptions", {})
    for key, messages in EXCEPTIONS.items():
        exceptions[key] = {"message": messages[lang]}
    errors = {key: texts[lang] for key, texts in FORM_ERRORS.items()}
    data.setdefault("config", {}).setdefault("error", {}).update(errors)
    data.setdefault("options", {}).setdefault("error", {}).update(errors)
    for subentry in data.get("config_subentries", {}).values():
        subentry.setdefault("error", {}).update(errors)
    return data
