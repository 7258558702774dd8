"""A bounded load of payments, as careful clients send it: POSTs with idempotency keys, retries, GETs.

Each client (a thread) has its own resolver (resolver.py) and sends every request where its current DNS
answer points: the ALB (`local_api_url`) or the legacy stand-in. A POST carries a fresh Idempotency-Key
and is retried with the same key and body on `503` (after its Retry-After) and on connection errors,
until it is acknowledged (201, or 200 for a replay) or `give_up_after` seconds have passed. A GET reads a
payment the client was acknowledged earlier; a 404 is retried for a while too (a read canaried on Aurora
may not have replicated yet, docs/cutover.md). Anything else is a failure: it is counted, never retried.

Every attempt is recorded (time, path, method, status, latency) for the figures and the chart, and every
acknowledged payment goes into the ledger that the databases are compared with at the end.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.rehearsal.resolver import Resolver

MERCHANT_HEADER = "X-Merchant-Id"
CURRENCIES = ("EUR", "USD", "GBP")
REQUEST_TIMEOUT_SECONDS = 30.0
CONNECTION_RETRY_SECONDS = 0.2
NOT_FOUND_RETRY_SECONDS = 0.5
MAX_RETRY_AFTER_SECONDS = 5.0


@dataclass(frozen=True)
class Attempt:
    at: float  # seconds since the load started, when the answer came
    path: str  # "new" (the ALB) or "legacy" (the stand-in)
    method: str
    status: int  # 0: connection error
    latency: float
    retriable: bool


@dataclass(frozen=True)
class Acknowledged:
    merchant: str
    key: str
    amount: str
    currency: str
    payment_id: str
    first_sent: float
    acknowledged_at: float
    path: str  # where the acknowledging answer came from


@dataclass
class Outcome:
    """What a finished (or abandoned) request came to."""

    method: str
    ok: bool
    detail: str = ""


@dataclass
class LoadRecord:
    """Shared by every client thread; append-only while the load runs."""

    started: float = field(default_factory=time.monotonic)
    attempts: list[Attempt] = field(default_factory=list)
    ledger: list[Acknowledged] = field(default_factory=list)
    failures: list[Outcome] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.started

    def attempt(self, attempt: Attempt) -> None:
        with self.lock:
            self.attempts.append(attempt)

    def acknowledge(self, payment: Acknowledged) -> None:
        with self.lock:
            self.ledger.append(payment)

    def finish(self, outcome: Outcome) -> None:
        with self.lock:
            self.requests += 1
            if not outcome.ok:
                self.failures.append(outcome)

    def acknowledged_until(self, moment: float) -> list[Acknowledged]:
        with self.lock:
            return [payment for payment in self.ledger if payment.acknowledged_at <= moment]

    def random_payment(self, rng: random.Random) -> Acknowledged | None:
        with self.lock:
            return rng.choice(self.ledger) if self.ledger else None


def send(base_url: str, method: str, path: str, body: dict | None, headers: dict[str, str]) -> tuple[int, dict, dict]:
    """(status, lower-case headers, JSON body) of one HTTP request; OSError when the connection fails."""
    url = urllib.parse.urlsplit(base_url)
    if url.hostname is None:
        raise ValueError(f"no host in the URL {base_url!r}")
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        data = json.dumps(body).encode() if body is not None else None
        connection.request(
            method, url.path.rstrip("/") + path, body=data, headers={"Content-Type": "application/json", **headers}
        )
        response = connection.getresponse()
        raw = response.read()
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()
    try:
        document = json.loads(raw) if raw else {}
    except ValueError:
        document = {"error": raw[:200].decode("utf-8", "replace")}
    return response.status, answer_headers, document if isinstance(document, dict) else {}


def retry_after(headers: dict[str, str]) -> float | None:
    try:
        return min(MAX_RETRY_AFTER_SECONDS, max(0.0, float(headers["retry-after"])))
    except (KeyError, ValueError):
        return None


class Client:
    """One client: its merchant, its resolver, its random choices."""

    def __init__(
        self,
        *,
        index: int,
        record: LoadRecord,
        resolver: Resolver,
        give_up_after: float,
        read_share: float,
        stop: threading.Event,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self.merchant = f"rh-merchant-{index:02d}"
        self.record = record
        self.resolver = resolver
        self.give_up_after = give_up_after
        self.read_share = read_share
        self.rng = random.Random(1000 + index)
        self.stop = stop
        self.sleep = sleep

    def _call(self, method: str, path: str, body: dict | None, headers: dict[str, str]) -> tuple[str, int, dict, dict]:
        answer = self.resolver.resolve()
        sent = time.monotonic()
        try:
            status, answer_headers, document = send(
                answer.base_url, method, path, body, {MERCHANT_HEADER: self.merchant, **headers}
            )
        except OSError as error:
            self.record.attempt(
                Attempt(self.record.now(), answer.set_identifier, method, 0, time.monotonic() - sent, True)
            )
            return answer.set_identifier, 0, {}, {"error": str(error)}
        retriable = status == 503 and retry_after(answer_headers) is not None
        self.record.attempt(
            Attempt(self.record.now(), answer.set_identifier, method, status, time.monotonic() - sent, retriable)
        )
        return answer.set_identifier, status, answer_headers, document

    def post_payment(self) -> Outcome:
        key = f"rh-{uuid.uuid4()}"  # unique across runs on one database (a replay would hide a loss)
        currency = self.rng.choice(CURRENCIES)
        amount = f"{self.rng.randint(100, 999_999) / 100:.2f}"
        body = {"amount": amount, "currency": currency, "merchant_id": self.merchant}
        first_sent = self.record.now()
        while True:
            path, status, headers, document = self._call("POST", "/payments", body, {"Idempotency-Key": key})
            if status in (200, 201) and document.get("id"):
                self.record.acknowledge(
                    Acknowledged(
                        self.merchant, key, amount, currency, document["id"], first_sent, self.record.now(), path
                    )
                )
                return Outcome("POST", True)
            wait = CONNECTION_RETRY_SECONDS if status == 0 else retry_after(headers) if status == 503 else None
            if wait is None:
                return Outcome("POST", False, f"{path}: {status} {document.get('error', '')}"[:300])
            if self.record.now() - first_sent + wait > self.give_up_after:
                return Outcome("POST", False, f"{path}: still {status} after {self.give_up_after:g} s of retries")
            self.sleep(wait)

    def get_payment(self, payment: Acknowledged) -> Outcome:
        first_sent = self.record.now()
        while True:
            path, status, headers, document = self._call("GET", f"/payments/{payment.payment_id}", None, {})
            if status == 200:
                if document.get("id") != payment.payment_id or document.get("amount") != payment.amount:
                    return Outcome("GET", False, f"{path}: payment {payment.payment_id} read back as {document}")
                return Outcome("GET", True)
            wait = (
                CONNECTION_RETRY_SECONDS
                if status == 0
                else NOT_FOUND_RETRY_SECONDS
                if status == 404
                else retry_after(headers)
                if status == 503
                else None
            )
            if wait is None:
                return Outcome("GET", False, f"{path}: {status} {document.get('error', '')}"[:300])
            if self.record.now() - first_sent + wait > self.give_up_after:
                return Outcome("GET", False, f"{path}: still {status} after {self.give_up_after:g} s of retries")
            self.sleep(wait)

    def one_request(self) -> Outcome:
        payment = None
        if self.rng.random() < self.read_share:
            payment = self.record.random_payment(self.rng)
            if payment is not None and payment.merchant != self.merchant:
                payment = None  # a merchant reads only its own payments
        return self.get_payment(payment) if payment else self.post_payment()


class Load:
    """`clients` threads sharing `rate` requests per second between them, until stopped."""

    def __init__(self, *, clients: list[Client], rate: float, record: LoadRecord, stop: threading.Event) -> None:
        self.clients = clients
        self.rate = rate
        self.record = record
        self.stop = stop
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        interval = len(self.clients) / self.rate
        for offset, client in enumerate(self.clients):
            thread = threading.Thread(
                target=self._run,
                args=(client, interval, offset * interval / len(self.clients)),
                name=f"client-{offset}",
                daemon=True,
            )
            thread.start()
            self.threads.append(thread)

    def _run(self, client: Client, interval: float, offset: float) -> None:
        due = time.monotonic() + offset
        while not self.stop.is_set():
            pause = due - time.monotonic()
            if pause > 0 and self.stop.wait(pause):
                return
            self.record.finish(client.one_request())
            due = max(due + interval, time.monotonic() - interval)  # no burst to catch up after a long retry

    def join(self, timeout: float) -> bool:
        """Waits for requests under way to finish (their retries included); True when all did."""
        end = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, end - time.monotonic()))
        return not any(thread.is_alive() for thread in self.threads)
