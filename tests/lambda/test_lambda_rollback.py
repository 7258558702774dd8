"""rollback: before the flip all clients back to legacy; after it the writer back to legacy without losing
a payment Aurora took; idempotent, resumable, and failures surface as function errors.

Route53, ELBv2, SSM, CloudWatch and SNS are moto; DMS is scripted (support_cutover.FakeDms); Aurora
is the Data API engine on a real PostgreSQL database; time is a fake clock.
"""

import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

import cutover_ops
import cutover_state as cs
import cutover_store
import support_cutover as sc
from write_gate import WriterGate


class WritesPaused(Exception):
    def __init__(self, reason, retry_after_seconds):
        super().__init__(reason)
        self.reason, self.retry_after_seconds = reason, retry_after_seconds


@pytest.fixture
def driver(cutover_world, load_lambda):
    return cutover_world.install(load_lambda("traffic_shifter"))


@pytest.fixture
def rollback(cutover_world, load_lambda, monkeypatch):
    module = cutover_world.install(load_lambda("rollback"))

    def invoke(event, request_id="rb-1", seconds_left=300.0):
        with monkeypatch.context() as patch:
            patch.setenv("AWS_LAMBDA_FUNCTION_NAME", sc.ROLLBACK_FUNCTION_NAME)
            return module.handler(event, sc.context(request_id, seconds_left))

    module.invoke = invoke
    return module


@pytest.fixture
def change_calls(cutover_world):
    """Change batches the functions send (they always comment them; the tests' own set-up does not)."""
    calls = []
    cutover_world.hook(
        "route53",
        "before-parameter-build.route53.ChangeResourceRecordSets",
        lambda params, **_: calls.append(params) if "Comment" in params["ChangeBatch"] else None,
    )
    return calls


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


def sns_event(*messages):
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:alarms:sub",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "m-1",
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
                    "Subject": "ALARM: test",
                    "Message": message if isinstance(message, str) else json.dumps(message),
                    "Timestamp": "2024-05-01T10:00:00.000Z",
                },
            }
            for message in messages
        ]
    }


def alarm_message(name, state="ALARM"):
    return {
        "AlarmName": name,
        "NewStateValue": state,
        "NewStateReason": "Threshold Crossed",
        "OldStateValue": "OK",
        "Trigger": {"MetricName": "HTTPCode_Target_5XX_Count"},
    }


def flipped(world, driver):
    """Aurora is the writer (through the real driver); the reverse task keeps up with Aurora."""
    world.ready_for_flip()
    assert driver.handler({"action": "flip"}, sc.context("flip-1"))["ok"] is True
    world.reverse_keeps_up()
    return world.state()


def gate(world):
    return WriterGate(
        parameter_name=sc.STATE_PARAMETER,
        ssm=lambda: world.aws["ssm"],
        paused_error=WritesPaused,
        monotonic=time.monotonic,
        cache_seconds=0.001,
    )


def assert_rolled_back_after_the_flip(world):
    state = world.state()
    assert (state["phase"], state["writer"], state["direction"], state["reverse"], state["forward"]) == (
        "legacy-writer",
        "legacy",
        None,
        None,
        "stopped-by-rollback",
    )
    assert world.write_rule_target() == "legacy"
    assert world.evaluates_target_health() is True
    assert world.weights() == {"new": 0, "legacy": 100}
    assert world.reverse["status"] == "stopped"
    assert world.slot() is None
    assert world.parameters() == [sc.STATE_PARAMETER]
    return state


# --------------------------------------------------------------------------- before the flip
def test_manual_rollback_moves_all_clients_to_legacy_in_one_batch(rollback, cutover_world, change_calls):
    world = cutover_world
    set_weights(world, 60)
    before = world.records()
    result = rollback.invoke({"reason": "error budget burned"})
    assert result["ok"] is True and result["changed"] is True, result
    assert result["before"] == {"new": 60, "legacy": 40} and result["after"] == {"new": 0, "legacy": 100}
    assert result["trigger"] == {"source": "manual", "reason": "error budget burned"}
    assert world.weights() == {"new": 0, "legacy": 100}
    [batch] = [call["ChangeBatch"] for call in change_calls]
    assert sorted(
        (c["Action"], c["ResourceRecordSet"]["SetIdentifier"], c["ResourceRecordSet"]["Weight"])
        for c in batch["Changes"]
    ) == [("UPSERT", "legacy", 100), ("UPSERT", "new", 0)]
    assert "error budget burned" in batch["Comment"]
    after = world.records()
    for set_id in ("new", "legacy"):
        assert {k: v for k, v in after[set_id].items() if k != "Weight"} == {
            k: v for k, v in before[set_id].items() if k != "Weight"
        }
    state = world.state()
    assert (state["phase"], state["dns_new_weight"]) == ("legacy-writer", 0)
    assert world.write_rule_target() == "legacy"


def test_rollback_is_idempotent(rollback, cutover_world, change_calls):
    set_weights(cutover_world, 30)
    assert rollback.invoke({})["changed"] is True
    seq = cutover_world.state()["seq"]
    second = rollback.invoke({}, "rb-2")
    assert second["ok"] is True and second["changed"] is False
    assert second["message"] == "already rolled back"
    assert second["before"] == second["after"] == {"new": 0, "legacy": 100}
    assert len(change_calls) == 1
    assert cutover_world.state()["seq"] == seq


def test_an_alarm_rolls_back_and_its_name_is_logged(rollback, cutover_world, change_calls, capsys):
    set_weights(cutover_world, 60)
    result = rollback.invoke(sns_event(alarm_message("payments-critical-alb-5xx")))
    assert result["ok"] is True and result["changed"] is True, result
    assert cutover_world.weights() == {"new": 0, "legacy": 100}
    assert result["trigger"]["messages"][0]["alarm"] == "payments-critical-alb-5xx"
    assert "payments-critical-alb-5xx" in change_calls[0]["ChangeBatch"]["Comment"]
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert any(entry.get("alarm_names") == ["payments-critical-alb-5xx"] for entry in logged)


def test_a_plain_text_message_still_rolls_back(rollback, cutover_world):
    set_weights(cutover_world, 60)
    assert rollback.invoke(sns_event("plain text: please roll back"))["changed"] is True
    assert cutover_world.weights() == {"new": 0, "legacy": 100}


def test_an_ok_transition_is_ignored(rollback, cutover_world, change_calls):
    set_weights(cutover_world, 60)
    result = rollback.invoke(sns_event(alarm_message("payments-critical-alb-5xx", "OK")))
    assert result["ok"] is True and result["changed"] is False
    assert result["message"] == "ignored: alarm notification state is OK, not ALARM"
    assert change_calls == [] and cutover_world.weights() == {"new": 60, "legacy": 40}


@pytest.mark.parametrize(
    "event, reason",
    [
        ([], "event must be a JSON object"),
        ({"reason": 5}, "reason must be a string of at most 256 characters"),
        ({"reason": "x" * 257}, "reason must be a string of at most 256 characters"),
        ({"force": True}, "unknown event key(s): force"),
        ({"Records": []}, "an SNS event must be"),
        ({"Records": [{"Sns": {"Message": 5}}]}, "each Records[].Sns must contain a string Message"),
        ({"Records": [{"nope": 1}]}, "every Records[] entry must contain an Sns object"),
    ],
)
def test_bad_events_are_answered_with_a_reason(rollback, cutover_world, change_calls, event, reason):
    result = rollback.invoke(event)
    assert result["ok"] is False and reason in result["error"]
    assert change_calls == []


def test_a_route53_failure_is_a_function_error(rollback, cutover_world):
    """Item 7 of the cutover issue: a failed rollback must not look successful."""
    set_weights(cutover_world, 60)

    def fail(**kwargs):
        raise ClientError({"Error": {"Code": "PriorRequestNotComplete", "Message": "busy"}}, "ChangeResourceRecordSets")

    cutover_world.hook("route53", "before-call.route53.ChangeResourceRecordSets", fail)
    with pytest.raises(ClientError, match="PriorRequestNotComplete"):
        rollback.invoke({})
    assert cutover_world.weights() == {"new": 60, "legacy": 40}


def test_a_configuration_error_is_a_function_error(rollback, cutover_world, monkeypatch):
    monkeypatch.delenv("WRITE_RULE_ARN")
    with pytest.raises(cutover_ops.ConfigError, match="missing environment variable\\(s\\): WRITE_RULE_ARN"):
        rollback.invoke({})


def test_a_missing_legacy_record_is_a_function_error(rollback, cutover_world):
    legacy = cutover_world.records()["legacy"]
    cutover_world.aws["route53"].change_resource_record_sets(
        HostedZoneId=cutover_world.zone_id, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": legacy}]}
    )
    with pytest.raises(cutover_ops.CutoverFailed, match="legacy record api.example.com."):
        rollback.invoke({})


# --------------------------------------------------------------------------- after the flip
def test_rollback_after_the_flip_moves_the_writer_back_without_losing_a_payment(rollback, driver, cutover_world):
    world = cutover_world
    flipped(world, driver)
    world.insert_payment("taken-by-aurora")
    taken_at = world.current_lsn()
    paused_writes = []
    world.dms.hooks["DescribeReplicationTasks"] = lambda request: paused_writes.append(
        world.state()["direction"] == "rollback" and _refused(gate(world))
    )
    result = rollback.invoke(sns_event(alarm_message("payments-test-critical-api-5xx")))
    assert result["ok"] is True and result["changed"] is True and result["writer"] == "legacy", result
    state = assert_rolled_back_after_the_flip(world)
    assert world.lsn_at_most(taken_at, result["rollback_lsn"])  # the reverse task confirmed past the payment
    assert state["rollback_lsn"] == result["rollback_lsn"]
    assert result["reverse_task_status"] in ("stopping", "stopped")
    assert set(result["reverse_latency_seconds"]) == {"CDCLatencySource", "CDCLatencyTarget"}
    assert result["pause_seconds"] <= 10
    assert any(paused_writes)  # the API refused writes while the writer moved
    assert world.alerts() == []
    history = world.aws["ssm"].get_parameter_history(Name=sc.STATE_PARAMETER, MaxResults=50)["Parameters"]
    phases = [(json.loads(v["Value"])["phase"], json.loads(v["Value"])["direction"]) for v in history]
    assert phases[-6:] == [
        ("pausing", "rollback"),
        ("draining", "rollback"),
        ("switching", "rollback"),
        ("legacy-writer", None),
        ("legacy-writer", None),
        ("legacy-writer", None),
    ]
    again = rollback.invoke({}, "rb-2")
    assert again["ok"] is True and again["changed"] is False


def _refused(writer_gate):
    try:
        writer_gate()
    except WritesPaused:
        return True
    return False


def test_a_stalled_reverse_task_keeps_writes_paused_and_alerts(rollback, driver, cutover_world):
    world = cutover_world
    flipped(world, driver)
    world.reverse["on_poll"] = None  # the reverse task stops confirming Aurora's changes
    world.insert_payment("not-yet-on-legacy")
    with pytest.raises(cutover_ops.CutoverFailed, match="reverse replication did not confirm .* writes stay paused"):
        rollback.invoke({"reason": "drill"})
    state = world.state()
    assert (state["phase"], state["direction"]) == ("draining", "rollback")
    assert _refused(gate(world))
    assert world.write_rule_target() == "api"  # legacy does not take writes it may not have all payments for
    [alert] = world.alerts()
    assert "Payments taken since the flip may not have reached legacy" not in alert  # the subject is not the body
    assert alert["rollback_lsn"] == state["rollback_lsn"] and alert["flip_lsn"] == state["flip_lsn"]
    assert alert["reverse_task_status"] == "running"
    assert alert["reverse_slot"]["confirmed_flush_lsn"] is not None
    assert "writes stay paused" in alert["what"]
    world.reverse_keeps_up()  # the operator fixed the reverse task: the retry finishes the rollback
    result = rollback.invoke({"reason": "drill"}, "rb-2")
    assert result["ok"] is True
    assert_rolled_back_after_the_flip(world)


def test_a_failed_reverse_task_is_reported(rollback, driver, cutover_world):
    world = cutover_world
    flipped(world, driver)
    world.reverse.update(status="failed", on_poll=None)
    world.insert_payment("not-yet-on-legacy")
    with pytest.raises(cutover_ops.CutoverFailed):
        rollback.invoke({})
    [alert] = world.alerts()
    assert alert["reverse_task_status"] == "failed"


def test_rollback_waits_for_a_flip_in_progress_and_then_gives_up_to_retry(rollback, cutover_world):
    world = cutover_world
    state = world.state()
    state.update(
        seq=state["seq"] + 1,
        phase="draining",
        direction="flip",
        since=cs.utc_iso(world.clock.now()),
        deadline=cs.utc_iso(world.clock.now()),
        by={"function": sc.FUNCTION_NAME, "request_id": "x"},
    )
    world.aws["ssm"].put_parameter(Name=sc.STATE_PARAMETER, Type="String", Value=json.dumps(state), Overwrite=True)
    with pytest.raises(cutover_store.StateBusy, match="payments-test-traffic-shifter is in the flip phase draining"):
        rollback.invoke({}, seconds_left=10)
    assert world.clock.slept >= 4.5  # it waited for the flip before giving up
    assert world.state() == state


def test_rollback_undoes_a_flip_whose_driver_died(rollback, cutover_world):
    world = cutover_world
    world.ready_for_flip()
    state = world.state()
    state.update(
        seq=state["seq"] + 1,
        phase="draining",
        direction="flip",
        since=cs.utc_iso(world.clock.now()),
        paused_at=cs.utc_iso(world.clock.now()),
        deadline=cs.utc_iso(world.clock.now()),
        by={"function": sc.FUNCTION_NAME, "request_id": "x"},
    )
    world.aws["ssm"].put_parameter(Name=sc.STATE_PARAMETER, Type="String", Value=json.dumps(state), Overwrite=True)
    world.aws["elbv2"].modify_rule(
        RuleArn=world.rule_arn, Actions=[{"Type": "forward", "TargetGroupArn": world.api_tg}]
    )
    world.clock.advance(1000)  # longer than TAKEOVER_AFTER_SECONDS: the driver's invocation has ended
    result = rollback.invoke({})
    assert result["ok"] is True
    state = world.state()
    assert (state["phase"], state["writer"], state["dns_new_weight"]) == ("legacy-writer", "legacy", 0)
    assert world.write_rule_target() == "legacy"
    assert world.weights() == {"new": 0, "legacy": 100}


def test_rollback_starts_a_reverse_task_the_flip_could_not_start(rollback, driver, cutover_world):
    world = cutover_world
    world.ready_for_flip()
    world.forward["stop_polls"] = 1000  # the forward task takes long to stop: the flip commits, then gives up
    with pytest.raises(cutover_ops.CutoverFailed, match="invoke flip again to start the reverse task"):
        driver.handler({"action": "flip"}, sc.context("flip-1", seconds_left=8))
    assert world.state()["reverse"] == "pending" and world.reverse["starts"] == []
    world.forward["countdown"] = 1
    world.reverse_keeps_up()
    result = rollback.invoke({})
    assert result["ok"] is True
    [start] = world.reverse["starts"]
    assert start["CdcStartPosition"] == world.state()["flip_lsn"]
    assert_rolled_back_after_the_flip(world)


ROLLBACK_CHANGES = 26  # pinned by the first test below


def test_the_crash_points_cover_every_change_the_rollback_makes(rollback, driver, cutover_world):
    world = cutover_world
    flipped(world, driver)
    world.interrupter.arm(None)
    assert rollback.invoke({})["ok"] is True
    assert len(world.interrupter.mutating) == ROLLBACK_CHANGES, world.interrupter.mutating


def test_a_rollback_interrupted_anywhere_resumes_and_completes(rollback, driver, cutover_world):
    world, failures = cutover_world, []
    for crash_after in range(ROLLBACK_CHANGES):
        world.reset_to_legacy_writer()
        flipped(world, driver)
        world.interrupter.arm(crash_after)
        try:
            with pytest.raises(sc.SimulatedCrash):
                rollback.invoke({}, f"rb-{crash_after}-a")
            result = rollback.invoke({}, f"rb-{crash_after}-b")
            assert result["ok"] is True, result
            assert_rolled_back_after_the_flip(world)
        except AssertionError as error:
            failures.append(f"crash after change {crash_after}: {error}")
    assert failures == []


# --------------------------------------------------------------------------- the fence on Aurora
def test_the_fence_waits_for_a_write_in_flight_and_positions_after_it(cutover_world):
    world = cutover_world
    aurora = cutover_ops.Aurora(lambda service: world.data_api, cutover_ops.load_config())
    with world.sql() as connection:  # a logical slot shows which commits lie below a WAL position
        connection.run("SELECT pg_create_logical_replication_slot(:slot, 'test_decoding')", slot=world.slot_name)
    writer, result = world.server.connect(world.database), dict[str, str]()
    try:
        writer.run("BEGIN")
        writer.run("INSERT INTO payments VALUES (gen_random_uuid(), 'm-1', 'in-flight', 10)")
        fence = threading.Thread(target=lambda: result.update(lsn=aurora.fence_writes()))
        fence.start()
        with world.sql() as observer:
            for _ in range(1000):  # until the fence's LOCK waits on the open INSERT (not a timing assertion)
                if observer.run(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE%'"
                )[0][0]:
                    break
                time.sleep(0.01)
            else:
                raise AssertionError("the fence never waited for the open write")
        assert "lsn" not in result
        writer.run("COMMIT")
        fence.join(timeout=30)
    finally:
        writer.close()
    with world.sql() as connection:
        changes = [
            row[0]
            for row in connection.run(
                "SELECT data FROM pg_logical_slot_peek_changes(:slot, CAST(:lsn AS pg_lsn), NULL)",
                slot=world.slot_name,
                lsn=result["lsn"],
            )
        ]
    assert any("INSERT" in change and "in-flight" in change for change in changes), changes
