"""Rollback: puts the legacy system back in charge, without losing a payment Aurora took.

Before the flip (legacy is the writer): all clients back to legacy, both weighted records in one
change batch (new 0, legacy 100). After the flip (Aurora is the writer): the flip in reverse, as
docs/cutover.md describes: pause writes, fence them on Aurora, drain the reverse CDC up to that
position, stop it, the ALB write rule back to the legacy target group, state legacy-writer, DNS
fallback (evaluate_target_health) on again, DNS back to legacy. While a flip is under way it waits
for the flip to end (or undoes it when its driver died). If the reverse task cannot deliver every
payment in time, writes stay paused and the alert topic is told which payments may be missing.
Idempotent: every step is recorded in the cutover state; a retry resumes.

Environment: the variables of cutover_ops (see the cutover driver, traffic_shifter/handler.py, and
cutover_ops for each) and LOG_LEVEL (optional, default INFO). The function must run with reserved
concurrency 1 and a timeout of at least 2 x CUTOVER_MAX_PAUSE_SECONDS + 30 (it may wait for a flip).

Events:
    {} or {"reason": "<string, at most 256 characters>"}        manual invocation
    {"Records": [{"Sns": {"Message": "...", "Subject": ...}}]}   SNS (the critical-alarm topic)

For SNS events the alarm name (AlarmName in a CloudWatch alarm message) is logged. When every
message is a CloudWatch alarm notification whose NewStateValue is not ALARM (for example an OK
transition) nothing is changed. Anything else in the SNS message rolls back.

Responses:
    {"ok": true, "action": "rollback", "changed": bool, "before": {"new": w, "legacy": w},
     "after": {"new": 0, "legacy": 100}, "change_id": str|null, "state": {...}, "trigger": {...},
     ... after a flip also "writer": "legacy", "rollback_lsn", "reverse_task_status",
     "reverse_latency_seconds", "reverse_slot"}
    {"ok": true, "changed": false, "message": "ignored: ...", "trigger": {...}}
    {"ok": false, "error": str}                                   bad event
    {"ok": false, "refused": true, "error": str, "reasons": [...]} nothing to roll back to
Everything else (AWS errors after retries, configuration errors, a reverse replication that does
not drain) is raised, so Lambda retries, the dead-letter topic gets the event and the -errors
alarm fires: a failed rollback never looks successful.
"""

import json
import logging

from cutover_flow import BadRequest, Cutover, Refused, SystemClock, answers_bad_requests
from lambda_support import handler_toolkit, invocation_logging

MAX_REASON_LENGTH = 256
# boto3 loads lazily with the first client: bad requests are answered without paying for it.
LOGGER, log, aws_client = handler_toolkit("rollback", retries={"mode": "standard", "max_attempts": 8})
_clients = aws_client.cache  # tests may pre-fill it
clock = SystemClock()  # tests may replace it


# --------------------------------------------------------------------------- input
def parse_sns_message(sns):
    """{"alarm": name|None, "state": NewStateValue|None, "subject": str|None} for one SNS record."""
    message = sns.get("Message")
    if not isinstance(message, str):
        raise BadRequest("each Records[].Sns must contain a string Message")
    subject = sns.get("Subject") if isinstance(sns.get("Subject"), str) else None
    try:
        body = json.loads(message)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("AlarmName"), str):
        state = body.get("NewStateValue")
        return {"alarm": body["AlarmName"], "state": state if isinstance(state, str) else None, "subject": subject}
    return {"alarm": None, "state": None, "subject": subject}


def parse_trigger(event):
    """Validates the event; returns a description of what triggered the rollback."""
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise BadRequest("event must be a JSON object")
    if "Records" in event:
        records = event["Records"]
        if set(event) != {"Records"} or not isinstance(records, list) or not records:
            raise BadRequest('an SNS event must be {"Records": [...]} with at least one record')
        if not all(isinstance(r, dict) and isinstance(r.get("Sns"), dict) for r in records):
            raise BadRequest("every Records[] entry must contain an Sns object")
        return {"source": "sns", "messages": [parse_sns_message(record["Sns"]) for record in records]}
    unknown = sorted(str(key)[:64] for key in set(event) - {"reason"})
    if unknown:
        raise BadRequest(f'unknown event key(s): {", ".join(unknown)}; expected {{}} or {{"reason": "..."}}')
    reason = event.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH):
        raise BadRequest(f"reason must be a string of at most {MAX_REASON_LENGTH} characters")
    return {"source": "manual", "reason": reason}


def is_non_alarm_notification(trigger):
    """True when every SNS message is an alarm notification in a state other than ALARM."""
    if trigger["source"] != "sns":
        return False
    return all(m["alarm"] is not None and m["state"] not in (None, "ALARM") for m in trigger["messages"])


def describe_trigger(trigger):
    if trigger["source"] == "manual":
        return trigger["reason"] or "manual rollback"
    names = [m["alarm"] or m["subject"] or "SNS message" for m in trigger["messages"]]
    return ("alarm: " + ", ".join(names))[:MAX_REASON_LENGTH]


# --------------------------------------------------------------------------- entry point
def roll_back(trigger, context):
    cutover = Cutover.for_invocation(context, aws_client=aws_client, clock=clock, log=log)
    return {**cutover.rollback(describe_trigger(trigger)), "trigger": trigger}


@invocation_logging(log)
@answers_bad_requests(log, level=logging.ERROR, message="rollback rejected")
def handler(event, context):
    trigger = parse_trigger(event)
    log(
        logging.WARNING,
        "rollback requested",
        source=trigger["source"],
        alarm_names=[m["alarm"] for m in trigger.get("messages", []) if m["alarm"]],
        trigger=describe_trigger(trigger),
    )
    if is_non_alarm_notification(trigger):
        states = sorted({m["state"] for m in trigger["messages"]})
        return {
            "ok": True,
            "changed": False,
            "trigger": trigger,
            "message": f"ignored: alarm notification state is {', '.join(states)}, not ALARM",
        }
    try:
        return roll_back(trigger, context)
    except Refused as error:
        log(logging.WARNING, "rollback refused", reasons=error.reasons)
        return {**error.answer("rollback"), "trigger": trigger}
