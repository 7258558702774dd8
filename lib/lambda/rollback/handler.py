"""Rollback: sends all traffic back to the legacy stack (new weight 0, legacy weight 100).

Environment:
    HOSTED_ZONE_ID          hosted zone holding the weighted records
    RECORD_NAME             record name, e.g. api.example.com (trailing dot optional)
    NEW_SET_IDENTIFIER      optional, default "new"
    LEGACY_SET_IDENTIFIER   optional, default "legacy"
    LOG_LEVEL               optional, default INFO

Events:
    {} or {"reason": "<string, at most 256 characters>"}        manual invocation
    {"Records": [{"Sns": {"Message": "...", "Subject": ...}}]}   SNS (e.g. a CloudWatch alarm)

For SNS events the alarm name (AlarmName in a CloudWatch alarm message) is logged. When
every message is a CloudWatch alarm notification whose NewStateValue is not ALARM (for
example an OK transition) nothing is changed. Anything else in the SNS message rolls back.

Responses:
    {"ok": true, "changed": true, "before": {"new": w, "legacy": w}, "after": {"new": 0, "legacy": 100},
     "change_id": str, "change_status": str, "trigger": {...}, "warnings": [str]}
    {"ok": true, "changed": false, "before": ..., "after": ..., "change_id": null,
     "message": "already rolled back", "trigger": {...}, "warnings": [...]}
    {"ok": true, "changed": false, "message": "ignored: ...", "trigger": {...}}
    {"ok": false, "error": str}          bad event, configuration, missing legacy record, AWS error

w is an int, or {record type: int} when the set's record types carry different weights.
All new and legacy records (every record type) are UPSERTed in a single change batch that
only changes Weight. A missing new record is tolerated (legacy already gets everything).
No exception escapes the handler; Route53 calls are retried by botocore (standard mode).
"""

import json
import logging
import os

from botocore.exceptions import BotoCoreError, ClientError

from lambda_support import error_code, handler_toolkit, invocation_logging, require_environment
from route53_weights import list_records_by_set, submit_changes, weight_upserts, weighted_record_config

ROLLED_BACK = {"new": 0, "legacy": 100}
MAX_REASON_LENGTH = 256
# boto3 loads lazily with the first client: bad requests are answered without paying for it.
LOGGER, log, aws_client = handler_toolkit("rollback", retries={"mode": "standard", "max_attempts": 8})
_clients = aws_client.cache  # tests may pre-fill it


class RollbackError(Exception):
    """A refusal with a clear, client-safe reason."""


# --------------------------------------------------------------------------- input
def load_config():
    require_environment(("HOSTED_ZONE_ID", "RECORD_NAME"), RollbackError, "configuration error: ")
    try:
        return weighted_record_config(os.environ)
    except ValueError as error:
        raise RollbackError(f"configuration error: {error}") from None


def parse_sns_message(sns):
    """{"alarm": name|None, "state": NewStateValue|None, "subject": str|None} for one SNS record."""
    message = sns.get("Message")
    if not isinstance(message, str):
        raise RollbackError("each Records[].Sns must contain a string Message")
    subject = sns.get("Subject") if isinstance(sns.get("Subject"), str) else None
    try:
        body = json.loads(message)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("AlarmName"), str):
        state = body.get("NewStateValue")
        return {"alarm": body["AlarmName"], "state": state if isinstance(state, str) else None,
                "subject": subject}
    return {"alarm": None, "state": None, "subject": subject}


def parse_trigger(event):
    """Validates the event; returns a description of what triggered the rollback."""
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise RollbackError("event must be a JSON object")
    if "Records" in event:
        records = event["Records"]
        if set(event) != {"Records"} or not isinstance(records, list) or not records:
            raise RollbackError("an SNS event must be {\"Records\": [...]} with at least one record")
        if not all(isinstance(r, dict) and isinstance(r.get("Sns"), dict) for r in records):
            raise RollbackError("every Records[] entry must contain an Sns object")
        messages = [parse_sns_message(record["Sns"]) for record in records]
        return {"source": "sns", "messages": messages}
    unknown = sorted(str(key)[:64] for key in set(event) - {"reason"})
    if unknown:
        raise RollbackError(f"unknown event key(s): {', '.join(unknown)}; "
                            'expected {} or {"reason": "..."}')
    reason = event.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH):
        raise RollbackError(f"reason must be a string of at most {MAX_REASON_LENGTH} characters")
    return {"source": "manual", "reason": reason}


def is_non_alarm_notification(trigger):
    """True when every SNS message is an alarm notification in a state other than ALARM."""
    if trigger["source"] != "sns":
        return False
    return all(m["alarm"] is not None and m["state"] not in (None, "ALARM")
               for m in trigger["messages"])


# --------------------------------------------------------------------------- Route53
def summarize_weights(records):
    """One weight when all record types agree, else {type: weight}; None without records."""
    if not records:
        return None
    weights = {record["Type"]: record.get("Weight") for record in records}
    distinct = set(weights.values())
    return distinct.pop() if len(distinct) == 1 else dict(sorted(weights.items()))


def type_warnings(new_records, legacy_records):
    legacy_types = {record["Type"] for record in legacy_records}
    return [
        f"new has a {record['Type']} record without a legacy counterpart; "
        f"{record['Type']} queries cannot be served by legacy"
        for record in new_records if record["Type"] not in legacy_types
    ]


def pending_changes(new_records, legacy_records):
    """The UPSERTs needed to reach new 0 / legacy 100 (records already there are skipped)."""
    return weight_upserts(((new_records, ROLLED_BACK["new"]), (legacy_records, ROLLED_BACK["legacy"])),
                          skip_unchanged=True)


def describe_trigger(trigger):
    if trigger["source"] == "manual":
        return trigger["reason"] or "manual rollback"
    names = [m["alarm"] or m["subject"] or "SNS message" for m in trigger["messages"]]
    return "alarm: " + ", ".join(names)


# --------------------------------------------------------------------------- entry point
def roll_back(event):
    trigger = parse_trigger(event)
    log(logging.WARNING, "rollback requested", source=trigger["source"],
        alarm_names=[m["alarm"] for m in trigger.get("messages", []) if m["alarm"]],
        trigger=describe_trigger(trigger))
    if is_non_alarm_notification(trigger):
        states = sorted({m["state"] for m in trigger["messages"]})
        return {"ok": True, "changed": False, "trigger": trigger,
                "message": f"ignored: alarm notification state is {', '.join(states)}, not ALARM"}
    config = load_config()
    new_records, legacy_records = list_records_by_set(aws_client("route53"), config)
    if not legacy_records:
        raise RollbackError(f"legacy record {config['record_name']} "
                            f"(set identifier {config['legacy_id']!r}) not found")
    before = {"new": summarize_weights(new_records), "legacy": summarize_weights(legacy_records)}
    after = {"new": ROLLED_BACK["new"] if new_records else None, "legacy": ROLLED_BACK["legacy"]}
    warnings = type_warnings(new_records, legacy_records)
    changes = pending_changes(new_records, legacy_records)
    if not changes:
        log(logging.INFO, "already rolled back", before=before)
        return {"ok": True, "changed": False, "before": before, "after": after, "change_id": None,
                "message": "already rolled back", "trigger": trigger, "warnings": warnings}
    change = submit_changes(aws_client("route53"), config["zone_id"], changes,
                            f"rollback to legacy: {describe_trigger(trigger)}")
    log(logging.WARNING, "rolled back to legacy", before=before, after=after,
        change_id=change["Id"], warnings=warnings)
    return {"ok": True, "changed": True, "before": before, "after": after,
            "change_id": change["Id"], "change_status": change.get("Status"),
            "trigger": trigger, "warnings": warnings}


@invocation_logging(log)
def handler(event, context):
    try:
        return roll_back(event)
    except RollbackError as error:
        log(logging.ERROR, "rollback rejected", error=str(error))
        return {"ok": False, "error": str(error)}
    except (ClientError, BotoCoreError) as error:
        log(logging.ERROR, "rollback failed: aws request failed", error_code=error_code(error),
            error=str(error))
        return {"ok": False, "error": f"AWS request failed ({error_code(error)})"}
    except Exception:
        log(logging.ERROR, "rollback failed: unexpected error", exc_info=True)
        return {"ok": False, "error": "internal error"}
