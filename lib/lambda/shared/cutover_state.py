"""The cutover's state: which database is the writer, and which step of a flip or rollback is under way.

One SSM parameter per stack (CUTOVER_STATE_PARAMETER, created by Terraform with the first state and
then owned by the cutover) holds it as JSON. The payment API's write gate reads it before every write
(cached at most CACHE_SECONDS); only the cutover driver (traffic_shifter) and rollback change it,
through `StateStore.transition`. docs/cutover.md describes the phases.

Parameter Store has no conditional update (PutParameter either overwrites or creates only when the
name is free), so each transition first CLAIMS its sequence number by creating the parameter
`<name>-claim-<seq>` with Overwrite=False: SSM lets exactly one caller create a name, so two
invocations that both read seq N cannot both move to N+1 (the loser gets StateConflict). The winner
then checks that the head is still N, overwrites the head with the new state and deletes the claim
(and the one before, in case its maker died right after publishing).
A claim left behind by an invocation that died between claim and publish is rolled forward by the
next reader: at once when it was made by the reader's own function (each cutover function runs with
reserved concurrency 1, so an earlier invocation of it has ended), otherwise only after
`takeover_after` seconds (at least the other function's timeout); until then readers get StateBusy.

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
from datetime import datetime, timezone

from botocore.exceptions import ClientError

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

MAX_REASON_LENGTH = 256
CLAIM_DIGITS = 9
MAX_READ_ROUNDS = 5


class StateError(Exception):
    """The parameter is missing or does not hold a valid state."""


class StateConflict(Exception):
    """Another invocation changed the state first; read it again before deciding anything."""


class StateBusy(Exception):
    """Another invocation is in the middle of a transition; retry later."""


# --------------------------------------------------------------------------- format
def utc_iso(moment):
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def initial_state(writer, moment):
    """The state Terraform creates the parameter with: legacy is the writer when a legacy system
    exists, else Aurora."""
    if writer not in WRITERS:
        raise ValueError(f"writer must be one of {', '.join(WRITERS)}")
    return {"v": STATE_VERSION, "seq": 0, "phase": LEGACY_WRITER if writer == "legacy" else AURORA_WRITER,
            "direction": None, "writer": writer, "since": utc_iso(moment), "paused_at": None, "deadline": None, "flip_lsn": None,
            "rollback_lsn": None, "reverse": None, "forward": None, "dns_new_weight": None, "dns_since": None,
            "by": {"function": "terraform", "request_id": None}, "reason": None}


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


# --------------------------------------------------------------------------- SSM
def _error_code(error):
    return error.response.get("Error", {}).get("Code")


class StateStore:
    """Reads and changes the state parameter; see the module docstring for the claim protocol.

    `owner` is {"function": name, "request_id": id} of this invocation; `now` returns an aware
    datetime.
    """

    def __init__(self, ssm, name, *, owner, now, takeover_after):
        self.ssm = ssm
        self.name = name
        self.owner = owner
        self.now = now
        self.takeover_after = takeover_after

    def claim_name(self, seq):
        return f"{self.name}-claim-{seq:0{CLAIM_DIGITS}d}"

    def _get(self, name):
        """The parameter's state, or None when it does not exist."""
        try:
            value = self.ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as error:
            if _error_code(error) == "ParameterNotFound":
                return None
            raise
        return parse(value)

    def head(self):
        state = self._get(self.name)
        if state is None:
            raise StateError(f"the cutover state parameter {self.name} does not exist")
        return state

    def read(self):
        """The current state, after rolling forward a transition that was claimed but not published."""
        for _ in range(MAX_READ_ROUNDS):
            state = self.head()
            published, pending = self.claim_name(state["seq"]), self.claim_name(state["seq"] + 1)
            claims = {p["Name"]: p["Value"] for p in self.ssm.get_parameters(Names=[published, pending])["Parameters"]}
            if published in claims:  # its maker died between publishing and deleting it
                self._delete(published)
            if pending not in claims:
                return state
            pending = parse(claims[pending])
            if not self._may_complete(pending):
                raise StateBusy(f"{pending['by'].get('function')} (request {pending['by'].get('request_id')}) "
                                f"is moving the cutover to {pending['phase']} since {pending['since']}")
            self._publish(pending)
        raise StateBusy("the cutover state kept changing while it was read")

    def _may_complete(self, pending):
        if pending["by"].get("function") == self.owner["function"]:
            return True  # an earlier invocation of this function: reserved concurrency 1 says it has ended
        age = (self.now() - parse_time(pending["since"])).total_seconds()
        return age >= self.takeover_after

    def transition(self, current, **changes):
        """Moves from `current` (as read) to current + changes; StateConflict when another
        invocation moved first. Returns the new state."""
        state = {**current, **changes, "seq": current["seq"] + 1, "since": utc_iso(self.now()),
                 "by": dict(self.owner)}
        text = render(parse(render(state)))  # never write a state readers would refuse
        claim = self.claim_name(state["seq"])
        try:
            self.ssm.put_parameter(Name=claim, Value=text, Type="String", Overwrite=False,
                                   Description="cutover transition claim (deleted once published)")
        except ClientError as error:
            if _error_code(error) == "ParameterAlreadyExists":
                raise StateConflict(f"another invocation claimed transition {state['seq']} first") from None
            raise
        if self.head()["seq"] != current["seq"]:
            self._delete(claim)
            raise StateConflict(f"the state moved past {current['seq']} while transition {state['seq']} "
                                "was being claimed")
        self._publish(state)
        return state

    def _publish(self, state):
        self.ssm.put_parameter(Name=self.name, Value=render(state), Type="String", Overwrite=True)
        # Also the claim before it, left behind when an invocation died right after publishing.
        self._delete(*(self.claim_name(seq) for seq in (state["seq"], state["seq"] - 1) if seq > 0))

    def _delete(self, *names):
        self.ssm.delete_parameters(Names=list(names))  # missing names are reported, not raised
