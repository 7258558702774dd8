"""DMS replication tasks carried out with PostgreSQL's logical replication, between local databases.

start-replication: a publication of the selected tables on the source, a logical replication
slot created beforehand (within one PostgreSQL cluster, CREATE SUBSCRIPTION waits forever for
its own slot: https://www.postgresql.org/docs/15/sql-createsubscription.html, create_slot = false),
missing target tables created from the source's columns and primary key, then a subscription
on the target: copy_data for full load, streaming for CDC, disable_on_error so an apply
conflict stops the task instead of skipping rows. stop disables the subscription,
resume-processing enables it again, reload-target truncates and copies again.

A CDC-only task may start from a position: the source endpoint's slot (PostgreSQLSettings
SlotName, created by whoever fixed the position, after a publication of the tables) is
advanced to CdcStartPosition (an LSN) and replication continues from there, through that
publication; this is how a reverse task starts at a writer flip.

Progress comes from pg_subscription_rel, row counts and inserts/updates/deletes from the
target's pg_stat_user_tables, validation from comparing every row by primary key, and
CDCLatencySource/CDCLatencyTarget from pg_stat_subscription against the source's WAL position
over time. See docs/local-runtime.md for how all this differs from DMS.
"""

from __future__ import annotations

import collections
import fnmatch
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.local_aws.common import EmulatorError
from tools.local_aws.dms.endpoints import EndpointLogin
from tools.local_aws.postgres import PostgresServer, quote_identifier, quote_literal

SAMPLE_SECONDS = 1.0
METRIC_SECONDS = 5.0
SAMPLES_KEPT = 3600
VALIDATION_REFRESH_SECONDS = 2.0
STATE_NAMES = {"i": "Before load", "d": "Full load", "f": "Full load", "s": "Full load", "r": "Table completed"}


def object_name(prefix: str, task_id: str) -> str:
    """A slot/publication/subscription name for a task: lower-case letters, digits and underscores."""
    return f"{prefix}_{re.sub(r'[^a-z0-9_]', '_', task_id.lower())}"[:63]


def selected_tables(table_mappings: str, available: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (schema, table) pairs the task's selection rules include and do not exclude (% is a wildcard)."""
    rules = [
        rule for rule in json.loads(table_mappings or "{}").get("rules", []) if rule.get("rule-type") == "selection"
    ]

    def matches(rule: dict[str, Any], schema: str, table: str) -> bool:
        locator = rule.get("object-locator") or {}
        return all(
            fnmatch.fnmatchcase(value, (locator.get(key) or "%").replace("%", "*"))
            for key, value in (("schema-name", schema), ("table-name", table))
        )

    chosen = []
    for schema, table in available:
        included = any(r.get("rule-action") == "include" and matches(r, schema, table) for r in rules)
        excluded = any(r.get("rule-action") == "exclude" and matches(r, schema, table) for r in rules)
        if included and not excluded:
            chosen.append((schema, table))
    return chosen


def qualified(schema: str, table: str) -> str:
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"


@dataclass
class TableProgress:
    schema: str
    table: str
    full_load_rows: int | None = None
    baseline: tuple[int, int, int] = (0, 0, 0)
    full_load_start: float | None = None
    full_load_end: float | None = None
    validation_state: str = "Pending records"
    validation_pending: int = 0
    validation_failed: int = 0
    previous_mismatches: frozenset[str] = frozenset()
    validated_at: float = 0.0


@dataclass
class TaskReplication:
    task_arn: str
    task_id: str
    account_id: str
    region: str
    instance_id: str
    migration_type: str
    validation_enabled: bool
    source: EndpointLogin | None = None
    target: EndpointLogin | None = None
    slot: str = ""
    publication: str = ""
    subscription: str = ""
    owns_slot: bool = True
    owns_publication: bool = True
    status: str = "starting"
    failure: str | None = None
    stop_reason: str | None = None
    started_at: float | None = None
    stopped_at: float | None = None
    cdc_start_position: str | None = None
    tables: dict[tuple[str, str], TableProgress] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)


@dataclass(frozen=True)
class StartRequest:
    """One StartReplicationTask: its type, the endpoints' logins (resolved when it is carried out), the
    source endpoint's slot name (None: the task makes its own) and the task's table mappings."""

    start_type: str
    resolve: Callable[[], tuple[EndpointLogin, EndpointLogin]]
    source_slot: str | None
    table_mappings: str


class ReplicationService:
    """Every replication task of the emulator, and the monitor that measures and publishes them."""

    def __init__(
        self, server: Callable[[], PostgresServer], *, start: bool = True, clock: Callable[[], float] = time.time
    ) -> None:
        self._server = server
        self._clock = clock
        self._tasks: dict[str, TaskReplication] = {}
        self._samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=SAMPLES_KEPT)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._last_metrics = 0.0
        if start:
            threading.Thread(target=self._monitor, name="dms-monitor", daemon=True).start()

    # ----------------------------------------------------------------- task lifecycle

    def task(self, task_arn: str) -> TaskReplication | None:
        with self._lock:
            return self._tasks.get(task_arn)

    def start(self, replication: TaskReplication, request: StartRequest) -> None:
        """Carry out start-replication, resume-processing or reload-target in the background."""
        with self._lock:
            known = self._tasks.get(replication.task_arn)
            if known is not None and request.start_type != "start-replication":
                replication = known
            self._tasks[replication.task_arn] = replication
        with replication.lock:
            replication.status, replication.failure, replication.stop_reason = "starting", None, None
            replication.started_at, replication.stopped_at = self._clock(), None
        threading.Thread(
            target=self._start,
            args=(replication, request),
            name=f"dms-start-{replication.task_id}",
            daemon=True,
        ).start()

    def _start(self, replication: TaskReplication, request: StartRequest) -> None:
        try:
            with replication.lock:
                if request.start_type == "resume-processing" and replication.subscription:
                    target = self._target(replication)
                    try:
                        target.run(f"ALTER SUBSCRIPTION {quote_identifier(replication.subscription)} ENABLE")
                    finally:
                        target.close()
                else:
                    replication.source, replication.target = request.resolve()
                    self._check_logins(replication)
                    reload = request.start_type == "reload-target"
                    if reload:
                        self._teardown(replication)
                    self._set_up(replication, request.source_slot, request.table_mappings, truncate=reload)
                replication.status = "running"
        except Exception as error:
            with replication.lock:
                replication.status, replication.failure = "failed", str(error)
                replication.stopped_at = self._clock()

    def _check_logins(self, replication: TaskReplication) -> None:
        """Test connection: each endpoint's user and password must log in to its database."""
        for role, login in (("source", replication.source), ("target", replication.target)):
            assert login is not None
            if not login.username or not login.password:
                raise EmulatorError(f"Test connection for the {role} endpoint failed: no username and password")
            try:
                self._server().login(login.database.physical, login.username, login.password).close()
            except Exception as error:
                raise EmulatorError(
                    f"Test connection for the {role} endpoint ({login.database.label}) failed: {_message(error)}"
                ) from None

    def _source(self, replication: TaskReplication) -> Any:
        assert replication.source is not None
        return self._server().connect(replication.source.database.physical)

    def _target(self, replication: TaskReplication) -> Any:
        assert replication.target is not None
        return self._server().connect(replication.target.database.physical)

    def _target_as_endpoint_user(self, replication: TaskReplication) -> Any:
        """The target as its endpoint's user: the tables DMS creates belong to that user, as on AWS."""
        login = replication.target
        assert login is not None and login.username and login.password
        return self._server().login(login.database.physical, login.username, login.password)

    def _set_up(
        self, replication: TaskReplication, source_slot: str | None, table_mappings: str, truncate: bool
    ) -> None:
        source = self._source(replication)
        target = self._target(replication)
        target_user = self._target_as_endpoint_user(replication)
        try:
            available = source.run(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN "
                "('pg_catalog', 'information_schema') ORDER BY 1, 2"
            )
            tables = selected_tables(table_mappings, [(s, t) for s, t in available])
            if not tables:
                raise EmulatorError("No tables were found at task initialization: the table mappings select nothing")
            replication.tables = {key: TableProgress(*key) for key in tables}
            replication.subscription = object_name("dms_sub", replication.task_id)
            if replication.migration_type == "cdc" and source_slot:
                replication.publication, replication.owns_publication = _existing_publication(source, tables), False
            else:
                self._own_publication(replication, source, tables)
            self._prepare_slot(replication, source, source_slot)
            for schema, table in tables:
                self._ensure_target_table(source, target_user, schema, table, truncate)
            full_load = replication.migration_type in ("full-load", "full-load-and-cdc")
            assert replication.source is not None  # as in _source
            conninfo = self._server().superuser_conninfo(replication.source.database.physical)
            target.run(
                f"CREATE SUBSCRIPTION {quote_identifier(replication.subscription)} "
                f"CONNECTION {quote_literal(conninfo)} PUBLICATION {quote_identifier(replication.publication)} "
                f"WITH (create_slot = false, slot_name = {quote_literal(replication.slot)}, "
                f"copy_data = {'true' if full_load else 'false'}, disable_on_error = true)"
            )
        finally:
            source.close()
            target.close()
            target_user.close()

    @staticmethod
    def _own_publication(replication: TaskReplication, source: Any, tables: list[tuple[str, str]]) -> None:
        names = ", ".join(qualified(*key) for key in tables)
        replication.publication, replication.owns_publication = object_name("dms_pub", replication.task_id), True
        if source.run("SELECT 1 FROM pg_publication WHERE pubname = :name", name=replication.publication):
            source.run(f"ALTER PUBLICATION {quote_identifier(replication.publication)} SET TABLE {names}")
        else:
            source.run(f"CREATE PUBLICATION {quote_identifier(replication.publication)} FOR TABLE {names}")

    def _prepare_slot(self, replication: TaskReplication, source: Any, source_slot: str | None) -> None:
        if replication.migration_type == "cdc" and source_slot:
            found = source.run(
                "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = :slot "
                "AND database = current_database()",
                slot=source_slot,
            )
            if not found:
                raise EmulatorError(f"the source endpoint's replication slot {source_slot} does not exist")
            replication.slot, replication.owns_slot = source_slot, False
            if replication.cdc_start_position:
                source.run(
                    "SELECT pg_replication_slot_advance(:slot, CAST(:lsn AS pg_lsn))",
                    slot=source_slot,
                    lsn=replication.cdc_start_position,
                )
            return
        if replication.migration_type == "cdc" and replication.cdc_start_position:
            raise EmulatorError(
                "a CDC start position needs the source endpoint's replication slot "
                "(PostgreSQLSettings SlotName) that was created at that position"
            )
        replication.slot, replication.owns_slot = object_name("dms_slot", replication.task_id), True
        if not source.run("SELECT 1 FROM pg_replication_slots WHERE slot_name = :slot", slot=replication.slot):
            source.run("SELECT pg_create_logical_replication_slot(:slot, 'pgoutput')", slot=replication.slot)

    @staticmethod
    def _ensure_target_table(source: Any, target: Any, schema: str, table: str, truncate: bool) -> None:
        """Create a missing target table as DMS does: columns and primary key only."""
        if target.run(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = :schema AND table_name = :table",
            schema=schema,
            table=table,
        ):
            if truncate:
                target.run(f"TRUNCATE {qualified(schema, table)}")
            return
        columns = source.run(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a "
            "WHERE a.attrelid = CAST(:name AS regclass) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            name=qualified(schema, table),
        )
        key = source.run(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = CAST(:name AS regclass) AND i.indisprimary",
            name=qualified(schema, table),
        )
        definitions = [f"{quote_identifier(n)} {t}{' NOT NULL' if not_null else ''}" for n, t, not_null in columns]
        if key:
            definitions.append(f"PRIMARY KEY ({', '.join(quote_identifier(row[0]) for row in key)})")
        target.run(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
        target.run(f"CREATE TABLE {qualified(schema, table)} ({', '.join(definitions)})")

    def stop(self, task_arn: str) -> None:
        replication = self.task(task_arn)
        if replication is None:
            return
        with replication.lock:
            if replication.subscription and replication.target is not None:
                target = self._target(replication)
                try:
                    target.run(f"ALTER SUBSCRIPTION {quote_identifier(replication.subscription)} DISABLE")
                finally:
                    target.close()
            replication.status, replication.stopped_at = "stopped", self._clock()
            replication.stop_reason = "Stop Reason STOPPED_BY_USER"

    def delete(self, task_arn: str) -> None:
        with self._lock:
            replication = self._tasks.pop(task_arn, None)
        if replication is not None:
            with replication.lock:
                self._teardown(replication)

    def _teardown(self, replication: TaskReplication) -> None:
        """Drop the subscription, the slot this task created and the publication."""
        if replication.target is not None and replication.subscription:
            target = self._target(replication)
            try:
                name = quote_identifier(replication.subscription)
                if target.run("SELECT 1 FROM pg_subscription WHERE subname = :name", name=replication.subscription):
                    target.run(f"ALTER SUBSCRIPTION {name} DISABLE")
                    target.run(f"ALTER SUBSCRIPTION {name} SET (slot_name = NONE)")
                    target.run(f"DROP SUBSCRIPTION {name}")
            finally:
                target.close()
        if replication.source is not None and replication.publication:
            source = self._source(replication)
            try:
                if replication.owns_slot and replication.slot:
                    _drop_slot_when_released(source, replication.slot)
                if replication.owns_publication:
                    source.run(f"DROP PUBLICATION IF EXISTS {quote_identifier(replication.publication)}")
            finally:
                source.close()

    # ----------------------------------------------------------------- progress and statistics

    def _subscription_states(self, replication: TaskReplication, target: Any) -> dict[tuple[str, str], str]:
        rows = target.run(
            "SELECT n.nspname, c.relname, sr.srsubstate FROM pg_subscription_rel sr "
            "JOIN pg_subscription s ON s.oid = sr.srsubid JOIN pg_class c ON c.oid = sr.srrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE s.subname = :name",
            name=replication.subscription,
        )
        return {(schema, table): state for schema, table, state in rows}

    def refresh(self, replication: TaskReplication) -> None:
        """Update table progress, notice a finished full load and an apply error that disabled the task."""
        with replication.lock:
            if replication.status not in ("running", "stopped") or replication.target is None:
                return
            target = self._target(replication)
            try:
                states = self._subscription_states(replication, target)
                counters = {
                    (s, t): (i, u, d)
                    for s, t, i, u, d in target.run(
                        "SELECT schemaname, relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"
                    )
                }
                now = self._clock()
                for key, progress in replication.tables.items():
                    state = states.get(key, "i" if replication.migration_type != "cdc" else "r")
                    if state in "dfs" and progress.full_load_start is None:
                        progress.full_load_start = now
                    if state == "r" and progress.full_load_rows is None:
                        progress.full_load_start = progress.full_load_start or now
                        progress.full_load_end = now
                        progress.baseline = counters.get(key, (0, 0, 0))
                        progress.full_load_rows = progress.baseline[0] if replication.migration_type != "cdc" else 0
                enabled = target.run(
                    "SELECT subenabled FROM pg_subscription WHERE subname = :name", name=replication.subscription
                )
                if replication.status == "running" and enabled and not enabled[0][0]:
                    errors = target.run(
                        "SELECT apply_error_count, sync_error_count FROM pg_stat_subscription_stats "
                        "WHERE subname = :name",
                        name=replication.subscription,
                    )
                    replication.status, replication.stopped_at = "failed", now
                    cause = self._server().last_error(replication.subscription) or "see the PostgreSQL log"
                    replication.failure = (
                        f"Error applying changes on the target ({errors[0][0] if errors else '?'} "
                        f"apply errors), the task stopped: {cause}"
                    )
                if (
                    replication.status == "running"
                    and replication.migration_type == "full-load"
                    and all(p.full_load_rows is not None for p in replication.tables.values())
                ):
                    self._teardown(replication)
                    replication.status, replication.stopped_at = "stopped", now
                    replication.stop_reason = "Stop Reason FULL_LOAD_ONLY_FINISHED"
            finally:
                target.close()

    def task_stats(self, task_arn: str) -> dict[str, Any] | None:
        replication = self.task(task_arn)
        if replication is None:
            return None
        self.refresh(replication)
        with replication.lock:
            tables = list(replication.tables.values())
            loaded = sum(1 for t in tables if t.full_load_rows is not None)
            loading = sum(1 for t in tables if t.full_load_rows is None and t.full_load_start is not None)
            started, stopped = replication.started_at, replication.stopped_at
            return {
                "status": replication.status,
                "failure": replication.failure,
                "stop_reason": replication.stop_reason,
                "stats": {
                    "FullLoadProgressPercent": int(100 * loaded / len(tables)) if tables else 0,
                    "ElapsedTimeMillis": int(((stopped or self._clock()) - (started or self._clock())) * 1000),
                    "TablesLoaded": loaded,
                    "TablesLoading": loading,
                    "TablesQueued": len(tables) - loaded - loading,
                    "TablesErrored": sum(
                        1 for t in tables if replication.status == "failed" and t.full_load_rows is None
                    ),
                    "FreshStartDate": started,
                    "StartDate": started,
                    "StopDate": stopped,
                    "FullLoadStartDate": min((t.full_load_start for t in tables if t.full_load_start), default=None),
                    "FullLoadFinishDate": max((t.full_load_end for t in tables if t.full_load_end), default=None)
                    if tables and loaded == len(tables)
                    else None,
                },
            }

    def table_statistics(self, task_arn: str) -> list[dict[str, Any]]:
        replication = self.task(task_arn)
        if replication is None:
            return []
        self.refresh(replication)
        with replication.lock:
            if replication.target is None:
                return []
            target = self._target(replication)
            try:
                counters = {
                    (s, t): (i, u, d)
                    for s, t, i, u, d in target.run(
                        "SELECT schemaname, relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"
                    )
                }
                states = self._subscription_states(replication, target) if replication.status == "running" else {}
            finally:
                target.close()
            self._validate(replication)
            return [
                self._table_entry(replication, progress, counters.get(key, (0, 0, 0)), states.get(key))
                for key, progress in replication.tables.items()
            ]

    def _table_entry(
        self, replication: TaskReplication, progress: TableProgress, counters: tuple[int, int, int], state: str | None
    ) -> dict[str, Any]:
        loaded = progress.full_load_rows is not None
        inserts, updates, deletes = ((counters[i] - progress.baseline[i]) for i in range(3)) if loaded else (0, 0, 0)
        table_state = "Table completed" if loaded else STATE_NAMES.get(state or "i", "Before load")
        if replication.status == "failed" and not loaded:
            table_state = "Table error"
        entry = {
            "SchemaName": progress.schema,
            "TableName": progress.table,
            "Inserts": inserts,
            "Deletes": deletes,
            "Updates": updates,
            "Ddls": 0,
            "AppliedInserts": inserts,
            "AppliedDeletes": deletes,
            "AppliedUpdates": updates,
            "AppliedDdls": 0,
            "FullLoadRows": progress.full_load_rows or 0,
            "FullLoadCondtnlChkFailedRows": 0,
            "FullLoadErrorRows": 0,
            "FullLoadReloaded": False,
            "LastUpdateTime": self._clock(),
            "TableState": table_state,
            "ValidationPendingRecords": progress.validation_pending,
            "ValidationFailedRecords": progress.validation_failed,
            "ValidationSuspendedRecords": 0,
            "ValidationState": progress.validation_state if replication.validation_enabled else "Not enabled",
        }
        if progress.full_load_start:
            entry["FullLoadStartTime"] = progress.full_load_start
        if progress.full_load_end:
            entry["FullLoadEndTime"] = progress.full_load_end
        return entry

    # ----------------------------------------------------------------- validation

    def _validate(self, replication: TaskReplication) -> None:
        """Compare each loaded table row by row (by primary key); a difference that persists while
        replication has caught up is a failed record, one that may still be in flight is pending."""
        if not replication.validation_enabled or replication.source is None:
            return
        now = self._clock()
        caught_up = self.latency(replication) == (0.0, 0.0)
        source, target = self._source(replication), self._target(replication)
        try:
            for key, progress in replication.tables.items():
                if progress.full_load_rows is None:
                    progress.validation_state = "Pending records"
                    continue
                if now - progress.validated_at < VALIDATION_REFRESH_SECONDS:
                    continue
                progress.validated_at = now
                keys = _primary_key(source, *key)
                if not keys:
                    progress.validation_state = "No primary key"
                    continue
                mismatched = frozenset(
                    _row_digests(source, key, keys).items() ^ _row_digests(target, key, keys).items()
                )
                differing = frozenset(row_key for row_key, _ in mismatched)
                failed = differing & progress.previous_mismatches if caught_up else frozenset()
                progress.previous_mismatches = differing
                progress.validation_failed, progress.validation_pending = len(failed), len(differing - failed)
                progress.validation_state = (
                    "Validated" if not differing else "Mismatched records" if failed else "Pending records"
                )
        finally:
            source.close()
            target.close()

    # ----------------------------------------------------------------- latency and metrics

    def latency(self, replication: TaskReplication) -> tuple[float, float] | None:
        """(CDCLatencySource, CDCLatencyTarget) in seconds, or None when the task is not replicating."""
        if replication.status != "running" or not replication.subscription:
            return None
        admin = self._server().connect()
        try:
            rows = admin.run(
                "SELECT received_lsn - CAST('0/0' AS pg_lsn), latest_end_lsn - CAST('0/0' AS pg_lsn) "
                "FROM pg_stat_subscription WHERE subname = :name AND relid IS NULL",
                name=replication.subscription,
            )
        finally:
            admin.close()
        if not rows or rows[0][0] is None:
            return None
        received, applied = int(rows[0][0]), int(rows[0][1] or 0)
        now = self._clock()
        with self._lock:
            samples = list(self._samples)

        def behind(position: int) -> float:
            waiting = [at for at, lsn in samples if lsn > position]
            return max(0.0, now - min(waiting)) if waiting else 0.0

        return behind(received), behind(applied)

    def _monitor(self) -> None:
        while not self._stopping.wait(SAMPLE_SECONDS):
            try:
                self._sample()
                if self._clock() - self._last_metrics >= METRIC_SECONDS:
                    self._last_metrics = self._clock()
                    self.publish_metrics()
            except Exception as error:  # a task torn down mid-round: measured again next round
                print(f"dms monitor: {error!r}", flush=True)

    def _sample(self) -> None:
        with self._lock:
            if not self._tasks:
                return
        admin = self._server().connect()
        try:
            position = int(admin.run("SELECT pg_current_wal_lsn() - CAST('0/0' AS pg_lsn)")[0][0])
        finally:
            admin.close()
        with self._lock:
            self._samples.append((self._clock(), position))

    def publish_metrics(self) -> list[dict[str, Any]]:
        """Put CDCLatencySource and CDCLatencyTarget of every running task into CloudWatch (AWS/DMS)."""
        from moto.cloudwatch.models import cloudwatch_backends

        published = []
        with self._lock:
            tasks = list(self._tasks.values())
        for replication in tasks:
            measured = self.latency(replication)
            if measured is None:
                continue
            dimensions = [
                {"Name": "ReplicationInstanceIdentifier", "Value": replication.instance_id},
                {"Name": "ReplicationTaskIdentifier", "Value": replication.task_arn.split(":")[-1]},
            ]
            data = [
                {"MetricName": name, "Value": value, "Unit": "Seconds", "Dimensions": dimensions}
                for name, value in zip(("CDCLatencySource", "CDCLatencyTarget"), measured, strict=True)
            ]
            cloudwatch_backends[replication.account_id][replication.region].put_metric_data("AWS/DMS", data)
            published.append(
                {"task": replication.task_id, "CDCLatencySource": measured[0], "CDCLatencyTarget": measured[1]}
            )
        return published

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            tasks = list(self._tasks.values())
        return [
            {
                "task_arn": t.task_arn,
                "status": t.status,
                "failure": t.failure,
                "slot": t.slot,
                "publication": t.publication,
                "subscription": t.subscription,
                "source": t.source.database.physical if t.source else None,
                "target": t.target.database.physical if t.target else None,
                "latency": self.latency(t),
            }
            for t in tasks
        ]

    def stop_all(self) -> None:
        self._stopping.set()


def _existing_publication(source: Any, tables: list[tuple[str, str]]) -> str:
    """A publication of the source covering every selected table. A task that starts from a slot made
    earlier needs one made before that slot: logical decoding reads the catalog as of each change, so a
    publication created afterwards "does not exist" for the changes in between."""
    rows = source.run("SELECT pubname, schemaname, tablename FROM pg_publication_tables ORDER BY pubname")
    covered: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
    for name, schema, table in rows:
        covered[name].add((schema, table))
    for name, published in sorted(covered.items()):
        if set(tables) <= published:
            return name
    raise EmulatorError(
        "a CDC task that starts from the source endpoint's slot needs a publication of "
        f"{', '.join('.'.join(t) for t in tables)} created before that slot "
        "(CREATE PUBLICATION ... FOR TABLE ..., then pg_create_logical_replication_slot)"
    )


def _primary_key(connection: Any, schema: str, table: str) -> list[str]:
    rows = connection.run(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = CAST(:name AS regclass) AND i.indisprimary",
        name=qualified(schema, table),
    )
    return [row[0] for row in rows]


def _row_digests(connection: Any, key: tuple[str, str], columns: list[str]) -> dict[str, str]:
    key_sql = " || '|' || ".join(f"CAST({quote_identifier(c)} AS text)" for c in columns)
    rows = connection.run(f"SELECT {key_sql}, md5(CAST(t.* AS text)) FROM {qualified(*key)} AS t")
    return {row_key: digest for row_key, digest in rows}


def _drop_slot_when_released(source: Any, slot: str) -> None:
    deadline = time.monotonic() + 10
    while source.run("SELECT active FROM pg_replication_slots WHERE slot_name = :slot", slot=slot) == [[True]]:
        if time.monotonic() > deadline:
            raise EmulatorError(f"replication slot {slot} is still in use")
        time.sleep(0.1)
    if source.run("SELECT 1 FROM pg_replication_slots WHERE slot_name = :slot", slot=slot):
        source.run("SELECT pg_drop_replication_slot(:slot)", slot=slot)


def _message(error: Exception) -> str:
    details = error.args[0] if error.args and isinstance(error.args[0], dict) else None
    return f"{details.get('S', 'ERROR')}: {details.get('M')}" if details else str(error)
