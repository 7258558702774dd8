"""What the cutover driver (traffic_shifter) and rollback do to AWS, one small function per interaction.

Shared by both functions so that a rollback can finish or undo a flip whose driver died, with
the same code. Every operation is idempotent: it looks at the resource first and changes it
only when it is not already as wanted. docs/cutover.md says which step uses which.

Configuration (environment; `load_config` checks it and raises ConfigError naming what is wrong):
    HOSTED_ZONE_ID, RECORD_NAME          the weighted records (NEW_/LEGACY_SET_IDENTIFIER optional)
    CUTOVER_STATE_PARAMETER              SSM parameter holding the cutover state (cutover_state)
    WRITE_RULE_ARN                       the ALB listener rule that forwards POST/PUT/PATCH/DELETE
    API_TARGET_GROUP_ARN                 the payment API's Lambda target group
    CRITICAL_ALARM_PREFIX                alarms whose name starts with it block increases and the flip
    METRIC_NAMESPACE, READY_METRIC_NAME  the validator's readiness metric (1 = ready)
    READINESS_MAX_AGE_SECONDS            optional, default 900 (60..86400)
    DNS_HOLD_SECONDS                     optional (0..3600): how long the new weight must be 100 before a flip,
                                         instead of 2 x the records' TTL; only where every resolver is known
                                         to honour a shorter TTL (the local rehearsal's clients)
    LEGACY_TARGET_GROUP_ARN              the legacy IP target group; empty when there is no legacy
                                         system (then Aurora is the writer from the start and the
                                         variables below are not needed)
  with a legacy system:
    FORWARD_TASK_ARN, REVERSE_TASK_ARN   DMS tasks on-premises -> Aurora (full-load-and-cdc) and
                                         Aurora -> on-premises (cdc only, started at the flip LSN)
    REPLICATION_INSTANCE_ID              DMS instance (dimension of the CDC latency metrics)
    DB_CLUSTER_ARN, DB_SECRET_ARN, DB_NAME
                                         Data API access to Aurora as the cutover's login, which the
                                         schema_migrations function keeps: it may create and drop
                                         replication slots (rds_replication) and lock the tables in
                                         CUTOVER_TABLES (UPDATE); no DDL
    CUTOVER_TABLES                       comma-separated schema.table list the reverse task carries
    REVERSE_SLOT_NAME                    logical slot on Aurora = the reverse source endpoint's SlotName
    REVERSE_SLOT_PLUGIN                  optional: test_decoding (default, as DMS reads it on AWS) or
                                         pgoutput (with REVERSE_PUBLICATION: the local emulator)
    REVERSE_PUBLICATION                  publication of CUTOVER_TABLES the slot decodes with (pgoutput), made by
                                         the schema_migrations function
    DMS_CONTROL_SCHEMA                   optional, default public: where awsdms_apply_exceptions lives
    ALERT_TOPIC_ARN                      SNS topic for "payments may not have reached legacy" alerts
    FLIP_MAX_CDC_LATENCY_SECONDS         optional, default 3 (0..300): forward CDC latency the flip accepts
    CUTOVER_MAX_PAUSE_SECONDS            optional, default 20 (5..120): hard limit of a write pause
    DRAIN_QUIET_SECONDS                  optional, default 3 (1..60): how long replication must stay
                                         validated and unchanged to count as drained
    IN_FLIGHT_SECONDS                    optional, default 1 (0..30): wait for writes already on their
                                         way when a pause starts (ALB -> legacy, API -> Aurora)
    TAKEOVER_AFTER_SECONDS               optional, default 900 (60..3600): after this long another
                                         function's unfinished claim or step is taken over (must be
                                         at least the driver's and rollback's timeouts)
"""

import json
import os
import re
from dataclasses import dataclass
from datetime import timedelta

from botocore.exceptions import ClientError

from lambda_support import error_code
from route53_weights import (
    alias_health_upserts,
    list_records_by_set,
    submit_changes,
    weight_upserts,
    weighted_record_config,
)

TOTAL_WEIGHT = 100
ALIAS_TTL_SECONDS = 60  # Route53 answers alias records to an ALB with the ALB's TTL, 60 s
LATENCY_METRICS = ("CDCLatencySource", "CDCLatencyTarget")
LATENCY_WINDOW_SECONDS = 600
TASK_RUNNING = "running"
TASK_IDLE = ("ready", "stopped")
TASK_HALTED = ("ready", "stopped", "failed", None)  # not replicating (None: no such task)
TABLE_COMPLETED = "Table completed"
VALIDATED = "Validated"
SLOT_PLUGINS = ("test_decoding", "pgoutput")
IDENTIFIER = r"[a-z_][a-z0-9_$]{0,62}"
IDENTIFIER_PATTERN = re.compile(IDENTIFIER)
TABLE_PATTERN = re.compile(rf"({IDENTIFIER})\.({IDENTIFIER})")
LOCK_TIMEOUT = "5s"

BASE_VARIABLES = (
    "HOSTED_ZONE_ID",
    "RECORD_NAME",
    "CUTOVER_STATE_PARAMETER",
    "WRITE_RULE_ARN",
    "API_TARGET_GROUP_ARN",
    "CRITICAL_ALARM_PREFIX",
    "METRIC_NAMESPACE",
    "READY_METRIC_NAME",
)
LEGACY_VARIABLES = (
    "FORWARD_TASK_ARN",
    "REVERSE_TASK_ARN",
    "REPLICATION_INSTANCE_ID",
    "DB_CLUSTER_ARN",
    "DB_SECRET_ARN",
    "DB_NAME",
    "CUTOVER_TABLES",
    "REVERSE_SLOT_NAME",
    "ALERT_TOPIC_ARN",
)


class ConfigError(Exception):
    """The function's environment is incomplete or invalid (a deployment error: raised)."""


class CutoverFailed(Exception):
    """A step could not be carried out (raised, so Lambda retries and the -errors alarm fires)."""


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class Config:
    records: dict
    state_parameter: str
    write_rule_arn: str
    api_target_group_arn: str
    legacy_target_group_arn: str | None
    alarm_prefix: str
    namespace: str
    ready_metric: str
    readiness_max_age: int
    forward_task_arn: str | None = None
    reverse_task_arn: str | None = None
    replication_instance_id: str | None = None
    database: dict | None = None
    tables: tuple = ()
    slot_name: str | None = None
    slot_plugin: str = "test_decoding"
    publication: str | None = None
    control_schema: str = "public"
    alert_topic_arn: str | None = None
    max_cdc_latency: float = 3.0
    max_pause: float = 20.0
    drain_quiet: float = 3.0
    in_flight: float = 1.0
    takeover_after: float = 900.0
    dns_hold: float | None = None  # seconds; None: 2 x the records' TTL

    @property
    def has_legacy(self):
        return self.legacy_target_group_arn is not None


def _number(environ, name, default, low, high):
    raw = environ.get(name) or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ConfigError(f"{name}={raw[:32]!r} is invalid: must be a number from {low:g} to {high:g}")
    return value


def _identifier(environ, name, default=None):
    value = environ.get(name) or default
    if value is None:
        return None
    if not IDENTIFIER_PATTERN.fullmatch(value):
        raise ConfigError(f"{name}={value[:64]!r} is invalid: must be a lower-case PostgreSQL identifier")
    return value


def _tables(raw):
    tables = tuple(part.strip() for part in raw.split(",") if part.strip())
    bad = [table for table in tables if not TABLE_PATTERN.fullmatch(table)]
    if not tables or bad:
        raise ConfigError(
            f"CUTOVER_TABLES={raw[:128]!r} is invalid: must be a comma-separated list of lower-case schema.table names"
        )
    return tables


def load_config(environ=None):
    environ = os.environ if environ is None else environ
    has_legacy = bool(environ.get("LEGACY_TARGET_GROUP_ARN"))
    required = BASE_VARIABLES + (LEGACY_VARIABLES if has_legacy else ())
    missing = [name for name in required if not environ.get(name)]
    if missing:
        raise ConfigError("missing environment variable(s): " + ", ".join(missing))
    try:
        records = weighted_record_config(environ)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    config = dict(
        records=records,
        state_parameter=environ["CUTOVER_STATE_PARAMETER"],
        write_rule_arn=environ["WRITE_RULE_ARN"],
        api_target_group_arn=environ["API_TARGET_GROUP_ARN"],
        legacy_target_group_arn=environ.get("LEGACY_TARGET_GROUP_ARN") or None,
        alarm_prefix=environ["CRITICAL_ALARM_PREFIX"],
        namespace=environ["METRIC_NAMESPACE"],
        ready_metric=environ["READY_METRIC_NAME"],
        readiness_max_age=int(_number(environ, "READINESS_MAX_AGE_SECONDS", 900, 60, 86400)),
        takeover_after=_number(environ, "TAKEOVER_AFTER_SECONDS", 900, 60, 3600),
        dns_hold=_number(environ, "DNS_HOLD_SECONDS", 0, 0, 3600) if environ.get("DNS_HOLD_SECONDS") else None,
    )
    if has_legacy:
        config.update(_legacy_config(environ))
    return Config(**config)


def _legacy_config(environ):
    plugin = environ.get("REVERSE_SLOT_PLUGIN") or "test_decoding"
    if plugin not in SLOT_PLUGINS:
        raise ConfigError(f"REVERSE_SLOT_PLUGIN={plugin[:32]!r} is invalid: must be one of {', '.join(SLOT_PLUGINS)}")
    publication = _identifier(environ, "REVERSE_PUBLICATION")
    if plugin == "pgoutput" and publication is None:
        raise ConfigError("REVERSE_PUBLICATION is required with REVERSE_SLOT_PLUGIN=pgoutput")
    max_pause = _number(environ, "CUTOVER_MAX_PAUSE_SECONDS", 20, 5, 120)
    drain_quiet = _number(environ, "DRAIN_QUIET_SECONDS", 3, 1, 60)
    in_flight = _number(environ, "IN_FLIGHT_SECONDS", 1, 0, 30)
    if drain_quiet + in_flight >= max_pause:
        raise ConfigError(
            f"DRAIN_QUIET_SECONDS + IN_FLIGHT_SECONDS ({drain_quiet + in_flight:g}) must be below "
            f"CUTOVER_MAX_PAUSE_SECONDS ({max_pause:g})"
        )
    return dict(
        forward_task_arn=environ["FORWARD_TASK_ARN"],
        reverse_task_arn=environ["REVERSE_TASK_ARN"],
        replication_instance_id=environ["REPLICATION_INSTANCE_ID"],
        database={
            "resourceArn": environ["DB_CLUSTER_ARN"],
            "secretArn": environ["DB_SECRET_ARN"],
            "database": environ["DB_NAME"],
        },
        tables=_tables(environ["CUTOVER_TABLES"]),
        slot_name=_identifier(environ, "REVERSE_SLOT_NAME"),
        slot_plugin=plugin,
        publication=publication,
        control_schema=_identifier(environ, "DMS_CONTROL_SCHEMA", "public"),
        alert_topic_arn=environ["ALERT_TOPIC_ARN"],
        max_cdc_latency=_number(environ, "FLIP_MAX_CDC_LATENCY_SECONDS", 3, 0, 300),
        max_pause=max_pause,
        drain_quiet=drain_quiet,
        in_flight=in_flight,
    )


# --------------------------------------------------------------------------- Route53
def weighted_records(aws_client, config):
    """(new records, legacy records, {"new": w, "legacy": w}); CutoverFailed when they are not a pair."""
    new_records, legacy_records = list_records_by_set(aws_client("route53"), config.records)
    name = config.records["record_name"]
    if not legacy_records or not new_records:
        which = "legacy" if not legacy_records else "new"
        raise CutoverFailed(f"{which} record {name} (set identifier {config.records[which + '_id']!r}) not found")
    new_types = sorted(record["Type"] for record in new_records)
    legacy_types = sorted(record["Type"] for record in legacy_records)
    if new_types != legacy_types:
        raise CutoverFailed(f"record types differ between new {new_types} and legacy {legacy_types}")
    return (
        new_records,
        legacy_records,
        {"new": _set_weight(new_records, "new"), "legacy": _set_weight(legacy_records, "legacy")},
    )


def _set_weight(records, what):
    weights = {record.get("Weight") for record in records}
    if len(weights) != 1 or None in weights:
        raise CutoverFailed(f"{what} records have inconsistent or missing weights: {sorted(map(str, weights))}")
    return weights.pop()


def record_ttl(records):
    """The longest time a resolver may keep an answer of these records."""
    return max(record.get("TTL", ALIAS_TTL_SECONDS) for record in records)


def set_weights(aws_client, config, new_records, legacy_records, new_weight, comment):
    """Both sets to new_weight / 100 - new_weight in ONE change batch; None when already there."""
    changes = weight_upserts(
        ((new_records, new_weight), (legacy_records, TOTAL_WEIGHT - new_weight)), skip_unchanged=True
    )
    if not changes:
        return None
    return submit_changes(aws_client("route53"), config.records["zone_id"], changes, comment)


def set_new_alias_health(aws_client, config, evaluate, comment):
    """EvaluateTargetHealth of the `new` alias records; None when already so (or no such record)."""
    new_records, _ = list_records_by_set(aws_client("route53"), config.records)
    changes = alias_health_upserts(new_records, evaluate)
    if not changes:
        return None
    return submit_changes(aws_client("route53"), config.records["zone_id"], changes, comment)


# --------------------------------------------------------------------------- ALB write rule
def write_rule_targets(aws_client, config):
    """Target groups the write rule forwards to (weight > 0)."""
    rules = aws_client("elbv2").describe_rules(RuleArns=[config.write_rule_arn])["Rules"]
    targets = []
    for action in rules[0].get("Actions", []) if rules else []:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
        if groups:
            targets += [group["TargetGroupArn"] for group in groups if group.get("Weight", 1) > 0]
        elif action.get("TargetGroupArn"):
            targets.append(action["TargetGroupArn"])
    return sorted(set(targets))


def point_write_rule(aws_client, config, target_group_arn):
    """Forward writes to target_group_arn only; returns False when the rule already did."""
    if write_rule_targets(aws_client, config) == [target_group_arn]:
        return False
    aws_client("elbv2").modify_rule(
        RuleArn=config.write_rule_arn, Actions=[{"Type": "forward", "TargetGroupArn": target_group_arn}]
    )
    return True


def writer_target_group(config, writer):
    return config.legacy_target_group_arn if writer == "legacy" else config.api_target_group_arn


# --------------------------------------------------------------------------- DMS
def describe_task(aws_client, task_arn):
    """The replication task (without settings), or None when DMS does not know it."""
    try:
        tasks = (
            aws_client("dms")
            .describe_replication_tasks(
                Filters=[{"Name": "replication-task-arn", "Values": [task_arn]}],
                WithoutSettings=True,
            )
            .get("ReplicationTasks", [])
        )
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundFault":
            return None
        raise
    return tasks[0] if tasks else None


def task_status(aws_client, task_arn):
    task = describe_task(aws_client, task_arn)
    return task.get("Status") if task else None


def table_statistics(aws_client, task_arn):
    tables, request = [], {"ReplicationTaskArn": task_arn, "MaxRecords": 500}
    while True:
        page = aws_client("dms").describe_table_statistics(**request)
        tables.extend(page.get("TableStatistics", []))
        if not page.get("Marker"):
            return tables
        request["Marker"] = page["Marker"]


def table_problems(statistics):
    """Errors that forbid a flip: a table in error, rows that failed to load or to validate."""
    problems = []
    for stats in statistics:
        name = f"{stats.get('SchemaName')}.{stats.get('TableName')}"
        if stats.get("TableState") != TABLE_COMPLETED:
            problems.append(f"{name}: TableState is {stats.get('TableState')!r}")
        for key in ("FullLoadErrorRows", "ValidationFailedRecords", "ValidationSuspendedRecords"):
            if stats.get(key, 0) > 0:
                problems.append(f"{name}: {key} is {stats[key]}")
    if not statistics:
        problems.append("the forward task reports no tables")
    return problems


def drain_snapshot(statistics):
    """(validated?, counters) of a task's tables: validated when every table is Validated with no
    pending record; counters change whenever the task applies something."""
    validated = bool(statistics) and all(
        stats.get("ValidationState") == VALIDATED
        and stats.get("ValidationPendingRecords", 0) == 0
        and stats.get("TableState") == TABLE_COMPLETED
        for stats in statistics
    )
    counters = tuple(
        sorted(
            (
                stats.get("SchemaName"),
                stats.get("TableName"),
                stats.get("Inserts", 0),
                stats.get("Updates", 0),
                stats.get("Deletes", 0),
            )
            for stats in statistics
        )
    )
    return validated, counters


def request_stop(aws_client, task_arn):
    """Asks DMS to stop the task unless it is stopping or stopped already; returns its status."""
    status = task_status(aws_client, task_arn)
    if status in (TASK_RUNNING, "starting", "resuming"):
        aws_client("dms").stop_replication_task(ReplicationTaskArn=task_arn)
        return "stopping"
    return status


def start_reverse(aws_client, config, lsn):
    """Starts the reverse CDC-only task at `lsn`; nothing when it already runs from there.

    Never `reload-target`: that would truncate the legacy tables.
    """
    task = describe_task(aws_client, config.reverse_task_arn)
    if task is None:
        raise CutoverFailed("the reverse replication task does not exist")
    status = task.get("Status")
    if status in (TASK_RUNNING, "starting"):
        if task.get("CdcStartPosition") not in (None, lsn):
            raise CutoverFailed(f"the reverse task already runs from {task['CdcStartPosition']}, not {lsn}")
        return False
    if status not in ("ready", "stopped", "failed"):
        raise CutoverFailed(f"the reverse task is {status!r}; it can start only when ready or stopped")
    first_run = status == "ready" and not task.get("ReplicationTaskStartDate")
    try:
        aws_client("dms").start_replication_task(
            ReplicationTaskArn=config.reverse_task_arn,
            CdcStartPosition=lsn,
            StartReplicationTaskType="start-replication" if first_run else "resume-processing",
        )
    except ClientError as error:  # started meanwhile by the other cutover function: fine if from `lsn`
        task = (
            describe_task(aws_client, config.reverse_task_arn)
            if error_code(error) == "InvalidResourceStateFault"
            else None
        )
        if (
            task is None
            or task.get("Status") not in (TASK_RUNNING, "starting")
            or task.get("CdcStartPosition") not in (None, lsn)
        ):
            raise
        return False
    return True


def resume_forward(aws_client, config):
    """Resumes the forward task after an aborted flip; returns its status (None = no such task)."""
    status = task_status(aws_client, config.forward_task_arn)
    if status == "stopped":
        aws_client("dms").start_replication_task(
            ReplicationTaskArn=config.forward_task_arn, StartReplicationTaskType="resume-processing"
        )
        return "resuming"
    return status


# --------------------------------------------------------------------------- CloudWatch and SNS
def latest_cdc_latency(aws_client, config, task_arn, now):
    """{metric: latest Maximum or None} of the task's CDC latency in the last 10 minutes."""
    task_id = task_arn.rsplit(":", 1)[-1]
    latencies = {}
    for metric in LATENCY_METRICS:
        datapoints = (
            aws_client("cloudwatch")
            .get_metric_statistics(
                Namespace="AWS/DMS",
                MetricName=metric,
                Dimensions=[
                    {"Name": "ReplicationInstanceIdentifier", "Value": config.replication_instance_id},
                    {"Name": "ReplicationTaskIdentifier", "Value": task_id},
                ],
                StartTime=now - timedelta(seconds=LATENCY_WINDOW_SECONDS),
                EndTime=now,
                Period=60,
                Statistics=["Maximum"],
            )
            .get("Datapoints", [])
        )
        latencies[metric] = (
            float(max(datapoints, key=lambda point: point["Timestamp"])["Maximum"]) if datapoints else None
        )
    return latencies


def latency_problems(latencies, threshold):
    problems = []
    for metric, value in latencies.items():
        if value is None:
            problems.append(f"no forward {metric} datapoint in the last {LATENCY_WINDOW_SECONDS} seconds")
        elif value > threshold:
            problems.append(f"forward {metric} is {value:g}s, above the flip's {threshold:g}s")
    return problems


def readiness_problems(aws_client, config, now):
    datapoints = (
        aws_client("cloudwatch")
        .get_metric_statistics(
            Namespace=config.namespace,
            MetricName=config.ready_metric,
            StartTime=now - timedelta(seconds=config.readiness_max_age),
            EndTime=now,
            Period=60,
            Statistics=["Minimum"],
        )
        .get("Datapoints", [])
    )
    if not datapoints:
        return [
            f"no {config.ready_metric} datapoint in {config.namespace} within the last "
            f"{config.readiness_max_age} seconds"
        ]
    latest = max(datapoints, key=lambda point: point["Timestamp"])
    if latest["Minimum"] != 1:
        return [
            f"latest {config.ready_metric} is {latest['Minimum']:g} (at {latest['Timestamp'].isoformat()}), "
            "migration is not ready"
        ]
    return []


def firing_critical_alarms(aws_client, config):
    names, request = (
        [],
        {
            "AlarmNamePrefix": config.alarm_prefix,
            "StateValue": "ALARM",
            "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        },
    )
    while True:
        page = aws_client("cloudwatch").describe_alarms(**request)
        alarms = page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
        # StateValue is re-checked so that a server that ignores the filter cannot block.
        names += [alarm["AlarmName"] for alarm in alarms if alarm.get("StateValue") == "ALARM"]
        if not page.get("NextToken"):
            return sorted(names)
        request["NextToken"] = page["NextToken"]


def alert(aws_client, config, subject, details):
    aws_client("sns").publish(
        TopicArn=config.alert_topic_arn,
        Subject=subject[:100],
        Message=json.dumps(details, indent=2, sort_keys=True, default=str),
    )


# --------------------------------------------------------------------------- Aurora (Data API)
def _field_value(field):
    if field.get("isNull"):
        return None
    return next(iter(field.values()))


def _quote_identifier(name):
    return '"' + name.replace('"', '""') + '"'


def _table_list(tables):
    return ", ".join(".".join(_quote_identifier(part) for part in table.split(".")) for table in tables)


class Aurora:
    """The few statements the cutover runs on Aurora through the Data API."""

    def __init__(self, aws_client, config):
        self.aws_client = aws_client
        self.config = config

    def rows(self, sql, transaction_id=None, **parameters):
        request = dict(
            self.config.database,
            sql=sql,
            parameters=[{"name": name, "value": {"stringValue": value}} for name, value in sorted(parameters.items())],
        )
        if transaction_id:
            request["transactionId"] = transaction_id
        response = self.aws_client("rds-data").execute_statement(**request)
        return [[_field_value(field) for field in record] for record in response.get("records", [])]

    def current_lsn(self):
        return self.rows("SELECT pg_current_wal_lsn()::text")[0][0]

    def slot(self):
        """{"active", "confirmed_flush_lsn", "plugin"} of the reverse slot, or None."""
        rows = self.rows(
            "SELECT active, confirmed_flush_lsn::text, plugin FROM pg_replication_slots WHERE slot_name = :slot",
            slot=self.config.slot_name,
        )
        if not rows:
            return None
        active, confirmed, plugin = rows[0]
        return {"active": active, "confirmed_flush_lsn": confirmed, "plugin": plugin}

    def drop_slot(self):
        """Drops the reverse slot when it exists and nobody reads it; returns whether it is gone."""
        slot = self.slot()
        if slot is None:
            return True
        if slot["active"]:
            return False
        self.rows("SELECT pg_drop_replication_slot(:slot)", slot=self.config.slot_name)
        return True

    def ensure_publication(self):
        """The publication is the schema_migrations function's (creating one needs the tables' ownership)."""
        if self.config.publication is None:
            return
        if not self.rows("SELECT 1 FROM pg_publication WHERE pubname = :name", name=self.config.publication):
            raise CutoverFailed(
                f"publication {self.config.publication} does not exist on Aurora: the schema_migrations function "
                "creates it (invoke it, then retry)"
            )

    def create_slot(self):
        """Creates the reverse slot (after the publication, which pgoutput decodes with)."""
        self.ensure_publication()
        self.rows(
            "SELECT lsn::text FROM pg_create_logical_replication_slot(:slot, :plugin)",
            slot=self.config.slot_name,
            plugin=self.config.slot_plugin,
        )

    def slot_reached(self, lsn):
        """True when the reverse slot's reader confirmed everything up to lsn."""
        rows = self.rows(
            "SELECT confirmed_flush_lsn >= CAST(:lsn AS pg_lsn) FROM pg_replication_slots WHERE slot_name = :slot",
            lsn=lsn,
            slot=self.config.slot_name,
        )
        return bool(rows and rows[0][0])

    def apply_exceptions(self):
        """Rows in DMS's awsdms_apply_exceptions control table (0 when DMS has not created it)."""
        table = f"{self.config.control_schema}.awsdms_apply_exceptions"
        if self.rows("SELECT to_regclass(:name) IS NULL", name=table)[0][0]:
            return 0
        return int(self.rows(f"SELECT count(*)::text FROM {_table_list([table])}")[0][0])

    def fence_writes(self):
        """Waits for writes in flight on the cutover tables and returns the WAL position after them.

        LOCK ... IN SHARE MODE conflicts with the ROW EXCLUSIVE lock every INSERT/UPDATE/DELETE holds
        until it commits, so it is granted only once those transactions ended; every write committed
        before it is below the position read under the lock.
        """
        data = self.aws_client("rds-data")
        transaction_id = data.begin_transaction(**self.config.database)["transactionId"]
        try:
            self.rows(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'", transaction_id)
            self.rows(f"LOCK TABLE {_table_list(self.config.tables)} IN SHARE MODE", transaction_id)
            lsn = self.rows("SELECT pg_current_wal_lsn()::text", transaction_id)[0][0]
        except Exception:
            data.rollback_transaction(
                resourceArn=self.config.database["resourceArn"],
                secretArn=self.config.database["secretArn"],
                transactionId=transaction_id,
            )
            raise
        data.commit_transaction(
            resourceArn=self.config.database["resourceArn"],
            secretArn=self.config.database["secretArn"],
            transactionId=transaction_id,
        )
        return lsn
