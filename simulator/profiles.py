"""Load the integration's register profiles without importing Home Assistant.

``custom_components/ems/profile.py`` is the one source of truth for register maps and value
conversion. Importing it through its package would run the integration's ``__init__`` (and so
Home Assistant), so it is loaded here by file path under a private module name.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
import sys
from types import ModuleType
from typing import TYPE_CHECKING

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILE_PY = REPO_ROOT / "custom_components" / "ems" / "profile.py"
_MODULE_NAME = "_ems_simulator_profile"


def _load() -> ModuleType:
    """Import profile.py by path once and return the module."""
    if (module := sys.modules.get(_MODULE_NAME)) is not None:
        return module
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, PROFILE_PY)
    if spec is None or spec.loader is None:  # pragma: no cover - broken checkout
        raise ImportError(f"cannot load register profiles from {PROFILE_PY}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module  # dataclasses resolve their module through sys.modules
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_MODULE_NAME]
        raise
    return module


_profile = _load()

if TYPE_CHECKING:
    from custom_components.ems.profile import (
        DataType,
        Point,
        Profile,
        Table,
        builtin_profiles,
        decode,
        encode,
        plan_reads,
    )
else:
    DataType = _profile.DataType
    Point = _profile.Point
    Profile = _profile.Profile
    Table = _profile.Table
    builtin_profiles = _profile.builtin_profiles
    decode = _profile.decode
    encode = _profile.encode
    plan_reads = _profile.plan_reads

__all__ = [
    "PROFILE_PY",
    "DataType",
    "Point",
    "Profile",
    "Table",
    "builtin_profiles",
    "decode",
    "encode",
    "plan_reads",
]
