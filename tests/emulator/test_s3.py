"""S3 patches (tools/local_aws/s3.py) through boto3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.emulator.harness import unique


def test_s3_eventbridge_notification_is_returned(aws: Callable[[str], Any]) -> None:
    s3 = aws("s3")
    bucket = unique("logs")
    s3.create_bucket(Bucket=bucket)
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket)

    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["EventBridgeConfiguration"] == {}

    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket)
