"""Every blueprint file is a valid HA automation blueprint that points back at this repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hassil import Intents, recognize
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import BLUEPRINT_SCHEMA, models
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
from homeassistant.setup import async_setup_component
from homeassistant.util import yaml as yaml_util
import pytest
import yaml

from .conftest import BLUEPRINT_DIR, BLUEPRINT_FILES, MODES, SENTENCES_DIR, SetupBlueprint

REPO_ROOT = BLUEPRINT_DIR.parents[2]
REPO_URL = json.loads((REPO_ROOT / "custom_components/ems/manifest.json").read_text())[
    "documentation"
]
EXPECTED = {
    "overcharge_protection.yaml",
    "deep_discharge_cutoff.yaml",
    "temperature_protection.yaml",
    "battery_exercise_cycle.yaml",
    "tariff_window_mode.yaml",
    "tariff_entity_mode.yaml",
    "price_threshold_mode.yaml",
    "grid_outage_backup.yaml",
    "voice_mode.yaml",
}
MODE_BLUEPRINTS = {
    "tariff_window_mode.yaml",
    "tariff_entity_mode.yaml",
    "price_threshold_mode.yaml",
    "grid_outage_backup.yaml",
    "voice_mode.yaml",
}
IDS = [p.name for p in BLUEPRINT_FILES]


def load(path: Path) -> models.Blueprint:
    """Load a blueprint as HA does (yaml with !input, automation blueprint schema)."""
    data = yaml_util.load_yaml_dict(path)
    return models.Blueprint(
        data, path=path.name, expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )


def test_the_expected_blueprints_are_there() -> None:
    assert {p.name for p in BLUEPRINT_FILES} == EXPECTED
    assert "placeholder" not in (BLUEPRINT_DIR / "README.md").read_text().lower()


@pytest.mark.parametrize("path", BLUEPRINT_FILES, ids=IDS)
def test_blueprint_is_valid(path: Path) -> None:
    blueprint = load(path)  # raises InvalidBlueprint, also for an undeclared !input
    BLUEPRINT_SCHEMA(yaml_util.load_yaml_dict(path))
    assert blueprint.validate() is None  # min_version not above the installed HA

    used = yaml_util.extract_inputs(blueprint.data)
    declared = set(blueprint.inputs)
    assert used == declared, f"undeclared {used - declared}, unused {declared - used}"

    metadata = blueprint.metadata
    assert metadata["source_url"] == f"{REPO_URL}/blob/main/blueprints/automation/ems/{path.name}"
    assert metadata["name"].startswith("ems · ")
    assert "Français" in metadata["description"]


@pytest.mark.parametrize("path", BLUEPRINT_FILES, ids=IDS)
def test_defaults_fit_their_selectors(path: Path) -> None:
    for name, spec in load(path).inputs.items():
        assert spec.get("name"), name
        validate = selector.selector(spec["selector"])
        if "default" in spec and spec["default"] not in ("", None):
            validate(spec["default"])


@pytest.mark.parametrize("path", BLUEPRINT_FILES, ids=IDS)
def test_mode_inputs_offer_exactly_the_site_modes(path: Path) -> None:
    inputs = load(path).inputs
    for name, spec in inputs.items():
        config: dict[str, Any] = spec["selector"]
        if "select" in config and name not in {"weekdays", "language"}:
            values = [o["value"] for o in config["select"]["options"]]
            assert values == MODES, name
            if not config["select"].get("multiple"):
                assert spec["default"] in MODES
        if "entity" in config and name == "mode_select":
            assert config["entity"]["filter"] == [{"integration": "ems", "domain": ["select"]}]
    assert ("mode_select" in inputs) == (path.name in MODE_BLUEPRINTS)


def test_voice_aliases_map_to_modes() -> None:
    data = yaml.safe_load((BLUEPRINT_DIR / "voice_mode.yaml").read_text().replace("!input", ""))
    variables = data["variables"]
    assert set(variables["aliases"].values()) == set(MODES)
    assert set(variables["labels_en"]) == set(MODES)
    assert set(variables["labels_fr"]) == set(MODES)
    for labels in (variables["labels_en"], variables["labels_fr"]):
        for mode, label in labels.items():
            if mode != "auto":
                assert variables["aliases"][label.lower().replace("-", " ")] == mode


async def test_every_blueprint_loads_from_the_config_dir(
    hass: HomeAssistant, config_dir: Path, setup_blueprint: SetupBlueprint
) -> None:
    """HA finds all blueprints in <config>/blueprints/automation/ems and none fails to load."""
    await setup_blueprint(
        "overcharge_protection.yaml",
        {"voltage_sensor": "sensor.v", "charge_relay": "switch.relay_2"},
    )
    found = await models.DomainBlueprints.async_get_blueprints(hass.data["blueprint"]["automation"])
    assert set(found) == {f"ems/{name}" for name in EXPECTED}
    failed = {path: bp for path, bp in found.items() if not isinstance(bp, models.Blueprint)}
    assert not failed


@pytest.mark.parametrize("language", ["en", "fr"])
def test_custom_sentences(language: str) -> None:
    """The example custom sentences parse, fill slot `mode` with a mode value, ask why."""
    path = SENTENCES_DIR / language / "ems.yaml"
    data = yaml.safe_load(path.read_text())
    assert data["language"] == language
    assert set(data["intents"]) == {"EmsSetMode", "EmsGetMode", "EmsBatteryWhy"}
    assert {v["out"] for v in data["lists"]["mode"]["values"]} == set(MODES)
    intents = Intents.from_dict(data)
    cases = {
        "en": [
            ("set the energy mode to self consumption", "EmsSetMode", "self_consumption"),
            ("switch energy mode to backup", "EmsSetMode", "backup"),
            ("change the battery mode to peak shaving mode", "EmsSetMode", "peak_shaving"),
            ("what is the energy mode", "EmsGetMode", None),
            ("why is my battery charging", "EmsBatteryWhy", None),
            ("what is the battery doing now", "EmsBatteryWhy", None),
        ],
        "fr": [
            ("mets le mode énergie sur autoconsommation", "EmsSetMode", "self_consumption"),
            ("passe le mode énergie en secours", "EmsSetMode", "backup"),
            ("règle le mode énergie sur écrêtage des pointes", "EmsSetMode", "peak_shaving"),
            ("mets le mode energie sur charge seule", "EmsSetMode", "charge_only"),
            ("quel est le mode énergie", "EmsGetMode", None),
            ("pourquoi ma batterie charge", "EmsBatteryWhy", None),
            ("que fait la batterie en ce moment", "EmsBatteryWhy", None),
        ],
    }[language]
    for text, intent, mode in cases:
        result = recognize(text, intents)
        assert result is not None, text
        assert result.intent.name == intent, text
        if mode is None:
            assert "mode" not in result.entities
        else:
            assert result.entities["mode"].value == mode, text
    assert (
        recognize(
            "set the energy mode to banana"
            if language == "en"
            else "mets le mode énergie sur banane",
            intents,
        )
        is None
    )


# The statistics sensor keeps a timer for its max_age; the harness would call it lingering.
@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_readme_statistics_example_averages_the_voltage(hass: HomeAssistant) -> None:
    """The README's `statistics` sensor is valid and gives the mean of the last readings."""
    readme = (BLUEPRINT_DIR / "README.md").read_text()
    block = next(b for b in readme.split("```yaml")[1:] if "platform: statistics" in b)
    config = yaml.safe_load(block.split("```")[0])
    source = config["sensor"][0]["entity_id"]
    assert await async_setup_component(hass, "sensor", config)
    await hass.async_block_till_done()
    for volts in ("12.0", "13.0", "12.5", "12.9"):
        hass.states.async_set(source, volts, {"unit_of_measurement": "V"})
        await hass.async_block_till_done()
    state = hass.states.get("sensor.battery_voltage_mean")
    assert state is not None
    assert float(state.state) == pytest.approx((12.0 + 13.0 + 12.5 + 12.9) / 4, abs=0.01)
