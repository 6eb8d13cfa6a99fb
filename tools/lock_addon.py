"""Write addon/requirements.lock: every package of the add-on image, pinned and hashed.

    .venv/bin/python -m tools.lock_addon

The input is addon/requirements.txt (the direct pins, equal to the repository's
requirements.txt). `uv pip compile` resolves it for the image's Python (3.13, CPython) on
Alpine (musl), once for x86_64 and once for aarch64, binary wheels only, with every version
the running environment (the repository's .venv, where the tests run) already has as a
constraint: the image gets the versions the tests ran with, not whatever is newest on the day.
Both architectures must give the same lock; it carries the hashes of every file of each pinned
version, so pip installs exactly these files (`--require-hashes`). Needs `uv` (next to this
Python or on PATH) and access to PyPI.
"""

from __future__ import annotations

import argparse
from importlib import metadata
from pathlib import Path
import re
import shutil
import subprocess
import sys
import tempfile

ADDON = Path(__file__).resolve().parent.parent / "addon"
REQUIREMENTS = ADDON / "requirements.txt"
LOCK = ADDON / "requirements.lock"
PYTHON = "3.13"
PLATFORMS = ("x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl")
# Installed from the add-on folder itself, never from an index.
LOCAL = {"ems-core", "ems-optimizer"}
COMMAND = "python -m tools.lock_addon"


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def tested_versions() -> list[str]:
    """`name==version` of every distribution of the running environment (local ones left out)."""
    pins = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and _name(name) not in LOCAL:
            pins[_name(name)] = f"{_name(name)}=={dist.version}"
    return sorted(pins.values())


def _uv() -> str:
    here = Path(sys.executable).with_name("uv")
    found = str(here) if here.exists() else shutil.which("uv")
    if not found:
        raise SystemExit("uv not found: pip install uv (or `make setup`)")
    return found


def compile_lock(platform: str, work: Path) -> str:
    """The lock for one platform, as uv writes it."""
    out = work / f"{platform}.lock"
    command = [
        _uv(),
        "pip",
        "compile",
        "requirements.txt",
        "--constraint",
        "tested-versions.txt",
        "--python-version",
        PYTHON,
        "--python-platform",
        platform,
        "--only-binary",
        ":all:",
        "--generate-hashes",
        "--custom-compile-command",
        COMMAND,
        "--quiet",
        "--output-file",
        out.name,
    ]
    subprocess.run(command, cwd=work, check=True)
    return out.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Write the lock (or with --check, exit 1 if it is not what uv gives today)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(REQUIREMENTS, work / "requirements.txt")
        (work / "tested-versions.txt").write_text("\n".join(tested_versions()) + "\n", "utf-8")
        locks = {platform: compile_lock(platform, work) for platform in PLATFORMS}
    first, *others = locks.values()
    if any(other != first for other in others):
        print("the architectures resolve differently: " + ", ".join(locks), file=sys.stderr)
        return 1
    if args.check:
        same = LOCK.exists() and LOCK.read_text(encoding="utf-8") == first
        print(f"{LOCK.name}: {'up to date' if same else 'out of date'}")
        return 0 if same else 1
    LOCK.write_text(first, encoding="utf-8")
    print(f"wrote {LOCK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
