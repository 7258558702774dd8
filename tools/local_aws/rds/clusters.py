"""Aurora clusters on the local PostgreSQL server: each cluster's databases, its master role, its logins.

Every Aurora PostgreSQL cluster gets its own databases on the emulator's one PostgreSQL 15
server ("<cluster id>.<DatabaseName>" and "<cluster id>.postgres"), created with the cluster
and dropped with it, owned by the cluster's master user. The master user's password is the
one in the cluster's secret (the RDS-managed one, or MasterUserPassword).

`resolve` is the Data API's (and DMS's) way in: a cluster ARN and a secret ARN become a login
to that cluster's database with the secret's user name and password, authenticated by
PostgreSQL itself. A secret qualifies if it is the cluster's own master secret, or names a
user that is not another cluster's: roles are server-wide in PostgreSQL, so the first cluster
a non-master role logs into claims it (see docs/local-runtime.md).

RDS's rds_replication role lets its members create and drop replication slots; PostgreSQL lets
only roles with the REPLICATION attribute do so, and only a superuser may set it. The server
has a NOLOGIN rds_replication role, and a connection of a non-master login gives that login
REPLICATION exactly while it is a member (`_apply_rds_replication`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.local_aws.postgres import (
    PostgresServer,
    apply_rds_replication,
    ensure_rds_replication_role,
    quote_identifier,
    quote_literal,
)
from tools.local_aws.rdsdata.engine import DataApiError, Target

DEFAULT_DATABASE = "postgres"
MAX_IDENTIFIER = 63


def physical_name(cluster_id: str, database: str) -> str:
    """The PostgreSQL database that stands for `database` of the cluster `cluster_id`."""
    name = f"{cluster_id}.{database}"
    if len(name) > MAX_IDENTIFIER:
        digest = hashlib.sha256(name.encode()).hexdigest()[:10]
        name = f"{cluster_id[: MAX_IDENTIFIER - len(database) - 12]}~{digest}.{database}"[:MAX_IDENTIFIER]
    return name


@dataclass
class ClusterDatabase:
    arn: str
    identifier: str
    master_username: str
    databases: dict[str, str] = field(default_factory=dict)  # logical name -> physical name

    def physical(self, database: str | None) -> str:
        logical = database or DEFAULT_DATABASE
        return self.databases.get(logical) or physical_name(self.identifier, logical)


class ClusterDatabases:
    """The clusters' databases and roles on one PostgreSQL server (started when first needed)."""

    def __init__(self, server: Callable[[], PostgresServer], forget_logins: Callable[[Callable], None]) -> None:
        self._server = server
        self._forget_logins = forget_logins
        self._clusters: dict[str, ClusterDatabase] = {}
        self._passwords: dict[str, str] = {}  # role -> the password PostgreSQL has for it
        self._claimed: dict[str, str] = {}  # non-master role -> ARN of the cluster it belongs to
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- lifecycle

    def master_password(self, username: str) -> str:
        """The password of a master user: a new random one, or the one a cluster with that user already has."""
        with self._lock:
            return self._passwords.setdefault(username, secrets.token_urlsafe(24))

    def create(self, cluster: Any, password: str) -> ClusterDatabase:
        """Databases and master role for a new cluster (moto DBCluster)."""
        entry = ClusterDatabase(cluster.db_cluster_arn, cluster.db_cluster_identifier, cluster.master_username)
        logical = {DEFAULT_DATABASE, cluster.database_name or DEFAULT_DATABASE}
        entry.databases = {name: physical_name(entry.identifier, name) for name in sorted(logical)}
        with self._lock:
            admin = self._server().connect()
            try:
                self._ensure_role(admin, entry.master_username, password)
                ensure_rds_replication_role(admin)
                for physical in entry.databases.values():
                    admin.run(
                        f"CREATE DATABASE {quote_identifier(physical)} OWNER {quote_identifier(entry.master_username)}"
                    )
            finally:
                admin.close()
            self._clusters[entry.arn] = entry
        return entry

    def _ensure_role(self, admin: Any, role: str, password: str) -> None:
        exists = admin.run("SELECT 1 FROM pg_roles WHERE rolname = :role", role=role)
        verb = "ALTER" if exists else "CREATE"
        # Aurora's master user is rds_superuser, not a superuser: it may create roles and databases, and
        # (rds_replication) replication slots.
        admin.run(
            f"{verb} ROLE {quote_identifier(role)} WITH LOGIN CREATEROLE CREATEDB REPLICATION "
            f"PASSWORD {quote_literal(password)}"
        )
        self._passwords[role] = password

    def delete(self, cluster_arn: str) -> None:
        with self._lock:
            entry = self._clusters.pop(cluster_arn, None)
            if entry is None:
                return
            physical = set(entry.databases.values())
            self._forget_logins(lambda key: len(key) > 2 and key[2] in physical)
            admin = self._server().connect()
            try:
                for name in physical:
                    admin.run(f"DROP DATABASE IF EXISTS {quote_identifier(name)} WITH (FORCE)")
                if not any(c.master_username == entry.master_username for c in self._clusters.values()):
                    admin.run(f"DROP ROLE IF EXISTS {quote_identifier(entry.master_username)}")
                    self._passwords.pop(entry.master_username, None)
            finally:
                admin.close()
            self._claimed = {role: arn for role, arn in self._claimed.items() if arn != cluster_arn}

    def cluster(self, cluster_arn: str) -> ClusterDatabase | None:
        with self._lock:
            return self._clusters.get(cluster_arn)

    def clusters(self) -> list[ClusterDatabase]:
        with self._lock:
            return list(self._clusters.values())

    # ----------------------------------------------------------------- logins

    def login(
        self, entry: ClusterDatabase, database: str | None, username: str, password: str, *, is_master_secret: bool
    ) -> Target:
        """A login to the cluster's database as username; PostgreSQL checks the password when it opens."""
        with self._lock:
            if is_master_secret and username == entry.master_username and self._passwords.get(username) != password:
                self._sync_master_password(username, password)  # RDS applies a rotated master secret
            if not is_master_secret and username != entry.master_username:
                owner = self._claimed.setdefault(username, entry.arn)
                if owner != entry.arn:
                    raise DataApiError(
                        "DatabaseErrorException",
                        f'FATAL: role "{username}" does not exist in cluster {entry.identifier}',
                    )
        physical = entry.physical(database)
        server = self._server()
        digest = hashlib.sha256(password.encode()).hexdigest()
        if username == entry.master_username:
            return Target(
                key=("cluster", entry.arn, physical, username, digest),
                connect=lambda: server.login(physical, username, password),
            )

        def connect() -> Any:
            self._apply_rds_replication(username)
            return server.login(physical, username, password)

        return Target(key=("cluster", entry.arn, physical, username, digest), connect=connect)

    def _apply_rds_replication(self, username: str) -> None:
        admin = self._server().connect()
        try:
            apply_rds_replication(admin, username)
        finally:
            admin.close()

    def _sync_master_password(self, username: str, password: str) -> None:
        admin = self._server().connect()
        try:
            admin.run(f"ALTER ROLE {quote_identifier(username)} PASSWORD {quote_literal(password)}")
        finally:
            admin.close()
        self._passwords[username] = password
        self._forget_logins(lambda key: len(key) > 3 and key[3] == username)

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"cluster_arn": c.arn, "master_username": c.master_username, "databases": dict(c.databases)}
                for c in self._clusters.values()
            ]


def secret_credentials(secret_string: str | None, secret_arn: str) -> tuple[str, str]:
    """(username, password) from a secret's JSON, or the Data API's InvalidSecretException."""
    try:
        document = json.loads(secret_string or "")
        return str(document["username"]), str(document["password"])
    except (ValueError, KeyError, TypeError):
        raise DataApiError(
            "InvalidSecretException", f"The secret {secret_arn} is not a JSON document with username and password"
        ) from None
