"""The cutover state (SSM, moto): its format, the claim that lets only one invocation make each
transition, the roll-forward of a claim whose maker died, and the payment API's write gate."""

import json
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import cutover_state as cs
import cutover_store
import support_cutover as sc
from write_gate import WriterGate

NAME = "/payments-test/cutover/state"
DRIVER = {"function": "payments-test-traffic-shifter", "request_id": "req-d"}
ROLLBACK = {"function": "payments-test-rollback", "request_id": "req-r"}


class WritesPaused(Exception):
    """The payment API's exception, as the gate raises it: (reason, retry_after_seconds)."""

    def __init__(self, reason, retry_after_seconds):
        super().__init__(reason)
        self.reason, self.retry_after_seconds = reason, retry_after_seconds


@pytest.fixture
def ssm():
    with mock_aws():
        client = boto3.client("ssm", region_name="us-east-1")
        yield client


@pytest.fixture
def clock():
    return sc.FakeClock()


def put_state(ssm, clock, **changes):
    state = {**cs.initial_state("legacy", clock.now()), **changes}
    ssm.put_parameter(Name=NAME, Type="String", Value=json.dumps(state), Overwrite=True)
    return state


def store(ssm, clock, owner=DRIVER, takeover_after=900):
    return cutover_store.StateStore(ssm, NAME, owner=owner, now=clock.now, takeover_after=takeover_after)


def parameter_names(ssm):
    return sorted(p["Name"] for p in ssm.describe_parameters()["Parameters"])


# --------------------------------------------------------------------------- format
def test_initial_states():
    moment = sc.FakeClock().now()
    legacy, aurora = cs.initial_state("legacy", moment), cs.initial_state("aurora", moment)
    assert (legacy["phase"], legacy["writer"], legacy["seq"]) == ("legacy-writer", "legacy", 0)
    assert (aurora["phase"], aurora["writer"]) == ("aurora-writer", "aurora")
    assert cs.parse(cs.render(legacy)) == legacy
    assert not cs.accepts_writes(legacy) and cs.accepts_writes(aurora)
    with pytest.raises(ValueError, match="writer must be one of legacy, aurora"):
        cs.initial_state("both", moment)


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"v": 2}, "v must be 1"),
        ({"seq": -1}, "seq must be a whole number >= 0"),
        ({"seq": True}, "seq must be a whole number >= 0"),
        ({"phase": "flipping"}, "phase must be one of"),
        ({"writer": "both"}, "writer must be one of legacy, aurora"),
        ({"writer": "aurora"}, "writer does not match the phase"),
        ({"direction": "flip"}, "direction must be null in a writer phase"),
        ({"phase": "draining"}, "direction must be flip or rollback while one is under way"),
        ({"deadline": "tomorrow"}, "deadline must be an ISO-8601 time or null"),
    ],
)
def test_invalid_states_are_refused(changes, problem):
    state = {**cs.initial_state("legacy", sc.FakeClock().now()), **changes}
    with pytest.raises(cs.StateError, match=problem):
        cs.parse(json.dumps(state))


@pytest.mark.parametrize("text", ["", "not json", "[1]", "null"])
def test_garbage_is_refused(text):
    with pytest.raises(cs.StateError):
        cs.parse(text)


def test_write_refusal_reasons():
    legacy = cs.initial_state("legacy", sc.FakeClock().now())
    paused = {**cs.initial_state("aurora", sc.FakeClock().now()), "phase": "pausing", "direction": "rollback"}
    assert cs.refusal_reason(legacy) == cs.NOT_WRITER_REASON
    assert cs.refusal_reason(paused) == cs.PAUSED_REASON == "writes paused for cutover, retry"
    assert not cs.accepts_writes(paused)


# --------------------------------------------------------------------------- transitions
def test_a_transition_publishes_the_next_state_and_leaves_no_claim(ssm, clock):
    put_state(ssm, clock)
    states = store(ssm, clock)
    new = states.transition(states.read(), dns_new_weight=10, dns_since=cs.utc_iso(clock.now()))
    assert new["seq"] == 1 and new["by"] == DRIVER and new["dns_new_weight"] == 10
    assert states.read() == new
    assert parameter_names(ssm) == [NAME]


def test_of_two_invocations_that_read_the_same_state_only_one_moves_it(ssm, clock):
    put_state(ssm, clock)
    driver, rollback = store(ssm, clock), store(ssm, clock, ROLLBACK)
    seen_by_driver, seen_by_rollback = driver.read(), rollback.read()
    driver.transition(seen_by_driver, phase="pausing", direction="flip")
    with pytest.raises(cutover_store.StateConflict):
        rollback.transition(seen_by_rollback, dns_new_weight=0)
    assert driver.read()["phase"] == "pausing"
    assert parameter_names(ssm) == [NAME]


def test_a_transition_racing_inside_another_one_cannot_both_win(ssm, clock):
    """The rollback transitions while the driver is between its claim and its check of the head."""
    put_state(ssm, clock)
    driver_client, rollback_client = (
        boto3.client("ssm", region_name="us-east-1"),
        boto3.client("ssm", region_name="us-east-1"),
    )
    driver, rollback = store(driver_client, clock), store(rollback_client, clock, ROLLBACK)
    seen_by_driver, seen_by_rollback = driver.read(), rollback.read()
    outcome = {}

    def rollback_moves_now(**kwargs):
        if "rollback" not in outcome:
            try:
                outcome["rollback"] = rollback.transition(seen_by_rollback, dns_new_weight=0)
            except cutover_store.StateConflict as error:
                outcome["rollback"] = error

    driver_client.meta.events.register("before-call.ssm.GetParameter", rollback_moves_now)
    try:
        outcome["driver"] = driver.transition(seen_by_driver, phase="pausing", direction="flip")
    except cutover_store.StateConflict as error:
        outcome["driver"] = error
    winners = [name for name, result in outcome.items() if isinstance(result, dict)]
    assert len(winners) == 1, outcome
    assert driver.read()["seq"] == 1
    assert parameter_names(ssm) == [NAME]


def test_a_fresh_claim_of_another_function_makes_readers_wait(ssm, clock):
    state = put_state(ssm, clock)
    claim = {**state, "seq": 1, "phase": "pausing", "direction": "flip", "by": DRIVER, "since": cs.utc_iso(clock.now())}
    ssm.put_parameter(Name=f"{NAME}-claim-000000001", Type="String", Value=cs.render(claim))
    with pytest.raises(
        cutover_store.StateBusy, match="payments-test-traffic-shifter .* is moving the cutover to pausing"
    ):
        store(ssm, clock, ROLLBACK).read()


def test_an_abandoned_claim_is_rolled_forward_after_the_takeover_time(ssm, clock):
    state = put_state(ssm, clock)
    claim = {**state, "seq": 1, "phase": "pausing", "direction": "flip", "by": DRIVER, "since": cs.utc_iso(clock.now())}
    ssm.put_parameter(Name=f"{NAME}-claim-000000001", Type="String", Value=cs.render(claim))
    clock.advance(120)
    assert store(ssm, clock, ROLLBACK, takeover_after=120).read() == claim
    assert parameter_names(ssm) == [NAME]


def test_a_claim_of_the_readers_own_function_is_rolled_forward_at_once(ssm, clock):
    state = put_state(ssm, clock)
    claim = {
        **state,
        "seq": 1,
        "phase": "pausing",
        "direction": "flip",
        "by": {**DRIVER, "request_id": "an-earlier-invocation"},
        "since": cs.utc_iso(clock.now()),
    }
    ssm.put_parameter(Name=f"{NAME}-claim-000000001", Type="String", Value=cs.render(claim))
    assert store(ssm, clock).read()["phase"] == "pausing"


def test_a_claim_left_after_publishing_is_removed_by_the_next_reader(ssm, clock):
    state = put_state(ssm, clock, seq=3)
    ssm.put_parameter(Name=f"{NAME}-claim-000000003", Type="String", Value=cs.render(state))
    assert store(ssm, clock, ROLLBACK).read() == state
    assert parameter_names(ssm) == [NAME]


def test_a_missing_state_parameter_is_an_error(ssm, clock):
    with pytest.raises(cs.StateError, match="does not exist"):
        store(ssm, clock).read()


def test_a_transition_never_writes_a_state_readers_refuse(ssm, clock):
    put_state(ssm, clock)
    states = store(ssm, clock)
    with pytest.raises(cs.StateError, match="writer does not match the phase"):
        states.transition(states.read(), writer="aurora")
    assert parameter_names(ssm) == [NAME]


# --------------------------------------------------------------------------- the write gate
class Monotonic:
    def __init__(self):
        self.value = 1000.0

    def __call__(self):
        return self.value


def gate(ssm, monotonic, cache_seconds=1.0):
    calls = []
    ssm.meta.events.register("before-call.ssm.GetParameter", lambda **kwargs: calls.append(1))
    return WriterGate(
        parameter_name=NAME,
        ssm=lambda: ssm,
        paused_error=WritesPaused,
        monotonic=monotonic,
        cache_seconds=cache_seconds,
    ), calls


def test_the_gate_lets_writes_through_only_while_aurora_is_the_writer(ssm, clock):
    put_state(ssm, clock, **cs.initial_state("aurora", clock.now()))
    monotonic = Monotonic()
    writer_gate, _ = gate(ssm, monotonic)
    writer_gate()  # no exception: the write may go ahead
    put_state(ssm, clock, **{**cs.initial_state("aurora", clock.now()), "phase": "pausing", "direction": "rollback"})
    monotonic.value += 1.0
    with pytest.raises(WritesPaused) as paused:
        writer_gate()
    assert (paused.value.reason, paused.value.retry_after_seconds) == ("writes paused for cutover, retry", 2)


def test_the_gate_refuses_writes_while_legacy_is_the_writer(ssm, clock):
    put_state(ssm, clock)
    writer_gate, _ = gate(ssm, Monotonic())
    with pytest.raises(WritesPaused) as refused:
        writer_gate()
    assert refused.value.reason == cs.NOT_WRITER_REASON and refused.value.retry_after_seconds == 2


def test_the_gate_reads_the_state_at_most_once_per_second(ssm, clock):
    put_state(ssm, clock, **cs.initial_state("aurora", clock.now()))
    monotonic = Monotonic()
    writer_gate, calls = gate(ssm, monotonic)
    for _ in range(5):
        writer_gate()
        monotonic.value += 0.19
    assert len(calls) == 1
    monotonic.value += 0.05  # 1.0 s after the first read
    writer_gate()
    assert len(calls) == 2


@pytest.mark.parametrize("value", ["garbage", json.dumps({"phase": "aurora-writer"})])
def test_the_gate_fails_closed_on_an_invalid_state(ssm, clock, value):
    ssm.put_parameter(Name=NAME, Type="String", Value=value)
    writer_gate, _ = gate(ssm, Monotonic())
    with pytest.raises(WritesPaused) as refused:
        writer_gate()
    assert refused.value.reason == "cutover state unavailable, retry"


def test_the_gate_fails_closed_when_the_state_cannot_be_read(ssm, clock):
    put_state(ssm, clock, **cs.initial_state("aurora", clock.now()))
    monotonic = Monotonic()
    writer_gate, _ = gate(ssm, monotonic)
    writer_gate()
    failing: list[bool] = []

    def throttle(**kwargs):
        if failing:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetParameter")

    ssm.meta.events.register("before-call.ssm.GetParameter", throttle)
    failing.append(True)
    monotonic.value += 0.5
    writer_gate()  # the cached state is younger than a second
    monotonic.value += 0.6
    with pytest.raises(WritesPaused, match="cutover state unavailable"):
        writer_gate()  # never an older state than a second
    failing.clear()
    writer_gate()


def test_the_gate_fails_closed_without_the_parameter(ssm, clock):
    writer_gate, _ = gate(ssm, Monotonic())
    with pytest.raises(WritesPaused, match="cutover state unavailable"):
        writer_gate()


@pytest.mark.parametrize("cache_seconds", [0, 1.5])
def test_the_gate_cache_cannot_outlive_what_the_cutover_waits_for(ssm, cache_seconds):
    with pytest.raises(ValueError, match="cache_seconds must be > 0 and <= 1.0"):
        WriterGate(parameter_name=NAME, ssm=lambda: ssm, paused_error=WritesPaused, cache_seconds=cache_seconds)


def test_claims_are_named_in_order(ssm, clock):
    names = [store(ssm, clock).claim_name(seq) for seq in (9, 10, 123456789)]
    assert names == sorted(names) == [f"{NAME}-claim-000000009", f"{NAME}-claim-000000010", f"{NAME}-claim-123456789"]


def test_the_clock_helpers_round_trip():
    moment = sc.FakeClock().now()
    parsed = cs.parse_time(cs.utc_iso(moment))
    assert abs(parsed - moment) < timedelta(milliseconds=1)
