"""RDS Data API requests to moto's rds-data service answered by the Data API engine (rdsdata/engine.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

from tools.local_aws.moto_guard import CLASS, PROPERTY, assigns, moto_patch
from tools.local_aws.rdsdata.engine import DataApiError, Target

OPERATIONS = {
    # botocore operation -> (moto response method, request path)
    "ExecuteStatement": ("execute_statement", "/Execute"),
    "BatchExecuteStatement": ("batch_execute_statement", "/BatchExecute"),
    "BeginTransaction": ("begin_transaction", "/BeginTransaction"),
    "CommitTransaction": ("commit_transaction", "/CommitTransaction"),
    "RollbackTransaction": ("rollback_transaction", "/RollbackTransaction"),
}


def _cluster(resource_arn: str) -> Any:
    from moto.rds.exceptions import DBClusterNotFoundError
    from moto.rds.models import rds_backends

    parts = resource_arn.split(":")
    if len(parts) != 7 or parts[2] != "rds" or parts[5] != "cluster":
        raise DataApiError("BadRequestException", f"Invalid resourceArn: {resource_arn}")
    try:
        return rds_backends[parts[4]][parts[3]].describe_db_clusters(db_cluster_identifier=resource_arn)[0]
    except DBClusterNotFoundError:
        raise DataApiError("BadRequestException", f"Invalid cluster arn: {resource_arn}") from None


def _secret_string(secret_arn: str, account: str, region: str) -> str | None:
    from moto.secretsmanager.exceptions import SecretsManagerClientError
    from moto.secretsmanager.models import secretsmanager_backends

    try:
        value = secretsmanager_backends[account][region].get_secret_value(secret_arn, None, None)
    except SecretsManagerClientError as error:
        raise DataApiError("SecretsErrorException", f"Error fetching secret {secret_arn}: {error.message}") from None
    return value.get("SecretString")


def _master_secret_arn(cluster: Any) -> str | None:
    secret = getattr(cluster, "master_user_secret", None) if cluster.manage_master_user_password else None
    return secret.secret_arn if secret is not None else None


def resolve(resource_arn: str, secret_arn: str, database: str | None) -> Target:
    """The login a Data API request runs as: the cluster's database, as the user the secret names."""
    from moto.rds.models import rds_backends

    from tools.local_aws import runtime
    from tools.local_aws.rds.clusters import secret_credentials

    cluster = _cluster(resource_arn)
    if not cluster.http_endpoint_enabled:
        raise DataApiError("HttpEndpointNotEnabledException",
                           f"HttpEndpoint is not enabled for cluster {cluster.db_cluster_identifier}")
    if cluster.writer is None:
        raise DataApiError("DatabaseNotFoundException",
                           f"The DB cluster {cluster.db_cluster_identifier} doesn't have a DB instance", 404)
    entry = runtime.current().clusters.cluster(cluster.db_cluster_arn)
    if entry is None:
        raise DataApiError("BadRequestException", f"{resource_arn} is not an Aurora PostgreSQL cluster")
    region, account = resource_arn.split(":")[3:5]
    others = [_master_secret_arn(c) for c in rds_backends[account][region].clusters.values() if c is not cluster]
    if secret_arn in others:
        raise DataApiError("ForbiddenException", f"{secret_arn} is the master secret of another cluster", 403)
    username, password = secret_credentials(_secret_string(secret_arn, account, region), secret_arn)
    return runtime.current().clusters.login(entry, database, username, password,
                                            is_master_secret=secret_arn == _master_secret_arn(cluster))


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
        "moto.rds.models.rds_backends": (),
        "moto.rds.models.RDSBackend.describe_db_clusters": ("db_cluster_identifier",),
        "moto.rds.models.RDSBackend": assigns("clusters"),
        "moto.rds.models.DBCluster.writer": PROPERTY,
        "moto.rds.models.DBCluster.http_endpoint_enabled": PROPERTY,
        "moto.rds.exceptions.DBClusterNotFoundError": CLASS,
        "moto.secretsmanager.models.secretsmanager_backends": (),
        "moto.secretsmanager.models.SecretsManagerBackend.get_secret_value": ("secret_id", "version_id",
                                                                             "version_stage"),
        "moto.secretsmanager.exceptions.SecretsManagerClientError": CLASS,
    },
    adds=tuple(f"moto.rdsdata.responses.RDSDataServiceResponse.{method}"
               for operation, (method, _) in OPERATIONS.items() if operation != "ExecuteStatement"),
)
def patch_rds_data_api() -> None:
    # moto gap: ExecuteStatement answers canned results, and the other four Data API operations are missing.
    from moto.rdsdata import responses, urls

    for operation, (method, path) in OPERATIONS.items():
        setattr(responses.RDSDataServiceResponse, method, _action(operation))
        urls.url_paths["{0}" + path + "$"] = urls.response.dispatch


PATCHES = (patch_rds_data_api,)
