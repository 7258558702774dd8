"""Fixtures for the Lambda handler tests.

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
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
LAMBDA_DIR = HERE.parent.parent / "lib" / "lambda"
SHARED_DIR = LAMBDA_DIR / "shared"
_module_ids = itertools.count()
if str(SHARED_DIR) not in sys.path:
    sys.path.insert(0, str(SHARED_DIR))


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
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


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch):
    """Never reach real AWS: fake credentials, fixed region, no profiles or config files."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def load_handler(name):
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


@pytest.fixture
def payment_api_env(monkeypatch):
    monkeypatch.setenv("DB_CLUSTER_ARN", CLUSTER_ARN)
    monkeypatch.setenv("DB_SECRET_ARN", SECRET_ARN)
    monkeypatch.setenv("DB_NAME", "payments")
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
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:"
                                                          "123456789012:targetgroup/payments/abc"}},
            "httpMethod": method,
            "path": path,
            "queryStringParameters": {},
            "headers": {"host": "api.example.com", "content-type": "application/json",
                        **{k.lower(): v for k, v in (headers or {}).items()}},
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


@pytest.fixture(scope="session")
def cutover_aurora(postgres_server):
    """Aurora for the cutover tests: one database and one Data API engine for the session (making them is
    the slow part of a test); each test's world resets the database's schema and slots."""
    name = f"cutover_{next(_module_ids)}"
    admin = postgres_server.connect()
    admin.run(f'CREATE DATABASE "{name}"')
    data_api = support_data_api.FakeDataApi(postgres_server, resource_arn=CLUSTER_ARN, secret_arn=SECRET_ARN,
                                            database=name)
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
        world = support_cutover.CutoverWorld(monkeypatch=monkeypatch, clock=support_cutover.FakeClock(),
                                             postgres_server=postgres_server, data_api=cutover_aurora,
                                             database=cutover_aurora.database)
        try:
            yield world
        finally:
            world.close()
