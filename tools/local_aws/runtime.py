"""The local runtime behind the emulator's APIs while `serve` runs: what executes, not what is described.

Patches reach it with `current()` when moto calls them (an invoke, a publish); `serve`
starts it before the first request and stops it (workers, timers) when it stops.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tools.local_aws.awslambda.invocations import LambdaService
from tools.local_aws.common import EmulatorError, endpoint
from tools.local_aws.events import ScheduleRunner


@dataclass
class LocalRuntime:
    port: int
    state_dir: Path
    lambdas: LambdaService
    schedules: ScheduleRunner

    def describe(self) -> dict[str, object]:
        return {"port": self.port, "state_dir": str(self.state_dir), "lambda": self.lambdas.describe(),
                "schedules": self.schedules.describe()}

    def stop(self) -> None:
        self.schedules.stop()
        self.lambdas.stop()


_current: LocalRuntime | None = None


def current() -> LocalRuntime:
    if _current is None:
        raise EmulatorError("the local runtime is not running (only `serve` starts it)")
    return _current


def start_runtime(port: int, state_dir: Path) -> LocalRuntime:
    global _current
    shutil.rmtree(state_dir, ignore_errors=True)  # moto keeps nothing across restarts, neither does this
    state_dir.mkdir(parents=True)
    lambdas = LambdaService(endpoint_url=endpoint(port), functions_dir=state_dir / "functions")
    _current = LocalRuntime(port=port, state_dir=state_dir, lambdas=lambdas, schedules=ScheduleRunner(lambdas))
    return _current


def stop_runtime() -> None:
    global _current
    if _current is not None:
        _current.stop()
        shutil.rmtree(_current.state_dir, ignore_errors=True)
        _current = None
