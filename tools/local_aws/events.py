"""EventBridge: `rate(...)` schedules fire their Lambda targets while the emulator runs.

moto stores rules but never runs a schedule. Here a runner thread looks at the enabled
rules of every account and region once a second; a rule's first run is one period after
the runner first sees it (as EventBridge: within a period of its creation), then every
period. `fire_now` runs a rule at once (the control endpoint exposes it), so nothing
waits minutes of real time. cron(...) expressions are not run (see docs/local-runtime.md).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tools.local_aws.common import EmulatorError
from tools.local_aws.moto_guard import assigns, moto_uses

USES = moto_uses(
    "run_event_schedules",
    {
        "moto.events.models.events_backends": (),
        "moto.events.models.EventsBackend": assigns("event_buses"),
        "moto.events.models.EventBus": assigns("rules"),
        "moto.events.models.EventsBackend.describe_rule": ("name", "event_bus_arn"),
        "moto.events.models.Rule": assigns(
            "name", "account_id", "region_name", "scheduled_expression", "state", "targets"
        ),
        "moto.events.models.Rule.arn": (),
        "moto.awslambda.utils.get_backend": (),
    },
)
RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
TICK_SECONDS = 1.0


def rate_seconds(expression: str | None) -> float | None:
    """Seconds between runs of a `rate(...)` expression; None for anything else (cron, no schedule)."""
    match = RATE.match((expression or "").strip())
    if match is None:
        return None
    return int(match.group(1)) * UNIT_SECONDS[match.group(2).rstrip("s")]


def scheduled_event(rule: Any, now: float) -> dict[str, Any]:
    """The event EventBridge sends a target of a schedule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
    }


@dataclass
class Fired:
    rule_arn: str
    target_arn: str
    request_id: str


class ScheduleRunner:
    """Runs due schedules once a second, and any rule on demand."""

    def __init__(self, lambdas: Any, clock: Callable[[], float] = time.time, start: bool = True) -> None:
        self._lambdas = lambdas
        self._clock = clock
        self._due: dict[str, float] = {}  # rule ARN -> when it runs next
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        if start:
            threading.Thread(target=self._run, name="event-schedules", daemon=True).start()

    def _run(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            self.tick()

    @staticmethod
    def _scheduled_rules() -> Iterator[Any]:
        from moto.events.models import events_backends

        for by_region in list(events_backends.values()):
            for backend in list(by_region.values()):
                default_bus = backend.event_buses.get("default")  # schedules run on the default bus only
                for rule in list(default_bus.rules.values()) if default_bus else []:
                    if rule.state == "ENABLED" and rate_seconds(rule.scheduled_expression):
                        yield rule

    def tick(self) -> list[Fired]:
        """Fire every rule that is due; notice new rules and forget deleted or disabled ones."""
        now, fired = self._clock(), []
        rules = {rule.arn: rule for rule in self._scheduled_rules()}
        with self._lock:
            self._due = {arn: due for arn, due in self._due.items() if arn in rules}
            for arn, rule in rules.items():
                period = rate_seconds(rule.scheduled_expression)
                if period is None:  # _scheduled_rules yields rate rules only
                    continue
                due = self._due.setdefault(arn, now + period)
                if now >= due:
                    self._due[arn] = due + period * (1 + int((now - due) // period))
                    fired.append(rule)
        return [event for rule in fired for event in self._fire(rule, now)]

    def fire_now(self, name: str, account_id: str, region: str) -> list[Fired]:
        """Run the rule `name` of the default bus now, whatever its schedule or state."""
        from moto.events.models import events_backends

        try:
            rule = events_backends[account_id][region].describe_rule(name, None)
        except Exception as error:
            raise EmulatorError(f"no rule {name!r} on the default event bus of {account_id}/{region}") from error
        return self._fire(rule, self._clock())

    def _fire(self, rule: Any, now: float) -> list[Fired]:
        from moto.awslambda.utils import get_backend

        fired = []
        for target in list(rule.targets):
            arn = target["Arn"]
            if arn.split(":")[2] != "lambda":
                continue  # the stack schedules only Lambda functions
            event = target.get("Input") or json.dumps(scheduled_event(rule, now))
            function = get_backend(arn.split(":")[4], arn.split(":")[3]).get_function(arn)
            fired.append(Fired(rule.arn, arn, self._lambdas.invoke_async(function, event)))
        return fired

    def describe(self) -> dict[str, float]:
        with self._lock:
            return dict(self._due)

    def stop(self) -> None:
        self._stopping.set()


PATCHES = (USES,)
