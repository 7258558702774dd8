"""Cutover driver (traffic_shifter): its events, the read-canary steps on the weighted records, the
status report, and which failures are answers and which are function errors.

moto for Route53, ELBv2, SSM and CloudWatch; DMS scripted; Aurora on PostgreSQL (support_cutover).
"""

import json
import re

import pytest
from botocore.exceptions import ClientError

import cutover_ops
import cutover_state as cs
import cutover_store
import support_cutover as sc

ALB_ZONE = "Z35SXDOTRQ7X7K"


@pytest.fixture
def driver(cutover_world, load_lambda):
    return cutover_world.install(load_lambda("traffic_shifter"))


@pytest.fixture
def change_calls(cutover_world):
    """Change batches the driver sends (it always comments them; the tests' own set-up does not)."""
    calls = []
    cutover_world.hook(
        "route53",
        "before-parameter-build.route53.ChangeResourceRecordSets",
        lambda params, **_: calls.append(params) if "Comment" in params["ChangeBatch"] else None,
    )
    return calls


def invoke(driver, event, request_id="req-1"):
    return driver.handler(event, sc.context(request_id))


def set_weights(world, new):
    records = world.records()
    world.aws["route53"].change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={
            "Changes": [
                {"Action": "UPSERT", "ResourceRecordSet": {**records["new"], "Weight": new}},
                {"Action": "UPSERT", "ResourceRecordSet": {**records["legacy"], "Weight": 100 - new}},
            ]
        },
    )


# --------------------------------------------------------------------------- canary steps
def test_a_canary_step_moves_both_records_in_one_batch_and_records_it(driver, cutover_world, change_calls):
    world = cutover_world
    before = world.records()
    result = invoke(driver, {"action": "canary", "step": 10, "reason": "first step"})
    assert result["ok"] is True and result["changed"] is True, result
    assert (result["before"], result["after"]) == ({"new": 0, "legacy": 100}, {"new": 10, "legacy": 90})
    assert world.weights() == {"new": 10, "legacy": 90}
    [batch] = [call["ChangeBatch"] for call in change_calls]
    assert len(batch["Changes"]) == 2 and "first step" in batch["Comment"]
    after = world.records()
    for set_id in ("new", "legacy"):  # only the weight changes
        assert {k: v for k, v in after[set_id].items() if k != "Weight"} == {
            k: v for k, v in before[set_id].items() if k != "Weight"
        }
    state = world.state()
    assert (state["phase"], state["dns_new_weight"], state["dns_since"]) == (
        "legacy-writer",
        10,
        cs.utc_iso(world.clock.now()),
    )
    assert world.write_rule_target() == "legacy"  # writes still go to legacy through the ALB


def test_the_shifters_old_events_are_canary_steps(driver, cutover_world):
    assert invoke(driver, {"target_weight": 40})["after"] == {"new": 40, "legacy": 60}
    assert invoke(driver, {"step": 100}, "req-2")["after"] == {"new": 100, "legacy": 0}  # clamped
    assert invoke(driver, {"step": -100}, "req-3")["after"] == {"new": 0, "legacy": 100}


def test_the_same_weight_changes_nothing_but_is_recorded(driver, cutover_world, change_calls):
    set_weights(cutover_world, 100)  # e.g. NEW_SYSTEM_WEIGHT=100 at creation
    result = invoke(driver, {"action": "canary", "target_weight": 100})
    assert result["ok"] is True and result["changed"] is False and result["change_id"] is None
    assert change_calls == []
    assert cutover_world.state()["dns_new_weight"] == 100  # the flip's hold time starts now
    seq = cutover_world.state()["seq"]
    invoke(driver, {"action": "canary", "target_weight": 100}, "req-2")
    assert cutover_world.state()["seq"] == seq


@pytest.mark.parametrize(
    "arrange, reason",
    [
        (lambda w: w.put_readiness(0, age_seconds=5), "migration is not ready"),
        (
            lambda w: w.clock.advance(1000),
            "no MigrationReady datapoint in PaymentsMigration within the last 900 seconds",
        ),
        (lambda w: w.fire_alarm(), "critical alarm(s) in ALARM: payments-test-critical-api-5xx"),
        (lambda w: w.forward.update(status="stopped"), "forward replication task is 'stopped': reads on Aurora"),
    ],
)
def test_an_increase_is_refused_when_unsafe(driver, cutover_world, change_calls, arrange, reason):
    arrange(cutover_world)
    result = invoke(driver, {"action": "canary", "step": 10})
    assert result["ok"] is False and result["refused"] is True
    assert any(reason in line for line in result["reasons"]), result["reasons"]
    assert change_calls == [] and cutover_world.weights() == {"new": 0, "legacy": 100}


def test_a_decrease_is_allowed_while_an_alarm_fires(driver, cutover_world):
    set_weights(cutover_world, 50)
    cutover_world.fire_alarm()
    cutover_world.put_readiness(0, age_seconds=5)
    result = invoke(driver, {"action": "canary", "target_weight": 20})
    assert result["ok"] is True and cutover_world.weights() == {"new": 20, "legacy": 80}


def test_canary_steps_stop_once_aurora_is_the_writer(driver, cutover_world, change_calls):
    world = cutover_world
    world.ready_for_flip()
    assert invoke(driver, {"action": "flip"})["ok"] is True
    result = invoke(driver, {"action": "canary", "target_weight": 50}, "req-2")
    assert result["refused"] is True
    assert "canary steps move reads only while legacy is the writer; the phase is aurora-writer" in result["error"]
    assert world.weights() == {"new": 100, "legacy": 0}


def test_dual_stack_records_move_together(driver, cutover_world, change_calls):
    world = cutover_world
    world.aws["route53"].change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": sc.RECORD,
                        "Type": "AAAA",
                        "SetIdentifier": "new",
                        "Weight": 0,
                        "AliasTarget": {
                            "HostedZoneId": ALB_ZONE,
                            "DNSName": "alb.example.com.",
                            "EvaluateTargetHealth": True,
                        },
                    },
                },
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": sc.RECORD,
                        "Type": "AAAA",
                        "SetIdentifier": "legacy",
                        "Weight": 100,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "2001:db8::10"}],
                    },
                },
            ]
        },
    )
    assert invoke(driver, {"target_weight": 30})["ok"] is True
    [batch] = [call["ChangeBatch"] for call in change_calls]
    assert len(batch["Changes"]) == 4
    listed = world.aws["route53"].list_resource_record_sets(HostedZoneId=world.zone_id)["ResourceRecordSets"]
    assert sorted((r["Type"], r["SetIdentifier"], r["Weight"]) for r in listed if "SetIdentifier" in r) == [
        ("A", "legacy", 70),
        ("A", "new", 30),
        ("AAAA", "legacy", 70),
        ("AAAA", "new", 30),
    ]


def test_a_record_type_without_its_legacy_counterpart_is_a_function_error(driver, cutover_world, change_calls):
    cutover_world.aws["route53"].change_resource_record_sets(
        HostedZoneId=cutover_world.zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": sc.RECORD,
                        "Type": "AAAA",
                        "SetIdentifier": "new",
                        "Weight": 0,
                        "AliasTarget": {
                            "HostedZoneId": ALB_ZONE,
                            "DNSName": "alb.example.com.",
                            "EvaluateTargetHealth": True,
                        },
                    },
                }
            ]
        },
    )
    with pytest.raises(cutover_ops.CutoverFailed, match="record types differ"):
        invoke(driver, {"step": -10})
    assert change_calls == []


def test_record_listing_follows_pagination(driver, cutover_world, monkeypatch):
    real, pages = cutover_world.aws["route53"], []

    class PagingRoute53:
        def list_resource_record_sets(self, **request):
            pages.append(request)
            full = real.list_resource_record_sets(HostedZoneId=request["HostedZoneId"])
            matching = [r for r in full["ResourceRecordSets"] if r["Name"] == sc.RECORD]
            if "StartRecordIdentifier" not in request:
                return {
                    "ResourceRecordSets": matching[:1],
                    "IsTruncated": True,
                    "NextRecordName": sc.RECORD,
                    "NextRecordType": "A",
                    "NextRecordIdentifier": matching[1]["SetIdentifier"],
                    "MaxItems": "1",
                }
            return {"ResourceRecordSets": matching[1:], "IsTruncated": False, "MaxItems": "1"}

    monkeypatch.setitem(driver._clients, "route53", PagingRoute53())
    result = invoke(driver, {"target_weight": 0})
    assert result["ok"] is True and result["changed"] is False, result
    assert len(pages) == 2 and pages[1]["StartRecordType"] == "A"


# --------------------------------------------------------------------------- status
def test_status_reports_the_state_the_routing_and_the_tasks(driver, cutover_world):
    set_weights(cutover_world, 30)
    result = invoke(driver, {"action": "status"})
    assert result["ok"] is True and result["action"] == "status"
    assert result["state"]["phase"] == "legacy-writer" and result["api_accepts_writes"] is False
    assert result["dns"] == {"new": [30], "legacy": [70]}
    assert result["write_rule"] == ["legacy"]
    assert (result["forward"], result["reverse"]) == ("running", "ready")
    json.dumps(result)  # Lambda returns it as JSON


# --------------------------------------------------------------------------- answers and errors
@pytest.mark.parametrize(
    "event, reason",
    [
        ({}, "exactly one of target_weight or step is required"),
        ({"target_weight": 10, "step": 5}, "exactly one of target_weight or step is required"),
        ({"target_weight": 101}, "target_weight must be between 0 and 100, got 101"),
        ({"step": -101}, "step must be between -100 and 100, got -101"),
        ({"target_weight": 10.0}, "target_weight must be an integer between 0 and 100"),
        ({"target_weight": "10"}, "target_weight must be an integer between 0 and 100"),
        ({"target_weight": True}, "target_weight must be an integer between 0 and 100"),
        ({"weight": 10}, "unknown event key(s) for canary: weight"),
        ({"step": 10, "reason": 5}, "reason must be a string of at most 256 characters"),
        ({"action": "flip", "step": 10}, "unknown event key(s) for flip: step"),
        ({"action": "status", "reason": "x"}, "unknown event key(s) for status: reason"),
        ({"action": "rollback"}, "action must be one of status, canary, flip"),
        ([10], "event must be a JSON object"),
        (None, "event must be a JSON object"),
    ],
)
def test_bad_events_are_answered_with_a_reason(driver, cutover_world, change_calls, event, reason):
    result = invoke(driver, event)
    assert result == {"ok": False, "error": result["error"]} and reason in result["error"]
    assert change_calls == [] and cutover_world.state()["seq"] == 0


def test_a_configuration_error_is_a_function_error(driver, cutover_world, monkeypatch):
    monkeypatch.delenv("CRITICAL_ALARM_PREFIX")
    monkeypatch.delenv("REVERSE_SLOT_NAME")
    with pytest.raises(
        cutover_ops.ConfigError, match=r"missing environment variable\(s\): CRITICAL_ALARM_PREFIX, REVERSE_SLOT_NAME"
    ):
        invoke(driver, {"step": 10})


@pytest.mark.parametrize(
    "name, value, message",
    [
        (
            "CUTOVER_MAX_PAUSE_SECONDS",
            "600",
            "CUTOVER_MAX_PAUSE_SECONDS='600' is invalid: must be a number from 5 to 120",
        ),
        ("REVERSE_SLOT_PLUGIN", "wal2json", "REVERSE_SLOT_PLUGIN='wal2json' is invalid"),
        ("REVERSE_SLOT_NAME", "Bad-Slot", "REVERSE_SLOT_NAME='Bad-Slot' is invalid: must be a lower-case PostgreSQL"),
        ("CUTOVER_TABLES", "payments", "CUTOVER_TABLES='payments' is invalid"),
        ("DRAIN_QUIET_SECONDS", "19.5", "DRAIN_QUIET_SECONDS + IN_FLIGHT_SECONDS (20.5) must be below"),
    ],
)
def test_invalid_settings_are_function_errors(driver, cutover_world, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(cutover_ops.ConfigError, match=re.escape(message)):
        invoke(driver, {"action": "status"})


def test_pgoutput_needs_a_publication(driver, cutover_world, monkeypatch):
    monkeypatch.setenv("REVERSE_SLOT_PLUGIN", "pgoutput")
    with pytest.raises(cutover_ops.ConfigError, match="REVERSE_PUBLICATION is required"):
        invoke(driver, {"action": "status"})


def test_aws_errors_are_function_errors(driver, cutover_world):
    def fail(**kwargs):
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "ListResourceRecordSets")

    cutover_world.hook("route53", "before-call.route53.ListResourceRecordSets", fail)
    with pytest.raises(ClientError, match="Throttling"):
        invoke(driver, {"step": 10})


def test_a_concurrent_transition_is_a_function_error_and_only_one_flip_happens(
    driver, cutover_world, load_lambda, monkeypatch
):
    """A second driver (another process) flips while the first is about to claim its first transition."""
    world = cutover_world
    world.ready_for_flip()
    other = world.install(load_lambda("traffic_shifter"))
    raced: list = []  # [True, the other driver's answer]

    def other_flips_first(**kwargs):
        if not raced and "-claim-" in kwargs["params"]["Name"]:  # the first claim of the first driver
            raced.append(True)
            with monkeypatch.context() as patch:
                patch.setenv("AWS_LAMBDA_FUNCTION_NAME", "payments-test-other-driver")
                raced.append(other.handler({"action": "flip"}, sc.context("other")))

    world.hook("ssm", "before-parameter-build.ssm.PutParameter", other_flips_first)
    with pytest.raises(cutover_store.StateConflict):
        invoke(driver, {"action": "flip"})
    assert raced[1]["ok"] is True and raced[1]["changed"] is True
    assert len(world.reverse["starts"]) == 1
    assert world.state()["by"]["function"] == "payments-test-other-driver"
    assert world.parameters() == [sc.STATE_PARAMETER]
