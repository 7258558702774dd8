"""migration_validator: DMS via botocore Stubber, CloudWatch and SNS via moto."""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

TASK_ARN = "arn:aws:dms:us-east-1:123456789012:task:ABCDEFGHIJKLMNOP"
TASK_ID = "ABCDEFGHIJKLMNOP"
INSTANCE_ID = "payments-dms-instance"
NAMESPACE = "PaymentsMigration"


def table(name, **overrides):
    stats = {
        "SchemaName": "public",
        "TableName": name,
        "TableState": "Table completed",
        "FullLoadRows": 1000,
        "FullLoadErrorRows": 0,
        "ValidationState": "Validated",
        "ValidationPendingRecords": 0,
        "ValidationFailedRecords": 0,
        "ValidationSuspendedRecords": 0,
        "Inserts": 5,
        "Updates": 2,
        "Deletes": 0,
    }
    stats.update(overrides)
    return stats


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic_arn = sns.create_topic(Name="migration-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        monkeypatch.setenv("REPLICATION_TASK_ARN", TASK_ARN)
        monkeypatch.setenv("REPLICATION_INSTANCE_ID", INSTANCE_ID)
        monkeypatch.setenv("ALERT_TOPIC_ARN", topic_arn)
        monkeypatch.setenv("METRIC_NAMESPACE", NAMESPACE)
        monkeypatch.setenv("READY_METRIC_NAME", "MigrationReady")
        monkeypatch.delenv("CDC_LATENCY_THRESHOLD_SECONDS", raising=False)
        yield {"sqs": sqs, "queue_url": queue_url, "cloudwatch": boto3.client("cloudwatch", region_name="us-east-1")}


@pytest.fixture
def dms(migration_validator):
    client = boto3.client("dms", region_name="us-east-1")
    stubber = Stubber(client)
    migration_validator._clients["dms"] = client
    with stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expect_task(dms, status="running"):
    dms.add_response(
        "describe_replication_tasks",
        {
            "ReplicationTasks": [
                {
                    "ReplicationTaskArn": TASK_ARN,
                    "ReplicationTaskIdentifier": "payments",
                    "Status": status,
                    "MigrationType": "full-load-and-cdc",
                }
            ]
        },
        {"Filters": [{"Name": "replication-task-arn", "Values": [TASK_ARN]}], "WithoutSettings": True},
    )


def expect_tables(dms, first_page, second_page):
    dms.add_response(
        "describe_table_statistics",
        {"ReplicationTaskArn": TASK_ARN, "TableStatistics": first_page, "Marker": "page-2"},
        {"ReplicationTaskArn": TASK_ARN, "MaxRecords": 500},
    )
    dms.add_response(
        "describe_table_statistics",
        {"ReplicationTaskArn": TASK_ARN, "TableStatistics": second_page},
        {"ReplicationTaskArn": TASK_ARN, "MaxRecords": 500, "Marker": "page-2"},
    )


def put_latency(cloudwatch, source=12.0, target=30.0, age_seconds=60, instance=INSTANCE_ID):
    timestamp = datetime.now(UTC) - timedelta(seconds=age_seconds)
    dimensions = [
        {"Name": "ReplicationInstanceIdentifier", "Value": instance},
        {"Name": "ReplicationTaskIdentifier", "Value": TASK_ID},
    ]
    data = [
        {"MetricName": name, "Dimensions": dimensions, "Value": value, "Timestamp": timestamp, "Unit": "Seconds"}
        for name, value in (("CDCLatencySource", source), ("CDCLatencyTarget", target))
        if value is not None
    ]
    cloudwatch.put_metric_data(Namespace="AWS/DMS", MetricData=data)


def readiness_values(cloudwatch):
    now = datetime.now(UTC)
    datapoints = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="MigrationReady",
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Minimum", "Maximum", "SampleCount"],
    )["Datapoints"]
    return datapoints


def alerts(aws):
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def run(validator):
    result = validator.handler({}, None)
    json.dumps(result)  # the result must be JSON-serialisable for Lambda
    return result


def test_ready(migration_validator, aws, dms):
    expect_task(dms)
    expect_tables(dms, [table("payments"), table("merchants")], [table("refunds")])
    put_latency(aws["cloudwatch"])
    result = run(migration_validator)
    assert result["status"] == "READY", result["reasons"]
    assert result["reasons"] == []
    assert [(t["schema"], t["table"], t["ready"], t["reasons"]) for t in result["tables"]] == [
        ("public", "payments", True, []),
        ("public", "merchants", True, []),
        ("public", "refunds", True, []),
    ]
    assert all(set(t) == {"schema", "table", "ready", "reasons"} for t in result["tables"])
    assert result["task_status"] == "running"
    assert result["latency_seconds"] == {"CDCLatencySource": 12.0, "CDCLatencyTarget": 30.0}
    assert result["threshold_seconds"] == 300.0
    assert result["metric_published"] is True
    assert result["alert_published"] is False
    points = readiness_values(aws["cloudwatch"])
    assert [(p["Minimum"], p["Maximum"]) for p in points] == [(1.0, 1.0)]
    assert alerts(aws) == []


def not_ready_case(migration_validator, aws, dms, *, task_status="running", pages=None, latency=None):
    expect_task(dms, task_status)
    first, second = pages if pages is not None else ([table("payments")], [table("refunds")])
    expect_tables(dms, first, second)
    if latency is not False:
        put_latency(aws["cloudwatch"], **(latency or {}))
    result = run(migration_validator)
    assert result["status"] == "NOT_READY"
    assert result["metric_published"] is True
    assert result["alert_published"] is True
    points = readiness_values(aws["cloudwatch"])
    assert [(p["Minimum"], p["Maximum"]) for p in points] == [(0.0, 0.0)]
    messages = alerts(aws)
    assert len(messages) == 1
    assert messages[0]["status"] == "NOT_READY"
    assert messages[0]["reasons"] == result["reasons"]
    return result


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"ValidationState": "Pending records"}, "ValidationState is 'Pending records', expected 'Validated'"),
        ({"ValidationState": "Mismatched records"}, "ValidationState is 'Mismatched records', expected 'Validated'"),
        ({"ValidationState": "Failed"}, "ValidationState is 'Failed', expected 'Validated'"),
        ({"ValidationState": "Not enabled"}, "ValidationState is 'Not enabled', expected 'Validated'"),
        ({"ValidationFailedRecords": 3}, "3 record(s) failed validation"),
        ({"ValidationSuspendedRecords": 2}, "2 record(s) with suspended validation"),
        ({"TableState": "Full load"}, "full load not complete (TableState is 'Full load')"),
        ({"TableState": "Table error"}, "full load not complete (TableState is 'Table error')"),
        ({"FullLoadErrorRows": 1}, "1 full-load error row(s)"),
    ],
)
def test_not_ready_table_reasons(migration_validator, aws, dms, overrides, reason):
    # The bad table is on the second page: pagination must be followed.
    result = not_ready_case(migration_validator, aws, dms, pages=([table("payments")], [table("refunds", **overrides)]))
    assert result["reasons"] == [f"public.refunds: {reason}"]
    assert [t["ready"] for t in result["tables"]] == [True, False]
    assert result["tables"][1]["reasons"] == [reason]


def test_not_ready_without_tables(migration_validator, aws, dms):
    result = not_ready_case(migration_validator, aws, dms, pages=([], []))
    assert result["reasons"] == ["no table statistics reported for the replication task"]


def test_not_ready_when_task_not_running(migration_validator, aws, dms):
    result = not_ready_case(migration_validator, aws, dms, task_status="stopped")
    assert result["reasons"] == ["replication task status is 'stopped', expected 'running'"]


def test_not_ready_when_task_unknown(migration_validator, aws, dms):
    dms.add_client_error(
        "describe_replication_tasks", service_error_code="ResourceNotFoundFault", service_message="No tasks found"
    )
    expect_tables(dms, [table("payments")], [])
    put_latency(aws["cloudwatch"])
    result = run(migration_validator)
    assert result["status"] == "NOT_READY"
    assert result["reasons"] == ["replication task not found"]


def test_a_dms_failure_is_a_function_error_after_publishing_not_ready(migration_validator, aws, dms):
    expect_task(dms)
    dms.add_client_error("describe_table_statistics", service_error_code="AccessDeniedFault", service_message="denied")
    put_latency(aws["cloudwatch"])
    with pytest.raises(ClientError, match="AccessDeniedFault"):
        run(migration_validator)
    points = readiness_values(aws["cloudwatch"])
    assert [(p["Minimum"], p["Maximum"]) for p in points] == [(0.0, 0.0)]  # no stale READY outlives it
    assert alerts(aws) == []


def test_a_failed_alert_is_a_function_error(migration_validator, aws, dms, monkeypatch):
    expect_task(dms, "stopped")
    expect_tables(dms, [table("payments")], [])
    put_latency(aws["cloudwatch"])
    monkeypatch.setenv("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:no-such-topic")
    with pytest.raises(ClientError, match="NotFound"):
        run(migration_validator)
    points = readiness_values(aws["cloudwatch"])
    assert [(p["Minimum"], p["Maximum"]) for p in points] == [(0.0, 0.0)]


def test_not_ready_when_latency_over_threshold(migration_validator, aws, dms, monkeypatch):
    monkeypatch.setenv("CDC_LATENCY_THRESHOLD_SECONDS", "60")
    result = not_ready_case(migration_validator, aws, dms, latency={"source": 5.0, "target": 61.5})
    assert result["reasons"] == ["CDCLatencyTarget is 61.5s, above the 60s threshold"]
    assert result["threshold_seconds"] == 60.0


def test_not_ready_when_source_latency_over_default_threshold(migration_validator, aws, dms):
    result = not_ready_case(migration_validator, aws, dms, latency={"source": 301.0})
    assert result["reasons"] == ["CDCLatencySource is 301s, above the 300s threshold"]


def test_not_ready_when_latency_metrics_missing(migration_validator, aws, dms):
    result = not_ready_case(migration_validator, aws, dms, latency=False)
    assert result["latency_seconds"] == {"CDCLatencySource": None, "CDCLatencyTarget": None}
    assert result["reasons"] == [
        f"no {name} datapoints in the last 600 seconds (missing data is treated as not ready)"
        for name in ("CDCLatencySource", "CDCLatencyTarget")
    ]


def test_not_ready_when_one_latency_metric_missing(migration_validator, aws, dms):
    result = not_ready_case(migration_validator, aws, dms, latency={"target": None})
    assert result["reasons"] == [
        "no CDCLatencyTarget datapoints in the last 600 seconds (missing data is treated as not ready)"
    ]


def test_latency_of_another_instance_is_ignored(migration_validator, aws, dms):
    result = not_ready_case(migration_validator, aws, dms, latency={"instance": "other-instance"})
    assert len(result["reasons"]) == 2


def test_stale_latency_is_missing(migration_validator, aws, dms):
    result = not_ready_case(migration_validator, aws, dms, latency={"age_seconds": 1800})
    assert all("no CDCLatency" in reason for reason in result["reasons"])


def test_latest_latency_datapoint_is_used(migration_validator, aws, dms):
    put_latency(aws["cloudwatch"], source=900.0, target=900.0, age_seconds=400)
    expect_task(dms)
    expect_tables(dms, [table("payments")], [])
    put_latency(aws["cloudwatch"], source=10.0, target=10.0, age_seconds=30)
    assert run(migration_validator)["status"] == "READY"


def test_several_reasons_are_all_reported(migration_validator, aws, dms):
    result = not_ready_case(
        migration_validator,
        aws,
        dms,
        task_status="failed",
        pages=([table("payments", ValidationState="Mismatched records", ValidationFailedRecords=1)], []),
        latency={"source": 1000.0},
    )
    assert result["reasons"] == [
        "replication task status is 'failed', expected 'running'",
        "public.payments: ValidationState is 'Mismatched records', expected 'Validated'",
        "public.payments: 1 record(s) failed validation",
        "CDCLatencySource is 1000s, above the 300s threshold",
    ]


def test_a_configuration_error_is_a_function_error(migration_validator, aws, monkeypatch):
    monkeypatch.setenv("CDC_LATENCY_THRESHOLD_SECONDS", "soon")
    with pytest.raises(migration_validator.ConfigError, match="CDC_LATENCY_THRESHOLD_SECONDS must be a number >= 0"):
        run(migration_validator)
    assert readiness_values(aws["cloudwatch"]) == []


def test_a_missing_metric_name_is_a_function_error(migration_validator, aws, monkeypatch):
    monkeypatch.delenv("READY_METRIC_NAME")
    with pytest.raises(migration_validator.ConfigError, match=r"missing environment variable\(s\): READY_METRIC_NAME"):
        run(migration_validator)
