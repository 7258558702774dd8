"""A test double for the RDS Data API `execute_statement`, backed by a real PostgreSQL.

It validates requests like the real service does (botocore's own parameter validation
against the rds-data service model, then cluster/secret/database checks, typed parameters,
every `:name` placeholder bound), runs the SQL through pg8000 on its own connection per
call (so it is safe to use from several threads, like the stateless real API) and answers
in the Data API response shape: `formattedRecords` (formatRecordsAs="JSON") or typed
`records`, `columnMetadata` when includeResultMetadata, and `numberOfRecordsUpdated`.
BeginTransaction pins one connection until CommitTransaction or RollbackTransaction; statements
with that transactionId run on it.

Typed parameters are bound the way the Data API sends them: a stringValue without a
typeHint is a VARCHAR, typeHint UUID/DECIMAL/TIMESTAMP/DATE/TIME/JSON casts the string,
longValue is BIGINT, doubleValue DOUBLE PRECISION, booleanValue BOOLEAN, blobValue BYTEA.
"""

import base64
import copy
import datetime
import decimal
import json
import secrets
import threading
import uuid

import boto3
import pg8000.exceptions
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import ParamValidator

TYPE_HINT_CASTS = {
    "UUID": "uuid", "DECIMAL": "numeric", "TIMESTAMP": "timestamp", "DATE": "date",
    "TIME": "time", "JSON": "json",
}
VALUE_CASTS = {
    "longValue": "bigint", "doubleValue": "double precision", "booleanValue": "boolean",
    "blobValue": "bytea",
}
DML_KEYWORDS = {"INSERT", "UPDATE", "DELETE", "MERGE"}


def client_error(code, message):
    return ClientError({"Error": {"Code": code, "Message": message}}, "ExecuteStatement")


def find_placeholders(sql):
    """[(start, end, name)] of `:name` placeholders outside literals, identifiers, comments, casts."""
    found, i, length = [], 0, len(sql)
    while i < length:
        char = sql[i]
        if char == "'":
            i += 1
            while i < length:
                if sql[i] == "'" and i + 1 < length and sql[i + 1] == "'":
                    i += 2
                elif sql[i] == "'":
                    break
                else:
                    i += 1
            i += 1
        elif char == '"':
            end = sql.find('"', i + 1)
            i = length if end < 0 else end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = length if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = length if end < 0 else end + 2
        elif sql.startswith("::", i):
            i += 2
        elif char == ":" and i + 1 < length and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            end = i + 1
            while end < length and (sql[end].isalnum() or sql[end] == "_"):
                end += 1
            found.append((i, end, sql[i + 1:end]))
            i = end
        else:
            i += 1
    return found


def bind_parameter(parameter):
    """(python value, SQL cast or None) for one Data API SqlParameter."""
    (kind, raw), = parameter["value"].items()
    hint = parameter.get("typeHint")
    if hint and kind != "stringValue":
        raise client_error("BadRequestException", f"typeHint {hint} requires a stringValue")
    if kind == "stringValue":
        return raw, TYPE_HINT_CASTS[hint] if hint else "varchar"
    if kind == "isNull":
        if raw is not True:
            raise client_error("BadRequestException", "isNull must be true")
        return None, None
    if kind == "arrayValue":
        raise client_error("BadRequestException", "Array parameters are not supported")
    return raw, VALUE_CASTS[kind]


def bind(sql, parameters):
    """Rewrites `:name` into typed pg8000 placeholders; returns (sql, {name: value})."""
    bound = {}
    for parameter in parameters:
        name = parameter["name"]
        if name in bound:
            raise client_error("BadRequestException", f"duplicate parameter {name}")
        bound[name] = bind_parameter(parameter)
    placeholders = find_placeholders(sql)
    used = {name for _, _, name in placeholders}
    missing = sorted(used - set(bound))
    if missing:
        raise client_error("BadRequestException", f"no value specified for parameter(s) {missing}")
    unused = sorted(set(bound) - used)
    if unused:
        raise client_error("BadRequestException", f"parameter(s) {unused} not used in the SQL")
    for start, end, name in reversed(placeholders):
        cast = bound[name][1]
        replacement = f"CAST(:{name} AS {cast})" if cast else f":{name}"
        sql = sql[:start] + replacement + sql[end:]
    return sql, {name: value for name, (value, _) in bound.items()}


def json_value(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".")
    if isinstance(value, (datetime.date, datetime.time, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


def typed_field(value):
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (bytes, bytearray)):
        return {"blobValue": bytes(value)}
    return {"stringValue": json_value(value) if not isinstance(value, str) else value}


class FakeDataApi:
    """`execute_statement(**kwargs)` over a real PostgreSQL; records every request in `calls`."""

    def __init__(self, server, *, resource_arn, secret_arn, database):
        self._server = server
        self.resource_arn = resource_arn
        self.secret_arn = secret_arn
        self.database = database
        self.calls = []
        self.fail_with = None  # set to an exception to simulate a Data API failure
        self._lock = threading.Lock()
        self._transactions = {}  # transactionId -> pinned connection
        session = boto3.session.Session(region_name="us-east-1")
        self._model = session.client("rds-data").meta.service_model
        self._input_shape = self._model.operation_model("ExecuteStatement").input_shape

    def _check_model(self, operation, request):
        shape = self._model.operation_model(operation).input_shape
        report = ParamValidator().validate(request, shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())

    def _check_target(self, request):
        if request["resourceArn"] != self.resource_arn:
            raise client_error("BadRequestException", "Invalid cluster arn")
        if request["secretArn"] != self.secret_arn:
            raise client_error("ForbiddenException", "Error fetching secret")

    def _record(self, request):
        with self._lock:
            self.calls.append(copy.deepcopy(request))
            failure = self.fail_with
        if failure is not None:
            raise failure

    def _pop_transaction(self, request):
        with self._lock:
            connection = self._transactions.pop(request["transactionId"], None)
        if connection is None:
            raise client_error("NotFoundException", "Transaction is not found")
        return connection

    def begin_transaction(self, **request):
        self._record(request)
        self._check_model("BeginTransaction", request)
        self._check_target(request)
        if request.get("database") != self.database:
            raise client_error("BadRequestException", "database does not exist")
        connection = self._server.connect(request["database"])
        connection.run("BEGIN")
        transaction_id = secrets.token_urlsafe(24)
        with self._lock:
            self._transactions[transaction_id] = connection
        return {"transactionId": transaction_id}

    def commit_transaction(self, **request):
        self._record(request)
        self._check_model("CommitTransaction", request)
        self._check_target(request)
        connection = self._pop_transaction(request)
        try:
            connection.run("COMMIT")
        except pg8000.exceptions.DatabaseError as error:
            raise client_error("BadRequestException", f"ERROR: {error}") from None
        finally:
            connection.close()
        return {"transactionStatus": "Transaction Committed"}

    def rollback_transaction(self, **request):
        self._record(request)
        self._check_model("RollbackTransaction", request)
        self._check_target(request)
        connection = self._pop_transaction(request)
        try:
            connection.run("ROLLBACK")
        finally:
            connection.close()
        return {"transactionStatus": "Rollback Complete"}

    def close(self):
        """Rolls back and closes every transaction still open."""
        with self._lock:
            open_connections, self._transactions = list(self._transactions.values()), {}
        for connection in open_connections:
            connection.close()

    def _validate(self, request):
        report = ParamValidator().validate(request, self._input_shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())
        self._check_target(request)
        if request.get("database") != self.database:
            raise client_error("BadRequestException", "database does not exist")
        if "transactionId" in request and request["transactionId"] not in self._transactions:
            raise client_error("BadRequestException", "Transaction is not found")
        for unsupported in ("schema", "resultSetOptions"):
            if unsupported in request:
                raise client_error("BadRequestException", f"{unsupported} is not supported by the fake")
        if request.get("formatRecordsAs") == "JSON" and request.get("includeResultMetadata"):
            raise client_error("BadRequestException",
                               "includeResultMetadata cannot be used with formatRecordsAs JSON")

    def execute_statement(self, **request):
        self._record(request)
        self._validate(request)
        sql, values = bind(request["sql"], request.get("parameters", []))
        pinned = self._transactions.get(request.get("transactionId"))
        connection = pinned or self._server.connect(request["database"])
        try:
            rows = connection.run(sql, **values)
            columns = connection.columns
            row_count = connection.row_count
        except pg8000.exceptions.DatabaseError as error:
            details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
            raise client_error("BadRequestException", f"ERROR: {details.get('M', error)}") from None
        finally:
            if pinned is None:
                connection.close()
        return self._response(request, rows, columns, row_count)

    @staticmethod
    def _response(request, rows, columns, row_count):
        keyword = request["sql"].lstrip().split(None, 1)[0].upper()
        response = {"numberOfRecordsUpdated": max(row_count, 0) if keyword in DML_KEYWORDS else 0}
        if columns is None:
            return response
        names = [column["name"] for column in columns]
        if request.get("formatRecordsAs") == "JSON":
            records = [{name: json_value(value) for name, value in zip(names, row)} for row in rows or []]
            response["formattedRecords"] = json.dumps(records)
        else:
            response["records"] = [[typed_field(value) for value in row] for row in rows or []]
        if request.get("includeResultMetadata"):
            response["columnMetadata"] = [{"name": name, "label": name} for name in names]
        return response
