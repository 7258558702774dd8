"""Schema migrations: applies migrations/NNNN_<name>.sql in order through the RDS Data API, and keeps
the payment API's database logins and their secret in step. Terraform invokes it once per deploy
whenever a migration changes; it may also be invoked by hand (every run is idempotent).

Environment:
    DB_CLUSTER_ARN     Aurora cluster ARN (Data API resourceArn)
    DB_NAME            database the migrations apply to
    MASTER_SECRET_ARN  the RDS-managed master secret; only this function may read it
    APP_SECRET_ARN     secret the stack creates empty; receives the API's login as RDS secrets look:
                       {"username", "password", "engine": "postgres", "host", "port", "dbname"}
    DB_HOST, DB_PORT   the cluster's writer endpoint and port, written into that secret
    LOG_LEVEL          optional, default INFO

Event: {} or {"migrations_sha256": "<64 lowercase hex>"}. When given (Terraform passes the hash it
keys the invocation on) it must equal `migrations_digest` of the files in this package, so a
stale package never runs. The digest is what `sha256sum *.sql | sha256sum` prints inside
migrations/: the SHA-256 of the lines "<file sha256>  <file name>\\n", sorted by name.

One run, in one Data API transaction as the master user:
 1. takes a transaction-scoped advisory lock (pg_try_advisory_xact_lock, polled while the
    function has time), so concurrent runs take turns; nothing is created before it is held;
 2. creates the bookkeeping table migrations.schema_migrations (version, name, checksum,
    applied_at) in its own schema: `public.%` table mappings do not replicate it, and the API's
    role has no privilege on that schema;
 3. refuses when an applied file was changed (checksum) or when a pending version is lower than
    an applied one; otherwise applies every pending file's statements in order and records it;
 4. keeps the API's roles: APP_GROUP_ROLE (NOLOGIN) holds exactly APP_TABLE_PRIVILEGES and USAGE
    on schema public, nothing else; two login roles (APP_LOGIN_ROLES) inherit it;
 5. gives a new password to the login the app secret does not name now: generated here with
    `secrets`, it reaches PostgreSQL only as a SCRAM-SHA-256 verifier (never in a statement log).
It then commits and stores that login in the app secret with PutSecretValue. The login the API
uses meanwhile keeps its password (the alternating-users rotation), so no request fails during
a rotation, and a run that fails before PutSecretValue leaves the API's login untouched.

A failed run rolls back everything it did in the database (PostgreSQL DDL is transactional) and
raises, so the deploy fails with its message. Statements that cannot run in a transaction block
(CREATE INDEX CONCURRENTLY, ...) are therefore not supported in migration files.

Response: {"ok": true, "database", "schema_version", "applied": [file names],
           "already_applied": int, "newer_versions": [int], "migrations_sha256",
           "app_login", "app_secret_version"}          (never a password)
"""

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
import uuid

from lambda_support import error_code, handler_toolkit, invocation_logging, require_environment
from migration_files import MIGRATIONS_DIR, MigrationError, load_migrations, migrations_digest, split_statements  # noqa: F401

DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")
BOOKKEEPING_SCHEMA = "migrations"
BOOKKEEPING_TABLE = f"{BOOKKEEPING_SCHEMA}.schema_migrations"
# The advisory lock every run holds until it commits: the first 8 bytes of sha256("schema_migrations").
LOCK_KEY = int.from_bytes(hashlib.sha256(b"schema_migrations").digest()[:8], "big", signed=True)
LOCK_POLL_SECONDS = 0.25
LOCK_WAIT_RESERVE_MS = 60_000  # stop waiting for the lock when less than this is left to apply
DEFAULT_LOCK_WAIT_SECONDS = 120.0  # without a Lambda context (direct calls)

APP_GROUP_ROLE = "payments_app"
APP_LOGIN_ROLES = ("payments_app_a", "payments_app_b")
# What the payment API needs and nothing more: it inserts and reads payments. Its
# INSERT ... ON CONFLICT DO NOTHING needs no UPDATE, so none is granted; no DDL, no TRUNCATE.
APP_TABLE_PRIVILEGES = {"public.payments": ("SELECT", "INSERT")}
PASSWORD_BYTES = 32
SCRAM_ITERATIONS = 4096

# boto3 loads lazily with the first client: bad events are answered without paying for it.
LOGGER, log, aws_client = handler_toolkit(
    "schema_migrations", connect_timeout=5, read_timeout=60, retries={"mode": "standard", "max_attempts": 5}
)
_clients = aws_client.cache  # tests may pre-fill it


def pending_migrations(migrations, applied):
    """The migrations still to apply, given the applied {version: {"name", "checksum"}} rows.
    Raises MigrationError when an applied file changed or a pending version is below an applied one."""
    by_version = {migration["version"]: migration for migration in migrations}
    for version, row in sorted(applied.items()):
        migration = by_version.get(version)
        if migration and migration["checksum"] != row["checksum"]:
            raise MigrationError(
                f"migrations/{migration['name']} was changed after it was applied (recorded checksum "
                f"{row['checksum'][:12]}..., file {migration['checksum'][:12]}...); add a new migration instead"
            )
    pending = [migration for migration in migrations if migration["version"] not in applied]
    if pending and applied and pending[0]["version"] < max(applied):
        raise MigrationError(
            f"migrations/{pending[0]['name']} is not applied but version "
            f"{max(applied):04d} is; migrations apply in version order only"
        )
    return pending


# --------------------------------------------------------------------------- configuration and event
def load_config():
    names = ("DB_CLUSTER_ARN", "DB_NAME", "MASTER_SECRET_ARN", "APP_SECRET_ARN", "DB_HOST", "DB_PORT")
    require_environment(names, MigrationError)
    port = os.environ["DB_PORT"]
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise MigrationError(f"DB_PORT={port[:16]!r} must be a port number (1-65535)")
    return {
        "cluster_arn": os.environ["DB_CLUSTER_ARN"],
        "database": os.environ["DB_NAME"],
        "master_secret_arn": os.environ["MASTER_SECRET_ARN"],
        "app_secret_arn": os.environ["APP_SECRET_ARN"],
        "host": os.environ["DB_HOST"],
        "port": int(port),
    }


def expected_digest(event):
    """The migrations_sha256 the event asks for, or None; refuses anything else in the event."""
    if event is None:
        return None
    if not isinstance(event, dict):
        raise MigrationError('event must be a JSON object: {} or {"migrations_sha256": "<64 hex>"}')
    unknown = sorted(str(key)[:64] for key in set(event) - {"migrations_sha256"})
    if unknown:
        raise MigrationError(f"unknown event key(s): {', '.join(unknown)}; expected migrations_sha256 only")
    digest = event.get("migrations_sha256")
    if digest is not None and not (isinstance(digest, str) and DIGEST_PATTERN.fullmatch(digest)):
        raise MigrationError("migrations_sha256 must be 64 lowercase hex digits")
    return digest


# --------------------------------------------------------------------------- AWS clients
def rds_data_client():
    """The module's cached rds-data client. Tests replace this function."""
    return aws_client("rds-data")


def secrets_client():
    return aws_client("secretsmanager")


class Transaction:
    """One Data API transaction as the master user: `run` executes a statement inside it."""

    def __init__(self, client, config):
        self.client = client
        self.target = {"resourceArn": config["cluster_arn"], "secretArn": config["master_secret_arn"]}
        response = client.begin_transaction(**self.target, database=config["database"])
        self.transaction_id = response["transactionId"]
        self.database = config["database"]

    def run(self, sql, parameters=(), *, records=False):
        request = {**self.target, "database": self.database, "sql": sql, "transactionId": self.transaction_id}
        if parameters:
            request["parameters"] = list(parameters)
        if records:
            request["formatRecordsAs"] = "JSON"
        response = self.client.execute_statement(**request)
        return json.loads(response.get("formattedRecords") or "[]") if records else response

    def commit(self):
        self.client.commit_transaction(**self.target, transactionId=self.transaction_id)

    def rollback(self):
        """Best effort: a transaction that cannot be rolled back is rolled back by the Data API's timeout."""
        try:
            self.client.rollback_transaction(**self.target, transactionId=self.transaction_id)
        except Exception as error:  # noqa: BLE001 - the original failure is the one to report
            log(logging.WARNING, "rollback failed", error_code=error_code(error))


# --------------------------------------------------------------------------- database steps
def lock_deadline(context):
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        return time.monotonic() + max(0, remaining() - LOCK_WAIT_RESERVE_MS) / 1000
    return time.monotonic() + DEFAULT_LOCK_WAIT_SECONDS


def acquire_lock(transaction, deadline):
    parameters = [{"name": "key", "value": {"longValue": LOCK_KEY}}]
    waited = False
    while True:
        rows = transaction.run("SELECT pg_try_advisory_xact_lock(:key) AS locked", parameters, records=True)
        if rows and rows[0]["locked"] is True:
            if waited:
                log(logging.INFO, "migration lock acquired after waiting")
            return
        if time.monotonic() + LOCK_POLL_SECONDS > deadline:
            raise MigrationError("another schema_migrations run holds the migration lock; retry when it is done")
        if not waited:
            log(logging.INFO, "waiting for the migration lock held by another run")
        waited = True
        time.sleep(LOCK_POLL_SECONDS)


def applied_migrations(transaction):
    transaction.run(f"CREATE SCHEMA IF NOT EXISTS {BOOKKEEPING_SCHEMA}")
    transaction.run(
        f"CREATE TABLE IF NOT EXISTS {BOOKKEEPING_TABLE} ("
        "version integer PRIMARY KEY CHECK (version > 0), "
        "name text NOT NULL, "
        "checksum char(64) NOT NULL, "
        "applied_at timestamptz NOT NULL DEFAULT now())"
    )
    rows = transaction.run(f"SELECT version, name, checksum::text AS checksum FROM {BOOKKEEPING_TABLE}", records=True)
    return {row["version"]: {"name": row["name"], "checksum": row["checksum"]} for row in rows}


def apply_migration(transaction, migration):
    for statement in migration["statements"]:
        transaction.run(statement)
    transaction.run(
        f"INSERT INTO {BOOKKEEPING_TABLE} (version, name, checksum) VALUES (:version, :name, :checksum)",
        [
            {"name": "version", "value": {"longValue": migration["version"]}},
            {"name": "name", "value": {"stringValue": migration["name"]}},
            {"name": "checksum", "value": {"stringValue": migration["checksum"]}},
        ],
    )
    log(logging.INFO, "migration applied", migration=migration["name"], statements=len(migration["statements"]))


def sql_list(names):
    return ", ".join(f"'{name}'" for name in names)


def role_statements(existing):
    """CREATE what is missing, then the memberships. Only attributes a CREATEROLE (not superuser)
    master may set: RDS's master user is not a PostgreSQL superuser."""
    statements = []
    if APP_GROUP_ROLE not in existing:
        statements.append(f"CREATE ROLE {APP_GROUP_ROLE} NOLOGIN")
    statements.append(f"ALTER ROLE {APP_GROUP_ROLE} NOLOGIN NOCREATEDB NOCREATEROLE")
    for login in APP_LOGIN_ROLES:
        if login not in existing:
            statements.append(f"CREATE ROLE {login} LOGIN")
        statements.append(f"ALTER ROLE {login} LOGIN INHERIT NOCREATEDB NOCREATEROLE")
        statements.append(f"GRANT {APP_GROUP_ROLE} TO {login}")
    return statements


def privilege_statements():
    """Exactly APP_TABLE_PRIVILEGES for the group role, no direct privileges for the logins,
    no CREATE on schema public for anyone but its owner, the bookkeeping schema for its owner only."""
    everyone = ", ".join((APP_GROUP_ROLE, *APP_LOGIN_ROLES))
    statements = [
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"REVOKE ALL ON SCHEMA {BOOKKEEPING_SCHEMA} FROM PUBLIC",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {BOOKKEEPING_SCHEMA} FROM PUBLIC",
        f"REVOKE ALL ON SCHEMA public FROM {everyone}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {everyone}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {everyone}",
        f"GRANT USAGE ON SCHEMA public TO {APP_GROUP_ROLE}",
    ]
    statements += [
        f"GRANT {', '.join(privileges)} ON {table} TO {APP_GROUP_ROLE}"
        for table, privileges in APP_TABLE_PRIVILEGES.items()
    ]
    return statements


def ensure_app_roles(transaction):
    rows = transaction.run(
        f"SELECT rolname::text AS rolname FROM pg_roles WHERE rolname IN "
        f"({sql_list((APP_GROUP_ROLE, *APP_LOGIN_ROLES))})",
        records=True,
    )
    for statement in role_statements({row["rolname"] for row in rows}) + privilege_statements():
        transaction.run(statement)


def scram_sha256_verifier(password, salt, iterations=SCRAM_ITERATIONS):
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802/7677): a role given this
    string as its password authenticates with `password`, which the server never sees."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    encode = lambda data: base64.b64encode(data).decode("ascii")  # noqa: E731
    return (
        f"SCRAM-SHA-256${iterations}:{encode(salt)}${encode(hashlib.sha256(client_key).digest())}:{encode(server_key)}"
    )


def set_login_password(transaction, login, password):
    verifier = scram_sha256_verifier(password, secrets.token_bytes(16))
    transaction.run(f"ALTER ROLE {login} PASSWORD '{verifier}'")  # base64, '$' and ':' only


# --------------------------------------------------------------------------- the app secret
def current_app_login(config):
    """The login the app secret names now, or None (no value yet, or not one of ours)."""
    try:
        response = secrets_client().get_secret_value(SecretId=config["app_secret_arn"])
    except Exception as error:
        if error_code(error) == "ResourceNotFoundException":  # created empty: no AWSCURRENT version yet
            return None
        raise
    try:
        username = json.loads(response.get("SecretString") or "{}").get("username")
    except (ValueError, AttributeError):
        log(logging.WARNING, "app secret holds no JSON object; it will be replaced")
        return None
    return username if username in APP_LOGIN_ROLES else None


def next_login(current):
    """The login to give a new password: the one the API does not use now."""
    return APP_LOGIN_ROLES[1] if current == APP_LOGIN_ROLES[0] else APP_LOGIN_ROLES[0]


def store_app_secret(config, login, password):
    value = {
        "username": login,
        "password": password,
        "engine": "postgres",
        "host": config["host"],
        "port": config["port"],
        "dbname": config["database"],
    }
    response = secrets_client().put_secret_value(
        SecretId=config["app_secret_arn"],
        ClientRequestToken=str(uuid.uuid4()),
        SecretString=json.dumps(value, separators=(",", ":")),
    )
    return response["VersionId"]


# --------------------------------------------------------------------------- entry point
def migrate(event, context):
    requested_digest = expected_digest(event)
    migrations = load_migrations(MIGRATIONS_DIR)
    digest = migrations_digest(migrations)
    if requested_digest is not None and requested_digest != digest:
        raise MigrationError(
            f"this package's migrations have digest {digest}, the deploy expects "
            f"{requested_digest}: the function's code is not the one this deploy built"
        )
    config = load_config()
    transaction = Transaction(rds_data_client(), config)
    try:
        acquire_lock(transaction, lock_deadline(context))
        applied = applied_migrations(transaction)
        pending = pending_migrations(migrations, applied)
        for migration in pending:
            apply_migration(transaction, migration)
        ensure_app_roles(transaction)
        login = next_login(current_app_login(config))
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        set_login_password(transaction, login, password)
        transaction.commit()
    except BaseException:
        transaction.rollback()
        raise
    version_id = store_app_secret(config, login, password)
    newer = sorted(version for version in applied if version > len(migrations))
    if newer:
        log(logging.WARNING, "the database has migrations this package does not know (a newer deploy?)", versions=newer)
    result = {
        "ok": True,
        "database": config["database"],
        "schema_version": max([len(migrations), *applied]),
        "applied": [migration["name"] for migration in pending],
        "already_applied": len(applied),
        "newer_versions": newer,
        "migrations_sha256": digest,
        "app_login": login,
        "app_secret_version": version_id,
    }
    log(logging.INFO, "schema migrated", **{key: value for key, value in result.items() if key != "ok"})
    return result


@invocation_logging(log)
def handler(event, context):
    return migrate(event, context)
