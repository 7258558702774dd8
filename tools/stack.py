"""Synthesizes and drives the stack for the Makefile: `python -m tools.stack <command>`.

Commands: synth, validate. Settings come from environment variables (lib/config.py);
a bad value ends the command with one line naming it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lib.config import ConfigError, Settings, load_settings
from tools import terraform

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def stack_dir(settings: Settings) -> Path:
    return PROJECT_ROOT / "cdktf.out" / "stacks" / settings.stack_name


def synth(settings: Settings) -> Path:
    result = subprocess.run([sys.executable, "main.py"], cwd=PROJECT_ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(result.returncode)
    print(f"synthesized {stack_dir(settings).relative_to(PROJECT_ROOT)}/cdk.tf.json")
    return stack_dir(settings)


def terraform_or_exit(folder: Path, args: list[str]) -> None:
    result = terraform.run(folder, args)
    if result.returncode != 0:
        raise SystemExit(f"error: terraform {args[0]} failed (exit {result.returncode})")


def validate(settings: Settings) -> None:
    folder = synth(settings)
    terraform_or_exit(folder, ["init", "-backend=false", "-input=false", "-no-color"])
    terraform_or_exit(folder, ["validate", "-no-color"])


COMMANDS = {"synth": synth, "validate": validate}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print(f"usage: python -m tools.stack {{{','.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    COMMANDS[argv[0]](settings)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
