"""DMS replication (tools/local_aws/dms): PostgreSQL logical replication between the on-premises
stand-in and an Aurora cluster's database, with DMS's statistics, validation and latency metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pg8000.native
import pytest

from tests.emulator.harness import unique, wait_until
from tests.emulator.test_rdsdata import create_cluster
from tools.local_aws.client import LocalAwsControl

SETTINGS = json.dumps(
    {"ValidationSettings": {"EnableValidation": True}, "FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"}}
)
MAPPINGS = json.dumps(
    {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "all",
                "object-locator": {"schema-name": "public", "table-name": "%"},
                "rule-action": "include",
            }
        ]
    }
)


@pytest.fixture(scope="module")
def migration(aws: Callable[[str], Any], network: dict[str, Any], control: LocalAwsControl) -> dict[str, Any]:
    dms, secrets = aws("dms"), aws("secretsmanager")
    cluster = create_cluster(aws, network)
    group = unique("dms-subnets")
    dms.create_replication_subnet_group(
        ReplicationSubnetGroupIdentifier=group, SubnetIds=network["subnet_ids"], ReplicationSubnetGroupDescription="dms"
    )
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier=unique("dms"),
        ReplicationInstanceClass="dms.t3.medium",
        ReplicationSubnetGroupIdentifier=group,
    )["ReplicationInstance"]
    source_db = unique("legacy").replace("-", "_")
    source_secret = secrets.create_secret(Name=unique("onprem-source"))["ARN"]  # filled once the stand-in exists
    # As Terraform sends an endpoint with a secret: the database name inside PostgreSQLSettings.
    source = dms.create_endpoint(
        EndpointIdentifier=unique("onprem"),
        EndpointType="source",
        EngineName="postgres",
        PostgreSQLSettings={
            "DatabaseName": source_db,
            "SecretsManagerSecretId": source_secret,
            "SecretsManagerAccessRoleArn": "x",
        },
    )
    onprem = control.onprem_databases()[source_db]
    secrets.put_secret_value(
        SecretId=source_secret,
        SecretString=json.dumps(
            {"username": onprem["username"], "password": onprem["password"], "host": "192.168.0.10", "port": 5432}
        ),
    )
    target = dms.create_endpoint(
        EndpointIdentifier=unique("aurora"),
        EndpointType="target",
        EngineName="aurora-postgresql",
        DatabaseName="payments",
        ServerName=f"{cluster['identifier']}.cluster-local.us-east-1.rds.amazonaws.com",
        PostgreSQLSettings={"SecretsManagerSecretId": cluster["secret"], "SecretsManagerAccessRoleArn": "x"},
    )
    task = dms.create_replication_task(
        ReplicationTaskIdentifier=unique("forward"),
        MigrationType="full-load-and-cdc",
        ReplicationInstanceArn=instance["ReplicationInstanceArn"],
        TableMappings=MAPPINGS,
        SourceEndpointArn=source["Endpoint"]["EndpointArn"],
        TargetEndpointArn=target["Endpoint"]["EndpointArn"],
        ReplicationTaskSettings=SETTINGS,
    )["ReplicationTask"]
    return {
        "cluster": cluster,
        "instance": instance,
        "onprem": onprem,
        "source_db": source_db,
        "source": source["Endpoint"],
        "target": target["Endpoint"],
        "task": task,
    }


def onprem_sql(migration: dict[str, Any], statement: str, **params: Any) -> Any:
    login = migration["onprem"]
    connection = pg8000.native.Connection(
        user=login["username"],
        password=login["password"],
        host=login["host"],
        port=login["port"],
        database=login["database"],
        timeout=30,
    )
    try:
        return connection.run(statement, **params)
    finally:
        connection.close()


def aurora_sql(aws: Callable[[str], Any], migration: dict[str, Any], statement: str) -> list[list[Any]]:
    cluster = migration["cluster"]
    records = (
        aws("rds-data")
        .execute_statement(resourceArn=cluster["arn"], secretArn=cluster["secret"], database="payments", sql=statement)
        .get("records", [])
    )
    return [[next(iter(field.values())) for field in row] for row in records]


def task_state(aws: Callable[[str], Any], arn: str) -> dict[str, Any]:
    return aws("dms").describe_replication_tasks(Filters=[{"Name": "replication-task-arn", "Values": [arn]}])[
        "ReplicationTasks"
    ][0]


def payments_statistics(aws: Callable[[str], Any], arn: str) -> dict[str, Any] | None:
    tables = aws("dms").describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"]
    return next((t for t in tables if t["TableName"] == "payments"), None)


def test_the_onprem_stand_in_is_seeded_with_the_legacy_payments(migration: dict[str, Any]) -> None:
    assert onprem_sql(migration, "SELECT count(*), count(DISTINCT idempotency_key) FROM payments") == [[40, 40]]


def test_a_task_never_started_has_no_statistics(aws: Callable[[str], Any], migration: dict[str, Any]) -> None:
    arn = migration["task"]["ReplicationTaskArn"]
    assert aws("dms").describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"] == []
    assert "ReplicationTaskStats" not in task_state(aws, arn)


def test_full_load_then_cdc_with_statistics_validation_and_latency(
    aws: Callable[[str], Any], migration: dict[str, Any], control: LocalAwsControl
) -> None:
    arn = migration["task"]["ReplicationTaskArn"]
    started = aws("dms").start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")[
        "ReplicationTask"
    ]
    assert started["Status"] == "starting", started

    loaded = wait_until(
        lambda: (
            (s := payments_statistics(aws, arn))
            and s["TableState"] == "Table completed"
            and s["ValidationState"] == "Validated"
            and s
        ),
        seconds=60,
    )
    assert loaded, (
        task_state(aws, arn).get("LastFailureMessage"),
        task_state(aws, arn).get("Status"),
        payments_statistics(aws, arn),
    )
    assert loaded["FullLoadRows"] == 40 and (loaded["Inserts"], loaded["Updates"], loaded["Deletes"]) == (0, 0, 0)
    described = task_state(aws, arn)
    assert described["Status"] == "running"
    assert described["ReplicationTaskStats"]["FullLoadProgressPercent"] == 100
    assert described["ReplicationTaskStats"]["TablesLoaded"] == 1
    assert aurora_sql(aws, migration, "SELECT count(*) FROM payments") == [[40]]

    onprem_sql(
        migration,
        "INSERT INTO payments (idempotency_key, request_hash, amount, currency, merchant_id) "
        "SELECT 'cdc-' || g, repeat('a', 64), 10.00, 'EUR', 'merchant-cdc' "
        "FROM generate_series(1, 3) g",
    )
    onprem_sql(
        migration, "UPDATE payments SET status = 'REFUNDED' WHERE idempotency_key IN ('legacy-00001', 'legacy-00002')"
    )
    onprem_sql(migration, "DELETE FROM payments WHERE idempotency_key = 'legacy-00003'")
    changed = wait_until(
        lambda: (
            (s := payments_statistics(aws, arn))
            and (s["Inserts"], s["Updates"], s["Deletes"]) == (3, 2, 1)
            and s["ValidationState"] == "Validated"
            and s
        ),
        seconds=60,
    )
    assert changed, payments_statistics(aws, arn)
    assert aurora_sql(
        aws,
        migration,
        "SELECT count(*) FROM payments WHERE status = 'REFUNDED' "
        "AND idempotency_key IN ('legacy-00001', 'legacy-00002')",
    ) == [[2]]

    published = control.publish_replication_metrics()
    assert [entry["task"] for entry in published if entry["task"] == migration["task"]["ReplicationTaskIdentifier"]]
    now = datetime.now(UTC)
    for metric in ("CDCLatencySource", "CDCLatencyTarget"):
        points = aws("cloudwatch").get_metric_statistics(
            Namespace="AWS/DMS",
            MetricName=metric,
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=1),
            Period=60,
            Statistics=["Maximum"],
            Dimensions=[
                {
                    "Name": "ReplicationInstanceIdentifier",
                    "Value": migration["instance"]["ReplicationInstanceIdentifier"],
                },
                {"Name": "ReplicationTaskIdentifier", "Value": arn.split(":")[-1]},
            ],
        )["Datapoints"]
        assert points and all(0 <= point["Maximum"] < 60 for point in points), (metric, points)


def test_stop_pauses_replication_and_resume_continues(
    aws: Callable[[str], Any], migration: dict[str, Any], control: LocalAwsControl
) -> None:
    arn = migration["task"]["ReplicationTaskArn"]
    wait_until(lambda: task_state(aws, arn)["Status"] == "running", seconds=60)
    assert aws("dms").stop_replication_task(ReplicationTaskArn=arn)["ReplicationTask"]["Status"] == "stopped"
    [task] = [t for t in control.replication_tasks() if t["task_arn"] == arn]
    assert task["status"] == "stopped" and task["latency"] is None
    onprem_sql(
        migration,
        "INSERT INTO payments (idempotency_key, request_hash, amount, currency, merchant_id) "
        "VALUES ('while-stopped', repeat('b', 64), 5.00, 'EUR', 'merchant-cdc')",
    )

    aws("dms").start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="resume-processing")
    arrived = wait_until(
        lambda: (
            aurora_sql(aws, migration, "SELECT count(*) FROM payments WHERE idempotency_key = 'while-stopped'") == [[1]]
        ),
        seconds=60,
    )
    assert arrived and task_state(aws, arn)["Status"] == "running"
    with pytest.raises(aws("dms").exceptions.InvalidResourceStateFault):
        aws("dms").start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")


def test_a_reverse_cdc_task_starts_from_the_flip_position(aws: Callable[[str], Any], migration: dict[str, Any]) -> None:
    dms = aws("dms")
    forward = migration["task"]["ReplicationTaskArn"]
    if task_state(aws, forward)["Status"] == "running":
        dms.stop_replication_task(ReplicationTaskArn=forward)  # one direction at a time
    slot = unique("reverse").replace("-", "_")
    aurora_sql(aws, migration, f"CREATE PUBLICATION {slot}_pub FOR TABLE payments")  # the slot's publication first
    aurora_sql(aws, migration, f"SELECT lsn FROM pg_create_logical_replication_slot('{slot}', 'pgoutput')")
    aurora_sql(
        aws,
        migration,
        "INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, "
        "merchant_id, status, created_at) VALUES (gen_random_uuid(), 'before-flip', "
        "repeat('c', 64), 1.00, 'EUR', 'merchant-new', 'PENDING', now())",
    )
    [[flip]] = aurora_sql(aws, migration, "SELECT CAST(pg_current_wal_lsn() AS text)")
    aurora_sql(
        aws,
        migration,
        "INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, "
        "merchant_id, status, created_at) VALUES (gen_random_uuid(), 'after-flip', "
        "repeat('d', 64), 2.00, 'EUR', 'merchant-new', 'PENDING', now())",
    )
    source = dms.create_endpoint(
        EndpointIdentifier=unique("aurora-src"),
        EndpointType="source",
        EngineName="aurora-postgresql",
        DatabaseName="payments",
        ServerName=f"{migration['cluster']['identifier']}.cluster-local",
        PostgreSQLSettings={
            "SecretsManagerSecretId": migration["cluster"]["secret"],
            "SecretsManagerAccessRoleArn": "x",
            "SlotName": slot,
        },
    )
    onprem_secret = aws("secretsmanager").create_secret(
        Name=unique("onprem-target"),
        SecretString=json.dumps(
            {"username": migration["onprem"]["username"], "password": migration["onprem"]["password"]}
        ),
    )["ARN"]
    target = dms.create_endpoint(
        EndpointIdentifier=unique("onprem-tgt"),
        EndpointType="target",
        EngineName="postgres",
        DatabaseName=migration["source_db"],
        PostgreSQLSettings={"SecretsManagerSecretId": onprem_secret, "SecretsManagerAccessRoleArn": "x"},
    )
    reverse = dms.create_replication_task(
        ReplicationTaskIdentifier=unique("reverse"),
        MigrationType="cdc",
        TableMappings=MAPPINGS,
        ReplicationInstanceArn=migration["instance"]["ReplicationInstanceArn"],
        ReplicationTaskSettings=SETTINGS,
        SourceEndpointArn=source["Endpoint"]["EndpointArn"],
        TargetEndpointArn=target["Endpoint"]["EndpointArn"],
        CdcStartPosition=flip,
    )["ReplicationTask"]
    dms.start_replication_task(
        ReplicationTaskArn=reverse["ReplicationTaskArn"], StartReplicationTaskType="start-replication"
    )

    def on_legacy(key: str) -> int:
        return onprem_sql(migration, "SELECT count(*) FROM payments WHERE idempotency_key = :key", key=key)[0][0]

    reverse_arn = reverse["ReplicationTaskArn"]
    assert wait_until(lambda: on_legacy("after-flip") == 1, seconds=60), (
        task_state(aws, reverse_arn).get("Status"),
        task_state(aws, reverse_arn).get("LastFailureMessage"),
    )
    assert on_legacy("before-flip") == 0  # before the start position: not this task's to replicate
    assert task_state(aws, reverse["ReplicationTaskArn"])["CdcStartPosition"] == flip


def test_wrong_endpoint_credentials_fail_the_task(aws: Callable[[str], Any], migration: dict[str, Any]) -> None:
    dms = aws("dms")
    secret = aws("secretsmanager").create_secret(
        Name=unique("bad-source"),
        SecretString=json.dumps({"username": migration["onprem"]["username"], "password": "not-the-password"}),
    )["ARN"]
    source = dms.create_endpoint(
        EndpointIdentifier=unique("bad"),
        EndpointType="source",
        EngineName="postgres",
        DatabaseName=migration["source_db"],
        PostgreSQLSettings={"SecretsManagerSecretId": secret, "SecretsManagerAccessRoleArn": "x"},
    )
    task = dms.create_replication_task(
        ReplicationTaskIdentifier=unique("bad"),
        MigrationType="full-load-and-cdc",
        TableMappings=MAPPINGS,
        ReplicationInstanceArn=migration["instance"]["ReplicationInstanceArn"],
        ReplicationTaskSettings=SETTINGS,
        SourceEndpointArn=source["Endpoint"]["EndpointArn"],
        TargetEndpointArn=migration["target"]["EndpointArn"],
    )["ReplicationTask"]
    dms.start_replication_task(
        ReplicationTaskArn=task["ReplicationTaskArn"], StartReplicationTaskType="start-replication"
    )
    failed = wait_until(
        lambda: (t := task_state(aws, task["ReplicationTaskArn"]))["Status"] == "failed" and t, seconds=60
    )
    assert failed and "Test connection for the source endpoint" in failed["LastFailureMessage"]
    assert "password authentication failed" in failed["LastFailureMessage"]
