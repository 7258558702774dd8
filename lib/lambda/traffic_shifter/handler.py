"""Cutover driver (deployed as the traffic shifter; the function name stays payments-<suffix>-traffic-shifter).

It moves the system from the legacy writer to Aurora the way docs/cutover.md describes: read-canary
steps on the weighted DNS records while legacy is the writer (the ALB's write rule forwards every
write to the writer), then the writer flip with a bounded pause. Each step is recorded in the
cutover state (SSM parameter), so a retried invocation resumes and never repeats a flip.

Environment: the variables of cutover_ops (HOSTED_ZONE_ID, RECORD_NAME, NEW_SET_IDENTIFIER,
LEGACY_SET_IDENTIFIER, CUTOVER_STATE_PARAMETER, WRITE_RULE_ARN, API_TARGET_GROUP_ARN,
LEGACY_TARGET_GROUP_ARN, CRITICAL_ALARM_PREFIX, METRIC_NAMESPACE, READY_METRIC_NAME,
READINESS_MAX_AGE_SECONDS, FORWARD_TASK_ARN, REVERSE_TASK_ARN, REPLICATION_INSTANCE_ID,
DB_CLUSTER_ARN, DB_SECRET_ARN, DB_NAME, CUTOVER_TABLES, REVERSE_SLOT_NAME, REVERSE_SLOT_PLUGIN,
REVERSE_PUBLICATION, DMS_CONTROL_SCHEMA, ALERT_TOPIC_ARN,
FLIP_MAX_CDC_LATENCY_SECONDS, CUTOVER_MAX_PAUSE_SECONDS, DRAIN_QUIET_SECONDS, IN_FLIGHT_SECONDS,
TAKEOVER_AFTER_SECONDS; see that module for each) and LOG_LEVEL (optional, default INFO).
The function must run with reserved concurrency 1 (the state store relies on it) and a timeout of
at least CUTOVER_MAX_PAUSE_SECONDS + 30.

Events (JSON objects; an optional "reason" string of at most 256 characters with canary and flip):
    {"action": "status"}                               state, weights, write rule, task statuses
    {"action": "canary", "target_weight": 0..100}      the `new` weight (legacy gets 100 - it)
    {"action": "canary", "step": -100..100}            change of the `new` weight, clamped to 0..100
    {"target_weight": N} / {"step": N}                 the same as canary (the shifter's old events)
    {"action": "flip"}                                 legacy -> Aurora, or resume an interrupted flip

Canary steps move reads only, and only while legacy is the writer. An increase needs the latest
readiness datapoint = 1, no critical alarm and the forward task running; decreases are always
allowed. The flip's guards and steps are in docs/cutover.md (cutover_flow.Cutover.flip).

Responses:
    {"ok": true, "action": ..., ...}                            done (or nothing to do: "changed": false)
    {"ok": false, "error": str}                                 bad event
    {"ok": false, "refused": true, "error": str, "reasons": [str]}   not allowed now; nothing changed
    {"ok": false, "action": "flip", "aborted": true, "error": str, ...}  the pause ran out: legacy is
                                                                 still the writer and takes writes again
Everything else (AWS errors after botocore's retries, a configuration error, another invocation
changing the state) is raised: Lambda retries asynchronous invocations, then the dead-letter topic
gets the event and the function's -errors alarm fires.
"""

import logging

from cutover_flow import BadRequest, Cutover, Refused, SystemClock, answers_bad_requests
from lambda_support import handler_toolkit, invocation_logging

TOTAL_WEIGHT = 100
MAX_STEP = 100
MAX_REASON_LENGTH = 256
ACTIONS = ("status", "canary", "flip")
ACTION_KEYS = {
    "status": frozenset({"action"}),
    "canary": frozenset({"action", "target_weight", "step", "reason"}),
    "flip": frozenset({"action", "reason"}),
}
# boto3 loads lazily with the first client: bad requests are answered without paying for it.
LOGGER, log, aws_client = handler_toolkit("traffic_shifter", retries={"mode": "standard", "max_attempts": 5})
_clients = aws_client.cache  # tests may pre-fill it
clock = SystemClock()  # tests may replace it


# --------------------------------------------------------------------------- input
def is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def parse_request(event):
    """The validated request: {"action": ..., plus target_weight|step and reason where they apply}."""
    if not isinstance(event, dict):
        raise BadRequest("event must be a JSON object")
    action = event.get("action", "canary")
    if action not in ACTIONS:
        raise BadRequest(f"action must be one of {', '.join(ACTIONS)}")
    unknown = sorted(str(key)[:64] for key in set(event) - ACTION_KEYS[action])
    if unknown:
        raise BadRequest(f"unknown event key(s) for {action}: {', '.join(unknown)}")
    request = {"action": action}
    if action == "canary":
        request.update(parse_weight_change(event))
    if "reason" in event:
        reason = event["reason"]
        if not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH:
            raise BadRequest(f"reason must be a string of at most {MAX_REASON_LENGTH} characters")
        request["reason"] = reason
    return request


def parse_weight_change(event):
    given = [key for key in ("target_weight", "step") if key in event]
    if len(given) != 1:
        raise BadRequest("exactly one of target_weight or step is required")
    key = given[0]
    value = event[key]
    low, high = (0, TOTAL_WEIGHT) if key == "target_weight" else (-MAX_STEP, MAX_STEP)
    if not is_integer(value):
        raise BadRequest(f"{key} must be an integer between {low} and {high}")
    if not low <= value <= high:
        raise BadRequest(f"{key} must be between {low} and {high}, got {value}")
    return {key: value}


# --------------------------------------------------------------------------- entry point
def drive(request, context):
    cutover = Cutover.for_invocation(context, aws_client=aws_client, clock=clock, log=log)
    if request["action"] == "status":
        return cutover.status()
    if request["action"] == "canary":
        return cutover.canary(request)
    return cutover.flip(request.get("reason"))


@invocation_logging(log)
@answers_bad_requests(log, level=logging.WARNING, message="bad request")
def handler(event, context):
    request = parse_request(event)
    try:
        result = drive(request, context)
    except Refused as error:
        log(logging.WARNING, "request refused", action=request["action"], reasons=error.reasons)
        return error.answer(request["action"])
    log(
        logging.INFO,
        "request done",
        action=request["action"],
        ok=result["ok"],
        changed=result.get("changed"),
        aborted=result.get("aborted"),
    )
    return result
