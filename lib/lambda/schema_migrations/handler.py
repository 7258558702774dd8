"""Schema migrations: applies migrations/NNNN_<name>.sql in order through the RDS Data API, and keeps
the payment API's database logins and their secret in step. Terraform invokes it once per deploy
whenever a migration changes; it may also be invoked by hand (every run is idempotent).

Environment:
    DB_CLUSTER_ARN     Aurora cluster ARN (Data API resourceArn)
    DB_NAME            database the migrations apply to
    MASTER_SECRET_ARN  the RDS-managed master secret; only this function may read it
    APP_SECRET_ARN     secret the stack creates empty; receives the API's login as RDS secrets look:
                       {"username", "password", "engine": "postgres", "host", "port", "dbname"}
    CUTOVER_SECRET_ARN secret the stack creates empty; receives the cutover's login (CUTOVER_LOGIN) alike
    CUTOVER_LOGIN      name of the cutover's login (driver and rollback), one per stack
    CUTOVER_TABLES     comma-separated schema.table list the cutover fences and the reverse task carries
    REVERSE_PUBLICATION optional: publication of CUTOVER_TABLES the reverse slot decodes with (pgoutput)
    DMS_CONTROL_SCHEMA optional, default public: where DMS creates awsdms_apply_exceptions on Aurora
    DMS_TARGET_SECRET_ARN optional: the DMS target endpoint's secret; its username is the login that
                       creates awsdms_apply_exceptions (read for the name only, when it holds a value)
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
    `secrets`, it reaches PostgreSQL only as a SCRAM-SHA-256 verifier (never in a statement log);
 6. keeps the cutover's login (CUTOVER_LOGIN, ensure_cutover_login): replication slots, the
    rollback fence's lock, the reverse publication, DMS's exceptions table, no DDL. It keeps the
    password the cutover secret holds (a cutover may be running); a new login or an empty secret
    gets a generated one.
It then commits and stores that login in the app secret with PutSecretValue (and a new cutover
password in the cutover secret). The login the API
uses meanwhile keeps its password (the alternating-users rotation), so no request fails during
a rotation, and a run that fails before PutSecretValue leaves the API's login untouched.

A failed run rolls back everything it did in the database (PostgreSQL DDL is transactional) and
raises, so the deploy fails with its message. Statements that cannot run in a transaction block
(CREATE INDEX CONCURRENTLY, ...) are therefore not supported in migration files.

Response: {"ok": true, "database", "schema_version", "applied": [file names],
           "already_applied": int, "newer_versions": [int], "migrations_sha256",
           "app_login", "app_secret_version", "cutover_login",
           "cutover_secret_version" (null when the secret kept its value)}   (never a password)
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
# The rollback fence's LOCK TABLE ... IN SHARE MODE needs UPDATE, DELETE or TRUNCATE on the table in
# PostgreSQL 15 (https://www.postgresql.org/docs/15/sql-lock.html); UPDATE is the least of them. The
# cutover reads no row of these tables.
CUTOVER_TABLE_PRIVILEGES = ("UPDATE",)
RDS_REPLICATION_ROLE = "rds_replication"
DMS_EXCEPTIONS_TABLE = "awsdms_apply_exceptions"
IDENTIFIER_PATTERN = re.compile(r"[a-z_][a-z0-9_$]{0,62}")
TABLE_PATTERN = re.compile(r"([a-z_][a-z0-9_$]{0,62})\.([a-z_][a-z0-9_$]{0,62})")
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
    names = (
        "DB_CLUSTER_ARN",
        "DB_NAME",
        "MASTER_SECRET_ARN",
        "APP_SECRET_ARN",
        "CUTOVER_SECRET_ARN",
        "CUTOVER_LOGIN",
        "CUTOVER_TABLES",
        "DB_HOST",
        "DB_PORT",
    )
    require_environment(names, MigrationError)
    port = os.environ["DB_PORT"]
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise MigrationError(f"DB_PORT={port[:16]!r} must be a port number (1-65535)")
    return {
        "cluster_arn": os.environ["DB_CLUSTER_ARN"],
        "database": os.environ["DB_NAME"],
        "master_secret_arn": os.environ["MASTER_SECRET_ARN"],
        "app_secret_arn": os.environ["APP_SECRET_ARN"],
        "cutover_secret_arn": os.environ["CUTOVER_SECRET_ARN"],
        "cutover_login": identifier("CUTOVER_LOGIN", os.environ["CUTOVER_LOGIN"]),
        "cutover_tables": cutover_tables(os.environ["CUTOVER_TABLES"]),
        "reverse_publication": identifier("REVERSE_PUBLICATION", os.environ.get("REVERSE_PUBLICATION") or None),
        "control_schema": identifier("DMS_CONTROL_SCHEMA", os.environ.get("DMS_CONTROL_SCHEMA") or "public"),
        "dms_target_secret_arn": os.environ.get("DMS_TARGET_SECRET_ARN") or None,
        "host": os.environ["DB_HOST"],
        "port": int(port),
    }


def identifier(name, value):
    if value is not None and not IDENTIFIER_PATTERN.fullmatch(value):
        raise MigrationError(f"{name}={value[:64]!r} is invalid: must be a lower-case PostgreSQL identifier")
    return value


def cutover_tables(raw):
    tables = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not tables or not all(TABLE_PATTERN.fullmatch(table) for table in tables):
        raise MigrationError(
            f"CUTOVER_TABLES={raw[:128]!r} is invalid: must be a comma-separated list of lower-case schema.table names"
        )
    return tables


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


def quote_identifier(name):
    return '"' + name.replace('"', '""') + '"'


def qualified(table):
    return ".".join(quote_identifier(part) for part in table.split("."))


def cutover_role_statements(login, role, *, has_rds_replication):
    """The cutover's login: LOGIN and what may create and drop replication slots, nothing else. `role` is its
    pg_roles row ({"rolcanlogin", ...}) or None. A role is altered only when it differs: on PostgreSQL 15 a
    login with the REPLICATION attribute may be altered by a superuser only."""
    statements = [] if role else [f"CREATE ROLE {login} LOGIN"]
    wanted = {"rolcanlogin": True, "rolinherit": True, "rolcreatedb": False, "rolcreaterole": False}
    if role and any(role[key] != value for key, value in wanted.items()):
        statements.append(f"ALTER ROLE {login} LOGIN INHERIT NOCREATEDB NOCREATEROLE")
    if has_rds_replication:
        # RDS and Aurora: members of rds_replication may create and drop slots; their master user
        # (rds_superuser, not a PostgreSQL superuser) may grant it but may not set REPLICATION.
        statements.append(f"GRANT {RDS_REPLICATION_ROLE} TO {login}")
    elif not (role and role["rolreplication"]):
        # Plain PostgreSQL has no rds_replication role: the REPLICATION attribute gives the same, and
        # only a superuser may set it there.
        statements.append(f"ALTER ROLE {login} REPLICATION")
    return statements


def cutover_privilege_statements(login, tables):
    """Exactly what the cutover's statements need on the tables (lib/lambda/shared/cutover_ops.py, class
    Aurora), no DDL: the fence's SHARE lock. WAL positions and pg_replication_slots are readable by every
    login; DMS's exceptions table comes with dms_exceptions_statements."""
    schemas = sorted({table.split(".")[0] for table in tables})
    statements = [f"REVOKE ALL ON {qualified(table)} FROM {login}" for table in tables]
    for schema in schemas:  # revoked first, so every run leaves the same ACL, in the same order
        statements += [
            f"REVOKE ALL ON SCHEMA {quote_identifier(schema)} FROM {login}",
            f"GRANT USAGE ON SCHEMA {quote_identifier(schema)} TO {login}",
        ]
    statements += [f"GRANT {', '.join(CUTOVER_TABLE_PRIVILEGES)} ON {qualified(table)} TO {login}" for table in tables]
    return statements


def publication_statement(publication, tables, *, exists):
    """The reverse publication (pgoutput) of the cutover tables: creating or altering one needs their
    ownership, so it is kept here, as the master user; the cutover only uses it."""
    name = quote_identifier(publication)
    verb = f"ALTER PUBLICATION {name} SET" if exists else f"CREATE PUBLICATION {name} FOR"
    return f"{verb} TABLE {', '.join(qualified(table) for table in tables)}"


def dms_exceptions_statements(login, dms_login, control_schema, *, is_member, table_exists):
    """SELECT on awsdms_apply_exceptions, which DMS creates as its target login when a task starts:
    default privileges for the tables that login creates in the control schema, and a grant when the
    table is there already. PostgreSQL 15 lets a role set default privileges for, and grant on tables of,
    only roles it is a member of: the master user (CREATEROLE) makes itself a member first."""
    schema = quote_identifier(control_schema)
    statements = [] if is_member else [f"GRANT {quote_identifier(dms_login)} TO CURRENT_USER"]
    statements.append(f"GRANT USAGE ON SCHEMA {schema} TO {login}")
    statements.append(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_identifier(dms_login)} IN SCHEMA {schema} "
        f"GRANT SELECT ON TABLES TO {login}"
    )
    if table_exists:
        statements.append(f"GRANT SELECT ON {schema}.{DMS_EXCEPTIONS_TABLE} TO {login}")
    return statements


def ensure_cutover_login(transaction, config, dms_login):
    """Keeps the cutover's login and its grants; returns whether the login was created now."""
    login = config["cutover_login"]
    rows = transaction.run(
        "SELECT rolname::text AS rolname, rolcanlogin, rolinherit, rolcreatedb, rolcreaterole, rolreplication "
        f"FROM pg_roles WHERE rolname IN ({sql_list((login, RDS_REPLICATION_ROLE))})",
        records=True,
    )
    roles = {row["rolname"]: row for row in rows}
    statements = cutover_role_statements(login, roles.get(login), has_rds_replication=RDS_REPLICATION_ROLE in roles)
    statements += cutover_privilege_statements(login, config["cutover_tables"])
    publication = config["reverse_publication"]
    if publication:
        found = transaction.run(
            "SELECT 1 AS found FROM pg_publication WHERE pubname = :name",
            [{"name": "name", "value": {"stringValue": publication}}],
            records=True,
        )
        statements.append(publication_statement(publication, config["cutover_tables"], exists=bool(found)))
    for statement in statements:
        transaction.run(statement)
    state = dms_login and dms_login_state(transaction, dms_login, config["control_schema"])
    if state:
        for statement in dms_exceptions_statements(login, dms_login, config["control_schema"], **state):
            transaction.run(statement)
    elif dms_login:
        log(logging.WARNING, "the DMS target login does not exist yet; run again once it does", login=dms_login)
    return login not in roles


def dms_login_state(transaction, dms_login, control_schema):
    """{"is_member", "table_exists"}, or None when the DMS target login or the control schema is missing."""
    rows = transaction.run(
        "SELECT pg_has_role(CURRENT_USER, oid, 'MEMBER') AS is_member, "
        "to_regclass(:table) IS NOT NULL AS table_exists, "
        "EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = :schema) AS has_schema "
        "FROM pg_roles WHERE rolname = :login",
        [
            {"name": "login", "value": {"stringValue": dms_login}},
            {"name": "schema", "value": {"stringValue": control_schema}},
            {"name": "table", "value": {"stringValue": f"{quote_identifier(control_schema)}.{DMS_EXCEPTIONS_TABLE}"}},
        ],
        records=True,
    )
    if not rows or not rows[0]["has_schema"]:
        return None
    return {"is_member": rows[0]["is_member"], "table_exists": rows[0]["table_exists"]}


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
def secret_document(secret_arn):
    """The JSON object a secret holds now, or None (no value yet: the stack creates it empty)."""
    try:
        response = secrets_client().get_secret_value(SecretId=secret_arn)
    except Exception as error:
        if error_code(error) == "ResourceNotFoundException":  # created empty: no AWSCURRENT version yet
            return None
        raise
    try:
        document = json.loads(response.get("SecretString") or "{}")
    except ValueError:
        document = None
    if not isinstance(document, dict):
        log(logging.WARNING, "secret holds no JSON object", secret=secret_arn.rsplit(":", 1)[-1])
        return None
    return document


def current_app_login(config):
    """The login the app secret names now, or None (no value yet, or not one of ours)."""
    username = (secret_document(config["app_secret_arn"]) or {}).get("username")
    return username if username in APP_LOGIN_ROLES else None


def cutover_password(config):
    """(password, is_new): the one the cutover secret holds for the cutover's login, kept so that a deploy
    never fails a cutover that is running, or a generated one."""
    document = secret_document(config["cutover_secret_arn"]) or {}
    password = document.get("password")
    if document.get("username") == config["cutover_login"] and isinstance(password, str) and password:
        return password, False
    return secrets.token_urlsafe(PASSWORD_BYTES), True


def dms_target_login(config):
    """The user name in the DMS target endpoint's secret (filled by the operator), or None."""
    if not config["dms_target_secret_arn"]:
        return None
    username = (secret_document(config["dms_target_secret_arn"]) or {}).get("username")
    if isinstance(username, str) and IDENTIFIER_PATTERN.fullmatch(username):
        return username
    if username is not None:
        log(logging.WARNING, "the DMS target secret's username is not a lower-case PostgreSQL identifier")
    return None


def next_login(current):
    """The login to give a new password: the one the API does not use now."""
    return APP_LOGIN_ROLES[1] if current == APP_LOGIN_ROLES[0] else APP_LOGIN_ROLES[0]


def store_login(config, secret_arn, login, password):
    value = {
        "username": login,
        "password": password,
        "engine": "postgres",
        "host": config["host"],
        "port": config["port"],
        "dbname": config["database"],
    }
    response = secrets_client().put_secret_value(
        SecretId=secret_arn,
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
        created = ensure_cutover_login(transaction, config, dms_target_login(config))
        cutover_secret, new_cutover_secret = cutover_password(config)
        if created or new_cutover_secret:
            set_login_password(transaction, config["cutover_login"], cutover_secret)
        transaction.commit()
    except BaseException:
        transaction.rollback()
        raise
    version_id = store_login(config, config["app_secret_arn"], login, password)
    cutover_version = (
        store_login(config, config["cutover_secret_arn"], config["cutover_login"], cutover_secret)
        if new_cutover_secret
        else None
    )
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
        "cutover_login": config["cutover_login"],
        "cutover_secret_version": cutover_version,
    }
    log(logging.INFO, "schema migrated", **{key: value for key, value in result.items() if key != "ok"})
    return result


@invocation_logging(log)
def handler(event, context):
    return migrate(event, context)
