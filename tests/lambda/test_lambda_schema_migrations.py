"""schema_migrations: versioned SQL files applied through the Data API (transactions) on a real
PostgreSQL 15, as a master login that is not a superuser; the API's roles and their secret."""

import base64
import hashlib
import hmac
import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tools.local_aws.postgres import apply_rds_replication

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lib" / "lambda"
MIGRATIONS_DIR = LAMBDA_DIR / "schema_migrations" / "migrations"
APP_LOGINS = ("payments_app_a", "payments_app_b")
CATALOG_QUERIES = {
    "schemas": "SELECT nspname::text, pg_get_userbyid(nspowner)::text, coalesce(nspacl::text, '') "
    "FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1",
    "relations": "SELECT n.nspname::text, c.relname::text, c.relkind::text, pg_get_userbyid(c.relowner)::text, "
    "coalesce(c.relacl::text, '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ORDER BY 1, 2",
    "columns": "SELECT table_schema::text, table_name::text, column_name::text, data_type::text, "
    "coalesce(character_maximum_length, -1), coalesce(numeric_precision, -1), "
    "coalesce(numeric_scale, -1), is_nullable::text, coalesce(column_default::text, '') "
    "FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
    "ORDER BY 1, 2, ordinal_position",
    "constraints": "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE connamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema') "
    "ORDER BY 1, 2",
    "indexes": "SELECT schemaname::text, indexname::text, indexdef FROM pg_indexes "
    "WHERE schemaname <> 'pg_catalog' ORDER BY 1, 2",
    "roles": "SELECT rolname::text, rolcanlogin, rolinherit, rolcreaterole, rolcreatedb, rolsuper "
    "FROM pg_roles WHERE rolname LIKE 'payments\\_app%' OR rolname = current_database() || '_cutover' ORDER BY 1",
    "memberships": "SELECT r.rolname::text, m.rolname::text FROM pg_auth_members a "
    "JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member "
    "WHERE r.rolname LIKE 'payments\\_app%' OR m.rolname = current_database() || '_cutover' "
    "OR r.rolname = 'payments_dms' "
    "ORDER BY 1, 2",
    "default_privileges": "SELECT pg_get_userbyid(defaclrole)::text, defaclnamespace::regnamespace::text, "
    "defaclobjtype::text, defaclacl::text FROM pg_default_acl ORDER BY 1, 2, 3",
    "publications": "SELECT pubname::text, schemaname::text, tablename::text, pubname IN "
    "(SELECT pubname FROM pg_publication WHERE pubowner = (SELECT datdba FROM pg_database "
    "WHERE datname = current_database())) FROM pg_publication_tables ORDER BY 1, 2, 3",
    "bookkeeping": "SELECT version, name, checksum::text, applied_at::text FROM migrations.schema_migrations "
    "ORDER BY version",
}


@pytest.fixture
def migrations(load_lambda):
    return load_lambda("schema_migrations")


def query(postgres_server, database, sql, **parameters):
    connection = postgres_server.connect(database)
    try:
        return connection.run(sql, **parameters)
    finally:
        connection.close()


def catalog(postgres_server, database):
    return {name: query(postgres_server, database, sql) for name, sql in CATALOG_QUERIES.items()}


def app_secret(aurora_secrets):
    return json.loads(aurora_secrets.client.get_secret_value(SecretId=aurora_secrets.app_arn)["SecretString"])


def secret_version_count(aurora_secrets):
    versions = aurora_secrets.client.list_secret_version_ids(SecretId=aurora_secrets.app_arn)["Versions"]
    return len(versions)


def verifier_of(postgres_server, database, login):
    return query(postgres_server, database, "SELECT rolpassword FROM pg_authid WHERE rolname = :name", name=login)[0][0]


def scram_matches(verifier, password):
    """Checks a password against PostgreSQL's stored SCRAM-SHA-256 verifier (RFC 5802), computed here."""
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, server_key = keys.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return (
        method == "SCRAM-SHA-256"
        and base64.b64encode(hashlib.sha256(client_key).digest()).decode() == stored_key
        and base64.b64encode(hmac.new(salted, b"Server Key", "sha256").digest()).decode() == server_key
    )


def copy_migrations(tmp_path, extra=None):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    for name, text in (extra or {}).items():
        (folder / name).write_text(text)
    return folder


def cutover_secret(aurora_secrets):
    return json.loads(aurora_secrets.client.get_secret_value(SecretId=aurora_secrets.cutover_arn)["SecretString"])


def as_cutover_login(postgres_server, database, aurora_secrets):
    """A connection as the login the cutover secret names. RDS lets members of rds_replication use slots;
    PostgreSQL wants the attribute, which the emulator gives members (tools/local_aws/postgres.py) and so
    does this."""
    secret = cutover_secret(aurora_secrets)
    admin = postgres_server.connect()
    try:
        apply_rds_replication(admin, secret["username"])
    finally:
        admin.close()
    return postgres_server.login(database, secret["username"], secret["password"])


def as_app_login(postgres_server, database, aurora_secrets):
    """A connection as the login the app secret names, with its password (scram-sha-256 over TCP)."""
    secret = app_secret(aurora_secrets)
    return postgres_server.login(database, secret["username"], secret["password"])


def statements_not_refused_as_expected(connect, expected_refusals: dict[str, str]) -> dict[str, str]:
    """Runs each statement on a fresh connection from `connect`; returns those that were allowed, or refused
    for another reason than the expected one, with what the server said."""
    import pg8000.exceptions

    outcomes = {}
    for statement in expected_refusals:
        connection = connect()
        try:
            connection.run(statement)
            outcomes[statement] = "allowed"
        except pg8000.exceptions.DatabaseError as error:
            outcomes[statement] = error.args[0]["M"]
        finally:
            connection.close()
    return {statement: said for statement, said in outcomes.items() if expected_refusals[statement] not in said}


# ----------------------------------------------------------------------------- SQL files
@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1", ["SELECT 1"]),
        ("-- only a comment;\n\n;  ;", []),
        ("SELECT 'a;b'; SELECT 'it''s;'", ["SELECT 'a;b'", "SELECT 'it''s;'"]),
        ('SELECT 1 AS "x;y"; SELECT 2', ['SELECT 1 AS "x;y"', "SELECT 2"]),
        ("SELECT E'a\\';b'; SELECT 3", ["SELECT E'a\\';b'", "SELECT 3"]),
        ("/* a; /* nested; */ still; */ SELECT 1; SELECT 2", ["/* a; /* nested; */ still; */ SELECT 1", "SELECT 2"]),
        ("DO $$ BEGIN PERFORM 1; END $$; SELECT 2", ["DO $$ BEGIN PERFORM 1; END $$", "SELECT 2"]),
        (
            "DO $body$ BEGIN RAISE NOTICE '$$;'; END $body$; SELECT 2",
            ["DO $body$ BEGIN RAISE NOTICE '$$;'; END $body$", "SELECT 2"],
        ),
        ("PREPARE p AS SELECT $1; SELECT a$b FROM t", ["PREPARE p AS SELECT $1", "SELECT a$b FROM t"]),
        ("SELECT 1 -- trailing; comment\n; SELECT 2", ["SELECT 1 -- trailing; comment", "SELECT 2"]),
    ],
)
def test_split_statements(migrations, sql, expected):
    assert migrations.split_statements(sql) == expected


@pytest.mark.parametrize("sql", ["SELECT 'open", 'SELECT "open', "/* open", "DO $x$ open", "SELECT E'\\'"])
def test_split_statements_refuses_unterminated_text(migrations, sql):
    with pytest.raises(ValueError, match="unterminated"):
        migrations.split_statements(sql)


def test_packaged_migrations_load_in_order_with_sha256sum_digest(migrations):
    loaded = migrations.load_migrations()
    files = sorted(MIGRATIONS_DIR.glob("*.sql"))
    assert [m["name"] for m in loaded] == [path.name for path in files]
    assert [m["version"] for m in loaded] == list(range(1, len(files) + 1))
    listing = "".join(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n" for path in files)
    assert migrations.migrations_digest(loaded) == hashlib.sha256(listing.encode()).hexdigest()


@pytest.mark.parametrize(
    "files, reason",
    [
        ({"0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 1;"}, "without gaps or duplicates"),
        ({"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"}, "without gaps or duplicates"),
        ({"0002_a.sql": "SELECT 1;"}, "without gaps or duplicates"),
        ({"0001_a.sql": "-- nothing here\n"}, "no SQL statement"),
        ({"1_a.sql": "SELECT 1;"}, "NNNN_<lowercase_words>.sql"),
        ({"0001_A.sql": "SELECT 1;"}, "NNNN_<lowercase_words>.sql"),
        ({"0001_a.sql": "SELECT 1;", "README.md": "notes"}, "NNNN_<lowercase_words>.sql"),
        ({"0001_a.sql": "SELECT 'open"}, "unterminated string literal"),
    ],
)
def test_bad_migration_folders_are_refused(migrations, tmp_path, files, reason):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(migrations.MigrationError, match=reason.replace("(", r"\(")):
        migrations.load_migrations(tmp_path)


def test_pending_migrations_rules(migrations):
    files = [
        {"version": v, "name": f"000{v}_m.sql", "checksum": str(v) * 64, "statements": ["SELECT 1"]} for v in (1, 2, 3)
    ]
    applied = {1: {"name": "0001_m.sql", "checksum": "1" * 64}}
    assert [m["version"] for m in migrations.pending_migrations(files, applied)] == [2, 3]
    assert migrations.pending_migrations(files, {v: {"name": "", "checksum": str(v) * 64} for v in (1, 2, 3, 4)}) == []
    with pytest.raises(migrations.MigrationError, match="0002_m.sql was changed after it was applied"):
        migrations.pending_migrations(files, {**applied, 2: {"name": "0002_m.sql", "checksum": "f" * 64}})
    with pytest.raises(migrations.MigrationError, match="0002_m.sql is not applied but version 0003 is"):
        migrations.pending_migrations(files, {**applied, 3: {"name": "0003_m.sql", "checksum": "3" * 64}})


def test_scram_verifier_is_postgres_format(migrations):
    verifier = migrations.scram_sha256_verifier("secret-password", b"0123456789abcdef")
    assert verifier.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$")
    assert scram_matches(verifier, "secret-password")
    assert not scram_matches(verifier, "another-password")


# ----------------------------------------------------------------------------- against PostgreSQL
def test_first_run_applies_everything_and_a_second_run_changes_nothing(
    run_migration, postgres_server, payments_database
):
    first = run_migration()
    names = [path.name for path in sorted(MIGRATIONS_DIR.glob("*.sql"))]
    assert (first["ok"], first["applied"], first["already_applied"]) == (True, names, 0)
    assert first["schema_version"] == len(names)
    after_first = catalog(postgres_server, payments_database)

    second = run_migration()
    assert (second["applied"], second["already_applied"]) == ([], len(names))
    assert second["migrations_sha256"] == first["migrations_sha256"]
    assert catalog(postgres_server, payments_database) == after_first
    assert [row[:2] for row in after_first["bookkeeping"]] == [[i + 1, name] for i, name in enumerate(names)]


def test_schema_has_per_merchant_idempotency_and_the_payments_columns(
    run_migration, postgres_server, payments_database
):
    run_migration()
    constraints = {
        name: definition
        for table, name, definition in catalog(postgres_server, payments_database)["constraints"]
        if table == "payments"
    }
    assert constraints["payments_merchant_idempotency_key_key"] == "UNIQUE (merchant_id, idempotency_key)"
    assert "payments_idempotency_key_key" not in constraints
    assert constraints["payments_pkey"] == "PRIMARY KEY (id)"
    columns = dict(
        query(
            postgres_server,
            payments_database,
            "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_name = 'payments'",
        )
    )
    assert columns == {
        "id": "uuid",
        "idempotency_key": "character varying",
        "request_hash": "character",
        "amount": "numeric",
        "currency": "character",
        "merchant_id": "character varying",
        "status": "character varying",
        "created_at": "timestamp with time zone",
    }


PUBLIC_SCHEMA_QUERIES = {
    "columns": "SELECT table_name::text, column_name::text, data_type::text, coalesce(character_maximum_length, -1), "
    "coalesce(numeric_precision, -1), coalesce(numeric_scale, -1), is_nullable::text, "
    "coalesce(column_default::text, '') FROM information_schema.columns WHERE table_schema = 'public' "
    "ORDER BY 1, ordinal_position",
    "constraints": "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
    "indexes": "SELECT tablename::text, indexname::text, indexdef FROM pg_indexes WHERE schemaname = 'public' "
    "ORDER BY 1, 2",
}


def public_schema(postgres_server, database):
    return {name: query(postgres_server, database, sql) for name, sql in PUBLIC_SCHEMA_QUERIES.items()}


def test_the_legacy_stand_in_has_the_schema_the_migrations_give_aurora(
    run_migration, postgres_server, payments_database
):
    # Both sides of the replication have one schema: the local runtime builds the on-premises stand-in
    # from the same migration files (tools/local_aws/dms/endpoints.py), per-merchant idempotency included.
    from tools.local_aws.dms.endpoints import ONPREM_OWNER, OnPremDatabases  # noqa: PLC0415

    run_migration()
    stand_in = OnPremDatabases(lambda: postgres_server, seed_total=0).ensure(f"legacy_{payments_database}")
    try:
        legacy = public_schema(postgres_server, stand_in.physical)
    finally:
        admin = postgres_server.connect()
        try:
            admin.run(f'DROP DATABASE IF EXISTS "{stand_in.physical}" WITH (FORCE)')
            admin.run(f"DROP ROLE IF EXISTS {ONPREM_OWNER}")
        finally:
            admin.close()
    assert legacy == public_schema(postgres_server, payments_database)
    assert ["payments", "payments_merchant_idempotency_key_key", "UNIQUE (merchant_id, idempotency_key)"] in legacy[
        "constraints"
    ]


def test_a_database_the_old_api_created_is_adopted(run_migration, postgres_server, payments_database):
    # The payment API used to create this table itself (as the master user) on its first request.
    original = (MIGRATIONS_DIR / "0001_payments.sql").read_text()
    connection = postgres_server.connect(payments_database)
    try:
        connection.run("SET ROLE payments_master")
        for statement in [s for s in original.split(";") if s.strip() and "CREATE" in s]:
            connection.run(statement)
        connection.run(
            "INSERT INTO payments (idempotency_key, request_hash, amount, currency, merchant_id) "
            "VALUES ('k-1', repeat('a', 64), 1, 'EUR', 'm-1')"
        )
    finally:
        connection.close()
    assert len(run_migration()["applied"]) == 2
    assert query(postgres_server, payments_database, "SELECT idempotency_key FROM payments") == [["k-1"]]


def test_a_changed_applied_migration_is_an_error_and_changes_nothing(
    run_migration, tmp_path, postgres_server, payments_database, aurora_secrets
):
    run_migration()
    before = catalog(postgres_server, payments_database)
    versions = secret_version_count(aurora_secrets)
    folder = copy_migrations(tmp_path)
    (folder / "0001_payments.sql").write_text((folder / "0001_payments.sql").read_text() + "\n-- edited\n")
    with pytest.raises(Exception, match="0001_payments.sql was changed after it was applied"):
        run_migration(migrations_dir=folder)
    assert catalog(postgres_server, payments_database) == before
    assert secret_version_count(aurora_secrets) == versions


def test_a_new_migration_is_applied_alone_and_a_failing_one_rolls_back(
    run_migration, tmp_path, postgres_server, payments_database, aurora_secrets
):
    run_migration()
    broken = copy_migrations(
        tmp_path / "broken",
        {
            "0003_add_reference.sql": "ALTER TABLE payments ADD COLUMN reference varchar(64);\n"
            "ALTER TABLE no_such_table ADD COLUMN x int;\n"
        },
    )
    before = catalog(postgres_server, payments_database)
    login_before = app_secret(aurora_secrets)["username"]
    with pytest.raises(Exception, match="no_such_table"):
        run_migration(migrations_dir=broken)
    assert catalog(postgres_server, payments_database) == before  # the first ALTER was rolled back too
    assert app_secret(aurora_secrets)["username"] == login_before

    fixed = copy_migrations(
        tmp_path / "fixed", {"0003_add_reference.sql": "ALTER TABLE payments ADD COLUMN reference varchar(64);\n"}
    )
    result = run_migration(migrations_dir=fixed)
    assert (result["applied"], result["already_applied"], result["schema_version"]) == (
        ["0003_add_reference.sql"],
        2,
        3,
    )
    assert query(
        postgres_server,
        payments_database,
        "SELECT count(*) FROM information_schema.columns WHERE column_name = 'reference'",
    ) == [[1]]


def test_an_older_package_leaves_newer_migrations_alone(run_migration, tmp_path, postgres_server, payments_database):
    newer = copy_migrations(tmp_path / "newer", {"0003_note.sql": "COMMENT ON TABLE payments IS 'payments';"})
    run_migration(migrations_dir=newer)
    result = run_migration()
    assert (result["applied"], result["newer_versions"], result["schema_version"]) == ([], [3], 3)


def test_concurrent_runs_take_turns_and_apply_each_migration_once(
    run_migration, postgres_server, payments_database, aurora_secrets
):
    runs = 4
    barrier = threading.Barrier(runs)

    def attempt(_):
        barrier.wait()
        return run_migration()

    with ThreadPoolExecutor(max_workers=runs) as pool:
        results = list(pool.map(attempt, range(runs)))
    applied = sorted(len(result["applied"]) for result in results)
    assert applied == [0] * (runs - 1) + [2]
    assert query(
        postgres_server,
        payments_database,
        "SELECT version, count(*) FROM migrations.schema_migrations GROUP BY version ORDER BY 1",
    ) == [[1, 1], [2, 1]]
    secret = app_secret(aurora_secrets)
    assert scram_matches(verifier_of(postgres_server, payments_database, secret["username"]), secret["password"])


def test_a_run_that_cannot_get_the_lock_gives_up_before_creating_anything(
    migrations, run_migration, postgres_server, payments_database, lambda_context, aurora_secrets
):
    holder = postgres_server.connect(payments_database)
    try:
        holder.run("SELECT pg_advisory_lock(:key)", key=migrations.LOCK_KEY)
        context = lambda_context("payments-test-schema-migrations", remaining_ms=migrations.LOCK_WAIT_RESERVE_MS + 600)
        with pytest.raises(Exception, match="holds the migration lock"):
            run_migration(context=context)
    finally:
        holder.close()
    assert query(
        postgres_server, payments_database, "SELECT count(*) FROM pg_namespace WHERE nspname = 'migrations'"
    ) == [[0]]
    assert secret_version_count(aurora_secrets) == 0
    assert run_migration()["ok"] is True  # the lock is free again


# ----------------------------------------------------------------------------- the API's roles
def test_app_roles_have_exactly_what_the_api_needs(run_migration, postgres_server, payments_database):
    run_migration()
    grants = query(
        postgres_server,
        payments_database,
        "SELECT grantee::text, table_schema::text, table_name::text, privilege_type::text "
        "FROM information_schema.role_table_grants "
        "WHERE grantee IN ('payments_app', 'payments_app_a', 'payments_app_b') ORDER BY 1, 2, 3, 4",
    )
    assert grants == [
        ["payments_app", "public", "payments", "INSERT"],
        ["payments_app", "public", "payments", "SELECT"],
    ]
    roles = {row[0]: row[1:] for row in catalog(postgres_server, payments_database)["roles"] if "_app" in row[0]}
    # rolcanlogin, rolinherit, rolcreaterole, rolcreatedb, rolsuper
    assert roles == {
        "payments_app": [False, True, False, False, False],
        "payments_app_a": [True, True, False, False, False],
        "payments_app_b": [True, True, False, False, False],
    }
    assert [row for row in catalog(postgres_server, payments_database)["memberships"] if "_app" in row[1]] == [
        ["payments_app", "payments_app_a"],
        ["payments_app", "payments_app_b"],
    ]


FORBIDDEN_TO_THE_APP = {
    "CREATE TABLE public.intruder (id int)": "permission denied for schema public",
    "CREATE SCHEMA intruder": "permission denied for database",
    "DROP TABLE payments": "must be owner of table payments",
    "ALTER TABLE payments ADD COLUMN intruder int": "must be owner of table payments",
    "CREATE INDEX intruder ON payments (status)": "must be owner of table payments",
    "TRUNCATE payments": "permission denied for table payments",
    "DELETE FROM payments": "permission denied for table payments",
    "UPDATE payments SET status = 'PAID'": "permission denied for table payments",
    "SELECT * FROM migrations.schema_migrations": "permission denied for schema migrations",
    "DROP SCHEMA migrations CASCADE": "must be owner of schema migrations",
}


def test_app_login_cannot_run_ddl_or_read_the_bookkeeping(
    run_migration, postgres_server, payments_database, aurora_secrets
):

    run_migration()
    assert app_secret(aurora_secrets)["username"] == APP_LOGINS[0]
    assert (
        statements_not_refused_as_expected(
            lambda: as_app_login(postgres_server, payments_database, aurora_secrets), FORBIDDEN_TO_THE_APP
        )
        == {}
    )


def test_app_login_can_insert_and_read_payments(run_migration, postgres_server, payments_database, aurora_secrets):
    run_migration()
    run_migration()
    assert app_secret(aurora_secrets)["username"] == APP_LOGINS[1]
    connection = as_app_login(postgres_server, payments_database, aurora_secrets)
    try:
        connection.run(
            "INSERT INTO payments (idempotency_key, request_hash, amount, currency, merchant_id) "
            "VALUES ('k', repeat('a', 64), 1, 'EUR', 'm') ON CONFLICT (merchant_id, idempotency_key) "
            "DO NOTHING RETURNING id"
        )
        assert connection.run("SELECT merchant_id FROM payments") == [["m"]]
    finally:
        connection.close()


def test_the_app_secret_looks_like_an_rds_secret_and_matches_the_login(
    run_migration, postgres_server, payments_database, aurora_secrets, schema_migrations_env, capsys
):
    result = run_migration()
    secret = app_secret(aurora_secrets)
    assert set(secret) == {"username", "password", "engine", "host", "port", "dbname"}
    assert (secret["username"], secret["engine"], secret["host"], secret["port"], secret["dbname"]) == (
        result["app_login"],
        "postgres",
        schema_migrations_env["DB_HOST"],
        5432,
        payments_database,
    )
    assert len(secret["password"]) >= 40
    assert scram_matches(verifier_of(postgres_server, payments_database, secret["username"]), secret["password"])
    assert result["app_secret_version"] in {
        v["VersionId"]
        for v in aurora_secrets.client.list_secret_version_ids(SecretId=aurora_secrets.app_arn)["Versions"]
    }
    assert secret["password"] not in capsys.readouterr().err
    assert secret["password"] not in json.dumps(result)


def test_each_run_rotates_the_login_the_api_does_not_use(
    run_migration, postgres_server, payments_database, aurora_secrets, master_data_api
):
    run_migration()
    first = app_secret(aurora_secrets)
    first_verifier = verifier_of(postgres_server, payments_database, first["username"])
    run_migration()
    second = app_secret(aurora_secrets)
    assert second["username"] != first["username"]
    assert second["password"] != first["password"]
    # The login in use during the run kept its password: requests with the previous secret still work.
    assert verifier_of(postgres_server, payments_database, first["username"]) == first_verifier
    assert scram_matches(first_verifier, first["password"])
    assert scram_matches(verifier_of(postgres_server, payments_database, second["username"]), second["password"])
    run_migration()
    assert app_secret(aurora_secrets)["username"] == first["username"]
    # The password reached PostgreSQL only as a SCRAM verifier.
    sent = " ".join(call.get("sql", "") for call in master_data_api.calls)
    assert first["password"] not in sent and second["password"] not in sent


# ----------------------------------------------------------------------------- the cutover's login
def test_cutover_login_has_exactly_what_the_cutover_needs(run_migration, postgres_server, payments_database):
    login = run_migration()["cutover_login"]
    assert login == f"{payments_database}_cutover"
    grants = query(
        postgres_server,
        payments_database,
        "SELECT table_schema::text, table_name::text, privilege_type::text FROM information_schema.role_table_grants "
        "WHERE grantee = :login ORDER BY 1, 2, 3",
        login=login,
    )
    assert grants == [["public", "payments", "UPDATE"]]  # the rollback fence's SHARE lock; no row is read
    found = catalog(postgres_server, payments_database)
    assert [login, True, True, False, False, False] in found["roles"]
    assert [row for row in found["memberships"] if row[1] == login] == [["rds_replication", login]]
    # the DMS target login's future tables in the control schema (awsdms_apply_exceptions): SELECT only
    assert found["default_privileges"] == [["payments_dms", "public", "r", f"{{{login}=r/payments_dms}}"]]
    assert found["publications"] == [["payments_reverse_tables", "public", "payments", True]]
    schema_acl = next(row[2] for row in found["schemas"] if row[0] == "public")
    assert f"{login}=U/" in schema_acl and f"{login}=UC/" not in schema_acl


def test_cutover_login_runs_every_statement_of_the_cutover(
    run_migration, postgres_server, payments_database, aurora_secrets
):
    run_migration()
    admin = postgres_server.connect(payments_database)
    try:  # DMS creates its control table as its target login once a task runs, after the deploy
        admin.run("GRANT CREATE ON SCHEMA public TO payments_dms")
        admin.run("SET ROLE payments_dms")
        admin.run("CREATE TABLE public.awsdms_apply_exceptions (task_name text, error text)")
        admin.run("INSERT INTO public.awsdms_apply_exceptions VALUES ('forward', 'duplicate key')")
    finally:
        admin.close()
    slots = ("cutover_test_decoding", "cutover_pgoutput")
    connection = as_cutover_login(postgres_server, payments_database, aurora_secrets)
    try:
        assert connection.run("SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user") == [
            [f"{payments_database}_cutover", False]
        ]
        connection.run("SELECT pg_current_wal_lsn()::text")
        connection.run("SELECT active, confirmed_flush_lsn::text, plugin FROM pg_replication_slots")
        assert connection.run("SELECT count(*)::text FROM public.awsdms_apply_exceptions") == [["1"]]
        assert connection.run("SELECT 1 FROM pg_publication WHERE pubname = 'payments_reverse_tables'") == [[1]]
        connection.run(
            "SELECT lsn::text FROM pg_create_logical_replication_slot(:slot, 'test_decoding')", slot=slots[0]
        )
        connection.run("SELECT lsn::text FROM pg_create_logical_replication_slot(:slot, 'pgoutput')", slot=slots[1])
        connection.run("START TRANSACTION")
        connection.run("SET LOCAL lock_timeout = '5s'")
        connection.run('LOCK TABLE "public"."payments" IN SHARE MODE')
        connection.run("SELECT pg_current_wal_lsn()::text")
        connection.run("COMMIT")
        # the reverse task decodes the slot through the publication the migrations made
        connection.run(
            "SELECT count(*) FROM pg_logical_slot_peek_binary_changes(:slot, NULL, NULL, 'proto_version', '1', "
            "'publication_names', 'payments_reverse_tables')",
            slot=slots[1],
        )
        for slot in slots:
            connection.run("SELECT pg_drop_replication_slot(:slot)", slot=slot)
    finally:
        connection.close()
        admin = postgres_server.connect(payments_database)
        try:
            admin.run(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE database = current_database()"
            )
        finally:
            admin.close()


FORBIDDEN_TO_THE_CUTOVER = {
    "CREATE TABLE public.intruder (id int)": "permission denied for schema public",
    "DROP TABLE payments": "must be owner of table payments",
    "ALTER TABLE payments ADD COLUMN intruder int": "must be owner of table payments",
    "TRUNCATE payments": "permission denied for table payments",
    "SELECT id FROM payments": "permission denied for table payments",
    "INSERT INTO payments (idempotency_key) VALUES ('k')": "permission denied for table payments",
    "DELETE FROM payments": "permission denied for table payments",
    "CREATE PUBLICATION intruder FOR TABLE payments": "permission denied for database",
    "DROP PUBLICATION payments_reverse_tables": "must be owner of publication payments_reverse_tables",
    "SELECT * FROM migrations.schema_migrations": "permission denied for schema migrations",
}


def test_cutover_login_cannot_run_ddl_or_read_payments(
    run_migration, postgres_server, payments_database, aurora_secrets
):

    run_migration()
    assert (
        statements_not_refused_as_expected(
            lambda: as_cutover_login(postgres_server, payments_database, aurora_secrets), FORBIDDEN_TO_THE_CUTOVER
        )
        == {}
    )


def test_an_exceptions_table_dms_made_before_the_run_is_granted_directly(
    run_migration, postgres_server, payments_database, aurora_secrets
):
    admin = postgres_server.connect(payments_database)
    try:
        admin.run("GRANT CREATE ON SCHEMA public TO payments_dms")
        admin.run("SET ROLE payments_dms")
        admin.run("CREATE TABLE public.awsdms_apply_exceptions (task_name text, error text)")
    finally:
        admin.close()
    run_migration()
    connection = as_cutover_login(postgres_server, payments_database, aurora_secrets)
    try:
        assert connection.run("SELECT count(*)::text FROM public.awsdms_apply_exceptions") == [["0"]]
    finally:
        connection.close()


def test_replication_comes_from_rds_replication_or_else_the_attribute(migrations):
    kept = {"rolcanlogin": True, "rolinherit": True, "rolcreatedb": False, "rolcreaterole": False}
    on_rds = migrations.cutover_role_statements("c", {**kept, "rolreplication": False}, has_rds_replication=True)
    assert on_rds == ["GRANT rds_replication TO c"]  # a login with REPLICATION is never altered by the master
    plain = migrations.cutover_role_statements("c", None, has_rds_replication=False)
    assert plain == ["CREATE ROLE c LOGIN", "ALTER ROLE c REPLICATION"]
    changed = migrations.cutover_role_statements(
        "c", {**kept, "rolcreatedb": True, "rolreplication": True}, has_rds_replication=False
    )
    assert changed == ["ALTER ROLE c LOGIN INHERIT NOCREATEDB NOCREATEROLE"]


def test_plain_postgresql_gives_the_cutover_login_the_replication_attribute(migrations, postgres_server):
    """On plain PostgreSQL (no rds_replication role) a superuser master sets the attribute."""
    admin = postgres_server.connect()
    login = "payments_cutover_plain"
    try:
        admin.run(f"DROP ROLE IF EXISTS {login}")
        for statement in migrations.cutover_role_statements(login, None, has_rds_replication=False):
            admin.run(statement)
        assert admin.run("SELECT rolcanlogin, rolreplication FROM pg_roles WHERE rolname = :r", r=login) == [
            [True, True]
        ]
    finally:
        admin.run(f"DROP ROLE IF EXISTS {login}")
        admin.close()


def test_the_cutover_secret_is_written_once_and_keeps_its_password(
    run_migration, postgres_server, payments_database, aurora_secrets
):
    first = run_migration()
    secret = cutover_secret(aurora_secrets)
    assert set(secret) == {"username", "password", "engine", "host", "port", "dbname"}
    assert first["cutover_login"] == secret["username"] == f"{payments_database}_cutover"
    assert first["cutover_secret_version"] is not None
    second = run_migration()  # a deploy during a cutover must not change the login it runs as
    assert second["cutover_secret_version"] is None
    versions = aurora_secrets.client.list_secret_version_ids(SecretId=aurora_secrets.cutover_arn)["Versions"]
    assert len(versions) == 1 and cutover_secret(aurora_secrets) == secret
    assert scram_matches(verifier_of(postgres_server, payments_database, secret["username"]), secret["password"])


def test_the_master_secret_is_only_read(run_migration, aurora_secrets):
    run_migration()
    versions = aurora_secrets.client.list_secret_version_ids(SecretId=aurora_secrets.master_arn)["Versions"]
    assert len(versions) == 1


# ----------------------------------------------------------------------------- event, configuration, logs
class NoDatabase:
    """A Data API client that refused runs must never reach."""

    def __getattr__(self, name):
        raise AssertionError(f"refused runs must not call the Data API ({name})")


@pytest.fixture
def refusing_env():
    return {
        "DB_CLUSTER_ARN": "arn:aws:rds:us-east-1:123456789012:cluster:payments-aurora",
        "DB_NAME": "payments",
        "MASTER_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-x-AbCdEf",
        "APP_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-app-AbCdEf",
        "CUTOVER_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-cutover-AbCdEf",
        "CUTOVER_LOGIN": "payments_cutover",
        "CUTOVER_TABLES": "public.payments",
        "DB_HOST": "payments-aurora.cluster-abc.us-east-1.rds.amazonaws.com",
        "DB_PORT": "5432",
    }


@pytest.fixture
def refusing_run(migrations, refusing_env, monkeypatch):
    """Runs the handler with an environment and a Data API that must not be called."""
    migrations.rds_data_client = NoDatabase

    def run(event):
        for name, value in refusing_env.items():
            monkeypatch.setenv(name, value)
        return migrations.handler(event, None)

    return run


def test_the_expected_digest_is_checked_before_any_database_call(migrations, refusing_run, run_migration):
    digest = migrations.migrations_digest(migrations.load_migrations())
    with pytest.raises(migrations.MigrationError, match="the function's code is not the one this deploy built"):
        refusing_run({"migrations_sha256": "0" * 64})
    assert run_migration({"migrations_sha256": digest})["migrations_sha256"] == digest


@pytest.mark.parametrize(
    "event, reason",
    [
        ([], "event must be a JSON object"),
        ({"migrations_sha256": "ABC"}, "64 lowercase hex digits"),
        ({"migrations_sha256": 5}, "64 lowercase hex digits"),
        ({"drop": True}, "unknown event key"),
    ],
)
def test_bad_events_are_refused(migrations, refusing_run, event, reason):
    with pytest.raises(migrations.MigrationError, match=reason):
        refusing_run(event)


@pytest.mark.parametrize(
    "name, value, reason",
    [
        ("MASTER_SECRET_ARN", "", "missing environment variable"),
        ("APP_SECRET_ARN", "", "missing environment variable"),
        ("CUTOVER_SECRET_ARN", "", "missing environment variable"),
        ("CUTOVER_LOGIN", "Payments-Cutover", "CUTOVER_LOGIN='Payments-Cutover' is invalid"),
        ("CUTOVER_TABLES", "payments", "CUTOVER_TABLES='payments' is invalid: must be a comma-separated list"),
        ("REVERSE_PUBLICATION", "Reverse-Tables", "REVERSE_PUBLICATION='Reverse-Tables' is invalid"),
        ("DMS_CONTROL_SCHEMA", "public;drop", "DMS_CONTROL_SCHEMA='public;drop' is invalid"),
        ("DB_PORT", "54a", "must be a port number"),
        ("DB_PORT", "70000", "must be a port number"),
    ],
)
def test_bad_configuration_is_refused(migrations, refusing_run, refusing_env, name, value, reason):
    refusing_env[name] = value
    with pytest.raises(migrations.MigrationError, match=reason):
        refusing_run({})


def test_logs_carry_the_invocation_and_a_failure_is_one_line(run_migration, lambda_context, capsys):
    context = lambda_context("payments-test-schema-migrations", request_id="0b7c1c55-1f7e-4b0b-9d3e-1a2b3c4d5e6f")
    run_migration(context=context)
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert entries and all(
        entry["request_id"] == context.aws_request_id and entry["function_name"] == "payments-test-schema-migrations"
        for entry in entries
    )
    with pytest.raises(Exception, match="unknown event key"):
        run_migration({"unknown": 1}, context=context)
    lines = capsys.readouterr().err.splitlines()
    failures = [json.loads(line) for line in lines if json.loads(line)["level"] == "ERROR"]
    assert len(failures) == 1
    assert failures[0]["error_type"] == "MigrationError" and "Traceback" in failures[0]["exception"]
