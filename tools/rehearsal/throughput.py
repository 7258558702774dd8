"""Bench only: how many payments per second ALB -> Lambda -> Data API -> PostgreSQL takes once warm.

Closed loop: `clients` threads each POST a new payment as soon as the previous one was acknowledged,
straight to `local_api_url` (Aurora must be the writer). The first WARM_UP_SECONDS are not counted (cold
Lambda workers, first connections). The payments go into the rehearsal's ledger like every other one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tools.rehearsal.load import Client, LoadRecord
from tools.rehearsal.report import percentile
from tools.rehearsal.resolver import Answer

WARM_UP_SECONDS = 5.0
TARGET_PAYMENTS_PER_SECOND = 50.0
TARGET_P99_MS = 250.0


class FixedAnswer:
    """A resolver that always answers the ALB."""

    def __init__(self, url: str) -> None:
        self.answer = Answer("new", url)

    def resolve(self) -> Answer:
        return self.answer


def measure(
    url: str, *, clients: int, seconds: float, record: LoadRecord, log: Callable[[str], None]
) -> dict[str, float]:
    stop = threading.Event()
    workers = [
        Client(
            index=100 + index, record=record, resolver=FixedAnswer(url), give_up_after=60.0, read_share=0.0, stop=stop
        )
        for index in range(clients)
    ]
    failures_before = len(record.failures)

    def run(client: Client) -> None:
        while not stop.is_set():
            record.finish(client.post_payment())

    started = record.now()
    threads = [threading.Thread(target=run, args=(worker,), daemon=True) for worker in workers]
    for thread in threads:
        thread.start()
    time.sleep(WARM_UP_SECONDS + seconds)
    stop.set()
    for thread in threads:
        thread.join(120)
    window = (started + WARM_UP_SECONDS, started + WARM_UP_SECONDS + seconds)
    merchants = {worker.merchant for worker in workers}
    acknowledged = [p for p in record.ledger if p.merchant in merchants and window[0] <= p.acknowledged_at < window[1]]
    latencies = [
        attempt.latency * 1000
        for attempt in record.attempts
        if attempt.method == "POST"
        and attempt.path == "new"
        and window[0] <= attempt.at < window[1]
        and attempt.status in (200, 201)
    ]
    rate = len(acknowledged) / seconds
    p99 = percentile(latencies, 0.99)
    log(
        f"throughput: {rate:.1f} payments/s, p50 {percentile(latencies, 0.5):.0f} ms, p99 {p99:.0f} ms "
        f"({clients} clients, {seconds:g} s after {WARM_UP_SECONDS:g} s warm-up)"
    )
    return {
        "payments_per_second": round(rate, 1),
        "p50_ms": round(percentile(latencies, 0.5)),
        "p99_ms": round(p99),
        "clients": clients,
        "seconds": seconds,
        "failures": len(record.failures) - failures_before,
    }


def describe(throughput: dict[str, float]) -> list[tuple[str, str]]:
    """(figure, value) rows for the report."""
    return [
        (
            "throughput through the ALB (closed loop, warm)",
            f"{throughput['payments_per_second']:.1f} payments/s with {throughput['clients']} clients over "
            f"{throughput['seconds']:g} s (target >= {TARGET_PAYMENTS_PER_SECOND:g})",
        ),
        (
            "write latency through the ALB, warm, p50 / p99",
            f"{throughput['p50_ms']:.0f} ms / {throughput['p99_ms']:.0f} ms (target p99 < {TARGET_P99_MS:g} ms)",
        ),
        ("requests failed in the throughput run", str(throughput["failures"])),
    ]
