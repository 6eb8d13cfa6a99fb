"""Shared fixtures: custom integrations enabled for every Home Assistant test."""

from __future__ import annotations

import pytest

import custom_components.ems  # noqa: F401  (imported first, as HA's loader expects)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/ems in every test."""
