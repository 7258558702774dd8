"""rollback against moto: all traffic to legacy, idempotent, SNS and manual invocations."""

import json

import boto3
import pytest
from moto import mock_aws

RECORD = "api.example.com."
ALB_DNS = "payments-alb-123.us-east-1.elb.amazonaws.com."


@pytest.fixture
def zone(monkeypatch):
    with mock_aws():
        route53 = boto3.client("route53", region_name="us-east-1")
        zone_id = route53.create_hosted_zone(Name="example.com", CallerReference="z")[
            "HostedZone"]["Id"].split("/")[-1]
        route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
            {"Action": "CREATE", "ResourceRecordSet": {
                "Name": RECORD, "Type": "A", "SetIdentifier": "new", "Weight": 60,
                "AliasTarget": {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": ALB_DNS,
                                "EvaluateTargetHealth": True}}},
            {"Action": "CREATE", "ResourceRecordSet": {
                "Name": RECORD, "Type": "A", "SetIdentifier": "legacy", "Weight": 40, "TTL": 60,
                "ResourceRecords": [{"Value": "203.0.113.10"}]}},
        ]})
        monkeypatch.setenv("HOSTED_ZONE_ID", zone_id)
        monkeypatch.setenv("RECORD_NAME", "API.example.com")
        monkeypatch.delenv("NEW_SET_IDENTIFIER", raising=False)
        monkeypatch.delenv("LEGACY_SET_IDENTIFIER", raising=False)
        yield {"zone_id": zone_id, "route53": route53}


@pytest.fixture
def change_calls(rollback, zone):
    calls = []
    rollback.aws_client("route53").meta.events.register(
        "before-parameter-build.route53.ChangeResourceRecordSets",
        lambda params, **_: calls.append(params))
    return calls


def records(zone):
    listed = zone["route53"].list_resource_record_sets(HostedZoneId=zone["zone_id"])
    return {r["SetIdentifier"]: r for r in listed["ResourceRecordSets"] if "SetIdentifier" in r}


def weights(zone):
    return {set_id: record["Weight"] for set_id, record in records(zone).items()}


def sns_event(*messages):
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:alarms:sub",
        "Sns": {"Type": "Notification", "MessageId": "m-1", "TopicArn":
                "arn:aws:sns:us-east-1:123456789012:alarms", "Subject": "ALARM: test",
                "Message": message if isinstance(message, str) else json.dumps(message),
                "Timestamp": "2024-05-01T10:00:00.000Z"}}
        for message in messages]}


def alarm_message(name, state="ALARM"):
    return {"AlarmName": name, "NewStateValue": state, "NewStateReason": "Threshold Crossed",
            "OldStateValue": "OK", "Trigger": {"MetricName": "HTTPCode_Target_5XX_Count"}}


def test_manual_rollback_moves_all_traffic_in_one_batch(rollback, zone, change_calls):
    before = records(zone)
    result = rollback.handler({"reason": "error budget burned"}, None)
    assert result["ok"] is True, result
    assert result["changed"] is True
    assert result["before"] == {"new": 60, "legacy": 40}
    assert result["after"] == {"new": 0, "legacy": 100}
    assert result["change_id"]
    assert result["trigger"] == {"source": "manual", "reason": "error budget burned"}
    assert weights(zone) == {"new": 0, "legacy": 100}
    assert len(change_calls) == 1
    batch = change_calls[0]["ChangeBatch"]
    assert sorted((c["Action"], c["ResourceRecordSet"]["SetIdentifier"],
                   c["ResourceRecordSet"]["Weight"]) for c in batch["Changes"]) == [
        ("UPSERT", "legacy", 100), ("UPSERT", "new", 0)]
    assert "error budget burned" in batch["Comment"]
    after = records(zone)
    for set_id in ("new", "legacy"):
        assert {k: v for k, v in after[set_id].items() if k != "Weight"} == \
               {k: v for k, v in before[set_id].items() if k != "Weight"}


def test_rollback_is_idempotent(rollback, zone, change_calls):
    assert rollback.handler({}, None)["changed"] is True
    second = rollback.handler({}, None)
    assert second["ok"] is True
    assert second["changed"] is False
    assert second["message"] == "already rolled back"
    assert second["change_id"] is None
    assert second["before"] == second["after"] == {"new": 0, "legacy": 100}
    assert len(change_calls) == 1


def test_sns_alarm_event_rolls_back_and_logs_alarm_name(rollback, zone, change_calls, capsys):
    result = rollback.handler(sns_event(alarm_message("payments-critical-alb-5xx")), None)
    assert result["ok"] is True and result["changed"] is True, result
    assert weights(zone) == {"new": 0, "legacy": 100}
    assert result["trigger"]["source"] == "sns"
    assert result["trigger"]["messages"][0]["alarm"] == "payments-critical-alb-5xx"
    assert "payments-critical-alb-5xx" in change_calls[0]["ChangeBatch"]["Comment"]
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert any(entry.get("alarm_names") == ["payments-critical-alb-5xx"] for entry in logged)


def test_sns_event_with_non_json_message_still_rolls_back(rollback, zone):
    result = rollback.handler(sns_event("plain text: please roll back"), None)
    assert result["ok"] is True and result["changed"] is True
    assert weights(zone) == {"new": 0, "legacy": 100}


def test_sns_ok_transition_is_ignored(rollback, zone, change_calls):
    result = rollback.handler(sns_event(alarm_message("payments-critical-alb-5xx", "OK")), None)
    assert result["ok"] is True
    assert result["changed"] is False
    assert result["message"].startswith("ignored")
    assert change_calls == []
    assert weights(zone) == {"new": 60, "legacy": 40}


def test_sns_mixed_ok_and_alarm_rolls_back(rollback, zone):
    event = sns_event(alarm_message("a", "OK"), alarm_message("b", "ALARM"))
    assert rollback.handler(event, None)["changed"] is True
    assert weights(zone) == {"new": 0, "legacy": 100}


def test_partial_state_only_changes_what_is_needed(rollback, zone, change_calls):
    legacy = records(zone)["legacy"]
    zone["route53"].change_resource_record_sets(HostedZoneId=zone["zone_id"], ChangeBatch={
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {**legacy, "Weight": 100}}]})
    result = rollback.handler({}, None)
    assert result["changed"] is True
    assert [c["ResourceRecordSet"]["SetIdentifier"]
            for c in change_calls[0]["ChangeBatch"]["Changes"]] == ["new"]
    assert weights(zone) == {"new": 0, "legacy": 100}


def test_missing_legacy_record_is_an_error(rollback, zone, change_calls):
    legacy = records(zone)["legacy"]
    zone["route53"].change_resource_record_sets(HostedZoneId=zone["zone_id"], ChangeBatch={
        "Changes": [{"Action": "DELETE", "ResourceRecordSet": legacy}]})
    result = rollback.handler({}, None)
    assert result == {"ok": False, "error": "legacy record api.example.com. "
                                            "(set identifier 'legacy') not found"}
    assert change_calls == []


@pytest.mark.parametrize("event, reason", [
    ({"reason": 42}, "reason must be a string"),
    ({"reason": "x" * 257}, "reason must be a string of at most 256 characters"),
    ({"target_weight": 0}, "unknown event key(s): target_weight"),
    ("rollback", "event must be a JSON object"),
    ({"Records": []}, "at least one record"),
    ({"Records": "x"}, "at least one record"),
    ({"Records": [{"Sns": {}}], "extra": 1}, "at least one record"),
    ({"Records": [{"NotSns": {}}]}, "every Records[] entry must contain an Sns object"),
    ({"Records": [{"Sns": {"Message": 5}}]}, "string Message"),
])
def test_bad_events_are_rejected(rollback, zone, change_calls, event, reason):
    result = rollback.handler(event, None)
    assert result["ok"] is False
    assert reason in result["error"]
    assert change_calls == []
    assert weights(zone) == {"new": 60, "legacy": 40}


def test_missing_configuration(rollback, zone, monkeypatch):
    monkeypatch.delenv("HOSTED_ZONE_ID")
    assert rollback.handler({}, None) == {
        "ok": False, "error": "configuration error: missing environment variable(s): HOSTED_ZONE_ID"}


def test_aws_error_is_reported_not_raised(rollback, zone, monkeypatch):
    monkeypatch.setenv("HOSTED_ZONE_ID", "ZDOESNOTEXIST")
    result = rollback.handler({}, None)
    assert result["ok"] is False
    assert result["error"].startswith("AWS request failed (")
