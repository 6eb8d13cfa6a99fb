"""`ems-optimizer community …`: the coordinator, and a community's broker files."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
import contextlib
import logging
from pathlib import Path
import signal
import sys
from typing import Any

from .protocol import check_name

EXIT_OK, EXIT_BAD_SETTINGS = 0, 2


def _account(args: argparse.Namespace) -> Any:
    from .mqtt import Account  # noqa: PLC0415

    if args.credentials:
        return Account.from_file(args.credentials)
    if not (args.broker and args.community and args.username):
        raise ValueError("give --credentials FILE, or --broker, --community and --username")
    password = Path(args.password_file).read_text().strip() if args.password_file else ""
    return Account(args.broker, args.community, args.username, password)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the coordinator until SIGTERM/SIGINT."""
    from .coordinator import Coordinator  # noqa: PLC0415

    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        account = _account(args)
        settings = _settings(args)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    with _executor(args) as executor:
        coordinator = Coordinator(account, settings, executor=executor)

        def stop(signum: int, frame: Any) -> None:
            del signum, frame
            coordinator.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        return coordinator.serve()


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _settings(args: argparse.Namespace) -> Any:
    from .coordinator import CoordinatorSettings  # noqa: PLC0415

    return CoordinatorSettings(
        objective=args.objective,
        collect_s=args.collect_s,
        workers=args.workers,
        budget_s=args.budget_s,
        deadline_s=args.deadline_s,
        min_gap_s=args.min_gap_s,
        members=tuple(check_name(m, "member") for m in _names(args.members)),
        discovery=args.discovery,
        language=args.language,
    )


@contextlib.contextmanager
def _executor(args: argparse.Namespace) -> Iterator[Executor]:
    """Local worker processes, or a Dask cluster's executor (`--dask`)."""
    if not args.dask:
        with ProcessPoolExecutor(args.workers) as pool:
            yield pool
        return
    try:
        from distributed import Client  # noqa: PLC0415
    except ImportError:
        raise SystemExit("error: --dask needs Dask: pip install 'ems-optimizer[dask]'") from None
    with Client(args.dask) as client:
        yield client.get_executor()


def cmd_setup(args: argparse.Namespace) -> int:
    """Write a community's mosquitto files and credentials."""
    from .broker import BrokerError, setup_community  # noqa: PLC0415

    members = _names(args.members)
    try:
        check_name(args.community, "community")
        setup = setup_community(Path(args.out), args.community, members, args.port)
    except (ValueError, BrokerError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    print(f"wrote {setup.folder}/mosquitto.conf, passwd, acl and credentials/ for "
          f"{len(members)} members, the coordinator and the viewer")  # fmt: skip
    print(f"start the broker:  mosquitto -c {setup.folder}/mosquitto.conf")
    return EXIT_OK


def cmd_members(args: argparse.Namespace) -> int:
    """Simulated neighbours until SIGTERM/SIGINT."""
    from .neighbours import Neighbours  # noqa: PLC0415

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    names = _names(args.members)
    try:
        runner = Neighbours(Path(args.credentials_dir), names, Path(args.data), args.wait_s)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_SETTINGS

    def stop(signum: int, frame: Any) -> None:
        del signum, frame
        runner.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    return runner.run()


def register(subparsers: Any) -> None:
    """Add `community serve` and `community setup`."""
    community = subparsers.add_parser(
        "community", help="neighbours plan together over MQTT (coordinator, broker files)"
    )
    commands = community.add_subparsers(dest="community_command", required=True)
    serve = commands.add_parser(
        "serve",
        help="the community's coordinator: collect problems, solve rounds, send plans",
        description="Collects each member's problem from ems/<community>/<member>/problem, "
        "solves the community (every quarter hour, and when a problem changes) and sends each "
        "member its plan; the summary goes to ems/<community>/summary.",
    )
    serve.add_argument("--credentials", help="a credentials JSON file (community setup)")
    serve.add_argument("--broker", help="mqtt://host:port or mqtts://host:port")
    serve.add_argument("--community", help="the community's name")
    serve.add_argument("--username", help="the coordinator's user name on the broker")
    serve.add_argument("--password-file", dest="password_file", help="a file with the password")
    serve.add_argument("--objective", choices=("import", "cost"), default="import")
    serve.add_argument("--collect-s", dest="collect_s", type=float, default=30.0)
    serve.add_argument("--workers", type=int, default=2, help="processes solving members")
    serve.add_argument("--budget-s", dest="budget_s", type=float, default=45.0,
                       help="later passes of a round stop here (default 45)")  # fmt: skip
    serve.add_argument("--deadline-s", dest="deadline_s", type=float, default=150.0,
                       help="members not reached by then plan alone (default 150)")  # fmt: skip
    serve.add_argument("--min-gap-s", dest="min_gap_s", type=float, default=30.0,
                       help="least time between two rounds' starts (default 30)")  # fmt: skip
    serve.add_argument("--members", default="",
                       help="members to show in the community view from the start, comma "
                       "separated (others appear with their first problem)")  # fmt: skip
    serve.add_argument("--dask", metavar="ADDRESS",
                       help="solve members on a Dask cluster (its scheduler's address, e.g. "
                       "tcp://host:8786) instead of local processes")  # fmt: skip
    serve.add_argument("--language", choices=("en", "fr"), default="en",
                       help="of the community view's entity names (MQTT discovery)")  # fmt: skip
    serve.add_argument("--no-discovery", dest="discovery", action="store_false",
                       help="publish no MQTT discovery configs")  # fmt: skip
    serve.add_argument("--log-level", dest="log_level", default="info",
                       choices=("debug", "info", "warning", "error"))  # fmt: skip
    serve.set_defaults(func=cmd_serve)
    setup = commands.add_parser(
        "setup", help="write mosquitto.conf, passwd, acl and one credentials file per account"
    )
    setup.add_argument("--community", required=True)
    setup.add_argument("--members", required=True, help="member names, comma separated")
    setup.add_argument("--out", required=True, help="the folder to write")
    setup.add_argument("--port", type=int, default=1883)
    setup.set_defaults(func=cmd_setup)
    members = commands.add_parser(
        "members",
        help="simulated neighbours: synthetic homes that send their problems every quarter",
    )
    members.add_argument("--credentials-dir", required=True, help="community setup's credentials/")
    members.add_argument("--members", required=True, help="member names, comma separated")
    members.add_argument("--data", required=True, help="the shared data folder")
    members.add_argument("--wait-s", dest="wait_s", type=float, default=120.0)
    members.set_defaults(func=cmd_members)
