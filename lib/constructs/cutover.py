"""The cutover's moving parts: migration validator, guarded traffic shifter and rollback."""

from __future__ import annotations

from typing import Unpack

from constructs import Construct

from lib.constructs.alerting import Alerting
from lib.constructs.dns import LEGACY_SET_IDENTIFIER, NEW_SET_IDENTIFIER, Dns
from lib.constructs.function import FunctionLimits, FunctionPlacement, PaymentsFunction
from lib.constructs.iam import allow
from lib.constructs.migration import Migration
from lib.constructs.network import Network
from lib.constructs.security_groups import SecurityGroups
from lib.constructs.security_keys import SecurityKeys

# How old the last readiness datapoint may be before the shifter refuses to increase the new weight.
READINESS_MAX_AGE_SECONDS = 900
DATA_API_CALLS = ["rds-data:ExecuteStatement", "rds-data:BeginTransaction", "rds-data:CommitTransaction",
                  "rds-data:RollbackTransaction"]


def cutover_state_parameter_name(name_prefix: str) -> str:
    """The SSM parameter holding the cutover state (lib/lambda/shared/cutover_state.py), one per stack."""
    return f"/{name_prefix}/cutover/state"


def cutover_state_parameter_arn(*, partition: str, region: str, account_id: str, name_prefix: str) -> str:
    return f"arn:{partition}:ssm:{region}:{account_id}:parameter{cutover_state_parameter_name(name_prefix)}"


def cutover_statements(*, partition: str, region: str, account_id: str, name_prefix: str, migration: Migration,
                       alert_topic_arn: str) -> list[dict]:
    """What the cutover driver and rollback do besides the weighted records (docs/cutover.md): keep the
    state and its transition claims, point the ALB write rule, stop and start replication, fix the flip
    position on Aurora, read the guards' metrics and alarms, alert."""
    state_arn = cutover_state_parameter_arn(partition=partition, region=region, account_id=account_id,
                                            name_prefix=name_prefix)
    in_account = f"{region}:{account_id}"
    return [
        allow(["ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter", "ssm:DeleteParameters"],
              [state_arn, f"{state_arn}-claim-*"]),
        # Describe* of ELBv2 has no resource-level permission; ModifyRule does (this stack's ALB only).
        allow(["elasticloadbalancing:DescribeRules"], "*"),
        allow(["elasticloadbalancing:ModifyRule"],
              f"arn:{partition}:elasticloadbalancing:{in_account}:listener-rule/app/{name_prefix}-alb/*"),
        allow(["dms:DescribeReplicationTasks"], "*"),
        allow(["dms:DescribeTableStatistics", "dms:StartReplicationTask", "dms:StopReplicationTask"],
              migration.task.replication_task_arn),
        allow(DATA_API_CALLS, f"arn:{partition}:rds:{in_account}:cluster:{name_prefix}-aurora"),
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
        allow(["route53:ChangeResourceRecordSets"], zone_arn, {"ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": [dns.record_name.lower().rstrip(".")],
            "route53:ChangeResourceRecordSetsRecordTypes": [dns.record_type],
            "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}}),
    ]


class Cutover(Construct):
    """The validator publishes readiness; the shifter moves weight only when ready; rollback undoes it."""

    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str, partition: str, region: str,
                 account_id: str, metric_namespace: str, ready_metric_name: str, critical_alarm_prefix: str,
                 cdc_latency_threshold_seconds: int, log_retention_days: int, network: Network,
                 security_groups: SecurityGroups, keys: SecurityKeys, alerting: Alerting, dns: Dns,
                 migration: Migration) -> None:
        super().__init__(scope, construct_id)
        self.metric_namespace = metric_namespace
        self.ready_metric_name = ready_metric_name
        self._function_placement = FunctionPlacement(
            name_prefix=name_prefix, log_retention_days=log_retention_days, network=network,
            security_groups=security_groups, keys=keys, alerting=alerting)
        readiness = {"METRIC_NAMESPACE": metric_namespace, "READY_METRIC_NAME": ready_metric_name}
        records = {"HOSTED_ZONE_ID": dns.zone_id, "RECORD_NAME": dns.record_name,
                   "NEW_SET_IDENTIFIER": NEW_SET_IDENTIFIER, "LEGACY_SET_IDENTIFIER": LEGACY_SET_IDENTIFIER}
        change_weights = weighted_record_statements(partition, dns)
        read_metrics = allow(["cloudwatch:GetMetricStatistics"], "*")
        alert_topic_arn = alerting.alerts.arn
        self.validator = self._function(
            "migration_validator", "Checks DMS validation, table states and CDC latency",
            environment={**readiness, "REPLICATION_TASK_ARN": migration.task.replication_task_arn,
                         "REPLICATION_INSTANCE_ID": migration.instance.replication_instance_id,
                         "CDC_LATENCY_THRESHOLD_SECONDS": str(cdc_latency_threshold_seconds),
                         "ALERT_TOPIC_ARN": alert_topic_arn},
            statements=[
                # DescribeReplicationTasks has no resource-level permission ("*" only); table statistics do.
                allow(["dms:DescribeTableStatistics"], migration.task.replication_task_arn),
                allow(["dms:DescribeReplicationTasks"], "*"),
                read_metrics,
                allow(["cloudwatch:PutMetricData"], "*", {"StringEquals": {"cloudwatch:namespace": metric_namespace}}),
                allow(["sns:Publish"], alert_topic_arn),
            ], timeout_seconds=60)
        # Driver and rollback run the same cutover code (either may finish what the other began).
        cutover = cutover_statements(partition=partition, region=region, account_id=account_id,
                                     name_prefix=name_prefix, migration=migration, alert_topic_arn=alert_topic_arn)
        self.shifter = self._function(
            "traffic_shifter", "Cutover driver: read-canary steps and the writer flip",
            environment={**records, **readiness, "CRITICAL_ALARM_PREFIX": critical_alarm_prefix,
                         "READINESS_MAX_AGE_SECONDS": str(READINESS_MAX_AGE_SECONDS)},
            statements=[*change_weights, *cutover],
            # The cutover state relies on one invocation at a time per function (cutover_state.py).
            reserved_concurrency=1)
        self.rollback = self._function(
            "rollback", "Moves the writer and all traffic back to the legacy system",
            environment=records, statements=[*change_weights, *cutover], reserved_concurrency=1)

    @property
    def functions(self) -> list[PaymentsFunction]:
        return [self.validator, self.shifter, self.rollback]

    def _function(self, source: str, description: str, *, environment: dict[str, str], statements: list[dict],
                  **limits: Unpack[FunctionLimits]) -> PaymentsFunction:
        return PaymentsFunction(self, source, source=source, description=description, environment=environment,
                                statements=statements, **limits, **self._function_placement)
