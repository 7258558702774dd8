"""Figures of a rehearsal, its invariants, and rehearsal/report.md with a chart of weights and errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.rehearsal.load import Attempt, LoadRecord

MAX_WRITE_PAUSE_SECONDS = 10.0
CHART_NAME = "weights-and-errors.png"


@dataclass(frozen=True)
class Sample:
    """The routing at one moment: DNS weights and who the cutover state says writes."""

    at: float
    new_weight: int
    legacy_weight: int
    phase: str
    writer: str


@dataclass(frozen=True)
class Event:
    at: float
    label: str


@dataclass
class Transition:
    """A writer flip (legacy -> Aurora) or a rollback (Aurora -> legacy), as the rehearsal saw it."""

    name: str
    started: float
    ended: float
    reported_pause: float | None  # pause_seconds in the function's answer, when it answered
    missing_after: list[str] = field(default_factory=list)  # acknowledged payments absent from the new writer
    checked_payments: int = 0


@dataclass
class Figures:
    requests: int
    attempts: int
    p50_ms: float
    p99_ms: float
    retriable_during_transitions: int
    retriable_total: int
    longest_write_pause: float
    failed_after_retries: int
    acknowledged: int
    missing_after_transitions: int
    duplicate_charges: int
    acknowledged_twice: int
    missing_at_end: int
    by_path: dict[str, int]
    throughput: dict[str, float] | None = None

    def invariants(self) -> list[tuple[str, str, bool]]:
        """(invariant, measured, held?) for every invariant the rehearsal checks."""
        return [
            (
                "requests failed after the client's retries = 0",
                str(self.failed_after_retries),
                self.failed_after_retries == 0,
            ),
            (
                "payments missing from the writer of record after each flip = 0",
                str(self.missing_after_transitions),
                self.missing_after_transitions == 0,
            ),
            (
                "payments missing from the writer of record at the end = 0",
                str(self.missing_at_end),
                self.missing_at_end == 0,
            ),
            ("duplicate charges across both databases = 0", str(self.duplicate_charges), self.duplicate_charges == 0),
            (
                "one key acknowledged with two payment ids = 0",
                str(self.acknowledged_twice),
                self.acknowledged_twice == 0,
            ),
            (
                f"longest write pause <= {MAX_WRITE_PAUSE_SECONDS:g} s",
                f"{self.longest_write_pause:.2f} s",
                self.longest_write_pause <= MAX_WRITE_PAUSE_SECONDS,
            ),
            ("payments acknowledged > 0", str(self.acknowledged), self.acknowledged > 0),
        ]

    @property
    def passed(self) -> bool:
        return all(held for _, _, held in self.invariants())


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def in_windows(moment: float, windows: list[tuple[float, float]]) -> bool:
    return any(start <= moment <= end for start, end in windows)


def longest_write_pause(record: LoadRecord) -> float:
    """The longest stretch in which some write was waiting and none was acknowledged.

    Between two consecutive acknowledgements a_i < a_(i+1), writes were waiting from the earliest first
    send of any write acknowledged after a_i (or from a_i itself when that write was sent before it).
    """
    payments = sorted(record.ledger, key=lambda payment: payment.acknowledged_at)
    earliest_after = [0.0] * len(payments)  # min first_sent over payments[i:]
    running = float("inf")
    for index in range(len(payments) - 1, -1, -1):
        running = min(running, payments[index].first_sent)
        earliest_after[index] = running
    longest = 0.0
    for index in range(len(payments) - 1):
        start = max(payments[index].acknowledged_at, earliest_after[index + 1])
        longest = max(longest, payments[index + 1].acknowledged_at - start)
    return longest


def figures(
    record: LoadRecord,
    transitions: list[Transition],
    *,
    duplicates: list[str],
    twice: list[str],
    missing_at_end: list[str],
    throughput: dict[str, float] | None = None,
) -> Figures:
    answered = [attempt.latency * 1000 for attempt in record.attempts if attempt.status]
    windows = [(transition.started, transition.ended) for transition in transitions]
    retriable = [attempt for attempt in record.attempts if attempt.retriable]
    by_path: dict[str, int] = {}
    for attempt in record.attempts:
        by_path[attempt.path] = by_path.get(attempt.path, 0) + 1
    return Figures(
        requests=record.requests,
        attempts=len(record.attempts),
        p50_ms=percentile(answered, 0.50),
        p99_ms=percentile(answered, 0.99),
        retriable_during_transitions=sum(1 for attempt in retriable if in_windows(attempt.at, windows)),
        retriable_total=len(retriable),
        longest_write_pause=longest_write_pause(record),
        failed_after_retries=len(record.failures),
        acknowledged=len({(p.merchant, p.key) for p in record.ledger}),
        missing_after_transitions=sum(len(transition.missing_after) for transition in transitions),
        duplicate_charges=len(duplicates),
        acknowledged_twice=len(twice),
        missing_at_end=len(missing_at_end),
        by_path=by_path,
        throughput=throughput,
    )


# --------------------------------------------------------------------------- the chart
def render_chart(
    path: Path, samples: list[Sample], attempts: list[Attempt], events: list[Event], transitions: list[Transition]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    end = max([sample.at for sample in samples] + [attempt.at for attempt in attempts] + [1.0])
    seconds = list(range(int(end) + 1))
    sent = [0] * len(seconds)
    retried = [0] * len(seconds)
    failed = [0] * len(seconds)
    for attempt in attempts:
        second = min(int(attempt.at), len(seconds) - 1)
        sent[second] += 1
        if attempt.retriable:
            retried[second] += 1
        elif attempt.status not in (200, 201, 404):
            failed[second] += 1
    figure, (top, bottom) = pyplot.subplots(2, 1, figsize=(9, 5), sharex=True, dpi=80)
    times = [sample.at for sample in samples]
    top.step(times, [sample.new_weight for sample in samples], where="post", label="new (ALB) weight")
    top.step(times, [sample.legacy_weight for sample in samples], where="post", label="legacy weight")
    for sample, following in zip(samples, samples[1:], strict=False):
        if sample.writer == "aurora":
            top.axvspan(sample.at, following.at, color="tab:green", alpha=0.12, linewidth=0)
    for transition in transitions:
        for axis in (top, bottom):
            axis.axvspan(transition.started, transition.ended, color="tab:red", alpha=0.15, linewidth=0)
    for event in events:
        top.axvline(event.at, color="grey", linewidth=0.6, linestyle=":")
    top.set_ylabel("DNS weight (%)")
    top.set_ylim(-5, 105)
    top.legend(loc="center left", fontsize="small")
    top.set_title("Route53 weights (green: Aurora writes; red: flip and rollback)", fontsize="medium")
    rate = [100.0 * r / s if s else 0.0 for r, s in zip(retried, sent, strict=True)]
    bottom.plot(seconds, rate, color="tab:orange", label="retriable answers (% of attempts)")
    bottom.plot(
        seconds,
        [100.0 * f / s if s else 0.0 for f, s in zip(failed, sent, strict=True)],
        color="tab:red",
        label="other errors (% of attempts)",
    )
    bottom.set_ylabel("% of attempts")
    bottom.set_xlabel("seconds since the load started")
    bottom.set_ylim(-5, 105)
    bottom.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


# --------------------------------------------------------------------------- report.md
def describe_throughput(throughput: dict[str, float]) -> list[tuple[str, str]]:
    from tools.rehearsal.throughput import describe

    return describe(throughput)


def render_markdown(
    *,
    figures: Figures,
    transitions: list[Transition],
    events: list[Event],
    settings: dict[str, Any],
    problems: list[str],
    chart: str | None,
) -> str:
    lines = [
        "# Cutover rehearsal",
        "",
        f"Result: **{'PASS' if figures.passed else 'FAIL'}**",
        "",
        "## Invariants",
        "",
        "| invariant | measured | result |",
        "|---|---|---|",
    ]
    lines += [
        f"| {name} | {measured} | {'PASS' if held else 'FAIL'} |" for name, measured, held in figures.invariants()
    ]
    attempts_by_path = ", ".join(f"{path}: {count}" for path, count in sorted(figures.by_path.items()))
    lines += [
        "",
        "## Figures",
        "",
        "| figure | value |",
        "|---|---|",
        f"| requests (each with its retries) | {figures.requests} |",
        f"| HTTP attempts | {figures.attempts} ({attempts_by_path}) |",
        f"| latency p50 / p99 (answered attempts) | {figures.p50_ms:.0f} ms / {figures.p99_ms:.0f} ms |",
        f"| retriable answers during the flips | {figures.retriable_during_transitions} "
        f"(all run: {figures.retriable_total}) |",
        f"| longest write pause seen by clients | {figures.longest_write_pause:.2f} s |",
        f"| requests failed after retries | {figures.failed_after_retries} |",
        f"| payments acknowledged | {figures.acknowledged} |",
        f"| payments missing from the writer of record after each flip | {figures.missing_after_transitions} |",
        f"| duplicate charges across both databases | {figures.duplicate_charges} |",
    ]
    if figures.throughput:
        lines += [f"| {name} | {value} |" for name, value in describe_throughput(figures.throughput)]
    lines += [
        "",
        "## Flips",
        "",
        "| transition | from (s) | to (s) | pause the function reported | acknowledged payments checked | missing |",
        "|---|---|---|---|---|---|",
    ]
    for transition in transitions:
        reported = f"{transition.reported_pause:.2f} s" if transition.reported_pause is not None else "-"
        lines.append(
            f"| {transition.name} | {transition.started:.1f} | {transition.ended:.1f} | {reported} | "
            f"{transition.checked_payments} | {len(transition.missing_after)} |"
        )
    lines += ["", "## Timeline", ""] + [f"- {event.at:7.1f} s  {event.label}" for event in events]
    if chart:
        lines += ["", f"![weights and error rate]({chart})"]
    lines += ["", "## Settings", ""] + [f"- {name}: {value}" for name, value in settings.items()]
    if problems:
        lines += ["", "## Problems", ""] + [f"- {problem}" for problem in problems[:200]]
    return "\n".join(lines) + "\n"


def summary_lines(figures: Figures) -> list[str]:
    lines = [
        f"requests {figures.requests} ({figures.attempts} attempts), p50 {figures.p50_ms:.0f} ms, "
        f"p99 {figures.p99_ms:.0f} ms",
        f"retriable answers during the flips {figures.retriable_during_transitions}, longest write pause "
        f"{figures.longest_write_pause:.2f} s",
        f"failed after retries {figures.failed_after_retries}, payments acknowledged {figures.acknowledged}, "
        f"missing after flips {figures.missing_after_transitions}, duplicate charges {figures.duplicate_charges}",
    ]
    if figures.throughput:
        lines += [f"{name}: {value}" for name, value in describe_throughput(figures.throughput)]
    return lines
