"""Payment API: an ALB Lambda target backed by Aurora PostgreSQL through the RDS Data API.

Environment:
    DB_CLUSTER_ARN  Aurora cluster ARN (Data API resourceArn)
    DB_SECRET_ARN   Secrets Manager secret ARN with the database credentials
    DB_NAME         database name
    LOG_LEVEL       optional, default INFO

Routes (every response body is JSON, content-type application/json):
    GET  /health          200 {"status": "ok"} | 503 {"status": "unavailable", "error": "..."}
    POST /payments        body {"amount": "12.34", "currency": "EUR", "merchant_id": "m-1"}
                          header Idempotency-Key (1-128 chars of A-Z a-z 0-9 . _ : -)
                          201 payment (new) | 200 payment (same key, same request; header
                          idempotent-replayed: true) | 409 (same key, different request)
    GET  /payments/{id}   200 payment | 404 | 400 (id is not a canonical UUID)

A payment is {"id", "amount", "currency", "merchant_id", "status", "created_at"}; amount is
a decimal string with the currency's minor units, created_at is ISO-8601 UTC.

`amount` must be a JSON *string* ("12.34"): JSON numbers are rejected because most JSON
clients encode them as binary floats, which cannot represent money exactly. At most two
decimals (none for zero-decimal currencies such as JPY), greater than zero, below 10^16.
Unknown fields and duplicate keys are rejected. Errors are {"error": "<reason>"} with a
4xx status; database failures are 503 with a generic reason (details only in the logs).
"""

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import time
import uuid
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from lambda_support import handler_toolkit, missing_environment

MAX_BODY_BYTES = 16 * 1024
SCHEMA_PATH = Path(__file__).with_name("schema.sql")
INITIAL_STATUS = "PENDING"

# ISO-4217 code -> number of minor-unit decimals accepted.
CURRENCY_MINOR_UNITS = {
    "AUD": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2,
    "HKD": 2, "JPY": 0, "KRW": 0, "NOK": 2, "NZD": 2, "PLN": 2, "SEK": 2, "SGD": 2,
    "USD": 2,
}
PAYMENT_FIELDS = frozenset({"amount", "currency", "merchant_id"})

AMOUNT_PATTERN = re.compile(r"(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,2})?")
MERCHANT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
PAYMENT_ID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
PAYMENT_PATH_PATTERN = re.compile(r"/payments/([^/]+)")

PAYMENT_COLUMNS = (
    "id::text AS id, amount::text AS amount, currency::text AS currency, merchant_id, "
    "status, request_hash::text AS request_hash, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at"
)
INSERT_PAYMENT_SQL = (
    "INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_id, status) "
    "VALUES (:id, :idempotency_key, :request_hash, :amount, :currency, :merchant_id, :status) "
    "ON CONFLICT (idempotency_key) DO NOTHING "
    f"RETURNING {PAYMENT_COLUMNS}"
)
SELECT_BY_IDEMPOTENCY_KEY_SQL = (
    f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE idempotency_key = :idempotency_key"
)
SELECT_BY_ID_SQL = f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = :id"
HEALTH_SQL = "SELECT 1"

# boto3 loads lazily with the first client: bad requests are answered without paying for it.
LOGGER, log, aws_client = handler_toolkit(
    "payment_api", connect_timeout=5, read_timeout=50, retries={"mode": "standard", "max_attempts": 3})
_clients = aws_client.cache  # tests may pre-fill it


# --------------------------------------------------------------------------- errors
class ApiError(Exception):
    """A client-facing error: status code, a safe reason and optional extra headers."""

    def __init__(self, status, reason, headers=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


class DatabaseUnavailable(Exception):
    """The Data API call failed; the cause is logged, never returned."""


# --------------------------------------------------------------------------- AWS client
def rds_data_client():
    """The module's cached rds-data client (created on first use). Tests replace this function."""
    return aws_client("rds-data")


# --------------------------------------------------------------------------- database
def database_config():
    names = ("DB_CLUSTER_ARN", "DB_SECRET_ARN", "DB_NAME")
    missing = missing_environment(names)
    if missing:
        log(logging.ERROR, "missing configuration", missing=missing)
        raise DatabaseUnavailable("missing configuration")
    return {
        "resourceArn": os.environ["DB_CLUSTER_ARN"],
        "secretArn": os.environ["DB_SECRET_ARN"],
        "database": os.environ["DB_NAME"],
    }


def string_parameter(name, value, type_hint=None):
    parameter = {"name": name, "value": {"stringValue": value}}
    if type_hint:
        parameter["typeHint"] = type_hint
    return parameter


def execute(sql, parameters=(), *, return_records=False):
    """Runs one statement; returns the rows as dicts when return_records is set."""
    request = {**database_config(), "sql": sql}
    if parameters:
        request["parameters"] = list(parameters)
    if return_records:
        request["formatRecordsAs"] = "JSON"
    try:
        response = rds_data_client().execute_statement(**request)
    except (ClientError, BotoCoreError) as error:
        code = error.response["Error"].get("Code") if isinstance(error, ClientError) else type(error).__name__
        log(logging.ERROR, "data api call failed", error_code=code, error=str(error))
        raise DatabaseUnavailable(code) from error
    if not return_records:
        return response
    try:
        return json.loads(response.get("formattedRecords") or "[]")
    except ValueError as error:
        log(logging.ERROR, "data api returned malformed records")
        raise DatabaseUnavailable("malformed records") from error


def schema_statements():
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.strip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


_schema_applied = False


def ensure_schema():
    """Applies schema.sql (idempotent DDL) once per container, before the first query."""
    global _schema_applied
    if _schema_applied:
        return
    for statement in schema_statements():
        execute(statement)
    _schema_applied = True
    log(logging.INFO, "schema applied")


# --------------------------------------------------------------------------- request parsing
def request_headers(event):
    multi = event.get("multiValueHeaders")
    if isinstance(multi, dict):
        return {str(k).lower(): v[-1] for k, v in multi.items() if isinstance(v, list) and v}
    headers = event.get("headers")
    return {str(k).lower(): v for k, v in headers.items()} if isinstance(headers, dict) else {}


def read_body(event):
    raw = event.get("body")
    if raw is None:
        return b""
    if not isinstance(raw, str):
        raise ApiError(400, "request body must be a string")
    if event.get("isBase64Encoded"):
        if len(raw) > (MAX_BODY_BYTES + 2) // 3 * 4 + 4:
            raise ApiError(413, f"request body exceeds {MAX_BODY_BYTES} bytes")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "request body is not valid base64") from None
    else:
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, "request body is not valid UTF-8") from None
    if len(data) > MAX_BODY_BYTES:
        raise ApiError(413, f"request body exceeds {MAX_BODY_BYTES} bytes")
    return data


def _reject_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate key")
        result[key] = value
    return result


def _reject_constant(name):
    raise ValueError(f"invalid JSON constant {name}")


def parse_json_object(data):
    if not data:
        raise ApiError(400, "request body is required")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "request body must be UTF-8 encoded JSON") from None
    try:
        payload = json.loads(
            text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError):
        raise ApiError(400, "request body is not valid JSON (or has duplicate keys)") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "request body must be a JSON object")
    return payload


def idempotency_key(event):
    key = request_headers(event).get("idempotency-key")
    if key is None or key == "":
        raise ApiError(400, "Idempotency-Key header is required")
    if not isinstance(key, str) or not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        raise ApiError(
            400, "Idempotency-Key must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'"
        )
    return key


def parse_currency(value):
    if value is None:
        raise ApiError(400, "currency is required")
    if not isinstance(value, str) or value not in CURRENCY_MINOR_UNITS:
        raise ApiError(400, "currency must be one of " + ", ".join(sorted(CURRENCY_MINOR_UNITS)))
    return value


def parse_amount(value, currency):
    if value is None:
        raise ApiError(400, "amount is required")
    if isinstance(value, (bool, int, float)):
        raise ApiError(400, 'amount must be a decimal string such as "12.34", not a JSON number')
    if not isinstance(value, str) or not AMOUNT_PATTERN.fullmatch(value):
        raise ApiError(
            400, 'amount must be a positive decimal string with at most 2 decimals, e.g. "12.34"'
        )
    amount = Decimal(value)
    if amount <= 0:
        raise ApiError(400, "amount must be greater than zero")
    decimals = CURRENCY_MINOR_UNITS[currency]
    if -amount.as_tuple().exponent > decimals:
        raise ApiError(400, f"amount for {currency} allows at most {decimals} decimals")
    return amount.quantize(Decimal("0.01"))


def parse_merchant_id(value):
    if value is None or value == "":
        raise ApiError(400, "merchant_id is required")
    if not isinstance(value, str) or not MERCHANT_ID_PATTERN.fullmatch(value):
        raise ApiError(
            400,
            "merchant_id must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', ':', '-' "
            "starting with a letter or digit",
        )
    return value


def parse_payment_request(payload):
    unknown = sorted(set(payload) - PAYMENT_FIELDS)
    if unknown:
        names = ", ".join(name[:64] for name in unknown[:5])
        raise ApiError(400, f"unknown field(s): {names}")
    currency = parse_currency(payload.get("currency"))
    return {
        "amount": parse_amount(payload.get("amount"), currency),
        "currency": currency,
        "merchant_id": parse_merchant_id(payload.get("merchant_id")),
    }


def request_hash(request):
    canonical = json.dumps(
        {"amount": str(request["amount"]), "currency": request["currency"],
         "merchant_id": request["merchant_id"]},
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- responses
def display_amount(stored, currency):
    """The stored numeric(18,2) text in the currency's minor units, never rounding a value."""
    amount = Decimal(stored)
    exact = amount.quantize(Decimal(1).scaleb(-CURRENCY_MINOR_UNITS.get(currency, 2)))
    return str(exact) if exact == amount else stored


def payment_view(row):
    currency = row["currency"].strip()
    return {
        "id": row["id"],
        "amount": display_amount(row["amount"], currency),
        "currency": currency,
        "merchant_id": row["merchant_id"],
        "status": row["status"],
        "created_at": row["created_at"],
    }


def build_response(status, payload, headers=None, multi_value=False):
    all_headers = {"content-type": "application/json", "cache-control": "no-store", **(headers or {})}
    response = {
        "statusCode": status,
        "statusDescription": f"{status} {HTTPStatus(status).phrase}",
        "isBase64Encoded": False,
        "body": json.dumps(payload, separators=(",", ":")),
    }
    if multi_value:
        response["multiValueHeaders"] = {name: [value] for name, value in all_headers.items()}
    else:
        response["headers"] = all_headers
    return response


# --------------------------------------------------------------------------- routes
def health(event):
    try:
        ensure_schema()
        execute(HEALTH_SQL)
    except DatabaseUnavailable:
        return 503, {"status": "unavailable", "error": "database unavailable"}, {"retry-after": "5"}
    return 200, {"status": "ok"}, {}


def create_payment(event):
    key = idempotency_key(event)
    request = parse_payment_request(parse_json_object(read_body(event)))
    fingerprint = request_hash(request)
    ensure_schema()
    inserted = execute(
        INSERT_PAYMENT_SQL,
        [
            string_parameter("id", str(uuid.uuid4()), "UUID"),
            string_parameter("idempotency_key", key),
            string_parameter("request_hash", fingerprint),
            string_parameter("amount", str(request["amount"]), "DECIMAL"),
            string_parameter("currency", request["currency"]),
            string_parameter("merchant_id", request["merchant_id"]),
            string_parameter("status", INITIAL_STATUS),
        ],
        return_records=True,
    )
    if inserted:
        log(logging.INFO, "payment created", payment_id=inserted[0]["id"],
            merchant_id=request["merchant_id"])
        return 201, payment_view(inserted[0]), {"location": f"/payments/{inserted[0]['id']}"}
    return replay_payment(key, fingerprint)


def replay_payment(key, fingerprint):
    rows = execute(
        SELECT_BY_IDEMPOTENCY_KEY_SQL, [string_parameter("idempotency_key", key)],
        return_records=True,
    )
    if not rows:  # the conflicting row vanished between the two statements
        log(logging.ERROR, "idempotency key conflict without a stored payment")
        raise DatabaseUnavailable("conflicting row not found")
    existing = rows[0]
    if existing["request_hash"].strip() != fingerprint:
        log(logging.WARNING, "idempotency key reused with a different request",
            payment_id=existing["id"])
        raise ApiError(409, "Idempotency-Key was already used with a different request")
    log(logging.INFO, "payment replayed", payment_id=existing["id"])
    return 200, payment_view(existing), {"idempotent-replayed": "true"}


def get_payment(event, payment_id):
    if not PAYMENT_ID_PATTERN.fullmatch(payment_id):
        raise ApiError(400, "payment id must be a UUID")
    ensure_schema()
    rows = execute(
        SELECT_BY_ID_SQL, [string_parameter("id", payment_id.lower(), "UUID")],
        return_records=True,
    )
    if not rows:
        raise ApiError(404, "payment not found")
    return 200, payment_view(rows[0]), {}


def resolve_route(path):
    """Returns {method: callable(event)} for a path, or raises 404."""
    if path == "/health":
        return {"GET": health}
    if path == "/payments":
        return {"POST": create_payment}
    match = PAYMENT_PATH_PATTERN.fullmatch(path)
    if match:
        return {"GET": lambda event: get_payment(event, match.group(1))}
    raise ApiError(404, "not found")


def dispatch(event):
    path = event.get("path")
    method = event.get("httpMethod")
    if not isinstance(path, str) or not isinstance(method, str):
        raise ApiError(400, "malformed request")
    routes = resolve_route(path)
    route = routes.get(method.upper())
    if route is None:
        allow = ", ".join(sorted(routes))
        raise ApiError(405, f"method not allowed; use {allow}", {"allow": allow})
    return route(event)


# --------------------------------------------------------------------------- entry point
def handler(event, context):
    started = time.monotonic()
    event = event if isinstance(event, dict) else {}
    try:
        status, payload, headers = dispatch(event)
    except ApiError as error:
        status, payload, headers = error.status, {"error": error.reason}, error.headers
    except DatabaseUnavailable:
        status, payload, headers = 503, {"error": "service temporarily unavailable"}, {"retry-after": "5"}
    except Exception:
        log(logging.ERROR, "unhandled error", exc_info=True)
        status, payload, headers = 500, {"error": "internal error"}, {}
    log(
        logging.INFO if status < 500 else logging.ERROR,
        "request handled",
        method=str(event.get("httpMethod"))[:16],
        path=str(event.get("path"))[:256],
        status=status,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
        request_id=getattr(context, "aws_request_id", None),
    )
    multi_value = isinstance(event.get("multiValueHeaders"), dict)
    return build_response(status, payload, headers, multi_value)
