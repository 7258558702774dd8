"""EventBridge (tools/local_aws/events.py): rate(...) schedules run their Lambda targets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.emulator.harness import deploy_probe, probe_zip, unique, wait_until
from tests.emulator.test_sns import recorded
from tools.local_aws.client import LocalAwsControl
from tools.local_aws.events import ScheduleRunner, rate_seconds


def test_firing_a_schedule_now_invokes_its_target_with_a_scheduled_event(
    aws: Callable[[str], Any], control: LocalAwsControl
) -> None:
    bucket = unique("schedule-records")
    aws("s3").create_bucket(Bucket=bucket)
    name = deploy_probe(aws, environment={"PROBE_BUCKET": bucket})
    function_arn = aws("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    events = aws("events")
    rule = unique("validate")
    rule_arn = events.put_rule(Name=rule, ScheduleExpression="rate(5 minutes)")["RuleArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "validator", "Arn": function_arn}])

    [fired] = control.fire_rule(rule)
    assert fired["rule_arn"] == rule_arn and fired["target_arn"] == function_arn
    assert control.wait_for_invocation(fired["request_id"])["status"] == "succeeded"
    [event] = wait_until(lambda: recorded(aws, bucket), seconds=10)
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == [rule_arn]


def test_firing_an_unknown_rule_is_a_404(control: LocalAwsControl) -> None:
    with pytest.raises(Exception) as missing:
        control.fire_rule("no-such-rule")
    assert "404" in str(missing.value)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(5 minutes)", 300),
        ("rate(1 minute)", 60),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("cron(0/5 * * * ? *)", None),
        (None, None),
        ("rate(five minutes)", None),
    ],
)
def test_rate_expressions(expression: str | None, seconds: int | None) -> None:
    assert rate_seconds(expression) == seconds


class RecordingLambdas:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def invoke_async(self, function: Any, event: str) -> str:
        self.events.append((function.function_arn, json.loads(event)))
        return f"request-{len(self.events)}"


def test_a_schedule_fires_every_period_while_the_emulator_runs() -> None:
    clock = [1_000.0]
    lambdas = RecordingLambdas()
    with mock_aws():
        region = "us-east-1"
        role = boto3.client("iam", region_name=region).create_role(RoleName="probe", AssumeRolePolicyDocument="{}")[
            "Role"
        ]["Arn"]
        function_arn = boto3.client("lambda", region_name=region).create_function(
            FunctionName="validator",
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": probe_zip()},
        )["FunctionArn"]
        events = boto3.client("events", region_name=region)
        events.put_rule(Name="validate", ScheduleExpression="rate(5 minutes)")
        events.put_targets(Rule="validate", Targets=[{"Id": "v", "Arn": function_arn, "Input": '{"n": 1}'}])
        events.put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)")
        events.put_targets(Rule="nightly", Targets=[{"Id": "v", "Arn": function_arn}])
        runner = ScheduleRunner(lambdas, clock=lambda: clock[0], start=False)

        fired_at = []
        for now in (1_000.0, 1_299.0, 1_300.0, 1_450.0, 1_600.0, 2_750.0, 2_800.0):
            clock[0] = now
            if runner.tick():
                fired_at.append(now)
        events.disable_rule(Name="validate")
        clock[0] = 5_000.0
        assert runner.tick() == []

    # One period after the rule was first seen, then on each period boundary (1300 + k * 300); runs missed
    # while the emulator was busy (1900 to 2500) fire once at 2750, not in a burst.
    assert fired_at == [1_300.0, 1_600.0, 2_750.0, 2_800.0]
    assert [event for _, event in lambdas.events] == [{"n": 1}] * 4  # a target's constant Input is sent as is
