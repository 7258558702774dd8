"""Cutover alone: validator, shifter and rollback wired to the records, the task and the readiness metric."""

import json

import pytest

from lib.constructs.cutover import READINESS_MAX_AGE_SECONDS
from tests.unit.stacks import METRIC_NAMESPACE, built_through


@pytest.fixture(scope="module")
def cutover():
    return built_through("cutover", cutover={"ready_metric_name": "Ready", "cdc_latency_threshold_seconds": 120})


def _environment(synthesized, function):
    return synthesized.body(function.function)["environment"]["variables"]


def _statements(synthesized, function):
    return json.loads(synthesized.one_of(function, "aws_iam_role_policy")["policy"])["Statement"]


def test_three_functions_named_by_their_role(cutover):
    built, _ = cutover
    assert [function.name for function in built.cutover.functions] == [
        "payments-test-migration-validator", "payments-test-traffic-shifter", "payments-test-rollback"]
    assert (built.cutover.metric_namespace, built.cutover.ready_metric_name) == (METRIC_NAMESPACE, "Ready")


def test_validator_reads_the_task_and_publishes_readiness_in_its_namespace(cutover):
    built, synthesized = cutover
    assert _environment(synthesized, built.cutover.validator) == {
        "ALERT_TOPIC_ARN": synthesized.ref(built.alerting.alerts.arn),
        "CDC_LATENCY_THRESHOLD_SECONDS": "120",
        "METRIC_NAMESPACE": METRIC_NAMESPACE,
        "READY_METRIC_NAME": "Ready",
        "REPLICATION_INSTANCE_ID": synthesized.ref(built.migration.instance.replication_instance_id),
        "REPLICATION_TASK_ARN": synthesized.ref(built.migration.task.replication_task_arn)}
    put_metric = next(s for s in _statements(synthesized, built.cutover.validator)
                      if s["Action"] == ["cloudwatch:PutMetricData"])
    assert put_metric["Condition"] == {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}}
    assert synthesized.body(built.cutover.validator.function)["timeout"] == 60


def test_shifter_and_rollback_move_the_dns_records_one_at_a_time(cutover):
    built, synthesized = cutover
    records = {"HOSTED_ZONE_ID": synthesized.ref(built.dns.zone_id), "RECORD_NAME": built.dns.record_name,
               "NEW_SET_IDENTIFIER": "new", "LEGACY_SET_IDENTIFIER": "legacy"}
    assert _environment(synthesized, built.cutover.rollback) == records
    assert _environment(synthesized, built.cutover.shifter) == {
        **records, "CRITICAL_ALARM_PREFIX": "payments-test-critical-", "METRIC_NAMESPACE": METRIC_NAMESPACE,
        "READY_METRIC_NAME": "Ready", "READINESS_MAX_AGE_SECONDS": str(READINESS_MAX_AGE_SECONDS)}
    # Route53 UPSERTs have no compare-and-set: one shift or rollback at a time.
    for function in (built.cutover.shifter, built.cutover.rollback):
        assert synthesized.body(function.function)["reserved_concurrent_executions"] == 1


def test_route53_changes_are_scoped_to_the_weighted_records(cutover):
    built, synthesized = cutover
    zone_arn = "arn:aws:route53:::hostedzone/" + synthesized.ref(built.dns.zone_id)
    for function in (built.cutover.shifter, built.cutover.rollback):
        route53 = [s for s in _statements(synthesized, function) if any(a.startswith("route53:") for a in s["Action"])]
        assert route53 == [
            {"Effect": "Allow", "Action": ["route53:ListResourceRecordSets"], "Resource": zone_arn},
            {"Effect": "Allow", "Action": ["route53:ChangeResourceRecordSets"], "Resource": zone_arn,
             "Condition": {"ForAllValues:StringEquals": {
                 "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["api.payments-test.internal"],
                 "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
                 "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}}}]


def test_a_hostname_legacy_endpoint_makes_the_weighted_records_cnames():
    built, synthesized = built_through("cutover", dns={"legacy_endpoint": "legacy.example.com", "new_weight": 0})
    [change] = [s for s in _statements(synthesized, built.cutover.rollback)
                if s["Action"] == ["route53:ChangeResourceRecordSets"]]
    assert change["Condition"]["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsRecordTypes"] == [
        "CNAME"]
    assert synthesized.body(built.dns.new_record)["type"] == "CNAME"


def test_dms_table_statistics_are_scoped_to_the_task(cutover):
    built, synthesized = cutover
    dms = {tuple(s["Action"]): s["Resource"] for s in _statements(synthesized, built.cutover.validator)
           if any(a.startswith("dms:") for a in s["Action"])}
    # DescribeReplicationTasks supports no resource-level permission: "*" is the only resource it takes.
    assert dms == {("dms:DescribeTableStatistics",): synthesized.ref(built.migration.task.replication_task_arn),
                   ("dms:DescribeReplicationTasks",): "*"}
    for function in built.cutover.functions:
        for statement in _statements(synthesized, function):
            if any(action.startswith(("route53:", "sns:Publish")) for action in statement["Action"]):
                assert statement["Resource"] != "*", statement
