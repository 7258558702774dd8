"""The RDS Data API over a real PostgreSQL: the one implementation the emulator and the handler tests use.

ExecuteStatement, BatchExecuteStatement, BeginTransaction, CommitTransaction and
RollbackTransaction, checked against botocore's rds-data model, with the Data API's typed
parameters and result format. Where a request runs is the resolver's business: the emulator
resolves a cluster ARN and secret ARN to that cluster's database and logs in with the
secret's user and password; the handler tests resolve to their own test database.

Typed parameters are bound as the Data API sends them to PostgreSQL: a stringValue without a
typeHint is a VARCHAR, typeHint UUID/DECIMAL/TIMESTAMP/DATE/TIME/JSON casts the string,
longValue is BIGINT, doubleValue DOUBLE PRECISION, booleanValue BOOLEAN, blobValue BYTEA and
isNull an untyped NULL. Requests carry Python values (blobValue as bytes), as a boto3 client
builds them before it serializes.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import decimal
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DML_KEYWORDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE"})
TYPE_HINT_CASTS = {
    "UUID": "uuid",
    "DECIMAL": "numeric",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
    "TIME": "time",
    "JSON": "json",
}
VALUE_CASTS = {
    "longValue": "bigint",
    "doubleValue": "double precision",
    "booleanValue": "boolean",
    "blobValue": "bytea",
}
# https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_BeginTransaction.html: a transaction
# with no call for three minutes times out and is rolled back.
TRANSACTION_IDLE_SECONDS = 180.0
IDLE_CONNECTIONS_PER_LOGIN = 8
# PostgreSQL type oid -> (type name, java.sql.Types code), as the Data API reports them in columnMetadata.
PG_TYPES = {
    16: ("bool", -7),
    17: ("bytea", -2),
    18: ("char", 1),
    19: ("name", 12),
    20: ("int8", -5),
    21: ("int2", 5),
    23: ("int4", 4),
    25: ("text", 12),
    26: ("oid", -5),
    114: ("json", 1111),
    700: ("float4", 7),
    701: ("float8", 8),
    1042: ("bpchar", 1),
    1043: ("varchar", 12),
    1082: ("date", 91),
    1083: ("time", 92),
    1114: ("timestamp", 93),
    1184: ("timestamptz", 93),
    1700: ("numeric", 2),
    2950: ("uuid", 1111),
    3802: ("jsonb", 1111),
    1000: ("_bool", 2003),
    1005: ("_int2", 2003),
    1007: ("_int4", 2003),
    1016: ("_int8", 2003),
    1009: ("_text", 2003),
    1015: ("_varchar", 2003),
    1021: ("_float4", 2003),
    1022: ("_float8", 2003),
    1231: ("_numeric", 2003),
    2951: ("_uuid", 2003),
}


class DataApiError(Exception):
    """An error the Data API answers with: its code (an rds-data error shape) and message."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def bad_request(message: str) -> DataApiError:
    return DataApiError("BadRequestException", message)


@dataclass(frozen=True)
class Target:
    """Where a request runs: a login (its key identifies the database and credentials) and how to open it."""

    key: tuple[str, ...]
    connect: Callable[[], Any]


Resolver = Callable[[str, str, "str | None"], Target]  # (resourceArn, secretArn, database) -> Target


# --------------------------------------------------------------------------- parameters


def find_placeholders(sql: str) -> list[tuple[int, int, str]]:
    """[(start, end, name)] of `:name` placeholders outside literals, identifiers, comments and casts."""
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
            found.append((i, end, sql[i + 1 : end]))
            i = end
        else:
            i += 1
    return found


def bind_parameter(parameter: dict[str, Any]) -> tuple[Any, str | None]:
    """(python value, SQL cast or None) for one SqlParameter."""
    ((kind, raw),) = parameter["value"].items()
    hint = parameter.get("typeHint")
    if hint and kind != "stringValue":
        raise bad_request(f"typeHint {hint} requires a stringValue")
    if kind == "stringValue":
        return raw, TYPE_HINT_CASTS[hint] if hint else "varchar"
    if kind == "isNull":
        if raw is not True:
            raise bad_request("isNull must be true")
        return None, None
    if kind == "arrayValue":
        raise bad_request("Array parameters are not supported")
    return raw, VALUE_CASTS[kind]


def bind(sql: str, parameters: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Rewrites `:name` into typed pg8000 placeholders; returns (sql, {name: value})."""
    bound: dict[str, tuple[Any, str | None]] = {}
    for parameter in parameters:
        name = parameter["name"]
        if name in bound:
            raise bad_request(f"duplicate parameter {name}")
        bound[name] = bind_parameter(parameter)
    placeholders = find_placeholders(sql)
    used = {name for _, _, name in placeholders}
    missing = sorted(used - set(bound))
    if missing:
        raise bad_request(f"no value specified for parameter(s) {missing}")
    unused = sorted(set(bound) - used)
    if unused:
        raise bad_request(f"parameter(s) {unused} not used in the SQL")
    for start, end, name in reversed(placeholders):
        cast = bound[name][1]
        sql = sql[:start] + (f"CAST(:{name} AS {cast})" if cast else f":{name}") + sql[end:]
    return sql, {name: value for name, (value, _) in bound.items()}


# --------------------------------------------------------------------------- results


def text_value(value: Any) -> str:
    """A value as the Data API writes it in a string: timestamps in UTC without a zone, ISO dates."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".")
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def json_value(value: Any, options: dict[str, str]) -> Any:
    """A value in formattedRecords (formatRecordsAs JSON)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, int) and not isinstance(value, bool) and options.get("longReturnType") == "STRING":
            return str(value)
        return value
    if isinstance(value, decimal.Decimal):
        return _decimal(value, options)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, list):
        return [json_value(item, options) for item in value]
    return text_value(value)


def _decimal(value: decimal.Decimal, options: dict[str, str]) -> Any:
    if options.get("decimalReturnType") == "DOUBLE_OR_LONG":
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    return str(value)


def typed_field(value: Any, options: dict[str, str]) -> dict[str, Any]:
    """A value in `records`: one Field."""
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"stringValue": str(value)} if options.get("longReturnType") == "STRING" else {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, decimal.Decimal):
        converted = _decimal(value, options)
        key = {str: "stringValue", int: "longValue", float: "doubleValue"}[type(converted)]
        return {key: converted}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"blobValue": bytes(value)}
    if isinstance(value, list):
        return {"arrayValue": array_value(value, options)}
    return {"stringValue": text_value(value)}


def array_value(values: list[Any], options: dict[str, str]) -> dict[str, Any]:
    if values and isinstance(values[0], list):
        return {"arrayValues": [array_value(item, options) for item in values]}
    fields = [typed_field(value, options) for value in values if value is not None]
    kind = next(iter(fields[0])) if fields else "stringValue"
    plural = {"booleanValue": "booleanValues", "longValue": "longValues", "doubleValue": "doubleValues"}
    return {plural.get(kind, "stringValues"): [next(iter(f.values())) for f in fields]}


def column_metadata(column: dict[str, Any]) -> dict[str, Any]:
    type_name, jdbc_type = PG_TYPES.get(column.get("type_oid", 0), ("unknown", 1111))
    return {
        "name": column["name"],
        "label": column["name"],
        "typeName": type_name,
        "type": jdbc_type,
        "nullable": 2,
        "precision": 0,
        "scale": 0,
        "schemaName": "",
        "tableName": "",
        "isSigned": jdbc_type in (-5, 2, 4, 5, 6, 7, 8),
        "isAutoIncrement": False,
        "isCaseSensitive": jdbc_type in (1, 12),
        "isCurrency": False,
        "arrayBaseColumnType": 0,
    }


# --------------------------------------------------------------------------- engine


@dataclass
class Transaction:
    transaction_id: str
    target: Target
    resource_arn: str
    secret_arn: str
    connection: Any
    last_used: float
    lock: threading.Lock = field(default_factory=threading.Lock)


class DataApiEngine:
    """The five Data API operations; thread-safe, like the stateless service it stands for."""

    def __init__(
        self,
        resolve: Resolver,
        *,
        clock: Callable[[], float] = time.monotonic,
        transaction_idle_seconds: float = TRANSACTION_IDLE_SECONDS,
    ) -> None:
        import boto3

        self._resolve = resolve
        self._clock = clock
        self._idle_limit = transaction_idle_seconds
        self._model = boto3.session.Session(region_name="us-east-1").client("rds-data").meta.service_model
        self._idle: dict[tuple[str, ...], list[Any]] = {}
        self._transactions: dict[str, Transaction] = {}
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- requests

    def validate(self, operation: str, request: dict[str, Any]) -> None:
        """Reject what botocore's rds-data model rejects, as the service does before running anything."""
        from botocore.exceptions import ParamValidationError
        from botocore.validate import ParamValidator

        report = ParamValidator().validate(request, self._model.operation_model(operation).input_shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """Run the operation named as in botocore (ExecuteStatement, ...) on a validated request."""
        handlers = {
            "ExecuteStatement": self.execute_statement,
            "BatchExecuteStatement": self.batch_execute_statement,
            "BeginTransaction": self.begin_transaction,
            "CommitTransaction": self.commit_transaction,
            "RollbackTransaction": self.rollback_transaction,
        }
        self.validate(operation, request)
        self.expire_transactions()
        return handlers[operation](request)

    @staticmethod
    def _reject_unsupported(request: dict[str, Any]) -> None:
        if "schema" in request:  # the Data API documents it as not supported
            raise bad_request("The schema parameter isn't supported")

    def execute_statement(self, request: dict[str, Any]) -> dict[str, Any]:
        self._reject_unsupported(request)
        if request.get("formatRecordsAs") == "JSON" and request.get("includeResultMetadata"):
            raise bad_request("includeResultMetadata cannot be used with formatRecordsAs JSON")
        sql, values = bind(request["sql"], request.get("parameters", []))
        rows, columns, row_count = self._run(request, lambda connection: [self._query(connection, sql, values)])[0]
        return self._response(request, rows, columns, row_count)

    def batch_execute_statement(self, request: dict[str, Any]) -> dict[str, Any]:
        self._reject_unsupported(request)
        statements = [bind(request["sql"], parameters) for parameters in request.get("parameterSets") or [[]]]

        def run_all(connection: Any) -> list[Any]:
            return [self._query(connection, sql, values) for sql, values in statements]

        self._run(request, run_all, atomic=True)
        return {"updateResults": [{"generatedFields": []} for _ in statements]}

    def begin_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        self._reject_unsupported(request)
        target = self._resolve(request["resourceArn"], request["secretArn"], request.get("database"))
        connection = self._open(target)
        try:
            connection.run("BEGIN")
        except Exception as error:
            connection.close()
            raise self._database_error(error) from None
        transaction_id = base64.b64encode(secrets.token_bytes(48)).decode()
        with self._lock:
            self._transactions[transaction_id] = Transaction(
                transaction_id, target, request["resourceArn"], request["secretArn"], connection, self._clock()
            )
        return {"transactionId": transaction_id}

    def commit_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        self._finish(request, "COMMIT")
        return {"transactionStatus": "Transaction Committed"}

    def rollback_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        self._finish(request, "ROLLBACK")
        return {"transactionStatus": "Rollback Complete"}

    # ----------------------------------------------------------------- execution

    def _run(self, request: dict[str, Any], work: Callable[[Any], list[Any]], atomic: bool = False) -> list[Any]:
        """work(connection) inside the request's transaction, or on a pooled login (committed at once)."""
        transaction_id = request.get("transactionId")
        if transaction_id:
            transaction = self._transaction(request)
            with transaction.lock:
                transaction.last_used = self._clock()
                try:
                    return work(transaction.connection)
                except Exception as error:
                    raise self._database_error(error) from None
        target = self._resolve(request["resourceArn"], request["secretArn"], request.get("database"))
        connection = self._acquire(target)
        healthy = False
        try:
            if atomic:
                connection.run("BEGIN")
            try:
                results = work(connection)
            except Exception:
                if atomic:
                    connection.run("ROLLBACK")
                raise
            if atomic:
                connection.run("COMMIT")
            healthy = True
            return results
        except Exception as error:
            healthy = self._still_usable(error)
            raise self._database_error(error) from None
        finally:
            self._release(target, connection, healthy)

    @staticmethod
    def _query(connection: Any, sql: str, values: dict[str, Any]) -> tuple[Any, Any, int]:
        rows = connection.run(sql, **values)
        return rows, connection.columns, connection.row_count

    @staticmethod
    def _still_usable(error: Exception) -> bool:
        import pg8000.exceptions

        return isinstance(error, (pg8000.exceptions.DatabaseError, DataApiError))

    @staticmethod
    def _database_error(error: Exception) -> Exception:
        import pg8000.exceptions

        if isinstance(error, DataApiError):
            return error
        if isinstance(error, pg8000.exceptions.DatabaseError):
            details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
            message = f"ERROR: {details.get('M', error)}"
            if details.get("C"):
                message += f"; SQLState: {details['C']}"
            return DataApiError("DatabaseErrorException", message)
        return DataApiError("InternalServerErrorException", f"the database connection failed: {error}", 500)

    def _response(self, request: dict[str, Any], rows: Any, columns: Any, row_count: int) -> dict[str, Any]:
        keyword = request["sql"].lstrip().split(None, 1)[0].upper() if request["sql"].strip() else ""
        response: dict[str, Any] = {"numberOfRecordsUpdated": max(row_count, 0) if keyword in DML_KEYWORDS else 0}
        if keyword in DML_KEYWORDS:
            response["generatedFields"] = []  # Aurora PostgreSQL returns none; RETURNING gives the values
        if columns is None:
            return response
        options = request.get("resultSetOptions") or {}
        names = [column["name"] for column in columns]
        if request.get("formatRecordsAs") == "JSON":
            records = [
                {name: json_value(value, options) for name, value in zip(names, row, strict=True)} for row in rows or []
            ]
            response["formattedRecords"] = json.dumps(records)
        else:
            response["records"] = [[typed_field(value, options) for value in row] for row in rows or []]
        if request.get("includeResultMetadata"):
            response["columnMetadata"] = [column_metadata(column) for column in columns]
        return response

    # ----------------------------------------------------------------- connections

    def _open(self, target: Target) -> Any:
        try:
            return target.connect()
        except DataApiError:
            raise
        except Exception as error:
            raise self._database_error(error) from None

    def _acquire(self, target: Target) -> Any:
        with self._lock:
            idle = self._idle.get(target.key)
            if idle:
                return idle.pop()
        return self._open(target)

    def _release(self, target: Target, connection: Any, healthy: bool) -> None:
        if healthy:
            with self._lock:
                idle = self._idle.setdefault(target.key, [])
                if len(idle) < IDLE_CONNECTIONS_PER_LOGIN:
                    idle.append(connection)
                    return
        _close(connection)

    def forget_logins(self, matches: Callable[[tuple[str, ...]], bool]) -> None:
        """Close pooled connections whose login key matches (a database dropped, a password changed)."""
        with self._lock:
            keys = [key for key in self._idle if matches(key)]
            closing = [connection for key in keys for connection in self._idle.pop(key)]
        for connection in closing:
            _close(connection)

    # ----------------------------------------------------------------- transactions

    def _transaction(self, request: dict[str, Any]) -> Transaction:
        with self._lock:
            transaction = self._transactions.get(request["transactionId"])
        if transaction is None:
            raise DataApiError(
                "TransactionNotFoundException", f"Transaction {request['transactionId']} is not found", 404
            )
        if (transaction.resource_arn, transaction.secret_arn) != (request["resourceArn"], request["secretArn"]):
            raise bad_request("The transaction belongs to another resourceArn or secretArn")
        return transaction

    def _finish(self, request: dict[str, Any], command: str) -> None:
        transaction = self._transaction(request)
        with self._lock:
            self._transactions.pop(transaction.transaction_id, None)
        with transaction.lock:
            try:
                transaction.connection.run(command)
            except Exception as error:
                raise self._database_error(error) from None
            finally:
                _close(transaction.connection)

    def expire_transactions(self) -> int:
        """Roll back transactions without a call for the idle limit (three minutes); returns how many."""
        now = self._clock()
        with self._lock:
            expired = [t for t in self._transactions.values() if now - t.last_used > self._idle_limit]
            for transaction in expired:
                del self._transactions[transaction.transaction_id]
        for transaction in expired:
            with transaction.lock:
                _close(transaction.connection)  # closing without COMMIT rolls back
        return len(expired)

    def close(self) -> None:
        with self._lock:
            connections = [c for idle in self._idle.values() for c in idle]
            connections += [t.connection for t in self._transactions.values()]
            self._idle, self._transactions = {}, {}
        for connection in connections:
            _close(connection)


def _close(connection: Any) -> None:
    with contextlib.suppress(Exception):  # already broken: nothing left to release
        connection.close()
