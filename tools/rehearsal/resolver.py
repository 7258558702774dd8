"""The API name as a client's resolver sees it: Route53's weighted answer, cached for a short TTL.

Route53 answers a query for a weighted name with one record set, chosen with probability weight / sum of
weights (an even split when every weight is 0); a resolver keeps the answer for the TTL. This resolver asks
the emulator's Route53 for the records of the name (ListResourceRecordSets, as the zone's own name server
would read them), chooses as Route53 does with its own seeded random generator, and keeps the answer for
`ttl` seconds. The answer is where the request goes: the `new` alias means `local_api_url` (the ALB), the
`legacy` record's value means the legacy stand-in; nothing is ever sent to the address in the record.
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-weighted.html
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Answer:
    set_identifier: str  # "new" or "legacy"
    base_url: str  # where a request for this answer goes locally


def weights(route53: Any, zone_id: str, name: str) -> dict[str, int]:
    """{set identifier: weight} of the weighted record sets of `name`."""
    return {record["SetIdentifier"]: record.get("Weight", 0) for record in weighted_sets(route53, zone_id, name)}


def weighted_sets(route53: Any, zone_id: str, name: str) -> list[dict[str, Any]]:
    wanted = name.rstrip(".").lower() + "."
    found, request = [], {"HostedZoneId": zone_id, "StartRecordName": wanted}
    while True:
        page = route53.list_resource_record_sets(**request)
        for record in page["ResourceRecordSets"]:
            if record["Name"].lower() == wanted and "SetIdentifier" in record:
                found.append(record)
        if not page.get("IsTruncated") or page.get("NextRecordName", "").lower() != wanted:
            return found
        request.update(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"])


def choose(records: list[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    """One record set, as Route53 picks among weighted sets (all weights 0: evenly)."""
    total = sum(record.get("Weight", 0) for record in records)
    if total == 0:
        return rng.choice(records)
    point = rng.uniform(0, total)
    for record in records:
        point -= record.get("Weight", 0)
        if point < 0:
            return record
    return [record for record in records if record.get("Weight", 0) > 0][-1]


class Resolver(Protocol):
    """What a client asks where to send its next request."""

    def resolve(self) -> Answer: ...


class WeightedResolver:
    """Thread-safe; `resolve()` gives the cached answer while it is younger than `ttl` seconds."""

    def __init__(
        self,
        *,
        route53: Any,
        zone_id: str,
        name: str,
        targets: dict[str, str],
        ttl: float,
        seed: int = 12,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._route53 = route53
        self._zone_id = zone_id
        self._name = name
        self._targets = targets  # set identifier -> local base URL
        self._ttl = ttl
        self._rng = random.Random(seed)
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, Answer] | None = None
        self.lookups = 0

    def resolve(self) -> Answer:
        with self._lock:
            now = self._clock()
            if self._cached is not None and now - self._cached[0] < self._ttl:
                return self._cached[1]
            record = choose(weighted_sets(self._route53, self._zone_id, self._name), self._rng)
            answer = Answer(record["SetIdentifier"], self._targets[record["SetIdentifier"]])
            self._cached = (now, answer)
            self.lookups += 1
            return answer
