"""TapStack: the only TerraformStack. One AWS provider, the backend, constructs, outputs."""

from __future__ import annotations

from typing import TypedDict

from cdktf import LocalBackend, S3Backend, TerraformOutput, TerraformResource, TerraformStack
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints
from constructs import Construct

from lib.config import ROUTE53_METRICS_REGION, STATIC_ROUTING_ASN, ConfigError, Settings
from lib.constructs.alerting import ALL_TOPIC_PUBLISHERS, Alerting
from lib.constructs.compute import Compute
from lib.constructs.connectivity import Connectivity
from lib.constructs.cutover import Cutover, TargetOptions, cutover_state_parameter_arn, cutover_state_parameter_name
from lib.constructs.database import Database
from lib.constructs.dns import Dns
from lib.constructs.endpoints import Endpoints
from lib.constructs.load_balancer import LoadBalancer
from lib.constructs.migration import Migration
from lib.constructs.monitoring import Monitoring, critical_alarm_prefix
from lib.constructs.network import Network
from lib.constructs.security_groups import SecurityGroups
from lib.constructs.security_keys import SecurityKeys

PROVIDER_CONSTRAINT = "5.100.0"  # exactly the version in the provider mirror and .terraform.lock.hcl
# Every AWS API the stack touches; on the local target each is pointed at the emulator.
LOCAL_ENDPOINT_SERVICES = (
    "cloudwatch",
    "cloudwatchlogs",
    "dms",
    "ec2",
    "elbv2",
    "events",
    "iam",
    "kms",
    "lambda_",
    "rds",
    "route53",
    "route53_resolver",
    "s3",
    "secretsmanager",
    "sns",
    "ssm",
    "sts",
    "wafv2",
)
# The validator publishes it (1 = ready), the shifter requires it, the dashboard plots it.
READY_METRIC_NAME = "MigrationReady"
# The flip's DNS hold on the local target: the rehearsal's resolvers keep an answer 1 s (tools/rehearsal).
LOCAL_DNS_HOLD_SECONDS = 5
# Until the load balancer got its own construct (after 39b07de) these resources lived in `compute`.
# A `moved` block per resource carries a deployed stack to the new addresses: nothing is re-created.
LOAD_BALANCER_MOVED_FROM = {
    "access_logs": "aws_s3_bucket.compute_access_logs_85DF9482",
    "access_logs_encryption": (
        "aws_s3_bucket_server_side_encryption_configuration.compute_access_logs_encryption_63929ECD"
    ),
    "access_logs_events": "aws_s3_bucket_notification.compute_access_logs_events_A05F755C",
    "access_logs_lifecycle": "aws_s3_bucket_lifecycle_configuration.compute_access_logs_lifecycle_15E30CB8",
    "access_logs_policy": "aws_s3_bucket_policy.compute_access_logs_policy_3ACA1B00",
    "access_logs_public_block": "aws_s3_bucket_public_access_block.compute_access_logs_public_block_4AA97047",
    "access_logs_versioning": "aws_s3_bucket_versioning.compute_access_logs_versioning_0A5A9F72",
    "alb": "aws_lb.compute_alb_C4E31DFD",
    "alb_invoke": "aws_lambda_permission.compute_alb_invoke_42149B42",
    "api_target": "aws_lb_target_group_attachment.compute_api_target_D482A990",
    "api_targets": "aws_lb_target_group.compute_api_targets_D0E93DC0",
    "http": "aws_lb_listener.compute_http_3192369D",
    "http_redirect": "aws_lb_listener.compute_http_redirect_1770A748",
    "https": "aws_lb_listener.compute_https_7083745B",
    "waf_logs": "aws_cloudwatch_log_group.compute_waf_logs_6C444CC3",
    "web_acl": "aws_wafv2_web_acl.compute_web_acl_AEA7489F",
    "web_acl_alb": "aws_wafv2_web_acl_association.compute_web_acl_alb_676C2715",
    "web_acl_logging": "aws_wafv2_web_acl_logging_configuration.compute_web_acl_logging_BE1E0C9C",
}

# The account-wide DMS roles as a stack that created them (CREATE_DMS_SERVICE_ROLES=true, the local default
# until the emulator's account started with them) holds them in its state. A stack that no longer creates
# them forgets them instead of destroying them: they belong to the account, and every other stack needs them.
DMS_SERVICE_ROLE_ADDRESSES = (
    "aws_iam_role.migration_dms_cloudwatch_logs_role_213C304B",
    "aws_iam_role.migration_dms_vpc_role_CA5353E9",
    "aws_iam_role_policy_attachment.migration_dms_cloudwatch_logs_role_policy_B545EEDC",
    "aws_iam_role_policy_attachment.migration_dms_vpc_role_policy_3A5250F1",
)


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


def carry_moved_resources(construct: Construct, moved_from: dict[str, str]) -> None:
    """Adds a `moved` block from the old address to each child resource of construct named in moved_from.

    Only resources that exist get one (the listeners depend on the certificate); a block whose
    `from` is not in the state does nothing.
    https://developer.hashicorp.com/terraform/cdktf/examples-and-guides/refactoring
    """
    for child in construct.node.children:
        if isinstance(child, TerraformResource) and child.node.id in moved_from:
            child.move_from_id(moved_from[child.node.id])


class TrafficTierPlacement(TypedDict):
    """What every construct of the traffic tier is placed in, passed on as `**shared`."""

    network: Network
    security_groups: SecurityGroups
    keys: SecurityKeys


class TapStack(TerraformStack):
    """The AWS side of the on-premises PostgreSQL to Aurora payments migration."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self._configure_provider()
        self._configure_backend()
        self.account_id = DataAwsCallerIdentity(self, "caller").account_id
        self.partition = DataAwsPartition(self, "partition").partition
        self._build_data_tier()
        self._build_traffic_tier()
        if not settings.create_dms_service_roles:
            # `removed` with destroy = false (Terraform 1.7+): out of the state, left in the account.
            # https://developer.hashicorp.com/terraform/language/resources/syntax#removing-resources
            self.add_override(
                "removed",
                [{"from": address, "lifecycle": {"destroy": False}} for address in DMS_SERVICE_ROLE_ADDRESSES],
            )
        self._network_outputs()
        self._data_outputs()
        self._traffic_outputs()

    def _build_data_tier(self) -> None:
        settings, prefix = self.settings, self.settings.name_prefix
        account = dict(account_id=self.account_id, partition=self.partition)
        zone_ids = settings.availability_zone_ids
        if zone_ids is None:  # load_settings refuses this already; a Settings built another way may carry it
            raise ConfigError(f"AVAILABILITY_ZONE_IDS is required in {settings.aws_region}: no default zone ids")
        self.keys = SecurityKeys(
            self,
            "security_keys",
            name_prefix=prefix,
            region=settings.aws_region,
            deletion_window_days=30 if settings.is_prod else 7,
            topic_publishers=ALL_TOPIC_PUBLISHERS,
            **account,
        )
        self.network = Network(
            self,
            "network",
            name_prefix=prefix,
            vpc_cidr=settings.vpc_cidr,
            availability_zone_ids=zone_ids,
            nat_gateway_count=settings.nat_gateways,
            flow_log_retention_days=settings.log_retention_days,
            region=settings.aws_region,
            keys=self.keys,
            **account,
        )
        self.connectivity = Connectivity(
            self,
            "connectivity",
            name_prefix=prefix,
            onprem_cidr=settings.onprem_cidr,
            customer_gateway_ip=settings.onprem_customer_gateway_ip,
            customer_gateway_asn=settings.onprem_bgp_asn or STATIC_ROUTING_ASN,
            static_routes=settings.onprem_bgp_asn is None,
            transit_gateway_id=settings.onprem_transit_gateway_id,
            dns_domain=settings.onprem_dns_domain,
            dns_servers=settings.onprem_dns_servers or (),
            network=self.network,
            route_public_subnets=bool(settings.legacy_write_ips) and not settings.alb_internal,
        )
        self.security_groups = SecurityGroups(
            self,
            "security_groups",
            name_prefix=prefix,
            network=self.network,
            onprem_cidr=settings.onprem_cidr,
            onprem_db_port=settings.onprem_db_port,
            alb_listener_ports=settings.listener_ports,
            alb_internal=settings.alb_internal,
            legacy_write_ips=settings.legacy_write_ips or (),
        )
        self.endpoints = Endpoints(
            self,
            "endpoints",
            name_prefix=prefix,
            region=settings.aws_region,
            network=self.network,
            security_groups=self.security_groups,
        )
        self.database = Database(
            self,
            "database",
            name_prefix=prefix,
            engine_version=settings.db_engine_version,
            database_name=settings.db_name,
            min_acu=settings.db_min_acu,
            max_acu=settings.db_max_acu,
            reader_count=settings.db_readers,
            backup_retention_days=settings.db_backup_retention_days,
            deletion_protection=settings.deletion_protection,
            final_snapshot=settings.is_prod,
            log_retention_days=settings.log_retention_days,
            partition=self.partition,
            network=self.network,
            security_groups=self.security_groups,
            keys=self.keys,
        )
        self.migration = Migration(
            self,
            "migration",
            name_prefix=prefix,
            instance_class=settings.dms_instance_class,
            engine_version=settings.dms_engine_version,
            allocated_storage=settings.dms_allocated_storage,
            multi_az=settings.is_prod,
            create_service_roles=settings.create_dms_service_roles,
            source_host=settings.onprem_db_host,
            source_port=settings.onprem_db_port,
            source_database=settings.onprem_db_name,
            source_secret_arn=settings.onprem_db_secret_arn,
            table_patterns=settings.dms_table_mappings,
            reverse_tables=settings.cutover_tables,
            secret_recovery_window_days=settings.secret_recovery_window_days,
            log_retention_days=settings.log_retention_days,
            network=self.network,
            security_groups=self.security_groups,
            keys=self.keys,
            database=self.database,
            **account,
        )

    def _build_traffic_tier(self) -> None:
        settings, prefix = self.settings, self.settings.name_prefix
        shared = TrafficTierPlacement(network=self.network, security_groups=self.security_groups, keys=self.keys)
        self.alerting = Alerting(
            self,
            "alerting",
            name_prefix=prefix,
            alarm_email=settings.alarm_email,
            account_id=self.account_id,
            partition=self.partition,
            region=settings.aws_region,
            keys=self.keys,
        )
        self.compute = Compute(
            self,
            "compute",
            name_prefix=prefix,
            reserved_concurrency=settings.payment_api_reserved_concurrency,
            client_identity=settings.client_identity,
            secret_recovery_window_days=settings.secret_recovery_window_days,
            log_retention_days=settings.log_retention_days,
            alerting=self.alerting,
            database=self.database,
            cutover_state_arn=cutover_state_parameter_arn(
                partition=self.partition, region=settings.aws_region, account_id=self.account_id, name_prefix=prefix
            ),
            cutover_state_parameter=cutover_state_parameter_name(prefix),
            cutover_tables=settings.cutover_tables,
            reverse_publication=self._reverse_slot_decoding().get("reverse_publication"),
            migration=self.migration,
            **shared,
        )
        self.load_balancer = LoadBalancer(
            self,
            "load_balancer",
            name_prefix=prefix,
            internal=settings.alb_internal,
            certificate_arn=settings.certificate_arn,
            client_ca_bundle=settings.client_ca_bundle_location,
            deletion_protection=settings.deletion_protection,
            access_log_retention_days=settings.log_retention_days,
            waf_log_retention_days=settings.log_retention_days,
            account_id=self.account_id,
            partition=self.partition,
            region=settings.aws_region,
            compute=self.compute,
            legacy_write_ips=settings.legacy_write_ips or (),
            **shared,
        )
        carry_moved_resources(self.load_balancer, LOAD_BALANCER_MOVED_FROM)
        self.dns = Dns(
            self,
            "dns",
            name_prefix=prefix,
            region=settings.aws_region,
            zone_name=settings.hosted_zone_name,
            existing_zone_id=settings.hosted_zone_id,
            record_label=settings.api_record_name,
            new_weight=settings.new_system_weight,
            legacy_endpoint=settings.legacy_endpoint,
            legacy_ips=settings.legacy_ips,
            health_checked_ips=settings.legacy_health_checked_ips,
            destroyable=not settings.is_prod,
            network=self.network,
            load_balancer=self.load_balancer,
        )
        self.cutover = Cutover(
            self,
            "cutover",
            name_prefix=prefix,
            partition=self.partition,
            metric_namespace=f"PaymentsMigration/{settings.environment_suffix}",
            ready_metric_name=READY_METRIC_NAME,
            critical_alarm_prefix=critical_alarm_prefix(prefix),
            cdc_latency_threshold_seconds=settings.cdc_latency_threshold_seconds,
            log_retention_days=settings.log_retention_days,
            alerting=self.alerting,
            dns=self.dns,
            migration=self.migration,
            database=self.database,
            load_balancer=self.load_balancer,
            compute=self.compute,
            cutover_tables=settings.cutover_tables,
            max_pause_seconds=settings.cutover_max_pause_seconds,
            **self._reverse_slot_decoding(),
            **shared,
        )
        self.monitoring = Monitoring(
            self,
            "monitoring",
            name_prefix=prefix,
            region=settings.aws_region,
            route53_metrics_region=ROUTE53_METRICS_REGION,
            cdc_latency_threshold_seconds=settings.cdc_latency_threshold_seconds,
            alerting=self.alerting,
            database=self.database,
            migration=self.migration,
            compute=self.compute,
            load_balancer=self.load_balancer,
            dns=self.dns,
            cutover=self.cutover,
        )

    def _reverse_slot_decoding(self) -> TargetOptions:
        """How the driver creates the reverse slot: test_decoding as DMS reads it on AWS; locally the emulator
        replicates with PostgreSQL's own subscriptions, which read pgoutput through a publication. Locally also
        the flip's DNS hold."""
        if self.settings.target != "local":
            return {"reverse_slot_plugin": "test_decoding"}
        # Locally the only resolvers are the rehearsal's clients, which honour a 1 s TTL: the flip's DNS hold is
        # theirs (2 x 1 s, with a margin), not 2 x the alias's 60 s (docs/local-runtime.md).
        return {
            "reverse_slot_plugin": "pgoutput",
            "reverse_publication": f"{self.migration.reverse_slot_name}_tables",
            "dns_hold_seconds": LOCAL_DNS_HOLD_SECONDS,
        }

    def _configure_provider(self) -> None:
        settings = self.settings
        local = settings.target == "local"
        endpoints = None
        if local:
            url = local_endpoint_url(settings)
            endpoints = [AwsProviderEndpoints(**{service: url for service in LOCAL_ENDPOINT_SERVICES})]
        AwsProvider(
            self,
            "aws",
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
            S3Backend(
                self,
                bucket=settings.state_bucket,
                key=f"{settings.stack_name}/terraform.tfstate",
                region=settings.state_bucket_region,
                encrypt=True,
            )
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
        self.output(
            "private_subnet_ids",
            network.private_subnet_ids,
            "Private subnets (Lambda, DMS) routed through NAT, one per AZ",
        )
        self.output(
            "database_subnet_ids",
            network.database_subnet_ids,
            "Database subnets with no route to the internet, one per AZ",
        )
        self.output("nat_gateway_ids", [nat.id for nat in network.nat_gateways], "NAT gateways")
        self.output("flow_log_group_name", network.flow_log_group.name, "CloudWatch log group of VPC flow logs")
        self.output(
            "security_group_ids",
            {
                "alb": groups.alb.id,
                "lambda": groups.lambda_functions.id,
                "database": groups.database.id,
                "dms": groups.dms.id,
                "endpoints": groups.endpoints.id,
            },
            "Security group id per tier",
        )
        self.output("data_kms_key_arn", keys.data_key.arn, "KMS key for data at rest (Aurora, secrets, DMS, SNS)")
        self.output("logs_kms_key_arn", keys.logs_key.arn, "KMS key for CloudWatch Logs")

    def _data_outputs(self) -> None:
        cluster, migration = self.database.cluster, self.migration
        self.output("aurora_cluster_endpoint", cluster.endpoint, "Aurora writer endpoint")
        self.output("aurora_reader_endpoint", cluster.reader_endpoint, "Aurora reader endpoint")
        self.output("aurora_cluster_arn", cluster.arn, "Aurora cluster ARN (Data API resource ARN)")
        self.output("aurora_cluster_identifier", cluster.cluster_identifier, "Aurora cluster identifier")
        self.output(
            "aurora_master_secret_arn",
            self.database.master_secret_arn,
            "RDS-managed Secrets Manager secret of the master user (rotated by RDS)",
        )
        self.output("aurora_database_name", cluster.database_name, "Database the payments schema lives in")
        self.output(
            "aurora_app_secret_arn",
            self.compute.app_secret.arn,
            "Secret of the payment API's database login (written by the schema_migrations function)",
        )
        self.output(
            "aurora_cutover_secret_arn",
            self.compute.cutover_secret.arn,
            "Secret of the cutover driver's and rollback's database login (written by the schema_migrations function)",
        )
        self.output(
            "schema_migrations_sha256",
            self.compute.migrations_sha256,
            "Digest of the schema migration files the last deploy applied",
        )
        self.output(
            "dms_replication_instance_arn", migration.instance.replication_instance_arn, "DMS replication instance ARN"
        )
        self.output(
            "dms_replication_task_arn",
            migration.task.replication_task_arn,
            "DMS full-load-and-cdc task ARN (start it once the source secret is set)",
        )
        self.output(
            "dms_source_endpoint_arn",
            migration.source_endpoint.endpoint_arn,
            "DMS source endpoint (on-premises PostgreSQL)",
        )
        self.output("dms_target_endpoint_arn", migration.target_endpoint.endpoint_arn, "DMS target endpoint (Aurora)")
        self.output(
            "dms_source_secret_arn",
            migration.source_secret_arn,
            "Secret the operator fills with the on-premises credentials",
        )
        self.output(
            "dms_target_secret_arn",
            migration.target_secret_arn,
            "Secret the operator fills with the Aurora DMS user credentials",
        )
        self.output(
            "dms_reverse_task_arn",
            migration.reverse_task.replication_task_arn,
            "DMS cdc task Aurora -> on-premises (the cutover driver starts it from the flip LSN)",
        )
        self.output(
            "dms_reverse_source_endpoint_arn",
            migration.reverse_source_endpoint.endpoint_arn,
            "DMS reverse source endpoint (Aurora, reads the reverse slot)",
        )
        self.output(
            "dms_reverse_target_endpoint_arn",
            migration.reverse_target_endpoint.endpoint_arn,
            "DMS reverse target endpoint (on-premises PostgreSQL)",
        )
        self.output(
            "dms_reverse_source_secret_arn",
            migration.reverse_source_secret_arn,
            "Secret the operator fills with the Aurora credentials of the reverse DMS user",
        )
        self.output(
            "dms_reverse_target_secret_arn",
            migration.reverse_target_secret_arn,
            "Secret the operator fills with the on-premises credentials of the reverse DMS user",
        )
        self.output(
            "reverse_slot_name",
            migration.reverse_slot_name,
            "Logical replication slot on Aurora the reverse task reads (made by the driver at the flip)",
        )

    def _traffic_outputs(self) -> None:
        alb, dns, alerting, scheme = self.load_balancer.alb, self.dns, self.alerting, self.load_balancer.scheme
        self.output("alb_dns_name", alb.dns_name, "DNS name of the ALB in front of the payments API")
        self.output("alb_arn", alb.arn, "ARN of the ALB")
        self.output(
            "api_target_group_arn", self.load_balancer.target_group.arn, "Lambda target group of the payments API"
        )
        legacy_group = self.load_balancer.legacy_target_group
        self.output(
            "legacy_target_group_arn",
            legacy_group.arn if legacy_group else "",
            "IP target group of the legacy API's private addresses (empty without a legacy system)",
        )
        self.output(
            "write_rule_arn",
            self.load_balancer.write_rule.arn,
            "ALB listener rule that forwards writes to the current writer (owned by the cutover)",
        )
        self.output(
            "cutover_state_parameter",
            self.cutover.state.name,
            "SSM parameter holding the cutover state (which database is the writer)",
        )
        self.output("api_fqdn", dns.record_name, "Name clients use; weighted between legacy and new")
        self.output("api_url", f"{scheme}://{dns.record_name}", "URL of the payments API through Route53")
        self.output("alb_url", f"{scheme}://{alb.dns_name}", "URL of the payments API on the ALB")
        # The emulator serves each listener on its own port too, at /_local_aws/alb/<name>/<port>
        # (docs/local-runtime.md).
        self.output(
            "local_api_url",
            f"{local_endpoint_url(self.settings)}/_local_aws/alb/{alb.name}/"
            f"{443 if self.load_balancer.https_enabled else 80}"
            if self.settings.target == "local"
            else "",
            "URL a client calls for the payments API on the local emulator (empty on TARGET=aws)",
        )
        self.output("hosted_zone_id", dns.zone_id, "Route53 hosted zone holding the weighted records")
        functions = [self.compute.payment_api, self.compute.schema_migrations, *self.cutover.functions]
        self.output("lambda_function_names", {f.short_name: f.name for f in functions}, "Lambda function names by role")
        self.output("lambda_function_arns", {f.short_name: f.arn for f in functions}, "Lambda function ARNs by role")
        self.output("alert_topic_arn", alerting.alerts.arn, "SNS topic for operator alerts")
        self.output("critical_topic_arn", alerting.critical.arn, "SNS topic of critical alarms (triggers rollback)")
        self.output("dashboard_name", self.monitoring.dashboard.dashboard_name, "CloudWatch dashboard of the migration")
        self.output("waf_web_acl_arn", self.load_balancer.web_acl.arn, "WAFv2 web ACL protecting the ALB")
        trust_store = self.load_balancer.trust_store
        self.output(
            "alb_trust_store_arn",
            trust_store.arn if trust_store else "",
            "Trust store the HTTPS listener verifies client certificates against (empty without mTLS)",
        )
        self.output(
            "client_identity",
            self.settings.client_identity,
            "Where the payment API takes the merchant id from: mtls (client certificate CN) or header",
        )
        self.output(
            "migration_metric_namespace",
            self.cutover.metric_namespace,
            f"CloudWatch namespace of the {self.cutover.ready_metric_name} metric",
        )
        self.output(
            "critical_alarm_prefix",
            critical_alarm_prefix(self.settings.name_prefix),
            "Name prefix of the alarms that block a shift and trigger rollback",
        )
