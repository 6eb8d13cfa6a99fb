"""The shipped dashboards (F9): one per language from one template, every text translated."""

from __future__ import annotations

import re
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers.template import Template
from plan_helpers import DISHWASHER, EV, TZ, WATER_HEATER, async_setup_driven
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.ems.const import DOMAIN
from tools import gen_dashboards

LANGS = gen_dashboards.LANGUAGES
MARK = "«"
# Keys whose values people read on the dashboard.
SHOWN = {"title", "heading", "name", "label"}
ENTITY_ID = re.compile(r"\b(?:sensor|binary_sensor|select|number|switch|calendar|datetime)\.\w+")


def _walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """(path, value) of every mapping entry in a parsed dashboard."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((f"{path}.{key}", value))
            found += _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += _walk(item, f"{path}[{index}]")
    return found


def _markdown(dashboard: dict[str, Any], marker: str = "weekday()") -> str:
    """The markdown card whose template mentions ``marker`` (the appliances' by default)."""
    (content,) = [v for p, v in _walk(dashboard) if p.endswith(".content") and marker in v]
    return content


@pytest.mark.parametrize("lang", LANGS)
def test_checked_in_dashboards_are_generated(lang: str) -> None:
    """dashboards/ems*.yaml are what ``python -m tools.gen_dashboards`` writes."""
    path = gen_dashboards.path(lang)
    assert path.read_text(encoding="utf-8") == gen_dashboards.render(lang), (
        "run: python -m tools.gen_dashboards"
    )
    assert path.name == ("ems.yaml" if lang == "en" else f"ems.{lang}.yaml")


def test_every_shown_text_comes_from_the_table() -> None:
    """Rendered with marked texts: every title, heading, name and label carries the mark."""
    marked = gen_dashboards.render("en", lambda lang, key: f"{MARK}{key}")
    dashboard = yaml.safe_load(marked)
    devices = {names[0] for names in gen_dashboards.DEVICES.values()}
    shown = [(p, v) for p, v in _walk(dashboard) if p.rsplit(".", 1)[-1] in SHOWN]
    assert len(shown) > 60
    for path, value in shown:
        if path == ".title":
            assert value == "ems"  # the brand
            continue
        assert value.startswith(MARK) or value in devices, path
    # The markdown's prose too: what is left without marks is Jinja, markup and numbers.
    markdown = _markdown(dashboard) + _markdown(dashboard, "'batteries'")
    prose = re.sub(r"\{[{%].*?[%}]\}|«\w+|\[\[|\]\]", "", markdown, flags=re.S)
    assert not re.search(r"[A-Za-z]{3,}", re.sub(r"\b(?:" + "|".join(devices) + r")\b", "", prose))
    # Every text of the table is used, and each has every language.
    used = set(re.findall(r"\[\[t:(\w+)\]\]", gen_dashboards.TEMPLATE.read_text()))
    assert used == set(gen_dashboards.TEXTS)
    assert all(len(texts) == len(LANGS) for texts in gen_dashboards.TEXTS.values())


def test_french_dashboard_is_french() -> None:
    """Spot checks of the French file (texts, device names, entity ids, weekdays)."""
    french = yaml.safe_load(gen_dashboards.path("fr").read_text(encoding="utf-8"))
    values = dict(_walk(french))
    assert values[".views[0].title"] == "Site"
    assert values[".views[1].sections[0].cards[0].heading"] == "Plan (24 h à venir)"
    text = gen_dashboards.path("fr").read_text(encoding="utf-8")
    assert "entity: sensor.site_demo_puissance_pv" in text
    assert "label: Lave-linge" in text
    assert "'lun.', 'mar.'" in text
    assert "Power now" not in text


async def _site(hass: HomeAssistant, lang: str) -> None:
    """A site and the demo's three appliances, named as the demo names them in ``lang``."""
    hass.config.language = lang
    await hass.config.async_set_time_zone(TZ)
    await async_setup_driven(hass)

    def named(subentry: ConfigSubentryData, device: str) -> ConfigSubentryData:
        return ConfigSubentryData(**{**subentry, "title": gen_dashboards.device_name(lang, device)})

    entry = MockConfigEntry(
        domain=DOMAIN,
        title=gen_dashboards.device_name(lang, "site"),
        unique_id="site",
        data={"import_limit_w": 9000, "export_limit_w": 6000},
        subentries_data=[
            named(DISHWASHER, "washing_machine"),
            named(WATER_HEATER, "water_heater"),
            named(EV, "ev"),
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


@pytest.mark.parametrize("lang", LANGS)
async def test_entity_ids_are_those_home_assistant_gives(hass: HomeAssistant, lang: str) -> None:
    """Home Assistant in ``lang`` names the site's and appliances' entities as the file says.

    (The Modbus devices' ids come from the same rule: device name + translated entity name.)
    """
    await _site(hass, lang)
    ids = set(ENTITY_ID.findall(gen_dashboards.path(lang).read_text(encoding="utf-8")))
    site_and_appliances = {
        gen_dashboards.entity_id(lang, ref)
        for ref in re.findall(r"\[\[e:([\w.]+@\w+)\]\]", gen_dashboards.TEMPLATE.read_text())
        if ref.split("@")[1] in ("site", "washing_machine", "water_heater", "ev")
    }
    assert len(site_and_appliances) > 25
    assert site_and_appliances <= ids
    missing = sorted(e for e in site_and_appliances if hass.states.get(e) is None)
    assert missing == []


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("en", "No plan yet: the optimizer add-on"), ("fr", "Pas encore de plan : le module")],
)
async def test_markdown_renders(hass: HomeAssistant, lang: str, expected: str) -> None:
    """The markdown card's template is valid Jinja for Home Assistant, in every language."""
    await _site(hass, lang)
    dashboard = yaml.safe_load(gen_dashboards.path(lang).read_text(encoding="utf-8"))
    rendered = Template(_markdown(dashboard), hass).async_render(parse_result=False)
    assert expected in rendered
    assert gen_dashboards.device_name(lang, "washing_machine") in rendered


@pytest.mark.parametrize(
    ("lang", "expected"), [("en", "dry run, ems would write"), ("fr", "à blanc, ems écrirait")]
)
async def test_register_card_shows_the_dry_run(
    hass: HomeAssistant, lang: str, expected: str
) -> None:
    """The battery registers card lists what ems writes, or would write, per battery."""
    dashboard = yaml.safe_load(gen_dashboards.path(lang).read_text(encoding="utf-8"))
    content = _markdown(dashboard, "'batteries'")
    entity_id = re.search(r"state_attr\('([^']+)', 'batteries'\)", content).group(1)
    template = Template(content, hass)
    assert "*" in template.async_render(parse_result=False)  # no command yet
    hass.states.async_set(
        entity_id,
        "-1500",
        {"batteries": {"Sungrow": {"registers": ["13049 ems_mode = 2"], "dry_run": True}}},
    )
    rendered = template.async_render(parse_result=False)
    assert f"**Sungrow**: {expected}" in rendered
    assert "`13049 ems_mode = 2`" in rendered
