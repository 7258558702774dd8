"""The deployed payments API end to end: the deploy ran the schema migrations, the API serves payments
through the load balancer as its own database login, and a merchant sees only its own payments.

Requests go to `local_api_url` (the emulator's load balancer), with the merchant identity the stack is
configured for: X-Merchant-Id in header mode. The rows are read back through the RDS Data API.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from lib import migrations

MERCHANT_HEADER = "X-Merchant-Id"


@pytest.fixture(scope="module")
def api_url(outputs, request) -> str:
    """The API takes writes only while Aurora is the writer (its write gate and the ALB's write rule)."""
    if not outputs["local_api_url"]:
        pytest.skip("no local_api_url: the API is called through the emulator's load balancer only")
    if outputs["client_identity"] != "header":
        pytest.skip(
            "these requests identify the merchant with X-Merchant-Id (CLIENT_IDENTITY=header); "
            "mutual TLS is tested against the emulator's TLS listener in tests/emulator"
        )
    request.getfixturevalue("aurora_writer")
    return outputs["local_api_url"]


def call(
    url: str, method: str = "GET", body: dict | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, json.loads(error.read() or b"{}")


def data_api_rows(aws, outputs, secret_arn: str, sql: str, **parameters: str) -> list[dict]:
    response = aws("rds-data").execute_statement(
        resourceArn=outputs["aurora_cluster_arn"],
        secretArn=secret_arn,
        database=outputs["aurora_database_name"],
        sql=sql,
        formatRecordsAs="JSON",
        parameters=[{"name": name, "value": {"stringValue": value}} for name, value in parameters.items()],
    )
    return json.loads(response.get("formattedRecords") or "[]")


@pytest.fixture(scope="module")
def merchant() -> str:
    return f"m-int-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def created(api_url, merchant) -> tuple[dict, dict, str]:
    """One payment POSTed through the load balancer: (response body, response headers, idempotency key)."""
    key = f"it-{uuid.uuid4().hex}"
    status, headers, body = call(
        f"{api_url}/payments",
        "POST",
        {"amount": "42.10", "currency": "EUR", "merchant_id": merchant},
        {MERCHANT_HEADER: merchant, "Idempotency-Key": key},
    )
    assert status == 201, body
    return body, headers, key


# --------------------------------------------------------------------------- the deploy-time migration
def test_the_deploy_stored_the_api_login_in_the_app_secret(aws, outputs):
    value = aws("secretsmanager").get_secret_value(SecretId=outputs["aurora_app_secret_arn"])
    secret = json.loads(value["SecretString"])
    assert secret["username"] in ("payments_app_a", "payments_app_b")
    assert len(secret["password"]) >= 40 and secret["dbname"] == outputs["aurora_database_name"]


def test_the_deploy_applied_every_migration_of_this_commit(aws, outputs):
    assert outputs["schema_migrations_sha256"] == migrations.digest()
    rows = data_api_rows(
        aws,
        outputs,
        outputs["aurora_master_secret_arn"],
        "SELECT version, name FROM migrations.schema_migrations ORDER BY version",
    )
    assert [(row["version"], row["name"]) for row in rows] == [
        (migration["version"], migration["name"]) for migration in migrations.migrations()
    ]


def test_the_api_login_may_not_change_the_schema(aws, outputs):
    with pytest.raises(aws("rds-data").exceptions.DatabaseErrorException, match="must be owner|permission denied"):
        data_api_rows(aws, outputs, outputs["aurora_app_secret_arn"], "DROP TABLE payments")


# --------------------------------------------------------------------------- payments through the ALB
def test_a_payment_posted_through_the_load_balancer_is_created(created, merchant):
    body, headers, _ = created
    assert (body["amount"], body["currency"], body["merchant_id"], body["status"]) == (
        "42.10",
        "EUR",
        merchant,
        "PENDING",
    )
    assert headers["location"] == f"/payments/{body['id']}"
    assert headers["x-request-id"]


def test_it_reads_back_through_the_api(api_url, created, merchant):
    body, _, _ = created
    status, _, read = call(f"{api_url}/payments/{body['id']}", headers={MERCHANT_HEADER: merchant})
    assert (status, read) == (200, body)


def test_it_is_in_aurora_as_the_api_wrote_it(aws, outputs, created, merchant):
    body, _, key = created
    rows = data_api_rows(
        aws,
        outputs,
        outputs["aurora_app_secret_arn"],
        "SELECT id::text AS id, amount::text AS amount, currency::text AS currency, merchant_id, "
        "idempotency_key FROM payments WHERE id = CAST(:id AS uuid)",
        id=body["id"],
    )
    assert rows == [
        {"id": body["id"], "amount": "42.10", "currency": "EUR", "merchant_id": merchant, "idempotency_key": key}
    ]


def test_a_retry_with_the_same_key_replays_the_payment(api_url, created, merchant):
    body, _, key = created
    status, headers, replayed = call(
        f"{api_url}/payments",
        "POST",
        {"amount": "42.10", "currency": "EUR", "merchant_id": merchant},
        {MERCHANT_HEADER: merchant, "Idempotency-Key": key},
    )
    assert (status, replayed, headers.get("idempotent-replayed")) == (200, body, "true")


def test_another_merchant_gets_404_for_it(api_url, created):
    body, _, _ = created
    status, _, answer = call(f"{api_url}/payments/{body['id']}", headers={MERCHANT_HEADER: "m-int-someone-else"})
    assert status == 404 and "id" not in answer


def test_a_merchant_cannot_create_a_payment_for_another(api_url, merchant):
    status, _, answer = call(
        f"{api_url}/payments",
        "POST",
        {"amount": "1.00", "currency": "EUR", "merchant_id": "m-int-someone-else"},
        {MERCHANT_HEADER: merchant, "Idempotency-Key": f"it-{uuid.uuid4().hex}"},
    )
    assert status == 403, answer


def test_payment_routes_need_a_merchant_identity_and_health_does_not(api_url, created):
    body, _, _ = created
    assert call(f"{api_url}/payments/{body['id']}")[0] == 401
    status, _, health = call(f"{api_url}/health")
    assert (status, health) == (200, {"status": "ok"})
