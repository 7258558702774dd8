"""The cutover's moving parts: migration validator, the cutover driver (traffic shifter), rollback and the
cutover state they keep (docs/cutover.md)."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from functools import lru_cache
from types import ModuleType
from typing import TypedDict, Unpack

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct

from lib.constructs.compute import Compute
from lib.constructs.database import Database
from lib.constructs.dns import LEGACY_SET_IDENTIFIER, NEW_SET_IDENTIFIER, Dns
from lib.constructs.function import LAMBDA_SOURCE_ROOT, FunctionLimits, FunctionPlacement, PaymentsFunction
from lib.constructs.iam import allow
from lib.constructs.load_balancer import LoadBalancer
from lib.constructs.migration import Migration

# How old the last readiness datapoint may be before the shifter refuses to increase the new weight.
READINESS_MAX_AGE_SECONDS = 900
DATA_API_CALLS = [
    "rds-data:ExecuteStatement",
    "rds-data:BeginTransaction",
    "rds-data:CommitTransaction",
    "rds-data:RollbackTransaction",
]
DEFAULT_MAX_PAUSE_SECONDS = 20
# The first state's `since`: fixed, so the same commit synthesizes the same JSON (the parameter's value is the
# cutover's after creation, ignore_changes).
STATE_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class TargetOptions(TypedDict, total=False):
    """What differs by target: how the reverse slot decodes and how long the flip holds DNS."""

    reverse_slot_plugin: str
    reverse_publication: str | None
    dns_hold_seconds: int | None


@lru_cache(maxsize=1)
def cutover_state_module() -> ModuleType:
    """lib/lambda/shared/cutover_state.py, the format the functions read: the first state comes from it."""
    path = LAMBDA_SOURCE_ROOT / "shared" / "cutover_state.py"
    spec = importlib.util.spec_from_file_location("cutover_state", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def initial_state_value(*, has_legacy: bool) -> str:
    """The state Terraform creates the parameter with: legacy is the writer when there is a legacy system."""
    state = cutover_state_module()
    return state.render(state.initial_state("legacy" if has_legacy else "aurora", STATE_EPOCH))


def driver_timeout_seconds(max_pause_seconds: int) -> int:
    """The driver's pause plus the calls around it and the wait for the forward task to stop (at least
    CUTOVER_MAX_PAUSE_SECONDS + 30, traffic_shifter/handler.py)."""
    return max_pause_seconds + 60


def rollback_timeout_seconds(max_pause_seconds: int) -> int:
    """Rollback may wait for a flip's pause and then pause itself (at least 2 x CUTOVER_MAX_PAUSE_SECONDS + 30,
    rollback/handler.py)."""
    return 2 * max_pause_seconds + 60


def cutover_state_parameter_name(name_prefix: str) -> str:
    """The SSM parameter holding the cutover state (lib/lambda/shared/cutover_state.py), one per stack."""
    return f"/{name_prefix}/cutover/state"


def cutover_state_parameter_arn(*, partition: str, region: str, account_id: str, name_prefix: str) -> str:
    return f"arn:{partition}:ssm:{region}:{account_id}:parameter{cutover_state_parameter_name(name_prefix)}"


def cutover_statements(
    *,
    state_parameter_arn: str,
    write_rule_arn: str,
    task_arns: list[str],
    cluster_arn: str,
    secret_arn: str,
    alert_topic_arn: str,
) -> list[dict]:
    """What the cutover driver and rollback do besides the weighted records (docs/cutover.md): keep the
    state and its transition claims, point the ALB write rule, stop and start replication, fix the flip
    position on Aurora, read the guards' metrics and alarms, alert."""
    return [
        allow(
            ["ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter", "ssm:DeleteParameters"],
            [state_parameter_arn, f"{state_parameter_arn}-claim-*"],
        ),
        # Describe* of ELBv2 has no resource-level permission; ModifyRule does (the write rule only).
        allow(["elasticloadbalancing:DescribeRules"], "*"),
        allow(["elasticloadbalancing:ModifyRule"], write_rule_arn),
        allow(["dms:DescribeReplicationTasks"], "*"),
        allow(["dms:DescribeTableStatistics", "dms:StartReplicationTask", "dms:StopReplicationTask"], task_arns),
        allow(DATA_API_CALLS, cluster_arn),
        # The Data API reads the request's secret with the caller's credentials.
        allow(["secretsmanager:GetSecretValue"], secret_arn),
        allow(["cloudwatch:GetMetricStatistics", "cloudwatch:DescribeAlarms"], "*"),
        allow(["sns:Publish"], alert_topic_arn),
    ]


def weighted_record_statements(partition: str, dns: Dns) -> list[dict]:
    """List the zone; change only the weighted records: their name, their type, UPSERT only.

    Both weighted records share one name and differ by set identifier, which IAM cannot name; the
    change-batch condition keys hold the name (lowercase, no trailing dot), the types and the actions.
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-conditions-route53.html
    """
    zone_arn = f"arn:{partition}:route53:::hostedzone/{dns.zone_id}"
    return [
        allow(["route53:ListResourceRecordSets"], zone_arn),
        allow(
            ["route53:ChangeResourceRecordSets"],
            zone_arn,
            {
                "ForAllValues:StringEquals": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": [dns.record_name.lower().rstrip(".")],
                    "route53:ChangeResourceRecordSetsRecordTypes": [dns.record_type],
                    "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
                }
            },
        ),
    ]


class Cutover(Construct):
    """The validator publishes readiness; the driver canaries reads and flips the writer with a bounded pause;
    rollback moves the writer back without losing a payment. The state parameter says who the writer is. The
    functions run where `placement` puts them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        partition: str,
        metric_namespace: str,
        ready_metric_name: str,
        critical_alarm_prefix: str,
        cdc_latency_threshold_seconds: int,
        dns: Dns,
        migration: Migration,
        database: Database,
        load_balancer: LoadBalancer,
        compute: Compute,
        cutover_tables: tuple[str, ...] = ("public.payments",),
        max_pause_seconds: int = DEFAULT_MAX_PAUSE_SECONDS,
        reverse_slot_plugin: str = "test_decoding",
        reverse_publication: str | None = None,
        dns_hold_seconds: int | None = None,
        **placement: Unpack[FunctionPlacement],
    ) -> None:
        super().__init__(scope, construct_id)
        self.metric_namespace = metric_namespace
        self.ready_metric_name = ready_metric_name
        self._function_placement = placement
        name_prefix = placement["name_prefix"]
        legacy_group = load_balancer.legacy_target_group
        self.state = SsmParameter(
            self,
            "state",
            name=cutover_state_parameter_name(name_prefix),
            type="String",
            description="Cutover state: which database is the writer (docs/cutover.md); written by the cutover",
            value=initial_state_value(has_legacy=legacy_group is not None),
            # Terraform writes the first state only: the cutover driver and rollback own the value after it.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["value"]),
        )
        readiness = {"METRIC_NAMESPACE": metric_namespace, "READY_METRIC_NAME": ready_metric_name}
        records = {
            "HOSTED_ZONE_ID": dns.zone_id,
            "RECORD_NAME": dns.record_name,
            "NEW_SET_IDENTIFIER": NEW_SET_IDENTIFIER,
            "LEGACY_SET_IDENTIFIER": LEGACY_SET_IDENTIFIER,
        }
        change_weights = weighted_record_statements(partition, dns)
        read_metrics = allow(["cloudwatch:GetMetricStatistics"], "*")
        alert_topic_arn = placement["alerting"].alerts.arn
        self.validator = self._function(
            "migration_validator",
            "Checks DMS validation, table states and CDC latency",
            environment={
                **readiness,
                "REPLICATION_TASK_ARN": migration.task.replication_task_arn,
                "REPLICATION_INSTANCE_ID": migration.instance.replication_instance_id,
                "CDC_LATENCY_THRESHOLD_SECONDS": str(cdc_latency_threshold_seconds),
                "ALERT_TOPIC_ARN": alert_topic_arn,
            },
            statements=[
                # DescribeReplicationTasks has no resource-level permission ("*" only); table statistics do.
                allow(["dms:DescribeTableStatistics"], migration.task.replication_task_arn),
                allow(["dms:DescribeReplicationTasks"], "*"),
                read_metrics,
                allow(["cloudwatch:PutMetricData"], "*", {"StringEquals": {"cloudwatch:namespace": metric_namespace}}),
                allow(["sns:Publish"], alert_topic_arn),
            ],
            timeout_seconds=60,
        )
        # The cutover's own Data API login (compute's cutover secret), which the schema_migrations function keeps
        # with only what the cutover runs (replication slots, the rollback fence's lock, DMS's exceptions table);
        # never the master.
        db_secret_arn = compute.cutover_secret.arn
        environment = {
            **records,
            **readiness,
            "CRITICAL_ALARM_PREFIX": critical_alarm_prefix,
            "READINESS_MAX_AGE_SECONDS": str(READINESS_MAX_AGE_SECONDS),
            "CUTOVER_STATE_PARAMETER": self.state.name,
            "WRITE_RULE_ARN": load_balancer.write_rule.arn,
            "API_TARGET_GROUP_ARN": load_balancer.target_group.arn,
            "FORWARD_TASK_ARN": migration.task.replication_task_arn,
            "REVERSE_TASK_ARN": migration.reverse_task.replication_task_arn,
            "REPLICATION_INSTANCE_ID": migration.instance.replication_instance_id,
            "DB_CLUSTER_ARN": database.cluster.arn,
            "DB_SECRET_ARN": db_secret_arn,
            "DB_NAME": database.database_name,
            "CUTOVER_TABLES": ",".join(cutover_tables),
            "REVERSE_SLOT_NAME": migration.reverse_slot_name,
            "REVERSE_SLOT_PLUGIN": reverse_slot_plugin,
            "ALERT_TOPIC_ARN": alert_topic_arn,
            "CUTOVER_MAX_PAUSE_SECONDS": str(max_pause_seconds),
        }
        if legacy_group is not None:
            environment["LEGACY_TARGET_GROUP_ARN"] = legacy_group.arn
        if reverse_publication:
            environment["REVERSE_PUBLICATION"] = reverse_publication
        if dns_hold_seconds is not None:
            environment["DNS_HOLD_SECONDS"] = str(dns_hold_seconds)
        cutover = cutover_statements(
            state_parameter_arn=self.state.arn,
            write_rule_arn=load_balancer.write_rule.arn,
            task_arns=[migration.task.replication_task_arn, migration.reverse_task.replication_task_arn],
            cluster_arn=database.cluster.arn,
            secret_arn=db_secret_arn,
            alert_topic_arn=alert_topic_arn,
        )

        def cutover_function(source: str, description: str, timeout_seconds: int) -> PaymentsFunction:
            # Driver and rollback run the same cutover code (either may finish what the other began); the cutover
            # state relies on one invocation at a time per function (cutover_store.py).
            return self._function(
                source,
                description,
                environment=environment,
                statements=[*change_weights, *cutover],
                reserved_concurrency=1,
                timeout_seconds=timeout_seconds,
            )

        self.shifter = cutover_function(
            "traffic_shifter",
            "Cutover driver: read-canary steps and the writer flip",
            driver_timeout_seconds(max_pause_seconds),
        )
        self.rollback = cutover_function(
            "rollback",
            "Moves the writer and all traffic back to the legacy system",
            rollback_timeout_seconds(max_pause_seconds),
        )

    @property
    def functions(self) -> list[PaymentsFunction]:
        return [self.validator, self.shifter, self.rollback]

    def _function(
        self,
        source: str,
        description: str,
        *,
        environment: dict[str, str],
        statements: list[dict],
        **limits: Unpack[FunctionLimits],
    ) -> PaymentsFunction:
        return PaymentsFunction(
            self,
            source,
            source=source,
            description=description,
            environment=environment,
            statements=statements,
            **limits,
            **self._function_placement,
        )
