"""Answers an SDK's retry of a request the emulator already carried out with the first answer.

AWS SDKs retry a request whose answer they did not get (a connection reset or cut short). Every attempt
carries the same `amz-sdk-invocation-id` and its number in `amz-sdk-request: attempt=N`. On a busy 2-core
machine the emulator's answer can be lost after moto has carried the request out; the retry then creates
a second subnet or alias ("InvalidSubnet.Conflict", "AlreadyExistsException") that AWS, which answers on
a server-side path that does not drop answers, would not see. So a retry whose first attempt was
answered gets that answer again, and the emulator's log says so. Nothing else changes: a request without
those headers, or a first attempt, goes to moto as before.
"""

from __future__ import annotations

import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

REMEMBERED_ANSWERS = 512
IN_FLIGHT_WAIT_SECONDS = 300.0  # a retry that arrives while its first attempt still runs waits for its answer
_ATTEMPT = re.compile(r"(?:^|;)\s*attempt=(\d+)")


def attempt_number(environ: dict[str, Any]) -> int | None:
    match = _ATTEMPT.search(environ.get("HTTP_AMZ_SDK_REQUEST", ""))
    return int(match.group(1)) if match else None


class RetryReplay:
    """WSGI middleware: remembers the last REMEMBERED_ANSWERS answers by SDK invocation id."""

    def __init__(self, app: Callable[..., Iterable[bytes]], log: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.log = log or (lambda message: print(message, file=sys.stderr, flush=True))
        self._answers: OrderedDict[str, tuple[str, list[tuple[str, str]], bytes]] = OrderedDict()
        self._in_flight: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        attempt = attempt_number(environ)
        if not invocation or attempt is None or environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return self.app(environ, start_response)
        if attempt > 1:
            with self._lock:
                running = self._in_flight.get(invocation)
            if running is not None:
                running.wait(IN_FLIGHT_WAIT_SECONDS)
            with self._lock:
                answered = self._answers.get(invocation)
            if answered is not None:
                status, headers, body = answered
                self.log(f"replayed the earlier answer for attempt {attempt} of {invocation} ({status})")
                start_response(status, headers)
                return [body]
        mine = threading.Event()
        with self._lock:
            self._in_flight[invocation] = mine
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, list(headers)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            chunks = self.app(environ, capture)
            try:
                body = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            with self._lock:
                self._answers[invocation] = (captured["status"], captured["headers"], body)
                while len(self._answers) > REMEMBERED_ANSWERS:
                    self._answers.popitem(last=False)
        finally:
            with self._lock:
                if self._in_flight.get(invocation) is mine:
                    del self._in_flight[invocation]
            mine.set()
        return [body]
