"""The cutover's state: which database is the writer, and which step of a flip or rollback is under way.

One SSM parameter per stack (CUTOVER_STATE_PARAMETER, created by Terraform with the first state and
then owned by the cutover) holds it as JSON. The payment API's write gate reads it before every write
(cached at most CACHE_SECONDS); only the cutover driver (traffic_shifter) and rollback change it,
through cutover_store.StateStore (which also says how two invocations never both make a transition).
This module is the format only: the payment API's write gate imports it without the store.
docs/cutover.md describes the phases.

State (JSON object):
    v              format version (1)
    seq            number of the last transition (the history id)
    phase          legacy-writer | aurora-writer | pausing | draining | switching | aborting
    direction      null in the two writer phases, else "flip" (legacy -> Aurora) or "rollback"
    writer         "legacy" or "aurora": the database that is the writer of record
    since          ISO-8601 UTC time of the transition
    paused_at      ISO-8601 UTC start of the last pause of writes (a flip or rollback), else null
    deadline       ISO-8601 UTC end of the bounded pause while a flip or rollback pauses writes, else null
    flip_lsn       Aurora's WAL position at the last flip (the reverse task starts there), else null
    rollback_lsn   Aurora's WAL position once writes were fenced for a rollback, else null
    reverse        "pending" until the reverse task is started after a flip, then "started"; else null
    forward        "running" (or unknown) | "stopped-by-rollback" (reload it before the next flip)
    dns_new_weight the `new` record weight the cutover last set (null: never set by the cutover)
    dns_since      when it set that weight
    by             {"function": name, "request_id": id} of the invocation that made the transition
    reason         free text given with the request that started the phase, else null
"""

import json
from datetime import UTC, datetime

STATE_VERSION = 1
LEGACY_WRITER = "legacy-writer"
AURORA_WRITER = "aurora-writer"
PAUSING, DRAINING, SWITCHING, ABORTING = "pausing", "draining", "switching", "aborting"
WRITER_PHASES = (LEGACY_WRITER, AURORA_WRITER)
PHASES = WRITER_PHASES + (PAUSING, DRAINING, SWITCHING, ABORTING)
FLIP, ROLLBACK = "flip", "rollback"
WRITERS = ("legacy", "aurora")

# The payment API caches the state this long; the cutover waits this long after pausing writes
# before it assumes no API container still acts on the state from before.
CACHE_SECONDS = 1.0
RETRY_AFTER_SECONDS = 2
PAUSED_REASON = "writes paused for cutover, retry"
NOT_WRITER_REASON = "writes are not accepted here while the legacy system is the writer, retry"
UNKNOWN_REASON = "cutover state unavailable, retry"


class StateError(Exception):
    """The parameter is missing or does not hold a valid state."""


# --------------------------------------------------------------------------- format
def utc_iso(moment):
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def writer_phase(writer):
    """The phase in which `writer` ("legacy" or "aurora") takes writes and nothing is under way."""
    return LEGACY_WRITER if writer == "legacy" else AURORA_WRITER


def initial_state(writer, moment):
    """The state Terraform creates the parameter with: legacy is the writer when a legacy system
    exists, else Aurora."""
    if writer not in WRITERS:
        raise ValueError(f"writer must be one of {', '.join(WRITERS)}")
    return {
        "v": STATE_VERSION,
        "seq": 0,
        "phase": writer_phase(writer),
        "direction": None,
        "writer": writer,
        "since": utc_iso(moment),
        "paused_at": None,
        "deadline": None,
        "flip_lsn": None,
        "rollback_lsn": None,
        "reverse": None,
        "forward": None,
        "dns_new_weight": None,
        "dns_since": None,
        "by": {"function": "terraform", "request_id": None},
        "reason": None,
    }


def render(state):
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


def parse(text):
    """The state in `text`, checked; StateError names what is wrong."""
    try:
        state = json.loads(text)
    except (TypeError, ValueError):
        raise StateError("the cutover state is not JSON") from None
    if not isinstance(state, dict):
        raise StateError("the cutover state is not a JSON object")
    problems = []
    if state.get("v") != STATE_VERSION:
        problems.append(f"v must be {STATE_VERSION}")
    seq = state.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        problems.append("seq must be a whole number >= 0")
    if state.get("phase") not in PHASES:
        problems.append(f"phase must be one of {', '.join(PHASES)}")
    if state.get("writer") not in WRITERS:
        problems.append(f"writer must be one of {', '.join(WRITERS)}")
    if state.get("phase") in WRITER_PHASES:
        if state.get("direction") is not None:
            problems.append("direction must be null in a writer phase")
        elif (state["phase"] == LEGACY_WRITER) != (state.get("writer") == "legacy"):
            problems.append("writer does not match the phase")
    elif state.get("direction") not in (FLIP, ROLLBACK):
        problems.append("direction must be flip or rollback while one is under way")
    for key in ("since", "paused_at", "deadline", "dns_since"):
        try:
            parse_time(state.get(key))
        except (TypeError, ValueError, AttributeError):
            problems.append(f"{key} must be an ISO-8601 time or null")
    if problems:
        raise StateError("invalid cutover state: " + "; ".join(problems))
    return state


def accepts_writes(state):
    """True only while Aurora is the writer and no rollback pauses writes."""
    return state["phase"] == AURORA_WRITER and state["writer"] == "aurora"


def refusal_reason(state):
    """Why the payment API must answer a write with 503 + Retry-After in this state."""
    return NOT_WRITER_REASON if state["phase"] == LEGACY_WRITER else PAUSED_REASON


def in_progress(state):
    return state["phase"] not in WRITER_PHASES
