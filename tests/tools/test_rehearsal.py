"""The rehearsal's own logic, without a deployment: Route53's weighted choice and the resolver's TTL, the
write-pause measure, the ledger against database rows, the report's verdicts."""

from __future__ import annotations

import random
from collections import Counter

import pytest

import tools.rehearsal.ledger as ledger
import tools.rehearsal.report as report
from tools.rehearsal.load import Acknowledged, LoadRecord
from tools.rehearsal.resolver import WeightedResolver, choose


def record(name: str, weight: int) -> dict:
    return {"Name": "api.payments.internal.", "Type": "A", "SetIdentifier": name, "Weight": weight}


class FakeRoute53:
    def __init__(self, weights: dict[str, int]) -> None:
        self.weights = weights
        self.calls = 0

    def list_resource_record_sets(self, **request):
        self.calls += 1
        return {
            "ResourceRecordSets": [record(name, weight) for name, weight in self.weights.items()],
            "IsTruncated": False,
        }


def payment(key: str, payment_id: str, *, sent: float = 0.0, acknowledged: float = 0.0, amount: str = "10.00"):
    return Acknowledged("rh-merchant-00", key, amount, "EUR", payment_id, sent, acknowledged, "new")


def test_the_weighted_choice_follows_the_weights_and_never_picks_a_zero_weight():
    rng = random.Random(7)
    picks = Counter(choose([record("new", 30), record("legacy", 70)], rng)["SetIdentifier"] for _ in range(4000))
    assert 0.26 < picks["new"] / 4000 < 0.34
    assert {choose([record("new", 100), record("legacy", 0)], rng)["SetIdentifier"] for _ in range(200)} == {"new"}


def test_all_weights_zero_split_evenly_as_route53_does():
    rng = random.Random(3)
    picks = Counter(choose([record("new", 0), record("legacy", 0)], rng)["SetIdentifier"] for _ in range(2000))
    assert 0.45 < picks["new"] / 2000 < 0.55


def test_the_resolver_keeps_an_answer_for_its_ttl_then_asks_again():
    now = [0.0]
    route53 = FakeRoute53({"new": 0, "legacy": 100})
    resolver = WeightedResolver(
        route53=route53,
        zone_id="Z1",
        name="api.payments.internal",
        ttl=1.0,
        targets={"new": "http://alb", "legacy": "http://legacy"},
        clock=lambda: now[0],
    )
    assert resolver.resolve().base_url == "http://legacy"
    route53.weights = {"new": 100, "legacy": 0}
    now[0] = 0.9
    assert resolver.resolve().base_url == "http://legacy" and route53.calls == 1
    now[0] = 1.0
    assert resolver.resolve().base_url == "http://alb" and route53.calls == 2


def test_the_write_pause_is_the_longest_stretch_a_waiting_write_went_unacknowledged():
    load = LoadRecord()
    # steady writes, then one sent at 2.0 waits (503s) until 9.0 while another sent at 2.5 lands at 9.1
    load.ledger += [
        payment("a", "1", sent=0.9, acknowledged=1.0),
        payment("b", "2", sent=1.9, acknowledged=2.0),
        payment("c", "3", sent=2.0, acknowledged=9.0),
        payment("d", "4", sent=2.5, acknowledged=9.1),
        payment("e", "5", sent=20.0, acknowledged=20.1),
    ]
    # the gap from 9.1 to 20.1 is no pause: nothing was waiting until 20.0
    assert report.longest_write_pause(load) == pytest.approx(7.0)


def test_the_ledger_finds_missing_and_altered_payments():
    rows = [
        ledger.Row("1", "rh-merchant-00", "a", "10.0", "EUR"),
        ledger.Row("2", "rh-merchant-00", "b", "11.00", "EUR"),
    ]
    acknowledged = [payment("a", "1"), payment("b", "2"), payment("c", "3")]
    problems = ledger.missing(acknowledged, rows)
    assert len(problems) == 2
    assert "3 (rh-merchant-00, c) is missing" in problems[1] and problems[0].startswith("2 differs")


def test_two_payment_ids_for_one_key_across_the_databases_is_a_double_charge():
    legacy = [ledger.Row("1", "rh-merchant-00", "a", "10.00", "EUR")]
    aurora = [
        ledger.Row("1", "rh-merchant-00", "a", "10.00", "EUR"),
        ledger.Row("9", "rh-merchant-00", "a", "10.00", "EUR"),
    ]
    assert ledger.duplicate_charges(legacy, legacy) == []
    assert ledger.duplicate_charges(legacy, aurora) == ["rh-merchant-00 / a: ['1', '9']"]
    assert ledger.acknowledged_twice([payment("a", "1"), payment("a", "9")]) == ["rh-merchant-00 / a: ['1', '9']"]


def test_the_figures_fail_when_any_invariant_fails():
    load = LoadRecord()
    load.ledger.append(payment("a", "1", sent=0.0, acknowledged=0.1))
    load.requests = 1
    clean = report.figures(load, [], duplicates=[], twice=[], missing_at_end=[])
    assert clean.passed
    assert not report.figures(load, [], duplicates=["x"], twice=[], missing_at_end=[]).passed
    flip = report.Transition("flip", 0.0, 1.0, 5.0, missing_after=["1 is missing"])
    assert not report.figures(load, [flip], duplicates=[], twice=[], missing_at_end=[]).passed
