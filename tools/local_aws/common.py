"""What every part of the emulator shares: its error type, its credentials, patch wrapping."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.local_aws.loopback import HOST

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Dummy credentials for the emulator; they never leave this machine.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "",
    "AWS_PROFILE": "",
}


class EmulatorError(RuntimeError):
    """A problem the user must act on; its message is printed as is."""


def endpoint(port: int) -> str:
    return f"http://{HOST}:{port}"


def wrap(owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace owner.name by make(original)."""
    setattr(owner, name, make(getattr(owner, name)))
