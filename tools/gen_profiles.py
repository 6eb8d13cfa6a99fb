"""Write the README's list of device profiles (and what was tested how) from the profiles.

One source: ``core/ems_core/profiles/*.yaml`` and the SunSpec storage control. ``--check``
fails when the README's list differs from what the profiles give (the tests run it).

Run from the repository root: .venv/bin/python -m tools.gen_profiles [--check]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

from ems_core.capability import Confirm
from ems_core.profile import Profile, builtin_profiles
from ems_core.sunspec import STORAGE_CONTROL

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN = "<!-- BEGIN PROFILE LIST (python -m tools.gen_profiles) -->"
END = "<!-- END PROFILE LIST -->"

HEADER = "| profile | device | register map from | control | tested |\n|---|---|---|---|---|"


def _tested(profile: Profile) -> str:
    """What the tests prove for this profile, against the simulator serving its semantics.

    tests/simulator/test_sim_vendors.py and tests/integration/test_vendor_control.py.
    """
    if profile.kind != "battery" or profile.control is None:
        writes = " and written" if profile.writable_points else ""
        return f"read{writes} against the simulator"
    control = profile.control
    done = ["read", "charge, discharge, hold and release against its simulated semantics"]
    if control.lapse_s:
        done.append("re-written before its mode lapses")
    if control.confirm is Confirm.READBACK:
        done.append("a different read-back holds it")
    if control.state_key:
        done.append(f"unconfirmed by {control.state_key}")
    done.append("ignoring commands reported")
    if profile.manufacturer != "ems":
        done.append("the controller in Home Assistant, dry run")
    return "; ".join(done)


def _row(profile: Profile) -> str:
    source = profile.source
    where = (
        f"{source['document']}, {source['version']}; firmware: {source['firmware']}"
        if source
        else "ems's own map (the simulator's)"
    )
    if profile.control is not None:
        control = "; ".join(profile.control.describe())
    elif profile.writable_points:
        control = "writes " + ", ".join(f"`{p.key}`" for p in profile.writable_points)
    else:
        control = "read only"
    device = profile.name if profile.manufacturer == "ems" else f"{profile.name} ({profile.model})"
    return f"| `{profile.id}` | {device} | {where} | {control} | {_tested(profile)} |"


def generate() -> str:
    """The profile list (markdown)."""
    profiles = sorted(builtin_profiles().values(), key=lambda p: (p.manufacturer == "ems", p.id))
    rows = [_row(p) for p in profiles]
    sunspec = (
        "| SunSpec discovery | any SunSpec device: model 704 (IEEE 1547 DER controls) or 124 "
        "(Fronius GEN24 and other hybrids) | the models found on the device (SunSpec Information "
        "Model) | 704: power setpoint (WSetEna, WSetMod = watts, WSet); else 124: forced "
        "charge/discharge (StorCtl_Mod, InWRte/OutWRte); revert time "
        f"{STORAGE_CONTROL['lapse_s']} s re-written every {STORAGE_CONTROL['rewrite_s']} s; "
        "confirmed by read-back | the simulator's SunSpec hybrid, through 704 and through 124: "
        "charge, discharge, hold, release, revert |"
    )
    return "\n".join([HEADER, *rows, sunspec]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the list into the README, or check it is up to date."""
    parser = argparse.ArgumentParser(prog="python -m tools.gen_profiles", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the README is stale")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    updated = f"{head}{BEGIN}\n{generate()}{END}{tail}"
    if args.check:
        if updated != text:
            print("README.md's profile list is stale: run python -m tools.gen_profiles")
            return 1
        return 0
    README.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
