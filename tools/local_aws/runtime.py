"""The local runtime behind the emulator's APIs while `serve` runs: what executes, not what is described.

Patches reach it with `current()` when moto calls them (an invoke, a publish, a new cluster);
`serve` starts it before the first request and stops it (workers, timers, PostgreSQL) when it
stops. The PostgreSQL server starts with the first thing that needs a database.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tools.local_aws.awslambda.invocations import LambdaService
from tools.local_aws.common import EmulatorError, endpoint
from tools.local_aws.dms.endpoints import OnPremDatabases
from tools.local_aws.dms.replication import ReplicationService
from tools.local_aws.elbv2.frontends import LoadBalancerFrontends
from tools.local_aws.events import ScheduleRunner
from tools.local_aws.postgres import PostgresServer
from tools.local_aws.rds.clusters import ClusterDatabases
from tools.local_aws.rdsdata.engine import DataApiEngine
from tools.local_aws.rdsdata.resolver import resolve


@dataclass
class LocalRuntime:
    port: int
    state_dir: Path
    lambdas: LambdaService
    schedules: ScheduleRunner
    load_balancers: LoadBalancerFrontends
    onprem_seed_rows: int
    data_api: DataApiEngine = field(init=False)
    clusters: ClusterDatabases = field(init=False)
    onprem: OnPremDatabases = field(init=False)
    replication: ReplicationService = field(init=False)
    _postgres: PostgresServer | None = field(default=None, init=False)
    _postgres_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.data_api = DataApiEngine(lambda arn, secret, database: resolve(self.clusters, arn, secret, database))
        self.clusters = ClusterDatabases(self.postgres, self.data_api.forget_logins)
        self.onprem = OnPremDatabases(self.postgres, self.onprem_seed_rows)
        self.replication = ReplicationService(self.postgres)

    def postgres(self) -> PostgresServer:
        """The runtime's PostgreSQL 15 server, started on first use."""
        with self._postgres_lock:
            if self._postgres is None:
                self._postgres = PostgresServer(self.state_dir / "postgres").start()
            return self._postgres

    def describe(self) -> dict[str, object]:
        server = self._postgres
        return {
            "port": self.port,
            "state_dir": str(self.state_dir),
            "lambda": self.lambdas.describe(),
            "schedules": self.schedules.describe(),
            "clusters": self.clusters.describe(),
            "load_balancers": self.load_balancers.describe(self.port),
            "replication_tasks": self.replication.describe(),
            "onprem_databases": self.onprem.describe(),
            "postgres": {"host": server.host, "port": server.port} if server else None,
        }

    def stop(self) -> None:
        self.replication.stop_all()
        self.load_balancers.stop()
        self.schedules.stop()
        self.lambdas.stop()
        self.data_api.close()
        with self._postgres_lock:
            if self._postgres is not None:
                self._postgres.stop()
                self._postgres = None


_current: LocalRuntime | None = None


def current() -> LocalRuntime:
    if _current is None:
        raise EmulatorError("the local runtime is not running (only `serve` starts it)")
    return _current


def start_runtime(port: int, state_dir: Path, onprem_seed_rows: int) -> LocalRuntime:
    global _current
    shutil.rmtree(state_dir, ignore_errors=True)  # moto keeps nothing across restarts, neither does this
    state_dir.mkdir(parents=True)
    lambdas = LambdaService(endpoint_url=endpoint(port), functions_dir=state_dir / "functions")
    _current = LocalRuntime(
        port=port,
        state_dir=state_dir,
        lambdas=lambdas,
        schedules=ScheduleRunner(lambdas),
        load_balancers=LoadBalancerFrontends(lambdas),
        onprem_seed_rows=onprem_seed_rows,
    )
    return _current


def stop_runtime() -> None:
    global _current
    if _current is not None:
        _current.stop()
        shutil.rmtree(_current.state_dir, ignore_errors=True)
        _current = None
