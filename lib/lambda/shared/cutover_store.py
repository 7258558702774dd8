"""The cutover state in SSM Parameter Store: read it, and move it one transition at a time.

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
The state's format is cutover_state's.
"""

from botocore.exceptions import ClientError

from cutover_state import StateError, parse, parse_time, render, utc_iso

CLAIM_DIGITS = 9
MAX_READ_ROUNDS = 5


class StateConflict(Exception):
    """Another invocation changed the state first; read it again before deciding anything."""


class StateBusy(Exception):
    """Another invocation is in the middle of a transition; retry later."""


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
                raise StateBusy(
                    f"{pending['by'].get('function')} (request {pending['by'].get('request_id')}) "
                    f"is moving the cutover to {pending['phase']} since {pending['since']}"
                )
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
        state = {**current, **changes, "seq": current["seq"] + 1, "since": utc_iso(self.now()), "by": dict(self.owner)}
        text = render(parse(render(state)))  # never write a state readers would refuse
        claim = self.claim_name(state["seq"])
        try:
            self.ssm.put_parameter(
                Name=claim,
                Value=text,
                Type="String",
                Overwrite=False,
                Description="cutover transition claim (deleted once published)",
            )
        except ClientError as error:
            if _error_code(error) == "ParameterAlreadyExists":
                raise StateConflict(f"another invocation claimed transition {state['seq']} first") from None
            raise
        if self.head()["seq"] != current["seq"]:
            self._delete(claim)
            raise StateConflict(
                f"the state moved past {current['seq']} while transition {state['seq']} was being claimed"
            )
        self._publish(state)
        return state

    def _publish(self, state):
        self.ssm.put_parameter(Name=self.name, Value=render(state), Type="String", Overwrite=True)
        # Also the claim before it, left behind when an invocation died right after publishing.
        self._delete(*(self.claim_name(seq) for seq in (state["seq"], state["seq"] - 1) if seq > 0))

    def _delete(self, *names):
        self.ssm.delete_parameters(Names=list(names))  # missing names are reported, not raised
