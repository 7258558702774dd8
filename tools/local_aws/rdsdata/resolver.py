"""Which login a Data API request runs as: moto's cluster and secret, resolved to a cluster database."""

from __future__ import annotations

from typing import Any

from tools.local_aws.moto_guard import CLASS, PROPERTY, assigns, moto_uses
from tools.local_aws.rds.clusters import ClusterDatabases, secret_credentials
from tools.local_aws.rdsdata.engine import DataApiError, Target

USES = moto_uses(
    "resolve_data_api_logins",
    {
        "moto.rds.models.rds_backends": (),
        "moto.rds.models.RDSBackend.describe_db_clusters": ("db_cluster_identifier",),
        "moto.rds.models.RDSBackend": assigns("clusters"),
        "moto.rds.models.DBCluster": assigns(
            "manage_master_user_password", "master_user_secret", "db_cluster_identifier"
        ),
        "moto.rds.models.DBCluster.writer": PROPERTY,
        "moto.rds.models.DBCluster.http_endpoint_enabled": PROPERTY,
        "moto.rds.models.DBCluster.db_cluster_arn": PROPERTY,
        "moto.rds.exceptions.DBClusterNotFoundError": CLASS,
        "moto.secretsmanager.models.secretsmanager_backends": (),
        "moto.secretsmanager.models.SecretsManagerBackend.get_secret_value": (
            "secret_id",
            "version_id",
            "version_stage",
        ),
        "moto.secretsmanager.exceptions.SecretsManagerClientError": CLASS,
    },
)


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
        # None, None: the current version, as moto's own API handler asks (moto annotates both str)
        value = secretsmanager_backends[account][region].get_secret_value(secret_arn, None, None)  # type: ignore[arg-type]
    except SecretsManagerClientError as error:
        raise DataApiError("SecretsErrorException", f"Error fetching secret {secret_arn}: {error.message}") from None
    return value.get("SecretString")


def _master_secret_arn(cluster: Any) -> str | None:
    secret = getattr(cluster, "master_user_secret", None) if cluster.manage_master_user_password else None
    return secret.secret_arn if secret is not None else None


def resolve(clusters: ClusterDatabases, resource_arn: str, secret_arn: str, database: str | None) -> Target:
    """The login a Data API request runs as: the cluster's database, as the user the secret names."""
    from moto.rds.models import rds_backends

    cluster = _cluster(resource_arn)
    if not cluster.http_endpoint_enabled:
        raise DataApiError(
            "HttpEndpointNotEnabledException",
            f"HttpEndpoint is not enabled for cluster {cluster.db_cluster_identifier}",
        )
    if cluster.writer is None:
        raise DataApiError(
            "DatabaseNotFoundException",
            f"The DB cluster {cluster.db_cluster_identifier} doesn't have a DB instance",
            404,
        )
    entry = clusters.cluster(cluster.db_cluster_arn)
    if entry is None:
        raise DataApiError("BadRequestException", f"{resource_arn} is not an Aurora PostgreSQL cluster")
    region, account = resource_arn.split(":")[3:5]
    others = [_master_secret_arn(c) for c in rds_backends[account][region].clusters.values() if c is not cluster]
    if secret_arn in others:
        raise DataApiError("ForbiddenException", f"{secret_arn} is the master secret of another cluster", 403)
    username, password = secret_credentials(_secret_string(secret_arn, account, region), secret_arn)
    return clusters.login(
        entry, database, username, password, is_master_secret=secret_arn == _master_secret_arn(cluster)
    )
