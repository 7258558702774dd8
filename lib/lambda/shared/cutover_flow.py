"""The cutover's procedures: read-canary steps, the writer flip with its bounded pause, and rollback.

Used by the cutover driver (traffic_shifter) and by rollback; docs/cutover.md is the design this
code follows. Each procedure records every phase in the state parameter (cutover_state) before it
acts, and every action is idempotent, so an invocation that dies anywhere is resumed by the next
one (or, before the commit point and past the pause deadline, undone: the writer is unchanged).

Commit points: a flip commits when the state says writer=aurora (the API takes writes from then
on); a rollback commits when the ALB write rule forwards to legacy again.
"""

import functools
import logging
import os
import time
from datetime import UTC, datetime, timedelta

import cutover_ops as ops
import cutover_state as cs
import cutover_store

POLL_SECONDS = 0.5
TIME_MARGIN_SECONDS = 5.0  # stop waiting this long before Lambda's timeout, to report and raise cleanly
DNS_HOLD_TTLS = 2  # the new weight must be 100 for this many record TTLs before a flip
NEW_WEIGHT_FOR_FLIP = 100
FLIP_PHASES = (cs.PAUSING, cs.DRAINING, cs.SWITCHING)


class BadRequest(Exception):
    """The event is malformed; the reason is safe to return."""


def answers_bad_requests(log, *, level, message):
    """Decorator for `handler(event, context)`: a BadRequest it raises is logged as `message` at `level`
    and answered {"ok": false, "error": reason}; a retry would not make the event valid."""

    def decorate(handler):
        @functools.wraps(handler)
        def wrapper(event, context):
            try:
                return handler(event, context)
            except BadRequest as error:
                log(level, message, error=str(error))
                return {"ok": False, "error": str(error)}

        return wrapper

    return decorate


class Refused(Exception):
    """The request cannot be carried out in the current state; nothing was changed."""

    def __init__(self, message, reasons=()):
        super().__init__(message)
        self.reasons = list(reasons) or [message]

    def answer(self, action):
        """The handler's answer to a refused `action`."""
        return {"ok": False, "action": action, "refused": True, "error": str(self), "reasons": self.reasons}


class PauseExpired(Exception):
    """A paused flip could not reach its commit point in time (or met an error): abort it."""


class SystemClock:
    @staticmethod
    def now():
        return datetime.now(UTC)

    @staticmethod
    def sleep(seconds):
        time.sleep(seconds)


def invocation_owner(context):
    """Who makes a transition: the function (one invocation at a time) and the request."""
    return {
        "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or f"local-{os.getpid()}",
        "request_id": getattr(context, "aws_request_id", None),
    }


def time_left(context):
    """A callable giving the seconds this invocation may still run (unbounded outside Lambda)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return (lambda: remaining() / 1000.0) if callable(remaining) else (lambda: float("inf"))


def _seconds(later, earlier):
    return round((later - earlier).total_seconds(), 3)


class Cutover:
    """One invocation's view of the cutover: configuration, clients, clock and state store.

    `aws_client(service)` returns a boto3 client; `time_left()` the seconds this invocation may still run.
    """

    def __init__(self, *, config, aws_client, clock, log, owner, time_left=lambda: float("inf")):
        self.config = config
        self.aws_client = aws_client
        self.clock = clock
        self.log = log
        self.owner = owner
        self.time_left = time_left
        self.store = cutover_store.StateStore(
            aws_client("ssm"), config.state_parameter, owner=owner, now=clock.now, takeover_after=config.takeover_after
        )
        # Only steps that need a legacy system run statements on Aurora (_require_legacy guards them).
        self.aurora = ops.Aurora(aws_client, config)
        self.pause_seconds = None  # of the pause this invocation ended, for its answer

    @classmethod
    def for_invocation(cls, context, *, aws_client, clock, log):
        """The cutover as one Lambda invocation drives it: configuration from the environment, owner and
        remaining time from `context`."""
        return cls(
            config=ops.load_config(),
            aws_client=aws_client,
            clock=clock,
            log=log,
            owner=invocation_owner(context),
            time_left=time_left(context),
        )

    # ----------------------------------------------------------------------- helpers
    def _now(self):
        return self.clock.now()

    def _invocation_end(self):
        return self._now() + timedelta(seconds=max(0.0, self.time_left() - TIME_MARGIN_SECONDS))

    def _owned_or_abandoned(self, state):
        """True when this invocation may carry on the step in `state`: its own function made it (and runs
        one invocation at a time), or the maker has certainly ended (takeover_after has passed)."""
        if state["by"].get("function") == self.owner["function"]:
            return True
        return _seconds(self._now(), cs.parse_time(state["since"])) >= self.config.takeover_after

    def _start_pause(self, state, direction, reason, **cleared):
        """Writes pause, in `direction`, until the bounded deadline; `cleared` resets what the last run left."""
        now = self._now()
        return self._transition(
            state,
            phase=cs.PAUSING,
            direction=direction,
            paused_at=cs.utc_iso(now),
            deadline=cs.utc_iso(now + timedelta(seconds=self.config.max_pause)),
            reason=reason,
            **cleared,
        )

    def _settle(self, state, *, writer, **changes):
        """Ends the flip, abort or rollback under way: `writer` takes writes, no pause deadline is left."""
        return self._transition(
            state, phase=cs.writer_phase(writer), direction=None, writer=writer, deadline=None, **changes
        )

    def _transition(self, state, **changes):
        new = self.store.transition(state, **changes)
        self.log(
            logging.INFO,
            "cutover state",
            seq=new["seq"],
            phase=new["phase"],
            direction=new["direction"],
            writer=new["writer"],
        )
        return new

    def _require_legacy(self, what):
        if not self.config.has_legacy:
            raise Refused(f"{what}: there is no legacy system (no LEGACY_TARGET_GROUP_ARN); Aurora is the writer")

    def _wait_for_other(self, state):
        """Waits while another function's flip or rollback is under way; returns the state after it."""
        end = self._invocation_end()
        while cs.in_progress(state) and not self._owned_or_abandoned(state):
            if self._now() + timedelta(seconds=POLL_SECONDS) > end:
                raise cutover_store.StateBusy(
                    f"{state['by'].get('function')} is in the {state['direction']} phase "
                    f"{state['phase']} since {state['since']}; retry"
                )
            self.clock.sleep(POLL_SECONDS)
            state = self.store.read()
        return state

    # ----------------------------------------------------------------------- status
    def status(self):
        state = self.store.read()
        report = {"ok": True, "action": "status", "state": state, "api_accepts_writes": cs.accepts_writes(state)}
        new_records, legacy_records = ops.list_records_by_set(self.aws_client("route53"), self.config.records)
        report["dns"] = {
            "new": sorted({r.get("Weight") for r in new_records}, key=str),
            "legacy": sorted({r.get("Weight") for r in legacy_records}, key=str),
        }
        targets = ops.write_rule_targets(self.aws_client, self.config)
        names = {self.config.api_target_group_arn: "api", self.config.legacy_target_group_arn: "legacy"}
        report["write_rule"] = [names.get(arn, arn) for arn in targets]
        if self.config.has_legacy:
            report["forward"] = ops.task_status(self.aws_client, self.config.forward_task_arn)
            report["reverse"] = ops.task_status(self.aws_client, self.config.reverse_task_arn)
        return report

    # ----------------------------------------------------------------------- canary (reads only)
    def canary(self, request):
        """Moves the `new` weight: reads go to the ALB (Aurora, via forward CDC), writes still reach legacy
        through the ALB's write rule. Only while legacy is the writer."""
        state = self.store.read()
        if state["phase"] != cs.LEGACY_WRITER:
            raise Refused(f"canary steps move reads only while legacy is the writer; the phase is {state['phase']}")
        new_records, legacy_records, before = ops.weighted_records(self.aws_client, self.config)
        new_weight = request.get("target_weight")
        if new_weight is None:
            new_weight = min(ops.TOTAL_WEIGHT, max(0, before["new"] + request["step"]))
        after = {"new": new_weight, "legacy": ops.TOTAL_WEIGHT - new_weight}
        if _new_share(after) > _new_share(before):
            problems = self._increase_problems()
            if problems:
                raise Refused("increase refused: " + "; ".join(problems), problems)
        comment = f"cutover canary new {before['new']}->{after['new']}"
        if request.get("reason"):
            comment += f": {request['reason']}"
        change = ops.set_weights(self.aws_client, self.config, new_records, legacy_records, new_weight, comment)
        if change is not None or state["dns_new_weight"] != new_weight:
            state = self._transition(
                state, dns_new_weight=new_weight, dns_since=cs.utc_iso(self._now()), reason=request.get("reason")
            )
        self.log(logging.INFO, "canary weights", before=before, after=after, change_id=change["Id"] if change else None)
        return {
            **_weight_change_answer(action="canary", change=change, before=before, after=after),
            "state_seq": state["seq"],
        }

    def _increase_problems(self):
        problems = ops.readiness_problems(self.aws_client, self.config, self._now())
        alarms = ops.firing_critical_alarms(self.aws_client, self.config)
        if alarms:
            problems.append("critical alarm(s) in ALARM: " + ", ".join(alarms))
        if self.config.has_legacy:
            status = ops.task_status(self.aws_client, self.config.forward_task_arn)
            if status != ops.TASK_RUNNING:
                problems.append(f"forward replication task is {status!r}: reads on Aurora would go stale")
        return problems

    # ----------------------------------------------------------------------- flip (legacy -> Aurora)
    def flip(self, reason=None):
        self._require_legacy("flip")
        state = self.store.read()
        if state["direction"] == cs.ROLLBACK:
            raise Refused(
                f"a rollback is under way (phase {state['phase']} since {state['since']}); invoke rollback to finish it"
            )
        state = self._wait_for_other(state)
        if state["phase"] == cs.AURORA_WRITER:
            if state["reverse"] == "pending":
                return self._finish_flip(state)
            return {
                "ok": True,
                "action": "flip",
                "changed": False,
                "writer": "aurora",
                "message": "already flipped: Aurora is the writer",
                "state": state,
            }
        if state["phase"] == cs.ABORTING:
            return self._abort(state, "resuming an interrupted abort")
        if state["phase"] in FLIP_PHASES:
            if self._now() > cs.parse_time(state["deadline"]):
                return self._abort(state, "the pause deadline passed while the flip was interrupted")
            return self._run_flip(state)
        problems = self.flip_problems(state)
        if problems:
            raise Refused("flip refused: " + "; ".join(problems), problems)
        state = self._start_pause(state, cs.FLIP, reason, flip_lsn=None, reverse=None)
        return self._run_flip(state)

    def flip_problems(self, state):
        """Every reason the flip may not start now (empty: all guards pass). Reads only."""
        config, now, problems = self.config, self._now(), []
        new_records, legacy_records, weights = ops.weighted_records(self.aws_client, config)
        if weights["new"] != NEW_WEIGHT_FOR_FLIP or weights["legacy"] != 0:
            problems.append(
                f"DNS weights are new {weights['new']} / legacy {weights['legacy']}; the flip needs "
                "new 100 so that the ALB is the only path to legacy"
            )
        hold, rule = self._dns_hold(new_records + legacy_records)
        if state["dns_new_weight"] != NEW_WEIGHT_FOR_FLIP or not state["dns_since"]:
            problems.append(
                "the cutover has not set the new weight to 100: run the canary to target_weight 100 "
                f"and wait {hold:g} s ({rule})"
            )
        else:
            held = _seconds(now, cs.parse_time(state["dns_since"]))
            if held < hold:
                problems.append(
                    f"new weight 100 held for {held:g} s; the flip needs {hold:g} s ({rule}) so that "
                    "resolvers no longer send clients to legacy directly"
                )
        if ops.write_rule_targets(self.aws_client, config) != [config.legacy_target_group_arn]:
            problems.append("the ALB write rule does not forward to the legacy target group")
        forward = ops.task_status(self.aws_client, config.forward_task_arn)
        if forward != ops.TASK_RUNNING:
            problems.append(f"forward replication task is {forward!r}, expected 'running'")
        problems += ops.table_problems(ops.table_statistics(self.aws_client, config.forward_task_arn))
        problems += ops.latency_problems(
            ops.latest_cdc_latency(self.aws_client, config, config.forward_task_arn, now), config.max_cdc_latency
        )
        problems += ops.readiness_problems(self.aws_client, config, now)
        alarms = ops.firing_critical_alarms(self.aws_client, config)
        if alarms:
            problems.append("critical alarm(s) in ALARM: " + ", ".join(alarms))
        exceptions = self.aurora.apply_exceptions()
        if exceptions:
            problems.append(f"{exceptions} row(s) in {config.control_schema}.awsdms_apply_exceptions")
        reverse = ops.task_status(self.aws_client, config.reverse_task_arn)
        if reverse not in ops.TASK_IDLE:
            problems.append(f"reverse replication task is {reverse!r}, expected 'ready' or 'stopped'")
        slot = self.aurora.slot()
        if slot is not None and slot["active"]:
            problems.append(f"replication slot {config.slot_name} on Aurora is in use")
        return problems

    def _dns_hold(self, records):
        """(seconds the new weight must be 100 before a flip, why): 2 x the records' TTL, or DNS_HOLD_SECONDS."""
        if self.config.dns_hold is not None:
            return self.config.dns_hold, "DNS_HOLD_SECONDS"
        return DNS_HOLD_TTLS * ops.record_ttl(records), "2 x TTL"

    def _run_flip(self, state):
        try:
            if state["phase"] == cs.PAUSING:
                # From here the ALB sends writes to the API, which answers 503 + Retry-After (the state is not
                # aurora-writer); requests already forwarded to legacy get IN_FLIGHT_SECONDS to finish.
                ops.point_write_rule(self.aws_client, self.config, self.config.api_target_group_arn)
                self.clock.sleep(self.config.in_flight)
                state = self._transition(state, phase=cs.DRAINING)
            if state["phase"] == cs.DRAINING:
                self._drain_forward(cs.parse_time(state["deadline"]))
                state = self._transition(state, phase=cs.SWITCHING)
            if state["phase"] == cs.SWITCHING:
                state = self._switch_to_aurora(state)
        except PauseExpired as error:
            return self._abort(state, str(error))
        except (cutover_store.StateConflict, cutover_store.StateBusy):
            raise  # another invocation owns the cutover now: it decides
        except Exception as error:
            if state["phase"] in FLIP_PHASES:
                self.log(logging.ERROR, "flip failed before its commit point, aborting", error=str(error)[:500])
                self._abort(state, f"error: {type(error).__name__}: {str(error)[:300]}")
                raise ops.CutoverFailed(f"flip aborted after an error, legacy is still the writer: {error}") from error
            raise
        return self._finish_flip(state)

    def _check_deadline(self, state):
        if self._now() > cs.parse_time(state["deadline"]):
            raise PauseExpired(
                f"the pause reached its {self.config.max_pause:g} s limit before Aurora became the writer"
            )

    def _drain_forward(self, deadline):
        """Waits until forward CDC has applied everything legacy committed: every table Validated with no
        pending record and no counter moving for DRAIN_QUIET_SECONDS."""
        quiet_since, last = None, None
        while True:
            status = ops.task_status(self.aws_client, self.config.forward_task_arn)
            statistics = ops.table_statistics(self.aws_client, self.config.forward_task_arn)
            problems = ops.table_problems(statistics)
            if status != ops.TASK_RUNNING:
                problems.insert(0, f"forward replication task is {status!r}")
            if problems:
                raise PauseExpired("forward replication failed while draining: " + "; ".join(problems))
            validated, counters = ops.drain_snapshot(statistics)
            now = self._now()
            if not validated:
                quiet_since = None
            elif counters != last or quiet_since is None:
                quiet_since = now
            last = counters
            if quiet_since is not None and _seconds(now, quiet_since) >= self.config.drain_quiet:
                return
            if now + timedelta(seconds=POLL_SECONDS) > deadline:
                raise PauseExpired(
                    "forward replication did not drain within the pause (validation pending or changes still arriving)"
                )
            self.clock.sleep(POLL_SECONDS)

    def _switch_to_aurora(self, state):
        """Stop forward, fix the flip position on Aurora, then commit: Aurora is the writer. Legacy is fenced
        by then: the ALB sends it no writes and DNS no clients (guards); its read-only mode is the runbook's."""
        config = self.config
        self._check_deadline(state)
        ops.request_stop(self.aws_client, config.forward_task_arn)
        # The slot must exist before Aurora takes a write, so the reverse task can replay from the flip
        # position; a slot left by an earlier attempt is dropped (nothing reads it) and made again.
        if not self.aurora.drop_slot():
            raise PauseExpired(f"replication slot {config.slot_name} on Aurora is in use")
        self.aurora.create_slot()
        flip_lsn = self.aurora.current_lsn()
        # Once Aurora writes, a failing ALB must not send clients back to the read-only legacy by DNS.
        ops.set_new_alias_health(self.aws_client, config, False, "cutover flip: no DNS fallback to legacy")
        self._check_deadline(state)
        state = self._settle(state, writer="aurora", flip_lsn=flip_lsn, reverse="pending", forward="stopping")
        self.pause_seconds = _seconds(self._now(), cs.parse_time(state["paused_at"]))
        self.log(
            logging.WARNING, "flip committed: Aurora is the writer", flip_lsn=flip_lsn, pause_seconds=self.pause_seconds
        )
        return state

    def _finish_flip(self, state):
        """After the commit: once the forward task has stopped, start the reverse task at the flip LSN."""
        self._stop_task(
            self.config.forward_task_arn,
            "Aurora is the writer and the slot keeps its changes: "
            "invoke flip again to start the reverse task once the forward task has stopped",
        )
        ops.start_reverse(self.aws_client, self.config, state["flip_lsn"])
        state = self._transition(state, reverse="started", forward="stopped")
        return {
            "ok": True,
            "action": "flip",
            "changed": True,
            "writer": "aurora",
            "flip_lsn": state["flip_lsn"],
            "pause_seconds": self.pause_seconds,
            "state": state,
        }

    def _stop_task(self, task_arn, then_what):
        """Stops a DMS task and waits until it no longer replicates (the two directions never run at once);
        CutoverFailed saying `then_what` when this invocation runs out of time first."""
        end = self._invocation_end()
        while (status := ops.request_stop(self.aws_client, task_arn)) not in ops.TASK_HALTED:
            if self._now() + timedelta(seconds=POLL_SECONDS) > end:
                raise ops.CutoverFailed(f"task {task_arn.rsplit(':', 1)[-1]} is still {status!r}; {then_what}")
            self.clock.sleep(POLL_SECONDS)

    def _abort(self, state, reason):
        """Undo a flip that has not committed: legacy stays the writer and takes writes again."""
        config = self.config
        if state["phase"] != cs.ABORTING:
            state = self._transition(state, phase=cs.ABORTING)
        ops.point_write_rule(self.aws_client, config, config.legacy_target_group_arn)
        self.pause_seconds = _seconds(self._now(), cs.parse_time(state["paused_at"]))
        ops.set_new_alias_health(self.aws_client, config, True, "cutover flip aborted: legacy is the writer")
        self.aurora.drop_slot()
        end = self._invocation_end()
        while (forward := ops.resume_forward(self.aws_client, config)) == "stopping":
            if self._now() + timedelta(seconds=POLL_SECONDS) > end:
                raise ops.CutoverFailed(
                    "flip aborted and legacy takes writes, but the forward task has not "
                    "stopped yet to be resumed: invoke flip again to finish the abort"
                )
            self.clock.sleep(POLL_SECONDS)
        state = self._settle(
            state, writer="legacy", forward="running" if forward in ("running", "resuming", "starting") else forward
        )
        self.log(logging.WARNING, "flip aborted: legacy is still the writer", reason=reason, forward=forward)
        return {
            "ok": False,
            "action": "flip",
            "aborted": True,
            "writer": "legacy",
            "error": f"flip aborted, legacy is still the writer: {reason}",
            "reasons": [reason],
            "pause_seconds": self.pause_seconds,
            "forward": forward,
            "state": state,
        }

    # ----------------------------------------------------------------------- rollback
    def rollback(self, reason):
        state = self._wait_for_other(self.store.read())
        if state["direction"] == cs.FLIP:  # a flip whose driver died before its commit point: undo it
            self._abort(state, "rollback requested while a flip was interrupted")
            state = self.store.read()
        if state["direction"] == cs.ROLLBACK:
            return self._run_rollback(state)
        if state["phase"] == cs.AURORA_WRITER:
            self._require_legacy("rollback")
            state = self._start_pause(state, cs.ROLLBACK, reason, rollback_lsn=None)
            return self._run_rollback(state)
        return self._rollback_dns(state, reason)

    def _rollback_dns(self, state, reason):
        """Legacy is the writer: all clients back to legacy in one change batch (and finish a rollback's
        clean-up when one was interrupted after its commit)."""
        new_records, legacy_records, before = ops.weighted_records(self.aws_client, self.config)
        change = ops.set_weights(
            self.aws_client,
            self.config,
            new_records,
            legacy_records,
            0,
            f"rollback to legacy: {reason or 'manual rollback'}",
        )
        if change is not None or state["dns_new_weight"] != 0:
            state = self._transition(state, dns_new_weight=0, dns_since=cs.utc_iso(self._now()))
        if state["reverse"] == "cleanup":
            state = self._clean_up_after_rollback(state)
        after = {"new": 0, "legacy": ops.TOTAL_WEIGHT}
        self.log(logging.WARNING, "rolled back to legacy", before=before, change_id=change["Id"] if change else None)
        return {
            **_weight_change_answer(action="rollback", change=change, before=before, after=after),
            "message": None if change else "already rolled back",
            "state": state,
        }

    def _run_rollback(self, state):
        """Aurora is (was) the writer: move it back to legacy the way the flip came, reversed."""
        config = self.config
        try:
            state = self._drain_for_rollback(state)
        except (cutover_store.StateConflict, cutover_store.StateBusy):
            raise
        except Exception as error:
            # Writes stay paused: Aurora may hold payments legacy has not received, and legacy must not take
            # writes before it has them. Operators are told; Lambda retries (the next attempt resumes here).
            self._alert_not_drained(state, f"{type(error).__name__}: {str(error)[:500]}")
            raise
        if state["phase"] == cs.SWITCHING:
            ops.request_stop(self.aws_client, config.reverse_task_arn)
            ops.point_write_rule(self.aws_client, config, config.legacy_target_group_arn)
            self.pause_seconds = _seconds(self._now(), cs.parse_time(state["paused_at"]))
            state = self._settle(state, writer="legacy", reverse="cleanup", forward="stopped-by-rollback")
            self.log(logging.WARNING, "rollback committed: legacy is the writer", rollback_lsn=state["rollback_lsn"])
        report = self._reverse_report(state)
        result = self._rollback_dns(state, state["reason"])
        return {
            **result,
            "changed": True,
            "writer": "legacy",
            "rollback_lsn": state["rollback_lsn"],
            "pause_seconds": self.pause_seconds,
            **report,
            "state": result["state"],
        }

    def _drain_for_rollback(self, state):
        """Pause writes on Aurora, fence them, drain the reverse task up to the fence; returns the
        SWITCHING state (CutoverFailed when the reverse task does not get there in time)."""
        if state["phase"] == cs.PAUSING:
            # The API refuses writes once its cache (<= CACHE_SECONDS) sees this state; a write it let through
            # just before is waited for by the lock in fence_writes.
            self.clock.sleep(cs.CACHE_SECONDS + self.config.in_flight)
            state = self._transition(state, phase=cs.DRAINING, rollback_lsn=self.aurora.fence_writes())
        if state["phase"] == cs.DRAINING:
            resumed = state["by"] != self.owner  # an earlier invocation fenced: this one is a retry
            if state["reverse"] == "pending":
                state = self._start_pending_reverse(state)
            if not self._drain_reverse(state, resumed):
                raise ops.CutoverFailed(
                    f"reverse replication did not confirm {state['rollback_lsn']} in time "
                    f"(task {ops.task_status(self.aws_client, self.config.reverse_task_arn)!r}); "
                    "writes stay paused"
                )
            state = self._transition(state, phase=cs.SWITCHING)
        return state

    def _alert_not_drained(self, state, error):
        try:
            state = self.store.head()  # with the fence position when the failure came after it
        except Exception as read_error:
            self.log(logging.ERROR, "state unreadable for the alert", error=str(read_error)[:300])
        details = {
            "what": "rollback could not move the writer back to legacy; writes stay paused (503) until "
            "the reverse replication has delivered every payment: invoke rollback again once "
            "the reverse task runs",
            "error": error,
            "flip_lsn": state["flip_lsn"],
            "rollback_lsn": state["rollback_lsn"],
        }
        try:
            details.update(self._reverse_report(state))
        except Exception as report_error:  # Aurora or DMS may be what is failing: alert without the report
            details["report_error"] = f"{type(report_error).__name__}: {str(report_error)[:300]}"
        try:
            ops.alert(
                self.aws_client, self.config, "Payments taken since the flip may not have reached legacy", details
            )
        except Exception as alert_error:
            self.log(logging.ERROR, "alert failed", error=str(alert_error)[:300], details=details)

    def _start_pending_reverse(self, state):
        """A rollback right after a flip whose reverse task never started: start it now (forward stopped first)."""
        self._stop_task(
            self.config.forward_task_arn,
            "the reverse task cannot start before it stops; writes stay paused: invoke rollback again",
        )
        ops.start_reverse(self.aws_client, self.config, state["flip_lsn"])
        return self._transition(state, reverse="started", forward="stopped")

    def _drain_reverse(self, state, resumed):
        """True once the reverse task confirmed every change up to rollback_lsn; False when the window ends:
        the pause deadline, or for a retry (writes are paused already) another CUTOVER_MAX_PAUSE_SECONDS."""
        window_end = cs.parse_time(state["deadline"])
        if resumed:
            window_end = max(window_end, self._now() + timedelta(seconds=self.config.max_pause))
        end = min(window_end, self._invocation_end())
        while True:
            status = ops.task_status(self.aws_client, self.config.reverse_task_arn)
            if self.aurora.slot_reached(state["rollback_lsn"]):
                return True
            if status not in (ops.TASK_RUNNING, "starting", "resuming"):
                return False
            if self._now() + timedelta(seconds=POLL_SECONDS) > end:
                return False
            self.clock.sleep(POLL_SECONDS)

    def _reverse_report(self, state):
        config = self.config
        return {
            "reverse_task_status": ops.task_status(self.aws_client, config.reverse_task_arn),
            "reverse_latency_seconds": ops.latest_cdc_latency(
                self.aws_client, config, config.reverse_task_arn, self._now()
            ),
            "reverse_slot": self.aurora.slot(),
        }

    def _clean_up_after_rollback(self, state):
        """DNS fallback allowed again (legacy writes), reverse task stopped, its slot dropped."""
        ops.set_new_alias_health(self.aws_client, self.config, True, "rollback: legacy is the writer")
        then_what = "rollback committed (legacy is the writer); invoke rollback again to clean up"
        self._stop_task(self.config.reverse_task_arn, then_what)
        end = self._invocation_end()
        while not self.aurora.drop_slot():  # the reader lets go of the slot shortly after the task stopped
            if self._now() + timedelta(seconds=POLL_SECONDS) > end:
                raise ops.CutoverFailed(f"replication slot {self.config.slot_name} is still in use; {then_what}")
            self.clock.sleep(POLL_SECONDS)
        return self._transition(state, reverse=None)


def _new_share(weights):
    """Fraction of clients the new record gets; Route53 splits evenly when all weights are 0."""
    total = weights["new"] + weights["legacy"]
    return 0.5 if total == 0 else weights["new"] / total


def _weight_change_answer(*, action, change, before, after):
    """The answer to a weight change; `change` is Route53's ChangeInfo, None when the weights were already so."""
    return {
        "ok": True,
        "action": action,
        "changed": change is not None,
        "before": before,
        "after": after,
        "change_id": change["Id"] if change else None,
        "change_status": change.get("Status") if change else None,
    }
