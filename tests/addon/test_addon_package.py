"""The add-on's packaging: config.yaml vs the settings, translations, versions, Dockerfile."""

from __future__ import annotations

from importlib import metadata
import os
from pathlib import Path
import re
import struct
import subprocess
import sys
import tomllib
import zlib

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
import pytest
import yaml

import ems_optimizer
from ems_optimizer import cli
from ems_optimizer.settings import OPTION_NAMES, Settings, settings_from
from tools import lock_addon as lock_requirements

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


def _dockerfile() -> str:
    """The Dockerfile with its continuation lines joined."""
    return (ADDON / "Dockerfile").read_text("utf-8").replace("\\\n", " ")


def test_the_dockerfile_carries_the_build_parameters() -> None:
    # Supervisor 2026.04 deprecated build.yaml: base image and labels live in the Dockerfile
    for name in ("build.yaml", "build.yml", "build.json"):
        assert not (ADDON / name).exists(), name
    dockerfile = _dockerfile()
    match = re.search(r"^ARG BUILD_FROM=(\S+)$", dockerfile, flags=re.MULTILINE)
    assert match, "BUILD_FROM needs a default: the Supervisor passes none without build.yaml"
    assert dockerfile.index("ARG BUILD_FROM") < dockerfile.index("FROM ${BUILD_FROM}")
    # one multi-arch image for every arch of config.yaml (no amd64-/aarch64- prefix)
    image = re.fullmatch(
        r"ghcr\.io/home-assistant/base-python:(\d+\.\d+)-alpine(\d+)\.(\d+)", match[1]
    )
    assert image, match[1]
    assert set(CONFIG["arch"]) == {"amd64", "aarch64"}  # what the multi-arch image has
    python, alpine = image[1], (int(image[2]), int(image[3]))
    assert python == lock_requirements.PYTHON  # the lock is resolved for the image's Python
    project = tomllib.loads((ADDON / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["requires-python"] == f">={python}"
    assert alpine >= (3, 22), "Alpine 3.21 images stopped receiving builds in June 2026"
    labels = dict(re.findall(r'(\S+)="([^"]*)"', dockerfile.split("\nLABEL", 1)[1]))
    assert labels["io.hass.name"] == CONFIG["name"]
    assert labels["io.hass.type"] in ("app", "addon")
    assert labels["io.hass.url"] == CONFIG["url"]
    assert labels["io.hass.version"] == "${BUILD_VERSION}"
    assert labels["io.hass.arch"] == "${BUILD_ARCH}"
    assert labels["org.opencontainers.image.source"].startswith("https://github.com/")
    for copied in re.findall(r"^COPY (\S+)", dockerfile, flags=re.MULTILINE):
        assert (ADDON / copied).exists(), copied
    assert 'CMD ["/run.sh"]' in dockerfile
    run = (ADDON / "run.sh").read_text("utf-8")
    assert run.startswith("#!/usr/bin/with-contenv")
    assert "exec ems-optimizer serve" in run
    assert (ADDON / "run.sh").stat().st_mode & 0o111


def test_the_image_installs_exactly_the_lock() -> None:
    dockerfile = _dockerfile()
    installs = re.findall(r"pip install ([^&\n]+)", dockerfile)
    assert len(installs) == 2, installs
    locked, local = (install.split() for install in installs)
    # the dependencies: the lock's files only, nothing resolved at build time
    assert {"--only-binary=:all:", "--require-hashes", "--no-deps"} <= set(locked)
    assert locked[-2:] == ["-r", "requirements.lock"]
    # then the vendored core and the add-on, from this folder, with the locked setuptools
    assert {"--no-deps", "--no-build-isolation"} <= set(local)
    assert [arg for arg in local if not arg.startswith("--")] == ["./vendor/ems-core", "."]
    assert dockerfile.count("&& pip check") == 2
    # no other index than the one the lock was resolved against
    assert 'PIP_EXTRA_INDEX_URL=""' in dockerfile


def _lock() -> dict[str, str]:
    """requirements.lock as name → version; every requirement must be `name==version`."""
    text = (ADDON / "requirements.lock").read_text("utf-8")
    pins: dict[str, str] = {}
    for entry in text.replace("\\\n", " ").splitlines():
        line = entry.split("#")[0].strip()
        if not line:
            continue
        requirement, *hashes = re.split(r"\s+--hash=", line)
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+!-]*)", requirement)
        assert match, f"not an exact pin: {line[:80]}"
        assert hashes, f"no hash: {requirement}"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h.strip()) for h in hashes), requirement
        name = canonicalize_name(match[1])
        assert name not in pins, f"{name} twice"
        pins[name] = match[2]
    return pins


def _pins(path: Path) -> dict[str, str]:
    """A requirements file of exact pins as name → version."""
    out = {}
    for raw in path.read_text("utf-8").splitlines():
        line = raw.split("#")[0].strip()
        if line:
            assert "==" in line, f"{path.name}: not an exact pin: {line}"
            name, version = line.split("==")
            out[canonicalize_name(name)] = version.strip()
    return out


# Pinned for the image only (the repository's environment needs neither).
IMAGE_ONLY = {"tzdata", "setuptools"}


def test_every_package_of_the_image_is_pinned() -> None:
    lock = _lock()
    assert len(lock) > len(_pins(ADDON / "requirements.txt"))  # the transitive ones too
    for name, version in _pins(ADDON / "requirements.txt").items():
        assert lock.get(name) == version, name  # the lock follows the direct pins
    # what the image installs from this folder: its dependencies are locked and satisfied
    for path in (ADDON / "pyproject.toml", ADDON / "vendor" / "ems-core" / "pyproject.toml"):
        data = tomllib.loads(path.read_text("utf-8"))
        for raw in [*data["project"]["dependencies"], *data["build-system"]["requires"]]:
            requirement = Requirement(raw)
            name = canonicalize_name(requirement.name)
            if name == "ems-core":
                continue  # installed from vendor/ems-core
            assert name in lock, f"{path.parent.name}: {raw} is not locked"
            assert requirement.specifier.contains(lock[name], prereleases=True), (raw, lock[name])


def test_the_direct_pins_are_the_repository_pins() -> None:
    image, repository = _pins(ADDON / "requirements.txt"), _pins(ROOT / "requirements.txt")
    assert set(image) - set(repository) == IMAGE_ONLY
    for name in set(image) - IMAGE_ONLY:
        assert image[name] == repository[name], name
    project = tomllib.loads((ADDON / "pyproject.toml").read_text("utf-8"))["project"]
    needed = {canonicalize_name(Requirement(dep).name) for dep in project["dependencies"]}
    needed.discard("ems-core")  # installed from the vendored copy, vendor/ems-core
    assert needed <= set(image)


def test_the_lock_tool_constrains_to_the_tested_versions() -> None:
    constraints = lock_requirements.tested_versions()
    assert f"numpy=={metadata.version('numpy')}" in constraints
    assert not [c for c in constraints if c.split("==")[0] in ("ems-core", "ems-optimizer")]
    assert all(re.fullmatch(r"[a-z0-9-]+==\S+", c) for c in constraints)
    assert lock_requirements.REQUIREMENTS == ADDON / "requirements.txt"
    assert lock_requirements.LOCK == ADDON / "requirements.lock"
    assert "python -m tools.lock_addon" in (ADDON / "requirements.lock").read_text("utf-8")


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_lock_holds_every_dependency_of_what_it_locks(machine: str) -> None:
    """Each locked package's own requirements (musl Linux, the image's Python) are locked too.

    Read from the metadata of the packages installed here at the locked version: the direct
    pins always are (the repository's requirements.txt), and the lock was resolved with this
    environment's versions as constraints.
    """
    lock = _lock()
    environment = default_environment() | {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": machine,
        "python_version": lock_requirements.PYTHON,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }
    checked = set()
    for name, version in lock.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        checked.add(name)
        for raw in dist.requires or []:
            requirement = Requirement(raw)
            if requirement.marker and not requirement.marker.evaluate(environment):
                continue
            needed = canonicalize_name(requirement.name)
            assert needed in lock, f"{name} {version} needs {raw}: not in requirements.lock"
            assert requirement.specifier.contains(lock[needed], prereleases=True), (name, raw)
    assert set(_pins(ADDON / "requirements.txt")) - IMAGE_ONLY <= checked


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
    assert "ems-optimizer serve" in docs  # standalone, without the Supervisor
    assert "[DEVELOPING.md](DEVELOPING.md)" in docs
    assert (ADDON / "DEVELOPING.md").exists()


def test_the_readme_is_for_the_people_installing_the_add_on() -> None:
    # the add-on store shows README.md: what it does, what it needs, how to start, in en + fr
    readme = (ADDON / "README.md").read_text("utf-8")
    for needed in ("**ems**", "**Auto (plan)**", "DOCS.md", "## En français", "plan pushed"):
        assert needed in readme, needed
    for developer in ("make ", "pytest", "ems-optimizer plan", "MILP", "contract", ".venv"):
        assert developer not in readme, developer


def _code_blocks(path: Path) -> list[str]:
    """The lines of a Markdown file's fenced code blocks."""
    lines, inside = [], False
    for line in path.read_text("utf-8").splitlines():
        if line.strip().startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line)
    return lines


@pytest.mark.parametrize(
    "path",
    [ROOT / "README.md", ADDON / "README.md", ADDON / "DOCS.md", ADDON / "DEVELOPING.md"],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_no_example_puts_the_token_on_the_command_line(path: Path) -> None:
    # F15: `ps` and the shell history show a command's arguments
    commands = [line for line in _code_blocks(path) if "ems-optimizer serve --ha-url" in line]
    for line in commands:
        assert not re.search(r"--token[ =]", line), line
    if commands:  # and the ways that keep it off are shown
        text = path.read_text("utf-8")
        assert "--token-file" in text, path
        assert "EMS_HA_TOKEN" in text, path


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
    for flag in (
        "--ha-url",
        "--token-file",
        "--token",
        "--once",
        "--options",
        "--runs-dir",
        "--keep-runs",
    ):
        assert flag in out
