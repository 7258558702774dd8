"""lambda_support's invocation logging: every handler's JSON lines carry the request id, the function
name and a correlation id; an escaping error is one line."""

import json
from pathlib import Path

import pytest

import lambda_support

TRACE_ROOT = "1-5f84c7a9-0123456789abcdef01234567"
LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lib" / "lambda"


def lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


@pytest.fixture
def logged_handler():
    logger = lambda_support.build_logger("support_logging_test")
    log = lambda_support.bind_log(logger)

    @lambda_support.invocation_logging(log)
    def handler(event, context):
        log(20, "working", step=1)
        if event.get("fail"):
            raise RuntimeError("broken on purpose")
        return lambda_support.current_invocation()

    return handler, log


@pytest.mark.parametrize(
    "header, expected",
    [
        (f"Root={TRACE_ROOT}", TRACE_ROOT),
        (f"Self=1-5f84c7aa-0123456789abcdef01234568;Root={TRACE_ROOT};Sampled=1", TRACE_ROOT),
        (f"Root={TRACE_ROOT.upper()}", None),
        ("Root=1-5f84c7a9-0123", None),
        (None, None),
        (42, None),
        ("Root=" + TRACE_ROOT + ";" + "x" * 600, None),
    ],
)
def test_trace_root(header, expected):
    assert lambda_support.trace_root(header) == expected


def test_fields_on_every_line_during_the_call_only(logged_handler, lambda_context, capsys, monkeypatch):
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    handler, log = logged_handler
    context = lambda_context("payments-dev-rollback", request_id="req-1")
    event = {"headers": {"X-Amzn-Trace-Id": f"Root={TRACE_ROOT}"}}
    assert handler(event, context) == {
        "request_id": "req-1",
        "function_name": "payments-dev-rollback",
        "correlation_id": TRACE_ROOT,
    }
    log(20, "outside")
    inside, outside = lines(capsys)
    assert (inside["request_id"], inside["function_name"], inside["correlation_id"], inside["step"]) == (
        "req-1",
        "payments-dev-rollback",
        TRACE_ROOT,
        1,
    )
    assert "request_id" not in outside


def test_lambda_trace_header_is_the_correlation_id_without_an_alb_one(logged_handler, lambda_context, monkeypatch):
    handler, _ = logged_handler
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=0")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "payments-dev-validator")
    assert handler({"Records": []}, None) == {
        "request_id": None,
        "function_name": "payments-dev-validator",
        "correlation_id": TRACE_ROOT,
    }


def test_an_escaping_error_is_one_line_and_is_raised(logged_handler, lambda_context, capsys):
    handler, _ = logged_handler
    with pytest.raises(RuntimeError, match="broken on purpose"):
        handler({"fail": True}, lambda_context(request_id="req-2"))
    working, failed = lines(capsys)
    assert (failed["level"], failed["message"], failed["error_type"], failed["error"], failed["request_id"]) == (
        "ERROR",
        "invocation failed",
        "RuntimeError",
        "broken on purpose",
        "req-2",
    )
    assert "Traceback" in failed["exception"]


# A bad event per handler; payment_api and schema_migrations are checked with real requests in their own
# tests (test_request_id_header_and_log_fields, test_logs_carry_the_invocation_and_a_failure_is_one_line).
HANDLER_EVENTS = [
    ("rollback", "not an object"),
    ("traffic_shifter", {"step": "ten"}),
    ("migration_validator", {}),
]
CHECKED_WITH_REQUESTS = {"payment_api", "schema_migrations"}


def test_the_invocation_fields_are_checked_for_every_handler():
    handlers = {path.name for path in LAMBDA_DIR.iterdir() if (path / "handler.py").is_file()}
    assert {name for name, _ in HANDLER_EVENTS} | CHECKED_WITH_REQUESTS == handlers


@pytest.mark.parametrize("name, event", HANDLER_EVENTS)
def test_every_handler_logs_the_invocation_fields(name, event, load_lambda, lambda_context, capsys, monkeypatch):
    for variable in ("REPLICATION_TASK_ARN", "HOSTED_ZONE_ID", "RECORD_NAME"):
        monkeypatch.delenv(variable, raising=False)
    module = load_lambda(name)
    context = lambda_context(f"payments-dev-{name}", request_id=f"req-{name}")
    if name == "migration_validator":  # its missing configuration is a function error (cutover issue, item 7)
        with pytest.raises(module.ConfigError, match="missing environment variable"):
            module.handler(event, context)
    else:
        module.handler(event, context)
    entries = lines(capsys)
    assert entries
    assert all(
        (entry["request_id"], entry["function_name"]) == (f"req-{name}", f"payments-dev-{name}") for entry in entries
    )
