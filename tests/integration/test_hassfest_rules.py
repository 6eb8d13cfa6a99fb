"""hassfest's rules for a custom integration, checked here (hassfest cannot be pip-installed).

The custom-integration GitHub action runs Home Assistant's validator ``python -m script.hassfest
--integration-path custom_components/ems``. Its rules are restated below from home-assistant/core
``script/hassfest/`` (read through the search tool; none of its code is copied):

- ``translations.py``: ``translations/en.json`` against ``gen_strings_schema`` — entity
  translation keys, states, selector options, services and their fields match
  ``translation_key_validator`` (lowercase ``[a-z0-9-_]``, no leading, trailing or doubled
  ``-``/``_``: the rule that refused the parity options ``N``/``E``/``O``); platforms,
  exceptions and ``common`` keys are ``cv.slug``; ``gen_data_entry_schema`` for ``config``,
  ``options`` and ``config_subentries``
  (``step`` required, ``data_description`` keys among the step's ``data``, subentries with
  ``entry_type`` and ``initiate_flow.user``, no ``config.title``); ``gen_issues_schema`` (a
  ``title`` and either a ``description`` or a ``fix_flow``); ``validate_translation_value`` (no
  HTML, no ``'{placeholder}'``, placeholders are identifiers and absent from entity states and
  attribute names, no combined ``[%key:…%]`` reference, no surrounding spaces, no URL). A custom
  integration has no ``strings.json``, so a ``[%key:…%]`` reference is never resolved: none at all.
- ``icons.py``: ``icon_schema`` for a hub — ``mdi:`` icons, translation keys, services as
  ``{"service": …, "sections": {…}}`` (the plain-string form ended its deprecation year), a state
  icon never equal to its default.
- ``services.py``: ``CUSTOM_INTEGRATION_SERVICES_SCHEMA`` (slug action names, fields or sections
  with ``selector`` validated by ``selector.validate_selector``, a field name used once) and
  translation keys of select selectors present under ``selector``; the core-only rules (every
  action, field and section named and described in the translations, no translated field missing
  from services.yaml) are applied to ems too.
- ``manifest.py``: ``CUSTOM_INTEGRATION_MANIFEST_SCHEMA`` (required ``domain``, ``name``,
  ``documentation`` over https, ``codeowners``; ``version`` parsed by AwesomeVersion), the domain
  is the folder's name, an ``iot_class`` is set, ``version`` is required, and ``sort_manifest``:
  ``domain``, ``name``, then the other keys in alphabetical order.
- ``json.py`` (every JSON file parses) and ``config_flow.py`` (``config_flow: true`` needs a
  ``config_flow.py``).

ems is checked a bit more strictly than hassfest: ``fr.json`` too, not only ``en.json``.
"""

from __future__ import annotations

from collections.abc import Callable
import json
from pathlib import Path
import re
import string
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionException, AwesomeVersionStrategy
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import config_validation as cv, selector, service
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol
from voluptuous.humanize import humanize_error

from custom_components.ems.const import DOMAIN

INTEGRATION = Path(__file__).resolve().parents[2] / "custom_components" / "ems"
LANGUAGES = ("en", "fr")

# --- values and keys ---------------------------------------------------------------------------

# A translation key: lowercase letters and digits in runs joined by single "-" or "_".
_KEY = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
_QUOTED_PLACEHOLDER = re.compile(r"'\{\w+\}'")
_COMBINED_REFERENCE = re.compile(r".\[%|%\].")
_URL = re.compile(
    r"(?:(?:https?|ftps?|scp|mqtts?|socks5|socket)://|www\.)[a-z0-9]+(?:[-.][a-z0-9]+)*\.[a-z]{2,5}",
    re.IGNORECASE,
)


def translation_key(value: Any) -> str:
    """hassfest's translation_key_validator: ``[a-z0-9-_]+``, no edge or doubled separator."""
    if not isinstance(value, str) or _KEY.fullmatch(value) is None:
        raise vol.Invalid(
            f"Invalid translation key '{value}', need to be [a-z0-9-_]+ and cannot start or "
            "end with a hyphen or underscore"
        )
    return value


def _text(placeholders: bool = True) -> Callable[[Any], str]:
    """hassfest's validate_translation_value, with or without placeholders allowed."""

    def check(value: Any) -> str:
        text = cv.string_with_no_html(value)
        if "[%key:" in text:
            raise vol.Invalid("a custom integration cannot use [%key:…%] references")
        if _QUOTED_PLACEHOLDER.search(text):
            raise vol.Invalid("placeholder inside single quotes")
        for _, field, _, _ in string.Formatter().parse(text):
            if field and not placeholders:
                raise vol.Invalid("placeholders are not supported here")
            if field and not field.isidentifier():
                raise vol.Invalid(f"placeholder {field!r} is not an identifier")
        if _COMBINED_REFERENCE.search(text):
            raise vol.Invalid("combined translations")
        if text != text.strip():
            raise vol.Invalid("leading or trailing spaces")
        if _URL.search(text):
            raise vol.Invalid("URL in a translation (use a placeholder)")
        return text

    return check


TEXT = _text()
PLAIN_TEXT = _text(placeholders=False)


def _keyed(value_schema: Any, key: Callable[[Any], Any] = translation_key) -> Any:
    """A mapping whose keys pass ``key`` (cv.schema_with_slug_keys)."""
    return cv.schema_with_slug_keys(value_schema, slug_validator=key)


# --- translations ------------------------------------------------------------------------------


def _data_description_in_data(value: dict[str, Any]) -> dict[str, Any]:
    for step_id, step in value["step"].items():
        if extra := set(step.get("data_description", {})) - set(step.get("data", {})):
            raise vol.Invalid(f"step {step_id}: data_description keys {sorted(extra)} not in data")
    return value


def _flow(subentry: bool = False) -> vol.All:
    """hassfest's gen_data_entry_schema (config, options, config_subentries, fix flows)."""
    texts = {str: TEXT}
    schema: dict[Any, Any] = {
        vol.Optional("flow_title"): TEXT,
        vol.Required("step"): {
            str: {
                vol.Optional("title"): TEXT,
                vol.Optional("description"): TEXT,
                vol.Optional("data"): texts,
                vol.Optional("data_description"): texts,
                vol.Optional("menu_options"): texts,
                vol.Optional("menu_option_descriptions"): texts,
                vol.Optional("submit"): TEXT,
                vol.Optional("sections"): {
                    str: {
                        vol.Optional("data"): texts,
                        vol.Optional("data_description"): texts,
                        vol.Optional("description"): TEXT,
                        vol.Optional("name"): TEXT,
                    }
                },
            }
        },
        vol.Optional("error"): texts,
        vol.Optional("abort"): texts,
        vol.Optional("progress"): texts,
        vol.Optional("create_entry"): texts,
    }
    if subentry:
        schema[vol.Required("entry_type")] = TEXT
        schema[vol.Required("initiate_flow")] = {vol.Required("user"): TEXT, str: TEXT}
    else:
        schema[vol.Optional("initiate_flow")] = {vol.Required("user"): TEXT}
    return vol.All(vol.Schema(schema), _data_description_in_data)


_ISSUE = vol.All(
    cv.has_at_least_one_key("description", "fix_flow"),
    vol.Schema(
        {
            vol.Required("title"): TEXT,
            vol.Exclusive("description", "fixable"): TEXT,
            vol.Exclusive("fix_flow", "fixable"): _flow(),
        }
    ),
)
_STATES = _keyed(PLAIN_TEXT)
_ENTITY = {
    vol.Optional("name"): TEXT,
    vol.Optional("state"): _STATES,
    vol.Optional("state_attributes"): _keyed(
        {vol.Optional("name"): PLAIN_TEXT, vol.Optional("state"): _STATES}
    ),
    vol.Optional("unit_of_measurement"): PLAIN_TEXT,
}
_SERVICE_FIELD = {
    vol.Required("name"): str,
    vol.Required("description"): TEXT,
    vol.Optional("example"): TEXT,
}
_UNCHECKED = dict  # sections ems does not use: hassfest checks them further

TRANSLATIONS_SCHEMA = vol.Schema(
    {
        vol.Optional("title"): TEXT,
        vol.Optional("config"): _flow(),
        vol.Optional("config_subentries"): _keyed(_flow(subentry=True), vol.Any("_", cv.slug)),
        vol.Optional("options"): _flow(),
        vol.Optional("selector"): _keyed(
            {
                vol.Optional("choices"): _keyed(TEXT),
                vol.Optional("options"): _keyed(TEXT),
                vol.Optional("unit_of_measurement"): _keyed(TEXT),
                vol.Optional("fields"): _keyed(
                    vol.Any(str, {vol.Required("name"): str, vol.Required("description"): TEXT})
                ),
            },
            vol.Any("_", cv.slug),
        ),
        vol.Optional("issues"): {str: _ISSUE},
        vol.Optional("device"): _keyed({vol.Optional("name"): TEXT}),
        vol.Optional("entity"): _keyed(_keyed(_ENTITY), cv.slug),
        vol.Optional("exceptions"): _keyed({vol.Optional("message"): TEXT}, cv.slug),
        vol.Optional("services"): _keyed(
            {
                vol.Required("name"): TEXT,
                vol.Required("description"): TEXT,
                vol.Optional("fields"): _keyed(_SERVICE_FIELD),
                vol.Optional("sections"): _keyed(
                    {vol.Required("name"): str, vol.Optional("description"): TEXT}
                ),
            }
        ),
        vol.Optional("common"): vol.Schema({cv.slug: TEXT}),
        vol.Optional("entity_component"): _UNCHECKED,
        vol.Optional("device_automation"): _UNCHECKED,
        vol.Optional("system_health"): _UNCHECKED,
        vol.Optional("config_panel"): _UNCHECKED,
        vol.Optional("application_credentials"): _UNCHECKED,
        vol.Optional("conversation"): _UNCHECKED,
        vol.Optional("preview_features"): _UNCHECKED,
        vol.Optional("conditions"): _UNCHECKED,
        vol.Optional("triggers"): _UNCHECKED,
    }
)


def check_translations(strings: dict[str, Any]) -> list[str]:
    """Errors hassfest reports for a translation file (empty: valid)."""
    errors = []
    try:
        TRANSLATIONS_SCHEMA(strings)
    except vol.Invalid as err:
        errors.append(humanize_error(strings, err))
    if "title" in strings.get("config", {}):
        errors.append("config.title moved to the root of the file")
    return errors


# --- icons -------------------------------------------------------------------------------------


def icon(value: Any) -> str:
    """hassfest's icon_value_validator: a Material Design icon."""
    text = cv.string_with_no_html(value)
    if not text.startswith("mdi:"):
        raise vol.Invalid("an icon must be a Material Design icon starting with `mdi:`")
    return text


def _numeric_key(value: Any) -> str:
    float(value)
    return str(value)


def _state_icons_differ(value: dict[str, Any]) -> dict[str, Any]:
    default = value.get("default")
    for state, state_icon in value.get("state", {}).items():
        if state_icon == default:
            raise vol.Invalid(f"the icon of state {state} is the default one: remove it")
    return value


_ENTITY_ICON = vol.All(
    vol.Schema(
        {
            vol.Optional("default"): icon,
            vol.Optional("state"): _keyed(icon),
            vol.Optional("range"): _keyed(icon, _numeric_key),
            vol.Optional("state_attributes"): _keyed(
                vol.All(
                    {vol.Optional("default"): icon, vol.Optional("state"): _keyed(icon)},
                    _state_icons_differ,
                )
            ),
        }
    ),
    _state_icons_differ,
)
_FLOW_ICONS = vol.Schema({"step": {str: {"section": {str: icon}}}})

ICONS_SCHEMA = vol.Schema(
    {
        vol.Optional("config"): _FLOW_ICONS,
        vol.Optional("options"): _FLOW_ICONS,
        vol.Optional("issues"): {str: {"fix_flow": _FLOW_ICONS}},
        vol.Optional("services"): _keyed(
            {vol.Optional("service"): icon, vol.Optional("sections"): _keyed(icon)}
        ),
        vol.Optional("entity"): _keyed(_keyed(_ENTITY_ICON), cv.slug),
    }
)


def check_icons(icons: dict[str, Any]) -> list[str]:
    """Errors hassfest reports for icons.json."""
    try:
        ICONS_SCHEMA(icons)
    except vol.Invalid as err:
        return [humanize_error(icons, err)]
    return []


# --- services.yaml -----------------------------------------------------------------------------


def _one_use_per_field(fields: dict[str, Any]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, value in fields.items():
        names = list(value["fields"]) if value and "fields" in value else [key]
        for name in names:
            if name in seen:
                raise vol.Invalid(f"field {name} used twice")
            seen.add(name)
    return fields


def _exists(value: Any) -> Any:
    if value is None:
        raise vol.Invalid("value cannot be None")
    return value


def _service(targeted: bool) -> vol.Schema:
    field: dict[Any, Any] = {
        vol.Optional("example"): _exists,
        vol.Optional("default"): _exists,
        vol.Optional("required"): bool,
        vol.Optional("advanced"): bool,
        vol.Optional("selector"): selector.validate_selector,
        vol.Optional("description"): str,
        vol.Optional("name"): str,
    }
    if targeted:  # a filter needs the action's target
        field[vol.Optional("filter")] = {
            vol.Exclusive("attribute", "field_filter"): {
                vol.Required(str): [vol.All(str, service.validate_attribute_option)]
            },
            vol.Exclusive("supported_features", "field_filter"): [
                vol.All(str, service.validate_supported_feature)
            ],
        }
    section = {
        vol.Optional("collapsed"): bool,
        vol.Required("fields"): {str: vol.Schema(field)},
        vol.Optional("description"): str,
        vol.Optional("name"): str,
    }
    schema: dict[Any, Any] = {
        vol.Optional("fields"): vol.All(
            {str: vol.Any(vol.Schema(field), vol.Schema(section))}, _one_use_per_field
        ),
        vol.Optional("description"): str,
        vol.Optional("name"): str,
    }
    if targeted:
        schema[vol.Required("target")] = selector.TargetSelector.CONFIG_SCHEMA
    return vol.Schema(schema)


SERVICES_SCHEMA = vol.Schema({cv.slug: vol.Any(_service(True), _service(False), None)})


def check_services(services: dict[str, Any], strings: dict[str, Any]) -> list[str]:
    """Errors hassfest reports for services.yaml (plus its core-only translation rules)."""
    try:
        SERVICES_SCHEMA(services)
    except vol.Invalid as err:
        return [humanize_error(services, err)]
    errors = []
    translated = strings.get("services", {})
    for name, action in services.items():
        text = translated.get(name, {})
        errors += [f"{name}: no {k}" for k in ("name", "description") if k not in text]
        fields = (action or {}).get("fields", {})
        sections = {k: v for k, v in fields.items() if "fields" in v}
        plain = {k: v for k, v in fields.items() if k not in sections}
        for section in sections.values():
            plain |= section["fields"]
        for key in sections:
            if "name" not in text.get("sections", {}).get(key, {}):
                errors.append(f"{name}: section {key} has no name")
        for key, spec in plain.items():
            field_text = text.get("fields", {}).get(key, {})
            errors += [
                f"{name}.{key}: no {k}" for k in ("name", "description") if k not in field_text
            ]
            if (key_of := (spec.get("selector") or {}).get("select", {}) or {}).get(
                "translation_key"
            ) and key_of["translation_key"] not in strings.get("selector", {}):
                errors.append(f"{name}.{key}: selector {key_of['translation_key']} not translated")
        errors += [
            f"{name}: translated field {key} is not in services.yaml"
            for key in set(text.get("fields", {})) - set(plain)
        ]
    return errors


# --- manifest ----------------------------------------------------------------------------------

IOT_CLASSES = (
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
)
INTEGRATION_TYPES = ("device", "entity", "hardware", "helper", "hub", "service", "system")


def _https(value: str) -> str:
    if not value.startswith("https://"):
        raise vol.Invalid("documentation must be an https URL")
    return value


def _version(value: str) -> str:
    strategies = [
        AwesomeVersionStrategy.CALVER,
        AwesomeVersionStrategy.SEMVER,
        AwesomeVersionStrategy.SIMPLEVER,
        AwesomeVersionStrategy.BUILDVER,
        AwesomeVersionStrategy.PEP440,
    ]
    try:
        AwesomeVersion(value, ensure_strategy=strategies)
    except AwesomeVersionException as err:
        raise vol.Invalid(f"'{value}' is not a valid version") from err
    return value


MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("domain"): str,
        vol.Required("name"): str,
        vol.Optional("integration_type"): vol.In(INTEGRATION_TYPES),
        vol.Optional("config_flow"): bool,
        vol.Optional("mqtt"): [str],
        vol.Optional("zeroconf"): list,
        vol.Optional("ssdp"): list,
        vol.Optional("bluetooth"): list,
        vol.Optional("homekit"): dict,
        vol.Optional("dhcp"): list,
        vol.Optional("usb"): list,
        vol.Required("documentation"): vol.All(vol.Url(), _https),
        vol.Optional("issue_tracker"): vol.Url(),
        vol.Optional("quality_scale"): vol.In(["internal", "silver", "gold", "platinum"]),
        vol.Optional("requirements"): [str],
        vol.Optional("dependencies"): [str],
        vol.Optional("after_dependencies"): [str],
        vol.Required("codeowners"): [str],
        vol.Optional("loggers"): [str],
        vol.Optional("disabled"): str,
        vol.Optional("iot_class"): vol.In(IOT_CLASSES),
        vol.Optional("single_config_entry"): bool,
        vol.Optional("version"): vol.All(str, _version),
        vol.Optional("import_executor"): bool,
    }
)


def check_manifest(manifest: dict[str, Any], folder: Path) -> list[str]:
    """Errors hassfest reports for a custom integration's manifest.json."""
    try:
        MANIFEST_SCHEMA(manifest)
    except vol.Invalid as err:
        return [humanize_error(manifest, err)]
    errors = []
    if manifest["domain"] != folder.name:
        errors.append("Domain does not match dir name")
    if "iot_class" not in manifest:
        errors.append("Domain is missing an IoT Class")
    if not manifest.get("version"):
        errors.append("No 'version' key in the manifest file")
    keys = list(manifest)
    if keys != sorted(keys, key=lambda k: {"domain": "0", "name": "1"}.get(k, f"2{k}")):
        errors.append("Manifest keys are not sorted correctly: domain, name, then alphabetical")
    if manifest.get("config_flow") and not (folder / "config_flow.py").is_file():
        errors.append("config_flow: true without config_flow.py")
    return errors


# --- the checks on ems -------------------------------------------------------------------------


def _json(name: str) -> dict[str, Any]:
    return json.loads((INTEGRATION / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_pass_hassfest(lang: str) -> None:
    assert check_translations(_json(f"translations/{lang}.json")) == []


def test_icons_pass_hassfest() -> None:
    assert check_icons(_json("icons.json")) == []


def test_services_pass_hassfest() -> None:
    services = load_yaml_dict(str(INTEGRATION / "services.yaml"))
    assert check_services(services, _json("translations/en.json")) == []
    # Every action has an icon (a core rule, kept here).
    assert set(_json("icons.json")["services"]) == set(services)


def test_manifest_passes_hassfest() -> None:
    assert check_manifest(_json("manifest.json"), INTEGRATION) == []


def test_every_json_file_parses() -> None:
    for path in INTEGRATION.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))


# --- the checker catches what hassfest refuses -------------------------------------------------


def test_uppercase_selector_options_are_refused() -> None:
    """The options ems shipped before (``N``/``E``/``O``) fail as they failed in hassfest."""
    strings = {"selector": {"parity": {"options": {"N": "None", "E": "Even", "O": "Odd"}}}}
    (error,) = check_translations(strings)
    assert "Invalid translation key 'N'" in error
    assert "data['selector']['parity']['options']" in error
    assert check_translations({"selector": {"parity": {"options": {"none": "None"}}}}) == []


@pytest.mark.parametrize(
    ("strings", "expected"),
    [
        ({"entity": {"sensor": {"Power": {"name": "Power"}}}}, "Invalid translation key"),
        ({"entity": {"sensor": {"a__b": {"name": "x"}}}}, "Invalid translation key"),
        ({"entity": {"sensor": {"_a": {"name": "x"}}}}, "Invalid translation key"),
        ({"entity": {"sensor": {"p": {"state": {"On": "x"}}}}}, "Invalid translation key"),
        ({"entity": {"sensor": {"p": {"state": {"on": "{x} on"}}}}}, "placeholders"),
        ({"entity": {"sensor": {"p": {"name": "[%key:common::on%]"}}}}, "references"),
        ({"entity": {"sensor": {"p": {"name": " Power"}}}}, "spaces"),
        ({"entity": {"sensor": {"p": {"name": "<b>Power</b>"}}}}, "HTML"),
        ({"entity": {"sensor": {"p": {"name": "see https://example.com/x"}}}}, "URL"),
        ({"exceptions": {"Bad": {"message": "x"}}}, "slug"),
        ({"exceptions": {"bad": {"message": "'{name}' failed"}}}, "quotes"),
        ({"exceptions": {"bad": {"message": "{0} failed"}}}, "identifier"),
        ({"issues": {"x": {"title": "t"}}}, "description"),
        ({"config": {"step": {"user": {"data_description": {"a": "x"}}}}}, "not in data"),
        ({"config": {"abort": {"x": "y"}}}, "step"),
        ({"config": {"title": "x", "step": {}}}, "config.title"),
        ({"config_subentries": {"battery": {"step": {}}}}, "entry_type"),
        ({"services": {"run": {"name": "Run"}}}, "description"),
        ({"services": {"run": {"name": "R", "description": "D", "fields": {"A": {}}}}}, "key"),
        ({"common": {"Bad Key": "x"}}, "slug"),
        ({"unknown_section": {}}, "extra keys"),
    ],
)
def test_translation_rules(strings: dict[str, Any], expected: str) -> None:
    errors = check_translations(strings)
    assert errors
    assert expected.lower() in " ".join(errors).lower()


@pytest.mark.parametrize(
    "icons",
    [
        {"entity": {"sensor": {"p": {"default": "battery"}}}},
        {"entity": {"sensor": {"P": {"default": "mdi:battery"}}}},
        {"entity": {"sensor": {"p": {"default": "mdi:a", "state": {"on": "mdi:a"}}}}},
        {"services": {"run": "mdi:play"}},
        {"services": {"run": {"service": "play"}}},
        {"other": {}},
    ],
)
def test_icon_rules(icons: dict[str, Any]) -> None:
    assert check_icons(icons)


@pytest.mark.parametrize(
    "services",
    [
        {"Run": {}},
        {"run": {"fields": {"a": {"selector": {"no_such_selector": {}}}}}},
        {"run": {"fields": {"a": {"required": "yes"}}}},
        {"run": {"fields": {"a": {}, "s": {"fields": {"a": {}}}}}},
        {"run": {"fields": {"a": {"filter": {"supported_features": []}}}}},
    ],
)
def test_service_rules(services: dict[str, Any]) -> None:
    assert check_services(services, {})


def test_service_translation_rules() -> None:
    services = {"run": {"fields": {"a": {"selector": {"select": {"options": ["x"]}}}}}}
    strings = {"services": {"run": {"name": "Run", "description": "D", "fields": {}}}}
    assert check_services(services, strings) == ["run.a: no name", "run.a: no description"]
    strings["services"]["run"]["fields"] = {
        "a": {"name": "A", "description": "D"},
        "b": {"name": "B", "description": "D"},
    }
    assert check_services(services, strings) == ["run: translated field b is not in services.yaml"]
    services["run"]["fields"]["a"]["selector"]["select"]["translation_key"] = "kind"
    del strings["services"]["run"]["fields"]["b"]
    assert check_services(services, strings) == ["run.a: selector kind not translated"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"version": None}, "No 'version'"),
        ({"version": "not a version"}, "not a valid version"),
        ({"iot_class": None}, "IoT Class"),
        ({"iot_class": "polling"}, "iot_class"),
        ({"documentation": "http://example.com"}, "https"),
        ({"codeowners": None}, "codeowners"),
        ({"domain": "other"}, "dir name"),
        ({"unknown": 1}, "extra keys"),
    ],
)
def test_manifest_rules(change: dict[str, Any], expected: str) -> None:
    manifest = _json("manifest.json")
    for key, value in change.items():
        if value is None:
            del manifest[key]
        else:
            manifest[key] = value
    errors = check_manifest(manifest, INTEGRATION)
    assert expected.lower() in " ".join(errors).lower()


def test_manifest_key_order() -> None:
    manifest = _json("manifest.json")
    moved = {"name": manifest.pop("name"), **manifest}
    assert check_manifest(moved, INTEGRATION) == [
        "Manifest keys are not sorted correctly: domain, name, then alphabetical"
    ]
    assert check_manifest({**manifest, "name": "ems"}, INTEGRATION)  # name last


# --- selectors of the forms: their option values are translation keys -------------------------


def _selects(schema: vol.Schema | None) -> list[selector.SelectSelector]:
    found = []
    for validator in (schema.schema if schema else {}).values():
        parts = validator.validators if isinstance(validator, vol.All) else [validator]
        found += [p for p in parts if isinstance(p, selector.SelectSelector)]
    return found


async def _forms(hass: HomeAssistant) -> list[vol.Schema]:
    """The schemas of the site's forms: options, and every step of every subentry menu."""
    entry = MockConfigEntry(domain=DOMAIN, title="Home", unique_id="home", data={})
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    schemas = [result["data_schema"]]
    hass.config_entries.options.async_abort(result["flow_id"])
    subentries = hass.config_entries.subentries
    for kind in ("battery", "pv", "meter", "relay_board", "appliance"):
        menu = await subentries.async_init((entry.entry_id, kind), context={"source": SOURCE_USER})
        subentries.async_abort(menu["flow_id"])
        for step in menu["menu_options"]:
            flow = await subentries.async_init(
                (entry.entry_id, kind), context={"source": SOURCE_USER}
            )
            result = await subentries.async_configure(flow["flow_id"], {"next_step_id": step})
            assert result["type"] is FlowResultType.FORM, (kind, step)
            schemas.append(result["data_schema"])
            subentries.async_abort(flow["flow_id"])
    return schemas


async def test_select_options_of_the_forms_are_translated_keys(hass: HomeAssistant) -> None:
    """A select with a translation_key offers translation keys, each translated (F: parity)."""
    strings = _json("translations/en.json")["selector"]
    checked = set()
    for schema in await _forms(hass):
        for select in _selects(schema):
            if (key := select.config.get("translation_key")) is None:
                continue
            values = [o if isinstance(o, str) else o["value"] for o in select.config["options"]]
            for value in values:
                translation_key(value)
            assert set(values) <= set(strings[key]["options"]), key
            checked.add(key)
    assert {"parity", "objective"} <= checked
