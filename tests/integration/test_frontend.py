"""The plan card (custom:ems-plan-card): served by the integration and loaded by the frontend."""

from __future__ import annotations

from collections.abc import Iterator
import hashlib
from typing import Any
from unittest.mock import patch

from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL
from homeassistant.components.http import HomeAssistantHTTP
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems import frontend
from custom_components.ems.const import DOMAIN

CARD = frontend.CARD_FILE
VERSION = hashlib.sha256(CARD.read_bytes()).hexdigest()[:12]
URL = f"/ems/ems-plan-card.js?v={VERSION}"


@pytest.fixture(autouse=True)
def no_real_server() -> Iterator[None]:
    """Keep the http component from listening on port 8123 (the test client needs no server)."""
    with patch("homeassistant.components.http.start_http_server_and_save_config"):
        yield


async def _site(hass: HomeAssistant, name: str = "Home") -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=name,
        unique_id=name.lower(),
        data={"import_limit_w": 9000, "export_limit_w": 6000},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


def _ems_urls(hass: HomeAssistant) -> list[str]:
    return [url for url in hass.data[DATA_EXTRA_MODULE_URL].urls if "ems-plan-card" in url]


async def test_the_card_is_served(hass: HomeAssistant, hass_client: Any) -> None:
    """The JavaScript file is served (cached by the browser) at the URL the frontend loads."""
    await _site(hass)
    client = await hass_client()
    response = await client.get(URL)
    assert response.status == 200
    assert "javascript" in response.headers["Content-Type"]
    assert "max-age" in response.headers.get("Cache-Control", "")
    body = await response.text()
    assert body == CARD.read_text(encoding="utf-8")
    assert 'const CARD_TYPE = "ems-plan-card"' in body
    assert "customElements.define(CARD_TYPE, EmsPlanCard)" in body


async def test_the_frontend_loads_it(hass: HomeAssistant, hass_client: Any) -> None:
    """The card is an extra module of every frontend page, its URL versioned by its content."""
    await _site(hass)
    assert _ems_urls(hass) == [URL]
    client = await hass_client()
    with patch("homeassistant.components.onboarding.async_is_onboarded", return_value=True):
        page = await (await client.get("/")).text()
    assert URL in page


async def test_registered_once_per_instance(hass: HomeAssistant, hass_client: Any) -> None:
    """Two sites, a reload, an unload: one static path, one module URL, still served."""
    real = HomeAssistantHTTP.async_register_static_paths
    with patch.object(
        HomeAssistantHTTP, "async_register_static_paths", autospec=True, side_effect=real
    ) as register:
        first = await _site(hass, "Home")
        await _site(hass, "Barn")
        assert await hass.config_entries.async_reload(first.entry_id)
        await hass.async_block_till_done()
        assert first.state is ConfigEntryState.LOADED
        assert await hass.config_entries.async_unload(first.entry_id)
        await hass.async_block_till_done()
    ours = [c for c in register.call_args_list if c.args[1][0].url_path == frontend.URL_PATH]
    assert len(ours) == 1
    assert _ems_urls(hass) == [URL]
    client = await hass_client()
    assert (await client.get(URL)).status == 200


async def test_the_file_is_read_off_the_event_loop(hass: HomeAssistant) -> None:
    """The hash is computed in the executor (the event loop never reads the file)."""
    assert await async_setup_component(hass, "frontend", {})
    calls: list[Any] = []
    real = hass.async_add_executor_job

    def spy(target: Any, *args: Any) -> Any:
        calls.append(target)
        return real(target, *args)

    with patch.object(hass, "async_add_executor_job", side_effect=spy):
        url = await frontend.async_register_card(hass)
    assert url == URL
    assert frontend._file_hash in calls
    assert await frontend.async_register_card(hass) == URL  # the second time: nothing to do
