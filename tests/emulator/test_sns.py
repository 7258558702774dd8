"""SNS (tools/local_aws/sns.py): a Lambda subscription invokes the function with the real message."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tests.emulator.harness import deploy_probe, unique, wait_until


def recorded(aws: Callable[[str], Any], bucket: str) -> list[dict[str, Any]]:
    s3 = aws("s3")
    try:
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]
    except ClientError:
        return []


def test_publishing_to_a_topic_invokes_its_lambda_subscriber_with_the_message(aws: Callable[[str], Any]) -> None:
    bucket = unique("sns-records")
    aws("s3").create_bucket(Bucket=bucket)
    name = deploy_probe(aws, environment={"PROBE_BUCKET": bucket})
    function_arn = aws("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    sns = aws("sns")
    topic = sns.create_topic(Name=unique("critical"))["TopicArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)["SubscriptionArn"]

    published = sns.publish(
        TopicArn=topic,
        Subject="ALARM: p99",
        Message='{"AlarmName": "p99"}',
        MessageAttributes={"severity": {"DataType": "String", "StringValue": "critical"}},
    )
    [event] = wait_until(lambda: recorded(aws, bucket), seconds=30)
    [record] = event["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"] == subscription
    message = record["Sns"]
    assert message["TopicArn"] == topic and message["MessageId"] == published["MessageId"]
    assert message["Subject"] == "ALARM: p99" and message["Message"] == '{"AlarmName": "p99"}'
    assert message["MessageAttributes"] == {"severity": {"Type": "String", "Value": "critical"}}
