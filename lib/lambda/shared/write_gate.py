"""The payment API's write gate for the cutover: write only while Aurora is the writer.

The payment API calls every entry of its WRITE_GATES before a write; `WriterGate` is one of
them. It reads the cutover state (cutover_state, the SSM parameter CUTOVER_STATE_PARAMETER),
keeps it for at most CACHE_SECONDS, and raises the API's "writes paused" error (answered
503 + Retry-After) unless the state accepts writes: while the legacy system is the writer, while
a flip or rollback pauses writes, and whenever the state cannot be read or is not valid (fail
closed: a write that cannot be placed is refused with a retriable answer, never guessed).

lib/lambda/payment_api/handler.py appends one to WRITE_GATES when CUTOVER_STATE_PARAMETER is set;
its WritesPaused takes (reason, retry_after_seconds). The gate's own SSM client has short timeouts:
a slow Parameter Store makes a write wait about 4 s at most (two tries of 1 s connect + 1 s read),
then the write is answered 503 + Retry-After.
"""

import time

from botocore.exceptions import BotoCoreError, ClientError

import cutover_state
from lambda_support import ClientCache

# Parameter Store answers in milliseconds; a write does not wait long for it (then 503 + Retry-After).
GATE_CLIENT_OPTIONS = {"connect_timeout": 1, "read_timeout": 1, "retries": {"mode": "standard", "max_attempts": 2}}
aws_client = ClientCache(GATE_CLIENT_OPTIONS)  # the gate's own clients


class WriterGate:
    """Callable without arguments; raises paused_error(reason, retry_after_seconds) to refuse a write.

    `ssm` returns the SSM client (called on each refresh, so boto3 loads only with the first write;
    default: a client with short timeouts); `monotonic` is the clock the cache ages by.
    """

    def __init__(
        self,
        *,
        parameter_name,
        paused_error,
        ssm=lambda: aws_client("ssm"),
        monotonic=time.monotonic,
        cache_seconds=cutover_state.CACHE_SECONDS,
    ):
        if not 0 < cache_seconds <= cutover_state.CACHE_SECONDS:
            # The cutover waits CACHE_SECONDS after pausing: a longer cache would let writes through.
            raise ValueError(f"cache_seconds must be > 0 and <= {cutover_state.CACHE_SECONDS}")
        self.parameter_name = parameter_name
        self.ssm = ssm
        self.paused_error = paused_error
        self.monotonic = monotonic
        self.cache_seconds = cache_seconds
        self._state = None
        self._read_at = None

    def current_state(self):
        """The cached state when younger than cache_seconds, else a fresh read; None when unreadable."""
        now = self.monotonic()
        if self._read_at is not None and now - self._read_at < self.cache_seconds:
            return self._state
        try:
            value = self.ssm().get_parameter(Name=self.parameter_name)["Parameter"]["Value"]
            state = cutover_state.parse(value)
        except (ClientError, BotoCoreError, cutover_state.StateError):
            state = None  # not cached: the next write tries again
        else:
            self._state, self._read_at = state, now
        return state

    def __call__(self):
        state = self.current_state()
        if state is None:
            raise self.paused_error(cutover_state.UNKNOWN_REASON, cutover_state.RETRY_AFTER_SECONDS)
        if not cutover_state.accepts_writes(state):
            raise self.paused_error(cutover_state.refusal_reason(state), cutover_state.RETRY_AFTER_SECONDS)
