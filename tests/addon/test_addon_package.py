"""The add-on's packaging: config.yaml vs the settings, translations, versions, Dockerfile."""

from __future__ import annotations

import os
from pathlib import Path
import re
import struct
import subprocess
import sys
import tomllib
import zlib

import pytest
import yaml

import ems_optimizer
from ems_optimizer import cli
from ems_optimizer.settings import OPTION_NAMES, Settings, settings_from

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "addon"
CONFIG = yaml.safe_load((ADDON / "config.yaml").read_text(encoding="utf-8"))


def test_config_has_what_the_supervisor_needs() -> None:
    for key in ("name", "version", "slug", "description", "arch", "options", "schema"):
        assert CONFIG[key], key
    assert CONFIG["arch"] == ["amd64", "aarch64"]
    assert CONFIG["init"] is False
    assert CONFIG["homeassistant_api"] is True
    assert CONFIG["startup"] == "application"
    assert CONFIG["boot"] == "auto"
    assert re.fullmatch(r"[a-z0-9_]+", CONFIG["slug"])
    assert isinstance(CONFIG["version"], str)


def test_every_option_has_a_schema_and_required_ones_a_default() -> None:
    options, schema = CONFIG["options"], CONFIG["schema"]
    assert set(options) <= set(schema)
    required = {key for key, kind in schema.items() if not str(kind).endswith("?")}
    assert required == set(options)


def test_options_and_schema_match_the_program_settings() -> None:
    assert set(CONFIG["schema"]) <= set(OPTION_NAMES)
    defaults = Settings()
    settings = settings_from(defaults, CONFIG["options"], source="config.yaml")
    assert settings == defaults  # config.yaml's defaults are the program's
    for key, declared in CONFIG["schema"].items():
        kind = str(declared).rstrip("?")
        if kind.startswith("list("):
            for choice in kind[5:-1].split("|"):
                settings_from(defaults, {key: choice}, source="schema")
        elif match := re.fullmatch(r"int\((\d+),(\d+)\)", kind):
            low, high = int(match[1]), int(match[2])
            settings_from(defaults, {key: low}, source="schema")
            settings_from(defaults, {key: high}, source="schema")
            with pytest.raises(ValueError, match=key):
                settings_from(defaults, {key: high + 1}, source="schema")
        else:
            assert kind in ("str", "url", "password"), key


@pytest.mark.parametrize("language", ["en", "fr"])
def test_translations_cover_every_option(language: str) -> None:
    data = yaml.safe_load((ADDON / "translations" / f"{language}.yaml").read_text("utf-8"))
    configuration = data["configuration"]
    assert set(configuration) == set(CONFIG["schema"])
    for key, text in configuration.items():
        assert text["name"].strip(), key
        assert text["description"].strip(), key


def test_french_is_not_english() -> None:
    en = yaml.safe_load((ADDON / "translations" / "en.yaml").read_text("utf-8"))["configuration"]
    fr = yaml.safe_load((ADDON / "translations" / "fr.yaml").read_text("utf-8"))["configuration"]
    assert all(en[key]["description"] != fr[key]["description"] for key in en)


def test_versions_agree() -> None:
    version = CONFIG["version"]
    changelog = (ADDON / "CHANGELOG.md").read_text("utf-8")
    headings = re.findall(r"^## (\S+)", changelog, flags=re.MULTILINE)
    assert headings[0] == version
    assert ems_optimizer.__version__ == version
    project = tomllib.loads((ADDON / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["version"] == version


def test_dockerfile_and_build_yaml_agree_with_config() -> None:
    dockerfile = (ADDON / "Dockerfile").read_text("utf-8")
    match = re.search(r"^ARG BUILD_FROM=(\S+)$", dockerfile, flags=re.MULTILINE)
    assert match, "BUILD_FROM needs a default"
    assert dockerfile.index("ARG BUILD_FROM") < dockerfile.index("FROM ${BUILD_FROM}")
    build = yaml.safe_load((ADDON / "build.yaml").read_text("utf-8"))
    assert set(build["build_from"]) == set(CONFIG["arch"])
    assert build["build_from"]["amd64"] == match[1]
    for arch, image in build["build_from"].items():
        assert image.startswith(f"ghcr.io/home-assistant/{arch}-base-python:3.13-")
    for copied in re.findall(r"^COPY (\S+)", dockerfile, flags=re.MULTILINE):
        assert (ADDON / copied).exists(), copied
    assert 'CMD ["/run.sh"]' in dockerfile
    run = (ADDON / "run.sh").read_text("utf-8")
    assert run.startswith("#!/usr/bin/with-contenv")
    assert "exec ems-optimizer serve" in run
    assert (ADDON / "run.sh").stat().st_mode & 0o111


def test_image_pins_are_the_repository_pins() -> None:
    def pins(path: Path) -> dict[str, str]:
        out = {}
        for raw in path.read_text("utf-8").splitlines():
            line = raw.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                out[name.lower()] = version
        return out

    image, repository = pins(ADDON / "requirements.txt"), pins(ROOT / "requirements.txt")
    project = tomllib.loads((ADDON / "pyproject.toml").read_text("utf-8"))["project"]
    needed = {re.split(r"[<>=]", dep)[0].lower() for dep in project["dependencies"]}
    needed.discard("ems-core")  # installed from the vendored copy, vendor/ems-core
    assert needed <= set(image)
    for name in needed:
        assert image[name] == repository[name], name


def test_icon_is_a_128_pixel_png() -> None:
    data = (ADDON / "icon.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (128, 128)
    assert (
        zlib.crc32(data[12 : 16 + length])
        == struct.unpack(">I", data[16 + length : 20 + length])[0]
    )


def test_repository_yaml_names_the_repository() -> None:
    data = yaml.safe_load((ROOT / "repository.yaml").read_text("utf-8"))
    assert data["name"]
    assert data["url"].startswith("https://")
    assert data["maintainer"]
    assert CONFIG["url"].startswith(data["url"])


def test_docs_describe_every_option_and_the_untested_image() -> None:
    docs = (ADDON / "DOCS.md").read_text("utf-8")
    for key in CONFIG["schema"]:
        assert f"`{key}`" in docs, key
    assert "no Docker engine" in docs
    assert "no Docker engine" in (ADDON / "CHANGELOG.md").read_text("utf-8")
    assert "no Docker engine" in (ADDON / "Dockerfile").read_text("utf-8")
    readme = (ADDON / "README.md").read_text("utf-8")
    assert "ems-optimizer serve" in readme


def test_no_test_fixture_is_named_like_an_addon_config() -> None:
    # the Supervisor takes every config.yaml/config.json outside dot-folders for an add-on
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(folder) / f for f in files if f in ("config.yaml", "config.json")]
    assert found == [ADDON / "config.yaml"]


def test_the_package_never_imports_home_assistant() -> None:
    sources = sorted((ADDON / "ems_optimizer").rglob("*.py"))
    for path in sources:
        text = path.read_text("utf-8")
        assert not re.search(r"^\s*(from|import)\s+homeassistant\b", text, re.MULTILINE), path
    code = (
        "import sys, ems_optimizer.cli, ems_optimizer.serve, ems_optimizer.serve_cli; "
        "bad = [m for m in sys.modules"
        " if m.split('.')[0] in ('homeassistant', 'custom_components')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_serve_command_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["serve", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--ha-url", "--token", "--once", "--options", "--runs-dir", "--keep-runs"):
        assert flag in out
