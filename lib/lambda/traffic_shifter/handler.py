"""Traffic shifter: moves weighted Route53 traffic between the new (ALB) and legacy stacks.

Environment:
    HOSTED_ZONE_ID              hosted zone holding the weighted records
    RECORD_NAME                 record name, e.g. api.example.com (trailing dot optional)
    NEW_SET_IDENTIFIER          optional, default "new"
    LEGACY_SET_IDENTIFIER       optional, default "legacy"
    CRITICAL_ALARM_PREFIX       alarms whose name starts with this block increases
    METRIC_NAMESPACE            namespace of the readiness metric
    READY_METRIC_NAME           name of the readiness metric (1 = ready, 0 = not)
    READINESS_MAX_AGE_SECONDS   optional, default 900 (60..86400)
    LOG_LEVEL                   optional, default INFO

Event (exactly one of target_weight / step, both integers; JSON booleans and floats are
rejected; no other keys except an optional "reason" string of at most 256 characters):
    {"target_weight": 0..100}    new weight to set (legacy = 100 - new)
    {"step": -100..100}          change of the new weight, clamped to 0..100

Weights are percentages: the new record gets W, the legacy record 100 - W.

Responses:
    {"ok": true, "changed": true, "before": {"new": int, "legacy": int},
     "after": {"new": int, "legacy": int}, "change_id": str, "change_status": str}
    {"ok": true, "changed": false, "before": ..., "after": ..., "change_id": null,
     "message": "weights already at the requested values"}
    {"ok": false, "error": str}                                  bad event / config / records / AWS
    {"ok": false, "error": str, "reasons": [str], "before": ..., "after": ...}  increase refused

An increase of the new share is refused unless the latest READY_METRIC_NAME datapoint in
METRIC_NAMESPACE within READINESS_MAX_AGE_SECONDS is 1 (missing data refuses) and no
alarm named CRITICAL_ALARM_PREFIX* is in ALARM. Decreases are always allowed. Both
records (every record type present under both set identifiers) are UPSERTed in a single
change batch that only changes Weight. No exception escapes the handler.
"""

import logging
import os
from datetime import datetime, timedelta, timezone

from botocore.exceptions import BotoCoreError, ClientError

from lambda_support import error_code, handler_toolkit, invocation_logging, require_environment
from route53_weights import list_records_by_set, submit_changes, weight_upserts, weighted_record_config

TOTAL_WEIGHT = 100
MAX_STEP = 100
MAX_REASON_LENGTH = 256
ALLOWED_EVENT_KEYS = frozenset({"target_weight", "step", "reason"})
# boto3 loads lazily with the first client: bad requests are answered without paying for it.
LOGGER, log, aws_client = handler_toolkit("traffic_shifter", retries={"mode": "standard", "max_attempts": 5})
_clients = aws_client.cache  # tests may pre-fill it


# --------------------------------------------------------------------------- errors
class ShiftError(Exception):
    """A refusal with a clear, client-safe reason."""


# --------------------------------------------------------------------------- input
def load_config():
    require_environment(("HOSTED_ZONE_ID", "RECORD_NAME", "CRITICAL_ALARM_PREFIX", "METRIC_NAMESPACE",
                         "READY_METRIC_NAME"), ShiftError, "configuration error: ")
    raw_age = os.environ.get("READINESS_MAX_AGE_SECONDS") or "900"
    if not raw_age.isdigit() or not 60 <= int(raw_age) <= 86400:
        raise ShiftError("configuration error: READINESS_MAX_AGE_SECONDS must be an integer 60..86400")
    try:
        records = weighted_record_config(os.environ)
    except ValueError as error:
        raise ShiftError(f"configuration error: {error}") from None
    return {
        **records,
        "alarm_prefix": os.environ["CRITICAL_ALARM_PREFIX"],
        "namespace": os.environ["METRIC_NAMESPACE"],
        "metric_name": os.environ["READY_METRIC_NAME"],
        "max_age": int(raw_age),
    }


def is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def parse_request(event):
    """Validates the event; returns {"target_weight"| "step": int, "reason": str|None}."""
    if not isinstance(event, dict):
        raise ShiftError("event must be a JSON object")
    unknown = sorted(str(key)[:64] for key in set(event) - ALLOWED_EVENT_KEYS)
    if unknown:
        raise ShiftError(f"unknown event key(s): {', '.join(unknown)}; "
                         "expected exactly one of target_weight or step")
    given = [key for key in ("target_weight", "step") if key in event]
    if len(given) != 1:
        raise ShiftError("exactly one of target_weight or step is required")
    key = given[0]
    value = event[key]
    low, high = (0, TOTAL_WEIGHT) if key == "target_weight" else (-MAX_STEP, MAX_STEP)
    if not is_integer(value):
        raise ShiftError(f"{key} must be an integer between {low} and {high}")
    if not low <= value <= high:
        raise ShiftError(f"{key} must be between {low} and {high}, got {value}")
    reason = event.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH):
        raise ShiftError(f"reason must be a string of at most {MAX_REASON_LENGTH} characters")
    return {key: value, "reason": reason}


# --------------------------------------------------------------------------- Route53 records
def set_weight(records, what):
    """The single weight shared by a set's records (one per record type)."""
    weights = {record.get("Weight") for record in records}
    if len(weights) != 1 or None in weights:
        raise ShiftError(f"{what} records have inconsistent or missing weights: {sorted(map(str, weights))}")
    return weights.pop()


def weighted_records(config):
    """Returns (new records, legacy records, {"new": w, "legacy": w}) after consistency checks."""
    new_records, legacy_records = list_records_by_set(aws_client("route53"), config)
    name = config["record_name"]
    if not legacy_records:
        raise ShiftError(f"legacy record {name} (set identifier {config['legacy_id']!r}) not found")
    if not new_records:
        raise ShiftError(f"new record {name} (set identifier {config['new_id']!r}) not found")
    new_types = sorted(record["Type"] for record in new_records)
    legacy_types = sorted(record["Type"] for record in legacy_records)
    if new_types != legacy_types:
        raise ShiftError(f"record types differ between new {new_types} and legacy {legacy_types}")
    weights = {"new": set_weight(new_records, "new"), "legacy": set_weight(legacy_records, "legacy")}
    return new_records, legacy_records, weights


def new_share(weights):
    """Fraction of traffic served by new; Route53 splits evenly when all weights are 0."""
    total = weights["new"] + weights["legacy"]
    return 0.5 if total == 0 else weights["new"] / total


def target_weights(request, before):
    if "target_weight" in request:
        new_weight = request["target_weight"]
    else:
        new_weight = min(TOTAL_WEIGHT, max(0, before["new"] + request["step"]))
    return {"new": new_weight, "legacy": TOTAL_WEIGHT - new_weight}


def change_weights(config, new_records, legacy_records, after, comment):
    """UPSERTs every record of both sets in ONE change batch; only Weight changes."""
    changes = weight_upserts(((new_records, after["new"]), (legacy_records, after["legacy"])))
    return submit_changes(aws_client("route53"), config["zone_id"], changes, comment)


# --------------------------------------------------------------------------- safety gates
def readiness_problems(config, now):
    response = aws_client("cloudwatch").get_metric_statistics(
        Namespace=config["namespace"],
        MetricName=config["metric_name"],
        StartTime=now - timedelta(seconds=config["max_age"]),
        EndTime=now,
        Period=60,
        Statistics=["Minimum"],
    )
    datapoints = response.get("Datapoints", [])
    if not datapoints:
        return [f"no {config['metric_name']} datapoint in {config['namespace']} within the last "
                f"{config['max_age']} seconds"]
    latest = max(datapoints, key=lambda point: point["Timestamp"])
    if latest["Minimum"] != 1:
        return [f"latest {config['metric_name']} is {latest['Minimum']:g} "
                f"(at {latest['Timestamp'].isoformat()}), migration is not ready"]
    return []


def firing_critical_alarms(config):
    names, request = [], {"AlarmNamePrefix": config["alarm_prefix"], "StateValue": "ALARM",
                          "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
    while True:
        page = aws_client("cloudwatch").describe_alarms(**request)
        alarms = page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
        # StateValue is re-checked so that a server that ignores the filter cannot block.
        names += [alarm["AlarmName"] for alarm in alarms if alarm.get("StateValue") == "ALARM"]
        if not page.get("NextToken"):
            return names
        request["NextToken"] = page["NextToken"]


def increase_problems(config, now):
    problems = readiness_problems(config, now)
    alarms = firing_critical_alarms(config)
    if alarms:
        problems.append("critical alarm(s) in ALARM: " + ", ".join(sorted(alarms)))
    return problems


# --------------------------------------------------------------------------- entry point
def shift(event, now):
    request = parse_request(event)
    config = load_config()
    new_records, legacy_records, before = weighted_records(config)
    after = target_weights(request, before)
    if after == before:
        return {"ok": True, "changed": False, "before": before, "after": after,
                "change_id": None, "message": "weights already at the requested values"}
    if new_share(after) > new_share(before):
        problems = increase_problems(config, now)
        if problems:
            log(logging.WARNING, "increase refused", before=before, after=after, reasons=problems)
            return {"ok": False, "error": "increase refused: " + "; ".join(problems),
                    "reasons": problems, "before": before, "after": after}
    comment = f"traffic shift new {before['new']}->{after['new']}"
    if request["reason"]:
        comment += f": {request['reason']}"
    change = change_weights(config, new_records, legacy_records, after, comment)
    log(logging.INFO, "weights changed", before=before, after=after, change_id=change["Id"],
        reason=request["reason"])
    return {"ok": True, "changed": True, "before": before, "after": after,
            "change_id": change["Id"], "change_status": change.get("Status")}


@invocation_logging(log)
def handler(event, context):
    try:
        return shift(event, datetime.now(timezone.utc))
    except ShiftError as error:
        log(logging.WARNING, "shift rejected", error=str(error))
        return {"ok": False, "error": str(error)}
    except (ClientError, BotoCoreError) as error:
        log(logging.ERROR, "aws request failed", error_code=error_code(error), error=str(error))
        return {"ok": False, "error": f"AWS request failed ({error_code(error)})"}
    except Exception:
        log(logging.ERROR, "unexpected error", exc_info=True)
        return {"ok": False, "error": "internal error"}
