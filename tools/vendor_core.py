"""Copy the one source of the core (core/) to where it must ship, or check that the copies match.

The core is written once, in ``core/ems_core``. Two deployables cannot import it from there:
HACS installs only ``custom_components/ems`` and the Supervisor builds the add-on image from
``addon/`` alone. So both carry a copy, byte for byte, written by this tool::

    python tools/vendor_core.py          # write the copies
    python tools/vendor_core.py --check  # exit 1 and name every difference (run by make test)
"""

from __future__ import annotations

import argparse
import filecmp
from pathlib import Path
import shutil
import sys

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "core"
# (copy's root, what of core/ it holds)
COPIES: tuple[tuple[Path, tuple[str, ...]], ...] = (
    (ROOT / "custom_components" / "ems" / "core", ("ems_core",)),
    (ROOT / "addon" / "vendor" / "ems-core", ("pyproject.toml", "ems_core")),
)
IGNORED = {"__pycache__", ".pytest_cache", "build"}


def _files(root: Path) -> dict[str, Path]:
    """Return the files under root by relative path, caches left out."""
    return {
        str(p.relative_to(root)): p
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not IGNORED & set(p.relative_to(root).parts)
        and not p.name.endswith(".egg-info")
        and ".egg-info" not in str(p)
    }


def _source_files(parts: tuple[str, ...]) -> dict[str, Path]:
    """Return what a copy must hold: relative path in the copy → source file."""
    files: dict[str, Path] = {}
    for part in parts:
        src = SOURCE / part
        if src.is_file():
            files[part] = src
            continue
        prefix = "" if parts == ("ems_core",) else f"{part}/"
        files |= {f"{prefix}{rel}": p for rel, p in _files(src).items()}
    return files


def differences() -> list[str]:
    """Return one line per file that differs between the source and a copy."""
    problems = []
    for dest, parts in COPIES:
        want = _source_files(parts)
        have = _files(dest) if dest.is_dir() else {}
        name = dest.relative_to(ROOT)
        problems += [f"{name}/{rel}: missing" for rel in sorted(want.keys() - have.keys())]
        problems += [f"{name}/{rel}: not in core/" for rel in sorted(have.keys() - want.keys())]
        problems += [
            f"{name}/{rel}: differs from core/"
            for rel in sorted(want.keys() & have.keys())
            if not filecmp.cmp(want[rel], have[rel], shallow=False)
        ]
    return problems


def write() -> None:
    """Replace every copy with the source."""
    for dest, parts in COPIES:
        if dest.exists():
            shutil.rmtree(dest)
        for rel, src in _source_files(parts).items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def main() -> int:
    """Write or check the vendored copies of the core."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    if parser.parse_args().check:
        if problems := differences():
            print("The vendored core differs from core/ (run: python tools/vendor_core.py):")
            print("\n".join(f"  {p}" for p in problems))
            return 1
        print("vendored core: copies match core/")
        return 0
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
