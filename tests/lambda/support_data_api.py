"""The RDS Data API for handler tests: the emulator's own engine (tools/local_aws/rdsdata) on a test database.

`FakeDataApi` stands in for a boto3 rds-data client: its methods take the client's keyword
arguments and raise the client's errors (ParamValidationError, ClientError). Requests run
through the one Data API implementation, against the test's real PostgreSQL database; only
the resolution of cluster, secret and database is the test's own (one of each). It records
every request in `calls`, and `fail_with` makes the next calls raise, as a failing service would.
"""

import copy
import threading

from tools.local_aws.rdsdata.engine import DataApiError, Target
from tools.local_aws.rdsdata.in_process import InProcessDataApi


class FakeDataApi(InProcessDataApi):
    def __init__(self, server, *, resource_arn, secret_arn, database):
        self._server = server
        self.resource_arn = resource_arn
        self.secret_arn = secret_arn
        self.database = database
        self.calls = []
        self.fail_with = None  # set to an exception to simulate a Data API failure
        self._lock = threading.Lock()
        super().__init__(self._resolve)

    def _resolve(self, resource_arn, secret_arn, database):
        if resource_arn != self.resource_arn:
            raise DataApiError("BadRequestException", "Invalid cluster arn")
        if secret_arn != self.secret_arn:
            raise DataApiError("SecretsErrorException", "Error fetching secret")
        if database != self.database:
            raise DataApiError("DatabaseErrorException", f'FATAL: database "{database}" does not exist')
        return Target(key=("test", database), connect=lambda: self._server.connect(database))

    def call(self, operation, request):
        with self._lock:
            self.calls.append(copy.deepcopy(request))
            failure = self.fail_with
        if failure is not None:
            raise failure
        return super().call(operation, request)
