"""Cutover driver (traffic_shifter): the writer flip, its guards, its bounded pause and its aborts.

Route53, ELBv2, SSM, CloudWatch and SNS are moto; DMS is scripted (support_cutover.FakeDms); Aurora
is the Data API engine on a real PostgreSQL database (slots, WAL positions); time is a fake clock.
"""

import json

import pytest
from botocore.exceptions import ClientError

import support_cutover as sc


@pytest.fixture
def driver(cutover_world, load_lambda):
    return cutover_world.install(load_lambda("traffic_shifter"))


def flip(driver, request_id="req-1", seconds_left=300.0):
    return driver.handler({"action": "flip", "reason": "cutover window"}, sc.context(request_id, seconds_left))


def dms_calls(world, operation, task_arn):
    return [
        request
        for name, request in world.dms.calls
        if name == operation and request.get("ReplicationTaskArn") == task_arn
    ]


def phases(world):
    history = world.aws["ssm"].get_parameter_history(Name=sc.STATE_PARAMETER, MaxResults=50)["Parameters"]
    return [json.loads(version["Value"])["phase"] for version in history]


def assert_legacy_is_the_writer(world, *, forward=("running", "starting")):
    state = world.state()
    assert (state["phase"], state["writer"], state["direction"]) == ("legacy-writer", "legacy", None)
    assert world.write_rule_target() == "legacy"
    assert world.evaluates_target_health() is True
    assert world.slot() is None
    assert world.forward["status"] in forward
    assert dms_calls(world, "StartReplicationTask", sc.REVERSE_TASK_ARN) == []
    assert world.parameters() == [sc.STATE_PARAMETER]  # no claim left behind


def assert_aurora_is_the_writer(world):
    state = world.state()
    assert (state["phase"], state["writer"], state["direction"], state["reverse"]) == (
        "aurora-writer",
        "aurora",
        None,
        "started",
    )
    assert world.write_rule_target() == "api"
    assert world.evaluates_target_health() is False
    assert world.forward["status"] == "stopped"
    [start] = world.reverse["starts"]  # the reverse task started once, from the flip position
    assert start["CdcStartPosition"] == state["flip_lsn"]
    assert start["StartReplicationTaskType"] == "start-replication"
    slot = world.slot()
    assert slot is not None and slot["plugin"] == "test_decoding"
    assert world.lsn_at_most(slot["confirmed_flush_lsn"], state["flip_lsn"])  # the slot holds the flip position
    assert world.parameters() == [sc.STATE_PARAMETER]
    return state


# --------------------------------------------------------------------------- the flip
def test_flip_moves_the_writer_to_aurora_in_a_short_pause(driver, cutover_world):
    world = cutover_world
    world.ready_for_flip()
    result = flip(driver)
    assert result["ok"] is True and result["changed"] is True, result
    state = assert_aurora_is_the_writer(world)
    assert result["flip_lsn"] == state["flip_lsn"] and result["writer"] == "aurora"
    assert world.lsn_at_most(state["flip_lsn"], world.current_lsn())
    # in-flight grace (1 s) + quiet drain (3 s) + polls: well within the 10 s target
    assert 4 <= result["pause_seconds"] <= 10
    assert phases(world) == [
        "legacy-writer",
        "legacy-writer",
        "pausing",
        "draining",
        "switching",
        "aurora-writer",
        "aurora-writer",
    ]
    assert state["by"] == {"function": sc.FUNCTION_NAME, "request_id": "req-1"}
    assert state["reason"] == "cutover window"


def test_aurora_writes_after_the_flip_position_are_what_the_reverse_task_replays(driver, cutover_world):
    world = cutover_world
    world.insert_payment("before-the-flip")
    world.ready_for_flip()
    assert flip(driver)["ok"] is True
    world.insert_payment("after-the-flip")
    with world.sql() as connection:
        changes = [
            row[0]
            for row in connection.run(
                "SELECT data FROM pg_logical_slot_peek_changes(:slot, NULL, NULL)", slot=world.slot_name
            )
        ]
    inserts = [change for change in changes if change.startswith("table public.payments: INSERT")]
    assert len(inserts) == 1 and "after-the-flip" in inserts[0]


def test_a_second_flip_changes_nothing(driver, cutover_world):
    world = cutover_world
    world.ready_for_flip()
    assert flip(driver)["changed"] is True
    seq, calls = world.state()["seq"], len(world.dms.calls)
    again = flip(driver, "req-2")
    assert again["ok"] is True and again["changed"] is False
    assert again["message"] == "already flipped: Aurora is the writer"
    assert world.state()["seq"] == seq
    assert not [name for name, _ in world.dms.calls[calls:] if name != "DescribeReplicationTasks"]
    assert_aurora_is_the_writer(world)


def test_pgoutput_slot_decodes_with_the_publication_the_migrations_made(driver, cutover_world, monkeypatch):
    world = cutover_world
    monkeypatch.setenv("REVERSE_SLOT_PLUGIN", "pgoutput")
    monkeypatch.setenv("REVERSE_PUBLICATION", "cutover_reverse")
    world.make_publication("cutover_reverse")
    world.ready_for_flip()
    assert flip(driver)["ok"] is True
    assert world.slot()["plugin"] == "pgoutput"
    with world.sql() as connection:
        assert connection.run(
            "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = 'cutover_reverse'"
        ) == [["public", "payments"]]


def test_a_missing_publication_aborts_the_flip_and_the_cutover_never_creates_one(driver, cutover_world, monkeypatch):
    world = cutover_world
    monkeypatch.setenv("REVERSE_SLOT_PLUGIN", "pgoutput")
    monkeypatch.setenv("REVERSE_PUBLICATION", "cutover_reverse")
    world.ready_for_flip()
    with pytest.raises(Exception, match="legacy is still the writer: publication cutover_reverse does not exist"):
        flip(driver)
    assert_legacy_is_the_writer(world, forward=("running", "starting", "resuming"))
    with world.sql() as connection:
        assert connection.run("SELECT pubname FROM pg_publication") == []


def test_the_flip_waits_for_pending_validation(driver, cutover_world):
    world = cutover_world
    world.forward["statistics"] = lambda: [sc.table_stats(validated=world.clock.slept >= 4, pending=0)]
    world.ready_for_flip()
    result = flip(driver)
    assert result["ok"] is True
    assert 7 <= result["pause_seconds"] <= 8  # 1 s in flight + 3 s pending + 3 s quiet (+ a poll)
    assert_aurora_is_the_writer(world)


# --------------------------------------------------------------------------- guards
def break_weights(world):
    world.ready_for_flip()
    new, legacy = world.records()["new"], world.records()["legacy"]
    world.aws["route53"].change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={
            "Changes": [
                {"Action": "UPSERT", "ResourceRecordSet": {**new, "Weight": 50}},
                {"Action": "UPSERT", "ResourceRecordSet": {**legacy, "Weight": 50}},
            ]
        },
    )


def weights_not_recorded(world):
    world.ready_for_flip()
    state = world.state()
    state["dns_new_weight"] = None
    world.aws["ssm"].put_parameter(Name=sc.STATE_PARAMETER, Type="String", Value=json.dumps(state), Overwrite=True)


def rule_not_on_legacy(world):
    world.ready_for_flip()
    world.aws["elbv2"].modify_rule(
        RuleArn=world.rule_arn, Actions=[{"Type": "forward", "TargetGroupArn": world.api_tg}]
    )


def apply_exceptions(world):
    world.ready_for_flip()
    with world.sql() as connection:  # DMS creates the table as its target login
        connection.run(f"SET ROLE {sc.DMS_USER}")
        connection.run("CREATE TABLE public.awsdms_apply_exceptions (task_name text, error text)")
        connection.run("INSERT INTO public.awsdms_apply_exceptions VALUES ('forward', 'duplicate key')")
        connection.run("RESET ROLE")


def stale_latency(world):
    world.ready_for_flip()
    world.clock.advance(700)  # the latency datapoints fall out of the 600 s window; readiness (900 s) does not


GUARDS = {
    "weights": (break_weights, "DNS weights are new 50 / legacy 50"),
    "weight not recorded": (weights_not_recorded, "the cutover has not set the new weight to 100"),
    "weight held too briefly": (
        lambda w: w.ready_for_flip(held_seconds=60),
        "new weight 100 held for 60 s; the flip needs 120 s",
    ),
    "write rule": (rule_not_on_legacy, "the ALB write rule does not forward to the legacy target group"),
    "forward stopped": (
        lambda w: (w.ready_for_flip(), w.forward.update(status="stopped")),
        "forward replication task is 'stopped', expected 'running'",
    ),
    "table error": (
        lambda w: (w.ready_for_flip(), w.forward.update(statistics=lambda: [sc.table_stats(TableState="Table error")])),
        "public.payments: TableState is 'Table error'",
    ),
    "validation failed": (
        lambda w: (
            w.ready_for_flip(),
            w.forward.update(statistics=lambda: [sc.table_stats(ValidationFailedRecords=2)]),
        ),
        "ValidationFailedRecords is 2",
    ),
    "latency high": (
        lambda w: (w.ready_for_flip(), w.put_latency(sc.FORWARD_TASK_ARN, 1.0, 9.0, age_seconds=5)),
        "forward CDCLatencyTarget is 9s, above the flip's 3s",
    ),
    "latency missing": (stale_latency, "no forward CDCLatencySource datapoint in the last 600 seconds"),
    "not ready": (lambda w: (w.ready_for_flip(), w.put_readiness(0, age_seconds=5)), "migration is not ready"),
    "critical alarm": (
        lambda w: (w.ready_for_flip(), w.fire_alarm()),
        "critical alarm(s) in ALARM: payments-test-critical-api-5xx",
    ),
    "apply exceptions": (apply_exceptions, "1 row(s) in public.awsdms_apply_exceptions"),
    "reverse running": (
        lambda w: (w.ready_for_flip(), w.reverse.update(status="running")),
        "reverse replication task is 'running', expected 'ready' or 'stopped'",
    ),
}


@pytest.mark.parametrize("name", list(GUARDS))
def test_each_guard_refuses_the_flip_and_changes_nothing(driver, cutover_world, name):
    world = cutover_world
    arrange, reason = GUARDS[name]
    arrange(world)
    before = world.state()
    result = flip(driver)
    assert result["ok"] is False and result["refused"] is True, result
    assert any(reason in line for line in result["reasons"]), result["reasons"]
    assert world.state() == before
    assert world.write_rule_target() == ("api" if name == "write rule" else "legacy")
    assert world.slot() is None
    assert not [name for name, _ in world.dms.calls if name in ("StopReplicationTask", "StartReplicationTask")]


def test_every_failing_guard_is_reported(driver, cutover_world):
    world = cutover_world
    world.forward["status"] = "stopped"
    world.fire_alarm()
    result = flip(driver)
    assert result["refused"] is True
    joined = " | ".join(result["reasons"])
    for reason in (
        "DNS weights are new 0 / legacy 100",
        "has not set the new weight to 100",
        "forward replication task is 'stopped'",
        "critical alarm(s) in ALARM",
    ):
        assert reason in joined


def test_a_slot_in_use_refuses_the_flip(driver, cutover_world):
    world = cutover_world
    world.ready_for_flip()
    with world.sql() as connection:
        connection.run("SELECT pg_create_logical_replication_slot(:slot, 'test_decoding')", slot=world.slot_name)
    reader = sc.SlotReader(world.server, world.database, world.slot_name)
    try:
        reader.wait_active()
        result = flip(driver)
    finally:
        reader.stop()
    assert result["refused"] is True
    assert f"replication slot {world.slot_name} on Aurora is in use" in result["reasons"]


def test_a_flip_is_refused_while_a_rollback_is_under_way(driver, cutover_world):
    world = cutover_world
    state = world.state()
    state.update(phase="draining", direction="rollback", writer="aurora", deadline=state["since"])
    world.aws["ssm"].put_parameter(Name=sc.STATE_PARAMETER, Type="String", Value=json.dumps(state), Overwrite=True)
    result = flip(driver)
    assert result["refused"] is True and "a rollback is under way" in result["error"]


def test_dns_hold_seconds_replaces_two_ttls(driver, cutover_world, monkeypatch):
    # Where every resolver is known to keep answers briefly (the local rehearsal's clients), not 2 x 60 s.
    world = cutover_world
    monkeypatch.setenv("DNS_HOLD_SECONDS", "5")
    world.ready_for_flip(held_seconds=3)
    result = flip(driver)
    assert result["refused"] is True and result["reasons"] == [
        "new weight 100 held for 3 s; the flip needs 5 s (DNS_HOLD_SECONDS) so that resolvers no longer send "
        "clients to legacy directly"
    ], result
    world.clock.advance(2)
    assert flip(driver, request_id="req-2")["ok"] is True


@pytest.mark.parametrize("value", ["-1", "3601", "soon"])
def test_a_bad_dns_hold_is_a_configuration_error(driver, cutover_world, monkeypatch, value):
    monkeypatch.setenv("DNS_HOLD_SECONDS", value)
    cutover_world.ready_for_flip()
    with pytest.raises(Exception, match=r"DNS_HOLD_SECONDS=.* is invalid: must be a number from 0 to 3600"):
        flip(driver)


def test_without_a_legacy_system_there_is_nothing_to_flip(driver, cutover_world, monkeypatch):
    monkeypatch.setenv("LEGACY_TARGET_GROUP_ARN", "")
    result = flip(driver)
    assert result["refused"] is True and "there is no legacy system" in result["error"]


# --------------------------------------------------------------------------- aborts
def test_a_drain_that_does_not_finish_aborts_with_legacy_still_the_writer(driver, cutover_world):
    world = cutover_world
    world.ready_for_flip()
    world.forward["statistics"] = lambda: [sc.table_stats(validated=False, pending=3)]
    result = flip(driver)
    assert result["ok"] is False and result["aborted"] is True, result
    assert "did not drain within the pause" in result["error"]
    assert 19.5 <= result["pause_seconds"] <= 21  # CUTOVER_MAX_PAUSE_SECONDS (20) and not much more
    assert_legacy_is_the_writer(world)
    assert dms_calls(world, "StopReplicationTask", sc.FORWARD_TASK_ARN) == []  # forward never touched
    assert phases(world)[2:] == ["pausing", "draining", "aborting", "legacy-writer"]


def test_changes_that_keep_arriving_abort_the_flip(driver, cutover_world):
    world = cutover_world
    world.ready_for_flip()
    counter = iter(range(1000))
    world.forward["statistics"] = lambda: [sc.table_stats(inserts=next(counter))]
    result = flip(driver)
    assert result["aborted"] is True
    assert_legacy_is_the_writer(world)


def test_a_failing_forward_task_aborts_the_flip(driver, cutover_world):
    world = cutover_world
    world.ready_for_flip()
    world.dms.hooks["DescribeTableStatistics"] = lambda request: world.forward.update(status="failed")
    result = flip(driver)
    assert result["aborted"] is True
    assert "forward replication failed while draining: forward replication task is 'failed'" in result["error"]
    state = world.state()
    assert state["phase"] == "legacy-writer" and state["forward"] == "failed"
    assert world.write_rule_target() == "legacy"


def test_the_deadline_passing_after_the_forward_stop_undoes_everything(driver, cutover_world):
    world = cutover_world
    world.ready_for_flip()
    world.dms.hooks["StopReplicationTask"] = lambda request: world.clock.advance(30)
    result = flip(driver)
    assert result["aborted"] is True and "reached its 20 s limit" in result["error"]
    assert_legacy_is_the_writer(world)
    [resume] = dms_calls(world, "StartReplicationTask", sc.FORWARD_TASK_ARN)
    assert resume["StartReplicationTaskType"] == "resume-processing"


def test_an_aws_error_before_the_commit_aborts_and_is_raised(driver, cutover_world):
    world = cutover_world
    world.ready_for_flip()
    failures: list[bool] = []

    def fail_once(**kwargs):
        if not failures:
            failures.append(True)
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "ChangeResourceRecordSets")

    world.hook("route53", "before-call.route53.ChangeResourceRecordSets", fail_once)
    with pytest.raises(Exception, match="flip aborted after an error, legacy is still the writer"):
        flip(driver)
    assert_legacy_is_the_writer(world)


def test_an_interrupted_flip_past_its_deadline_is_aborted_by_the_next_invocation(driver, cutover_world):
    world = cutover_world
    world.ready_for_flip()

    def crash(request):
        if world.state()["phase"] == "draining":
            raise sc.SimulatedCrash("the invocation timed out while draining")

    world.dms.hooks["DescribeTableStatistics"] = crash
    with pytest.raises(sc.SimulatedCrash):
        flip(driver)
    assert world.state()["phase"] == "draining"
    world.dms.hooks.clear()
    world.clock.advance(60)
    result = flip(driver, "req-2")
    assert result["aborted"] is True and "deadline passed while the flip was interrupted" in result["error"]
    assert_legacy_is_the_writer(world)


def test_an_interrupted_abort_is_finished_by_the_next_invocation(driver, cutover_world):
    world = cutover_world
    world.ready_for_flip()
    world.dms.hooks["StopReplicationTask"] = lambda request: world.clock.advance(30)  # the deadline passes
    crashed: list[bool] = []

    def crash_while_aborting(**kwargs):
        if not crashed and world.state()["phase"] == "aborting":
            crashed.append(True)
            raise sc.SimulatedCrash("the invocation timed out while aborting")

    world.hook("elbv2", "before-call.elastic-load-balancing-v2.ModifyRule", crash_while_aborting)
    with pytest.raises(sc.SimulatedCrash):
        flip(driver)
    assert world.state()["phase"] == "aborting" and world.write_rule_target() == "api"
    result = flip(driver, "req-2")
    assert result["aborted"] is True and "resuming an interrupted abort" in result["error"]
    assert_legacy_is_the_writer(world)


# --------------------------------------------------------------------------- interrupted anywhere, resumed
# A crash between two reads leaves the world as a crash right after the change before them, so crashing
# right after each call that changes something (and before the first) covers every point of the flip.
FLIP_CHANGES = 20  # pinned by the first test below


def test_the_crash_points_cover_every_change_the_flip_makes(driver, cutover_world):
    world = cutover_world
    world.ready_for_flip()
    world.interrupter.arm(None)
    assert flip(driver)["ok"] is True
    assert len(world.interrupter.mutating) == FLIP_CHANGES, world.interrupter.mutating


def crash_while_the_guards_read(world):
    def crash(request):
        world.dms.hooks.clear()
        raise sc.SimulatedCrash("crash while the guards read")

    world.dms.hooks["DescribeTableStatistics"] = crash


def test_a_flip_interrupted_anywhere_resumes_and_flips_once(driver, cutover_world):
    """One world, reset between runs: each run crashes at another point, then Lambda's retry completes it."""
    world, failures = cutover_world, []
    for crash_after in range(-1, FLIP_CHANGES):
        world.reset_to_legacy_writer()
        world.ready_for_flip()
        versions = len(world.aws["ssm"].get_parameter_history(Name=sc.STATE_PARAMETER, MaxResults=50)["Parameters"])
        if crash_after < 0:
            crash_while_the_guards_read(world)
        else:
            world.interrupter.arm(crash_after)
        try:
            with pytest.raises(sc.SimulatedCrash):
                flip(driver, f"req-{crash_after}-a")
            result = flip(driver, f"req-{crash_after}-b")  # Lambda's retry, or the operator again
            assert result["ok"] is True, result  # "changed": false when the crash came after the last step
            assert_aurora_is_the_writer(world)
            history = world.aws["ssm"].get_parameter_history(Name=sc.STATE_PARAMETER, MaxResults=50)["Parameters"]
            sequence = [json.loads(version["Value"])["seq"] for version in history[versions - 1 :]]
            assert sequence == sorted(set(sequence)), sequence  # every published state is newer than the last
        except AssertionError as error:
            failures.append(f"crash after change {crash_after}: {error}")
    assert failures == []


def test_the_cutover_talks_to_aurora_as_its_own_login_not_as_a_superuser(cutover_world):
    world = cutover_world
    answer = world.data_api.execute_statement(
        resourceArn=world.environment["DB_CLUSTER_ARN"],
        secretArn=world.environment["DB_SECRET_ARN"],
        database=world.database,
        sql="SELECT current_user::text, rolsuper, pg_has_role('rds_replication', 'MEMBER') FROM pg_roles "
        "WHERE rolname = current_user",
    )
    assert [[next(iter(field.values())) for field in record] for record in answer["records"]] == [
        [world.login.user, False, True]
    ]
