"""Least privilege, per function role: every IAM action is either one the handler's code calls or one
Lambda needs on the function's behalf (named in SERVICE_NEEDS), and every call the code makes is granted.

The calls come from the handler's sources: the services it asks `aws_client("<service>")` for, and
the methods called on anything in those sources that are operations of those services (botocore's
models, offline). The shared modules it imports are part of its code.
"""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from lib.constructs.function import SERVICE_NEEDS, PaymentsFunction
from lib.lambda_imports import imported_modules

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lib" / "lambda"
SHARED_DIR = LAMBDA_DIR / "shared"
# boto3 client name -> IAM service prefix, for the services the handlers use (cloudwatch signs as
# "monitoring" but authorizes as "cloudwatch"). A service not listed here fails the test: add it.
IAM_PREFIX = {
    "cloudwatch": "cloudwatch",
    "dms": "dms",
    "elbv2": "elasticloadbalancing",
    "rds-data": "rds-data",
    "route53": "route53",
    "secretsmanager": "secretsmanager",
    "sns": "sns",
    "ssm": "ssm",
}
# The RDS Data API reads the request's secret with the caller's credentials: a function that calls it
# needs GetSecretValue on that secret although its code never calls Secrets Manager.
DATA_API_SECRET_READ = "secretsmanager:GetSecretValue"


def source_files(function: str) -> list[Path]:
    """The handler, the function's own modules and the shared modules they import."""
    own = sorted((LAMBDA_DIR / function).glob("*.py"))
    shared = {path.stem: path for path in SHARED_DIR.glob("*.py")}
    found, queue = list(own), list(own)
    while queue:
        for module, _, _ in imported_modules(ast.parse(queue.pop().read_text())):
            path = shared.get(module)
            if path is not None and path not in found:
                found.append(path)
                queue.append(path)
    return found


def client_services(tree: ast.AST) -> set[str]:
    """The literal service names passed to aws_client(...) (or boto3.client(...))."""
    services: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if called in ("aws_client", "client"):
                services.add(node.args[0].value)
    return services


def called_methods(tree: ast.AST) -> set[str]:
    """Every `<anything>.<method>(...)`, and the operation names given to get_paginator/get_waiter."""
    methods: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            methods.add(node.func.attr)
            if (
                node.func.attr in ("get_paginator", "get_waiter")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                methods.add(node.args[0].value)
    return methods


@cache
def operations(service: str) -> dict[str, str]:
    """{python method name: API operation name} of a service, from botocore's bundled model."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


@cache
def code_actions(function: str) -> frozenset[str]:
    """The IAM actions the function's code needs: one per AWS operation it calls."""
    trees = [ast.parse(path.read_text()) for path in source_files(function)]
    services = set().union(*(client_services(tree) for tree in trees))
    unknown = services - set(IAM_PREFIX)
    assert not unknown, f"{function} uses {sorted(unknown)}: add their IAM prefixes to IAM_PREFIX"
    methods = set().union(*(called_methods(tree) for tree in trees))
    return frozenset(
        f"{IAM_PREFIX[service]}:{operations(service)[method]}"
        for service in services
        for method in methods
        if method in operations(service)
    )


def service_actions(function: str) -> frozenset[str]:
    needs = {action for actions in SERVICE_NEEDS.values() for action in actions}
    if any(action.startswith("rds-data:") for action in code_actions(function)):
        needs.add(DATA_API_SECRET_READ)
    return frozenset(needs)


def functions_of(stack) -> list[PaymentsFunction]:
    return [node for node in stack.node.find_all() if isinstance(node, PaymentsFunction)]


def granted_actions(synthesized, function: PaymentsFunction) -> set[str]:
    statements = json.loads(synthesized.one_of(function, "aws_iam_role_policy")["policy"])["Statement"]
    return {
        action
        for statement in statements
        if statement["Effect"] == "Allow"
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }


PROFILES = ("dev", "https")


@pytest.mark.parametrize("profile", PROFILES)
def test_every_granted_action_is_called_by_the_code_or_needed_by_lambda(synth_all, profile):
    synthesized = synth_all[profile]
    excess = {
        function.source: sorted(
            granted_actions(synthesized, function) - code_actions(function.source) - service_actions(function.source)
        )
        for function in functions_of(synthesized.stack)
    }
    assert {source: actions for source, actions in excess.items() if actions} == {}


@pytest.mark.parametrize("profile", PROFILES)
def test_every_call_the_code_makes_is_granted(synth_all, profile):
    synthesized = synth_all[profile]
    missing = {
        function.source: sorted(code_actions(function.source) - granted_actions(synthesized, function))
        for function in functions_of(synthesized.stack)
    }
    assert {source: actions for source, actions in missing.items() if actions} == {}


def test_every_function_is_checked(dev):
    assert sorted(function.source for function in functions_of(dev.stack)) == sorted(
        path.name for path in LAMBDA_DIR.iterdir() if (path / "handler.py").is_file()
    )


def test_the_scan_finds_what_each_handler_calls():
    # Pinned so that a scanner that finds nothing cannot pass the tests above.
    assert code_actions("payment_api") == {"rds-data:ExecuteStatement", "ssm:GetParameter"}
    assert code_actions("schema_migrations") == {
        "rds-data:ExecuteStatement",
        "rds-data:BeginTransaction",
        "rds-data:CommitTransaction",
        "rds-data:RollbackTransaction",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
    }
    assert {"route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"} <= code_actions("rollback")
    assert (
        {"ssm:PutParameter", "elasticloadbalancing:ModifyRule", "dms:StartReplicationTask", "rds-data:ExecuteStatement"}
        <= code_actions("traffic_shifter")
        == code_actions("rollback")
    )
    assert {
        "dms:DescribeTableStatistics",
        "dms:DescribeReplicationTasks",
        "cloudwatch:PutMetricData",
        "sns:Publish",
    } <= code_actions("migration_validator")


def test_an_unused_grant_would_fail(dev):
    api = dev.stack.compute.payment_api
    unused = {"rds-data:BatchExecuteStatement"}  # the grant issue 13 found on the API
    assert unused & (code_actions(api.source) | service_actions(api.source)) == set()
