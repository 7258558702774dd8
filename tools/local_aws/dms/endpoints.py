"""Where a DMS endpoint points locally: an Aurora cluster's database, or the on-premises stand-in.

The host in an endpoint (or in its secret) is never contacted. An aurora-postgresql endpoint
means the local database of the Aurora cluster it names (by its endpoint host or identifier,
or the only cluster there is); a postgres endpoint means the on-premises stand-in database of
that name, created in the same PostgreSQL server and seeded with the payments schema (the
migrations the schema_migrations function applies on Aurora, read through lib/migrations.py) and
rows: the committed seed (onprem_payments_seed.csv), then generated rows up to the seed size the
launcher was given.
"""

from __future__ import annotations

import csv
import hashlib
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lib import migrations
from tools.local_aws.common import EmulatorError
from tools.local_aws.postgres import PostgresServer, quote_identifier, quote_literal

SEED_CSV = Path(__file__).with_name("onprem_payments_seed.csv")
ONPREM_OWNER = "legacy_admin"
AURORA_ENGINES = frozenset({"aurora-postgresql", "aurora-postgresql-serverless"})


@dataclass(frozen=True)
class LocalDatabase:
    """The local PostgreSQL database behind an endpoint, and what to call it in messages."""

    physical: str
    label: str
    kind: str  # "aurora" or "onprem"


@dataclass(frozen=True)
class EndpointLogin:
    database: LocalDatabase
    username: str | None
    password: str | None


def seed_rows(total: int) -> list[dict[str, str]]:
    """The committed seed rows, then deterministic generated ones up to `total` (never fewer than the seed)."""
    with SEED_CSV.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    start = datetime(2024, 6, 1, tzinfo=UTC)
    for index in range(len(rows) + 1, total + 1):
        key = f"legacy-{index:07d}"
        amount, currency, merchant = (
            f"{(index * 7919) % 250000 / 100 + 1:.2f}",
            ("EUR", "USD", "GBP")[index % 3],
            f"merchant-{index % 50:03d}",
        )
        rows.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"legacy-payment/{index}")),
                "idempotency_key": key,
                "request_hash": hashlib.sha256(f"{key}|{amount}|{currency}|{merchant}".encode()).hexdigest(),
                "amount": amount,
                "currency": currency,
                "merchant_id": merchant,
                "status": ("SETTLED", "PENDING", "REFUNDED")[index % 7 % 3],
                "created_at": (start + timedelta(seconds=37 * index)).isoformat(),
            }
        )
    return rows


class OnPremDatabases:
    """The on-premises stand-in databases (one per source database name), created on first need."""

    def __init__(self, server: Callable[[], PostgresServer], seed_total: int) -> None:
        self._server = server
        self._seed_total = seed_total
        self._password = secrets.token_urlsafe(24)
        self._created: dict[str, LocalDatabase] = {}
        self._lock = threading.Lock()

    @staticmethod
    def physical_name(database: str) -> str:
        return f"onprem.{database}"

    def ensure(self, database: str) -> LocalDatabase:
        with self._lock:
            if database not in self._created:
                self._created[database] = self._create(database)
            return self._created[database]

    def _create(self, database: str) -> LocalDatabase:
        physical = self.physical_name(database)
        admin = self._server().connect()
        try:
            if not admin.run("SELECT 1 FROM pg_roles WHERE rolname = :role", role=ONPREM_OWNER):
                admin.run(
                    f"CREATE ROLE {quote_identifier(ONPREM_OWNER)} LOGIN REPLICATION "
                    f"PASSWORD {quote_literal(self._password)}"
                )
            admin.run(f"CREATE DATABASE {quote_identifier(physical)} OWNER {quote_identifier(ONPREM_OWNER)}")
        finally:
            admin.close()
        self._seed(physical)
        return LocalDatabase(physical, f"on-premises database {database} (local stand-in)", "onprem")

    def _seed(self, physical: str) -> None:
        connection = self._server().login(physical, ONPREM_OWNER, self._password)
        try:
            for statement in migrations.statements():
                connection.run(statement)
            connection.run("BEGIN")
            for row in seed_rows(self._seed_total):
                connection.run(
                    "INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_id,"
                    " status, created_at) VALUES (CAST(:id AS uuid), :idempotency_key, :request_hash, "
                    "CAST(:amount AS numeric), :currency, :merchant_id, :status, "
                    "CAST(:created_at AS timestamptz))",
                    **row,
                )
            connection.run("COMMIT")
        finally:
            connection.close()

    def describe(self) -> dict[str, dict[str, Any]]:
        """How to reach each stand-in as its owner (what an operator puts into the DMS source secret)."""
        server = self._server() if self._created else None
        with self._lock:
            return (
                {
                    name: {
                        "host": server.host,
                        "port": server.port,
                        "database": db.physical,
                        "username": ONPREM_OWNER,
                        "password": self._password,
                    }
                    for name, db in self._created.items()
                }
                if server
                else {}
            )


def endpoint_database(endpoint: Any) -> str:
    """The endpoint's database name: its own, or (with a secret, as Terraform sends it) its PostgreSQL settings'."""
    return endpoint.database_name or (endpoint.postgre_sql_settings or {}).get("DatabaseName") or "postgres"


def endpoint_secret(endpoint: Any, account_id: str, region: str) -> tuple[str | None, str | None, str | None]:
    """(username, password, host) of an endpoint: its secret's JSON when it names one, else its own fields."""
    from moto.secretsmanager.models import secretsmanager_backends

    settings = endpoint.postgre_sql_settings or {}
    secret_id = settings.get("SecretsManagerSecretId")
    if not secret_id:
        return (
            endpoint.username or settings.get("Username"),
            endpoint.password or settings.get("Password"),
            endpoint.server_name or settings.get("ServerName"),
        )
    try:
        # None, None: the current version, as moto's own API handler asks (moto annotates both str)
        value = secretsmanager_backends[account_id][region].get_secret_value(secret_id, None, None)  # type: ignore[arg-type]
        document = json.loads(value.get("SecretString") or "")
    except Exception:
        raise EmulatorError(
            f"the secret {secret_id} of endpoint {endpoint.endpoint_identifier} has no JSON value "
            "with username and password: put the credentials into it first"
        ) from None
    return document.get("username"), document.get("password"), document.get("host")


def resolve_endpoint(
    endpoint: Any, account_id: str, region: str, onprem: OnPremDatabases, clusters: list[Any], host_tag: str | None
) -> EndpointLogin:
    """The local database and credentials behind a moto DMS Endpoint."""
    username, password, secret_host = endpoint_secret(endpoint, account_id, region)
    if endpoint.engine_name in AURORA_ENGINES:
        settings = endpoint.postgre_sql_settings or {}
        cluster = _aurora_cluster(
            endpoint, clusters, [endpoint.server_name, settings.get("ServerName"), secret_host, host_tag]
        )
        logical = endpoint_database(endpoint)
        return EndpointLogin(
            LocalDatabase(cluster.physical(logical), f"cluster {cluster.identifier} database {logical}", "aurora"),
            username,
            password,
        )
    if endpoint.engine_name == "postgres":
        return EndpointLogin(onprem.ensure(endpoint_database(endpoint)), username, password)
    raise EmulatorError(
        f"endpoint {endpoint.endpoint_identifier}: engine {endpoint.engine_name} is not emulated "
        "(only postgres and aurora-postgresql)"
    )


def _aurora_cluster(endpoint: Any, clusters: list[Any], hosts: list[str | None]) -> Any:
    for host in filter(None, hosts):
        named = [cluster for cluster in clusters if host.split(".")[0] == cluster.identifier]
        if len(named) == 1:
            return named[0]
    if len(clusters) == 1:
        return clusters[0]
    raise EmulatorError(
        f"endpoint {endpoint.endpoint_identifier}: cannot tell which of {len(clusters)} Aurora "
        "clusters it means (set its server name or its secret's host to the cluster endpoint)"
    )
