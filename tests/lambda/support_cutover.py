"""A world for the cutover driver and rollback tests.

AWS through moto (Route53, ELBv2, SSM, CloudWatch, SNS, SQS), DMS through `FakeDms` (replication
tasks whose status and table statistics the test scripts; requests checked against botocore's dms
model), Aurora through the Data API engine on the test's real PostgreSQL database (replication
slots, WAL positions and locks are PostgreSQL's own), time through `FakeClock` (sleeping advances it:
no test waits or depends on the wall clock's speed). `Interrupter` wraps the clients a handler uses
and stops the invocation right after a chosen call took effect, as a Lambda timeout would.
"""

import copy
import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import boto3
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import ParamValidator

from tools.local_aws.postgres import apply_rds_replication

RECORD = "api.example.com."
REGION = "us-east-1"
ACCOUNT = "123456789012"
FORWARD_TASK_ARN = f"arn:aws:dms:{REGION}:{ACCOUNT}:task:FORWARDTASK"
REVERSE_TASK_ARN = f"arn:aws:dms:{REGION}:{ACCOUNT}:task:REVERSETASK"
INSTANCE_ID = "payments-test-dms"
NAMESPACE = "PaymentsMigration"
ALARM_PREFIX = "payments-test-critical-"
STATE_PARAMETER = "/payments-test/cutover/state"
FUNCTION_NAME = "payments-test-traffic-shifter"
ROLLBACK_FUNCTION_NAME = "payments-test-rollback"
# The DMS target endpoint's login on Aurora: it creates DMS's control tables (awsdms_apply_exceptions).
DMS_USER = "payments_dms"
PAYMENTS_TABLE = (
    "CREATE TABLE payments (id uuid PRIMARY KEY, merchant_id text NOT NULL, "
    "idempotency_key text NOT NULL, amount numeric(18, 2) NOT NULL, "
    "UNIQUE (merchant_id, idempotency_key))"
)


_CLIENTS: dict[str, object] = {}


def client(service):
    """One boto3 client per service for the whole session: moto intercepts a client whenever a mock is
    active, whenever the client was made, and making clients is the slow part of a test world."""
    if service not in _CLIENTS:
        _CLIENTS[service] = boto3.client(service, region_name=REGION)
    return _CLIENTS[service]


class FakeClock:
    """now() is an aware UTC datetime that moves only when sleep() is called."""

    def __init__(self, start=None):
        self.moment = start or datetime.now(UTC)
        self.slept = 0.0
        self.on_sleep = []

    def now(self):
        return self.moment

    def sleep(self, seconds):
        assert seconds >= 0
        self.moment += timedelta(seconds=seconds)
        self.slept += seconds
        for hook in list(self.on_sleep):
            hook(self)

    def advance(self, seconds):
        self.moment += timedelta(seconds=seconds)


def client_error(code, message, operation):
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation
    )


def table_stats(name="payments", *, inserts=0, validated=True, pending=0, **overrides):
    stats = {
        "SchemaName": "public",
        "TableName": name,
        "TableState": "Table completed",
        "FullLoadRows": 40,
        "FullLoadErrorRows": 0,
        "Inserts": inserts,
        "Updates": 0,
        "Deletes": 0,
        "ValidationState": "Validated" if validated else "Pending records",
        "ValidationPendingRecords": pending,
        "ValidationFailedRecords": 0,
        "ValidationSuspendedRecords": 0,
    }
    stats.update(overrides)
    return stats


class FakeDms:
    """The DMS calls the cutover makes, on scripted tasks. A stop takes `stop_polls` describes to finish;
    a start is "starting" until the next describe. `on_poll(task)` runs on every describe of a task,
    `hooks[operation](request)` before that operation."""

    def __init__(self, clock):
        self.clock = clock
        self.model = client("dms").meta.service_model
        self.tasks = {}
        self.calls = []
        self.hooks = {}  # operation -> callable(request), run before the operation

    def add_task(self, arn, migration_type, status, *, started=False, statistics=None, stop_polls=1):
        self.tasks[arn] = {
            "arn": arn,
            "migration_type": migration_type,
            "status": status,
            "start_date": self.clock.now() if started else None,
            "cdc_start_position": None,
            "statistics": statistics or (lambda: [table_stats()]),
            "stop_polls": stop_polls,
            "countdown": 0,
            "on_poll": None,
            "starts": [],
        }
        return self.tasks[arn]

    def _check(self, operation, request):
        report = ParamValidator().validate(request, self.model.operation_model(operation).input_shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())
        self.calls.append((operation, copy.deepcopy(request)))
        if operation in self.hooks:
            self.hooks[operation](request)

    def _task(self, arn, operation):
        if arn not in self.tasks:
            raise client_error("ResourceNotFoundFault", "Replication task could not be found.", operation)
        return self.tasks[arn]

    def _advance(self, task):
        if task["status"] == "stopping":
            task["countdown"] -= 1
            if task["countdown"] <= 0:
                task["status"] = "stopped"
        elif task["status"] in ("starting", "resuming"):
            task["status"] = "running"
        if task["on_poll"] is not None:
            task["on_poll"](task)

    def describe_replication_tasks(self, **request):
        self._check("DescribeReplicationTasks", request)
        arns = [
            value
            for item in request.get("Filters", [])
            if item["Name"] == "replication-task-arn"
            for value in item["Values"]
        ]
        found = [self.tasks[arn] for arn in arns if arn in self.tasks]
        if not found:
            raise client_error("ResourceNotFoundFault", "No Tasks found", "DescribeReplicationTasks")
        views = []
        for task in found:
            self._advance(task)
            view = {
                "ReplicationTaskArn": task["arn"],
                "ReplicationTaskIdentifier": task["arn"].rsplit(":", 1)[-1],
                "MigrationType": task["migration_type"],
                "Status": task["status"],
            }
            if task["start_date"]:
                view["ReplicationTaskStartDate"] = task["start_date"]
            if task["cdc_start_position"]:
                view["CdcStartPosition"] = task["cdc_start_position"]
            views.append(view)
        return {"ReplicationTasks": views}

    def describe_table_statistics(self, **request):
        self._check("DescribeTableStatistics", request)
        task = self._task(request["ReplicationTaskArn"], "DescribeTableStatistics")
        statistics = task["statistics"]()
        start = int(request.get("Marker") or 0)
        size = request.get("MaxRecords", 100)
        page = {"ReplicationTaskArn": task["arn"], "TableStatistics": statistics[start : start + size]}
        if start + size < len(statistics):
            page["Marker"] = str(start + size)
        return page

    def stop_replication_task(self, **request):
        self._check("StopReplicationTask", request)
        task = self._task(request["ReplicationTaskArn"], "StopReplicationTask")
        if task["status"] not in ("running", "starting", "resuming"):
            raise client_error(
                "InvalidResourceStateFault", f"Replication task is {task['status']}", "StopReplicationTask"
            )
        task["status"], task["countdown"] = "stopping", task["stop_polls"]
        return {"ReplicationTask": {"ReplicationTaskArn": task["arn"], "Status": "stopping"}}

    def start_replication_task(self, **request):
        self._check("StartReplicationTask", request)
        task = self._task(request["ReplicationTaskArn"], "StartReplicationTask")
        start_type = request["StartReplicationTaskType"]
        if task["status"] in ("starting", "running", "stopping", "resuming"):
            raise client_error(
                "InvalidResourceStateFault", f"Replication task is {task['status']}", "StartReplicationTask"
            )
        if (start_type == "start-replication") != (task["start_date"] is None):
            raise client_error(
                "InvalidResourceStateFault", f"Start Type {start_type} is not valid now", "StartReplicationTask"
            )
        task["cdc_start_position"] = request.get("CdcStartPosition") or task["cdc_start_position"]
        task["status"], task["start_date"] = "starting", self.clock.now()
        task["starts"].append(dict(request))
        return {"ReplicationTask": {"ReplicationTaskArn": task["arn"], "Status": "starting"}}


class SimulatedCrash(BaseException):
    """The invocation ends here, as when Lambda times out: no `except Exception` in the handler runs."""


MUTATING_CALLS = frozenset(
    {
        "put_parameter",
        "delete_parameters",
        "modify_rule",
        "stop_replication_task",
        "start_replication_task",
        "change_resource_record_sets",
        "publish",
        "begin_transaction",
        "commit_transaction",
        "rollback_transaction",
    }
)
MUTATING_SQL = ("pg_create_logical_replication_slot", "pg_drop_replication_slot", "CREATE PUBLICATION", "LOCK TABLE")


def is_mutating(name, kwargs):
    """Calls that change something somewhere; a crash between two reads equals a crash after the last change."""
    if name == "execute_statement":
        return any(marker in kwargs.get("sql", "") for marker in MUTATING_SQL)
    return name in MUTATING_CALLS


class Interrupter:
    """Records the AWS calls made through wrapped clients; crashes once after the `crash_after`-th call
    that changes something (0-based), or raises `error` there instead."""

    def __init__(self):
        self.calls = []
        self.mutating = []
        self.crash_after = None
        self.error = None

    def wrap(self, service, client):
        return _Interrupted(self, service, client)

    def arm(self, crash_after, error=None):
        self.calls, self.mutating, self.crash_after, self.error = [], [], crash_after, error

    def _called(self, service, name, kwargs):
        self.calls.append((service, name))
        if not is_mutating(name, kwargs):
            return
        self.mutating.append((service, name))
        if self.crash_after == len(self.mutating) - 1:
            self.crash_after = None
            raise self.error if self.error is not None else SimulatedCrash(f"crash after {service}.{name}")


class _Interrupted:
    PASS_THROUGH = frozenset({"meta", "exceptions", "get_paginator", "can_paginate", "get_waiter"})

    def __init__(self, interrupter, service, client):
        self._interrupter, self._service, self._client = interrupter, service, client

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name.startswith("_") or name in self.PASS_THROUGH or not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            result = attribute(*args, **kwargs)
            self._interrupter._called(self._service, name, kwargs)  # the call took effect; its answer is lost
            return result

        return call


def context(request_id="req-1", seconds_left=300.0):
    return SimpleNamespace(aws_request_id=request_id, get_remaining_time_in_millis=lambda: int(seconds_left * 1000))


class CutoverWorld:
    """Everything both functions touch, built inside mock_aws() with legacy as the writer."""

    def __init__(self, *, monkeypatch, clock, postgres_server, data_api, database):
        self.clock = clock
        self.server = postgres_server
        self.data_api = data_api
        self.database = database
        self.slot_name = f"reverse_{database}"[:63]
        self.dms = FakeDms(clock)
        self.interrupter = Interrupter()
        self._hooks = []
        self._admin = None
        self.aws = {name: client(name) for name in ("route53", "elbv2", "ec2", "ssm", "cloudwatch", "sns", "sqs")}
        self.migrations, self.login = data_api.migrations, data_api.login
        self.prepare_cutover_login()
        self.reset_database()
        self._build_load_balancer()
        self._build_records()
        self._build_alerts()
        self.forward = self.dms.add_task(FORWARD_TASK_ARN, "full-load-and-cdc", "running", started=True)
        self.reverse = self.dms.add_task(REVERSE_TASK_ARN, "cdc", "ready")
        self.aws["ssm"].put_parameter(Name=STATE_PARAMETER, Type="String", Value=json.dumps(self._initial_state()))
        self.put_readiness(1)
        self.put_latency(FORWARD_TASK_ARN, 1.0, 1.0)
        self.environment = {
            "HOSTED_ZONE_ID": self.zone_id,
            "RECORD_NAME": RECORD,
            "CUTOVER_STATE_PARAMETER": STATE_PARAMETER,
            "WRITE_RULE_ARN": self.rule_arn,
            "API_TARGET_GROUP_ARN": self.api_tg,
            "LEGACY_TARGET_GROUP_ARN": self.legacy_tg,
            "CRITICAL_ALARM_PREFIX": ALARM_PREFIX,
            "METRIC_NAMESPACE": NAMESPACE,
            "READY_METRIC_NAME": "MigrationReady",
            "FORWARD_TASK_ARN": FORWARD_TASK_ARN,
            "REVERSE_TASK_ARN": REVERSE_TASK_ARN,
            "REPLICATION_INSTANCE_ID": INSTANCE_ID,
            "DB_CLUSTER_ARN": data_api.resource_arn,
            "DB_SECRET_ARN": data_api.secret_arn,
            "DB_NAME": database,
            "CUTOVER_TABLES": "public.payments",
            "REVERSE_SLOT_NAME": self.slot_name,
            "ALERT_TOPIC_ARN": self.topic_arn,
        }
        for name in (
            "NEW_SET_IDENTIFIER",
            "LEGACY_SET_IDENTIFIER",
            "REVERSE_SLOT_PLUGIN",
            "REVERSE_PUBLICATION",
            "CUTOVER_MAX_PAUSE_SECONDS",
            "DRAIN_QUIET_SECONDS",
            "IN_FLIGHT_SECONDS",
            "FLIP_MAX_CDC_LATENCY_SECONDS",
            "TAKEOVER_AFTER_SECONDS",
            "AWS_LAMBDA_FUNCTION_NAME",
            "DMS_CONTROL_SCHEMA",
            "READINESS_MAX_AGE_SECONDS",
            "DNS_HOLD_SECONDS",
        ):
            monkeypatch.delenv(name, raising=False)
        for name, value in self.environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)

    # ----------------------------------------------------------------- building
    def _build_load_balancer(self):
        ec2, elb = self.aws["ec2"], self.aws["elbv2"]
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
                "SubnetId"
            ]
            for i, zone in ((1, "a"), (2, "b"))
        ]
        self.alb = elb.create_load_balancer(Name="payments-test", Subnets=subnets)["LoadBalancers"][0]
        self.api_tg = elb.create_target_group(Name="payments-test-api", TargetType="lambda")["TargetGroups"][0][
            "TargetGroupArn"
        ]
        self.legacy_tg = elb.create_target_group(
            Name="payments-test-legacy", TargetType="ip", Protocol="HTTPS", Port=443, VpcId=vpc
        )["TargetGroups"][0]["TargetGroupArn"]
        listener = elb.create_listener(
            LoadBalancerArn=self.alb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": self.api_tg}],
        )
        self.rule_arn = elb.create_rule(
            ListenerArn=listener["Listeners"][0]["ListenerArn"],
            Priority=10,
            Conditions=[
                {
                    "Field": "http-request-method",
                    "HttpRequestMethodConfig": {"Values": ["POST", "PUT", "PATCH", "DELETE"]},
                }
            ],
            Actions=[{"Type": "forward", "TargetGroupArn": self.legacy_tg}],
        )["Rules"][0]["RuleArn"]

    def _build_records(self):
        route53 = self.aws["route53"]
        self.zone_id = route53.create_hosted_zone(Name="example.com", CallerReference="cutover")["HostedZone"][
            "Id"
        ].split("/")[-1]
        route53.change_resource_record_sets(
            HostedZoneId=self.zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "CREATE",
                        "ResourceRecordSet": {
                            "Name": RECORD,
                            "Type": "A",
                            "SetIdentifier": "new",
                            "Weight": 0,
                            "AliasTarget": {
                                "HostedZoneId": self.alb["CanonicalHostedZoneId"],
                                "DNSName": self.alb["DNSName"],
                                "EvaluateTargetHealth": True,
                            },
                        },
                    },
                    {
                        "Action": "CREATE",
                        "ResourceRecordSet": {
                            "Name": RECORD,
                            "Type": "A",
                            "SetIdentifier": "legacy",
                            "Weight": 100,
                            "TTL": 60,
                            "ResourceRecords": [{"Value": "192.168.50.10"}],
                        },
                    },
                ]
            },
        )

    def _build_alerts(self):
        sns, sqs = self.aws["sns"], self.aws["sqs"]
        self.topic_arn = sns.create_topic(Name="payments-test-alerts")["TopicArn"]
        self.queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
        )

    def _initial_state(self):
        return {
            "v": 1,
            "seq": 0,
            "phase": "legacy-writer",
            "direction": None,
            "writer": "legacy",
            "since": "2026-01-01T00:00:00.000Z",
            "paused_at": None,
            "deadline": None,
            "flip_lsn": None,
            "rollback_lsn": None,
            "reverse": None,
            "forward": None,
            "dns_new_weight": None,
            "dns_since": None,
            "by": {"function": "terraform", "request_id": None},
            "reason": None,
        }

    # ----------------------------------------------------------------- handlers
    def hook(self, service, event_name, handler):
        """A botocore event handler on this world's (session-wide) client, removed by close()."""
        self.aws[service].meta.events.register(event_name, handler)
        self._hooks.append((service, event_name, handler))

    def close(self):
        for service, event_name, handler in self._hooks:
            self.aws[service].meta.events.unregister(event_name, handler)
        self.drop_slots()
        if self._admin is not None:
            self._admin.close()

    def install(self, module):
        """Gives a freshly loaded handler module this world's clients (through the interrupter) and clock."""
        clients = {name: self.aws[name] for name in ("route53", "elbv2", "ssm", "cloudwatch", "sns")}
        clients.update({"dms": self.dms, "rds-data": self.data_api})
        module._clients.clear()
        module._clients.update({name: self.interrupter.wrap(name, client) for name, client in clients.items()})
        module.clock = self.clock
        return module

    # ----------------------------------------------------------------- observations
    def state(self):
        return json.loads(self.aws["ssm"].get_parameter(Name=STATE_PARAMETER)["Parameter"]["Value"])

    def parameters(self):
        return sorted(p["Name"] for p in self.aws["ssm"].describe_parameters()["Parameters"])

    def records(self):
        listed = self.aws["route53"].list_resource_record_sets(HostedZoneId=self.zone_id)["ResourceRecordSets"]
        return {record["SetIdentifier"]: record for record in listed if "SetIdentifier" in record}

    def weights(self):
        return {set_id: record["Weight"] for set_id, record in self.records().items()}

    def evaluates_target_health(self):
        return self.records()["new"]["AliasTarget"]["EvaluateTargetHealth"]

    def write_rule_target(self):
        actions = self.aws["elbv2"].describe_rules(RuleArns=[self.rule_arn])["Rules"][0]["Actions"]
        return {self.api_tg: "api", self.legacy_tg: "legacy"}[actions[0]["TargetGroupArn"]]

    def alerts(self):
        messages = self.aws["sqs"].receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in messages.get("Messages", [])]

    def sql(self):
        """The world's superuser connection to the test database (one: opening one costs 40 ms)."""
        if self._admin is None:
            self._admin = self.server.connect(self.database)
        return _Borrowed(self._admin)

    def slot(self):
        with self.sql() as connection:
            rows = connection.run(
                "SELECT active, confirmed_flush_lsn::text, plugin FROM pg_replication_slots WHERE slot_name = :slot",
                slot=self.slot_name,
            )
        return dict(zip(("active", "confirmed_flush_lsn", "plugin"), rows[0], strict=True)) if rows else None

    def current_lsn(self):
        with self.sql() as connection:
            return connection.run("SELECT pg_current_wal_lsn()::text")[0][0]

    def lsn_at_most(self, lsn, other):
        with self.sql() as connection:
            return connection.run("SELECT CAST(:a AS pg_lsn) <= CAST(:b AS pg_lsn)", a=lsn, b=other)[0][0]

    def insert_payment(self, key):
        with self.sql() as connection:
            connection.run("INSERT INTO payments VALUES (gen_random_uuid(), 'm-1', :key, 10)", key=key)

    def reset_database(self):
        """An empty payments table, no publication, no slot, no DMS control table (the database is shared)."""
        with self.sql() as connection:
            connection.run("SET lock_timeout = '20s'")  # a leftover lock fails the test instead of hanging it
            # A crashed invocation may have left a Data API transaction open (Aurora rolls it back after
            # three idle minutes); the previous test's is ended here.
            connection.run(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
            )
        self.drop_slots()
        with self.sql() as connection:
            for (name,) in connection.run("SELECT pubname FROM pg_publication"):
                connection.run(f'DROP PUBLICATION "{name}"')
            connection.run("DROP TABLE IF EXISTS payments, awsdms_apply_exceptions")
            connection.run(PAYMENTS_TABLE)
        self.grant_cutover_login()

    def prepare_cutover_login(self):
        """The cutover's login as the schema_migrations function makes it, with rds_replication's effect."""
        name = self.login.user
        with self.sql() as connection:
            columns = ("rolcanlogin", "rolinherit", "rolcreatedb", "rolcreaterole", "rolreplication")
            rows = connection.run(f"SELECT {', '.join(columns)} FROM pg_roles WHERE rolname = :r", r=name)
            role = dict(zip(columns, rows[0], strict=True)) if rows else None
            for statement in self.migrations.cutover_role_statements(name, role, has_rds_replication=True):
                connection.run(statement)
            connection.run(f"ALTER ROLE {name} PASSWORD '{self.login.password}'")
            apply_rds_replication(connection, name)

    def grant_cutover_login(self):
        """What the schema_migrations function grants the cutover's login on the tables and DMS's tables."""
        name = self.login.user
        statements = self.migrations.cutover_privilege_statements(name, ("public.payments",))
        statements += self.migrations.dms_exceptions_statements(
            name, DMS_USER, "public", is_member=True, table_exists=False
        )
        with self.sql() as connection:
            for statement in statements:
                connection.run(statement)

    def make_publication(self, name):
        """The reverse publication, as the schema_migrations function makes it."""
        with self.sql() as connection:
            connection.run(self.migrations.publication_statement(name, ("public.payments",), exists=False))

    def drop_slots(self):
        with self.sql() as connection:
            connection.run(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE database = current_database() AND NOT active"
            )

    # ----------------------------------------------------------------- scenario set-up
    def put_readiness(self, value, age_seconds=30):
        self.aws["cloudwatch"].put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": "MigrationReady",
                    "Value": float(value),
                    "Timestamp": self.clock.now() - timedelta(seconds=age_seconds),
                }
            ],
        )

    def put_latency(self, task_arn, source, target, age_seconds=30):
        dimensions = [
            {"Name": "ReplicationInstanceIdentifier", "Value": INSTANCE_ID},
            {"Name": "ReplicationTaskIdentifier", "Value": task_arn.rsplit(":", 1)[-1]},
        ]
        timestamp = self.clock.now() - timedelta(seconds=age_seconds)
        self.aws["cloudwatch"].put_metric_data(
            Namespace="AWS/DMS",
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": dimensions,
                    "Value": value,
                    "Timestamp": timestamp,
                    "Unit": "Seconds",
                }
                for name, value in (("CDCLatencySource", source), ("CDCLatencyTarget", target))
                if value is not None
            ],
        )

    def fire_alarm(self, name=ALARM_PREFIX + "api-5xx"):
        cloudwatch = self.aws["cloudwatch"]
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="HTTPCode_Target_5XX_Count",
            Namespace="AWS/ApplicationELB",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")

    def ready_for_flip(self, held_seconds=300):
        """DNS new 100 / legacy 0, recorded by the cutover `held_seconds` ago (the flip needs 2 x TTL = 120)."""
        new, legacy = self.records()["new"], self.records()["legacy"]
        self.aws["route53"].change_resource_record_sets(
            HostedZoneId=self.zone_id,
            ChangeBatch={
                "Changes": [
                    {"Action": "UPSERT", "ResourceRecordSet": {**new, "Weight": 100}},
                    {"Action": "UPSERT", "ResourceRecordSet": {**legacy, "Weight": 0}},
                ]
            },
        )
        state = self.state()
        state.update(
            seq=state["seq"] + 1,
            dns_new_weight=100,
            dns_since=(self.clock.now() - timedelta(seconds=held_seconds)).isoformat(),
        )
        self.aws["ssm"].put_parameter(Name=STATE_PARAMETER, Type="String", Value=json.dumps(state), Overwrite=True)

    def reset_to_legacy_writer(self):
        """Back to the start of a cutover without building the world again: legacy writes through the ALB,
        forward replication runs, the reverse task never ran, no slot; the state continues its history."""
        self.aws["elbv2"].modify_rule(
            RuleArn=self.rule_arn, Actions=[{"Type": "forward", "TargetGroupArn": self.legacy_tg}]
        )
        new = self.records()["new"]
        self.aws["route53"].change_resource_record_sets(
            HostedZoneId=self.zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            **new,
                            "AliasTarget": {**new["AliasTarget"], "EvaluateTargetHealth": True},
                        },
                    }
                ]
            },
        )
        self.drop_slots()
        self.dms.calls.clear()
        self.dms.hooks.clear()
        self.forward.update(status="running", countdown=0)
        self.reverse = self.dms.add_task(REVERSE_TASK_ARN, "cdc", "ready")
        seq = self.state()["seq"]
        self.aws["ssm"].put_parameter(
            Name=STATE_PARAMETER,
            Type="String",
            Overwrite=True,
            Value=json.dumps({**self._initial_state(), "seq": seq + 1}),
        )
        self.interrupter.arm(None)

    def reverse_keeps_up(self):
        """The reverse task confirms Aurora's WAL up to now on every describe, as a caught-up DMS task does."""

        def confirm(task):
            if task["status"] == "running":
                with self.sql() as connection:
                    connection.run(
                        "SELECT pg_replication_slot_advance(:slot, pg_current_wal_lsn())", slot=self.slot_name
                    )

        self.reverse["on_poll"] = confirm


class _Borrowed:
    def __init__(self, connection):
        self.connection = connection

    def __enter__(self):
        return self.connection

    def __exit__(self, *exc):
        return False


class _Connection:
    def __init__(self, server, database):
        self.server, self.database = server, database

    def __enter__(self):
        self.connection = self.server.connect(self.database)
        return self.connection

    def __exit__(self, *exc):
        self.connection.close()


class SlotReader:
    """pg_recvlogical holding the reverse slot, as a running reverse task does (the slot is active)."""

    def __init__(self, server, database, slot):
        self.process = subprocess.Popen(
            [
                "pg_recvlogical",
                "-d",
                server.superuser_conninfo(database),
                "--slot",
                slot,
                "--start",
                "-f",
                "-",
                "--no-loop",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.server, self.database, self.slot = server, database, slot

    def wait_active(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with _Connection(self.server, self.database) as connection:
                if connection.run(
                    "SELECT active FROM pg_replication_slots WHERE slot_name = :slot", slot=self.slot
                ) == [[True]]:
                    return
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise AssertionError(f"pg_recvlogical ended: {stderr}")
            time.sleep(0.05)
        raise AssertionError("the slot did not become active")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
