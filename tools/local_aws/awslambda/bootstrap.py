"""The Lambda runtime inside a worker process (python3.12, its own virtualenv, no project code).

Run as `python -I bootstrap.py LOOPBACK_PY`. The parent writes one JSON request per line on
stdin and reads one JSON response per line from the protocol channel (the original stdout).
Everything the function prints or logs goes to stderr, which the parent reads as the
function's log; after each invocation a marker line tells the parent that the log of that
invocation is complete. Standard library only.
"""

import importlib
import importlib.util
import json
import os
import sys
import time
import traceback

LOG_MARKER = "\x00end-of-invocation "


def _install_loopback_guard(path):
    spec = importlib.util.spec_from_file_location("local_aws_loopback", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the loopback guard from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.install()


class LambdaContext:
    """The context object the Python runtime passes to handlers."""

    def __init__(self, request):
        self.aws_request_id = request["requestId"]
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = request["invokedFunctionArn"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = request["deadlineMs"]

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def error_payload(error, request_id, error_type=None, trace=True):
    """The error document the Python runtime returns: errorMessage, errorType, requestId, stackTrace."""
    frames = traceback.extract_tb(error.__traceback__)[1:] if trace else []  # drop the runtime's frame
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def load_handler():
    """(handler function, None) or (None, init error document)."""
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # the runtime reports any import failure the same way
        return None, {
            "errorMessage": f"Unable to import module '{module_name}': {error}",
            "errorType": "Runtime.ImportModuleError",
            "requestId": "",
            "stackTrace": [],
        }
    handler = getattr(module, function_name, None)
    if not callable(handler):
        return None, {
            "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
            "errorType": "Runtime.HandlerNotFound",
            "requestId": "",
            "stackTrace": [],
        }
    return handler, None


def invoke(handler, request):
    context = LambdaContext(request)
    try:
        result = handler(json.loads(request["event"]), context)
    except Exception as error:
        payload = error_payload(error, context.aws_request_id)
        traceback.print_exc()
        return {"error": payload}
    try:
        return {"result": json.dumps(result)}
    except (TypeError, ValueError) as error:
        return {
            "error": error_payload(error, context.aws_request_id, "Runtime.MarshalError", trace=False)
            | {"errorMessage": f"Unable to marshal response: {error}"}
        }


def main():
    _install_loopback_guard(sys.argv[1])  # nothing the function does may leave 127.0.0.1
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the function's stdout joins its log
    sys.stdout = sys.stderr
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path.insert(0, task_root)
    os.chdir(task_root)
    started = time.perf_counter()
    handler, init_error = load_handler()
    init_ms: float | None = (time.perf_counter() - started) * 1000  # reported with the first invocation only
    for line in sys.stdin:  # EOF: the emulator is gone, and so is this worker
        request = json.loads(line)
        if init_error is not None:
            response = {"error": dict(init_error, requestId=request["requestId"]), "fatal": True}
        else:
            response = invoke(handler, request)
        response["initMs"], init_ms = init_ms, None
        sys.stderr.write(f"{LOG_MARKER}{request['requestId']}\n")
        sys.stderr.flush()
        protocol.write(json.dumps(response) + "\n")
        if init_error is not None:
            return


if __name__ == "__main__":
    main()
