"""Monitoring alone: alarms over the tier (critical ones roll back), the validator's schedule, the dashboard."""

import json
import re

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.dms_event_subscription import DmsEventSubscription

from lib.config import ROUTE53_METRICS_REGION
from lib.constructs.monitoring import critical_alarm_prefix
from tests.unit.profiles import GLOBAL_LEGACY_IP
from tests.unit.stacks import METRIC_NAMESPACE, declare_variants

SECOND_LEGACY_IP = "52.94.76.11"
LEGACY_IPS = (GLOBAL_LEGACY_IP, SECOND_LEGACY_IP)
LEGACY = {
    "legacy_endpoint": ",".join(LEGACY_IPS),
    "legacy_ips": LEGACY_IPS,
    "health_checked_ips": LEGACY_IPS,
    "new_weight": 0,
}


# Monitoring of a stack in the region where Route53 publishes its metrics, and of one elsewhere (the region is
# an input of the construct).
VARIANTS = declare_variants(
    "monitoring",
    "monitoring",
    {region: {"dns": LEGACY, "monitoring": {"region": region}} for region in (ROUTE53_METRICS_REGION, "eu-central-1")},
)


@pytest.fixture(scope="module")
def regions(construct_variants):
    return construct_variants.views[VARIANTS]


@pytest.fixture(scope="module")
def us_east_1(regions):
    return regions[ROUTE53_METRICS_REGION]


@pytest.fixture(scope="module")
def eu_central_1(regions):
    return regions["eu-central-1"]


def _alarms(synthesized):
    return {alarm["alarm_name"]: alarm for alarm in synthesized.resources("aws_cloudwatch_metric_alarm").values()}


def test_alarms_cover_the_api_the_database_dms_and_every_function(us_east_1):
    built, synthesized = us_east_1
    metrics = {(alarm["namespace"], alarm["metric_name"]) for alarm in _alarms(synthesized).values()}
    assert {
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
        ("AWS/ApplicationELB", "TargetResponseTime"),
        ("AWS/RDS", "ACUUtilization"),
        ("AWS/RDS", "CPUUtilization"),
        ("AWS/DMS", "CDCLatencyTarget"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
    } <= metrics
    for function in [built.compute.payment_api, *built.cutover.functions]:
        names = [
            name
            for name, alarm in _alarms(synthesized).items()
            if alarm["dimensions"] == {"FunctionName": function.name}
        ]
        assert sorted(name.rsplit("-", 1)[-1] for name in names) == ["errors", "throttles"]
        assert all(function.short_name in name for name in names)
    cdc = _alarms(synthesized)["payments-test-critical-dms-cdc-latency"]
    assert cdc["threshold"] == 120 and cdc["dimensions"]["ReplicationTaskIdentifier"] == synthesized.ref(
        built.migration.task_resource_id
    )


def test_critical_alarms_alert_people_and_trigger_rollback(us_east_1):
    built, synthesized = us_east_1
    alerts, critical_topic = synthesized.ref(built.alerting.alerts.arn), synthesized.ref(built.alerting.critical.arn)
    prefix = critical_alarm_prefix("payments-test")
    critical = {name: alarm for name, alarm in _alarms(synthesized).items() if name.startswith(prefix)}
    assert {"payments-test-critical-alb-target-5xx", "payments-test-critical-payment-api-errors"} <= set(critical)
    assert all(alarm["alarm_actions"] == [alerts, critical_topic] for alarm in critical.values())
    others = [alarm for name, alarm in _alarms(synthesized).items() if name not in critical]
    assert others and all(alarm["alarm_actions"] == [alerts] for alarm in others)
    subscription = synthesized.one("aws_sns_topic_subscription")
    assert (subscription["topic_arn"], subscription["protocol"]) == (critical_topic, "lambda")
    assert subscription["endpoint"] == synthesized.ref(built.cutover.rollback.arn)
    permission = next(
        p for p in synthesized.of(built.monitoring, "aws_lambda_permission") if p["source_arn"] == critical_topic
    )
    assert permission["principal"] == synthesized.principal_ref("sns")


def test_validator_runs_on_a_schedule(us_east_1):
    built, synthesized = us_east_1
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        CloudwatchEventRule.TF_RESOURCE_TYPE,
        {"name": "payments-test-validate", "schedule_expression": "rate(5 minutes)"},
    )
    assert synthesized.one("aws_cloudwatch_event_target")["arn"] == synthesized.ref(built.cutover.validator.arn)
    permission = next(
        p
        for p in synthesized.of(built.monitoring, "aws_lambda_permission")
        if p["principal"] == synthesized.principal_ref("events")
    )
    assert permission["function_name"] == synthesized.ref(built.cutover.validator.function.function_name)


def test_dms_task_events_reach_the_alert_topic(us_east_1):
    built, synthesized = us_east_1
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        DmsEventSubscription.TF_RESOURCE_TYPE,
        {
            "source_type": "replication-task",
            "sns_topic_arn": synthesized.ref(built.alerting.alerts.arn),
            "source_ids": [synthesized.ref(built.migration.task.replication_task_id)],
        },
    )


def test_legacy_health_alarms_only_alert_and_only_where_route53_publishes_metrics(us_east_1, eu_central_1):
    built, synthesized = us_east_1
    alarms = {name: a for name, a in _alarms(synthesized).items() if a["namespace"] == "AWS/Route53"}
    # One alarm per checked legacy address; the first keeps the name it had with a single check.
    names = ["payments-test-legacy-health", "payments-test-legacy-health-2"]
    assert sorted(alarms) == names
    assert [alarms[name]["dimensions"] for name in names] == [
        {"HealthCheckId": synthesized.ref(check.id)} for check in built.dns.legacy_health_checks
    ]
    for alarm in alarms.values():
        assert not alarm["alarm_name"].startswith(critical_alarm_prefix("payments-test"))
        assert alarm["alarm_actions"] == [synthesized.ref(built.alerting.alerts.arn)]
    built, synthesized = eu_central_1
    assert len(built.dns.legacy_health_checks) == 2  # the checks exist there too; Route53 keeps their metrics elsewhere
    assert not [a for a in _alarms(synthesized).values() if a["namespace"] == "AWS/Route53"]


def test_publishers_are_created_after_their_topics_policies(us_east_1):
    # Issue 9 #3: an alarm or event subscription that publishes before the topic's policy exists is refused.
    built, synthesized = us_east_1
    policies = sorted(synthesized.address(policy) for policy in built.alerting.policies)
    for alarm in synthesized.resources("aws_cloudwatch_metric_alarm").values():
        assert sorted(alarm["depends_on"]) == policies
    assert sorted(synthesized.one("aws_dms_event_subscription")["depends_on"]) == policies
    [rollback] = [s for s in synthesized.resources("aws_sns_topic_subscription").values() if s["protocol"] == "lambda"]
    assert synthesized.address(built.alerting.topic_policies["critical"]) in rollback["depends_on"]


def test_dashboard_plots_readiness_in_the_stack_region(eu_central_1):
    # seeds 002 #10, 004 #11: dashboards hard-coded to us-east-1 / us-east-2.
    built, synthesized = eu_central_1
    raw = synthesized.one("aws_cloudwatch_dashboard")["dashboard_body"]
    body = json.loads(re.sub(r"\$\{[^}]*\}", "interpolated", raw))  # Terraform fills ${...} at apply
    assert {widget["properties"]["region"] for widget in body["widgets"]} == {"eu-central-1"}
    assert "us-east" not in raw
    metrics = [metric for widget in body["widgets"] for metric in widget["properties"]["metrics"]]
    assert [METRIC_NAMESPACE, built.cutover.ready_metric_name] in metrics


def test_replication_in_each_direction_and_aurora_s_wal_alert_without_rolling_back(us_east_1):
    # Issue 11 #5: slot lag and transaction-log disk on Aurora's writer, CDC latency per direction. They alert
    # people only: rolling back needs the very reverse task they watch.
    built, synthesized = us_east_1
    alarms = _alarms(synthesized)
    writer = {"DBClusterIdentifier": synthesized.ref(built.database.cluster.cluster_identifier), "Role": "WRITER"}
    slot = alarms["payments-test-aurora-replication-slot-lag"]
    logs = alarms["payments-test-aurora-transaction-logs-disk"]
    assert (slot["namespace"], slot["metric_name"], slot["dimensions"]) == (
        "AWS/RDS",
        "OldestReplicationSlotLag",
        writer,
    )
    assert (logs["namespace"], logs["metric_name"], logs["dimensions"]) == (
        "AWS/RDS",
        "TransactionLogsDiskUsage",
        writer,
    )
    reverse = alarms["payments-test-dms-reverse-cdc-latency"]
    assert (reverse["metric_name"], reverse["threshold"]) == ("CDCLatencyTarget", 120)
    assert reverse["dimensions"] == {
        "ReplicationInstanceIdentifier": synthesized.ref(built.migration.instance.replication_instance_id),
        "ReplicationTaskIdentifier": synthesized.ref(built.migration.reverse_task_resource_id),
    }
    forward = alarms["payments-test-critical-dms-cdc-latency"]
    assert forward["dimensions"]["ReplicationTaskIdentifier"] == synthesized.ref(built.migration.task_resource_id)
    alerts = synthesized.ref(built.alerting.alerts.arn)
    for alarm in (slot, logs, reverse):
        assert alarm["alarm_actions"] == [alerts] and alarm["ok_actions"] == [alerts]
