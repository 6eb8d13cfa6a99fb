"""Shared fixtures: custom integrations enabled for every Home Assistant test."""

from __future__ import annotations

from collections.abc import Iterator
from unittest.mock import patch

import pytest

import custom_components.ems  # noqa: F401  (imported first, as HA's loader expects)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/ems in every test."""


@pytest.fixture(autouse=True)
def no_listening_http_server() -> Iterator[None]:
    """ems depends on ``http`` (it serves its plan card): tests need its routes, not a server.

    Without this, setting up ems starts Home Assistant's real server on 0.0.0.0:8123 in every
    test (two xdist workers, or a running demo, then fight over the port).
    """
    with patch("homeassistant.components.http.start_http_server_and_save_config"):
        yield


@pytest.fixture
async def sim(socket_enabled: None):
    """The site simulator on a free loopback port, with a manual clock."""
    from simulator import start_simulator

    async with start_simulator(host="127.0.0.1", port=0, auto_tick=False) as running:
        yield running
