"""Short progress lines from Terraform's output, which itself goes whole to a log file.

An apply of the stack prints thousands of lines; a person needs a few: what is being done,
how far it is, the result, warnings by title, and on failure the error itself plus where the
full output is.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

PLAN_LINE = re.compile(r"^Plan: (\d+) to add, (\d+) to change, (\d+) to destroy\.")
DONE_LINE = re.compile(r": (Creation|Modifications|Destruction) complete after ")
REFRESH_LINE = re.compile(r": (Refreshing state|Reading)\.\.\.")
RESULT_LINE = re.compile(r"^(Apply complete!|Destroy complete!|No changes\.)")
DIAGNOSTIC_LINE = re.compile(r"^[│╷\s]*(Warning|Error): (.+?)\s*$")
BOX_PREFIX = re.compile(r"^[│╷╵]\s?")
MAX_ERROR_LINES = 12


def strip_box(line: str) -> str:
    """Terraform draws diagnostics in a box (│ on the left); the text is what matters."""
    return BOX_PREFIX.sub("", line).rstrip()


class TerraformProgress:
    """Feed it every line of one Terraform command; it emits a handful of short lines."""

    def __init__(
        self,
        label: str,
        *,
        emit: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 15.0,
    ) -> None:
        self.label = label
        self.emit = emit
        self.clock = clock
        self.interval = interval
        self.started = clock()
        self.last_report = self.started
        self.total: int | None = None
        self.done = 0
        self.refreshed = 0
        self.result: str | None = None
        self.warnings: list[str] = []
        self.errors: list[list[str]] = []
        self._in_error = False

    def say(self, text: str) -> None:
        self.emit(f"  {self.label}: {text}")
        self.last_report = self.clock()

    def elapsed(self) -> str:
        return f"{self.clock() - self.started:.0f} s"

    def __call__(self, line: str) -> None:
        self._collect_diagnostics(line)
        if self._in_error:
            return
        if (match := PLAN_LINE.match(line)) is not None:
            self.total = sum(int(count) for count in match.groups())
            self.say(line.rstrip("."))
        elif RESULT_LINE.match(line):
            self.result = line.strip()
        elif DONE_LINE.search(line):
            self.done += 1
            if self.clock() - self.last_report >= self.interval:
                of_total = f"/{self.total}" if self.total is not None else ""
                self.say(f"{self.done}{of_total} resources done ({self.elapsed()})")
        elif REFRESH_LINE.search(line):
            self.refreshed += 1
            if self.clock() - self.last_report >= self.interval:
                self.say(f"{self.refreshed} resources read ({self.elapsed()})")

    def _collect_diagnostics(self, line: str) -> None:
        match = DIAGNOSTIC_LINE.match(line)
        if match is not None and match.group(1) == "Warning":
            self.warnings.append(match.group(2))
            self._in_error = False
        elif match is not None:
            self.errors.append([f"Error: {match.group(2)}"])
            self._in_error = True
        elif self._in_error:
            if line.startswith("╵"):
                self._in_error = False
            elif len(self.errors[-1]) < MAX_ERROR_LINES:
                self.errors[-1].append(strip_box(line))

    def finish(self, exit_code: int, log: Path) -> None:
        """The closing lines: result or errors, warnings by title, and where the whole output is."""
        if self.warnings:
            titles = "; ".join(sorted(set(self.warnings)))
            self.say(f"{len(self.warnings)} warning(s): {titles} (details in the log)")
        if exit_code != 0 and self.errors:
            for block in self.errors[:3]:
                for text in block:
                    if text:
                        self.emit(f"    {text}")
        if self.result is not None:
            self.say(f"{self.result} ({self.elapsed()})")
        elif exit_code != 0:
            self.say(f"failed with exit {exit_code} after {self.elapsed()}")
        self.say(f"full output in {display_path(log)}")


def display_path(path: Path) -> str:
    """A path relative to the working directory when it is inside it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
