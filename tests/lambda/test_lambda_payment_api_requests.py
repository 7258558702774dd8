"""payment_api request shapes (botocore Stubber on a real rds-data client) and rejections."""

import base64
import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

CONNECTION = {
    "resourceArn": "arn:aws:rds:us-east-1:123456789012:cluster:payments-aurora",
    "secretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-db-AbCdEf",
    "database": "payments",
}
PAYMENT = {"amount": "10.05", "currency": "USD", "merchant_id": "m_1"}
PAYMENT_ID = "3b241101-e2bb-4255-8caf-4136c566a962"
STORED = {
    "id": PAYMENT_ID,
    "amount": "10.05",
    "currency": "USD",
    "merchant_id": "m_1",
    "status": "PENDING",
    "created_at": "2024-05-01T10:00:00.000Z",
}
IDENTITY = {"X-Merchant-Id": "m_1"}  # CLIENT_IDENTITY=header (payment_api_env)


@pytest.fixture
def stubbed(payment_api, payment_api_env, monkeypatch):
    client = boto3.client("rds-data", region_name="us-east-1")
    stubber = Stubber(client)
    monkeypatch.setattr(payment_api, "rds_data_client", lambda: client)
    with stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def records(*rows):
    return {"formattedRecords": json.dumps(list(rows)), "numberOfRecordsUpdated": 0}


def test_health_sends_only_select_1(stubbed, payment_api, alb_event):
    stubbed.add_response("execute_statement", {"numberOfRecordsUpdated": 0}, {**CONNECTION, "sql": "SELECT 1"})
    response = payment_api.handler(alb_event("GET", "/health"), None)
    assert response["statusCode"] == 200


def test_create_sends_typed_parameters(stubbed, payment_api, alb_event, monkeypatch):
    monkeypatch.setattr(payment_api.uuid, "uuid4", lambda: PAYMENT_ID)
    expected_hash = payment_api.request_hash(
        {"amount": payment_api.Decimal("10.05"), "currency": "USD", "merchant_id": "m_1"}
    )
    stubbed.add_response(
        "execute_statement",
        records({**STORED, "request_hash": expected_hash}),
        {
            **CONNECTION,
            "sql": payment_api.INSERT_PAYMENT_SQL,
            "formatRecordsAs": "JSON",
            "parameters": [
                {"name": "id", "value": {"stringValue": PAYMENT_ID}, "typeHint": "UUID"},
                {"name": "idempotency_key", "value": {"stringValue": "idem-1"}},
                {"name": "request_hash", "value": {"stringValue": expected_hash}},
                {"name": "amount", "value": {"stringValue": "10.05"}, "typeHint": "DECIMAL"},
                {"name": "currency", "value": {"stringValue": "USD"}},
                {"name": "merchant_id", "value": {"stringValue": "m_1"}},
                {"name": "status", "value": {"stringValue": "PENDING"}},
            ],
        },
    )
    response = payment_api.handler(
        alb_event("POST", "/payments", PAYMENT, {"Idempotency-Key": "idem-1", **IDENTITY}), None
    )
    assert response["statusCode"] == 201
    assert json.loads(response["body"]) == STORED
    assert "ON CONFLICT (merchant_id, idempotency_key) DO NOTHING" in payment_api.INSERT_PAYMENT_SQL


def test_replay_selects_by_idempotency_key(stubbed, payment_api, alb_event):
    expected_hash = payment_api.request_hash(
        {"amount": payment_api.Decimal("10.05"), "currency": "USD", "merchant_id": "m_1"}
    )
    stubbed.add_response(
        "execute_statement",
        records(),
        {**CONNECTION, "sql": payment_api.INSERT_PAYMENT_SQL, "formatRecordsAs": "JSON", "parameters": ANY},
    )
    stubbed.add_response(
        "execute_statement",
        records({**STORED, "request_hash": expected_hash}),
        {
            **CONNECTION,
            "sql": payment_api.SELECT_BY_IDEMPOTENCY_KEY_SQL,
            "formatRecordsAs": "JSON",
            "parameters": [
                {"name": "merchant_id", "value": {"stringValue": "m_1"}},
                {"name": "idempotency_key", "value": {"stringValue": "idem-1"}},
            ],
        },
    )
    response = payment_api.handler(
        alb_event("POST", "/payments", PAYMENT, {"Idempotency-Key": "idem-1", **IDENTITY}), None
    )
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == STORED


def test_get_sends_uuid_type_hint_and_the_merchant(stubbed, payment_api, alb_event):
    stubbed.add_response(
        "execute_statement",
        records(),
        {
            **CONNECTION,
            "sql": payment_api.SELECT_BY_ID_SQL,
            "formatRecordsAs": "JSON",
            "parameters": [
                {"name": "id", "value": {"stringValue": PAYMENT_ID}, "typeHint": "UUID"},
                {"name": "merchant_id", "value": {"stringValue": "m_1"}},
            ],
        },
    )
    response = payment_api.handler(alb_event("GET", f"/payments/{PAYMENT_ID}", None, IDENTITY), None)
    assert response["statusCode"] == 404


def test_client_error_from_stub_is_503(stubbed, payment_api, alb_event):
    stubbed.add_client_error(
        "execute_statement",
        service_error_code="StatementTimeoutException",
        service_message="timeout talking to db-internal-host",
        http_status_code=400,
    )
    response = payment_api.handler(alb_event("GET", "/health"), None)
    assert response["statusCode"] == 503
    assert "db-internal-host" not in response["body"]


@pytest.mark.parametrize(
    "stored, currency, shown",
    [
        ("10.50", "USD", "10.50"),
        ("1500.00", "JPY", "1500"),
        ("1500.50", "JPY", "1500.50"),
        ("7.00", "XTS", "7.00"),
    ],
)
def test_display_amount_never_rounds(payment_api, stored, currency, shown):
    assert payment_api.display_amount(stored, currency) == shown


# ----------------------------------------------------------------------------- rejections
class NoDatabase:
    """A Data API client that must never be reached by invalid requests."""

    def execute_statement(self, **_):
        raise AssertionError("invalid requests must be rejected before any database call")


KEY = {"Idempotency-Key": "k-123", **IDENTITY}


def _b64_garbage(alb_event):
    event = alb_event("POST", "/payments", None, KEY)
    event.update(body="%%%not base64%%%", isBase64Encoded=True)
    return event


def _raw(alb_event, body, headers=KEY):
    event = alb_event("POST", "/payments", None, headers)
    event["body"] = body
    return event


MALFORMED = {
    "bad json": (lambda e: _raw(e, "{not json"), 400, "not valid JSON"),
    "empty body": (lambda e: _raw(e, ""), 400, "body is required"),
    "non-object json": (lambda e: _raw(e, "[1, 2]"), 400, "JSON object"),
    "json string": (lambda e: _raw(e, '"hello"'), 400, "JSON object"),
    "duplicate keys": (
        lambda e: _raw(e, '{"amount": "1", "amount": "1000", "currency": "USD", "merchant_id": "m"}'),
        400,
        "duplicate",
    ),
    "NaN constant": (
        lambda e: _raw(e, '{"amount": NaN, "currency": "USD", "merchant_id": "m"}'),
        400,
        "not valid JSON",
    ),
    "deeply nested": (lambda e: _raw(e, "[" * 5000 + "]" * 5000), 400, "not valid JSON"),
    "negative amount": (lambda e: e("POST", "/payments", {**PAYMENT, "amount": "-5.00"}, KEY), 400, "amount"),
    "zero amount": (lambda e: e("POST", "/payments", {**PAYMENT, "amount": "0.00"}, KEY), 400, "greater than zero"),
    "three decimals": (
        lambda e: e("POST", "/payments", {**PAYMENT, "amount": "1.005"}, KEY),
        400,
        "at most 2 decimals",
    ),
    "non-numeric amount": (lambda e: e("POST", "/payments", {**PAYMENT, "amount": "ten"}, KEY), 400, "decimal string"),
    "exponent amount": (lambda e: e("POST", "/payments", {**PAYMENT, "amount": "1e3"}, KEY), 400, "decimal string"),
    "amount as JSON number": (
        lambda e: e("POST", "/payments", {**PAYMENT, "amount": 10.05}, KEY),
        400,
        "not a JSON number",
    ),
    "amount as boolean": (lambda e: e("POST", "/payments", {**PAYMENT, "amount": True}, KEY), 400, "not a JSON number"),
    "amount too large": (
        lambda e: e("POST", "/payments", {**PAYMENT, "amount": "1" + "0" * 16}, KEY),
        400,
        "decimal string",
    ),
    "decimals on JPY": (
        lambda e: e("POST", "/payments", {**PAYMENT, "currency": "JPY", "amount": "100.5"}, KEY),
        400,
        "JPY allows at most 0 decimals",
    ),
    "missing amount": (
        lambda e: e("POST", "/payments", {"currency": "USD", "merchant_id": "m"}, KEY),
        400,
        "amount is required",
    ),
    "unknown currency": (
        lambda e: e("POST", "/payments", {**PAYMENT, "currency": "XXX"}, KEY),
        400,
        "currency must be one of",
    ),
    "lowercase currency": (
        lambda e: e("POST", "/payments", {**PAYMENT, "currency": "usd"}, KEY),
        400,
        "currency must be one of",
    ),
    "missing currency": (
        lambda e: e("POST", "/payments", {"amount": "1.00", "merchant_id": "m"}, KEY),
        400,
        "currency is required",
    ),
    "missing merchant": (
        lambda e: e("POST", "/payments", {"amount": "1.00", "currency": "USD"}, KEY),
        400,
        "merchant_id is required",
    ),
    "unsafe merchant": (
        lambda e: e("POST", "/payments", {**PAYMENT, "merchant_id": "m'; DROP TABLE payments;--"}, KEY),
        400,
        "merchant_id must be",
    ),
    "oversized merchant": (
        lambda e: e("POST", "/payments", {**PAYMENT, "merchant_id": "m" * 65}, KEY),
        400,
        "merchant_id must be",
    ),
    "unknown field": (lambda e: e("POST", "/payments", {**PAYMENT, "tip": "1.00"}, KEY), 400, "unknown field(s): tip"),
    "missing idempotency key": (
        lambda e: e("POST", "/payments", PAYMENT, IDENTITY),
        400,
        "Idempotency-Key header is required",
    ),
    "empty idempotency key": (
        lambda e: e("POST", "/payments", PAYMENT, {"Idempotency-Key": "", **IDENTITY}),
        400,
        "Idempotency-Key header is required",
    ),
    "oversized idempotency key": (
        lambda e: e("POST", "/payments", PAYMENT, {"Idempotency-Key": "k" * 129, **IDENTITY}),
        400,
        "1-128",
    ),
    "unsafe idempotency key": (
        lambda e: e("POST", "/payments", PAYMENT, {"Idempotency-Key": "key with spaces", **IDENTITY}),
        400,
        "1-128",
    ),
    "oversized body": (lambda e: _raw(e, json.dumps({**PAYMENT, "pad": "x" * 17000})), 413, "exceeds 16384 bytes"),
    "oversized base64 body": (
        lambda e: e("POST", "/payments", "x" * 20000, KEY, base64_body=True),
        413,
        "exceeds 16384 bytes",
    ),
    "base64 garbage": (_b64_garbage, 400, "not valid base64"),
    "base64 of non-utf8": (
        lambda e: {**_raw(e, base64.b64encode(b"\xff\xfe\x00").decode()), "isBase64Encoded": True},
        400,
        "UTF-8",
    ),
    "wrong method on /payments": (lambda e: e("PUT", "/payments", PAYMENT, KEY), 405, "use POST"),
    "wrong method on /health": (lambda e: e("POST", "/health"), 405, "use GET"),
    "wrong method on payment": (lambda e: e("DELETE", f"/payments/{PAYMENT_ID}"), 405, "use GET"),
    "unknown path": (lambda e: e("GET", "/admin"), 404, "not found"),
    "nested unknown path": (lambda e: e("GET", f"/payments/{PAYMENT_ID}/refunds"), 404, "not found"),
    "malformed payment id": (lambda e: e("GET", "/payments/not-a-uuid", None, IDENTITY), 400, "must be a UUID"),
    "sql in payment id": (lambda e: e("GET", "/payments/1%27%20OR%201=1", None, IDENTITY), 400, "must be a UUID"),
    "braced uuid": (lambda e: e("GET", "/payments/{" + PAYMENT_ID + "}", None, IDENTITY), 400, "must be a UUID"),
    "lowercase method": (lambda e: e("post", "/payments", PAYMENT, KEY), 405, "use POST"),
    "mixed-case method": (lambda e: e("Get", f"/payments/{PAYMENT_ID}", None, IDENTITY), 405, "use GET"),
    "lowercase method on /health": (lambda e: e("get", "/health"), 405, "use GET"),
    "no merchant identity on create": (
        lambda e: e("POST", "/payments", PAYMENT, {"Idempotency-Key": "k"}),
        401,
        "X-Merchant-Id header is required",
    ),
    "no merchant identity on read": (
        lambda e: e("GET", f"/payments/{PAYMENT_ID}"),
        401,
        "X-Merchant-Id header is required",
    ),
    "malformed merchant identity": (
        lambda e: e("GET", f"/payments/{PAYMENT_ID}", None, {"X-Merchant-Id": "m 1; DROP"}),
        401,
        "X-Merchant-Id must be",
    ),
    "body names another merchant": (
        lambda e: e("POST", "/payments", {**PAYMENT, "merchant_id": "m_2"}, KEY),
        403,
        "not the authenticated merchant",
    ),
    "forged certificate subject in header mode": (
        lambda e: e("GET", f"/payments/{PAYMENT_ID}", None, {"X-Amzn-Mtls-Clientcert-Subject": "CN=m_1"}),
        401,
        "X-Merchant-Id header is required",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_requests_are_rejected_with_a_reason(case, payment_api, payment_api_env, alb_event, monkeypatch):
    monkeypatch.setattr(payment_api, "rds_data_client", lambda: NoDatabase())
    build, status, reason = MALFORMED[case]
    response = payment_api.handler(build(alb_event), None)
    assert response["statusCode"] == status
    assert 400 <= response["statusCode"] < 500
    assert response["headers"]["content-type"] == "application/json"
    body = json.loads(response["body"])
    assert set(body) == {"error"}
    assert reason in body["error"]
    assert "Traceback" not in response["body"]


def test_405_lists_allowed_methods(payment_api, payment_api_env, alb_event):
    response = payment_api.handler(alb_event("PATCH", "/payments"), None)
    assert response["statusCode"] == 405
    assert response["headers"]["allow"] == "POST"


@pytest.mark.parametrize("event", [None, [], {"path": "/health"}, {"httpMethod": "GET"}])
def test_non_alb_events_are_400(event, payment_api):
    response = payment_api.handler(event, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"]) == {"error": "malformed request"}


def test_missing_configuration_is_503_without_details(payment_api, alb_event, monkeypatch):
    for name in ("DB_CLUSTER_ARN", "DB_SECRET_ARN", "DB_NAME"):
        monkeypatch.delenv(name, raising=False)
    response = payment_api.handler(alb_event("GET", "/health"), None)
    assert response["statusCode"] == 503
    assert "DB_" not in response["body"]


def test_unexpected_bug_is_500_without_trace(payment_api, payment_api_env, alb_event, monkeypatch):
    def broken():
        raise KeyError("internal-detail")

    monkeypatch.setattr(payment_api, "rds_data_client", broken)
    response = payment_api.handler(alb_event("GET", f"/payments/{PAYMENT_ID}", None, IDENTITY), None)
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"error": "internal error"}


def test_logs_are_json_lines(payment_api, payment_api_env, alb_event, capsys):
    payment_api.handler(alb_event("GET", "/nowhere"), None)
    lines = capsys.readouterr().err.strip().splitlines()
    entries = [json.loads(line) for line in lines]
    request_log = entries[-1]
    assert request_log["message"] == "request handled"
    assert request_log["status"] == 404
    assert request_log["path"] == "/nowhere"
    assert request_log["level"] == "INFO"
