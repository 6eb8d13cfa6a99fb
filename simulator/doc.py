"""Print the simulator's register tables as markdown, generated from the register profiles.

``python -m simulator.doc`` prints them; ``python -m simulator.doc --write`` replaces the
generated section of ``simulator/README.md`` (between the BEGIN/END markers).
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path

from ems_core.profile import DataType, Point, Profile, Table, builtin_profiles

from .site import BATTERY_UNIT, SUNSPEC_BASE, SUNSPEC_UNIT, UNIT_PROFILES
from .vendors import CONTROLS

README = Path(__file__).parent / "README.md"
BEGIN = "<!-- BEGIN GENERATED REGISTER TABLES (python -m simulator.doc) -->"
END = "<!-- END GENERATED REGISTER TABLES -->"
_TABLE_ORDER = (Table.HOLDING, Table.INPUT, Table.COIL, Table.DISCRETE)


def _number(value: float) -> str:
    """A number without a useless '.0'."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _type(point: Point) -> str:
    if point.table in (Table.COIL, Table.DISCRETE):
        return "bit"
    if point.type is DataType.STRING:
        return f"string ({point.count} regs)"
    text = point.type.value
    if point.bit is not None:
        text += f" bit {point.bit}"
    if point.word_order != "big":
        text += " (little-endian words)"
    return text


def _range(point: Point) -> str:
    if point.min is None and point.max is None:
        return ""
    low = "" if point.min is None else _number(point.min)
    high = "" if point.max is None else _number(point.max)
    return f"{low} … {high}"


def profile_table(profile: Profile) -> str:
    """The markdown table of one profile's points, by table then address."""
    lines = [
        "| table | address | key | type | scale | unit | access | range |",
        "|---|---:|---|---|---:|---|---|---|",
    ]
    points = sorted(
        profile.points,
        key=lambda p: (_TABLE_ORDER.index(p.table), p.address, p.bit or 0),
    )
    for p in points:
        scale = _number(p.scale)
        if p.offset:
            scale += f" + {_number(p.offset)}"
        lines.append(
            f"| {p.table.value} | {p.address} | `{p.key}` | {_type(p)} | {scale} "
            f"| {p.unit or ''} | {'RW' if p.writable else 'R'} | {_range(p)} |"
        )
    return "\n".join(lines)


def generate() -> str:
    """All register tables, one section per unit id."""
    profiles = builtin_profiles()
    parts = [
        "Generated from `core/ems_core/profiles/*.yaml`: values are "
        "`raw × scale`; 32-bit values use two registers, high word first unless noted. "
        "Registers between mapped points of one table read as 0; anything outside answers "
        "exception 2 (illegal address). Writes are accepted only on RW points, and a value "
        "outside the point's range answers exception 3 (illegal value)."
    ]
    for uid, (pid, role) in UNIT_PROFILES.items():
        profile = profiles[pid]
        parts.append(f"### Unit {uid}: {role} — {profile.name} (`{pid}`)")
        parts.append(profile_table(profile))
    parts.append(
        f"### Unit {SUNSPEC_UNIT}: SunSpec device\n\n"
        f"Holding registers from {SUNSPEC_BASE}: `SunS`, then SunSpec models 1, 103, 124, 704 and "
        "802 and the end marker `0xFFFF` (see `simulator/sunspec.py`)."
    )
    parts.append(
        "### Vendor batteries (`--battery-profile`)\n\n"
        f"With `--battery-profile ID`, unit {BATTERY_UNIT} is laid out by that vendor's profile "
        "and takes its commands as the vendor's document says (`simulator/vendors.py`); "
        "without a remote command in force it runs its own self-consumption."
    )
    for pid, control in CONTROLS.items():
        if pid == UNIT_PROFILES[BATTERY_UNIT][0]:
            continue
        profile = profiles[pid]
        source = profile.source
        parts.append(
            f"#### {profile.name} (`{pid}`)\n\n"
            f"{source['document']}, {source['version']}; firmware: {source['firmware']}.\n\n"
            f"{inspect.cleandoc(control.__doc__ or '')}"
        )
        parts.append(profile_table(profile))
    return "\n\n".join(parts) + "\n"


def generated_section(text: str) -> str:
    """The generated part of a README (between the markers)."""
    start = text.index(BEGIN) + len(BEGIN)
    return text[start : text.index(END)].strip("\n") + "\n"


def main(argv: list[str] | None = None) -> None:
    """Print the tables, or write them into the README."""
    parser = argparse.ArgumentParser(prog="python -m simulator.doc", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"update {README.name} in place")
    args = parser.parse_args(argv)
    tables = generate()
    if not args.write:
        print(tables, end="")
        return
    text = README.read_text(encoding="utf-8")
    head = text[: text.index(BEGIN) + len(BEGIN)]
    tail = text[text.index(END) :]
    README.write_text(f"{head}\n\n{tables}\n{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
