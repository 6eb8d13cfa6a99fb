"""The README's register tables are the generator's output; the generator follows the profiles."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

from simulator.doc import README, generate, generated_section
from simulator.profiles import builtin_profiles

REPO = Path(__file__).resolve().parents[2]


def test_readme_tables_match_the_generator() -> None:
    text = README.read_text(encoding="utf-8")
    assert generated_section(text) == generate(), (
        "simulator/README.md is out of date: run `python -m simulator.doc --write`"
    )


def test_every_profile_point_is_documented() -> None:
    tables = generate()
    for profile in builtin_profiles().values():
        assert f"(`{profile.id}`)" in tables
        for point in profile.points:
            assert f"| {point.address} | `{point.key}` |" in tables


def test_module_prints_the_tables() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "simulator.doc"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout == generate()
