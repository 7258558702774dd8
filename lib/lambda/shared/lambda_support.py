"""What every handler here needs: JSON log lines, lazily created boto3 clients, AWS error codes.

Every JSON line carries the invocation's `request_id`, `function_name` and `correlation_id`
(the Root of an ALB request's X-Amzn-Trace-Id, else of the Lambda trace header) once the
handler is wrapped in `@invocation_logging`.

lib/packaging.py puts this file at the root of each function's zip, next to handler.py,
so handlers import it as a top-level module (`from lambda_support import ...`).
Only stdlib and botocore.exceptions load with it: boto3 is imported by the first client.
"""

import contextvars
import functools
import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType

from botocore.exceptions import ClientError


# --------------------------------------------------------------------------- logging
class JsonLogHandler(logging.Handler):
    """Writes one JSON object per record to the current sys.stderr."""

    def emit(self, record):
        try:
            entry = {
                "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            entry.update(_invocation.get())
            entry.update(getattr(record, "fields", {}))
            if record.exc_info:
                entry["exception"] = logging.Formatter().formatException(record.exc_info)
            sys.stderr.write(json.dumps(entry, default=str) + "\n")
        except Exception:  # pragma: no cover - logging must never break the handler
            self.handleError(record)


def build_logger(name):
    """The named logger with one JsonLogHandler, not propagating, at LOG_LEVEL (default INFO)."""
    logger = logging.getLogger(name)
    if not any(isinstance(h, JsonLogHandler) for h in logger.handlers):
        logger.addHandler(JsonLogHandler())
    logger.propagate = False
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logger.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    return logger


def bind_log(logger):
    """`log(level, message, *, exc_info=None, **fields)`: the fields become keys of the JSON line."""

    def log(level, message, *, exc_info=None, **fields):
        logger.log(level, message, extra={"fields": fields}, exc_info=exc_info)

    return log


# --------------------------------------------------------------------------- invocation context
# A read-only default: outside `@invocation_logging` every reader shares it.
_invocation: contextvars.ContextVar[Mapping[str, str | None]] = contextvars.ContextVar(
    "lambda_invocation", default=MappingProxyType({})
)
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-request-tracing.html:
# Root=1-<8 hex digits of epoch seconds>-<24 hex digits>; clients may send their own, the ALB keeps it.
TRACE_ROOT_PATTERN = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
INVOCATION_FIELDS = ("request_id", "function_name", "correlation_id")


def trace_root(header_value):
    """The Root=... id of an X-Amzn-Trace-Id value when it is well formed, else None."""
    if not isinstance(header_value, str) or len(header_value) > 512:
        return None
    for part in header_value.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "Root" and TRACE_ROOT_PATTERN.fullmatch(value):
            return value
    return None


def alb_trace_header(event):
    """The X-Amzn-Trace-Id header of an ALB Lambda-target event (single- or multi-value), else None."""
    if not isinstance(event, dict):
        return None
    multi = event.get("multiValueHeaders")
    if isinstance(multi, dict):
        values = [v for k, v in multi.items() if str(k).lower() == "x-amzn-trace-id"]
        return values[0][-1] if values and isinstance(values[0], list) and values[0] else None
    headers = event.get("headers")
    if isinstance(headers, dict):
        return next((v for k, v in headers.items() if str(k).lower() == "x-amzn-trace-id"), None)
    return None


def invocation_fields(event, context):
    """{"request_id", "function_name", "correlation_id"} of one invocation (None where unknown)."""
    correlation = trace_root(alb_trace_header(event)) or trace_root(os.environ.get("_X_AMZN_TRACE_ID"))
    function_name = getattr(context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    return {
        "request_id": getattr(context, "aws_request_id", None),
        "function_name": function_name,
        "correlation_id": correlation,
    }


def current_invocation():
    """The fields of the invocation being handled ({} outside `@invocation_logging`)."""
    return dict(_invocation.get())


def invocation_logging(log):
    """Decorator for `handler(event, context)`: every line logged during the call carries the
    invocation fields, and an exception that escapes the handler is logged as one line (its
    traceback inside the JSON) before it propagates to the Lambda runtime."""

    def decorate(handler):
        @functools.wraps(handler)
        def wrapper(event, context):
            token = _invocation.set(invocation_fields(event, context))
            try:
                return handler(event, context)
            except Exception as error:
                log(
                    logging.ERROR,
                    "invocation failed",
                    error_type=type(error).__name__,
                    error=str(error)[:1000],
                    exc_info=True,
                )
                raise
            finally:
                _invocation.reset(token)

        return wrapper

    return decorate


def handler_toolkit(name, **client_options):
    """(logger, log, aws_client) of one handler module: its JSON logger, the logger bound as
    `log`, and its own ClientCache whose clients use Config(**client_options)."""
    logger = build_logger(name)
    return logger, bind_log(logger), ClientCache(client_options)


# --------------------------------------------------------------------------- configuration
def missing_environment(names):
    """The names among `names` whose environment variable is unset or empty, in order."""
    return [name for name in names if not os.environ.get(name)]


def require_environment(names, error_type, context=""):
    """Raises error_type("<context>missing environment variable(s): A, B") when any of names is unset or empty."""
    missing = missing_environment(names)
    if missing:
        raise error_type(f"{context}missing environment variable(s): " + ", ".join(missing))


# --------------------------------------------------------------------------- AWS clients
class ClientCache:
    """Called with a service name, returns that service's boto3 client, created on first use
    with Config(**options) and kept in `self.cache`.

    Each handler module owns one instance (from `handler_toolkit`), so every
    loaded copy of a handler has its own clients; tests may pre-fill `cache`.
    """

    def __init__(self, options):
        self.options = options
        self.cache = {}

    def __call__(self, service):
        if service not in self.cache:
            import boto3  # noqa: PLC0415
            from botocore.config import Config  # noqa: PLC0415

            self.cache[service] = boto3.client(service, config=Config(**self.options))
        return self.cache[service]


def error_code(error):
    """The AWS error code of a ClientError, else the exception's class name."""
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "ClientError")
    return type(error).__name__
