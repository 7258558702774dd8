"""payment_api end to end: handler -> Data API test double -> real PostgreSQL 15, on a database
migrated by schema_migrations, as the API's own login (never the master)."""

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PAYMENT = {"amount": "125.50", "currency": "EUR", "merchant_id": "merchant-42"}
IDENTITY = {"X-Merchant-Id": "merchant-42"}


@pytest.fixture
def data_api(app_data_api):
    """The tests below talk to the database as the API's login."""
    return app_data_api


@pytest.fixture
def api(payment_api, data_api, monkeypatch):
    monkeypatch.setattr(payment_api, "rds_data_client", lambda: data_api)
    return payment_api


def call(api, event):
    response = api.handler(event, None)
    assert response["isBase64Encoded"] is False
    assert response["headers"]["content-type"] == "application/json"
    assert response["statusDescription"].startswith(str(response["statusCode"]) + " ")
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def post(api, alb_event, body, key, merchant="merchant-42"):
    return call(api, alb_event("POST", "/payments", body, {"Idempotency-Key": key, "X-Merchant-Id": merchant}))


def get(api, alb_event, path, merchant="merchant-42"):
    return call(api, alb_event("GET", path, None, {"X-Merchant-Id": merchant}))


def test_the_api_sends_no_ddl_only_reads_and_inserts(api, data_api, alb_event):
    assert call(api, alb_event("GET", "/health"))[0] == 200
    created = post(api, alb_event, PAYMENT, "key-ddl")[1]
    assert post(api, alb_event, PAYMENT, "key-ddl")[0] == 200
    assert get(api, alb_event, f"/payments/{created['id']}")[0] == 200
    verbs = {call_["sql"].split(None, 1)[0].upper() for call_ in data_api.calls}
    assert verbs == {"SELECT", "INSERT"}


def test_create_replay_conflict_and_get(api, alb_event):
    status, created, headers = post(api, alb_event, PAYMENT, "key-0001")
    assert status == 201
    assert UUID_RE.fullmatch(created["id"])
    assert created["amount"] == "125.50"
    assert created["currency"] == "EUR"
    assert created["merchant_id"] == "merchant-42"
    assert created["status"] == "PENDING"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", created["created_at"])
    assert headers["location"] == f"/payments/{created['id']}"
    assert set(created) == {"id", "amount", "currency", "merchant_id", "status", "created_at"}

    # Same key, same body (amount written differently but equal) -> the original payment.
    status, replayed, headers = post(api, alb_event, {**PAYMENT, "amount": "125.5"}, "key-0001")
    assert status == 200
    assert replayed == created
    assert headers["idempotent-replayed"] == "true"

    # Same key, different body -> 409, and the stored payment is not leaked.
    status, body, _ = post(api, alb_event, {**PAYMENT, "amount": "99.99"}, "key-0001")
    assert status == 409
    assert "different request" in body["error"]
    assert created["id"] not in json.dumps(body)

    status, fetched, _ = get(api, alb_event, f"/payments/{created['id']}")
    assert status == 200
    assert fetched == created

    status, fetched_upper, _ = get(api, alb_event, f"/payments/{created['id'].upper()}")
    assert (status, fetched_upper) == (200, created)


def test_distinct_keys_create_distinct_payments(api, alb_event, data_api, postgres_server):
    first = post(api, alb_event, PAYMENT, "key-a")
    second = post(api, alb_event, PAYMENT, "key-b")
    assert first[0] == second[0] == 201
    assert first[1]["id"] != second[1]["id"]
    connection = postgres_server.connect(data_api.database)
    try:
        rows = connection.run("SELECT idempotency_key, amount::text, currency FROM payments ORDER BY idempotency_key")
    finally:
        connection.close()
    assert rows == [["key-a", "125.50", "EUR"], ["key-b", "125.50", "EUR"]]


def test_zero_decimal_currency_is_stored_and_returned_without_decimals(api, alb_event):
    status, created, _ = post(api, alb_event, {**PAYMENT, "currency": "JPY", "amount": "1500"}, "jpy-1")
    assert (status, created["amount"], created["currency"]) == (201, "1500", "JPY")


def test_unknown_payment_id_is_404(api, alb_event):
    status, body, _ = get(api, alb_event, "/payments/00000000-0000-4000-8000-000000000000")
    assert status == 404
    assert body == {"error": "payment not found"}


def test_health_ok(api, alb_event, data_api):
    status, body, _ = call(api, alb_event("GET", "/health"))
    assert (status, body) == (200, {"status": "ok"})
    assert data_api.calls[-1]["sql"] == "SELECT 1"


def test_health_is_503_when_the_data_api_fails(api, alb_event, data_api, capsys):
    data_api.fail_with = ClientError(
        {"Error": {"Code": "InternalServerErrorException", "Message": "secret internal detail"}},
        "ExecuteStatement",
    )
    status, body, headers = call(api, alb_event("GET", "/health"))
    assert status == 503
    assert body == {"status": "unavailable", "error": "database unavailable"}
    assert "secret internal detail" not in json.dumps(body)
    assert "Traceback" not in json.dumps(body)
    assert headers["retry-after"] == "5"
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert any(entry.get("error_code") == "InternalServerErrorException" for entry in logged)


def test_payment_routes_are_503_with_generic_reason_when_the_data_api_fails(api, alb_event, data_api):
    assert post(api, alb_event, PAYMENT, "key-ok")[0] == 201
    data_api.fail_with = ClientError(
        {"Error": {"Code": "BadRequestException", "Message": "ERROR: relation secret"}},
        "ExecuteStatement",
    )
    status, body, _ = post(api, alb_event, PAYMENT, "key-new")
    assert (status, body) == (503, {"error": "service temporarily unavailable"})
    status, body, _ = get(api, alb_event, "/payments/00000000-0000-4000-8000-000000000000")
    assert (status, body) == (503, {"error": "service temporarily unavailable"})


def test_a_resuming_database_is_503_then_served(api, alb_event, data_api):
    data_api.fail_with = ClientError(
        {"Error": {"Code": "DatabaseResumingException", "Message": "resuming"}}, "ExecuteStatement"
    )
    assert post(api, alb_event, PAYMENT, "after-resume")[0] == 503
    data_api.fail_with = None
    assert post(api, alb_event, PAYMENT, "after-resume")[0] == 201


def test_concurrent_requests_with_the_same_key_create_exactly_one_payment(api, alb_event, data_api, postgres_server):
    barrier = threading.Barrier(8)

    def attempt(_):
        barrier.wait()
        return post(api, alb_event, PAYMENT, "race-key")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] * 7 + [201]
    assert len({body["id"] for _, body, _ in results}) == 1
    connection = postgres_server.connect(data_api.database)
    try:
        assert connection.run("SELECT count(*) FROM payments") == [[1]]
    finally:
        connection.close()


def test_base64_encoded_body_is_decoded(api, alb_event):
    event = alb_event("POST", "/payments", PAYMENT, {"Idempotency-Key": "b64-key", **IDENTITY}, base64_body=True)
    status, created, _ = call(api, event)
    assert (status, created["amount"]) == (201, "125.50")


def test_multi_value_headers_events_get_multi_value_headers_responses(api, alb_event):
    event = alb_event("POST", "/payments", PAYMENT)
    headers = event.pop("headers")
    event["multiValueHeaders"] = {
        **{k: [v] for k, v in headers.items()},
        "idempotency-key": ["mv-key"],
        "x-merchant-id": ["merchant-42"],
    }
    response = api.handler(event, None)
    assert response["statusCode"] == 201
    assert "headers" not in response
    assert response["multiValueHeaders"]["content-type"] == ["application/json"]
