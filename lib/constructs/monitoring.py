"""Alarms (critical ones trigger rollback), dashboard, DMS events and the validator's schedule."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.dms_event_subscription import DmsEventSubscription
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from lib.constructs.alerting import Alerting
from lib.constructs.compute import Compute
from lib.constructs.cutover import Cutover
from lib.constructs.database import Database
from lib.constructs.dns import Dns
from lib.constructs.load_balancer import LoadBalancer
from lib.constructs.migration import Migration

VALIDATION_SCHEDULE = "rate(5 minutes)"
# WAL Aurora keeps for the reverse slot until the reverse task confirms it (after the flip); past these the slot
# is falling behind and fills the writer's disk (docs/cutover.md, "After the flip").
SLOT_LAG_ALARM_BYTES = 1024**3
TRANSACTION_LOGS_ALARM_BYTES = 10 * 1024**3


@dataclass(frozen=True)
class AlarmSpec:
    suffix: str
    description: str
    namespace: str
    metric: str
    dimensions: dict[str, str]
    threshold: float
    comparison: str = "GreaterThanThreshold"
    statistic: str | None = "Sum"
    extended_statistic: str | None = None
    period: int = 60
    evaluation_periods: int = 5
    critical: bool = False


def _dimensions(pairs: list[str]) -> dict[str, str]:
    """["Name", value, "Name2", value2] -> {"Name": value, "Name2": value2}."""
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


def _dms_task(migration: Migration, task_resource_id: str) -> list[str]:
    """The dimensions DMS publishes a task's metrics under: its replication instance and the task."""
    return [
        "ReplicationInstanceIdentifier",
        migration.instance.replication_instance_id,
        "ReplicationTaskIdentifier",
        task_resource_id,
    ]


def critical_alarm_prefix(name_prefix: str) -> str:
    """Alarms named so block a traffic shift and trigger the rollback."""
    return f"{name_prefix}-critical-"


class Monitoring(Construct):
    """Watches the API, Aurora, DMS and the functions; critical alarms publish to the critical topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        region: str,
        route53_metrics_region: str,
        cdc_latency_threshold_seconds: int,
        alerting: Alerting,
        database: Database,
        migration: Migration,
        compute: Compute,
        load_balancer: LoadBalancer,
        dns: Dns,
        cutover: Cutover,
    ) -> None:
        super().__init__(scope, construct_id)
        self._name_prefix = name_prefix
        self._region = region
        self._route53_metrics_region = route53_metrics_region
        self._alerting = alerting
        self._functions = [compute.payment_api, *cutover.functions]
        # Dimensions as the dashboard's metric arrays want them; alarms take them as dicts.
        self._alb = ["LoadBalancer", load_balancer.alb.arn_suffix]
        self._dms = _dms_task(migration, migration.task_resource_id)
        self._reverse_dms = _dms_task(migration, migration.reverse_task_resource_id)
        self._cluster = ["DBClusterIdentifier", database.cluster.cluster_identifier]
        # Instance-level metrics of whichever instance is the writer now: Aurora's role dimension follows a
        # failover ("use WRITER or READER role metrics to set up alarms instead of relying on metrics for specific
        # DB instances", https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/creating_alarms.html).
        self._writer = [*self._cluster, "Role", "WRITER"]
        self.alarms = [
            self._alarm(spec)
            for spec in self._alarm_specs(
                target_group_arn_suffix=load_balancer.target_group.arn_suffix,
                api=compute,
                cdc_latency_threshold_seconds=cdc_latency_threshold_seconds,
                legacy_health_check_ids=[check.id for check in dns.legacy_health_checks],
            )
        ]
        self._subscribe_rollback(cutover)
        self._schedule_validator(cutover)
        # Publishes to the alerts topic: created once the topic's policy names DMS.
        DmsEventSubscription(
            self,
            "dms_events",
            name=f"{name_prefix}-dms-events",
            sns_topic_arn=alerting.alerts.arn,
            source_type="replication-task",
            source_ids=[migration.task.replication_task_id],
            event_categories=["failure", "state change"],
            enabled=True,
            depends_on=alerting.policies,
        )
        self.dashboard = CloudwatchDashboard(
            self, "dashboard", dashboard_name=f"{name_prefix}-migration", dashboard_body=self._dashboard_body(cutover)
        )

    def _alarm_specs(
        self,
        *,
        target_group_arn_suffix: str,
        api: Compute,
        cdc_latency_threshold_seconds: int,
        legacy_health_check_ids: list[str],
    ) -> list[AlarmSpec]:
        targets = {**_dimensions(self._alb), "TargetGroup": target_group_arn_suffix}
        dms, cluster = _dimensions(self._dms), _dimensions(self._cluster)
        specs = [
            AlarmSpec(
                "alb-target-5xx",
                "Payments API answers 5xx",
                "AWS/ApplicationELB",
                "HTTPCode_Target_5XX_Count",
                targets,
                10,
                critical=True,
            ),
            AlarmSpec(
                "alb-p99-latency",
                "Payments API p99 latency over 2 s",
                "AWS/ApplicationELB",
                "TargetResponseTime",
                targets,
                2,
                statistic=None,
                extended_statistic="p99",
                critical=True,
            ),
            AlarmSpec(
                "dms-cdc-latency",
                "DMS CDC target latency over threshold",
                "AWS/DMS",
                "CDCLatencyTarget",
                dms,
                cdc_latency_threshold_seconds,
                statistic="Maximum",
                critical=True,
            ),
            # Reverse replication (Aurora -> legacy, after the flip) alerts but never triggers rollback: a rollback
            # has to drain this very task first.
            AlarmSpec(
                "dms-reverse-cdc-latency",
                "DMS reverse (Aurora to legacy) CDC target latency over threshold",
                "AWS/DMS",
                "CDCLatencyTarget",
                _dimensions(self._reverse_dms),
                cdc_latency_threshold_seconds,
                statistic="Maximum",
            ),
            AlarmSpec(
                "aurora-replication-slot-lag",
                "Aurora's oldest replication slot lags over 1 GiB of WAL",
                "AWS/RDS",
                "OldestReplicationSlotLag",
                _dimensions(self._writer),
                SLOT_LAG_ALARM_BYTES,
                statistic="Maximum",
            ),
            AlarmSpec(
                "aurora-transaction-logs-disk",
                "Aurora's transaction logs use over 10 GiB on the writer",
                "AWS/RDS",
                "TransactionLogsDiskUsage",
                _dimensions(self._writer),
                TRANSACTION_LOGS_ALARM_BYTES,
                statistic="Maximum",
            ),
            AlarmSpec(
                "aurora-acu-utilization",
                "Aurora Serverless v2 near its ACU ceiling",
                "AWS/RDS",
                "ACUUtilization",
                cluster,
                90,
                statistic="Average",
            ),
            AlarmSpec(
                "aurora-cpu", "Aurora CPU above 80%", "AWS/RDS", "CPUUtilization", cluster, 80, statistic="Average"
            ),
        ]
        for function in self._functions:
            dimensions = {"FunctionName": function.name}
            specs.append(
                AlarmSpec(
                    f"{function.short_name}-errors",
                    f"{function.name} errors",
                    "AWS/Lambda",
                    "Errors",
                    dimensions,
                    5,
                    critical=function is api.payment_api,
                )
            )
            specs.append(
                AlarmSpec(
                    f"{function.short_name}-throttles",
                    f"{function.name} throttled",
                    "AWS/Lambda",
                    "Throttles",
                    dimensions,
                    0,
                )
            )
        # Not critical: when legacy is unhealthy, rolling back to it would make things worse. Route53 keeps
        # its health-check metrics in one region, and a single-provider stack cannot alarm across regions.
        if self._region == self._route53_metrics_region:
            # One per checked legacy address; the first keeps the name it had when only one was checked.
            specs += [
                AlarmSpec(
                    "legacy-health" if index == 0 else f"legacy-health-{index + 1}",
                    "Legacy endpoint health check failing",
                    "AWS/Route53",
                    "HealthCheckStatus",
                    {"HealthCheckId": check_id},
                    1,
                    comparison="LessThanThreshold",
                    statistic="Minimum",
                    evaluation_periods=3,
                )
                for index, check_id in enumerate(legacy_health_check_ids)
            ]
        return specs

    def _alarm(self, spec: AlarmSpec) -> CloudwatchMetricAlarm:
        prefix = self._name_prefix
        name = f"{critical_alarm_prefix(prefix)}{spec.suffix}" if spec.critical else f"{prefix}-{spec.suffix}"
        topics = self._alerting
        actions = [topics.alerts.arn] + ([topics.critical.arn] if spec.critical else [])
        return CloudwatchMetricAlarm(
            self,
            spec.suffix.replace("-", "_"),
            alarm_name=name,
            alarm_description=spec.description,
            namespace=spec.namespace,
            metric_name=spec.metric,
            dimensions=spec.dimensions,
            statistic=spec.statistic,
            extended_statistic=spec.extended_statistic,
            period=spec.period,
            evaluation_periods=spec.evaluation_periods,
            threshold=spec.threshold,
            comparison_operator=spec.comparison,
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=[topics.alerts.arn],
            # Publishes to the topics: created once their policies name CloudWatch.
            depends_on=topics.policies,
        )

    def _subscribe_rollback(self, cutover: Cutover) -> None:
        critical = self._alerting.critical
        permission = cutover.rollback.invoke_permission(
            self, "rollback_from_sns", statement_id="AllowCriticalTopicInvoke", service="sns", source_arn=critical.arn
        )
        SnsTopicSubscription(
            self,
            "rollback_on_critical",
            topic_arn=critical.arn,
            protocol="lambda",
            endpoint=cutover.rollback.arn,
            depends_on=[permission, self._alerting.topic_policies["critical"]],
        )

    def _schedule_validator(self, cutover: Cutover) -> None:
        validator = cutover.validator
        rule = CloudwatchEventRule(
            self,
            "validation_schedule",
            name=f"{self._name_prefix}-validate",
            description="Runs the migration validator",
            schedule_expression=VALIDATION_SCHEDULE,
        )
        permission = validator.invoke_permission(
            self, "validator_from_schedule", statement_id="AllowScheduleInvoke", service="events", source_arn=rule.arn
        )
        CloudwatchEventTarget(self, "validation_target", rule=rule.name, arn=validator.arn, depends_on=[permission])

    def _dashboard_body(self, cutover: Cutover) -> str:
        alb, dms, cluster = self._alb, self._dms, self._cluster
        panels = [
            (
                "Payments API requests and 5xx",
                [
                    ["AWS/ApplicationELB", "RequestCount", *alb],
                    ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *alb],
                ],
            ),
            ("Payments API p99 latency", [["AWS/ApplicationELB", "TargetResponseTime", *alb, {"stat": "p99"}]]),
            ("DMS CDC latency", [["AWS/DMS", "CDCLatencySource", *dms], ["AWS/DMS", "CDCLatencyTarget", *dms]]),
            (
                "DMS reverse CDC latency (after the flip)",
                [
                    ["AWS/DMS", "CDCLatencySource", *self._reverse_dms],
                    ["AWS/DMS", "CDCLatencyTarget", *self._reverse_dms],
                ],
            ),
            (
                "Aurora replication slot lag and transaction logs",
                [
                    ["AWS/RDS", "OldestReplicationSlotLag", *self._writer],
                    ["AWS/RDS", "TransactionLogsDiskUsage", *self._writer],
                ],
            ),
            ("Migration readiness (1 = ready)", [[cutover.metric_namespace, cutover.ready_metric_name]]),
            (
                "Aurora ACU utilization and CPU",
                [["AWS/RDS", "ACUUtilization", *cluster], ["AWS/RDS", "CPUUtilization", *cluster]],
            ),
            (
                "Lambda errors",
                [["AWS/Lambda", "Errors", "FunctionName", function.name] for function in self._functions],
            ),
        ]
        return json.dumps(
            {"widgets": [self._widget(index, title, metrics) for index, (title, metrics) in enumerate(panels)]}
        )

    def _widget(self, index: int, title: str, metrics: list[list]) -> dict:
        return {
            "type": "metric",
            "x": (index % 2) * 12,
            "y": (index // 2) * 6,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "metrics": metrics,
                "region": self._region,
                "period": 60,
                "stat": "Sum",
                "view": "timeSeries",
            },
        }
