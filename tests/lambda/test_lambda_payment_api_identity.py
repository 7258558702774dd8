"""payment_api: merchant identity (mutual TLS subject or header), per-merchant authorization and
idempotency, cold starts on a migrated database, request ids, one-line errors, write gates."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

PAYMENT = {"amount": "20.00", "currency": "EUR", "merchant_id": "merchant-a"}
MERCHANT_A = {"X-Merchant-Id": "merchant-a"}
MERCHANT_B = {"X-Merchant-Id": "merchant-b"}
SUBJECT_HEADER = "X-Amzn-Mtls-Clientcert-Subject"
TRACE_ROOT = "1-67891233-abcdef012345678912345678"


@pytest.fixture
def api(payment_api, app_data_api, monkeypatch):
    monkeypatch.setattr(payment_api, "rds_data_client", lambda: app_data_api)
    return payment_api


@pytest.fixture
def mtls(monkeypatch, payment_api_env):
    monkeypatch.setenv("CLIENT_IDENTITY", "mtls")


def call(api, event, context=None):
    response = api.handler(event, context)
    return response["statusCode"], json.loads(response["body"]), response.get("headers", {})


def count_payments(postgres_server, database):
    connection = postgres_server.connect(database)
    try:
        return connection.run("SELECT count(*) FROM payments")[0][0]
    finally:
        connection.close()


class NoDatabase:
    def execute_statement(self, **_):
        raise AssertionError("this request must be answered before any database call")


@pytest.fixture
def offline_api(payment_api, payment_api_env, monkeypatch):
    monkeypatch.setattr(payment_api, "rds_data_client", NoDatabase)
    return payment_api


# ----------------------------------------------------------------------------- distinguished names
@pytest.mark.parametrize(
    "subject, expected",
    [
        (
            "CN=merchant-a,OU=payments,O=Example Corp,C=DE",
            [("CN", "merchant-a"), ("OU", "payments"), ("O", "Example Corp"), ("C", "DE")],
        ),
        ("cn=merchant-a", [("CN", "merchant-a")]),
        ("CN=merchant-a+UID=42,O=Example", [("CN", "merchant-a"), ("UID", "42"), ("O", "Example")]),
        ("2.5.4.3=merchant-a", [("2.5.4.3", "merchant-a")]),
        ("CN=merchant\\2Da", [("CN", "merchant-a")]),
        ("O=Example\\, Inc.,CN=m1", [("O", "Example, Inc."), ("CN", "m1")]),
        ("CN=a\\+b", [("CN", "a+b")]),
        ("CN=caf\\C3\\A9", [("CN", "café")]),
    ],
)
def test_parse_distinguished_name(payment_api, subject, expected):
    assert payment_api.parse_distinguished_name(subject) == expected


@pytest.mark.parametrize(
    "subject",
    [
        "",
        "merchant-a",
        "CN=#04096d65726368616e74",
        "CN=a\\",
        "CN=a\\zz",
        "CN=a;O=b",
        'CN="a"',
        "=a",
        "C N=a",
        "CN=a=b",
        "CN=\\FF",
    ],
)
def test_malformed_distinguished_names_are_refused(payment_api, subject):
    with pytest.raises(ValueError):
        payment_api.parse_distinguished_name(subject)


@pytest.mark.parametrize(
    "subject, reason",
    [
        ("O=Example,C=DE", "exactly one CN"),
        ("CN=merchant-a,CN=merchant-b", "exactly one CN"),
        ("CN=merchant-a+2.5.4.3=merchant-b", "exactly one CN"),
        ("CN=merchant a", "CN must be a merchant id"),
        ("CN=a\\,b", "CN must be a merchant id"),
        ("CN=a\\,CN=b", "not a valid RFC 2253 name"),
        ("CN=" + "m" * 65, "CN must be a merchant id"),
        ("CN=#0403616263", "not a valid RFC 2253 name"),
        ("CN=m," + "O=x," * 600, "too long"),
    ],
)
def test_certificate_subjects_that_name_no_single_merchant_are_401(offline_api, mtls, alb_event, subject, reason):
    status, body, _ = call(
        offline_api, alb_event("GET", "/payments/00000000-0000-4000-8000-000000000000", None, {SUBJECT_HEADER: subject})
    )
    assert status == 401
    assert reason in body["error"]


# ----------------------------------------------------------------------------- identity per mode
def test_mtls_mode_takes_the_merchant_from_the_certificate_subject(api, mtls, alb_event):
    headers = {
        SUBJECT_HEADER: "CN=merchant-a,OU=payments,O=Example Corp,C=DE",
        "Idempotency-Key": "k-1",
        # a client's own copy of the header mode's identity is ignored in mtls mode
        "X-Merchant-Id": "merchant-b",
    }
    status, created, _ = call(api, alb_event("POST", "/payments", PAYMENT, headers))
    assert (status, created["merchant_id"]) == (201, "merchant-a")
    status, fetched, _ = call(
        api, alb_event("GET", f"/payments/{created['id']}", None, {SUBJECT_HEADER: "CN=merchant-a,O=Example Corp"})
    )
    assert (status, fetched) == (200, created)


def test_mtls_mode_without_the_subject_header_is_401_whatever_else_is_sent(offline_api, mtls, alb_event):
    status, body, _ = call(
        offline_api, alb_event("GET", "/payments/00000000-0000-4000-8000-000000000000", None, MERCHANT_A)
    )
    assert (status, body) == (401, {"error": "client certificate is required"})


def test_mtls_mode_refuses_a_repeated_subject_header(offline_api, mtls, alb_event):
    event = alb_event("GET", "/payments/00000000-0000-4000-8000-000000000000")
    headers = event.pop("headers")
    event["multiValueHeaders"] = {
        **{k: [v] for k, v in headers.items()},
        SUBJECT_HEADER.lower(): ["CN=merchant-a", "CN=merchant-b"],
    }
    response = offline_api.handler(event, None)
    assert response["statusCode"] == 401
    assert "exactly once" in json.loads(response["body"])["error"]


def test_header_mode_ignores_a_forged_certificate_subject(api, alb_event):
    headers = {**MERCHANT_A, SUBJECT_HEADER: "CN=merchant-b", "Idempotency-Key": "k-forged"}
    status, created, _ = call(api, alb_event("POST", "/payments", PAYMENT, headers))
    assert (status, created["merchant_id"]) == (201, "merchant-a")
    status, _, _ = call(
        api, alb_event("GET", f"/payments/{created['id']}", None, {**MERCHANT_B, SUBJECT_HEADER: "CN=merchant-a"})
    )
    assert status == 404


def test_an_unknown_identity_mode_is_503_and_health_still_answers(api, alb_event, monkeypatch, capsys):
    for value in (None, "", "tls", "MTLS", "none"):
        if value is None:
            monkeypatch.delenv("CLIENT_IDENTITY")
        else:
            monkeypatch.setenv("CLIENT_IDENTITY", value)
        status, body, _ = call(
            api, alb_event("GET", "/payments/00000000-0000-4000-8000-000000000000", None, MERCHANT_A)
        )
        assert (value, status, body) == (value, 503, {"error": "service temporarily unavailable"})
        assert "CLIENT_IDENTITY" in capsys.readouterr().err
        assert call(api, alb_event("GET", "/health"))[0] == 200


def test_health_needs_no_identity_in_either_mode(api, alb_event, monkeypatch):
    for mode in ("header", "mtls"):
        monkeypatch.setenv("CLIENT_IDENTITY", mode)
        assert call(api, alb_event("GET", "/health"))[:2] == (200, {"status": "ok"})


# ----------------------------------------------------------------------------- authorization
def test_another_merchants_payment_is_404_exactly_like_an_unknown_one(api, alb_event):
    created = call(api, alb_event("POST", "/payments", PAYMENT, {**MERCHANT_A, "Idempotency-Key": "k-a"}))[1]
    other = call(api, alb_event("GET", f"/payments/{created['id']}", None, MERCHANT_B))
    unknown = call(api, alb_event("GET", "/payments/00000000-0000-4000-8000-000000000000", None, MERCHANT_B))
    assert other[:2] == unknown[:2] == (404, {"error": "payment not found"})
    assert call(api, alb_event("GET", f"/payments/{created['id']}", None, MERCHANT_A))[0] == 200


def test_creating_for_another_merchant_is_403_and_stores_nothing(api, alb_event, postgres_server, app_data_api):
    status, body, _ = call(
        api,
        alb_event(
            "POST", "/payments", {**PAYMENT, "merchant_id": "merchant-b"}, {**MERCHANT_A, "Idempotency-Key": "k-x"}
        ),
    )
    assert (status, body) == (403, {"error": "merchant_id is not the authenticated merchant"})
    assert count_payments(postgres_server, app_data_api.database) == 0


def test_idempotency_keys_are_scoped_per_merchant(api, alb_event, postgres_server, app_data_api):
    first = call(api, alb_event("POST", "/payments", PAYMENT, {**MERCHANT_A, "Idempotency-Key": "shared"}))
    second = call(
        api,
        alb_event(
            "POST", "/payments", {**PAYMENT, "merchant_id": "merchant-b"}, {**MERCHANT_B, "Idempotency-Key": "shared"}
        ),
    )
    replay = call(api, alb_event("POST", "/payments", PAYMENT, {**MERCHANT_A, "Idempotency-Key": "shared"}))
    assert (first[0], second[0], replay[0]) == (201, 201, 200)
    assert first[1]["id"] != second[1]["id"]
    assert replay[1] == first[1]
    assert count_payments(postgres_server, app_data_api.database) == 2


# ----------------------------------------------------------------------------- cold starts
def test_32_concurrent_cold_starts_on_a_freshly_migrated_database_give_no_error(
    app_data_api, load_lambda, alb_event, postgres_server, lambda_context
):
    containers = 32
    barrier = threading.Barrier(containers)

    def cold_start(index):
        module = load_lambda("payment_api")  # a new container: fresh module, clients, caches
        module.rds_data_client = lambda: app_data_api
        merchant = f"merchant-{index % 4}"
        body = {**PAYMENT, "merchant_id": merchant}
        event = alb_event("POST", "/payments", body, {"X-Merchant-Id": merchant, "Idempotency-Key": f"cold-{index}"})
        barrier.wait()
        response = module.handler(event, lambda_context(request_id=f"req-{index}"))
        return response["statusCode"], response["headers"]["x-request-id"]

    with ThreadPoolExecutor(max_workers=containers) as pool:
        results = list(pool.map(cold_start, range(containers)))
    assert [status for status, _ in results] == [201] * containers
    assert [request_id for _, request_id in results] == [f"req-{i}" for i in range(containers)]
    assert count_payments(postgres_server, app_data_api.database) == containers
    assert {c["sql"].split(None, 1)[0].upper() for c in app_data_api.calls} == {"INSERT"}


# ----------------------------------------------------------------------------- request ids and logs
def test_request_id_header_and_log_fields(api, alb_event, lambda_context, capsys):
    context = lambda_context("payments-dev-payment-api", request_id="c0ffee00-1111-4222-8333-444455556666")
    headers = {**MERCHANT_A, "Idempotency-Key": "k-log", "X-Amzn-Trace-Id": f"Self=1-0-0;Root={TRACE_ROOT}"}
    status, _, response_headers = call(api, alb_event("POST", "/payments", PAYMENT, headers), context)
    assert status == 201
    assert response_headers["x-request-id"] == context.aws_request_id
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [entry["message"] for entry in entries] == ["payment created", "request handled"]
    for entry in entries:
        assert (entry["request_id"], entry["function_name"], entry["correlation_id"]) == (
            context.aws_request_id,
            "payments-dev-payment-api",
            TRACE_ROOT,
        )


def test_error_answers_carry_the_request_id_too(offline_api, alb_event, lambda_context):
    response = offline_api.handler(alb_event("post", "/payments"), lambda_context(request_id="req-405"))
    assert response["statusCode"] == 405
    assert response["headers"]["x-request-id"] == "req-405"


def test_multi_value_events_carry_the_request_id_and_trace(offline_api, alb_event, lambda_context, capsys):
    event = alb_event("GET", "/nowhere", None, {"X-Amzn-Trace-Id": f"Root={TRACE_ROOT}"})
    headers = event.pop("headers")
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    response = offline_api.handler(event, lambda_context(request_id="req-mv"))
    assert response["multiValueHeaders"]["x-request-id"] == ["req-mv"]
    entry = json.loads(capsys.readouterr().err.splitlines()[-1])
    assert (entry["request_id"], entry["correlation_id"]) == ("req-mv", TRACE_ROOT)


@pytest.mark.parametrize(
    "trace",
    [
        "Root=not-a-trace",
        "Root=1-6789123-abcdef012345678912345678",
        "Self=1-67891233-abcdef012345678912345678",
        "x" * 600,
    ],
)
def test_malformed_trace_headers_give_no_correlation_id(offline_api, alb_event, trace, capsys, monkeypatch):
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    offline_api.handler(alb_event("GET", "/nowhere", None, {"X-Amzn-Trace-Id": trace}), None)
    assert json.loads(capsys.readouterr().err.splitlines()[-1])["correlation_id"] is None


def test_a_bug_is_one_structured_line_and_no_trace_in_the_body(
    offline_api, alb_event, monkeypatch, capsys, lambda_context
):
    def broken():
        raise KeyError("internal-detail")

    monkeypatch.setattr(offline_api, "rds_data_client", broken)
    response = offline_api.handler(alb_event("GET", "/health"), lambda_context(request_id="req-bug"))
    assert (response["statusCode"], json.loads(response["body"])) == (500, {"error": "internal error"})
    assert "internal-detail" not in response["body"] and "Traceback" not in response["body"]
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert (entry["level"], entry["message"], entry["status"], entry["request_id"]) == (
        "ERROR",
        "request failed",
        500,
        "req-bug",
    )
    assert "KeyError: 'internal-detail'" in entry["exception"]


# ----------------------------------------------------------------------------- write gates
def test_a_write_gate_pauses_writes_with_a_retriable_503(api, alb_event, postgres_server, app_data_api):
    created = call(api, alb_event("POST", "/payments", PAYMENT, {**MERCHANT_A, "Idempotency-Key": "before"}))[1]
    calls = []

    def paused():
        calls.append("gate")
        raise api.WritesPaused("writes paused for cutover, retry", retry_after_seconds=2)

    api.WRITE_GATES.append(paused)
    status, body, headers = call(
        api, alb_event("POST", "/payments", PAYMENT, {**MERCHANT_A, "Idempotency-Key": "during"})
    )
    assert (status, body, headers["retry-after"]) == (503, {"error": "writes paused for cutover, retry"}, "2")
    # Bad requests are still told what is wrong; reads go on; the gate is asked only for valid writes.
    assert (
        call(
            api, alb_event("POST", "/payments", {**PAYMENT, "amount": "-1"}, {**MERCHANT_A, "Idempotency-Key": "bad"})
        )[0]
        == 400
    )
    assert call(api, alb_event("GET", f"/payments/{created['id']}", None, MERCHANT_A))[0] == 200
    assert calls == ["gate"]
    assert count_payments(postgres_server, app_data_api.database) == 1

    api.WRITE_GATES.remove(paused)
    assert call(api, alb_event("POST", "/payments", PAYMENT, {**MERCHANT_A, "Idempotency-Key": "during"}))[0] == 201
