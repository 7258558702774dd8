"""Fixtures for the Lambda handler tests.

Database fixtures follow the deployed shape: the schema_migrations function runs as a login
like RDS's master user (CREATEROLE, owner of the database, not a superuser) with its secret in
(moto's) Secrets Manager, and writes the API's login into the app secret; the payment API then
talks to the database as that login (`app_data_api`), never as the master.

Handlers live in lib/lambda/<name>/handler.py and are all called `handler.py`, so each
test loads a fresh copy under a unique module name (fresh client caches and schema flag).
The shared modules they import (lib/lambda/shared, at the zip root when deployed) are put
on sys.path and loaded once; every handler copy keeps its own client cache.
"""

import atexit
import base64
import importlib.util
import itertools
import json
import sys
import types
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tools.local_aws.postgres import ensure_rds_replication_role

HERE = Path(__file__).resolve().parent
LAMBDA_DIR = HERE.parent.parent / "lib" / "lambda"
SHARED_DIR = LAMBDA_DIR / "shared"
_module_ids = itertools.count()
if str(SHARED_DIR) not in sys.path:
    sys.path.insert(0, str(SHARED_DIR))


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


support_postgres = load_module(HERE / "support_postgres.py", "lambda_tests_support_postgres")
support_data_api = load_module(HERE / "support_data_api.py", "lambda_tests_support_data_api")
# Test modules import it by name too (this folder is on sys.path): one copy, one SimulatedCrash class.
support_cutover = sys.modules.get("support_cutover") or load_module(HERE / "support_cutover.py", "support_cutover")
sys.modules["support_cutover"] = support_cutover

CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:payments-aurora"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-db-AbCdEf"
MASTER_USER = "payments_master"
MASTER_PASSWORD = "master-password-of-the-tests"
CLUSTER_HOST = "payments-aurora.cluster-abc.us-east-1.rds.amazonaws.com"
DMS_USER = support_cutover.DMS_USER
CUTOVER_LOGIN = "payments_test_cutover"
CUTOVER_PASSWORD = "cutover-password-of-the-tests"


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch):
    """Never reach real AWS: fake credentials, fixed region, no profiles or config files."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def load_handler(name):
    # A function's own modules sit next to its handler.py at the zip root: importable by name.
    function_dir = str(LAMBDA_DIR / name)
    if function_dir not in sys.path:
        sys.path.append(function_dir)
    return load_module(LAMBDA_DIR / name / "handler.py", f"lambda_{name}_handler_{next(_module_ids)}")


@pytest.fixture
def load_lambda():
    """Loads another fresh copy of a handler module (a second Lambda container)."""
    return load_handler


@pytest.fixture
def payment_api():
    return load_handler("payment_api")


@pytest.fixture
def migration_validator():
    return load_handler("migration_validator")


@pytest.fixture
def traffic_shifter():
    return load_handler("traffic_shifter")


@pytest.fixture
def rollback():
    return load_handler("rollback")


class LambdaContext:
    """The attributes of a Lambda context object the handlers read."""

    def __init__(self, function_name, request_id, remaining_ms=300_000):
        self.function_name = function_name
        self.aws_request_id = request_id
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self):
        return self._remaining_ms


@pytest.fixture
def lambda_context():
    """Factory: lambda_context(function_name, request_id=..., remaining_ms=...)."""

    def build(
        function_name="payments-test-function", request_id="8f5e2b1c-0d4a-4c8e-9a51-2f3b7c9d1e60", remaining_ms=300_000
    ):
        return LambdaContext(function_name, request_id, remaining_ms)

    return build


@pytest.fixture
def payment_api_env(monkeypatch):
    monkeypatch.setenv("DB_CLUSTER_ARN", CLUSTER_ARN)
    monkeypatch.setenv("DB_SECRET_ARN", SECRET_ARN)
    monkeypatch.setenv("DB_NAME", "payments")
    monkeypatch.setenv("CLIENT_IDENTITY", "header")
    return {"resourceArn": CLUSTER_ARN, "secretArn": SECRET_ARN, "database": "payments"}


@pytest.fixture
def alb_event():
    """Factory for ALB Lambda-target events."""

    def build(method, path, body=None, headers=None, base64_body=False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if base64_body and body is not None:
            body = base64.b64encode(body.encode() if isinstance(body, str) else body).decode()
        return {
            "requestContext": {
                "elb": {
                    "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/payments/abc"
                }
            },
            "httpMethod": method,
            "path": path,
            "queryStringParameters": {},
            "headers": {
                "host": "api.example.com",
                "content-type": "application/json",
                **{k.lower(): v for k, v in (headers or {}).items()},
            },
            "body": body if body is not None else "",
            "isBase64Encoded": base64_body,
        }

    return build


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL 15 for the session; stopped in teardown even when tests fail."""
    server = support_postgres.PostgresServer()
    atexit.register(server.stop)  # last resort if the session is torn down abnormally
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def payments_database(postgres_server):
    """A fresh, empty database per test, dropped afterwards."""
    name = f"payments_{next(_module_ids)}"
    admin = postgres_server.connect()
    try:
        admin.run(f'CREATE DATABASE "{name}"')
        yield name
        admin.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


@pytest.fixture
def data_api(postgres_server, payments_database, monkeypatch, payment_api_env):
    monkeypatch.setenv("DB_NAME", payments_database)
    return support_data_api.FakeDataApi(
        postgres_server, resource_arn=CLUSTER_ARN, secret_arn=SECRET_ARN, database=payments_database
    )


class LoginServer:
    """The test server as one login sees it: each connection authenticates as that user and
    password over TCP on 127.0.0.1, as the Data API does with a secret's credentials."""

    def __init__(self, server, user, password):
        self._server = server
        self.user = user
        self.password = password

    def connect(self, database="postgres"):
        return self._server.login(database, self.user, self.password)


@pytest.fixture(scope="session")
def rds_roles(postgres_server):
    """The roles an Aurora cluster has besides its master: rds_replication, and the DMS target login."""
    admin = postgres_server.connect()
    try:
        ensure_rds_replication_role(admin)
        if not admin.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=DMS_USER):
            admin.run(f"CREATE ROLE {DMS_USER} LOGIN")
    finally:
        admin.close()


@pytest.fixture(scope="session")
def master_login(postgres_server, rds_roles):
    """A login like RDS's master user: CREATEROLE and CREATEDB, not a superuser."""
    admin = postgres_server.connect()
    try:
        if not admin.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=MASTER_USER):
            admin.run(f"CREATE ROLE {MASTER_USER} LOGIN CREATEROLE CREATEDB PASSWORD '{MASTER_PASSWORD}'")
    finally:
        admin.close()
    return LoginServer(postgres_server, MASTER_USER, MASTER_PASSWORD)


@pytest.fixture
def aurora_secrets():
    """moto's Secrets Manager with the master secret (as RDS manages it), the app and cutover secrets the
    stack creates empty, and the DMS target secret as the operator fills it."""
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        master = client.create_secret(
            Name="rds!cluster-payments", SecretString=json.dumps({"username": MASTER_USER, "password": MASTER_PASSWORD})
        )
        app = client.create_secret(Name="payments-test-db-app")
        cutover = client.create_secret(Name="payments-test-db-cutover")
        dms_target = client.create_secret(
            Name="payments-test-dms-aurora-target",
            SecretString=json.dumps({"username": DMS_USER, "password": "dms-password-of-the-tests"}),
        )
        yield types.SimpleNamespace(
            client=client,
            master_arn=master["ARN"],
            app_arn=app["ARN"],
            cutover_arn=cutover["ARN"],
            dms_target_arn=dms_target["ARN"],
        )


@pytest.fixture
def master_data_api(postgres_server, payments_database, master_login, aurora_secrets):
    """The Data API with the master secret, on a test database the master login owns."""
    admin = postgres_server.connect()
    try:
        admin.run(f'ALTER DATABASE "{payments_database}" OWNER TO {MASTER_USER}')
    finally:
        admin.close()
    api = support_data_api.FakeDataApi(
        master_login, resource_arn=CLUSTER_ARN, secret_arn=aurora_secrets.master_arn, database=payments_database
    )
    yield api
    api.close()


@pytest.fixture
def schema_migrations_env(payments_database, aurora_secrets):
    """The migration function's environment (run_migration sets it before each call)."""
    return {
        "DB_CLUSTER_ARN": CLUSTER_ARN,
        "DB_NAME": payments_database,
        "MASTER_SECRET_ARN": aurora_secrets.master_arn,
        "APP_SECRET_ARN": aurora_secrets.app_arn,
        "CUTOVER_SECRET_ARN": aurora_secrets.cutover_arn,
        # one per test database: roles are server-wide, and each stack has its own
        "CUTOVER_LOGIN": f"{payments_database}_cutover",
        "CUTOVER_TABLES": "public.payments",
        "REVERSE_PUBLICATION": "payments_reverse_tables",
        "DMS_TARGET_SECRET_ARN": aurora_secrets.dms_target_arn,
        "DB_HOST": CLUSTER_HOST,
        "DB_PORT": "5432",
    }


@pytest.fixture
def run_migration(load_lambda, master_data_api, schema_migrations_env, monkeypatch):
    """Runs the schema_migrations handler (a fresh container each call) against the test database."""

    def run(event=None, context=None, migrations_dir=None):
        for name, value in schema_migrations_env.items():
            monkeypatch.setenv(name, value)
        module = load_lambda("schema_migrations")
        module.rds_data_client = lambda: master_data_api
        if migrations_dir is not None:
            module.MIGRATIONS_DIR = migrations_dir
        return module.handler(event, context)

    return run


def app_secret(aurora_secrets):
    """The current value of the app secret (what the migration stored)."""
    return json.loads(aurora_secrets.client.get_secret_value(SecretId=aurora_secrets.app_arn)["SecretString"])


def cutover_secret(aurora_secrets):
    """The current value of the cutover secret (what the migration stored)."""
    return json.loads(aurora_secrets.client.get_secret_value(SecretId=aurora_secrets.cutover_arn)["SecretString"])


@pytest.fixture
def app_data_api(run_migration, postgres_server, payments_database, aurora_secrets, payment_api_env, monkeypatch):
    """The Data API as the payment API uses it after a deploy: migrated database, the app secret."""
    run_migration()
    secret = app_secret(aurora_secrets)
    api = support_data_api.FakeDataApi(
        LoginServer(postgres_server, secret["username"], secret["password"]),
        resource_arn=CLUSTER_ARN,
        secret_arn=aurora_secrets.app_arn,
        database=payments_database,
    )
    monkeypatch.setenv("DB_SECRET_ARN", aurora_secrets.app_arn)
    monkeypatch.setenv("DB_NAME", payments_database)
    yield api
    api.close()


@pytest.fixture(scope="session")
def cutover_aurora(postgres_server, rds_roles):
    """Aurora for the cutover tests: one database and one Data API engine for the session (making them is
    the slow part of a test); each test's world resets the database's schema and slots. The Data API logs in
    as the cutover's login, with the role and grants the schema_migrations function gives it (the world
    gives them again after each reset)."""
    name = f"cutover_{next(_module_ids)}"
    admin = postgres_server.connect()
    admin.run(f'CREATE DATABASE "{name}"')
    database_admin = postgres_server.connect(name)
    try:
        database_admin.run(f"GRANT CREATE ON SCHEMA public TO {DMS_USER}")  # DMS creates its control tables
    finally:
        database_admin.close()
    migrations = load_handler("schema_migrations")
    login = LoginServer(postgres_server, CUTOVER_LOGIN, CUTOVER_PASSWORD)
    data_api = support_data_api.FakeDataApi(login, resource_arn=CLUSTER_ARN, secret_arn=SECRET_ARN, database=name)
    data_api.migrations, data_api.login = migrations, login
    try:
        yield data_api
    finally:
        data_api.close()
        admin.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def cutover_world(monkeypatch, postgres_server, cutover_aurora):
    """Legacy is the writer; moto, the scripted DMS, Aurora on PostgreSQL and a fake clock (support_cutover)."""
    from moto import mock_aws

    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # the world has a VPC, never an instance
    with mock_aws():
        world = support_cutover.CutoverWorld(
            monkeypatch=monkeypatch,
            clock=support_cutover.FakeClock(),
            postgres_server=postgres_server,
            data_api=cutover_aurora,
            database=cutover_aurora.database,
        )
        try:
            yield world
        finally:
            world.close()
