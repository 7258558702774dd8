"""The operator's side of the rehearsal: the runbook's steps, through the same calls an operator makes.

Fill the DMS endpoint secrets, start forward replication, let the validator report READY (its schedule
fired through the emulator's control endpoint instead of waited for), invoke the cutover driver
(traffic_shifter) and watch the rollback that a critical alarm triggers. Every cutover step is the
deployed function, invoked through the emulator's Lambda API; nothing here moves routing by itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.local_aws.client import LocalAwsControl

POLL_SECONDS = 0.5


class RehearsalError(RuntimeError):
    """The rehearsal could not go on; the message says what happened."""


def invoke(lambda_client: Any, function_name: str, payload: dict) -> dict:
    """A synchronous invocation's answer; RehearsalError with the error payload when the function failed."""
    answer = lambda_client.invoke(
        FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
    )
    body = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        raise RehearsalError(f"{function_name} {payload} failed: {json.dumps(body)[:1500]}")
    return body


def wait_for(what: str, check: Callable[[], Any], timeout: float, poll: float = POLL_SECONDS) -> Any:
    """check()'s first truthy answer; RehearsalError naming `what` after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            raise RehearsalError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)


# --------------------------------------------------------------------------- replication
def put_secret(secrets: Any, secret_arn: str, document: dict) -> None:
    secrets.put_secret_value(SecretId=secret_arn, SecretString=json.dumps(document))


def onprem_login(control: LocalAwsControl) -> dict:
    """The on-premises stand-in's owner login (the emulator made it with the source endpoint)."""
    databases = control.onprem_databases()
    if len(databases) != 1:
        raise RehearsalError(f"expected one on-premises stand-in database, the emulator has {sorted(databases)}")
    return next(iter(databases.values()))


def aurora_master_login(secrets: Any, master_secret_arn: str) -> dict:
    return json.loads(secrets.get_secret_value(SecretId=master_secret_arn)["SecretString"])


def task_status(dms: Any, task_arn: str) -> str | None:
    tasks = dms.describe_replication_tasks(
        Filters=[{"Name": "replication-task-arn", "Values": [task_arn]}], WithoutSettings=True
    )["ReplicationTasks"]
    return tasks[0]["Status"] if tasks else None


def ensure_forward_running(dms: Any, task_arn: str, timeout: float = 120.0) -> str:
    """Starts the forward task when it has never run; returns how it was found ("started" or its status)."""
    status = task_status(dms, task_arn)
    if status is None:
        raise RehearsalError(f"the forward replication task {task_arn} does not exist")
    found = status
    if status == "ready":
        dms.start_replication_task(ReplicationTaskArn=task_arn, StartReplicationTaskType="start-replication")
        found = "started"
    elif status != "running":
        raise RehearsalError(
            f"the forward replication task is {status!r}: the rehearsal needs a fresh one (ready) or a running one"
        )
    wait_for("the forward replication task to run", lambda: task_status(dms, task_arn) == "running", timeout)
    return found


def tables_loaded(dms: Any, task_arn: str) -> bool:
    statistics = dms.describe_table_statistics(ReplicationTaskArn=task_arn)["TableStatistics"]
    return bool(statistics) and all(table["TableState"] == "Table completed" for table in statistics)


def tables_validated(dms: Any, task_arn: str) -> bool:
    """Every table loaded and validated: what the validator checks first (a run before it publishes a 0,
    which keeps the latest minute's Minimum at 0 for up to a minute)."""
    statistics = dms.describe_table_statistics(ReplicationTaskArn=task_arn)["TableStatistics"]
    return bool(statistics) and all(
        table["TableState"] == "Table completed" and table.get("ValidationState") == "Validated" for table in statistics
    )


# --------------------------------------------------------------------------- readiness
def validator_rule(events: Any, validator_arn: str) -> str:
    names = events.list_rule_names_by_target(TargetArn=validator_arn)["RuleNames"]
    if len(names) != 1:
        raise RehearsalError(f"expected one schedule for the validator, found {names}")
    return names[0]


def latest_readiness(cloudwatch: Any, namespace: str, metric: str) -> float | None:
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        StartTime=now - timedelta(minutes=15),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Minimum"],
    )["Datapoints"]
    return min(points, key=lambda point: -point["Timestamp"].timestamp())["Minimum"] if points else None


def fire_validator(control: LocalAwsControl, rule: str, *, account: str, region: str) -> None:
    """Runs the validator's schedule now and waits for that run to end."""
    for fired in control.fire_rule(rule, account=account, region=region):
        state = control.wait_for_invocation(fired["request_id"], timeout=90)
        if state["status"] != "succeeded":
            raise RehearsalError(f"the validator's scheduled run ended {state['status']}: {state.get('errors')}")


def publish_latency(control: LocalAwsControl, task_arn: str, timeout: float = 60.0) -> None:
    """Publishes the task's CDC latency now, once it replicates (the validator needs a datapoint)."""
    task_id = task_arn.rsplit(":", 1)[-1]
    wait_for(
        f"CDC latency datapoints of {task_id}",
        lambda: any(entry["task"] == task_id for entry in control.publish_replication_metrics()),
        timeout,
    )


def wait_until_ready(
    control: LocalAwsControl,
    cloudwatch: Any,
    dms: Any,
    *,
    rule: str,
    namespace: str,
    metric: str,
    task_arn: str,
    account: str,
    region: str,
    timeout: float = 180.0,
) -> int:
    """Fires the validator's schedule until its latest datapoint says READY (1); returns the runs it took.

    The driver reads the latest one-minute period's Minimum, so a NOT_READY earlier in the same minute
    keeps it waiting until the next minute: this waits just as long.
    """
    runs = 0

    def ready() -> bool:
        nonlocal runs
        wait_for("every table validated", lambda: tables_validated(dms, task_arn), timeout)
        publish_latency(control, task_arn)
        fire_validator(control, rule, account=account, region=region)
        runs += 1
        return latest_readiness(cloudwatch, namespace, metric) == 1

    wait_for(f"the validator to publish {metric} = 1", ready, timeout, poll=2.0)
    return runs


# --------------------------------------------------------------------------- the cutover
def critical_alarm_message(alarm_name: str, region: str, account: str) -> str:
    """What CloudWatch publishes to an alarm's SNS action when it goes into ALARM."""
    return json.dumps(
        {
            "AlarmName": alarm_name,
            "AlarmDescription": "forced by the rehearsal",
            "AWSAccountId": account,
            "NewStateValue": "ALARM",
            "NewStateReason": "Rehearsal: a critical alarm fires while Aurora is the writer",
            "StateChangeTime": datetime.now(UTC).isoformat(),
            "Region": region,
            "OldStateValue": "OK",
        }
    )


def critical_alarm_name(cloudwatch: Any, prefix: str) -> str:
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    if not alarms:
        raise RehearsalError(f"no alarm named {prefix}*: nothing critical to force")
    return sorted(alarm["AlarmName"] for alarm in alarms)[0]


# --------------------------------------------------------------------------- DMS endpoint secrets
def endpoint_secret_documents(
    dms: Any, task_arns: list[str], *, onprem: dict, aurora: dict, aurora_host: str
) -> dict[str, dict]:
    """{secret ARN: credentials} for every endpoint of the tasks: what the runbook's operator fills in.

    An Aurora endpoint gets the Aurora login (the master user may replicate, as `rds_replication` does);
    an on-premises one the stand-in's owner. The endpoint's database name is kept, so the secret logs in
    where the endpoint points.
    """
    documents = {}
    for task_arn in task_arns:
        task = dms.describe_replication_tasks(
            Filters=[{"Name": "replication-task-arn", "Values": [task_arn]}], WithoutSettings=True
        )["ReplicationTasks"][0]
        for endpoint_arn in (task["SourceEndpointArn"], task["TargetEndpointArn"]):
            endpoint = dms.describe_endpoints(Filters=[{"Name": "endpoint-arn", "Values": [endpoint_arn]}])[
                "Endpoints"
            ][0]
            settings = endpoint.get("PostgreSQLSettings") or {}
            secret = settings.get("SecretsManagerSecretId")
            if not secret:
                continue
            database = endpoint.get("DatabaseName") or settings.get("DatabaseName")
            if endpoint["EngineName"].startswith("aurora"):
                documents[secret] = {
                    "username": aurora["username"],
                    "password": aurora["password"],
                    "host": aurora_host,
                    "port": 5432,
                    "dbname": database,
                }
            else:
                documents[secret] = {
                    "username": onprem["username"],
                    "password": onprem["password"],
                    "host": onprem["host"],
                    "port": onprem["port"],
                    "dbname": database,
                }
    return documents
