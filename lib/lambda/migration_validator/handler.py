"""Migration validator: decides whether the DMS migration is ready for traffic cutover.

Environment:
    REPLICATION_TASK_ARN            DMS replication task ARN
    REPLICATION_INSTANCE_ID         DMS replication instance identifier
    CDC_LATENCY_THRESHOLD_SECONDS   optional, default 300 (number >= 0)
    ALERT_TOPIC_ARN                 SNS topic notified when NOT_READY
    METRIC_NAMESPACE                namespace of the readiness metric
    READY_METRIC_NAME               name of the readiness metric (1 = ready, 0 = not)
    LOG_LEVEL                       optional, default INFO

Event: ignored (meant for a schedule).

Response:
    {"status": "READY" | "NOT_READY",
     "reasons": [str, ...],                      # empty when READY
     "tables": [{"schema": str, "table": str, "ready": bool, "reasons": [str, ...]}, ...],
     "task_status": str | null,
     "latency_seconds": {"CDCLatencySource": float | null, "CDCLatencyTarget": float | null},
     "threshold_seconds": float,
     "checked_at": ISO-8601 UTC,
     "metric_published": bool, "alert_published": bool}

READY only when the task is running, at least one table is reported, every table has
TableState "Table completed", no full-load error rows, ValidationState "Validated", no
failed or suspended validation records, and the latest CDCLatencySource and
CDCLatencyTarget datapoints of the last 10 minutes both exist and are <= the threshold.
Missing data (no such task, no datapoints) counts as NOT_READY.
Publishes READY_METRIC_NAME (1 or 0, no dimensions) to METRIC_NAMESPACE on every run and an
SNS alert to ALERT_TOPIC_ARN on NOT_READY.

Failures are raised, never turned into a result: a configuration error, or an AWS request that
fails after botocore's retries (DMS, CloudWatch, SNS). When the evaluation itself fails, a 0 is
still published first (best effort), so no stale READY outlives it; then the error propagates, the
scheduled invocation is retried and the function's -errors alarm fires.
"""

import json
import logging
import math
import os
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from lambda_support import error_code, handler_toolkit, invocation_logging, require_environment

DEFAULT_LATENCY_THRESHOLD_SECONDS = 300.0
LATENCY_WINDOW_SECONDS = 600
LATENCY_PERIOD_SECONDS = 60
LATENCY_METRICS = ("CDCLatencySource", "CDCLatencyTarget")
TABLE_COMPLETED = "Table completed"
VALIDATED = "Validated"
TASK_RUNNING = "running"
MAX_REASONS_IN_ALERT = 50
# boto3 loads lazily with the first client: bad requests are answered without paying for it.
LOGGER, log, aws_client = handler_toolkit("migration_validator", retries={"mode": "standard", "max_attempts": 5})
_clients = aws_client.cache  # tests may pre-fill it


# --------------------------------------------------------------------------- configuration
class ConfigError(Exception):
    """The function's environment is incomplete or invalid."""


def load_config():
    require_environment(
        ("REPLICATION_TASK_ARN", "REPLICATION_INSTANCE_ID", "ALERT_TOPIC_ARN", "METRIC_NAMESPACE", "READY_METRIC_NAME"),
        ConfigError,
    )
    raw_threshold = os.environ.get("CDC_LATENCY_THRESHOLD_SECONDS") or str(DEFAULT_LATENCY_THRESHOLD_SECONDS)
    try:
        threshold = float(raw_threshold)
    except ValueError:
        threshold = -1.0
    if not math.isfinite(threshold) or threshold < 0:
        raise ConfigError("CDC_LATENCY_THRESHOLD_SECONDS must be a number >= 0")
    task_arn = os.environ["REPLICATION_TASK_ARN"]
    return {
        "task_arn": task_arn,
        "task_id": task_arn.rsplit(":", 1)[-1],
        "instance_id": os.environ["REPLICATION_INSTANCE_ID"],
        "threshold": threshold,
        "topic_arn": os.environ["ALERT_TOPIC_ARN"],
        "namespace": os.environ["METRIC_NAMESPACE"],
        "metric_name": os.environ["READY_METRIC_NAME"],
    }


# --------------------------------------------------------------------------- DMS
def fetch_task_status(task_arn):
    """Status of the replication task, or None when DMS does not know it."""
    try:
        response = aws_client("dms").describe_replication_tasks(
            Filters=[{"Name": "replication-task-arn", "Values": [task_arn]}],
            WithoutSettings=True,
        )
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundFault":
            return None
        raise
    tasks = response.get("ReplicationTasks", [])
    return tasks[0].get("Status") if tasks else None


def fetch_table_statistics(task_arn):
    """All TableStatistics entries of the task, following every Marker."""
    tables, marker = [], None
    while True:
        request = {"ReplicationTaskArn": task_arn, "MaxRecords": 500}
        if marker:
            request["Marker"] = marker
        page = aws_client("dms").describe_table_statistics(**request)
        tables.extend(page.get("TableStatistics", []))
        marker = page.get("Marker")
        if not marker:
            return tables


def evaluate_table(stats):
    reasons = []
    table_state = stats.get("TableState")
    if table_state != TABLE_COMPLETED:
        reasons.append(f"full load not complete (TableState is {table_state!r})")
    if stats.get("FullLoadErrorRows", 0) > 0:
        reasons.append(f"{stats['FullLoadErrorRows']} full-load error row(s)")
    validation_state = stats.get("ValidationState")
    if validation_state != VALIDATED:
        reasons.append(f"ValidationState is {validation_state!r}, expected {VALIDATED!r}")
    if stats.get("ValidationFailedRecords", 0) > 0:
        reasons.append(f"{stats['ValidationFailedRecords']} record(s) failed validation")
    if stats.get("ValidationSuspendedRecords", 0) > 0:
        reasons.append(f"{stats['ValidationSuspendedRecords']} record(s) with suspended validation")
    return {
        "schema": stats.get("SchemaName"),
        "table": stats.get("TableName"),
        "ready": not reasons,
        "reasons": reasons,
    }


# --------------------------------------------------------------------------- CloudWatch
def fetch_latest_latency(metric_name, config, now):
    """Maximum of the most recent datapoint in the window, or None when there is none."""
    response = aws_client("cloudwatch").get_metric_statistics(
        Namespace="AWS/DMS",
        MetricName=metric_name,
        Dimensions=[
            {"Name": "ReplicationInstanceIdentifier", "Value": config["instance_id"]},
            {"Name": "ReplicationTaskIdentifier", "Value": config["task_id"]},
        ],
        StartTime=now - timedelta(seconds=LATENCY_WINDOW_SECONDS),
        EndTime=now,
        Period=LATENCY_PERIOD_SECONDS,
        Statistics=["Maximum"],
    )
    datapoints = response.get("Datapoints", [])
    if not datapoints:
        return None
    return float(max(datapoints, key=lambda point: point["Timestamp"])["Maximum"])


def latency_reasons(latencies, threshold):
    reasons = []
    for metric_name, value in latencies.items():
        if value is None:
            reasons.append(
                f"no {metric_name} datapoints in the last {LATENCY_WINDOW_SECONDS} seconds "
                "(missing data is treated as not ready)"
            )
        elif value > threshold:
            reasons.append(f"{metric_name} is {value:g}s, above the {threshold:g}s threshold")
    return reasons


# --------------------------------------------------------------------------- evaluation
def check_task(config):
    status = fetch_task_status(config["task_arn"])
    if status is None:
        return None, ["replication task not found"]
    if status != TASK_RUNNING:
        return status, [f"replication task status is {status!r}, expected {TASK_RUNNING!r}"]
    return status, []


def check_tables(config):
    statistics = fetch_table_statistics(config["task_arn"])
    tables = [evaluate_table(stats) for stats in statistics]
    if not tables:
        return tables, ["no table statistics reported for the replication task"]
    reasons = [f"{table['schema']}.{table['table']}: {reason}" for table in tables for reason in table["reasons"]]
    return tables, reasons


def check_latency(config, now):
    latencies = {metric_name: fetch_latest_latency(metric_name, config, now) for metric_name in LATENCY_METRICS}
    return latencies, latency_reasons(latencies, config["threshold"])


def evaluate(config, now):
    task_status, task_reasons = check_task(config)
    tables, table_reasons = check_tables(config)
    latencies, latency_problems = check_latency(config, now)
    reasons = task_reasons + table_reasons + latency_problems
    return {
        "status": "NOT_READY" if reasons else "READY",
        "reasons": reasons,
        "tables": tables,
        "task_status": task_status,
        "latency_seconds": latencies,
        "threshold_seconds": config["threshold"],
        "checked_at": now.isoformat(),
    }


# --------------------------------------------------------------------------- publication
def publish_readiness_metric(config, ready, now):
    aws_client("cloudwatch").put_metric_data(
        Namespace=config["namespace"],
        MetricData=[{"MetricName": config["metric_name"], "Value": 1.0 if ready else 0.0, "Timestamp": now}],
    )
    return True


def alert_message(result, config):
    reasons = result["reasons"]
    shown = reasons[:MAX_REASONS_IN_ALERT]
    if len(reasons) > len(shown):
        shown.append(f"... and {len(reasons) - len(shown)} more")
    return json.dumps(
        {
            "status": result["status"],
            "replication_task_arn": config["task_arn"],
            "reasons": shown,
            "latency_seconds": result["latency_seconds"],
            "checked_at": result["checked_at"],
        },
        indent=2,
    )


def publish_alert(result, config):
    aws_client("sns").publish(
        TopicArn=config["topic_arn"],
        Subject=f"DMS migration NOT_READY: {config['task_id']}"[:100],
        Message=alert_message(result, config),
    )
    return True


def publish_not_ready_after_failure(config, now):
    """Best effort after a failed evaluation: a 0, so the last READY does not stay the latest datapoint."""
    try:
        publish_readiness_metric(config, False, now)
    except (ClientError, BotoCoreError) as error:
        log(logging.ERROR, "put_metric_data failed after a failed evaluation", error_code=error_code(error))


# --------------------------------------------------------------------------- entry point
@invocation_logging(log)
def handler(event, context):
    now = datetime.now(UTC)
    try:
        config = load_config()
    except ConfigError as error:
        log(logging.ERROR, "configuration error", error=str(error))
        raise
    try:
        result = evaluate(config, now)
    except Exception as error:
        log(logging.ERROR, "evaluation failed", error_type=type(error).__name__, error=str(error)[:1000], exc_info=True)
        publish_not_ready_after_failure(config, now)
        raise
    ready = result["status"] == "READY"
    result["metric_published"] = publish_readiness_metric(config, ready, now)
    result["alert_published"] = False if ready else publish_alert(result, config)
    log(
        logging.INFO if ready else logging.WARNING,
        "migration readiness evaluated",
        status=result["status"],
        reasons=result["reasons"],
        tables=len(result["tables"]),
        latency_seconds=result["latency_seconds"],
    )
    return result
