"""No deprecation warning about ems in a real Home Assistant's log (forward compatibility).

Home Assistant 2026.3+ needs Python 3.14, which cannot run here; what can be checked is that
Home Assistant 2025.4.4 logs no deprecation concerning ems or a component ems loads
(``logscan``). The fast tests feed the scanner lines in the shapes Home Assistant logs them
(from its source: helpers/frame.py, helpers/deprecation.py, util/loop.py,
helpers/config_validation.py, entity platforms, and lines reported by users of other custom
integrations). The e2e tests start one Home Assistant for this module (the ``site`` fixture,
with Python's DeprecationWarning shown), use what ems offers (setup, polling, a plan from the
add-on, a mode change, diagnostics, the options flow, Assist, a reload), then fail listing
every deprecation line; another checks the logs of the Home Assistant sessions that ran before
in the same pytest run.
"""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path
import time

import pytest

from . import logscan
from .harness import ROOT, Site, demo

E = demo.E
SETTLE_S = 12  # the controller ticks every 5 s

TS = "2025-08-04 10:15:02.123"


def _line(logger: str, message: str, level: str = "WARNING", thread: str = "MainThread") -> str:
    return f"{TS} {level} ({thread}) [{logger}] {message}"


# --------------------------------------------------------------------------------------------
# The scanner on sample lines

FRAME_EMS = _line(
    "homeassistant.helpers.frame",
    "Detected that custom integration 'ems' relies on ContextVar, but should pass the config "
    "entry explicitly. at custom_components/ems/coordinator.py, line 76: super().__init__(. "
    "This will stop working in Home Assistant 2026.8, please create a bug report at "
    "https://github.com/ems-energy/ems/issues",
)
FRAME_OTHER = _line(
    "homeassistant.helpers.frame",
    "Detected that custom integration 'anker_solix' relies on ContextVar, but should pass the "
    "config entry explicitly. at custom_components/anker_solix/coordinator.py, line 47: "
    "super().__init__(. This will stop working in Home Assistant 2026.8, please create a bug "
    "report at https://github.com/thomluther/ha-anker-solix/issues",
)
FORWARD_SETUP = _line(
    "homeassistant.helpers.frame",
    "Detected that custom integration 'ems' calls async_forward_entry_setup for integration, "
    "ems with title: Demo site and entry_id: 01JS, which is deprecated and will stop working "
    "in Home Assistant 2025.6, await async_forward_entry_setups instead at "
    "custom_components/ems/__init__.py, line 157: hass.async_create_task(, please create a "
    "bug report at https://github.com/ems-energy/ems/issues",
)
DEPRECATED_ALIAS = _line(
    "homeassistant.helpers.typing",
    "HomeAssistantType was used from ems, this is a deprecated alias which will be removed in "
    "HA Core 2025.5. Use homeassistant.core.HomeAssistant instead, please create a bug report "
    "at https://github.com/ems-energy/ems/issues",
)
DEPRECATED_ALIAS_OTHER = _line(
    "homeassistant.helpers.typing",
    "HomeAssistantType was used from calendarific, this is a deprecated alias which will be "
    "removed in HA Core 2025.5. Use homeassistant.core.HomeAssistant instead, please report "
    "it to the author of the 'calendarific' custom integration",
)
CODE_WITH_EMS_STACK = "\n".join(
    (
        _line(
            "homeassistant.helpers.frame",
            "Detected code that calls `async_track_state_change` instead of "
            "`async_track_state_change_event` which is deprecated and will be removed in Home "
            "Assistant 2025.5. Please report this issue",
        ),
        "Stack (most recent call last):",
        '  File "/usr/src/homeassistant/homeassistant/config_entries.py", line 749, in async_setup',
        '  File "/config/custom_components/ems/entity_source.py", line 61, in __init__',
        "    async_track_state_change(hass, entity_ids, self._changed)",
    )
)
CODE_WITHOUT_EMS = "\n".join(
    (
        _line(
            "homeassistant.helpers.frame",
            "Detected code that uses `async_config_entry_first_refresh`, which is only "
            "supported for coordinators with a config entry. This will stop working in Home "
            "Assistant 2025.11, please report this issue",
        ),
        "Stack (most recent call last):",
        '  File "/usr/src/homeassistant/homeassistant/components/met/__init__.py", line 40',
    )
)
PY_WARNING_EMS = "\n".join(
    (
        _line(
            "py.warnings",
            "/work/main/custom_components/ems/core/transport.py:91: DeprecationWarning: "
            "pymodbus: slave= is deprecated, use device_id=",
        ),
        "  response = await call(address, count=count, slave=unit)",
    )
)
PY_WARNING_THIRD_PARTY = _line(
    "py.warnings",
    "/work/main/.venv/lib/python3.13/site-packages/aiohttp/web_app.py:12: "
    "DeprecationWarning: web.Application.register_on_finish is deprecated",
)
PY_WARNING_PYMODBUS = _line(
    "py.warnings",
    "/work/main/.venv/lib/python3.13/site-packages/pymodbus/client/base.py:80: "
    "FutureWarning: the payload decoder will be removed in 3.10",
)
STDERR_WARNING = "\n".join(
    (
        "/work/main/custom_components/ems/core/profile.py:12: DeprecationWarning: "
        "datetime.datetime.utcnow() is deprecated and scheduled for removal in a future "
        "version.",
        "  now = datetime.utcnow()",
    )
)
BLOCKING_CALL = "\n".join(
    (
        _line(
            "homeassistant.util.loop",
            "Detected blocking call to open with args ('/config/ems/profiles.yaml',) inside the "
            "event loop by custom integration 'ems' at custom_components/ems/__init__.py, line "
            "97: profiles = await async_get_profiles(hass) (offender: "
            "/work/main/custom_components/ems/core/profile.py, line 40: with open(path) as f:), "
            "please create a bug report at https://github.com/ems-energy/ems/issues",
        ),
        "For developers, please see "
        "https://developers.home-assistant.io/docs/asyncio_blocking_operations/#open",
        "Traceback (most recent call last):",
    )
)
BLOCKING_CALL_REPEAT = _line(
    "homeassistant.util.loop",
    "Detected blocking call to open with args ('/config/ems/profiles.yaml',) inside the event "
    "loop by custom integration 'ems' at custom_components/ems/__init__.py, line 97: …",
    level="DEBUG",
)
NUMBER_FEATURES = _line(
    "homeassistant.components.number",
    "Entity number.battery_charge_limit (<class 'custom_components.ems.number.EmsPointNumber'>) "
    "is using deprecated NumberEntity features which will be unsupported from Home Assistant "
    "Core 2022.10, please report it to the custom integration author.",
)
SENSOR_MISUSE = _line(
    "homeassistant.components.sensor",
    "Entity sensor.demo_site_battery_state_of_charge (<class "
    "'custom_components.ems.sensor.EmsSiteSensor'>) is using state class 'total_increasing' "
    "which is impossible considering device class ('battery') it is using; expected None or "
    "one of 'measurement'; Please update your configuration if your entity is manually "
    "configured, otherwise create a bug report at https://github.com/ems-energy/ems/issues",
)
CONFIG_OPTION = _line(
    "custom_components.ems",
    "The 'scan_interval' option near /config/configuration.yaml:12 is deprecated, please "
    "remove it from your configuration",
)
CALENDAR_OWN = _line(
    "homeassistant.components.calendar",
    "The calendar.list_events action is deprecated and will be removed in Home Assistant "
    "2024.6, use calendar.get_events instead",
)
CORE_SENSOR_FRAME = _line(
    "homeassistant.helpers.frame",
    "Detected that integration 'sensor' calls hass.helpers.event. This will stop working in "
    "Home Assistant 2025.5, please create a bug report at https://github.com/home-assistant/"
    "core/issues?q=is%3Aopen+is%3Aissue+label%3A%22integration%3A+sensor%22",
)
UNRELATED_COMPONENT = _line(
    "homeassistant.components.met",
    "The 'track_home' option is deprecated, please remove it from your configuration",
)
PYMODBUS_LOGGER = _line(
    "pymodbus.logging",
    "Parameter slave is deprecated, please use device_id",
)
# Lines of every start that are not deprecations.
NOISE = (
    _line("homeassistant.bootstrap", "Skipping pip installation of required modules."),
    _line(
        "homeassistant.loader",
        "We found a custom integration ems which has not been tested by Home Assistant. This "
        "component might cause stability problems, be sure to disable it if you experience "
        "issues with Home Assistant",
        thread="SyncWorker_0",
    ),
    _line(
        "aiohttp_fast_zlib",
        "zlib_ng and isal are not available, falling back to zlib, performance will be degraded.",
    ),
    _line("custom_components.ems.controller", "Battery: could not release: timed out"),
)


def _concerns(text: str) -> list[str]:
    return [finding.concerns for finding in logscan.deprecations(text)]


@pytest.mark.parametrize(
    ("text", "concerns"),
    [
        pytest.param(FRAME_EMS, ["ems"], id="frame_ems"),
        pytest.param(FRAME_OTHER, [], id="frame_other"),
        pytest.param(FORWARD_SETUP, ["ems"], id="forward_setup"),
        pytest.param(DEPRECATED_ALIAS, ["ems"], id="deprecated_alias"),
        pytest.param(DEPRECATED_ALIAS_OTHER, [], id="deprecated_alias_other"),
        pytest.param(CODE_WITH_EMS_STACK, ["ems"], id="code_with_ems_stack"),
        pytest.param(CODE_WITHOUT_EMS, [], id="code_without_ems"),
        pytest.param(PY_WARNING_EMS, ["ems"], id="py_warning_ems"),
        pytest.param(PY_WARNING_THIRD_PARTY, [], id="py_warning_third_party"),
        pytest.param(PY_WARNING_PYMODBUS, ["pymodbus"], id="py_warning_pymodbus"),
        pytest.param(STDERR_WARNING, ["ems"], id="stderr_warning"),
        pytest.param(BLOCKING_CALL, ["ems"], id="blocking_call"),
        # DEBUG: Home Assistant logs the repeat of a reported blocking call at debug level
        pytest.param(BLOCKING_CALL_REPEAT, [], id="blocking_call_repeat"),
        pytest.param(NUMBER_FEATURES, ["ems"], id="number_features"),
        # not worded as a deprecation, but Home Assistant blames ems for it
        pytest.param(SENSOR_MISUSE, ["ems"], id="sensor_misuse"),
        pytest.param(CONFIG_OPTION, ["ems"], id="config_option"),
        pytest.param(CALENDAR_OWN, ["calendar"], id="calendar_own"),  # a component ems loads
        pytest.param(CORE_SENSOR_FRAME, ["sensor"], id="core_sensor_frame"),
        pytest.param(UNRELATED_COMPONENT, [], id="unrelated_component"),
        pytest.param(PYMODBUS_LOGGER, ["pymodbus"], id="pymodbus_logger"),
        *(pytest.param(line, [], id=f"noise{i}") for i, line in enumerate(NOISE)),
    ],
)
def test_scanner_finds_what_concerns_ems(text: str, concerns: list[str]) -> None:
    """Each sample line is reported when, and only when, it concerns ems or what it loads."""
    assert _concerns(text) == concerns


def test_a_whole_log_gives_each_message_once_with_its_stack_evidence() -> None:
    """Records are split at time stamps; a repeated message is counted, not listed twice."""
    log = "\n".join(
        (*NOISE, CODE_WITH_EMS_STACK, FRAME_OTHER, FRAME_EMS, NOISE[0], FRAME_EMS, STDERR_WARNING)
    )
    findings = logscan.deprecations(log)
    assert [(f.concerns, f.count) for f in findings] == [("ems", 1), ("ems", 2), ("ems", 1)]
    stack = findings[0]
    assert stack.evidence == (
        '  File "/config/custom_components/ems/entity_source.py", line 61, in __init__',
    )
    assert "custom_components/ems/entity_source.py" in str(stack)
    assert str(findings[1]).startswith("[ems] (x2) 2025-08-04 10:15:02.123 WARNING")


def test_the_component_list_follows_the_source() -> None:
    """EMS_COMPONENTS is what ems's modules, imports and manifest say it loads."""
    import homeassistant.components

    ha_components = Path(homeassistant.components.__file__).parent
    derived = logscan.ems_components(ROOT / "custom_components" / "ems", ha_components)
    assert derived == logscan.EMS_COMPONENTS


def test_files_of_a_work_dir_are_scanned_together(tmp_path: Path) -> None:
    """The log, the log before a restart and the console; duplicates across files once."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "home-assistant.log").write_text("\n".join((*NOISE, FRAME_EMS)) + "\n")
    (config / "home-assistant.log.1").write_text(PY_WARNING_EMS + "\n")
    (tmp_path / "hass.console.log").write_text("\n".join((FRAME_EMS, STDERR_WARNING)) + "\n")
    (config / "home-assistant.log.fault").write_text("Fatal Python error: faulthandler\n")
    files = logscan.log_files(tmp_path)
    assert [p.name for p in files] == [
        "home-assistant.log",
        "home-assistant.log.1",
        "hass.console.log",
    ]
    assert len(logscan.scan_files(files)) == 3
    with pytest.raises(AssertionError, match=r"3 deprecation warning\(s\)"):
        logscan.check_session(tmp_path)
    (config / "home-assistant.log").write_text("\n".join(NOISE) + "\n")
    (config / "home-assistant.log.1").unlink()
    (tmp_path / "hass.console.log").unlink()
    logscan.check_session(tmp_path)  # nothing to report


# --------------------------------------------------------------------------------------------
# A real Home Assistant


@pytest.fixture(scope="module", autouse=True)
def _python_deprecations_shown() -> Iterator[None]:
    """Processes started by this module show DeprecationWarning (Python hides it by default).

    Home Assistant logs Python's warnings through ``py.warnings`` once they are shown. The
    variable is set before the module's ``site`` starts (autouse: first of the module's
    fixtures) and restored after the module.
    """
    with pytest.MonkeyPatch.context() as patch:
        shown = "default::DeprecationWarning,default::PendingDeprecationWarning"
        current = os.environ.get("PYTHONWARNINGS")
        patch.setenv("PYTHONWARNINGS", f"{current},{shown}" if current else shown)
        yield


def _use_what_ems_offers(site: Site) -> None:
    """Setup, polling, a plan, a mode change, diagnostics, options flow, Assist, a reload."""
    api = site.api
    numeric, _total = demo.wait_for_sensors(site.demo, 90)
    assert numeric > 0
    demo.wait_for_plan(site.demo, 240, after=site.addon_started)  # get_problem → set_plan
    demo.set_mode(api, "self_consumption", site.demo.procs)
    demo.set_mode(api, "auto", site.demo.procs)
    entry_id = site.demo.entry_id
    diagnostics = api.get(f"/api/diagnostics/config_entry/{entry_id}", "diagnostics")
    assert diagnostics["data"], diagnostics
    step = "options flow: open and close"
    flow = api.post("/api/config/config_entries/options/flow", step, {"handler": entry_id})
    assert flow.get("type") == "form", flow
    api.call("DELETE", f"/api/config/config_entries/options/flow/{flow['flow_id']}", step)
    demo.check_voice(site.demo)  # ems's intent platform, through Assist
    api.post(f"/api/config/config_entries/entry/{entry_id}/reload", "reload the site entry")
    site.wait(
        lambda: demo.entry_state(api, entry_id, "entry state") == "loaded",
        60,
        "the site entry is loaded again",
    )
    demo.wait_for_sensors(site.demo, 90)
    demo.set_mode(api, "auto", site.demo.procs)
    site.wait(lambda: site.value(E["site_state"]) == "running", 60, "the site runs again")
    time.sleep(SETTLE_S)  # a few control ticks and polls after the reload, then read the logs


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_no_deprecation_in_a_hass_session(site: Site) -> None:
    """A Home Assistant running ems (and the add-on) logs no deprecation about ems."""
    _use_what_ems_offers(site)
    findings = logscan.scan_files(logscan.log_files(site.demo.work))
    assert not findings, logscan.report(findings, str(site.demo.work))


@pytest.mark.e2e
def test_earlier_sessions_logged_no_deprecation(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The Home Assistant sessions that ran before in this pytest run logged none either."""
    base = tmp_path_factory.getbasetemp()
    works = sorted({log.parent.parent for log in base.glob("**/config/home-assistant.log")})
    if not works:
        pytest.skip("no other Home Assistant session ran before in this pytest run")
    findings = logscan.scan_files(path for work in works for path in logscan.log_files(work))
    assert not findings, logscan.report(findings, ", ".join(map(str, works)))
