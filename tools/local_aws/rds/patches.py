"""RDS: Performance Insights settings, the Data API switch on Aurora, no v1 scaling info on v2 clusters;
each Aurora PostgreSQL cluster gets real databases, and its RDS-managed secret a real password."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tools.local_aws.common import wrap
from tools.local_aws.moto_guard import CLASS, PROPERTY, assigns, moto_patch

PERFORMANCE_INSIGHTS_PARAMS = (
    "enable_performance_insights",
    "performance_insights_kms_key_id",
    "performance_insights_retention_period",
)


@moto_patch(
    requires={
        "moto.rds.models.DBCluster.__init__": ("backend",),
        "moto.rds.models.DBInstance.__init__": ("backend",),
    }
)
def patch_rds_performance_insights() -> None:
    # moto defect: Performance Insights settings of clusters and instances are accepted, never stored or returned.
    from moto.rds.models import DBCluster, DBInstance

    def make_init(init: Callable[..., Any]) -> Callable[..., Any]:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            for name in PERFORMANCE_INSIGHTS_PARAMS:  # modify_* already setattr()s these names
                if kwargs.get(name) is not None:
                    setattr(self, name, kwargs[name])

        return __init__

    def performance_insights_enabled(self: Any) -> bool:
        return bool(getattr(self, "enable_performance_insights", False))

    for model in (DBCluster, DBInstance):  # DBInstanceClustered inherits DBInstance.__init__
        wrap(model, "__init__", make_init)
        # an attribute moto 5.2.5 lacks, added to both models
        model.performance_insights_enabled = property(performance_insights_enabled)  # type: ignore[union-attr]


@moto_patch(
    requires={
        "moto.rds.models.DBCluster.enable_http_endpoint": PROPERTY,
        "moto.rds.models.DBCluster.http_endpoint_enabled": PROPERTY,
        "moto.rds.models.RDSBackend.describe_db_clusters": ("db_cluster_identifier",),
        "moto.rds.responses.RDSResponse": CLASS,
        "moto.core.responses.ActionResult": CLASS,
    },
    adds=(
        "moto.rds.responses.RDSResponse.enable_http_endpoint",
        "moto.rds.responses.RDSResponse.disable_http_endpoint",
    ),
)
def patch_rds_http_endpoint() -> None:
    # moto defect: EnableHttpEndpoint is honoured only for Serverless v1, and the
    # EnableHttpEndpoint/DisableHttpEndpoint actions are missing.
    from moto.core.responses import ActionResult
    from moto.rds.models import DBCluster
    from moto.rds.responses import RDSResponse

    def set_http_endpoint(self: Any, value: bool | None) -> None:
        self._enable_http_endpoint = bool(value) and self.engine.startswith("aurora")

    def http_endpoint_action(enabled: bool) -> Callable[[Any], Any]:
        def action(self: Any) -> Any:
            arn = self.params.get("ResourceArn")
            cluster = self.backend.describe_db_clusters(db_cluster_identifier=arn)[0]
            cluster.enable_http_endpoint = enabled
            return ActionResult({"ResourceArn": arn, "HttpEndpointEnabled": cluster.http_endpoint_enabled})

        return action

    # moto's property gets a setter; the response class gets two actions moto 5.2.5 lacks.
    DBCluster.enable_http_endpoint = DBCluster.enable_http_endpoint.setter(  # type: ignore[method-assign,attr-defined]
        set_http_endpoint
    )
    RDSResponse.enable_http_endpoint = http_endpoint_action(True)  # type: ignore[attr-defined]
    RDSResponse.disable_http_endpoint = http_endpoint_action(False)  # type: ignore[attr-defined]


@moto_patch(requires={"moto.rds.models.DBCluster.scaling_configuration_info": PROPERTY})
def patch_rds_scaling_configuration() -> None:
    # moto defect: an empty ScalingConfigurationInfo is returned for clusters that are not Serverless v1.
    from moto.rds.models import DBCluster

    info = DBCluster.scaling_configuration_info.fget  # type: ignore[attr-defined]  # a property (moto_guard checks)

    def scaling_configuration_info(self: Any) -> dict[str, Any] | None:
        return info(self) if self.engine_mode == "serverless" else None

    DBCluster.scaling_configuration_info = property(scaling_configuration_info)  # type: ignore[method-assign,assignment]


def _is_aurora_postgresql(cluster: Any) -> bool:
    return cluster.engine == "aurora-postgresql"


@moto_patch(
    requires={
        "moto.rds.models.MasterUserSecret._generate_secret_string": (),
        "moto.rds.models.MasterUserSecret": assigns("resource", "secret"),
        "moto.rds.models.DBCluster": assigns("master_username"),
    }
)
def patch_rds_master_secret() -> None:
    # moto defect: every RDS-managed master secret holds {"username": "admin", "password": "P@55w0rd!"},
    # whatever the master user; RDS stores the cluster's master user and a generated password.
    from moto.rds.models import MasterUserSecret

    def _generate_secret_string(self: Any) -> str:
        from tools.local_aws import runtime

        username = self.resource.master_username
        return json.dumps({"username": username, "password": runtime.current().clusters.master_password(username)})

    MasterUserSecret._generate_secret_string = _generate_secret_string  # type: ignore[method-assign]  # the patch


@moto_patch(
    requires={
        "moto.rds.models.RDSBackend.create_db_cluster": ("kwargs",),
        "moto.rds.models.RDSBackend.delete_db_cluster": ("cluster_identifier", "snapshot_name"),
        "moto.rds.models.DBCluster": assigns(
            "engine",
            "database_name",
            "db_cluster_identifier",
            "master_username",
            "manage_master_user_password",
            "master_user_secret",
            "master_user_password",
        ),
        "moto.rds.models.DBCluster.db_cluster_arn": PROPERTY,
        "moto.rds.models.MasterUserSecret": assigns("secret"),
        "moto.secretsmanager.models.FakeSecret": assigns("secret_string"),
    }
)
def patch_rds_cluster_databases() -> None:
    # moto gap: a cluster is a description only. Here each Aurora PostgreSQL cluster gets its databases
    # and master role on the local PostgreSQL server, created with it and dropped with it.
    from moto.rds.models import RDSBackend

    def make_create(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
            from tools.local_aws import runtime

            cluster = create(self, kwargs)
            if _is_aurora_postgresql(cluster):
                if cluster.manage_master_user_password:
                    password = json.loads(cluster.master_user_secret.secret.secret_string)["password"]
                else:
                    password = cluster.master_user_password
                runtime.current().clusters.create(cluster, password)
            return cluster

        return create_db_cluster

    def make_delete(delete: Callable[..., Any]) -> Callable[..., Any]:
        def delete_db_cluster(self: Any, cluster_identifier: str, snapshot_name: str | None = None) -> Any:
            from tools.local_aws import runtime

            cluster = delete(self, cluster_identifier, snapshot_name)
            if _is_aurora_postgresql(cluster):
                runtime.current().clusters.delete(cluster.db_cluster_arn)
            return cluster

        return delete_db_cluster

    wrap(RDSBackend, "create_db_cluster", make_create)
    wrap(RDSBackend, "delete_db_cluster", make_delete)


PATCHES = (
    patch_rds_performance_insights,
    patch_rds_http_endpoint,
    patch_rds_scaling_configuration,
    patch_rds_master_secret,
    patch_rds_cluster_databases,
)
