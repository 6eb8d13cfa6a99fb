"""Repair issues that follow a condition: raised while it holds, gone as soon as it does not."""

from __future__ import annotations

from collections.abc import Mapping

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN


def set_issue(
    hass: HomeAssistant,
    issue_id: str,
    active: bool,
    *,
    translation_key: str,
    placeholders: Mapping[str, str],
    severity: ir.IssueSeverity = ir.IssueSeverity.WARNING,
) -> None:
    """Create the (not fixable) issue while ``active``, delete it otherwise."""
    if active:
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=severity,
            translation_key=translation_key,
            translation_placeholders=dict(placeholders),
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
