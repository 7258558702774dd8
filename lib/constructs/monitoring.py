"""Alert topics, alarms (critical ones trigger rollback), dashboard, DMS events, validator schedule."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.dms_event_subscription import DmsEventSubscription
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from lib.config import ROUTE53_METRICS_REGION
from lib.constructs.compute import PaymentsFunction

VALIDATION_SCHEDULE = "rate(5 minutes)"


class AlertTopics(Construct):
    """`alerts` for people; `critical` also triggers the rollback function."""

    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str, kms_key_arn: str,
                 alarm_email: str | None) -> None:
        super().__init__(scope, construct_id)
        self.alerts = SnsTopic(self, "alerts", name=f"{name_prefix}-alerts", kms_master_key_id=kms_key_arn)
        self.critical = SnsTopic(self, "critical", name=f"{name_prefix}-critical", kms_master_key_id=kms_key_arn)
        if alarm_email:
            for topic_id, topic in (("alerts", self.alerts), ("critical", self.critical)):
                SnsTopicSubscription(self, f"{topic_id}_email", topic_arn=topic.arn, protocol="email",
                                     endpoint=alarm_email)


@dataclass(frozen=True)
class MonitoredResources:
    name_prefix: str
    region: str
    alb_arn_suffix: str
    target_group_arn_suffix: str
    api_function: PaymentsFunction
    control_functions: list[PaymentsFunction]
    validator: PaymentsFunction
    rollback: PaymentsFunction
    cluster_identifier: str
    replication_instance_id: str
    replication_task_id: str
    replication_task_resource_id: str
    legacy_health_check_id: str | None
    cdc_latency_threshold_seconds: int
    metric_namespace: str


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


def critical_alarm_prefix(name_prefix: str) -> str:
    return f"{name_prefix}-critical-"


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, resources: MonitoredResources,
                 topics: AlertTopics) -> None:
        super().__init__(scope, construct_id)
        self._resources = resources
        self._topics = topics
        self.alarms = [self._alarm(spec) for spec in self._alarm_specs()]
        self._subscribe_rollback()
        self._schedule_validator()
        DmsEventSubscription(self, "dms_events", name=f"{resources.name_prefix}-dms-events",
                             sns_topic_arn=topics.alerts.arn, source_type="replication-task",
                             source_ids=[resources.replication_task_id],
                             event_categories=["failure", "state change"], enabled=True)
        self.dashboard = CloudwatchDashboard(self, "dashboard", dashboard_name=f"{resources.name_prefix}-migration",
                                             dashboard_body=self._dashboard_body())

    def _alarm_specs(self) -> list[AlarmSpec]:
        r = self._resources
        alb = {"LoadBalancer": r.alb_arn_suffix, "TargetGroup": r.target_group_arn_suffix}
        specs = [
            AlarmSpec("alb-target-5xx", "Payments API answers 5xx", "AWS/ApplicationELB",
                      "HTTPCode_Target_5XX_Count", alb, 10, critical=True),
            AlarmSpec("alb-p99-latency", "Payments API p99 latency over 2 s", "AWS/ApplicationELB",
                      "TargetResponseTime", alb, 2, statistic=None, extended_statistic="p99", critical=True),
            AlarmSpec("dms-cdc-latency", "DMS CDC target latency over threshold", "AWS/DMS", "CDCLatencyTarget",
                      {"ReplicationInstanceIdentifier": r.replication_instance_id,
                       "ReplicationTaskIdentifier": r.replication_task_resource_id},
                      r.cdc_latency_threshold_seconds, statistic="Maximum", critical=True),
            AlarmSpec("aurora-acu-utilization", "Aurora Serverless v2 near its ACU ceiling", "AWS/RDS",
                      "ACUUtilization", {"DBClusterIdentifier": r.cluster_identifier}, 90, statistic="Average"),
            AlarmSpec("aurora-cpu", "Aurora CPU above 80%", "AWS/RDS", "CPUUtilization",
                      {"DBClusterIdentifier": r.cluster_identifier}, 80, statistic="Average"),
        ]
        for function in [r.api_function, *r.control_functions]:
            short = function.name.removeprefix(f"{r.name_prefix}-")
            dimensions = {"FunctionName": function.name}
            specs.append(AlarmSpec(f"{short}-errors", f"{function.name} errors", "AWS/Lambda", "Errors",
                                   dimensions, 5, critical=function is r.api_function))
            specs.append(AlarmSpec(f"{short}-throttles", f"{function.name} throttled", "AWS/Lambda", "Throttles",
                                   dimensions, 0))
        # Not critical: when legacy is unhealthy, rolling back to it would make things worse. Route53 keeps
        # its health-check metrics in one region, and a single-provider stack cannot alarm across regions.
        if r.legacy_health_check_id and r.region == ROUTE53_METRICS_REGION:
            specs.append(AlarmSpec("legacy-health", "Legacy endpoint health check failing", "AWS/Route53",
                                   "HealthCheckStatus", {"HealthCheckId": r.legacy_health_check_id}, 1,
                                   comparison="LessThanThreshold", statistic="Minimum", evaluation_periods=3))
        return specs

    def _alarm(self, spec: AlarmSpec) -> CloudwatchMetricAlarm:
        prefix = self._resources.name_prefix
        name = f"{critical_alarm_prefix(prefix)}{spec.suffix}" if spec.critical else f"{prefix}-{spec.suffix}"
        actions = [self._topics.alerts.arn] + ([self._topics.critical.arn] if spec.critical else [])
        return CloudwatchMetricAlarm(
            self, spec.suffix.replace("-", "_"), alarm_name=name, alarm_description=spec.description,
            namespace=spec.namespace, metric_name=spec.metric, dimensions=spec.dimensions,
            statistic=spec.statistic, extended_statistic=spec.extended_statistic, period=spec.period,
            evaluation_periods=spec.evaluation_periods, threshold=spec.threshold,
            comparison_operator=spec.comparison, treat_missing_data="notBreaching",
            alarm_actions=actions, ok_actions=[self._topics.alerts.arn])

    def _subscribe_rollback(self) -> None:
        rollback = self._resources.rollback
        permission = LambdaPermission(self, "rollback_from_sns", statement_id="AllowCriticalTopicInvoke",
                                      action="lambda:InvokeFunction", function_name=rollback.function.function_name,
                                      principal="sns.amazonaws.com", source_arn=self._topics.critical.arn)
        SnsTopicSubscription(self, "rollback_on_critical", topic_arn=self._topics.critical.arn, protocol="lambda",
                             endpoint=rollback.arn, depends_on=[permission])

    def _schedule_validator(self) -> None:
        validator = self._resources.validator
        rule = CloudwatchEventRule(self, "validation_schedule", name=f"{self._resources.name_prefix}-validate",
                                   description="Runs the migration validator", schedule_expression=VALIDATION_SCHEDULE)
        permission = LambdaPermission(self, "validator_from_schedule", statement_id="AllowScheduleInvoke",
                                      action="lambda:InvokeFunction", function_name=validator.function.function_name,
                                      principal="events.amazonaws.com", source_arn=rule.arn)
        CloudwatchEventTarget(self, "validation_target", rule=rule.name, arn=validator.arn,
                              depends_on=[permission])

    def _dashboard_body(self) -> str:
        r = self._resources
        alb = ["LoadBalancer", r.alb_arn_suffix]
        panels = [
            ("Payments API requests and 5xx", [
                ["AWS/ApplicationELB", "RequestCount", *alb], ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *alb]]),
            ("Payments API p99 latency", [["AWS/ApplicationELB", "TargetResponseTime", *alb, {"stat": "p99"}]]),
            ("DMS CDC latency", [
                ["AWS/DMS", "CDCLatencySource", "ReplicationInstanceIdentifier", r.replication_instance_id,
                 "ReplicationTaskIdentifier", r.replication_task_resource_id],
                ["AWS/DMS", "CDCLatencyTarget", "ReplicationInstanceIdentifier", r.replication_instance_id,
                 "ReplicationTaskIdentifier", r.replication_task_resource_id]]),
            ("Migration readiness (1 = ready)", [[r.metric_namespace, "MigrationReady"]]),
            ("Aurora ACU utilization and CPU", [
                ["AWS/RDS", "ACUUtilization", "DBClusterIdentifier", r.cluster_identifier],
                ["AWS/RDS", "CPUUtilization", "DBClusterIdentifier", r.cluster_identifier]]),
            ("Lambda errors", [["AWS/Lambda", "Errors", "FunctionName", function.name]
                               for function in [r.api_function, *r.control_functions]]),
        ]
        return json.dumps({"widgets": [self._widget(index, title, metrics)
                                       for index, (title, metrics) in enumerate(panels)]})

    def _widget(self, index: int, title: str, metrics: list[list]) -> dict:
        return {"type": "metric", "x": (index % 2) * 12, "y": (index // 2) * 6, "width": 12, "height": 6,
                "properties": {"title": title, "metrics": metrics, "region": self._resources.region,
                               "period": 60, "stat": "Sum", "view": "timeSeries"}}
