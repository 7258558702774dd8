"""Aurora PostgreSQL Serverless v2: the migration target."""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.db_subnet_group import DbSubnetGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.rds_cluster import RdsCluster, RdsClusterServerlessv2ScalingConfiguration
from cdktf_cdktf_provider_aws.rds_cluster_instance import RdsClusterInstance
from cdktf_cdktf_provider_aws.rds_cluster_parameter_group import (
    RdsClusterParameterGroup,
    RdsClusterParameterGroupParameter,
)
from constructs import Construct

from lib.constructs.iam import service_principal, trust_policy
from lib.constructs.network import Network
from lib.constructs.security_groups import SecurityGroups
from lib.constructs.security_keys import SecurityKeys, encrypted_log_group

MASTER_USERNAME = "payments_admin"
# Statement logging: DDL always, plus anything slower than a second.
CLUSTER_PARAMETERS = {
    "log_statement": "ddl",
    "log_min_duration_statement": "1000",
    "rds.force_ssl": "1",
}
# Static parameters take effect at the writer's next reboot (docs/cutover.md, runbook: reboot in a maintenance
# window before the cutover). Logical decoding on Aurora: the reverse DMS task reads Aurora's changes through a
# logical slot after the flip.
STATIC_CLUSTER_PARAMETERS = {
    "rds.logical_replication": "1",
}
EXPORTED_LOGS = ("postgresql",)
# AWS applies minor versions itself (auto minor version upgrade): a plan after it did must not downgrade.
KEEP_AWS_MINOR_UPGRADES = TerraformResourceLifecycle(ignore_changes=["engine_version"])


class Database(Construct):
    """Writer plus readers spread over the AZs; credentials only in the RDS-managed secret."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        engine_version: str,
        database_name: str,
        min_acu: float,
        max_acu: float,
        reader_count: int,
        backup_retention_days: int,
        deletion_protection: bool,
        final_snapshot: bool,
        log_retention_days: int,
        partition: str,
        network: Network,
        security_groups: SecurityGroups,
        keys: SecurityKeys,
    ) -> None:
        super().__init__(scope, construct_id)
        self.database_name = database_name
        kms_key_arn = keys.data_key.arn
        major = engine_version.split(".")[0]
        cluster_identifier = f"{name_prefix}-aurora"
        self.log_groups = [
            encrypted_log_group(
                self,
                f"{log}_logs",
                name=f"/aws/rds/cluster/{cluster_identifier}/{log}",
                retention_days=log_retention_days,
                keys=keys,
            )
            for log in EXPORTED_LOGS
        ]
        subnet_group = DbSubnetGroup(
            self,
            "subnet_group",
            name=f"{name_prefix}-aurora",
            subnet_ids=network.database_subnet_ids,
            description="Database subnets (no internet route)",
        )
        parameters = RdsClusterParameterGroup(
            self,
            "cluster_parameters",
            name=f"{name_prefix}-aurora-pg{major}",
            family=f"aurora-postgresql{major}",
            description="Payments Aurora cluster parameters",
            parameter=[
                RdsClusterParameterGroupParameter(name=name, value=value)
                for name, value in sorted(CLUSTER_PARAMETERS.items())
            ]
            + [
                RdsClusterParameterGroupParameter(name=name, value=value, apply_method="pending-reboot")
                for name, value in sorted(STATIC_CLUSTER_PARAMETERS.items())
            ],
        )
        self.cluster = RdsCluster(
            self,
            "cluster",
            cluster_identifier=cluster_identifier,
            engine="aurora-postgresql",
            engine_mode="provisioned",
            engine_version=engine_version,
            database_name=database_name,
            master_username=MASTER_USERNAME,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=kms_key_arn,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_groups.database.id],
            db_cluster_parameter_group_name=parameters.name,
            storage_encrypted=True,
            kms_key_id=kms_key_arn,
            enable_http_endpoint=True,
            iam_database_authentication_enabled=True,
            enabled_cloudwatch_logs_exports=list(EXPORTED_LOGS),
            serverlessv2_scaling_configuration=RdsClusterServerlessv2ScalingConfiguration(
                min_capacity=min_acu, max_capacity=max_acu
            ),
            backup_retention_period=backup_retention_days,
            preferred_backup_window="03:00-04:00",
            preferred_maintenance_window="sun:04:30-sun:05:30",
            copy_tags_to_snapshot=True,
            deletion_protection=deletion_protection,
            skip_final_snapshot=not final_snapshot,
            final_snapshot_identifier=f"{name_prefix}-aurora-final" if final_snapshot else None,
            tags={"Name": f"{name_prefix}-aurora"},
            lifecycle=KEEP_AWS_MINOR_UPGRADES,
            depends_on=self.log_groups,
        )
        monitoring_role = self._monitoring_role(name_prefix, partition)
        self.instances = [
            RdsClusterInstance(
                self,
                f"instance_{index}",
                identifier=f"{name_prefix}-aurora-{index + 1}",
                cluster_identifier=self.cluster.id,
                instance_class="db.serverless",
                engine=self.cluster.engine,
                engine_version=self.cluster.engine_version,
                availability_zone=network.availability_zones[index % len(network.availability_zones)],
                db_subnet_group_name=subnet_group.name,
                publicly_accessible=False,
                auto_minor_version_upgrade=True,
                promotion_tier=index,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=kms_key_arn,
                performance_insights_retention_period=7,
                monitoring_interval=60,
                monitoring_role_arn=monitoring_role.arn,
                copy_tags_to_snapshot=True,
                tags={"Name": f"{name_prefix}-aurora-{index + 1}", "Role": "writer" if index == 0 else "reader"},
                lifecycle=KEEP_AWS_MINOR_UPGRADES,
            )
            for index in range(1 + reader_count)
        ]

    @property
    def master_secret_arn(self) -> str:
        return self.cluster.master_user_secret.get(0).secret_arn

    def _monitoring_role(self, name_prefix: str, partition: str) -> IamRole:
        role = IamRole(
            self,
            "monitoring_role",
            name=f"{name_prefix}-rds-monitoring",
            assume_role_policy=trust_policy(service_principal(self, "monitoring.rds").name),
        )
        IamRolePolicyAttachment(
            self,
            "monitoring_policy",
            role=role.name,
            policy_arn=f"arn:{partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
        )
        return role
