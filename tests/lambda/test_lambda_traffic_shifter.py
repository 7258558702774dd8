"""traffic_shifter against moto: weighted Route53 records, MigrationReady gate, critical alarms."""

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

RECORD = "api.example.com."
NAMESPACE = "PaymentsMigration"
PREFIX = "payments-critical-"
ALB_DNS = "payments-alb-123.us-east-1.elb.amazonaws.com."
ALB_ZONE = "Z35SXDOTRQ7X7K"


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture
def zone(aws):
    route53 = boto3.client("route53", region_name="us-east-1")
    zone_id = route53.create_hosted_zone(Name="example.com", CallerReference="zone-1")[
        "HostedZone"]["Id"].split("/")[-1]
    health_check_id = route53.create_health_check(
        CallerReference="hc-1",
        HealthCheckConfig={"IPAddress": "203.0.113.10", "Port": 443, "Type": "HTTPS",
                           "ResourcePath": "/health", "RequestInterval": 30, "FailureThreshold": 3},
    )["HealthCheck"]["Id"]
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": RECORD, "Type": "A", "SetIdentifier": "new", "Weight": 0,
            "AliasTarget": {"HostedZoneId": ALB_ZONE, "DNSName": ALB_DNS,
                            "EvaluateTargetHealth": True}}},
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": RECORD, "Type": "A", "SetIdentifier": "legacy", "Weight": 100, "TTL": 60,
            "ResourceRecords": [{"Value": "203.0.113.10"}], "HealthCheckId": health_check_id}},
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": "other.example.com.", "Type": "A", "SetIdentifier": "new", "Weight": 7,
            "TTL": 60, "ResourceRecords": [{"Value": "198.51.100.1"}]}},
    ]})
    return {"zone_id": zone_id, "health_check_id": health_check_id, "route53": route53}


@pytest.fixture
def env(monkeypatch, zone):
    monkeypatch.setenv("HOSTED_ZONE_ID", zone["zone_id"])
    monkeypatch.setenv("RECORD_NAME", "api.example.com")
    monkeypatch.setenv("CRITICAL_ALARM_PREFIX", PREFIX)
    monkeypatch.setenv("METRIC_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("READY_METRIC_NAME", "MigrationReady")
    for name in ("NEW_SET_IDENTIFIER", "LEGACY_SET_IDENTIFIER", "READINESS_MAX_AGE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    return zone


@pytest.fixture
def cloudwatch(aws):
    return boto3.client("cloudwatch", region_name="us-east-1")


@pytest.fixture
def change_calls(traffic_shifter, env):
    """Counts ChangeResourceRecordSets calls made by the handler's own route53 client."""
    calls = []
    traffic_shifter.aws_client("route53").meta.events.register(
        "before-parameter-build.route53.ChangeResourceRecordSets",
        lambda params, **_: calls.append(params), )
    return calls


def publish_ready(cloudwatch, value, age_seconds=30):
    cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=[{
        "MetricName": "MigrationReady", "Value": value,
        "Timestamp": datetime.now(timezone.utc) - timedelta(seconds=age_seconds)}])


def put_alarm(cloudwatch, name, state):
    cloudwatch.put_metric_alarm(
        AlarmName=name, MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold")
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def weights(route53, zone_id, name=RECORD):
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {r["SetIdentifier"]: r["Weight"] for r in records
            if r["Name"] == name and "SetIdentifier" in r}


def records_by_set(route53, zone_id):
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {r["SetIdentifier"]: r for r in records if r["Name"] == RECORD and "SetIdentifier" in r}


def test_shift_by_step_changes_both_records_in_one_batch(traffic_shifter, env, cloudwatch, change_calls):
    publish_ready(cloudwatch, 1)
    result = traffic_shifter.handler({"step": 10}, None)
    assert result["ok"] is True, result
    assert result["changed"] is True
    assert result["before"] == {"new": 0, "legacy": 100}
    assert result["after"] == {"new": 10, "legacy": 90}
    assert result["change_id"]
    assert weights(env["route53"], env["zone_id"]) == {"new": 10, "legacy": 90}
    assert len(change_calls) == 1
    changes = change_calls[0]["ChangeBatch"]["Changes"]
    assert sorted((c["Action"], c["ResourceRecordSet"]["SetIdentifier"],
                   c["ResourceRecordSet"]["Weight"]) for c in changes) == [
        ("UPSERT", "legacy", 90), ("UPSERT", "new", 10)]


def test_shift_preserves_everything_but_the_weight(traffic_shifter, env, cloudwatch):
    before = records_by_set(env["route53"], env["zone_id"])
    publish_ready(cloudwatch, 1)
    assert traffic_shifter.handler({"target_weight": 40}, None)["ok"] is True
    after = records_by_set(env["route53"], env["zone_id"])
    for set_id in ("new", "legacy"):
        assert {k: v for k, v in after[set_id].items() if k != "Weight"} == \
               {k: v for k, v in before[set_id].items() if k != "Weight"}
    assert after["new"]["AliasTarget"]["DNSName"] == ALB_DNS
    assert after["legacy"]["HealthCheckId"] == env["health_check_id"]
    assert after["legacy"]["TTL"] == 60
    assert weights(env["route53"], env["zone_id"], "other.example.com.") == {"new": 7}


def test_shift_to_target_and_step_is_clamped(traffic_shifter, env, cloudwatch):
    publish_ready(cloudwatch, 1)
    assert traffic_shifter.handler({"target_weight": 95}, None)["after"] == {"new": 95, "legacy": 5}
    result = traffic_shifter.handler({"step": 25}, None)
    assert result["after"] == {"new": 100, "legacy": 0}
    assert weights(env["route53"], env["zone_id"]) == {"new": 100, "legacy": 0}


def test_no_op_makes_no_change_call(traffic_shifter, env, change_calls):
    result = traffic_shifter.handler({"target_weight": 0}, None)
    assert result == {"ok": True, "changed": False, "before": {"new": 0, "legacy": 100},
                      "after": {"new": 0, "legacy": 100}, "change_id": None,
                      "message": "weights already at the requested values"}
    assert change_calls == []
    assert traffic_shifter.handler({"step": -10}, None)["changed"] is False
    assert change_calls == []


def test_increase_refused_without_readiness_metric(traffic_shifter, env, change_calls):
    result = traffic_shifter.handler({"step": 10}, None)
    assert result["ok"] is False
    assert "increase refused" in result["error"]
    assert "no MigrationReady datapoint" in result["error"]
    assert change_calls == []
    assert weights(env["route53"], env["zone_id"]) == {"new": 0, "legacy": 100}


def test_increase_refused_while_not_ready(traffic_shifter, env, cloudwatch, change_calls):
    publish_ready(cloudwatch, 0)
    result = traffic_shifter.handler({"target_weight": 50}, None)
    assert result["ok"] is False
    assert "MigrationReady is 0" in result["error"]
    assert change_calls == []


def test_latest_readiness_datapoint_wins(traffic_shifter, env, cloudwatch):
    publish_ready(cloudwatch, 0, age_seconds=400)
    publish_ready(cloudwatch, 1, age_seconds=200)
    assert traffic_shifter.handler({"step": 5}, None)["ok"] is True
    publish_ready(cloudwatch, 0, age_seconds=20)
    result = traffic_shifter.handler({"step": 5}, None)
    assert result["ok"] is False
    assert "MigrationReady is 0" in result["error"]


def test_stale_readiness_is_refused(traffic_shifter, env, cloudwatch, monkeypatch):
    monkeypatch.setenv("READINESS_MAX_AGE_SECONDS", "120")
    publish_ready(cloudwatch, 1, age_seconds=600)
    result = traffic_shifter.handler({"step": 5}, None)
    assert result["ok"] is False
    assert "within the last 120 seconds" in result["error"]


def test_increase_refused_while_critical_alarm_fires(traffic_shifter, env, cloudwatch, change_calls):
    publish_ready(cloudwatch, 1)
    put_alarm(cloudwatch, PREFIX + "alb-5xx", "ALARM")
    put_alarm(cloudwatch, PREFIX + "latency", "OK")
    put_alarm(cloudwatch, "unrelated-alarm", "ALARM")
    result = traffic_shifter.handler({"step": 10}, None)
    assert result["ok"] is False
    assert result["reasons"] == [f"critical alarm(s) in ALARM: {PREFIX}alb-5xx"]
    assert change_calls == []


def test_only_unrelated_or_ok_alarms_do_not_block(traffic_shifter, env, cloudwatch):
    publish_ready(cloudwatch, 1)
    put_alarm(cloudwatch, PREFIX + "latency", "OK")
    put_alarm(cloudwatch, "unrelated-alarm", "ALARM")
    assert traffic_shifter.handler({"step": 10}, None)["ok"] is True


def test_decrease_allowed_while_alarm_fires_and_not_ready(traffic_shifter, env, cloudwatch,
                                                          change_calls):
    publish_ready(cloudwatch, 1)
    assert traffic_shifter.handler({"target_weight": 50}, None)["ok"] is True
    publish_ready(cloudwatch, 0, age_seconds=0)
    put_alarm(cloudwatch, PREFIX + "alb-5xx", "ALARM")
    result = traffic_shifter.handler({"step": -30}, None)
    assert result["ok"] is True, result
    assert result["after"] == {"new": 20, "legacy": 80}
    assert weights(env["route53"], env["zone_id"]) == {"new": 20, "legacy": 80}
    assert len(change_calls) == 2


def test_missing_legacy_record_is_refused(traffic_shifter, env, cloudwatch):
    legacy = records_by_set(env["route53"], env["zone_id"])["legacy"]
    env["route53"].change_resource_record_sets(HostedZoneId=env["zone_id"], ChangeBatch={
        "Changes": [{"Action": "DELETE", "ResourceRecordSet": legacy}]})
    publish_ready(cloudwatch, 1)
    result = traffic_shifter.handler({"step": 10}, None)
    assert result == {"ok": False, "error": "legacy record api.example.com. "
                                            "(set identifier 'legacy') not found"}


def test_custom_set_identifiers(traffic_shifter, env, cloudwatch, monkeypatch):
    monkeypatch.setenv("NEW_SET_IDENTIFIER", "blue")
    result = traffic_shifter.handler({"step": 10}, None)
    assert result["ok"] is False
    assert "set identifier 'blue'" in result["error"]


@pytest.mark.parametrize("event, reason", [
    ({}, "exactly one of target_weight or step is required"),
    ({"target_weight": 10, "step": 5}, "exactly one of target_weight or step is required"),
    ({"target_weight": 101}, "target_weight must be between 0 and 100, got 101"),
    ({"target_weight": -1}, "target_weight must be between 0 and 100, got -1"),
    ({"step": 101}, "step must be between -100 and 100, got 101"),
    ({"step": -101}, "step must be between -100 and 100, got -101"),
    ({"target_weight": 10.5}, "target_weight must be an integer between 0 and 100"),
    ({"target_weight": 10.0}, "target_weight must be an integer between 0 and 100"),
    ({"target_weight": "10"}, "target_weight must be an integer between 0 and 100"),
    ({"target_weight": True}, "target_weight must be an integer between 0 and 100"),
    ({"step": None}, "step must be an integer between -100 and 100"),
    ({"weight": 10}, "unknown event key(s): weight"),
    ({"step": 10, "reason": 5}, "reason must be a string of at most 256 characters"),
    ([10], "event must be a JSON object"),
    (None, "event must be a JSON object"),
])
def test_bad_events_are_rejected_with_reasons(traffic_shifter, env, change_calls, event, reason):
    result = traffic_shifter.handler(event, None)
    assert result["ok"] is False
    assert reason in result["error"]
    assert change_calls == []


def test_missing_configuration_is_reported(traffic_shifter, env, monkeypatch):
    monkeypatch.delenv("CRITICAL_ALARM_PREFIX")
    monkeypatch.delenv("READY_METRIC_NAME")
    result = traffic_shifter.handler({"step": 10}, None)
    assert result == {"ok": False, "error": "configuration error: missing environment "
                                            "variable(s): CRITICAL_ALARM_PREFIX, READY_METRIC_NAME"}


def test_aws_errors_do_not_escape(traffic_shifter, env, monkeypatch):
    monkeypatch.setenv("HOSTED_ZONE_ID", "ZNOSUCHZONE")
    result = traffic_shifter.handler({"step": 10}, None)
    assert result["ok"] is False
    assert result["error"].startswith("AWS request failed (")
    assert "Traceback" not in json.dumps(result)


def test_dual_stack_records_move_together(traffic_shifter, env, cloudwatch, change_calls):
    env["route53"].change_resource_record_sets(HostedZoneId=env["zone_id"], ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": RECORD, "Type": "AAAA", "SetIdentifier": "new", "Weight": 0,
            "AliasTarget": {"HostedZoneId": ALB_ZONE, "DNSName": ALB_DNS,
                            "EvaluateTargetHealth": True}}},
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": RECORD, "Type": "AAAA", "SetIdentifier": "legacy", "Weight": 100, "TTL": 60,
            "ResourceRecords": [{"Value": "2001:db8::10"}]}},
    ]})
    publish_ready(cloudwatch, 1)
    result = traffic_shifter.handler({"target_weight": 30}, None)
    assert result["ok"] is True, result
    assert len(change_calls) == 1
    assert len(change_calls[0]["ChangeBatch"]["Changes"]) == 4
    records = env["route53"].list_resource_record_sets(HostedZoneId=env["zone_id"])["ResourceRecordSets"]
    assert sorted((r["Type"], r["SetIdentifier"], r["Weight"]) for r in records
                  if r["Name"] == RECORD) == [("A", "legacy", 70), ("A", "new", 30),
                                              ("AAAA", "legacy", 70), ("AAAA", "new", 30)]


def test_new_record_type_without_legacy_counterpart_is_refused(traffic_shifter, env, change_calls):
    env["route53"].change_resource_record_sets(HostedZoneId=env["zone_id"], ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": RECORD, "Type": "AAAA", "SetIdentifier": "new", "Weight": 0,
            "AliasTarget": {"HostedZoneId": ALB_ZONE, "DNSName": ALB_DNS,
                            "EvaluateTargetHealth": True}}}]})
    result = traffic_shifter.handler({"step": -10}, None)
    assert result["ok"] is False
    assert "record types differ" in result["error"]
    assert change_calls == []


def test_record_listing_follows_pagination(traffic_shifter, env, monkeypatch):
    """A truncated first page is followed with the Next* markers."""
    real = traffic_shifter.aws_client("route53")
    pages = []

    class PagingRoute53:
        def list_resource_record_sets(self, **request):
            pages.append(request)
            full = real.list_resource_record_sets(**{k: v for k, v in request.items()
                                                     if k in ("HostedZoneId",)})
            matching = [r for r in full["ResourceRecordSets"] if r["Name"] == RECORD]
            if "StartRecordIdentifier" not in request:
                return {"ResourceRecordSets": matching[:1], "IsTruncated": True,
                        "NextRecordName": RECORD, "NextRecordType": "A",
                        "NextRecordIdentifier": matching[1]["SetIdentifier"], "MaxItems": "1"}
            return {"ResourceRecordSets": matching[1:], "IsTruncated": False, "MaxItems": "1"}

    monkeypatch.setitem(traffic_shifter._clients, "route53", PagingRoute53())
    result = traffic_shifter.handler({"target_weight": 0}, None)
    assert result["ok"] is True and result["changed"] is False, result
    assert len(pages) == 2
    assert pages[1]["StartRecordType"] == "A"
