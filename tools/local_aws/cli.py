"""Launcher and CLI of the local AWS emulator.

    python -m tools.local_aws start  [--port 4566] [--pidfile build/moto.pid] [--log build/moto.log]
                                     [--idle-timeout 3600]
    python -m tools.local_aws stop   [--pidfile build/moto.pid]
    python -m tools.local_aws status [--port 4566] [--pidfile build/moto.pid]
    python -m tools.local_aws serve  [--port 4566] [--idle-timeout 3600] [--pidfile FILE]

`start` launches `serve` as a detached process, waits until it answers HTTP and
writes the pidfile; `serve` runs in the foreground and stops itself after
`--idle-timeout` seconds without a request. moto 5.2.5 has gaps that break
`terraform apply` or leave perpetual diffs for our stack; `serve` patches them at
runtime, after checking that moto is exactly the pinned version and that every
internal it patches is where expected. It refuses to start otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.local_aws import process
from tools.local_aws.common import EmulatorError

DEFAULT_PORT = 4566
DEFAULT_IDLE_TIMEOUT = 3600


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.local_aws", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "stop", "status", "serve"):
        command = commands.add_parser(name)
        if name != "stop":
            command.add_argument("--port", type=int, default=DEFAULT_PORT)
        if name in ("start", "serve"):
            command.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT,
                                 help="seconds without a request before the server stops itself")
        default_pidfile = None if name == "serve" else Path("build/moto.pid")
        command.add_argument("--pidfile", type=Path, default=default_pidfile)
        if name == "start":
            command.add_argument("--log", type=Path, default=Path("build/moto.log"))
    return parser


def _serve_options(args: argparse.Namespace) -> list[str]:
    """What `start` passes on to the `serve` it launches."""
    return ["--idle-timeout", str(args.idle_timeout)]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "start":
            process.start(args.port, args.pidfile, args.log, _serve_options(args))
        elif args.command == "stop":
            process.stop(args.pidfile)
        elif args.command == "status":
            return process.status(args.port, args.pidfile)
        else:
            from tools.local_aws.server import serve  # imports moto: only the server pays for it

            serve(args.port, args.idle_timeout, args.pidfile)
    except EmulatorError as error:
        print(error, file=sys.stderr)
        return 2
    return 0
