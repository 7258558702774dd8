"""What every handler here needs: JSON log lines, lazily created boto3 clients, AWS error codes.

lib/packaging.py puts this file at the root of each function's zip, next to handler.py,
so handlers import it as a top-level module (`from lambda_support import ...`).
Only stdlib and botocore.exceptions load with it: boto3 is imported by the first client.
"""

import json
import logging
import os
import sys
from datetime import datetime, timezone

from botocore.exceptions import ClientError


# --------------------------------------------------------------------------- logging
class JsonLogHandler(logging.Handler):
    """Writes one JSON object per record to the current sys.stderr."""

    def emit(self, record):
        try:
            entry = {
                "timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
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
