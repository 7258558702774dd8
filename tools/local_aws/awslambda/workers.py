"""Execution environments: one worker process per concurrent invocation, kept warm between them.

A worker runs awslambda/bootstrap.py on the function's runtime, with the function's code
unpacked as its task root. It handles one invocation at a time. An idle worker whose
function has not changed serves the next invocation (warm); otherwise a new one starts and
pays the cold start once. A worker that times out or whose process dies is thrown away.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import select
import shutil
import signal
import subprocess
import threading
import time
import uuid
import zipfile
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.local_aws import loopback
from tools.local_aws.awslambda.bootstrap import LOG_MARKER

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
LOOPBACK = Path(loopback.__file__)
MARKER_WAIT_SECONDS = 2.0
IDLE_WORKER_SECONDS = 600.0  # Lambda keeps an idle execution environment for minutes, not hours


@dataclass(frozen=True)
class FunctionImage:
    """Everything that shapes a worker; a change (new code or configuration) means new workers."""

    function_name: str
    function_arn: str
    python: Path
    code_dir: Path
    handler: str
    timeout_seconds: float
    memory_mb: int
    environment: tuple[tuple[str, str], ...]
    log_group: str


class WorkerTimedOut(Exception):
    """The invocation ran past the function's timeout; the worker was killed."""


class WorkerDied(Exception):
    """The worker process ended without answering."""


@dataclass
class Outcome:
    """What one invocation produced inside a worker."""

    response: dict[str, Any]
    log_lines: list[str]
    duration_ms: float
    init_ms: float | None
    max_memory_mb: int


def unpack_code(code: bytes, functions_dir: Path, function_name: str) -> Path:
    """The function's zip unpacked once per code version under functions_dir (shared by its workers)."""
    digest = hashlib.sha256(code).hexdigest()[:16]
    target = functions_dir / function_name / digest
    if (target / ".unpacked").exists():
        return target
    staging = target.with_name(f"{digest}.{uuid.uuid4().hex[:8]}")
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        archive.extractall(staging)
    (staging / ".unpacked").touch()
    try:
        staging.rename(target)
    except OSError:  # another thread unpacked the same code first
        shutil.rmtree(staging, ignore_errors=True)
    return target


class Worker:
    """One execution environment: a bootstrap process, its log reader and its log stream."""

    def __init__(self, image: FunctionImage, base_environment: Mapping[str, str]) -> None:
        self.image = image
        self.id = uuid.uuid4().hex
        self.log_stream = time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + self.id
        self.last_used = time.monotonic()
        self._log: deque[str | None] = deque()  # None: the end of the stream
        self._log_cond = threading.Condition()
        environment = {
            **dict(image.environment),
            **base_environment,
            "LAMBDA_TASK_ROOT": str(image.code_dir),
            "_HANDLER": image.handler,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
        }
        self.process = subprocess.Popen(
            [str(image.python), "-I", str(BOOTSTRAP), str(LOOPBACK)],
            cwd=image.code_dir,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        threading.Thread(target=self._read_log, name=f"lambda-log-{self.id[:8]}", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            with self._log_cond:
                self._log.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._log_cond.notify_all()
        with self._log_cond:
            self._log.append(None)  # end of the stream
            self._log_cond.notify_all()

    def _take_log_until(self, marker: str | None, seconds: float) -> list[str]:
        """Log lines written so far, up to `marker` (waiting up to `seconds` for it)."""
        lines: list[str] = []
        deadline = time.monotonic() + seconds
        with self._log_cond:
            while True:
                while self._log:
                    line = self._log.popleft()
                    if line is None:
                        self._log.appendleft(None)
                        return lines
                    if marker is not None and line == marker:
                        return lines
                    lines.append(line)
                remaining = deadline - time.monotonic()
                if marker is None or remaining <= 0:
                    return lines
                self._log_cond.wait(remaining)

    def _max_memory_mb(self) -> int:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return max(1, int(line.split()[1]) // 1024)
        except OSError:
            pass
        return 0

    def invoke(self, request_id: str, event: str, timeout_seconds: float) -> Outcome:
        """Run one invocation; raises WorkerTimedOut or WorkerDied (the worker is then unusable)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        started = time.monotonic()
        request = {
            "requestId": request_id,
            "event": event,
            "invokedFunctionArn": self.image.function_arn,
            "deadlineMs": (time.time() + timeout_seconds) * 1000,
        }
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise WorkerDied(str(error)) from None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_seconds)
        if not ready:
            self.kill()
            raise WorkerTimedOut(self._take_log_until(None, 0))
        line = self.process.stdout.readline()
        duration_ms = (time.monotonic() - started) * 1000
        if not line:
            self.kill()
            raise WorkerDied("\n".join(self._take_log_until(None, MARKER_WAIT_SECONDS)))
        response = json.loads(line)
        log_lines = self._take_log_until(f"{LOG_MARKER}{request_id}", MARKER_WAIT_SECONDS)
        self.last_used = time.monotonic()
        return Outcome(
            response=response,
            log_lines=log_lines,
            duration_ms=duration_ms,
            init_ms=response.get("initMs"),
            max_memory_mb=self._max_memory_mb(),
        )

    def kill(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class Throttled(Exception):
    """Every execution environment the function may have is busy."""


@dataclass
class FunctionPool:
    """The warm workers of one function and how many invocations run right now."""

    idle: list[Worker] = field(default_factory=list)
    busy: int = 0


class WorkerPools:
    """Hands out a warm worker of the function's current image, or starts one."""

    def __init__(self, base_environment: Mapping[str, str]) -> None:
        self._base_environment = dict(base_environment)
        self._pools: dict[str, FunctionPool] = {}
        self._started: set[Worker] = set()  # every worker not yet killed, idle or busy
        self._lock = threading.Lock()

    def acquire(self, image: FunctionImage, limit: int | None) -> tuple[Worker, bool]:
        """(worker, cold) for image; raises Throttled when `limit` invocations already run."""
        with self._lock:
            pool = self._pools.setdefault(image.function_arn, FunctionPool())
            if limit is not None and pool.busy >= limit:
                raise Throttled(image.function_name)
            stale = [worker for worker in pool.idle if worker.image != image or not worker.alive()]
            pool.idle = [worker for worker in pool.idle if worker not in stale]
            worker = pool.idle.pop() if pool.idle else None
            pool.busy += 1
        for old in stale:
            self._kill(old)
        if worker is not None:
            return worker, False
        try:
            worker = Worker(image, self._base_environment)
        except Exception:
            with self._lock:
                pool.busy -= 1
            raise
        with self._lock:
            self._started.add(worker)
        return worker, True

    def _kill(self, worker: Worker) -> None:
        worker.kill()
        with self._lock:
            self._started.discard(worker)

    def release(self, worker: Worker, reusable: bool) -> None:
        with self._lock:
            pool = self._pools[worker.image.function_arn]
            pool.busy -= 1
            if reusable and worker.alive():
                pool.idle.append(worker)
                return
        self._kill(worker)

    def reap_idle(self, older_than: float = IDLE_WORKER_SECONDS) -> int:
        """Stop workers idle for longer than `older_than` seconds; returns how many."""
        now = time.monotonic()
        with self._lock:
            expired = [w for pool in self._pools.values() for w in pool.idle if now - w.last_used > older_than]
            for pool in self._pools.values():
                pool.idle = [w for w in pool.idle if w not in expired]
        for worker in expired:
            self._kill(worker)
        return len(expired)

    def stop_all(self) -> None:
        """Kill every worker, busy ones included (the emulator is stopping)."""
        with self._lock:
            workers = list(self._started)
            for pool in self._pools.values():
                pool.idle = []
        for worker in workers:
            self._kill(worker)

    def describe(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                arn: {"idle": len(pool.idle), "busy": pool.busy, "idle_pids": [w.pid for w in pool.idle]}
                for arn, pool in self._pools.items()
            }
