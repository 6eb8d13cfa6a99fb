"""The optimizer add-on tests need no Home Assistant: no hass per test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the repository-wide autouse fixture that would start Home Assistant."""
