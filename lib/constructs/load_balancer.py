"""The ALB in front of the payments API: Lambda target group, listeners, WAF and the access-log bucket."""

from __future__ import annotations

import ipaddress

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_resource_policy import CloudwatchLogResourcePolicy
from cdktf_cdktf_provider_aws.data_aws_elb_service_account import DataAwsElbServiceAccount
from cdktf_cdktf_provider_aws.lb import Lb
from cdktf_cdktf_provider_aws.lb_listener import (
    LbListener,
    LbListenerDefaultAction,
    LbListenerMutualAuthentication,
)
from cdktf_cdktf_provider_aws.lb_listener_rule import (
    LbListenerRule,
    LbListenerRuleAction,
    LbListenerRuleCondition,
    LbListenerRuleConditionHttpRequestMethod,
)
from cdktf_cdktf_provider_aws.lb_target_group import LbTargetGroup
from cdktf_cdktf_provider_aws.lb_target_group_attachment import LbTargetGroupAttachment
from cdktf_cdktf_provider_aws.lb_trust_store import LbTrustStore
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktf_cdktf_provider_aws.s3_bucket_notification import S3BucketNotification
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

from lib.address_space import alb_ip_target_allowed
from lib.constructs.compute import Compute
from lib.constructs.iam import from_account, policy_document, service_principal
from lib.constructs.network import Network
from lib.constructs.security_groups import SecurityGroups
from lib.constructs.security_keys import SecurityKeys, encrypted_log_group

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Common web exploits, known bad inputs (incl. Log4j), SQL injection, anonymising proxies.
WAF_MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesAnonymousIpList",
)
WAF_RATE_LIMIT_PER_5_MINUTES = 2000
# The write rule (docs/cutover.md): every write goes to the current writer's target group.
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
WRITE_RULE_PRIORITY = 10
LEGACY_PORT = 443
LEGACY_HEALTH_PATH = "/health"  # the legacy API's health path (also the Route53 health checks')
NONCURRENT_LOG_VERSION_DAYS = 30
ABORT_INCOMPLETE_UPLOAD_DAYS = 7


class LoadBalancer(Construct):
    """Serves HTTPS on 443 (and redirects 80) when it has a certificate, plain HTTP on 80 otherwise.

    With a client CA bundle (bucket, key) the HTTPS listener verifies client certificates against a
    trust store made from it (mutual TLS, `verify` mode): a client without a certificate that chains
    to the bundle is refused in the TLS handshake, on every path. The ALB then passes the verified
    certificate to the API in the X-Amzn-Mtls-Clientcert-* headers, which it sets itself.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/mutual-authentication.html

    The serving listener's write rule (POST, PUT, PATCH, DELETE) forwards to the current writer: the
    `legacy` IP target group (legacy's private addresses over the VPN) while legacy is the writer, the API's
    Lambda target group once Aurora is, or from the start without a legacy system. The cutover moves it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        internal: bool,
        certificate_arn: str | None,
        client_ca_bundle: tuple[str, str] | None = None,
        deletion_protection: bool,
        access_log_retention_days: int,
        waf_log_retention_days: int,
        account_id: str,
        partition: str,
        region: str,
        network: Network,
        security_groups: SecurityGroups,
        keys: SecurityKeys,
        compute: Compute,
        legacy_write_ips: tuple[str, ...] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        outside = [ip for ip in legacy_write_ips if not alb_ip_target_allowed(ipaddress.IPv4Address(ip))]
        if outside:
            raise ValueError(
                f"legacy write addresses {', '.join(outside)} are not private: ALB IP targets outside "
                "the VPC must be RFC 1918 or RFC 6598 addresses"
            )
        if client_ca_bundle is not None and certificate_arn is None:
            raise ValueError("a client CA bundle needs a certificate: mutual TLS runs on the HTTPS listener")
        self._name_prefix = name_prefix
        self._account_id, self._partition, self._region = account_id, partition, region
        self.https_enabled = certificate_arn is not None
        self.scheme = "https" if self.https_enabled else "http"
        self.trust_store = self._trust_store(client_ca_bundle) if client_ca_bundle else None
        self.access_logs, self.access_logs_policy = self._access_log_bucket(
            account_id, deletion_protection, access_log_retention_days
        )
        # ELB checks that it may write to the bucket when access logs are switched on: created before the
        # bucket policy exists, the ALB fails intermittently (hashicorp/terraform-provider-aws#12010).
        self.alb = Lb(
            self,
            "alb",
            name=f"{name_prefix}-alb",
            internal=internal,
            load_balancer_type="application",
            security_groups=[security_groups.alb.id],
            subnets=network.private_subnet_ids if internal else network.public_subnet_ids,
            drop_invalid_header_fields=True,
            enable_deletion_protection=deletion_protection,
            desync_mitigation_mode="strictest",
            access_logs={"bucket": self.access_logs.id, "prefix": "alb", "enabled": True},
            tags={"Name": f"{name_prefix}-alb"},
            depends_on=[self.access_logs_policy],
        )
        self.target_group = self._lambda_target(compute)
        self.legacy_target_group = self._legacy_targets(legacy_write_ips, network) if legacy_write_ips else None
        self.listeners = self._listeners(certificate_arn)
        self.write_rule = self._write_rule(self.listeners[0])
        self.web_acl = self._firewall(waf_log_retention_days, keys)

    def _trust_store(self, client_ca_bundle: tuple[str, str]) -> LbTrustStore:
        bucket, key = client_ca_bundle
        # Trust store names are limited to 32 characters: "payments-<suffix of at most 16>-mtls" fits.
        return LbTrustStore(
            self,
            "trust_store",
            name=f"{self._name_prefix}-mtls",
            ca_certificates_bundle_s3_bucket=bucket,
            ca_certificates_bundle_s3_key=key,
            tags={"Name": f"{self._name_prefix}-mtls"},
        )

    def _lambda_target(self, compute: Compute) -> LbTargetGroup:
        # No port or protocol, for the group or its health check: none applies to a Lambda target. Creating the
        # group still warns "health_check.protocol cannot be specified": the provider defaults it to HTTP
        # (hashicorp/terraform-provider-aws#35457), and an explicit empty protocol fails its validation.
        group = LbTargetGroup(
            self,
            "api_targets",
            name=f"{self._name_prefix}-api",
            target_type="lambda",
            health_check={
                "enabled": True,
                "path": "/health",
                "matcher": "200",
                "interval": 35,
                "timeout": 30,
                "healthy_threshold": 2,
                "unhealthy_threshold": 2,
            },
        )
        function = compute.payment_api
        permission = function.invoke_permission(
            self, "alb_invoke", statement_id="AllowAlbInvoke", service="elasticloadbalancing", source_arn=group.arn
        )
        LbTargetGroupAttachment(
            self, "api_target", target_group_arn=group.arn, target_id=function.arn, depends_on=[permission]
        )
        return group

    def _legacy_targets(self, addresses: tuple[str, ...], network: Network) -> LbTargetGroup:
        group = LbTargetGroup(
            self,
            "legacy_targets",
            name=f"{self._name_prefix}-legacy",
            target_type="ip",
            protocol="HTTPS",
            port=LEGACY_PORT,
            vpc_id=network.vpc.id,
            health_check={
                "enabled": True,
                "protocol": "HTTPS",
                "path": LEGACY_HEALTH_PATH,
                "matcher": "200",
                "interval": 30,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 2,
            },
        )
        for index, address in enumerate(addresses):
            # "all": the address is outside the VPC, reached from every zone of the ALB.
            LbTargetGroupAttachment(
                self,
                "legacy_target" if index == 0 else f"legacy_target_{index + 1}",
                target_group_arn=group.arn,
                target_id=address,
                port=LEGACY_PORT,
                availability_zone="all",
            )
        return group

    def _write_rule(self, listener: LbListener) -> LbListenerRule:
        writer = self.legacy_target_group or self.target_group
        return LbListenerRule(
            self,
            "write_rule",
            listener_arn=listener.arn,
            priority=WRITE_RULE_PRIORITY,
            action=[LbListenerRuleAction(type="forward", target_group_arn=writer.arn)],
            condition=[
                LbListenerRuleCondition(
                    http_request_method=LbListenerRuleConditionHttpRequestMethod(values=list(WRITE_METHODS))
                )
            ],
            tags={"Name": f"{self._name_prefix}-writes"},
            # The cutover owns the target (flip and rollback call ModifyRule): a redeploy must not move writes.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["action"]),
        )

    def _access_log_bucket(
        self, account_id: str, deletion_protection: bool, retention_days: int
    ) -> tuple[S3Bucket, S3BucketPolicy]:
        bucket = S3Bucket(
            self,
            "access_logs",
            bucket=f"{self._name_prefix}-alb-logs-{account_id}",
            force_destroy=not deletion_protection,
        )
        S3BucketPublicAccessBlock(
            self,
            "access_logs_public_block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        S3BucketVersioningA(
            self, "access_logs_versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}
        )
        # ALB access logs can only be written with SSE-S3 (AES256), not with a KMS key.
        S3BucketServerSideEncryptionConfigurationA(
            self,
            "access_logs_encryption",
            bucket=bucket.id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default={"sse_algorithm": "AES256"}
                )
            ],
        )
        S3BucketLifecycleConfiguration(
            self,
            "access_logs_lifecycle",
            bucket=bucket.id,
            rule=[
                S3BucketLifecycleConfigurationRule(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                    expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=retention_days)],
                    noncurrent_version_expiration=[
                        S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                            noncurrent_days=NONCURRENT_LOG_VERSION_DAYS
                        )
                    ],
                    abort_incomplete_multipart_upload=[
                        S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                            days_after_initiation=ABORT_INCOMPLETE_UPLOAD_DAYS
                        )
                    ],
                )
            ],
        )
        # New log objects become EventBridge events (for shipping to a SIEM).
        S3BucketNotification(self, "access_logs_events", bucket=bucket.id, eventbridge=True)
        elb_account = DataAwsElbServiceAccount(self, "elb_account")
        log_objects = f"{bucket.arn}/alb/AWSLogs/{account_id}/*"
        log_delivery = service_principal(self, "logdelivery.elasticloadbalancing").name
        policy = S3BucketPolicy(
            self,
            "access_logs_policy",
            bucket=bucket.id,
            policy=policy_document(
                [
                    {
                        "Sid": "AlbWritesAccessLogs",
                        "Effect": "Allow",
                        "Action": "s3:PutObject",
                        "Resource": log_objects,
                        "Principal": {"AWS": elb_account.arn},
                    },
                    {
                        "Sid": "LogDeliveryWritesAccessLogs",
                        "Effect": "Allow",
                        "Action": "s3:PutObject",
                        "Resource": log_objects,
                        "Principal": {"Service": log_delivery},
                    },
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Action": "s3:*",
                        "Principal": "*",
                        "Resource": [bucket.arn, f"{bucket.arn}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                ]
            ),
        )
        return bucket, policy

    def _listeners(self, certificate_arn: str | None) -> list[LbListener]:
        forward = [LbListenerDefaultAction(type="forward", target_group_arn=self.target_group.arn)]
        if certificate_arn is None:
            return [self._listener("http", 80, forward)]
        mutual_authentication = None
        if self.trust_store is not None:
            mutual_authentication = LbListenerMutualAuthentication(mode="verify", trust_store_arn=self.trust_store.arn)
        https = self._listener("https", 443, forward, certificate_arn, mutual_authentication)
        to_https = LbListenerDefaultAction(
            type="redirect", redirect={"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}
        )
        return [https, self._listener("http_redirect", 80, [to_https])]

    def _listener(
        self,
        construct_id: str,
        port: int,
        default_action: list[LbListenerDefaultAction],
        certificate_arn: str | None = None,
        mutual_authentication: LbListenerMutualAuthentication | None = None,
    ) -> LbListener:
        """HTTPS under the TLS policy with a certificate, plain HTTP without one."""
        return LbListener(
            self,
            construct_id,
            load_balancer_arn=self.alb.arn,
            port=port,
            protocol="HTTP" if certificate_arn is None else "HTTPS",
            ssl_policy=None if certificate_arn is None else TLS_POLICY,
            certificate_arn=certificate_arn,
            default_action=default_action,
            mutual_authentication=mutual_authentication,
        )

    def _firewall(self, log_retention_days: int, keys: SecurityKeys) -> Wafv2WebAcl:
        name = f"{self._name_prefix}-api"
        rules = [_managed_rule(group, priority) for priority, group in enumerate(WAF_MANAGED_RULE_GROUPS, start=1)]
        rules.append(
            {
                "name": "rate-limit-per-ip",
                "priority": len(rules) + 1,
                "action": {"block": {}},
                "statement": {
                    "rate_based_statement": {"limit": WAF_RATE_LIMIT_PER_5_MINUTES, "aggregate_key_type": "IP"}
                },
                "visibility_config": _visibility("rate-limit-per-ip"),
            }
        )
        acl = Wafv2WebAcl(
            self,
            "web_acl",
            name=name,
            scope="REGIONAL",
            description="Protects the payments API ALB",
            default_action={"allow": {}},
            rule=[Wafv2WebAclRule(**rule) for rule in rules],
            visibility_config=_visibility(name),
        )
        Wafv2WebAclAssociation(self, "web_acl_alb", resource_arn=self.alb.arn, web_acl_arn=acl.arn)
        # WAF only delivers to log groups whose name starts with aws-waf-logs-.
        log_group = encrypted_log_group(
            self, "waf_logs", name=f"aws-waf-logs-{self._name_prefix}", retention_days=log_retention_days, keys=keys
        )
        delivery = self._waf_log_delivery(log_group)
        Wafv2WebAclLoggingConfiguration(
            self,
            "web_acl_logging",
            resource_arn=acl.arn,
            log_destination_configs=[log_group.arn],
            depends_on=[delivery],
        )
        return acl

    def _waf_log_delivery(self, log_group: CloudwatchLogGroup) -> CloudwatchLogResourcePolicy:
        """The log group's resource policy that lets WAF's log delivery write to it. Without it WAF tries to
        add one to the account's shared policy itself when logging is switched on; explicit, it exists first
        and names only this group. https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html"""
        account = self._account_id
        return CloudwatchLogResourcePolicy(
            self,
            "waf_log_delivery",
            policy_name=f"{self._name_prefix}-waf-logs",
            policy_document=policy_document(
                [
                    {
                        "Sid": "WafLogDeliveryWrites",
                        "Effect": "Allow",
                        "Principal": {"Service": service_principal(self, "delivery.logs").name},
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": f"{log_group.arn}:log-stream:*",
                        "Condition": from_account(account, f"arn:{self._partition}:logs:{self._region}:{account}:*"),
                    }
                ]
            ),
        )


def _managed_rule(group: str, priority: int) -> dict:
    return {
        "name": group,
        "priority": priority,
        "override_action": {"none": {}},
        "statement": {"managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}},
        "visibility_config": _visibility(group),
    }


def _visibility(metric_name: str) -> dict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric_name, "sampled_requests_enabled": True}
