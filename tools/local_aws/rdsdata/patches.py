"""RDS Data API requests to moto's rds-data service answered by the Data API engine (rdsdata/engine.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

from tools.local_aws.moto_guard import CLASS, moto_patch
from tools.local_aws.rdsdata.engine import DataApiError
from tools.local_aws.rdsdata.resolver import USES

OPERATIONS = {
    # botocore operation -> (moto response method, request path)
    "ExecuteStatement": ("execute_statement", "/Execute"),
    "BatchExecuteStatement": ("batch_execute_statement", "/BatchExecute"),
    "BeginTransaction": ("begin_transaction", "/BeginTransaction"),
    "CommitTransaction": ("commit_transaction", "/CommitTransaction"),
    "RollbackTransaction": ("rollback_transaction", "/RollbackTransaction"),
}


def _decode_blobs(request: dict[str, Any]) -> dict[str, Any]:
    """blobValue arrives base64-encoded in the JSON body; the engine takes bytes, as a client builds them."""
    for parameters in [request.get("parameters") or [], *(request.get("parameterSets") or [])]:
        for parameter in parameters:
            value = parameter.get("value") or {}
            if isinstance(value.get("blobValue"), str):
                value["blobValue"] = base64.b64decode(value["blobValue"])
    return request


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _action(operation: str) -> Any:
    def action(self: Any) -> str:
        from botocore.exceptions import ParamValidationError
        from moto.core.exceptions import JsonRESTError

        from tools.local_aws import runtime

        request = _decode_blobs(json.loads(self.body or "{}"))
        try:
            answer = runtime.current().data_api.handle(operation, request)
        except ParamValidationError as error:
            raise JsonRESTError("BadRequestException", str(error)) from None
        except DataApiError as error:
            failure = JsonRESTError(error.code, error.message)
            failure.code = error.status
            raise failure from None
        return json.dumps(answer, default=_json_default)

    action.__name__ = OPERATIONS[operation][0]
    return action


@moto_patch(
    requires={
        "moto.rdsdata.responses.RDSDataServiceResponse": CLASS,
        "moto.rdsdata.responses.RDSDataServiceResponse.execute_statement": (),
        "moto.rdsdata.urls.url_paths": (),
        "moto.rdsdata.urls.response": (),
        "moto.core.exceptions.JsonRESTError": CLASS,
    },
    adds=tuple(
        f"moto.rdsdata.responses.RDSDataServiceResponse.{method}"
        for operation, (method, _) in OPERATIONS.items()
        if operation != "ExecuteStatement"
    ),
)
def patch_rds_data_api() -> None:
    # moto gap: ExecuteStatement answers canned results, and the other four Data API operations are missing.
    from moto.rdsdata import responses, urls

    for operation, (method, path) in OPERATIONS.items():
        setattr(responses.RDSDataServiceResponse, method, _action(operation))
        urls.url_paths["{0}" + path + "$"] = urls.response.dispatch


PATCHES = (patch_rds_data_api, USES)
