"""The core has one source (core/); its shipped copies must be that source, byte for byte."""

from __future__ import annotations

from pathlib import Path
import shutil
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "vendor_core.py"


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "tools" / "vendor_core.py"), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_copies_in_this_checkout_match() -> None:
    result = _run(ROOT, "--check")
    assert result.returncode == 0, result.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A throw-away tree with the core and its two copies."""
    for part in ("tools", "core", "custom_components/ems/core", "addon/vendor"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_a_changed_copy_is_named(tree: Path) -> None:
    copy = tree / "custom_components" / "ems" / "core" / "limiter.py"
    copy.write_text(copy.read_text() + "\n# edited in place\n")
    (tree / "addon" / "vendor" / "ems-core" / "ems_core" / "contract.py").unlink()
    result = _run(tree, "--check")
    assert result.returncode == 1
    assert "custom_components/ems/core/limiter.py: differs from core/" in result.stdout
    assert "addon/vendor/ems-core/ems_core/contract.py: missing" in result.stdout


def test_writing_restores_the_copies(tree: Path) -> None:
    (tree / "custom_components" / "ems" / "core" / "stray.py").write_text("x = 1\n")
    assert _run(tree, "--check").returncode == 1
    assert _run(tree).returncode == 0
    assert _run(tree, "--check").returncode == 0
    assert not (tree / "custom_components" / "ems" / "core" / "stray.py").exists()
