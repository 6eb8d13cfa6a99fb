"""End-to-end tests run real processes; they need no in-process Home Assistant."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the suite's autouse fixture: no `hass` fixture for subprocess tests."""
