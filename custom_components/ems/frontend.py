"""The plan card (``custom:ems-plan-card``): served by the integration, loaded by the frontend.

The JavaScript file (``frontend/ems-plan-card.js``) is served at :data:`URL_PATH` and added to
the modules every frontend page loads, once per Home Assistant instance (whatever the number of
sites). The URL carries a hash of the file, so a browser fetches a changed card and caches an
unchanged one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from homeassistant.components import frontend
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN

CARD_FILE = Path(__file__).parent / "frontend" / "ems-plan-card.js"
URL_PATH = f"/{DOMAIN}/ems-plan-card.js"
DATA_CARD_URL: HassKey[str] = HassKey(f"{DOMAIN}_plan_card_url")


def _file_hash(path: Path) -> str:
    """A short hash of the file's content (read in the executor)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


async def async_register_card(hass: HomeAssistant) -> str:
    """Serve the plan card and load it on every frontend page, once per instance; its URL."""
    if (url := hass.data.get(DATA_CARD_URL)) is not None:
        return url
    version = await hass.async_add_executor_job(_file_hash, CARD_FILE)
    if (url := hass.data.get(DATA_CARD_URL)) is not None:  # another entry got here first
        return url
    url = f"{URL_PATH}?v={version}"
    hass.data[DATA_CARD_URL] = url
    await hass.http.async_register_static_paths(
        [StaticPathConfig(URL_PATH, str(CARD_FILE), cache_headers=True)]
    )
    frontend.add_extra_js_url(hass, url)
    return url
