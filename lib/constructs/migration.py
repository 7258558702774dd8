"""DMS: full load + CDC from the on-premises PostgreSQL into Aurora (forward), and CDC only from Aurora back to
on-premises after the writer flip (reverse, started by the cutover driver from the flip position)."""

from __future__ import annotations

import json
import re
from typing import Any, TypedDict

from cdktf import Fn, ITerraformDependable, Token
from cdktf_cdktf_provider_aws.dms_endpoint import DmsEndpoint
from cdktf_cdktf_provider_aws.dms_replication_instance import DmsReplicationInstance
from cdktf_cdktf_provider_aws.dms_replication_subnet_group import DmsReplicationSubnetGroup
from cdktf_cdktf_provider_aws.dms_replication_task import DmsReplicationTask
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from constructs import Construct

from lib.constructs.database import KEEP_AWS_MINOR_UPGRADES, Database
from lib.constructs.iam import allow, from_account, policy_document, service_principal, trust_policy
from lib.constructs.network import Network
from lib.constructs.security_groups import SecurityGroups
from lib.constructs.security_keys import SecurityKeys, encrypted_log_group

# DMS looks these roles up by exact name, once per account: a suffix breaks
# replication subnet groups and CloudWatch logging.
DMS_VPC_ROLE = "dms-vpc-role"
DMS_LOGS_ROLE = "dms-cloudwatch-logs-role"
SERVICE_ROLE_POLICIES = {
    DMS_VPC_ROLE: "service-role/AmazonDMSVPCManagementRole",
    DMS_LOGS_ROLE: "service-role/AmazonDMSCloudWatchLogsRole",
}
# DMS writes task logs to dms-tasks-<replication instance id> (one group per instance, so per stack).
DMS_TASK_LOG_GROUP_PREFIX = "dms-tasks-"
LOG_COMPONENTS = ("SOURCE_CAPTURE", "SOURCE_UNLOAD", "TARGET_APPLY", "TARGET_LOAD", "TASK_MANAGER", "VALIDATOR_EXT")


def table_mappings(patterns: tuple[str, ...]) -> str:
    """DMS selection rules including each schema.table pattern."""
    rules = []
    for index, pattern in enumerate(patterns, start=1):
        schema, table = pattern.split(".", 1)
        rules.append(
            {
                "rule-type": "selection",
                "rule-id": str(index),
                "rule-name": f"include-{index}",
                "object-locator": {"schema-name": schema, "table-name": table},
                "rule-action": "include",
            }
        )
    return json.dumps({"rules": rules}, sort_keys=True)


# A payments table never loses a row silently: every apply, data or table error stops the task (the operator
# fixes the cause and resumes) instead of logging or skipping the change.
# https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TaskSettings.ErrorHandling.html
STOP_ON_ERRORS = {
    "ApplyErrorDeletePolicy": "STOP_TASK",
    "ApplyErrorInsertPolicy": "STOP_TASK",
    "ApplyErrorUpdatePolicy": "STOP_TASK",
    "ApplyErrorEscalationPolicy": "STOP_TASK",
    "DataErrorPolicy": "STOP_TASK",
    "DataErrorEscalationPolicy": "STOP_TASK",
    "TableErrorPolicy": "STOP_TASK",
    "TableErrorEscalationPolicy": "STOP_TASK",
}
# The reverse task carries rows, never schema: DDL on Aurora waits until the cutover is final.
NO_DDL = {"HandleSourceTableAltered": False, "HandleSourceTableDropped": False, "HandleSourceTableTruncated": False}
# The logical decoding plugin DMS reads the reverse slot with on Aurora (the driver creates the slot at the flip).
REVERSE_SLOT_PLUGIN = "test_decoding"


def task_settings(*, reverse: bool = False) -> str:
    """Validation on, task logging on, target tables kept (the operator prepares the schema), changes applied one
    transaction at a time (BatchApplyEnabled off keeps the source's order and transactions), stop on any error;
    the reverse task also replicates no DDL. Canonical JSON (sorted keys), so a plan compares it unchanged."""
    settings = {
        "TargetMetadata": {
            "SupportLobs": True,
            "LimitedSizeLobMode": True,
            "LobMaxSize": 32,
            "BatchApplyEnabled": False,
        },
        "FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING", "MaxFullLoadSubTasks": 8},
        "ValidationSettings": {
            "EnableValidation": True,
            "ValidationMode": "ROW_LEVEL",
            "ThreadCount": 5,
            "FailureMaxCount": 10000,
            "HandleCollationDiff": False,
        },
        "ErrorBehavior": STOP_ON_ERRORS,
        "Logging": {
            "EnableLogging": True,
            "LogComponents": [{"Id": component, "Severity": "LOGGER_SEVERITY_DEFAULT"} for component in LOG_COMPONENTS],
        },
    }
    if reverse:
        settings["ChangeProcessingDdlHandlingPolicy"] = NO_DDL
    return json.dumps(settings, sort_keys=True)


class EndpointDatabase(TypedDict):
    """The PostgreSQL database an endpoint connects to (on premises or Aurora), as DmsEndpoint takes it."""

    engine_name: str
    database_name: str
    tags: dict[str, str]


def reverse_slot_name(name_prefix: str) -> str:
    """The logical slot on Aurora the reverse task reads (a lower-case PostgreSQL identifier)."""
    return re.sub(r"[^a-z0-9_]", "_", f"{name_prefix}_reverse")


class Migration(Construct):
    """Replication instance; the forward endpoints and full-load-and-cdc task; the reverse endpoints and cdc task.

    Every endpoint reads its credentials from a secret the operator fills (created with no value, so no password
    reaches code, plan or state): JSON with username, password, host, port, dbname.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        instance_class: str,
        engine_version: str,
        allocated_storage: int,
        multi_az: bool,
        create_service_roles: bool,
        source_host: str,
        source_port: int,
        source_database: str,
        source_secret_arn: str | None,
        table_patterns: tuple[str, ...],
        reverse_tables: tuple[str, ...] = ("public.payments",),
        secret_recovery_window_days: int,
        log_retention_days: int,
        account_id: str,
        partition: str,
        network: Network,
        security_groups: SecurityGroups,
        keys: SecurityKeys,
        database: Database,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = name_prefix
        kms_key_arn = keys.data_key.arn
        self._account_id = account_id
        instance_id = f"{prefix}-dms"
        # Exists before DMS writes the first task log.
        self.task_log_group = encrypted_log_group(
            self,
            "task_logs",
            name=f"{DMS_TASK_LOG_GROUP_PREFIX}{instance_id}",
            retention_days=log_retention_days,
            keys=keys,
        )
        role_dependencies = self._service_roles(create_service_roles, partition)
        # When the stack creates dms-vpc-role, IAM may not have propagated it yet: provider 5.100 retries
        # CreateReplicationSubnetGroup on AccessDeniedFault for its propagation timeout (PR #26768), so no
        # wait is added here.
        subnet_group = DmsReplicationSubnetGroup(
            self,
            "subnet_group",
            replication_subnet_group_id=f"{prefix}-dms",
            replication_subnet_group_description="Private subnets for DMS",
            subnet_ids=network.private_subnet_ids,
            depends_on=role_dependencies or None,
        )
        self.instance = DmsReplicationInstance(
            self,
            "instance",
            replication_instance_id=instance_id,
            replication_instance_class=instance_class,
            engine_version=engine_version,
            allocated_storage=allocated_storage,
            multi_az=multi_az,
            kms_key_arn=kms_key_arn,
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            replication_subnet_group_id=subnet_group.replication_subnet_group_id,
            vpc_security_group_ids=[security_groups.dms.id],
            preferred_maintenance_window="sun:05:30-sun:06:30",
            depends_on=[*role_dependencies, self.task_log_group],
            lifecycle=KEEP_AWS_MINOR_UPGRADES,
        )

        self.source_secret_arn = source_secret_arn or self._operator_secret(
            "source_secret",
            f"{prefix}/dms/onprem-source",
            "On-premises PostgreSQL credentials for DMS: JSON with username, password, host, port, dbname",
            kms_key_arn,
            secret_recovery_window_days,
        )
        self.target_secret_arn = self._operator_secret(
            "target_secret",
            f"{prefix}/dms/aurora-target",
            "Aurora credentials of the DMS user: JSON with username, password, host, port, dbname",
            kms_key_arn,
            secret_recovery_window_days,
        )
        self.reverse_source_secret_arn = self._operator_secret(
            "reverse_source_secret",
            f"{prefix}/dms/aurora-reverse-source",
            "Aurora credentials of the reverse DMS user (rds_replication, SELECT on the cutover tables): JSON with "
            "username, password, host, port, dbname",
            kms_key_arn,
            secret_recovery_window_days,
        )
        self.reverse_target_secret_arn = self._operator_secret(
            "reverse_target_secret",
            f"{prefix}/dms/onprem-reverse-target",
            "On-premises PostgreSQL credentials of the reverse DMS user (INSERT, UPDATE, DELETE on the cutover "
            "tables; exempt from legacy's read-only mode): JSON with username, password, host, port, dbname",
            kms_key_arn,
            secret_recovery_window_days,
        )
        self._access_role = self._secrets_access_role(prefix, kms_key_arn)
        self._kms_key_arn = kms_key_arn
        onprem = EndpointDatabase(
            engine_name="postgres",
            database_name=source_database,
            tags={"Host": source_host, "Port": str(source_port)},
        )
        aurora = EndpointDatabase(
            engine_name="aurora-postgresql",
            database_name=database.database_name,
            tags={"Host": database.cluster.endpoint},
        )
        self.source_endpoint = self._endpoint(
            "source_endpoint", "source", f"{prefix}-onprem-source", onprem, self.source_secret_arn
        )
        self.target_endpoint = self._endpoint(
            "target_endpoint", "target", f"{prefix}-aurora-target", aurora, self.target_secret_arn
        )
        # The operator starts it once the source secret holds credentials.
        self.task = self._task(
            "task", f"{prefix}-full-load-cdc", self.source_endpoint, self.target_endpoint, table_patterns
        )
        self.reverse_slot_name = reverse_slot_name(prefix)
        self._build_reverse(prefix, reverse_tables, onprem=onprem, aurora=aurora)

    def _build_reverse(
        self, prefix: str, tables: tuple[str, ...], *, onprem: EndpointDatabase, aurora: EndpointDatabase
    ) -> None:
        """Aurora -> on-premises, CDC only. Not started here: the cutover driver starts it at the flip with
        CdcStartPosition = the flip LSN, reading the slot it created on Aurora just before (docs/cutover.md)."""
        self.reverse_source_endpoint = self._endpoint(
            "reverse_source_endpoint",
            "source",
            f"{prefix}-aurora-reverse-source",
            aurora,
            self.reverse_source_secret_arn,
            # DDL is not captured: the reverse task carries rows only.
            postgres_settings={
                "slot_name": self.reverse_slot_name,
                "plugin_name": REVERSE_SLOT_PLUGIN,
                "capture_ddls": False,
            },
        )
        self.reverse_target_endpoint = self._endpoint(
            "reverse_target_endpoint",
            "target",
            f"{prefix}-onprem-reverse-target",
            onprem,
            self.reverse_target_secret_arn,
        )
        self.reverse_task = self._task(
            "reverse_task",
            f"{prefix}-reverse-cdc",
            self.reverse_source_endpoint,
            self.reverse_target_endpoint,
            tables,
            reverse=True,
        )

    def _endpoint(
        self,
        construct_id: str,
        endpoint_type: str,
        endpoint_id: str,
        database: EndpointDatabase,
        secret_arn: str,
        postgres_settings: dict[str, Any] | None = None,
    ) -> DmsEndpoint:
        """Every endpoint connects over TLS and reads the credentials of its operator-filled secret through the
        secrets access role."""
        return DmsEndpoint(
            self,
            construct_id,
            endpoint_id=endpoint_id,
            endpoint_type=endpoint_type,
            ssl_mode="require",
            secrets_manager_arn=secret_arn,
            secrets_manager_access_role_arn=self._access_role.arn,
            kms_key_arn=self._kms_key_arn,
            postgres_settings=postgres_settings,
            **database,
        )

    def _task(
        self,
        construct_id: str,
        task_id: str,
        source: DmsEndpoint,
        target: DmsEndpoint,
        tables: tuple[str, ...],
        *,
        reverse: bool = False,
    ) -> DmsReplicationTask:
        """The forward task loads the tables in full, then replicates changes; the reverse task replicates
        changes only (task_settings). Neither starts here."""
        return DmsReplicationTask(
            self,
            construct_id,
            replication_task_id=task_id,
            migration_type="cdc" if reverse else "full-load-and-cdc",
            replication_instance_arn=self.instance.replication_instance_arn,
            source_endpoint_arn=source.endpoint_arn,
            target_endpoint_arn=target.endpoint_arn,
            table_mappings=table_mappings(tables),
            replication_task_settings=task_settings(reverse=reverse),
            start_replication_task=False,
        )

    def _service_roles(self, create: bool, partition: str) -> list[ITerraformDependable]:
        if not create:
            return []
        attachments: list[ITerraformDependable] = []
        dms = service_principal(self, "dms")
        for name, policy in SERVICE_ROLE_POLICIES.items():
            key = name.replace("-", "_")
            role = IamRole(
                self,
                key,
                name=name,
                assume_role_policy=trust_policy(dms.name),
                description="Account-wide DMS service role (name required by DMS)",
            )
            attachments.append(
                IamRolePolicyAttachment(
                    self, f"{key}_policy", role=role.name, policy_arn=f"arn:{partition}:iam::aws:policy/{policy}"
                )
            )
        return attachments

    def _operator_secret(
        self, construct_id: str, name: str, description: str, kms_key_arn: str, recovery_window_days: int
    ) -> str:
        # No value from the stack: the operator writes it, so no password reaches state or code.
        return SecretsmanagerSecret(
            self,
            construct_id,
            name=name,
            description=description,
            kms_key_id=kms_key_arn,
            recovery_window_in_days=recovery_window_days,
        ).arn

    def _secrets_access_role(self, prefix: str, kms_key_arn: str) -> IamRole:
        # DMS reads endpoint secrets through the regional principal (dms.<region>.amazonaws.com). DMS 3.4.7 and
        # later set aws:SourceAccount when assuming it:
        # https://docs.aws.amazon.com/dms/latest/userguide/cross-service-confused-deputy-prevention.html
        role = IamRole(
            self,
            "secrets_access_role",
            name=f"{prefix}-dms-secrets",
            assume_role_policy=trust_policy(service_principal(self, "dms").id, from_account(self._account_id)),
        )
        IamRolePolicy(
            self,
            "secrets_access_policy",
            role=role.id,
            name="read-endpoint-secrets",
            policy=policy_document(
                [
                    allow(
                        ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                        [
                            self.source_secret_arn,
                            self.target_secret_arn,
                            self.reverse_source_secret_arn,
                            self.reverse_target_secret_arn,
                        ],
                    ),
                    allow("kms:Decrypt", kms_key_arn),
                ]
            ),
        )
        return role

    @property
    def task_resource_id(self) -> str:
        """The task's resource id (last part of its ARN): the dimension DMS publishes CDC metrics under."""
        return task_resource_id(self.task)

    @property
    def reverse_task_resource_id(self) -> str:
        return task_resource_id(self.reverse_task)


def task_resource_id(task: DmsReplicationTask) -> str:
    return Token.as_string(Fn.element(Fn.split(":", task.replication_task_arn), 6))
