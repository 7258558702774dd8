"""Payment API: an ALB Lambda target backed by Aurora PostgreSQL through the RDS Data API.

Environment:
    DB_CLUSTER_ARN   Aurora cluster ARN (Data API resourceArn)
    DB_SECRET_ARN    secret of the API's own database login (written by the schema_migrations
                     function; SELECT and INSERT on the payments table, no DDL). Never the master secret.
    DB_NAME          database name
    CLIENT_IDENTITY  where the merchant identity comes from:
                       mtls    the ALB verifies client certificates (mutual TLS, verify mode) and adds
                               X-Amzn-Mtls-Clientcert-Subject; the merchant id is that subject's CN
                       header  X-Merchant-Id, as sent by the client: only for a local, dev or internal
                               ALB, never for a public prod ALB (anyone could claim any merchant)
                     Each mode ignores the other's header, so a client cannot forge an identity.
    CUTOVER_STATE_PARAMETER
                     SSM parameter of the cutover state (docs/cutover.md); when set, a write goes
                     ahead only while Aurora is the writer, else 503 + Retry-After (write_gate.py).
                     Must be set whenever a legacy system may be the writer.
    LOG_LEVEL        optional, default INFO

Routes (every response body is JSON, content-type application/json; methods are case-sensitive):
    GET  /health          200 {"status": "ok"} | 503 {"status": "unavailable", "error": "..."}
                          (no merchant identity: the ALB's health checks carry none)
    POST /payments        body {"amount": "12.34", "currency": "EUR", "merchant_id": "m-1"}
                          header Idempotency-Key (1-128 chars of A-Z a-z 0-9 . _ : -)
                          201 payment (new) | 200 payment (same merchant and key, same request;
                          header idempotent-replayed: true) | 409 (same key, different request)
                          403 when merchant_id is not the authenticated merchant
                          503 + Retry-After while a write gate pauses writes (cutover)
    GET  /payments/{id}   200 payment | 404 (unknown, or another merchant's) | 400 (not a canonical UUID)
    Payment routes answer 401 without a valid merchant identity.

Every response carries X-Request-Id (the Lambda request id). A payment is {"id", "amount",
"currency", "merchant_id", "status", "created_at"}; amount is a decimal string with the
currency's minor units, created_at is ISO-8601 UTC. Idempotency keys are scoped per
merchant: two merchants may use the same key.

`amount` must be a JSON *string* ("12.34"): JSON numbers are rejected because most JSON
clients encode them as binary floats, which cannot represent money exactly. At most two
decimals (none for zero-decimal currencies such as JPY), greater than zero, below 10^16.
Unknown fields and duplicate keys are rejected. Errors are {"error": "<reason>"} with a
4xx status; database failures are 503 with a generic reason (details only in the logs).

The schema is not this function's business: schema_migrations applies it at deploy time, and
this function's database login may not run DDL, so a cold start never takes a lock.
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

from botocore.exceptions import BotoCoreError, ClientError

from lambda_support import current_invocation, handler_toolkit, invocation_logging, missing_environment
from write_gate import WriterGate

MAX_BODY_BYTES = 16 * 1024
INITIAL_STATUS = "PENDING"

# ISO-4217 code -> number of minor-unit decimals accepted.
CURRENCY_MINOR_UNITS = {
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "CNY": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "JPY": 0,
    "KRW": 0,
    "NOK": 2,
    "NZD": 2,
    "PLN": 2,
    "SEK": 2,
    "SGD": 2,
    "USD": 2,
}
PAYMENT_FIELDS = frozenset({"amount", "currency", "merchant_id"})

AMOUNT_PATTERN = re.compile(r"(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,2})?")
MERCHANT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
MERCHANT_ID_RULE = "1-64 characters of A-Z, a-z, 0-9, '.', '_', ':', '-' starting with a letter or digit"
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
PAYMENT_ID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
PAYMENT_PATH_PATTERN = re.compile(r"/payments/([^/]+)")

# Merchant identity (CLIENT_IDENTITY).
IDENTITY_MODES = ("mtls", "header")
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/mutual-authentication.html:
# in verify mode the ALB adds the leaf certificate's subject as an RFC 2253 string.
MTLS_SUBJECT_HEADER = "x-amzn-mtls-clientcert-subject"
MERCHANT_HEADER = "x-merchant-id"
COMMON_NAME_TYPES = frozenset({"CN", "2.5.4.3"})  # RFC 4514 short name and the OID of commonName
ATTRIBUTE_TYPE_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+")
DN_SPECIAL_CHARACTERS = ',+"\\<>;=# '
MAX_SUBJECT_LENGTH = 2048

PAYMENT_COLUMNS = (
    "id::text AS id, amount::text AS amount, currency::text AS currency, merchant_id, "
    "status, request_hash::text AS request_hash, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at"
)
INSERT_PAYMENT_SQL = (
    "INSERT INTO payments (id, idempotency_key, request_hash, amount, currency, merchant_id, status) "
    "VALUES (:id, :idempotency_key, :request_hash, :amount, :currency, :merchant_id, :status) "
    "ON CONFLICT (merchant_id, idempotency_key) DO NOTHING "
    f"RETURNING {PAYMENT_COLUMNS}"
)
SELECT_BY_IDEMPOTENCY_KEY_SQL = (
    f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE merchant_id = :merchant_id AND idempotency_key = :idempotency_key"
)
SELECT_BY_ID_SQL = f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = :id AND merchant_id = :merchant_id"
HEALTH_SQL = "SELECT 1"

# boto3 loads lazily with the first client: bad requests are answered without paying for it.
LOGGER, log, aws_client = handler_toolkit(
    "payment_api", connect_timeout=5, read_timeout=50, retries={"mode": "standard", "max_attempts": 3}
)
_clients = aws_client.cache  # tests may pre-fill it


# --------------------------------------------------------------------------- errors
class ApiError(Exception):
    """A client-facing error: status code, a safe reason and optional extra headers."""

    def __init__(self, status, reason, headers=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


class ServiceUnavailable(Exception):
    """The function cannot serve now (configuration or database); the cause is logged, never returned."""


class DatabaseUnavailable(ServiceUnavailable):
    """The Data API call failed."""


class WritesPaused(Exception):
    """Raised by a write gate: writes are paused (for example while the cutover flips the writer).
    Answered 503 with Retry-After, so clients retry the same request with the same key."""

    def __init__(self, reason="writes are paused, retry", retry_after_seconds=2):
        super().__init__(reason)
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


# Checks run in order before every write, after the request is validated and the merchant
# authenticated. Each is called without arguments and may raise WritesPaused; the cutover's
# writer-state check (docs/cutover.md: write only while Aurora is the writer) is appended here.
WRITE_GATES = []
if os.environ.get("CUTOVER_STATE_PARAMETER"):
    WRITE_GATES.append(WriterGate(parameter_name=os.environ["CUTOVER_STATE_PARAMETER"], paused_error=WritesPaused))


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
        raise ServiceUnavailable("missing configuration")
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


# --------------------------------------------------------------------------- request parsing
def header_values(event, name):
    """Every value of one header (lower-case name) in an ALB event, single- or multi-value."""
    multi = event.get("multiValueHeaders")
    if isinstance(multi, dict):
        return [
            value
            for key, values in multi.items()
            if str(key).lower() == name and isinstance(values, list)
            for value in values
        ]
    headers = event.get("headers")
    if not isinstance(headers, dict):
        return []
    return [value for key, value in headers.items() if str(key).lower() == name]


def request_headers(event):
    multi = event.get("multiValueHeaders")
    if isinstance(multi, dict):
        return {str(k).lower(): v[-1] for k, v in multi.items() if isinstance(v, list) and v}
    headers = event.get("headers")
    return {str(k).lower(): v for k, v in headers.items()} if isinstance(headers, dict) else {}


# --------------------------------------------------------------------------- merchant identity
def identity_mode():
    mode = os.environ.get("CLIENT_IDENTITY", "")
    if mode not in IDENTITY_MODES:
        log(
            logging.ERROR,
            "invalid configuration",
            setting="CLIENT_IDENTITY",
            value=mode[:32],
            allowed=list(IDENTITY_MODES),
        )
        raise ServiceUnavailable("invalid CLIENT_IDENTITY")
    return mode


def single_header(event, name, label):
    """The one non-empty string value of a header; 401 when it is absent, repeated or not text."""
    values = header_values(event, name)
    if not values or values == [""]:
        raise ApiError(401, f"{label} is required")
    if len(values) > 1 or not isinstance(values[0], str):
        raise ApiError(401, f"{label} must be sent exactly once")
    return values[0]


def _dn_value_end(text, start):
    """(decoded value, index after it) of one RFC 2253 attribute value starting at text[start]."""
    data, i = bytearray(), start
    while i < len(text) and text[i] not in ",+":
        char = text[i]
        if char == "\\":
            pair = text[i + 1 : i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                data.append(int(pair, 16))
                i += 3
                continue
            if pair[:1] and pair[0] in DN_SPECIAL_CHARACTERS:
                data += pair[0].encode()
                i += 2
                continue
            raise ValueError("bad escape")
        if char in '"<>;=':
            raise ValueError(f"unescaped {char!r}")
        data += char.encode()
        i += 1
    return data.decode("utf-8"), i  # UnicodeDecodeError is a ValueError


def parse_distinguished_name(text):
    """[(attribute type, value)] of an RFC 2253 distinguished name, every RDN and every
    attribute of a multi-valued RDN in order; raises ValueError for anything malformed.
    Hex-encoded (#...) values are refused: a merchant id is a printable string."""
    attributes, i = [], 0
    while True:
        equals = text.find("=", i)
        if equals < 0:
            raise ValueError("attribute without '='")
        attribute_type = text[i:equals].strip()
        if not ATTRIBUTE_TYPE_PATTERN.fullmatch(attribute_type):
            raise ValueError("bad attribute type")
        if text[equals + 1 : equals + 2] == "#":
            raise ValueError("hex-encoded value")
        value, i = _dn_value_end(text, equals + 1)
        attributes.append((attribute_type.upper(), value))
        if i == len(text):
            return attributes
        i += 1  # ',' ends an RDN, '+' joins attributes of one RDN


def merchant_from_subject(subject):
    """The merchant id: the one CN of the client certificate's subject, a valid merchant id."""
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise ApiError(401, "client certificate subject is too long")
    try:
        attributes = parse_distinguished_name(subject)
    except ValueError:
        raise ApiError(401, "client certificate subject is not a valid RFC 2253 name") from None
    names = [value for attribute_type, value in attributes if attribute_type in COMMON_NAME_TYPES]
    if len(names) != 1:
        raise ApiError(401, "client certificate subject must contain exactly one CN (the merchant id)")
    if not MERCHANT_ID_PATTERN.fullmatch(names[0]):
        raise ApiError(401, f"client certificate CN must be a merchant id: {MERCHANT_ID_RULE}")
    return names[0]


def authenticated_merchant(event):
    """The merchant making the request, from the one source CLIENT_IDENTITY names."""
    if identity_mode() == "mtls":
        return merchant_from_subject(single_header(event, MTLS_SUBJECT_HEADER, "client certificate"))
    merchant = single_header(event, MERCHANT_HEADER, "X-Merchant-Id header")
    if not MERCHANT_ID_PATTERN.fullmatch(merchant):
        raise ApiError(401, f"X-Merchant-Id must be {MERCHANT_ID_RULE}")
    return merchant


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
        payload = json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
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
        raise ApiError(400, "Idempotency-Key must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'")
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
        raise ApiError(400, 'amount must be a positive decimal string with at most 2 decimals, e.g. "12.34"')
    amount = Decimal(value)
    if amount <= 0:
        raise ApiError(400, "amount must be greater than zero")
    decimals = CURRENCY_MINOR_UNITS[currency]
    exponent = amount.as_tuple().exponent  # an int: AMOUNT_PATTERN admits finite numbers only, never NaN or Infinity
    if not isinstance(exponent, int) or -exponent > decimals:
        raise ApiError(400, f"amount for {currency} allows at most {decimals} decimals")
    return amount.quantize(Decimal("0.01"))


def parse_merchant_id(value):
    if value is None or value == "":
        raise ApiError(400, "merchant_id is required")
    if not isinstance(value, str) or not MERCHANT_ID_PATTERN.fullmatch(value):
        raise ApiError(400, f"merchant_id must be {MERCHANT_ID_RULE}")
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
        {"amount": str(request["amount"]), "currency": request["currency"], "merchant_id": request["merchant_id"]},
        sort_keys=True,
        separators=(",", ":"),
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
        execute(HEALTH_SQL)
    except ServiceUnavailable:
        return 503, {"status": "unavailable", "error": "database unavailable"}, {"retry-after": "5"}
    return 200, {"status": "ok"}, {}


def pass_write_gates():
    for gate in WRITE_GATES:
        gate()


def create_payment(event):
    merchant = authenticated_merchant(event)
    key = idempotency_key(event)
    request = parse_payment_request(parse_json_object(read_body(event)))
    if request["merchant_id"] != merchant:
        raise ApiError(403, "merchant_id is not the authenticated merchant")
    fingerprint = request_hash(request)
    pass_write_gates()
    inserted = execute(
        INSERT_PAYMENT_SQL,
        [
            string_parameter("id", str(uuid.uuid4()), "UUID"),
            string_parameter("idempotency_key", key),
            string_parameter("request_hash", fingerprint),
            string_parameter("amount", str(request["amount"]), "DECIMAL"),
            string_parameter("currency", request["currency"]),
            string_parameter("merchant_id", merchant),
            string_parameter("status", INITIAL_STATUS),
        ],
        return_records=True,
    )
    if inserted:
        log(logging.INFO, "payment created", payment_id=inserted[0]["id"], merchant_id=merchant)
        return 201, payment_view(inserted[0]), {"location": f"/payments/{inserted[0]['id']}"}
    return replay_payment(merchant, key, fingerprint)


def replay_payment(merchant, key, fingerprint):
    rows = execute(
        SELECT_BY_IDEMPOTENCY_KEY_SQL,
        [string_parameter("merchant_id", merchant), string_parameter("idempotency_key", key)],
        return_records=True,
    )
    if not rows:  # the conflicting row vanished between the two statements
        log(logging.ERROR, "idempotency key conflict without a stored payment", merchant_id=merchant)
        raise DatabaseUnavailable("conflicting row not found")
    existing = rows[0]
    if existing["request_hash"].strip() != fingerprint:
        log(
            logging.WARNING,
            "idempotency key reused with a different request",
            payment_id=existing["id"],
            merchant_id=merchant,
        )
        raise ApiError(409, "Idempotency-Key was already used with a different request")
    log(logging.INFO, "payment replayed", payment_id=existing["id"], merchant_id=merchant)
    return 200, payment_view(existing), {"idempotent-replayed": "true"}


def get_payment(event, payment_id):
    merchant = authenticated_merchant(event)
    if not PAYMENT_ID_PATTERN.fullmatch(payment_id):
        raise ApiError(400, "payment id must be a UUID")
    rows = execute(
        SELECT_BY_ID_SQL,
        [string_parameter("id", payment_id.lower(), "UUID"), string_parameter("merchant_id", merchant)],
        return_records=True,
    )
    if not rows:  # unknown or another merchant's: the same answer, so ids do not leak
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
    route = routes.get(method)  # HTTP methods are case-sensitive (RFC 9110 section 9.1)
    if route is None:
        allow = ", ".join(sorted(routes))
        raise ApiError(405, f"method not allowed; use {allow}", {"allow": allow})
    return route(event)


# --------------------------------------------------------------------------- entry point
def answer(event):
    """(status, payload, headers, failure) for one event; failure is the exc_info of a bug, else None."""
    try:
        status, payload, headers = dispatch(event)
        return status, payload, headers, None
    except ApiError as error:
        return error.status, {"error": error.reason}, error.headers, None
    except WritesPaused as error:
        return 503, {"error": error.reason}, {"retry-after": str(error.retry_after_seconds)}, None
    except ServiceUnavailable:
        return 503, {"error": "service temporarily unavailable"}, {"retry-after": "5"}, None
    except Exception as error:
        return 500, {"error": "internal error"}, {}, (type(error), error, error.__traceback__)


@invocation_logging(log)
def handler(event, context):
    started = time.monotonic()
    event = event if isinstance(event, dict) else {}
    status, payload, headers, failure = answer(event)
    request_id = current_invocation().get("request_id")
    if request_id:
        headers = {**headers, "x-request-id": request_id}
    # One line per request; a bug's traceback goes into this line's "exception" field only.
    log(
        logging.INFO if status < 500 else logging.ERROR,
        "request handled" if failure is None else "request failed",
        method=str(event.get("httpMethod"))[:16],
        path=str(event.get("path"))[:256],
        status=status,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
        exc_info=failure,
    )
    multi_value = isinstance(event.get("multiValueHeaders"), dict)
    return build_response(status, payload, headers, multi_value)
