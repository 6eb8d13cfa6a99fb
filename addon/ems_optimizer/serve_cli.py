"""The `serve` subcommand of `ems-optimizer` (the add-on's entry point).

The service itself (pandas, requests) is imported when the command runs, not when the parser
is built.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import logging
import os
from pathlib import Path
import signal
import sys
from typing import Any

from .settings import (
    LOG_LEVELS,
    OBJECTIVE_CHOICES,
    STEP_CHOICES,
    TOKEN_ENV,
    Settings,
    SettingsError,
    default_options_file,
    read_options,
    runs_dir,
    settings_from,
)

EXIT_BAD_SETTINGS = 2

# flag dest → setting name (the flags override the options file)
_FLAG_SETTINGS = (
    "ha_url",
    "token",
    "community_wait_s",
    "config_entry_id",
    "objective",
    "step_minutes",
    "horizon_hours",
    "loop_minutes",
    "poll_seconds",
    "solver_time_limit_s",
    "replan_threshold_cents",
    "history_days",
    "keep_runs",
    "fallback_load_w",
    "log_level",
    "runs_dir",
)


def read_token_file(path: str | Path) -> str:
    """The access token stored in a file (first line, spaces stripped), never logged."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise SettingsError(f"--token-file {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"--token-file {path}: not a text file") from None
    lines = text.strip().splitlines()
    token = lines[0].strip() if lines else ""
    if not token:
        raise SettingsError(f"--token-file {path}: the file is empty")
    return token


def token_warnings(args: argparse.Namespace) -> list[str]:
    """Warnings about how the token was given: on the command line, or in a readable file."""
    warnings = []
    if getattr(args, "token", None):
        warnings.append(
            "--token puts the access token on the command line, where `ps` and the shell "
            f"history show it: prefer ${TOKEN_ENV} or --token-file"
        )
    token_file = getattr(args, "token_file", None)
    if token_file and os.name == "posix" and Path(token_file).stat().st_mode & 0o077:
        warnings.append(
            f"--token-file {token_file} can be read by other users: chmod 600 {token_file}"
        )
    return warnings


def load_settings(args: argparse.Namespace) -> tuple[Settings, Path | None]:
    """Defaults ← options file (--options, else /data/options.json if present) ← flags."""
    options_file = Path(args.options) if args.options else default_options_file()
    settings = Settings()
    if options_file is not None:
        settings = settings_from(settings, read_options(options_file), source=str(options_file))
    flags = {name: getattr(args, name) for name in _FLAG_SETTINGS}
    if args.token_file:
        flags["token"] = read_token_file(args.token_file)
    if args.community:
        flags.update(_community_credentials(args.community))
    settings = settings_from(settings, flags, source="command line")
    return settings, options_file


def _community_credentials(path: str) -> dict[str, str]:
    """The community settings from a credentials file (`ems-optimizer community setup`)."""
    from .community.mqtt import Account, LinkError  # noqa: PLC0415

    try:
        account = Account.from_file(path)
    except LinkError as err:
        raise SettingsError(str(err)) from None
    return {
        "community_broker": account.broker,
        "community_name": account.community,
        "community_member": account.username,
        "community_password": account.password,
    }


class _StderrHandler(logging.StreamHandler):
    """A stream handler that writes to whatever sys.stderr is when a record is emitted."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:  # type: ignore[override]
        """The current sys.stderr."""
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        del value


def configure_logging(level: int) -> Callable[[], None]:
    """One line per record of the package on stderr (the add-on log); returns the undo."""
    handler = _StderrHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    package = logging.getLogger("ems_optimizer")
    before = package.level
    package.setLevel(level)
    package.addHandler(handler)

    def undo() -> None:
        package.removeHandler(handler)
        package.setLevel(before)

    return undo


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the planning loop (or one round with --once)."""
    try:
        settings, options_file = load_settings(args)
    except SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    undo_logging = configure_logging(settings.level)
    for warning in token_warnings(args):
        logging.getLogger("ems_optimizer.serve").warning("%s", warning)
    try:
        return _serve(args, settings, options_file)
    finally:
        undo_logging()


def _serve(args: argparse.Namespace, settings: Settings, options_file: Path | None) -> int:
    """Connect, then loop (or run one round)."""
    from .ha_client import ConnectionSettingsError, HAClient, resolve_connection  # noqa: PLC0415
    from .runs import RunStore  # noqa: PLC0415
    from .serve import Service  # noqa: PLC0415

    try:
        connection = resolve_connection(settings.ha_url, settings.token)
    except ConnectionSettingsError as err:
        logging.getLogger("ems_optimizer.serve").error("%s", err)
        return EXIT_BAD_SETTINGS
    store = RunStore(runs_dir(settings, options_file), settings.keep_runs)
    client = HAClient(connection)
    community = _community(settings)
    service = Service(settings, client, store, community=community)

    def stop(signum: int, frame: Any) -> None:
        del frame
        logging.getLogger("ems_optimizer.serve").info("signal %d: stopping", signum)
        service.stop()

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[sig] = signal.signal(sig, stop)
        except ValueError:  # not the main thread: the caller stops us
            break
    try:
        return service.once() if args.once else service.loop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        client.close()
        if community is not None:
            community.stop()


def _community(settings: Settings) -> Any:
    """The home's link to its community, connecting in the background (None: no community)."""
    if not settings.in_community:
        return None
    from .community.member import CommunityLink  # noqa: PLC0415
    from .community.mqtt import Account  # noqa: PLC0415

    account = Account(
        settings.community_broker,
        settings.community_name,
        settings.community_member,
        settings.community_password,
    )
    link = CommunityLink(account, settings.community_wait_s)
    if not link.start():
        logging.getLogger("ems_optimizer.serve").warning(
            "not connected to the community's broker %s yet: planning alone until it answers",
            settings.community_broker,
        )
    return link


def register(subparsers: Any) -> None:
    """Add `serve` to the `ems-optimizer` parser."""
    s = subparsers.add_parser(
        "serve",
        help="the add-on loop: plan every quarter hour and push the plan to Home Assistant",
        description="Pull ems.get_problem, forecast load and PV from HA's history and weather, "
        "solve, push with ems.set_plan; every --loop-minutes (aligned) and at once when the "
        "problem changes. Inside the Supervisor it uses $SUPERVISOR_TOKEN; standalone give "
        "--ha-url and a long-lived access token in $EMS_HA_TOKEN or a --token-file (--token "
        "works but shows the token in `ps` and the shell history). Options come from --options "
        "(default /data/options.json when it exists); flags override them. Exit codes: 0 plan "
        "pushed (--once) or stopped, 1 no plan pushed, 2 bad settings, 3 token refused.",
    )
    s.add_argument("--once", action="store_true", help="one round, then exit (0: plan pushed)")
    s.add_argument("--options", help="options JSON file (default: /data/options.json if present)")
    s.add_argument("--ha-url", dest="ha_url", help="Home Assistant URL, e.g. http://host:8123")
    token = s.add_mutually_exclusive_group()
    token.add_argument(
        "--token-file",
        dest="token_file",
        metavar="PATH",
        help="file holding the long-lived access token (else $EMS_HA_TOKEN)",
    )
    token.add_argument(
        "--token",
        help="the token itself: discouraged, `ps` and the shell history show it",
    )
    s.add_argument("--config-entry-id", dest="config_entry_id", help="the ems site to plan")
    s.add_argument("--runs-dir", dest="runs_dir", help="where runs are stored (default .ems-runs)")
    s.add_argument("--keep-runs", dest="keep_runs", type=int, help="runs kept (default 96)")
    s.add_argument("--objective", choices=OBJECTIVE_CHOICES, help="default auto: HA's")
    s.add_argument("--step-minutes", dest="step_minutes", choices=STEP_CHOICES)
    s.add_argument("--horizon-hours", dest="horizon_hours", type=int, help="0: HA's")
    s.add_argument("--loop-minutes", dest="loop_minutes", type=int, help="default 15")
    s.add_argument("--poll-seconds", dest="poll_seconds", type=int, help="default 30")
    s.add_argument(
        "--time-limit", dest="solver_time_limit_s", type=int, help="solver budget, s (default 30)"
    )
    s.add_argument(
        "--replan-threshold-cents",
        dest="replan_threshold_cents",
        type=int,
        help="a new plan replaces the last one only when it saves more (default 5)",
    )
    s.add_argument("--history-days", dest="history_days", type=int, help="default 10")
    s.add_argument(
        "--fallback-load-w", dest="fallback_load_w", type=int, help="flat load without history"
    )
    s.add_argument("--log-level", dest="log_level", choices=LOG_LEVELS)
    s.add_argument(
        "--community",
        metavar="CREDENTIALS",
        help="plan with a community: this home's credentials file (community setup)",
    )
    s.add_argument("--community-wait-s", dest="community_wait_s", type=int, help="default 240")
    s.set_defaults(func=cmd_serve)
