"""The rehearsal itself: replication to READY, then the cutover under load, then the ledger against both
databases (the package docstring, tools/rehearsal/__init__.py, tells the whole story)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.rehearsal import drive, ledger
from tools.rehearsal.deployment import Deployment
from tools.rehearsal.drive import RehearsalError, invoke, wait_for
from tools.rehearsal.load import Client, Load, LoadRecord
from tools.rehearsal.report import Event, Sample, Transition
from tools.rehearsal.resolver import WeightedResolver, weights
from tools.stack import LOG_DIR, PROJECT_ROOT

SAMPLE_SECONDS = 0.5
LEGACY_PORT = 443  # the legacy IP target group's port (HTTPS over the VPN in a real deployment)


@dataclass
class Options:
    rate: float = 10.0  # requests per second, all clients together
    clients: int = 5
    read_share: float = 0.3
    canary_steps: tuple[int, ...] = (10, 50, 100)
    canary_dwell: float = 3.0  # seconds at each canary step
    resolver_ttl: float = 1.0
    aurora_dwell: float = 8.0  # seconds of load with Aurora the writer, before the critical alarm
    legacy_dwell: float = 4.0  # seconds of load after the rollback
    give_up_after: float = 60.0  # a client's retries of one request
    flip_deadline: float = 300.0  # how long the flip may stay refused (the DNS hold is 2 x TTL)
    rollback_timeout: float = 120.0
    throughput_seconds: float = 0.0  # bench only: closed-loop writes through the ALB while Aurora writes
    throughput_clients: int = 8
    report_dir: Path = PROJECT_ROOT / "rehearsal"


@dataclass
class Names:
    """What the rehearsal drives, read from the outputs and the cutover functions' own configuration."""

    driver: str
    rollback: str
    validator_arn: str
    zone_id: str
    record_name: str
    local_api_url: str
    critical_topic_arn: str
    critical_alarm_prefix: str
    state_parameter: str
    namespace: str
    ready_metric: str
    forward_task_arn: str
    reverse_task_arn: str
    legacy_target_group_arn: str
    aurora: dict[str, str]
    account: str
    region: str

    @classmethod
    def read(cls, deployment: Deployment, aws: Callable[[str], Any]) -> Names:
        outputs = deployment.outputs
        functions = outputs["lambda_function_names"]
        environment = aws("lambda").get_function_configuration(FunctionName=functions["traffic-shifter"])[
            "Environment"
        ]["Variables"]
        missing = [
            name
            for name in ("CUTOVER_STATE_PARAMETER", "LEGACY_TARGET_GROUP_ARN", "REVERSE_TASK_ARN", "FORWARD_TASK_ARN")
            if not environment.get(name)
        ]
        if missing:
            raise RehearsalError(
                f"the cutover driver has no {', '.join(missing)}: the deployment has no legacy "
                "system to cut over from (set LEGACY_ENDPOINT)"
            )
        return cls(
            driver=functions["traffic-shifter"],
            rollback=functions["rollback"],
            validator_arn=outputs["lambda_function_arns"]["migration-validator"],
            zone_id=outputs["hosted_zone_id"],
            record_name=outputs["api_fqdn"],
            local_api_url=outputs["local_api_url"],
            critical_topic_arn=outputs["critical_topic_arn"],
            critical_alarm_prefix=outputs["critical_alarm_prefix"],
            state_parameter=environment["CUTOVER_STATE_PARAMETER"],
            namespace=environment["METRIC_NAMESPACE"],
            ready_metric=environment["READY_METRIC_NAME"],
            forward_task_arn=environment["FORWARD_TASK_ARN"],
            reverse_task_arn=environment["REVERSE_TASK_ARN"],
            legacy_target_group_arn=environment["LEGACY_TARGET_GROUP_ARN"],
            aurora={
                "cluster_arn": outputs["aurora_cluster_arn"],
                "secret_arn": outputs["aurora_master_secret_arn"],
                "database": outputs["aurora_database_name"],
                "host": outputs["aurora_cluster_endpoint"],
            },
            account=aws("sts").get_caller_identity()["Account"],
            region=deployment.settings.aws_region,
        )


class LegacyStandIn:
    """The legacy stand-in process (tools/rehearsal/legacy.py); stops when closed."""

    def __init__(self, login: dict[str, Any], log_file: Path = LOG_DIR / "rehearsal-legacy-stand-in.log") -> None:
        self.login = login
        log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = log_file
        with log_file.open("w") as log:
            self.process = self._start(login, log)
        if self.process.stdout is None or self.process.stdin is None:
            raise RehearsalError("the legacy stand-in was started without pipes")
        self.stdin = self.process.stdin
        line = self.process.stdout.readline()
        if not line:
            raise RehearsalError(f"the legacy stand-in did not start (exit {self.process.wait()}); see {log_file}")
        self.port = json.loads(line)["port"]
        self.url = f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _start(login: dict[str, Any], log: Any) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.rehearsal.legacy",
                "--db-host",
                login["host"],
                "--db-port",
                str(login["port"]),
                "--database",
                login["database"],
                "--user",
                login["username"],
            ],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "LEGACY_DB_PASSWORD": login["password"]},
        )

    def connect(self) -> Any:
        import pg8000.native

        return pg8000.native.Connection(
            user=self.login["username"],
            password=self.login["password"],
            host=self.login["host"],
            port=self.login["port"],
            database=self.login["database"],
            timeout=30,
        )

    def read_only(self, on: bool) -> None:
        """The runbook's read-only mode of legacy for its application login, and its sessions ended, so
        that the next ones start with it (PostgreSQL then refuses every write of the application)."""
        connection = self.connect()
        try:
            connection.run("SET default_transaction_read_only = off")  # this session may change it back
            role = connection.run("SELECT current_user")[0][0]
            database = self.login["database"].replace('"', '""')
            setting = "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
            connection.run(f'ALTER ROLE CURRENT_USER IN DATABASE "{database}" {setting}')
            connection.run(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :role AND "
                "datname = :database AND pid <> pg_backend_pid()",
                role=role,
                database=self.login["database"],
            )
        finally:
            connection.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Rehearsal:
    deployment: Deployment
    options: Options
    log: Callable[[str], None]
    record: LoadRecord = field(default_factory=LoadRecord)
    samples: list[Sample] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    throughput: dict[str, float] | None = None

    def __post_init__(self) -> None:
        self.aws = self.deployment.client_factory()
        self.control = self.deployment.control()
        self.names = Names.read(self.deployment, self.aws)
        self.stand_in: LegacyStandIn | None = None
        self.stop_load = threading.Event()
        self.stop_sampling = threading.Event()

    @property
    def legacy(self) -> LegacyStandIn:
        """The legacy stand-in, once the rehearsal has started it."""
        if self.stand_in is None:
            raise RuntimeError("the legacy stand-in is not started yet")
        return self.stand_in

    # ----------------------------------------------------------------------- helpers
    def event(self, label: str) -> None:
        self.events.append(Event(self.record.now(), label))
        self.log(f"{self.record.now():7.1f} s  {label}")

    def state(self) -> dict[str, Any]:
        return json.loads(self.aws("ssm").get_parameter(Name=self.names.state_parameter)["Parameter"]["Value"])

    def driver(self, payload: dict) -> dict:
        return invoke(self.aws("lambda"), self.names.driver, payload)

    # ----------------------------------------------------------------------- preparation
    def prepare(self) -> None:
        """The runbook before any traffic moves: secrets, forward replication, READY; the stand-in up."""
        aws, names = self.aws, self.names
        onprem = drive.onprem_login(self.control)
        self.stand_in = LegacyStandIn(onprem)
        stand_in_address = f"127.0.0.1:{self.stand_in.port}"
        targets = aws("elbv2").describe_target_health(TargetGroupArn=names.legacy_target_group_arn)[
            "TargetHealthDescriptions"
        ]
        self.control.map_ip_targets(
            {
                f"{target['Target']['Id']}:{target['Target'].get('Port', LEGACY_PORT)}": stand_in_address
                for target in targets
            }
        )
        documents = drive.endpoint_secret_documents(
            aws("dms"),
            [names.forward_task_arn, names.reverse_task_arn],
            onprem=onprem,
            aurora=drive.aurora_master_login(aws("secretsmanager"), names.aurora["secret_arn"]),
            aurora_host=names.aurora["host"],
        )
        for secret_arn, document in documents.items():
            drive.put_secret(aws("secretsmanager"), secret_arn, document)
        self.control.set_retry_delays(0.5, 0.5)
        found = drive.ensure_forward_running(aws("dms"), names.forward_task_arn)
        wait_for("the forward full load", lambda: drive.tables_loaded(aws("dms"), names.forward_task_arn), 180)
        rule = drive.validator_rule(aws("events"), names.validator_arn)
        runs = drive.wait_until_ready(
            self.control,
            aws("cloudwatch"),
            aws("dms"),
            rule=rule,
            namespace=names.namespace,
            metric=names.ready_metric,
            task_arn=names.forward_task_arn,
            account=names.account,
            region=names.region,
        )
        self.validator_rule = rule
        state = self.state()
        if state["phase"] != "legacy-writer" or state.get("direction"):
            raise RehearsalError(
                f"the cutover state is {state['phase']} (direction {state.get('direction')}): "
                "the rehearsal starts with legacy as the writer"
            )
        self.log(
            f"prepared: {len(documents)} DMS secrets filled, forward task {found}, READY after {runs} "
            f"validator run(s), legacy stand-in on port {self.stand_in.port}"
        )

    # ----------------------------------------------------------------------- load and sampling
    def start_load(self) -> Load:
        targets = {"new": self.names.local_api_url, "legacy": self.legacy.url}
        clients = [
            Client(
                index=index,
                record=self.record,
                give_up_after=self.options.give_up_after,
                read_share=self.options.read_share,
                stop=self.stop_load,
                resolver=WeightedResolver(
                    route53=self.aws("route53"),
                    zone_id=self.names.zone_id,
                    name=self.names.record_name,
                    targets=targets,
                    ttl=self.options.resolver_ttl,
                    seed=index,
                ),
            )
            for index in range(self.options.clients)
        ]
        load = Load(clients=clients, rate=self.options.rate, record=self.record, stop=self.stop_load)
        self.record.started = time.monotonic()  # the report's clock: seconds since the load started
        threading.Thread(target=self._sample, name="sampler", daemon=True).start()
        load.start()
        return load

    def _sample(self) -> None:
        route53 = self.deployment.client_factory()("route53")
        while not self.stop_sampling.is_set():
            try:
                current = weights(route53, self.names.zone_id, self.names.record_name)
                state = self.state()
                self.samples.append(
                    Sample(
                        self.record.now(),
                        current.get("new", 0),
                        current.get("legacy", 0),
                        state["phase"],
                        state["writer"],
                    )
                )
            except Exception as error:  # a missed sample only thins the chart
                self.problems.append(f"sampling: {type(error).__name__}: {error}"[:300])
            self.stop_sampling.wait(SAMPLE_SECONDS)

    # ----------------------------------------------------------------------- the cutover
    def canary(self) -> None:
        for weight in self.options.canary_steps:
            answer = self.driver({"action": "canary", "target_weight": weight, "reason": "rehearsal"})
            if not answer.get("ok"):
                raise RehearsalError(f"canary to {weight} refused: {answer}")
            self.event(f"canary: new weight {answer['before']['new']} -> {answer['after']['new']}")
            time.sleep(self.options.canary_dwell)

    def flip(self) -> None:
        """Invokes the flip until its guards let it run (the DNS hold, fresh metrics), then checks Aurora."""
        deadline = time.monotonic() + self.options.flip_deadline
        reported = None
        while True:
            self.control.publish_replication_metrics()
            started = self.record.now()
            answer = self.driver({"action": "flip", "reason": "rehearsal"})
            if answer.get("ok"):
                break
            if answer.get("aborted"):
                self.event(f"flip aborted, legacy still the writer: {answer.get('error')}")
                self.problems.append(f"a flip aborted: {answer.get('error')}")
            elif not answer.get("refused"):
                raise RehearsalError(f"flip failed: {answer}")
            reported = answer.get("reasons")
            if time.monotonic() > deadline:
                raise RehearsalError(f"the flip was still refused after {self.options.flip_deadline:g} s: {reported}")
            if any(self.names.ready_metric in reason or "ready" in reason for reason in reported or []):
                drive.fire_validator(
                    self.control, self.validator_rule, account=self.names.account, region=self.names.region
                )
            time.sleep(2.0)
        ended = self.record.now()
        self.event(
            f"flip: Aurora is the writer (pause {answer.get('pause_seconds')} s, flip LSN {answer.get('flip_lsn')})"
        )
        transition = Transition("flip legacy -> Aurora", started, ended, answer.get("pause_seconds"))
        self.check_writer(transition, "aurora")
        self.transitions.append(transition)
        self.legacy.read_only(True)
        self.event("operator: legacy read-only (runbook)")

    def force_rollback(self) -> None:
        """A critical alarm's notification on the critical topic; the rollback it triggers runs by itself."""
        self.legacy.read_only(False)
        self.event("operator: legacy writable again, ready for the rollback (runbook)")
        alarm = drive.critical_alarm_name(self.aws("cloudwatch"), self.names.critical_alarm_prefix)
        started = self.record.now()
        self.aws("sns").publish(
            TopicArn=self.names.critical_topic_arn,
            Subject=f'ALARM: "{alarm}"',
            Message=drive.critical_alarm_message(alarm, self.names.region, self.names.account),
        )
        self.event(f"critical alarm {alarm} published to the critical topic")

        def committed() -> dict | None:
            state = self.state()
            return state if state["phase"] == "legacy-writer" and state["writer"] == "legacy" else None

        state = wait_for(
            "the rollback to move the writer back to legacy", committed, self.options.rollback_timeout, poll=0.2
        )
        ended = self.record.now()
        self.event(f"rollback committed: legacy is the writer (state seq {state['seq']})")
        transition = Transition("rollback Aurora -> legacy", started, ended, None)
        self.check_writer(transition, "legacy")
        self.transitions.append(transition)
        wait_for(
            "the rollback's clean-up (DNS back to legacy, reverse task stopped)",
            lambda: (
                self.state()["reverse"] is None
                and weights(self.aws("route53"), self.names.zone_id, self.names.record_name).get("new") == 0
            ),
            self.options.rollback_timeout,
        )
        self.event("rollback done: DNS new 0 / legacy 100, reverse replication stopped")

    def check_writer(self, transition: Transition, writer: str) -> None:
        acknowledged = self.record.acknowledged_until(transition.ended)
        rows = self.aurora_rows() if writer == "aurora" else ledger.legacy_rows(self.legacy.connect)
        transition.missing_after = ledger.missing(acknowledged, rows)
        transition.checked_payments = len(acknowledged)
        self.log(
            f"{transition.name}: {len(acknowledged)} acknowledged payments checked in {writer}, "
            f"{len(transition.missing_after)} missing"
        )

    def aurora_rows(self) -> list[ledger.Row]:
        aurora = self.names.aurora
        return ledger.aurora_rows(
            self.aws("rds-data"),
            cluster_arn=aurora["cluster_arn"],
            secret_arn=aurora["secret_arn"],
            database=aurora["database"],
        )

    def measure_throughput(self) -> None:
        """Bench: closed-loop writes straight to the ALB (Aurora the writer), after a warm-up."""
        from tools.rehearsal.throughput import measure

        self.throughput = measure(
            self.names.local_api_url,
            clients=self.options.throughput_clients,
            seconds=self.options.throughput_seconds,
            record=self.record,
            log=self.log,
        )
        self.event(
            f"throughput measured: {self.throughput['payments_per_second']} payments/s, p99 "
            f"{self.throughput['p99_ms']} ms"
        )

    # ----------------------------------------------------------------------- the whole run
    def run(self) -> None:
        self.prepare()
        load = self.start_load()
        self.event(f"load started: {self.options.rate:g} requests/s from {self.options.clients} clients")
        try:
            self.canary()
            self.flip()
            if self.options.throughput_seconds:
                self.measure_throughput()
            time.sleep(self.options.aurora_dwell)
            self.force_rollback()
            time.sleep(self.options.legacy_dwell)
        finally:
            self.stop_load.set()
            if not load.join(self.options.give_up_after + 30):
                self.problems.append("some client requests were still retrying when the rehearsal ended")
            self.event(f"load stopped: {self.record.requests} requests")
            self.stop_sampling.set()

    def close(self) -> None:
        self.stop_load.set()
        self.stop_sampling.set()
        if self.stand_in is not None:
            self.stand_in.close()
