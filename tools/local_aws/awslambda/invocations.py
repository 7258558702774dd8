"""Invocations: synchronous and asynchronous, as Lambda runs them.

Synchronous (RequestResponse) invocations run on a worker and return the handler's result,
or an error document with FunctionError "Unhandled". Asynchronous (Event) invocations are
queued; a failure is retried as Lambda does (twice unless MaximumRetryAttempts says less,
one and then two minutes apart; the delays can be shortened), then sent to the function's
dead-letter target with RequestID, ErrorCode and ErrorMessage attributes. Every invocation
writes START/END/REPORT and the function's output to its log group, one log stream per worker.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools.local_aws.awslambda import environments
from tools.local_aws.awslambda.workers import (
    FunctionImage,
    Outcome,
    Throttled,
    Worker,
    WorkerDied,
    WorkerPools,
    WorkerTimedOut,
    unpack_code,
)
from tools.local_aws.common import EMULATOR_CREDENTIALS, EmulatorError

# Functions' own AWS calls carry this in their user agent (app/...): they are not a user's activity.
WORKER_APP_ID = "local-aws-lambda"
# https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html: two retries,
# one minute before the first and two minutes between the first and the second.
LAMBDA_RETRY_DELAYS = (60.0, 120.0)
THROTTLE_RETRY_SECONDS = 1.0
ASYNC_DISPATCHERS = 4
LOG_TAIL_BYTES = 4096
KEPT_RECORDS = 10_000


@dataclass
class InvocationResult:
    request_id: str
    payload: bytes
    function_error: str | None
    log_lines: list[str]

    def log_tail(self) -> str:
        return "\n".join(self.log_lines).encode()[-LOG_TAIL_BYTES:].decode("utf-8", "replace")


@dataclass
class AsyncInvocation:
    """An Event invocation and what became of it (readable through the control endpoint)."""

    request_id: str
    account_id: str
    region: str
    function_arn: str
    event: str
    status: str = "queued"  # queued, running, retrying, succeeded, failed, dead-lettered, dropped
    attempts: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    dead_letter_target: str | None = None

    def describe(self) -> dict[str, Any]:
        described = asdict(self)
        described.pop("event")
        return described


def function_image(function: Any, functions_dir: Path) -> FunctionImage:
    """What a worker of this moto LambdaFunction runs; refuses runtimes that cannot run locally."""
    runtime = environments.runtime_for(function.run_time)
    if not environments.is_prepared(runtime):
        raise EmulatorError(
            f"the {runtime.identifier} Lambda runtime is not prepared: run "
            "`python -m tools.local_aws prepare` (the launcher's `start` does it)"
        )
    reserved = {
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": function.logs_group_name,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime.identifier}",
    }
    environment = {**(function.environment_vars or {}), **reserved}
    return FunctionImage(
        function_name=function.function_name,
        function_arn=function.function_arn,
        python=runtime.python,
        code_dir=unpack_code(function.code_bytes, functions_dir, function.function_name),
        handler=function.handler,
        timeout_seconds=float(function.timeout),
        memory_mb=int(function.memory_size),
        environment=tuple(sorted(environment.items())),
        log_group=function.logs_group_name,
    )


def _error_result(request_id: str, error: dict[str, Any], log_lines: list[str]) -> InvocationResult:
    return InvocationResult(request_id, json.dumps(error).encode(), "Unhandled", log_lines)


class LambdaService:
    """Runs the emulator's Lambda functions: warm workers, async queue, retries, dead letters, logs."""

    def __init__(self, *, endpoint_url: str, functions_dir: Path) -> None:
        base = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_SDK_UA_APP_ID": WORKER_APP_ID,
            **{k: v for k, v in EMULATOR_CREDENTIALS.items() if v},
        }
        self.pools = WorkerPools(base)
        self.functions_dir = functions_dir
        self.retry_delays: tuple[float, ...] = LAMBDA_RETRY_DELAYS
        self._records: dict[str, AsyncInvocation] = {}
        self._records_lock = threading.Lock()
        self._queue: queue.Queue[AsyncInvocation | None] = queue.Queue()
        self._log_streams: set[tuple[str, str]] = set()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._dispatch, name=f"lambda-async-{i}", daemon=True)
            for i in range(ASYNC_DISPATCHERS)
        ]
        self._threads.append(threading.Thread(target=self._reap, name="lambda-reaper", daemon=True))
        for thread in self._threads:
            thread.start()

    # ----------------------------------------------------------------- synchronous

    def invoke(self, function: Any, event: str, request_id: str | None = None) -> InvocationResult:
        """Run one invocation now; raises UnsupportedRuntime, EmulatorError or Throttled."""
        request_id = request_id or str(uuid.uuid4())
        image = function_image(function, self.functions_dir)
        limit = None if function.reserved_concurrency is None else int(function.reserved_concurrency)
        worker, cold = self.pools.acquire(image, limit)
        reusable = False
        try:
            outcome = worker.invoke(request_id, event, image.timeout_seconds)
            reusable = not outcome.response.get("fatal")
            result = self._result(request_id, outcome)
            report = self._report(
                request_id, outcome.duration_ms, image, outcome.max_memory_mb, outcome.init_ms if cold else None
            )
        except WorkerTimedOut as timed_out:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            message = f"Task timed out after {image.timeout_seconds:.2f} seconds"
            lines = [*timed_out.args[0], f"{stamp} {request_id} {message}"]
            result = _error_result(
                request_id,
                {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: {message}"},
                lines,
            )
            report = self._report(request_id, image.timeout_seconds * 1000, image, 0, None)
        except WorkerDied as died:
            lines = str(died).splitlines()
            result = _error_result(
                request_id,
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited without providing a reason",
                },
                lines,
            )
            report = self._report(request_id, 0, image, 0, None)
        finally:
            self.pools.release(worker, reusable)
        result.log_lines = [
            f"START RequestId: {request_id} Version: $LATEST",
            *result.log_lines,
            f"END RequestId: {request_id}",
            report,
        ]
        self._write_log(function, worker, result.log_lines)
        return result

    @staticmethod
    def _result(request_id: str, outcome: Outcome) -> InvocationResult:
        if "error" in outcome.response:
            return _error_result(request_id, outcome.response["error"], outcome.log_lines)
        return InvocationResult(request_id, outcome.response["result"].encode(), None, outcome.log_lines)

    @staticmethod
    def _report(
        request_id: str, duration_ms: float, image: FunctionImage, memory_mb: int, init_ms: float | None
    ) -> str:
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, round(duration_ms + 0.5))} ms\tMemory Size: {image.memory_mb} MB\t"
            f"Max Memory Used: {memory_mb} MB"
        )
        return report + (f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else "")

    def _write_log(self, function: Any, worker: Worker, lines: list[str]) -> None:
        from moto.logs.models import logs_backends

        logs = logs_backends[function.account_id][function.region]
        group, stream = function.logs_group_name, worker.log_stream
        logs.ensure_log_group(group)
        if (group, stream) not in self._log_streams:
            logs.create_log_stream(group, stream)
            self._log_streams.add((group, stream))
        now = int(time.time() * 1000)
        logs.put_log_events(group, stream, [{"timestamp": now, "message": line} for line in lines])

    # ----------------------------------------------------------------- asynchronous

    def invoke_async(self, function: Any, event: str) -> str:
        record = AsyncInvocation(
            request_id=str(uuid.uuid4()),
            account_id=function.account_id,
            region=function.region,
            function_arn=function.function_arn,
            event=event,
        )
        with self._records_lock:
            self._records[record.request_id] = record
            while len(self._records) > KEPT_RECORDS:
                self._records.pop(next(iter(self._records)))
        self._queue.put(record)
        return record.request_id

    def invocation(self, request_id: str) -> dict[str, Any] | None:
        with self._records_lock:
            record = self._records.get(request_id)
            return record.describe() if record else None

    def _later(self, seconds: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        timer.start()

    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            record = self._queue.get()
            if record is None:
                return
            try:
                self._run_async(record)
            except Exception:  # an emulator fault must not kill the dispatcher
                record.status = "failed"
                record.errors.append({"errorType": "EmulatorError", "errorMessage": traceback.format_exc()})

    def _run_async(self, record: AsyncInvocation) -> None:
        from moto.awslambda.utils import get_backend

        try:
            function = get_backend(record.account_id, record.region).get_function(record.function_arn)
        except Exception:  # the function was deleted while the event waited
            record.status = "dropped"
            return
        record.status, record.attempts = "running", record.attempts + 1
        try:
            result = self.invoke(function, record.event, request_id=record.request_id)
        except Throttled:
            record.attempts -= 1
            record.status = "queued"
            self._later(THROTTLE_RETRY_SECONDS, lambda: self._queue.put(record))
            return
        except EmulatorError as error:
            result = _error_result(
                record.request_id, {"errorType": type(error).__name__, "errorMessage": str(error)}, []
            )
        if result.function_error is None:
            record.status = "succeeded"
            return
        record.errors.append(json.loads(result.payload))
        retries = min(len(self.retry_delays), self._maximum_retry_attempts(function))
        if record.attempts <= retries:
            record.status = "retrying"
            self._later(self.retry_delays[record.attempts - 1], lambda: self._queue.put(record))
            return
        self._dead_letter(function, record)

    @staticmethod
    def _maximum_retry_attempts(function: Any) -> int:
        for config in getattr(function, "event_invoke_config", []):
            if "MaximumRetryAttempts" in config.config:
                return int(config.config["MaximumRetryAttempts"])
        return len(LAMBDA_RETRY_DELAYS)

    def _dead_letter(self, function: Any, record: AsyncInvocation) -> None:
        """Send the event to the function's dead-letter topic or queue, as Lambda does after the retries."""
        target = (getattr(function, "dead_letter_config", None) or {}).get("TargetArn")
        if not target:
            record.status = "failed"
            return
        last = record.errors[-1]
        # https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html#invocation-dlq
        attributes = {
            "RequestID": record.request_id,
            "ErrorCode": "200",
            "ErrorMessage": str(last.get("errorMessage", ""))[:1024] or "Unhandled",
        }
        service, region, account, name = (target.split(":")[i] for i in (2, 3, 4, 5))
        if service == "sns":
            from moto.sns.models import sns_backends

            sns_backends[account][region].publish(
                record.event,
                arn=target,
                message_attributes={
                    k: {"Type": "Number" if k == "ErrorCode" else "String", "Value": v} for k, v in attributes.items()
                },
            )
        elif service == "sqs":
            from moto.sqs.models import sqs_backends

            sqs_backends[account][region].send_message(
                name,
                record.event,
                message_attributes={
                    k: {"DataType": "Number" if k == "ErrorCode" else "String", "StringValue": v}
                    for k, v in attributes.items()
                },
            )
        else:
            record.status = "failed"
            return
        record.status, record.dead_letter_target = "dead-lettered", target

    # ----------------------------------------------------------------- lifecycle

    def _reap(self) -> None:
        while not self._stopping.wait(30.0):
            self.pools.reap_idle()

    def describe(self) -> dict[str, Any]:
        return {
            "retry_delays": list(self.retry_delays),
            "workers": self.pools.describe(),
            "queued": self._queue.qsize(),
        }

    def stop(self) -> None:
        self._stopping.set()
        for _ in range(ASYNC_DISPATCHERS):
            self._queue.put(None)
        self.pools.stop_all()
