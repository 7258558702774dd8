"""Lambda functions (packaged with TerraformAsset), the ALB in front of the API, and WAF."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cdktf import AssetType, TerraformAsset
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_elb_service_account import DataAwsElbServiceAccount
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from cdktf_cdktf_provider_aws.lb import Lb
from cdktf_cdktf_provider_aws.lb_listener import LbListener, LbListenerDefaultAction
from cdktf_cdktf_provider_aws.lb_target_group import LbTargetGroup
from cdktf_cdktf_provider_aws.lb_target_group_attachment import LbTargetGroupAttachment
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_notification import S3BucketNotification
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA
from cdktf_cdktf_provider_aws.wafv2_web_acl import Wafv2WebAcl, Wafv2WebAclRule
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import Wafv2WebAclAssociation
from cdktf_cdktf_provider_aws.wafv2_web_acl_logging_configuration import Wafv2WebAclLoggingConfiguration
from constructs import Construct

from lib.packaging import build_package

LAMBDA_SOURCE_ROOT = Path(__file__).resolve().parent.parent / "lambda"
BUILD_DIR = Path(__file__).resolve().parents[2] / "build" / "lambda"
RUNTIME = "python3.12"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Common web exploits, known bad inputs (incl. Log4j), SQL injection, anonymising proxies.
WAF_MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                           "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesAnonymousIpList")
WAF_RATE_LIMIT_PER_5_MINUTES = 2000


@dataclass(frozen=True)
class FunctionRuntime:
    """What every function shares: network placement, encryption, logging, failure topic."""

    name_prefix: str
    subnet_ids: list[str]
    security_group_id: str
    logs_key_arn: str
    data_key_arn: str
    log_retention_days: int
    failure_topic_arn: str


@dataclass(frozen=True)
class FunctionSpec:
    """One function: its folder under lib/lambda, environment and the permissions it needs."""

    source: str
    description: str
    environment: dict[str, str]
    statements: list[dict] = field(default_factory=list)
    reserved_concurrency: int = 2
    timeout_seconds: int = 30
    memory_mb: int = 256


def _allow(actions: list[str], resources: list[str] | str, condition: dict | None = None) -> dict:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


class PaymentsFunction(Construct):
    """A Lambda function with its own log group, least-privilege role and deterministic package."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: FunctionSpec, runtime: FunctionRuntime) -> None:
        super().__init__(scope, construct_id)
        self.name = f"{runtime.name_prefix}-{spec.source.replace('_', '-')}"
        package = build_package(LAMBDA_SOURCE_ROOT / spec.source, BUILD_DIR)
        asset = TerraformAsset(self, "package", path=str(package.path), type=AssetType.FILE)
        self.log_group = CloudwatchLogGroup(self, "log_group", name=f"/aws/lambda/{self.name}",
                                            retention_in_days=runtime.log_retention_days,
                                            kms_key_id=runtime.logs_key_arn)
        role = IamRole(self, "role", name=self.name, description=f"Runs {self.name}",
                       assume_role_policy=json.dumps({
                           "Version": "2012-10-17",
                           "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                          "Principal": {"Service": "lambda.amazonaws.com"}}]}))
        policy = IamRolePolicy(self, "policy", role=role.id, name="least-privilege",
                               policy=json.dumps({"Version": "2012-10-17",
                                                  "Statement": self._base_statements(runtime) + spec.statements}))
        self.function = LambdaFunction(
            self, "function", function_name=self.name, description=spec.description, role=role.arn,
            runtime=RUNTIME, handler="handler.handler", filename=asset.path,
            source_code_hash=package.sha256_base64, timeout=spec.timeout_seconds, memory_size=spec.memory_mb,
            reserved_concurrent_executions=spec.reserved_concurrency, kms_key_arn=runtime.data_key_arn,
            environment={"variables": dict(sorted(spec.environment.items()))},
            vpc_config={"subnet_ids": runtime.subnet_ids, "security_group_ids": [runtime.security_group_id]},
            tracing_config={"mode": "Active"},
            dead_letter_config={"target_arn": runtime.failure_topic_arn},
            depends_on=[self.log_group, policy])

    def _base_statements(self, runtime: FunctionRuntime) -> list[dict]:
        return [
            _allow(["logs:CreateLogStream", "logs:PutLogEvents"], f"{self.log_group.arn}:*"),
            # ENI management and X-Ray segments have no resource-level permissions.
            _allow(["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
                    "xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*"),
            _allow(["sns:Publish"], runtime.failure_topic_arn),
            _allow(["kms:Decrypt", "kms:GenerateDataKey"], runtime.data_key_arn),
        ]

    @property
    def arn(self) -> str:
        return self.function.arn


@dataclass(frozen=True)
class LoadBalancerOptions:
    name_prefix: str
    internal: bool
    certificate_arn: str | None
    protect_from_deletion: bool
    access_log_retention_days: int


class PaymentsApi(Construct):
    """The payments API function behind an ALB (Lambda target group) protected by WAF."""

    def __init__(self, scope: Construct, construct_id: str, *, runtime: FunctionRuntime,
                 options: LoadBalancerOptions, account_id: str, partition: str, subnet_ids: list[str],
                 security_group_id: str, cluster_arn: str, secret_arn: str, database_name: str,
                 reserved_concurrency: int) -> None:
        super().__init__(scope, construct_id)
        prefix = options.name_prefix
        self.handler = PaymentsFunction(self, "payment_api", runtime=runtime, spec=FunctionSpec(
            source="payment_api", description="Payments API behind the ALB (RDS Data API)",
            environment={"DB_CLUSTER_ARN": cluster_arn, "DB_SECRET_ARN": secret_arn, "DB_NAME": database_name},
            statements=[
                _allow(["rds-data:ExecuteStatement", "rds-data:BatchExecuteStatement", "rds-data:BeginTransaction",
                        "rds-data:CommitTransaction", "rds-data:RollbackTransaction"], cluster_arn),
                _allow(["secretsmanager:GetSecretValue"], secret_arn),
            ],
            reserved_concurrency=reserved_concurrency, timeout_seconds=15, memory_mb=512))

        logs_bucket = self._access_log_bucket(prefix, account_id, partition, options)
        self.load_balancer = Lb(
            self, "alb", name=f"{prefix}-alb", internal=options.internal, load_balancer_type="application",
            security_groups=[security_group_id], subnets=subnet_ids, drop_invalid_header_fields=True,
            enable_deletion_protection=options.protect_from_deletion, desync_mitigation_mode="strictest",
            access_logs={"bucket": logs_bucket.id, "prefix": "alb", "enabled": True},
            tags={"Name": f"{prefix}-alb"})
        # Terraform warns "health_check.protocol cannot be specified" for Lambda targets although none is
        # set: provider defect hashicorp/terraform-provider-aws#35457 (it defaults the protocol to HTTP).
        self.target_group = LbTargetGroup(
            self, "api_targets", name=f"{prefix}-api", target_type="lambda",
            health_check={"enabled": True, "path": "/health", "matcher": "200", "interval": 35, "timeout": 30,
                          "healthy_threshold": 2, "unhealthy_threshold": 2})
        permission = LambdaPermission(self, "alb_invoke", statement_id="AllowAlbInvoke",
                                      action="lambda:InvokeFunction", function_name=self.handler.function.function_name,
                                      principal="elasticloadbalancing.amazonaws.com",
                                      source_arn=self.target_group.arn)
        LbTargetGroupAttachment(self, "api_target", target_group_arn=self.target_group.arn,
                                target_id=self.handler.arn, depends_on=[permission])
        self.listeners = self._listeners(options.certificate_arn)
        self.web_acl = self._firewall(prefix, runtime)

    @property
    def scheme(self) -> str:
        return "https" if len(self.listeners) == 2 else "http"

    def _access_log_bucket(self, prefix: str, account_id: str, partition: str,
                           options: LoadBalancerOptions) -> S3Bucket:
        bucket = S3Bucket(self, "access_logs", bucket=f"{prefix}-alb-logs-{account_id}",
                          force_destroy=not options.protect_from_deletion)
        S3BucketPublicAccessBlock(self, "access_logs_public_block", bucket=bucket.id, block_public_acls=True,
                                  block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
        S3BucketVersioningA(self, "access_logs_versioning", bucket=bucket.id,
                            versioning_configuration={"status": "Enabled"})
        # ALB access logs can only be written with SSE-S3 (AES256), not with a KMS key.
        S3BucketServerSideEncryptionConfigurationA(
            self, "access_logs_encryption", bucket=bucket.id,
            rule=[S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default={"sse_algorithm": "AES256"})])
        S3BucketLifecycleConfiguration(self, "access_logs_lifecycle", bucket=bucket.id, rule=[
            S3BucketLifecycleConfigurationRule(
                id="expire-access-logs", status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=options.access_log_retention_days)],
                noncurrent_version_expiration=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=30)],
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=7)])])
        # New log objects become EventBridge events (for shipping to a SIEM).
        S3BucketNotification(self, "access_logs_events", bucket=bucket.id, eventbridge=True)
        elb_account = DataAwsElbServiceAccount(self, "elb_account")
        log_objects = f"{bucket.arn}/alb/AWSLogs/{account_id}/*"
        S3BucketPolicy(self, "access_logs_policy", bucket=bucket.id, policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "AlbWritesAccessLogs", "Effect": "Allow", "Action": "s3:PutObject", "Resource": log_objects,
                 "Principal": {"AWS": elb_account.arn}},
                {"Sid": "LogDeliveryWritesAccessLogs", "Effect": "Allow", "Action": "s3:PutObject",
                 "Resource": log_objects, "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}},
                {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Action": "s3:*", "Principal": "*",
                 "Resource": [bucket.arn, f"{bucket.arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            ]}))
        return bucket

    def _listeners(self, certificate_arn: str | None) -> list[LbListener]:
        forward = [LbListenerDefaultAction(type="forward", target_group_arn=self.target_group.arn)]
        if not certificate_arn:
            return [LbListener(self, "http", load_balancer_arn=self.load_balancer.arn, port=80, protocol="HTTP",
                               default_action=forward)]
        https = LbListener(self, "https", load_balancer_arn=self.load_balancer.arn, port=443, protocol="HTTPS",
                           ssl_policy=TLS_POLICY, certificate_arn=certificate_arn, default_action=forward)
        redirect = LbListener(self, "http_redirect", load_balancer_arn=self.load_balancer.arn, port=80,
                              protocol="HTTP", default_action=[LbListenerDefaultAction(
                                  type="redirect",
                                  redirect={"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"})])
        return [https, redirect]

    def _firewall(self, prefix: str, runtime: FunctionRuntime) -> Wafv2WebAcl:
        rules = [self._managed_rule(group, priority) for priority, group in
                 enumerate(WAF_MANAGED_RULE_GROUPS, start=1)]
        rules.append({
            "name": "rate-limit-per-ip", "priority": len(rules) + 1, "action": {"block": {}},
            "statement": {"rate_based_statement": {"limit": WAF_RATE_LIMIT_PER_5_MINUTES, "aggregate_key_type": "IP"}},
            "visibility_config": _visibility("rate-limit-per-ip")})
        rules = [Wafv2WebAclRule(**rule) for rule in rules]
        acl = Wafv2WebAcl(self, "web_acl", name=f"{prefix}-api", scope="REGIONAL",
                          description="Protects the payments API ALB", default_action={"allow": {}}, rule=rules,
                          visibility_config=_visibility(f"{prefix}-api"))
        Wafv2WebAclAssociation(self, "web_acl_alb", resource_arn=self.load_balancer.arn, web_acl_arn=acl.arn)
        log_group = CloudwatchLogGroup(self, "waf_logs", name=f"aws-waf-logs-{prefix}",
                                       retention_in_days=runtime.log_retention_days, kms_key_id=runtime.logs_key_arn)
        Wafv2WebAclLoggingConfiguration(self, "web_acl_logging", resource_arn=acl.arn,
                                        log_destination_configs=[log_group.arn])
        return acl

    @staticmethod
    def _managed_rule(group: str, priority: int) -> dict:
        return {"name": group, "priority": priority, "override_action": {"none": {}},
                "statement": {"managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}},
                "visibility_config": _visibility(group)}


def _visibility(metric_name: str) -> dict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric_name, "sampled_requests_enabled": True}


@dataclass(frozen=True)
class CutoverTargets:
    """What the cutover functions act on."""

    hosted_zone_id: str
    record_name: str
    replication_task_arn: str
    replication_instance_id: str
    alert_topic_arn: str
    critical_alarm_prefix: str
    metric_namespace: str
    cdc_latency_threshold_seconds: int


class MigrationControl(Construct):
    """Validator, guarded traffic shifter and rollback: the cutover's moving parts."""

    def __init__(self, scope: Construct, construct_id: str, *, runtime: FunctionRuntime,
                 targets: CutoverTargets, partition: str) -> None:
        super().__init__(scope, construct_id)
        zone_arn = f"arn:{partition}:route53:::hostedzone/{targets.hosted_zone_id}"
        records = {"HOSTED_ZONE_ID": targets.hosted_zone_id, "RECORD_NAME": targets.record_name,
                   "NEW_SET_IDENTIFIER": "new", "LEGACY_SET_IDENTIFIER": "legacy"}
        route53 = _allow(["route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"], zone_arn)
        read_metrics = _allow(["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics"], "*")
        self.validator = PaymentsFunction(self, "migration_validator", runtime=runtime, spec=FunctionSpec(
            source="migration_validator", description="Checks DMS validation, table states and CDC latency",
            environment={"REPLICATION_TASK_ARN": targets.replication_task_arn,
                         "REPLICATION_INSTANCE_ID": targets.replication_instance_id,
                         "CDC_LATENCY_THRESHOLD_SECONDS": str(targets.cdc_latency_threshold_seconds),
                         "ALERT_TOPIC_ARN": targets.alert_topic_arn, "METRIC_NAMESPACE": targets.metric_namespace},
            statements=[
                _allow(["dms:DescribeTableStatistics", "dms:DescribeReplicationTasks"], "*"),
                read_metrics,
                _allow(["cloudwatch:PutMetricData"], "*",
                       {"StringEquals": {"cloudwatch:namespace": targets.metric_namespace}}),
                _allow(["sns:Publish"], targets.alert_topic_arn),
            ], timeout_seconds=60))
        self.shifter = PaymentsFunction(self, "traffic_shifter", runtime=runtime, spec=FunctionSpec(
            source="traffic_shifter", description="Moves Route53 weight to the new system when it is safe",
            environment={**records, "CRITICAL_ALARM_PREFIX": targets.critical_alarm_prefix,
                         "METRIC_NAMESPACE": targets.metric_namespace, "READINESS_MAX_AGE_SECONDS": "900"},
            statements=[route53, read_metrics, _allow(["cloudwatch:DescribeAlarms"], "*")],
            # Route53 UPSERTs have no compare-and-set: two shifts at once could overwrite each other.
            reserved_concurrency=1))
        self.rollback = PaymentsFunction(self, "rollback", runtime=runtime, spec=FunctionSpec(
            source="rollback", description="Sends all traffic back to the legacy system",
            environment=records, statements=[route53], reserved_concurrency=1))

    @property
    def functions(self) -> list[PaymentsFunction]:
        return [self.validator, self.shifter, self.rollback]
