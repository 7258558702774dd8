"""Launcher and CLI of the local AWS emulator.

    python -m tools.local_aws start  [--port 4566] [--pidfile build/moto.pid] [--log build/moto.log]
                                     [--idle-timeout 3600]
    python -m tools.local_aws stop   [--pidfile build/moto.pid]
    python -m tools.local_aws status [--port 4566] [--pidfile build/moto.pid]
    python -m tools.local_aws serve  [--port 4566] [--idle-timeout 3600] [--pidfile FILE]
    python -m tools.local_aws prepare

`start` and `serve` take `--state-dir DIR` (default: beside the pidfile, `<pidfile>.state`,
or build/local-aws-<port> without one): what the local runtime runs, emptied at each start;
and `--onprem-seed-rows N`: how many legacy payments the on-premises stand-in database of a
DMS source starts with (default: LOCAL_AWS_ONPREM_SEED_ROWS, else the committed seed alone).
`prepare` builds the Lambda runtime environments (python3.12 with its boto3, from PyPI, cached
under build/lambda-runtimes); `start` does it first, so `serve` itself never leaves 127.0.0.1.

`start` launches `serve` as a detached process, waits until it answers HTTP and
writes the pidfile; `serve` runs in the foreground and stops itself after
`--idle-timeout` seconds without a request. moto 5.2.5 has gaps that break
`terraform apply` or leave perpetual diffs for our stack; `serve` patches them at
runtime, after checking that moto is exactly the pinned version and that every
internal it patches is where expected. It refuses to start otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tools.local_aws import process
from tools.local_aws.common import PROJECT_ROOT, EmulatorError

DEFAULT_PORT = 4566
DEFAULT_IDLE_TIMEOUT = 3600
# The launcher is given the seed size in the environment; lib/config.py is to validate it (see the report).
SEED_ROWS_VARIABLE = "LOCAL_AWS_ONPREM_SEED_ROWS"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.local_aws", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare", help="build the Lambda runtime environments (from PyPI), then exit")
    for name in ("start", "stop", "status", "serve"):
        command = commands.add_parser(name)
        if name != "stop":
            command.add_argument("--port", type=int, default=DEFAULT_PORT)
        if name in ("start", "serve"):
            command.add_argument(
                "--idle-timeout",
                type=float,
                default=DEFAULT_IDLE_TIMEOUT,
                help="seconds without a request before the server stops itself",
            )
            command.add_argument(
                "--state-dir",
                type=Path,
                default=None,
                help="where the local runtime keeps what it runs (emptied at start)",
            )
            command.add_argument(
                "--onprem-seed-rows",
                type=_seed_rows,
                default=os.environ.get(SEED_ROWS_VARIABLE, "0"),
                help=f"legacy payments in the on-premises stand-in (default ${SEED_ROWS_VARIABLE}, "
                "else the committed seed)",
            )
        default_pidfile = None if name == "serve" else Path("build/moto.pid")
        command.add_argument("--pidfile", type=Path, default=default_pidfile)
        if name == "start":
            command.add_argument("--log", type=Path, default=Path("build/moto.log"))
    return parser


def _seed_rows(value: str) -> int:
    if not value.isdigit() or int(value) > 10_000_000:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a number of rows from 0 to 10000000 (from --onprem-seed-rows or {SEED_ROWS_VARIABLE})"
        )
    return int(value)


def state_dir(args: argparse.Namespace) -> Path:
    if args.state_dir is not None:
        return args.state_dir.resolve()
    if args.pidfile is not None:
        return args.pidfile.resolve().with_name(args.pidfile.name + ".state")
    return PROJECT_ROOT / "build" / f"local-aws-{args.port}"


def _serve_options(args: argparse.Namespace) -> list[str]:
    """What `start` passes on to the `serve` it launches."""
    return [
        "--idle-timeout",
        str(args.idle_timeout),
        "--state-dir",
        str(state_dir(args)),
        "--onprem-seed-rows",
        str(args.onprem_seed_rows),
    ]


def main(argv: list[str] | None = None) -> int:
    from tools.local_aws.awslambda.environments import prepare_all

    args = _parser().parse_args(argv)
    try:
        if args.command == "prepare":
            prepare_all()
        elif args.command == "start":
            if not process.answers_as_moto(args.port):
                prepare_all()  # from PyPI, before anything serves; `serve` never leaves 127.0.0.1
            process.start(args.port, args.pidfile, args.log, _serve_options(args))
        elif args.command == "stop":
            process.stop(args.pidfile)
        elif args.command == "status":
            return process.status(args.port, args.pidfile)
        else:
            from tools.local_aws.server import serve  # imports moto: only the server pays for it

            serve(args.port, args.idle_timeout, state_dir(args), args.onprem_seed_rows, args.pidfile)
    except EmulatorError as error:
        print(error, file=sys.stderr)
        return 2
    return 0
