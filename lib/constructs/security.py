"""Customer-managed KMS keys and one security group per tier, rules standalone."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

POSTGRES_PORT = 5432
HTTPS_PORT = 443


@dataclass(frozen=True)
class AccountContext:
    """Where the stack runs: values come from data sources, never literals."""

    account_id: str
    partition: str
    region: str


def _root_statement(ctx: AccountContext) -> dict:
    return {
        "Sid": "AccountAdministersKey",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{ctx.partition}:iam::{ctx.account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def _service_statement(sid: str, service: str, ctx: AccountContext, condition: dict | None = None) -> dict:
    statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                   "kms:Describe*"],
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    return statement


def logs_key_policy(ctx: AccountContext) -> str:
    """Lets CloudWatch Logs in this account and region encrypt log groups with the key."""
    log_arns = f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account_id}:*"
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            _root_statement(ctx),
            _service_statement("CloudWatchLogsUseKey", f"logs.{ctx.region}.amazonaws.com", ctx,
                               {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_arns}}),
        ],
    })


def data_key_policy(ctx: AccountContext) -> str:
    """IAM-delegated use for RDS, DMS, Secrets Manager; alarms may publish to encrypted SNS."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            _root_statement(ctx),
            _service_statement("CloudWatchAlarmsPublishToEncryptedTopics", "cloudwatch.amazonaws.com", ctx,
                               {"StringEquals": {"aws:SourceAccount": ctx.account_id}}),
        ],
    })


class EncryptionKeys(Construct):
    """A key for data at rest (Aurora, secrets, DMS, SNS) and one for logs."""

    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str,
                 context: AccountContext, deletion_window_days: int) -> None:
        super().__init__(scope, construct_id)
        self.data_key = self._key("data", f"{name_prefix} data at rest", data_key_policy(context),
                                  name_prefix, deletion_window_days)
        self.logs_key = self._key("logs", f"{name_prefix} CloudWatch Logs", logs_key_policy(context),
                                  name_prefix, deletion_window_days)

    def _key(self, purpose: str, description: str, policy: str, name_prefix: str,
             deletion_window_days: int) -> KmsKey:
        key = KmsKey(self, f"{purpose}_key", description=description, enable_key_rotation=True,
                     deletion_window_in_days=deletion_window_days, policy=policy,
                     tags={"Name": f"{name_prefix}-{purpose}"})
        KmsAlias(self, f"{purpose}_alias", name=f"alias/{name_prefix}-{purpose}", target_key_id=key.key_id)
        return key


class SecurityGroups(Construct):
    """One group per tier; every rule is its own resource so reviewers see each port."""

    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str, vpc_id: str,
                 vpc_cidr: str, onprem_cidr: str, alb_listener_ports: tuple[int, ...],
                 alb_ingress_cidr: str) -> None:
        super().__init__(scope, construct_id)
        self.alb = self._group("alb", "Application Load Balancer in front of the payments API",
                               name_prefix, vpc_id)
        self.lambda_functions = self._group("lambda", "Payments Lambda functions", name_prefix, vpc_id)
        self.database = self._group("database", "Aurora PostgreSQL cluster", name_prefix, vpc_id)
        self.dms = self._group("dms", "DMS replication instance", name_prefix, vpc_id)
        self.endpoints = self._group("endpoints", "Interface VPC endpoints", name_prefix, vpc_id)

        for port in alb_listener_ports:
            self._ingress_cidr(self.alb, f"alb_in_{port}", port, alb_ingress_cidr,
                               f"Clients to the ALB listener on {port}")
        self._egress_cidr(self.lambda_functions, "lambda_out_https", HTTPS_PORT, "0.0.0.0/0",
                          "AWS APIs (Data API, Route53, CloudWatch) over HTTPS")
        self._ingress_group(self.database, "db_in_from_dms", POSTGRES_PORT, self.dms,
                            "DMS replication into Aurora")
        self._egress_group(self.dms, "dms_out_to_db", POSTGRES_PORT, self.database,
                           "DMS replication into Aurora")
        self._egress_cidr(self.dms, "dms_out_to_onprem", POSTGRES_PORT, onprem_cidr,
                          "DMS reads the on-premises PostgreSQL source")
        self._egress_group(self.dms, "dms_out_to_endpoints", HTTPS_PORT, self.endpoints,
                           "DMS reads credentials from Secrets Manager")
        self._ingress_cidr(self.endpoints, "endpoints_in_https", HTTPS_PORT, vpc_cidr,
                           "Workloads in the VPC to AWS APIs")

    def _group(self, tier: str, description: str, name_prefix: str, vpc_id: str) -> SecurityGroup:
        return SecurityGroup(self, f"{tier}_sg", name=f"{name_prefix}-{tier}", description=description,
                             vpc_id=vpc_id, tags={"Name": f"{name_prefix}-{tier}", "Tier": tier})

    def _ingress_cidr(self, group: SecurityGroup, rule_id: str, port: int, cidr: str, why: str) -> None:
        VpcSecurityGroupIngressRule(self, rule_id, security_group_id=group.id, ip_protocol="tcp",
                                    from_port=port, to_port=port, cidr_ipv4=cidr, description=why)

    def _egress_cidr(self, group: SecurityGroup, rule_id: str, port: int, cidr: str, why: str) -> None:
        VpcSecurityGroupEgressRule(self, rule_id, security_group_id=group.id, ip_protocol="tcp",
                                   from_port=port, to_port=port, cidr_ipv4=cidr, description=why)

    def _ingress_group(self, group: SecurityGroup, rule_id: str, port: int, source: SecurityGroup,
                       why: str) -> None:
        VpcSecurityGroupIngressRule(self, rule_id, security_group_id=group.id, ip_protocol="tcp",
                                    from_port=port, to_port=port,
                                    referenced_security_group_id=source.id, description=why)

    def _egress_group(self, group: SecurityGroup, rule_id: str, port: int, destination: SecurityGroup,
                      why: str) -> None:
        VpcSecurityGroupEgressRule(self, rule_id, security_group_id=group.id, ip_protocol="tcp",
                                   from_port=port, to_port=port,
                                   referenced_security_group_id=destination.id, description=why)
