"""TapStack: the only TerraformStack. One AWS provider, the backend, constructs, outputs."""

from __future__ import annotations

from cdktf import Fn, LocalBackend, S3Backend, TerraformOutput, TerraformStack, Token
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints
from constructs import Construct

from lib.config import Settings
from lib.constructs.compute import (
    CutoverTargets,
    FunctionRuntime,
    LoadBalancerOptions,
    MigrationControl,
    PaymentsApi,
)
from lib.constructs.database import Database, DatabaseOptions
from lib.constructs.dns import AliasTarget, Dns, DnsOptions
from lib.constructs.migration import Migration, MigrationOptions
from lib.constructs.monitoring import AlertTopics, MonitoredResources, Monitoring, critical_alarm_prefix
from lib.constructs.network import Network, VpcEndpoints
from lib.constructs.security import AccountContext, EncryptionKeys, SecurityGroups

PROVIDER_CONSTRAINT = "5.100.0"  # exactly the version in the provider mirror and .terraform.lock.hcl
# Every AWS API the stack touches; on the local target each is pointed at the emulator.
LOCAL_ENDPOINT_SERVICES = ("cloudwatch", "cloudwatchlogs", "dms", "ec2", "elbv2", "events", "iam", "kms",
                           "lambda_", "rds", "route53", "s3", "secretsmanager", "sns", "sts", "wafv2")


def local_endpoint_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.local_aws_port}"


def cost_allocation_tags(settings: Settings) -> dict[str, str]:
    return {
        "Environment": settings.environment,
        "EnvironmentSuffix": settings.environment_suffix,
        "Project": "payments-migration",
        "Application": "payment-processing",
        "CostCenter": settings.cost_center,
        "Owner": settings.owner,
        "ManagedBy": "cdktf",
    }


class TapStack(TerraformStack):
    """The AWS side of the on-premises PostgreSQL to Aurora payments migration."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self._configure_provider()
        self._configure_backend()

        context = AccountContext(account_id=DataAwsCallerIdentity(self, "caller").account_id,
                                 partition=DataAwsPartition(self, "partition").partition,
                                 region=settings.aws_region)
        self.context = context
        prefix = settings.name_prefix
        self.keys = EncryptionKeys(self, "security_keys", name_prefix=prefix, context=context,
                                   deletion_window_days=30 if settings.is_prod else 7)
        self.network = Network(self, "network", name_prefix=prefix, vpc_cidr=settings.vpc_cidr,
                               nat_gateway_count=settings.nat_gateways,
                               flow_log_retention_days=settings.log_retention_days,
                               logs_key_arn=self.keys.logs_key.arn)
        self.security_groups = SecurityGroups(
            self, "security_groups", name_prefix=prefix, vpc_id=self.network.vpc.id,
            vpc_cidr=settings.vpc_cidr, onprem_cidr=settings.onprem_cidr,
            alb_listener_ports=settings.listener_ports,
            alb_ingress_cidr=settings.vpc_cidr if settings.alb_internal else "0.0.0.0/0")
        self.endpoints = VpcEndpoints(self, "endpoints", network=self.network, region=settings.aws_region,
                                      security_group_id=self.security_groups.endpoints.id, name_prefix=prefix)
        self.database = Database(
            self, "database", options=DatabaseOptions(
                name_prefix=prefix, engine_version=settings.db_engine_version, database_name=settings.db_name,
                min_acu=settings.db_min_acu, max_acu=settings.db_max_acu, reader_count=settings.db_readers,
                backup_retention_days=settings.db_backup_retention_days,
                deletion_protection=settings.deletion_protection, final_snapshot=settings.is_prod),
            partition=context.partition, subnet_ids=self.network.database_subnet_ids,
            availability_zones=self.network.availability_zones,
            security_group_id=self.security_groups.database.id, kms_key_arn=self.keys.data_key.arn)
        self.migration = Migration(
            self, "migration", options=MigrationOptions(
                name_prefix=prefix, instance_class=settings.dms_instance_class,
                engine_version=settings.dms_engine_version, allocated_storage=settings.dms_allocated_storage,
                multi_az=settings.is_prod, create_service_roles=settings.create_dms_service_roles,
                source_host=settings.onprem_db_host, source_port=settings.onprem_db_port,
                source_database=settings.onprem_db_name, source_secret_arn=settings.onprem_db_secret_arn,
                target_database=settings.db_name, table_patterns=settings.dms_table_mappings,
                secret_recovery_window_days=30 if settings.is_prod else 7),
            partition=context.partition, region=settings.aws_region, subnet_ids=self.network.private_subnet_ids,
            security_group_id=self.security_groups.dms.id, kms_key_arn=self.keys.data_key.arn,
            target_host=self.database.cluster.endpoint)
        self._build_traffic_tier()
        self._network_outputs()
        self._data_outputs()
        self._traffic_outputs()

    def _build_traffic_tier(self) -> None:
        settings, prefix = self.settings, self.settings.name_prefix
        self.topics = AlertTopics(self, "alerting", name_prefix=prefix, kms_key_arn=self.keys.data_key.arn,
                                  alarm_email=settings.alarm_email)
        runtime = FunctionRuntime(
            name_prefix=prefix, subnet_ids=self.network.private_subnet_ids,
            security_group_id=self.security_groups.lambda_functions.id, logs_key_arn=self.keys.logs_key.arn,
            data_key_arn=self.keys.data_key.arn, log_retention_days=settings.log_retention_days,
            failure_topic_arn=self.topics.alerts.arn)
        self.api = PaymentsApi(
            self, "compute", runtime=runtime,
            options=LoadBalancerOptions(name_prefix=prefix, internal=settings.alb_internal,
                                        certificate_arn=settings.certificate_arn,
                                        protect_from_deletion=settings.deletion_protection,
                                        access_log_retention_days=settings.log_retention_days),
            account_id=self.context.account_id, partition=self.context.partition,
            subnet_ids=self.network.private_subnet_ids if settings.alb_internal else self.network.public_subnet_ids,
            security_group_id=self.security_groups.alb.id, cluster_arn=self.database.cluster.arn,
            secret_arn=self.database.master_secret_arn, database_name=settings.db_name,
            reserved_concurrency=settings.payment_api_reserved_concurrency)
        self.dns = Dns(
            self, "dns", options=DnsOptions(
                name_prefix=prefix, zone_name=settings.hosted_zone_name, existing_zone_id=settings.hosted_zone_id,
                record_label=settings.api_record_name, new_weight=settings.new_system_weight,
                legacy_endpoint=settings.legacy_endpoint, legacy_ips=settings.legacy_ips,
                destroyable=not settings.is_prod),
            vpc_id=self.network.vpc.id, region=settings.aws_region,
            alb=AliasTarget(dns_name=self.api.load_balancer.dns_name, zone_id=self.api.load_balancer.zone_id))
        self.metric_namespace = f"PaymentsMigration/{settings.environment_suffix}"
        self.control = MigrationControl(
            self, "cutover", runtime=runtime, partition=self.context.partition, targets=CutoverTargets(
                hosted_zone_id=self.dns.zone_id, record_name=self.dns.record_name,
                replication_task_arn=self.migration.task.replication_task_arn,
                replication_instance_id=self.migration.instance.replication_instance_id,
                alert_topic_arn=self.topics.alerts.arn, critical_alarm_prefix=critical_alarm_prefix(prefix),
                metric_namespace=self.metric_namespace,
                cdc_latency_threshold_seconds=settings.cdc_latency_threshold_seconds))
        task_arn = self.migration.task.replication_task_arn
        self.monitoring = Monitoring(self, "monitoring", topics=self.topics, resources=MonitoredResources(
            name_prefix=prefix, region=settings.aws_region, alb_arn_suffix=self.api.load_balancer.arn_suffix,
            target_group_arn_suffix=self.api.target_group.arn_suffix, api_function=self.api.handler,
            control_functions=self.control.functions, validator=self.control.validator,
            rollback=self.control.rollback, cluster_identifier=self.database.cluster.cluster_identifier,
            replication_instance_id=self.migration.instance.replication_instance_id,
            replication_task_id=self.migration.task.replication_task_id,
            replication_task_resource_id=Token.as_string(Fn.element(Fn.split(":", task_arn), 6)),
            legacy_health_check_id=self.dns.legacy_health_check.id if self.dns.legacy_health_check else None,
            cdc_latency_threshold_seconds=settings.cdc_latency_threshold_seconds,
            metric_namespace=self.metric_namespace))

    def _configure_provider(self) -> None:
        settings = self.settings
        local = settings.target == "local"
        endpoints = None
        if local:
            url = local_endpoint_url(settings)
            endpoints = [AwsProviderEndpoints(**{service: url for service in LOCAL_ENDPOINT_SERVICES})]
        AwsProvider(
            self, "aws",
            region=settings.aws_region,
            default_tags=[AwsProviderDefaultTags(tags=cost_allocation_tags(settings))],
            endpoints=endpoints,
            # The emulator answers STS, so the account id is looked up even locally;
            # without it security-group rules and DMS ARNs drift (see docs/local-emulator.md).
            skip_requesting_account_id=False if local else None,
            skip_credentials_validation=True if local else None,
            skip_metadata_api_check="true" if local else None,
            s3_use_path_style=True if local else None,
        )
        self.add_override("terraform.required_providers.aws.version", PROVIDER_CONSTRAINT)

    def _configure_backend(self) -> None:
        settings = self.settings
        if settings.state_bucket:
            S3Backend(self, bucket=settings.state_bucket, key=f"{settings.stack_name}/terraform.tfstate",
                      region=settings.state_bucket_region, encrypt=True)
            self.add_override("terraform.backend.s3.use_lockfile", True)
        else:
            # Relative to the synthesized stack folder, so state survives a fresh synth; one folder per
            # target, so an emulator deploy never touches the state of a real account.
            LocalBackend(self, path=f"../../../state/{settings.target}/{settings.stack_name}.tfstate")

    def output(self, name: str, value: object, description: str) -> None:
        TerraformOutput(self, name, value=value, description=description)

    def _network_outputs(self) -> None:
        network, groups, keys = self.network, self.security_groups, self.keys
        self.output("vpc_id", network.vpc.id, "VPC that holds every tier of the payments system")
        self.output("public_subnet_ids", network.public_subnet_ids, "Public subnets (ALB, NAT), one per AZ")
        self.output("private_subnet_ids", network.private_subnet_ids,
                    "Private subnets (Lambda, DMS) routed through NAT, one per AZ")
        self.output("database_subnet_ids", network.database_subnet_ids,
                    "Database subnets with no route to the internet, one per AZ")
        self.output("nat_gateway_ids", [nat.id for nat in network.nat_gateways], "NAT gateways")
        self.output("flow_log_group_name", network.flow_log_group.name, "CloudWatch log group of VPC flow logs")
        self.output("security_group_ids", {
            "alb": groups.alb.id, "lambda": groups.lambda_functions.id, "database": groups.database.id,
            "dms": groups.dms.id, "endpoints": groups.endpoints.id,
        }, "Security group id per tier")
        self.output("data_kms_key_arn", keys.data_key.arn, "KMS key for data at rest (Aurora, secrets, DMS, SNS)")
        self.output("logs_kms_key_arn", keys.logs_key.arn, "KMS key for CloudWatch Logs")

    def _data_outputs(self) -> None:
        cluster, migration = self.database.cluster, self.migration
        self.output("aurora_cluster_endpoint", cluster.endpoint, "Aurora writer endpoint")
        self.output("aurora_reader_endpoint", cluster.reader_endpoint, "Aurora reader endpoint")
        self.output("aurora_cluster_arn", cluster.arn, "Aurora cluster ARN (Data API resource ARN)")
        self.output("aurora_cluster_identifier", cluster.cluster_identifier, "Aurora cluster identifier")
        self.output("aurora_master_secret_arn", self.database.master_secret_arn,
                    "RDS-managed Secrets Manager secret of the master user (rotated by RDS)")
        self.output("aurora_database_name", cluster.database_name, "Database the payments schema lives in")
        self.output("dms_replication_instance_arn", migration.instance.replication_instance_arn,
                    "DMS replication instance ARN")
        self.output("dms_replication_task_arn", migration.task.replication_task_arn,
                    "DMS full-load-and-cdc task ARN (start it once the source secret is set)")
        self.output("dms_source_endpoint_arn", migration.source_endpoint.endpoint_arn,
                    "DMS source endpoint (on-premises PostgreSQL)")
        self.output("dms_target_endpoint_arn", migration.target_endpoint.endpoint_arn,
                    "DMS target endpoint (Aurora)")
        self.output("dms_source_secret_arn", migration.source_secret_arn,
                    "Secret the operator fills with the on-premises credentials")
        self.output("dms_target_secret_arn", migration.target_secret_arn,
                    "Secret the operator fills with the Aurora DMS user credentials")

    def _traffic_outputs(self) -> None:
        api, dns, control, topics = self.api, self.dns, self.control, self.topics
        self.output("alb_dns_name", api.load_balancer.dns_name, "DNS name of the ALB in front of the payments API")
        self.output("alb_arn", api.load_balancer.arn, "ARN of the ALB")
        self.output("api_target_group_arn", api.target_group.arn, "Lambda target group of the payments API")
        self.output("api_fqdn", dns.record_name, "Name clients use; weighted between legacy and new")
        self.output("api_url", f"{api.scheme}://{dns.record_name}", "URL of the payments API through Route53")
        self.output("alb_url", f"{api.scheme}://{api.load_balancer.dns_name}", "URL of the payments API on the ALB")
        self.output("hosted_zone_id", dns.zone_id, "Route53 hosted zone holding the weighted records")
        functions = [api.handler, *control.functions]
        self.output("lambda_function_names", {f.name.removeprefix(f"{self.settings.name_prefix}-"): f.name
                                              for f in functions}, "Lambda function names by role")
        self.output("lambda_function_arns", {f.name.removeprefix(f"{self.settings.name_prefix}-"): f.arn
                                             for f in functions}, "Lambda function ARNs by role")
        self.output("alert_topic_arn", topics.alerts.arn, "SNS topic for operator alerts")
        self.output("critical_topic_arn", topics.critical.arn, "SNS topic of critical alarms (triggers rollback)")
        self.output("dashboard_name", self.monitoring.dashboard.dashboard_name, "CloudWatch dashboard of the migration")
        self.output("waf_web_acl_arn", api.web_acl.arn, "WAFv2 web ACL protecting the ALB")
        self.output("migration_metric_namespace", self.metric_namespace,
                    "CloudWatch namespace of the MigrationReady metric")
        self.output("critical_alarm_prefix", critical_alarm_prefix(self.settings.name_prefix),
                    "Name prefix of the alarms that block a shift and trigger rollback")
