"""The README's register tables are the generator's output; the generator follows the profiles."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

from ems_core.profile import builtin_profiles
from simulator.doc import README, generate, generated_section

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


def test_repl_recipe_addresses_follow_the_profiles() -> None:
    """The hand-written REPL recipe in the README reads the points it says it reads."""
    text = README.read_text(encoding="utf-8")
    profiles = builtin_profiles()
    bess, relays = profiles["generic_bess"], profiles["relay_board_4ch"]
    soc, power, setpoint = bess["soc"], bess["power"], bess["setpoint"]
    assert f"client.read_input_registers address={soc.address} count={soc.words} slave=1" in text
    assert (
        f"client.read_input_registers address={power.address} count={power.words} slave=1" in text
    )
    assert f"client.write_registers address={setpoint.address} values=0,2000 slave=1" in text
    assert soc.scale == 0.1
    assert power.type.value == "i32"
    assert setpoint.type.value == "i32"
    first = relays["relay_1"].address
    assert [relays[f"relay_{n}"].address for n in (1, 2, 3, 4)] == [first + i for i in range(4)]
    assert f"client.read_coils address={first} count=4 slave=4" in text
