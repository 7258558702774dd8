"""PaymentsFunction alone: a deterministic package, its own log group and role, private and encrypted."""

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction

from lib.constructs.function import BUILD_DIR, PaymentsFunction
from lib.constructs.iam import allow
from tests.unit.stacks import bare_stack, synth, upstream


@pytest.fixture(scope="module")
def function():
    stack = bare_stack()
    built = upstream(stack, through="alerting")
    built.function = PaymentsFunction(
        stack,
        "rollback",
        name_prefix="payments-test",
        source="rollback",
        description="Test function",
        environment={"Z_LAST": "z", "A_FIRST": "a"},
        statements=[allow(["route53:GetChange"], "*")],
        reserved_concurrency=3,
        timeout_seconds=20,
        memory_mb=128,
        log_retention_days=90,
        network=built.network,
        security_groups=built.security_groups,
        keys=built.keys,
        alerting=built.alerting,
    )
    return built, synth(stack)


def test_names_come_from_the_source_folder(function):
    built, _ = function
    assert built.function.short_name == "rollback"
    assert built.function.name == "payments-test-rollback"


def test_function_runs_python312_in_the_private_subnets_with_tracing(function):
    built, synthesized = function
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        LambdaFunction.TF_RESOURCE_TYPE,
        {
            "function_name": "payments-test-rollback",
            "runtime": "python3.12",
            "handler": "handler.handler",
            "timeout": 20,
            "memory_size": 128,
            "reserved_concurrent_executions": 3,
            "tracing_config": {"mode": "Active"},
            "kms_key_arn": synthesized.ref(built.keys.data_key.arn),
            "dead_letter_config": {"target_arn": synthesized.ref(built.alerting.alerts.arn)},
            "vpc_config": {
                "subnet_ids": synthesized.ref(built.network.private_subnet_ids),
                "security_group_ids": [synthesized.ref(built.security_groups.lambda_functions.id)],
            },
        },
    )


def test_environment_is_sorted_so_the_synth_is_stable(function):
    built, synthesized = function
    variables = synthesized.body(built.function.function)["environment"]["variables"]
    assert list(variables) == ["A_FIRST", "Z_LAST"]


def test_its_own_log_group_under_the_logs_key_exists_before_the_function(function):
    built, synthesized = function
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        CloudwatchLogGroup.TF_RESOURCE_TYPE,
        {
            "name": "/aws/lambda/payments-test-rollback",
            "retention_in_days": 90,
            "kms_key_id": synthesized.ref(built.keys.logs_key.arn),
        },
    )
    depends_on = synthesized.body(built.function.function)["depends_on"]
    assert any(dependency.startswith("aws_cloudwatch_log_group.") for dependency in depends_on)
    assert any(dependency.startswith("aws_iam_role_policy.") for dependency in depends_on)


def test_role_is_for_lambda_and_its_policy_is_least_privilege(function):
    built, synthesized = function
    role = synthesized.one_of(built.function, "aws_iam_role")
    assert json.loads(role["assume_role_policy"])["Statement"][0]["Principal"] == {
        "Service": synthesized.principal_ref("lambda")
    }
    statements = json.loads(synthesized.one_of(built.function, "aws_iam_role_policy")["policy"])["Statement"]
    by_action = {action: statement["Resource"] for statement in statements for action in statement["Action"]}
    assert by_action["logs:PutLogEvents"] == synthesized.ref(built.function.log_group.arn) + ":*"
    assert by_action["sns:Publish"] == synthesized.ref(built.alerting.alerts.arn)
    assert by_action["kms:Decrypt"] == synthesized.ref(built.keys.data_key.arn)
    assert by_action["route53:GetChange"] == "*"  # the caller's own statements come last
    assert statements[-1] == allow(["route53:GetChange"], "*")


def test_role_has_what_the_lambda_vpc_access_managed_policy_grants(function):
    # Issue 9 #14: AWSLambdaVPCAccessExecutionRole's current actions (ec2:DescribeSubnets was missing).
    built, synthesized = function
    statements = json.loads(synthesized.one_of(built.function, "aws_iam_role_policy")["policy"])["Statement"]
    granted = {action for statement in statements for action in statement["Action"]}
    assert {
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    } <= granted


def test_package_is_built_and_its_hash_is_the_zip_hash(function):
    built, synthesized = function
    body = synthesized.body(built.function.function)
    package = BUILD_DIR / "rollback.zip"
    assert package.is_file()
    assert body["source_code_hash"] == base64.b64encode(hashlib.sha256(package.read_bytes()).digest()).decode()
    assert Path(body["filename"]).name == "rollback.zip" and not Path(body["filename"]).is_absolute()
