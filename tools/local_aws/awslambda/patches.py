"""Lambda: invocations run the function's code; its DeadLetterConfig is stored and returned."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

from tools.local_aws.common import EmulatorError, wrap
from tools.local_aws.moto_guard import CLASS, assigns, moto_patch


@moto_patch(
    requires={
        "moto.awslambda.models.LambdaFunction.__init__": ("account_id", "spec", "region"),
        "moto.awslambda.models.LambdaFunction.get_configuration": ("on_create",),
        "moto.awslambda.models.LambdaFunction.update_configuration": ("config_updates",),
    }
)
def patch_lambda_dead_letter_config() -> None:
    # moto defect: a function's DeadLetterConfig is accepted, never stored or returned.
    from moto.awslambda.models import LambdaFunction

    def make_init(init: Callable[..., Any]) -> Callable[..., Any]:
        def __init__(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            init(self, account_id, spec, *args, **kwargs)
            self.dead_letter_config = spec.get("DeadLetterConfig") or {}

        return __init__

    def make_get(get: Callable[..., Any]) -> Callable[..., Any]:
        def get_configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            config = get(self, *args, **kwargs)
            if getattr(self, "dead_letter_config", {}).get("TargetArn"):
                config["DeadLetterConfig"] = self.dead_letter_config
            return config

        return get_configuration

    def make_update(update: Callable[..., Any]) -> Callable[..., Any]:
        def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
            if "DeadLetterConfig" in config_updates:
                self.dead_letter_config = config_updates["DeadLetterConfig"] or {}
            return update(self, config_updates)

        return update_configuration

    wrap(LambdaFunction, "__init__", make_init)
    wrap(LambdaFunction, "get_configuration", make_get)
    wrap(LambdaFunction, "update_configuration", make_update)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header, whatever its case (moto passes werkzeug headers or, internally, a dict)."""
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _client_error(code: str, message: str, status: int) -> Exception:
    from moto.awslambda.exceptions import LambdaClientError

    error = LambdaClientError(code, message)
    error.code = status
    return error


def run_invocation(
    function: Any, body: str | bytes | None, request_headers: Mapping[str, str], response_headers: dict[str, str]
) -> bytes:
    """Invoke for real: RequestResponse waits for the handler, Event queues it, DryRun only checks."""
    from tools.local_aws import runtime
    from tools.local_aws.awslambda.environments import UnsupportedRuntime
    from tools.local_aws.awslambda.invocations import function_image
    from tools.local_aws.awslambda.workers import Throttled

    event = body.decode() if isinstance(body, bytes) else (body or "{}")
    try:
        json.loads(event)
    except ValueError as error:
        raise _client_error("InvalidRequestContentException", "Could not parse request body into json", 400) from error
    service = runtime.current().lambdas
    invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    try:
        if invocation_type == "DryRun":
            function_image(function, service.functions_dir)
            return b""
        if invocation_type == "Event":
            function_image(function, service.functions_dir)
            service.invoke_async(function, event)
            return b""
        result = service.invoke(function, event)
    except UnsupportedRuntime as error:
        raise _client_error("InvalidRuntimeException", str(error), 502) from error
    except Throttled as error:
        raise _client_error("TooManyRequestsException", "Rate Exceeded.", 429) from error
    except EmulatorError as error:
        raise _client_error("ServiceException", str(error), 500) from error
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-log-result"] = base64.b64encode(result.log_tail().encode()).decode()
    response_headers["x-amz-executed-version"] = "$LATEST"
    return result.payload


@moto_patch(
    requires={
        "moto.awslambda.models.LambdaFunction.invoke": ("body", "request_headers", "response_headers"),
        "moto.awslambda.models.LambdaFunction": assigns(
            "function_name",
            "function_arn",
            "region",
            "account_id",
            "run_time",
            "handler",
            "timeout",
            "memory_size",
            "environment_vars",
            "reserved_concurrency",
            "logs_group_name",
            "event_invoke_config",
        ),
        "moto.awslambda.models.LambdaFunction._set_function_code": (),  # sets code_bytes from the zip
        "moto.awslambda.models.LambdaBackend.get_function": ("function_name_or_arn", "qualifier"),
        "moto.awslambda.utils.get_backend": (),
        "moto.awslambda.exceptions.LambdaClientError": CLASS,
        "moto.logs.models.LogsBackend.ensure_log_group": ("log_group_name",),
        "moto.logs.models.LogsBackend.create_log_stream": ("log_group_name", "log_stream_name"),
        "moto.logs.models.LogsBackend.put_log_events": ("log_group_name", "log_stream_name", "log_events"),
        "moto.sns.models.SNSBackend.publish": ("message", "arn", "message_attributes"),
        "moto.sqs.models.SQSBackend.send_message": ("queue_name", "message_body", "message_attributes"),
    }
)
def patch_lambda_invoke() -> None:
    # moto gap: functions run only in Docker (absent here); without it every invoke is a Docker error.
    from moto.awslambda.models import LambdaFunction

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        return run_invocation(self, body, request_headers, response_headers)

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]  # the runtime patch; moto_guard checks the original


@moto_patch(
    requires={
        "moto.awslambda.policy.Policy.add_statement": ("raw", "qualifier"),
        "moto.awslambda.policy.Policy": assigns("statements", "revision"),
        "moto.awslambda.exceptions.LambdaClientError": CLASS,
    }
)
def patch_lambda_permission_statement_ids() -> None:
    # moto defect: AddPermission appends a statement whose id already exists. When the SDK retried a request
    # whose answer it lost, the function held two `AllowScheduleInvoke` statements; RemovePermission took one
    # and the provider waited for the other to go until the destroy timed out. Lambda keeps statement ids
    # unique: the same statement again changes nothing here, a different one under a taken id is a conflict.
    from moto.awslambda.policy import Policy

    def make(add_statement: Callable[..., Any]) -> Callable[..., Any]:
        def add_unique_statement(self: Any, raw: str, qualifier: str | None = None) -> Any:
            taken = {statement.get("Sid"): statement for statement in self.statements}
            statement, revision = add_statement(self, raw, qualifier)
            existing = taken.get(statement.get("Sid"))
            if existing is None:
                return statement, revision
            self.statements.remove(statement)
            if existing == statement:
                return existing, self.revision
            raise _client_error(
                "ResourceConflictException",
                f"The statement id ({statement.get('Sid')}) provided "
                "already exists. Please provide a new statement id, or remove the existing "
                "statement.",
                409,
            )

        return add_unique_statement

    wrap(Policy, "add_statement", make)


PATCHES = (patch_lambda_dead_letter_config, patch_lambda_invoke, patch_lambda_permission_statement_ids)
