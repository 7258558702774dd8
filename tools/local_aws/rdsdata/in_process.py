"""The Data API engine as a boto3 rds-data client, in-process: the handler tests' database and the
rehearsal's legacy stand-in call the one implementation (engine.py) through it, without the emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tools.local_aws.rdsdata.engine import DataApiEngine, DataApiError, Target

# boto3 rds-data client methods -> Data API operations.
OPERATIONS = {
    "execute_statement": "ExecuteStatement",
    "batch_execute_statement": "BatchExecuteStatement",
    "begin_transaction": "BeginTransaction",
    "commit_transaction": "CommitTransaction",
    "rollback_transaction": "RollbackTransaction",
}


class InProcessDataApi:
    """Stands in for a boto3 rds-data client: its methods take the client's keyword arguments and raise
    the client's ClientError; `resolve(resource_arn, secret_arn, database)` picks the database."""

    def __init__(self, resolve: Callable[[str, str, str | None], Target]) -> None:
        self.engine = DataApiEngine(resolve)

    def __getattr__(self, method: str) -> Callable[..., dict[str, Any]]:
        if method not in OPERATIONS:
            raise AttributeError(method)
        return lambda **request: self.call(OPERATIONS[method], request)

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.engine.handle(operation, request)
        except DataApiError as error:
            raise ClientError(
                {
                    "Error": {"Code": error.code, "Message": error.message},
                    "ResponseMetadata": {"HTTPStatusCode": error.status},
                },
                operation,
            ) from None

    def close(self) -> None:
        self.engine.close()
