"""Bad input refused at the edges: translated, naming the field, a 400 with it over REST.

The bounds themselves live in the core's contract module (one place); this module turns them into
errors for actions, entities and forms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
import json
import math
from typing import Any

from aiohttp import web
from homeassistant.exceptions import ServiceValidationError
import voluptuous as vol

from .const import DOMAIN
from .core.contract import MAX_DEADLINE_AHEAD, check_number, format_path, short_text

# Form error (config, options and subentry flows) on a field given NaN, ±inf or an absurd value.
ERROR_INVALID_NUMBER = "invalid_number"


class EmsValidationError(ServiceValidationError, web.HTTPBadRequest):
    """Input refused whole (nothing changed): translated, and a 400 naming the field over REST.

    Home Assistant's REST API answers a bare "400: Bad Request" for a ``vol.Invalid`` and a 500
    for any other error. Being also an ``HTTPBadRequest``, this error becomes the response itself:
    a 400 whose JSON body holds the message, the translation key and its placeholders (among
    them the field). The websocket API and the UI see a ``ServiceValidationError``.
    """

    def __init__(self, translation_key: str, **placeholders: str) -> None:
        """A refusal; placeholders name the field so the message reads well untranslated."""
        self.translation_domain = DOMAIN
        self.translation_key = translation_key
        self.translation_placeholders = {k: short_text(v) for k, v in placeholders.items()}
        self.generate_message = True
        body = {
            "message": str(self),
            "translation_domain": DOMAIN,
            "translation_key": translation_key,
            "translation_placeholders": self.translation_placeholders,
        }
        web.HTTPBadRequest.__init__(
            self, text=json.dumps(body, ensure_ascii=False), content_type="application/json"
        )

    def _untranslated(self) -> str:
        placeholders = self.translation_placeholders or {}
        parts = [placeholders.get("field"), placeholders.get("error")]
        parts.append(
            ", ".join(f"{k}={v}" for k, v in placeholders.items() if k not in ("field", "error"))
        )
        return ": ".join(p for p in parts if p) or str(self.translation_key)

    def __str__(self) -> str:
        """The translated message; "field: error" while the translation is missing."""
        if self._message:
            return self._message
        try:
            message = ServiceValidationError.__str__(self)
        except Exception:  # no hass (a thread, a bare test) or a placeholder missing
            message = self.translation_key or ""
        if message == self.translation_key:  # no translation (yet): still readable
            message = self._message = self._untranslated()
        return message


def check_value(field: str, value: Any, low: float, high: float) -> float:
    """``value`` as a finite float in [low, high]; ``EmsValidationError`` naming ``field``."""
    try:
        return check_number(value, low, high)
    except ValueError as err:
        raise EmsValidationError(
            "invalid_value", field=field, value=short_text(value), error=str(err)
        ) from None


def check_finish_by(field: str, finish_by: datetime | None, now: datetime) -> None:
    """Refuse a finish-by time further ahead than ``MAX_DEADLINE_AHEAD`` (the past: plan.py)."""
    if finish_by is not None and finish_by > now + MAX_DEADLINE_AHEAD:
        raise EmsValidationError(
            "invalid_field",
            field=field,
            error=f"must be within {MAX_DEADLINE_AHEAD.days} days",
        )


def bounded(low: float, high: float) -> Callable[[Any], float]:
    """A voluptuous validator: a finite number in [low, high] (strings coerced, NaN refused)."""

    def validate(value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise vol.Invalid("expected a number") from None
        try:
            return check_number(value, low, high)
        except ValueError as err:
            raise vol.Invalid(str(err)) from None

    return validate


class RefusingSchema(vol.Schema):
    """An action schema whose refusals name the field (and are a 400 with it over REST)."""

    def __init__(self, schema: Any, *, field: str = "data") -> None:
        """Wrap ``schema``; ``field`` names errors that are about no field in particular."""
        super().__init__(schema)
        self._field = field

    def __call__(self, data: Any) -> Any:
        """Validate, or raise ``EmsValidationError`` naming the first bad field."""
        try:
            return super().__call__(data)
        except vol.MultipleInvalid as err:
            first = err.errors[0]
            raise EmsValidationError(
                "invalid_field", field=format_path(first.path) or self._field, error=first.msg
            ) from err
        except vol.Invalid as err:
            raise EmsValidationError(
                "invalid_field", field=format_path(err.path) or self._field, error=err.msg
            ) from err


def number_errors(
    values: Mapping[str, Any], bounds: Mapping[str, tuple[float, float]] | None = None
) -> dict[str, str]:
    """Form errors for fields holding NaN, ±inf, or (with ``bounds``) a value out of its range."""
    errors: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        low, high = (bounds or {}).get(key, (-math.inf, math.inf))
        try:
            finite = math.isfinite(value)
        except OverflowError:
            finite = False
        if not finite or not low <= value <= high:
            errors[key] = ERROR_INVALID_NUMBER
    return errors
