"""One security group per tier, every rule its own resource so reviewers see each port."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from lib.constructs.network import Network

POSTGRES_PORT = 5432
HTTPS_PORT = 443
ANYWHERE = "0.0.0.0/0"
INGRESS, EGRESS = "ingress", "egress"


class SecurityGroups(Construct):
    """alb, lambda, database, dms and endpoints groups; the ALB admits only its listener ports."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        network: Network,
        onprem_cidr: str,
        onprem_db_port: int,
        alb_listener_ports: tuple[int, ...],
        alb_internal: bool,
        legacy_write_ips: tuple[str, ...] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self._name_prefix = name_prefix
        self._vpc_id = network.vpc.id
        self.alb = self._group("alb", "Application Load Balancer in front of the payments API")
        self.lambda_functions = self._group("lambda", "Payments Lambda functions")
        self.database = self._group("database", "Aurora PostgreSQL cluster")
        self.dms = self._group("dms", "DMS replication instance")
        self.endpoints = self._group("endpoints", "Interface VPC endpoints")

        # An internal ALB is reached from inside the VPC only.
        alb_clients = network.vpc_cidr if alb_internal else ANYWHERE
        rules = [
            (f"alb_in_{port}", self.alb, INGRESS, port, alb_clients, f"Clients to the ALB listener on {port}")
            for port in alb_listener_ports
        ]
        # The write rule forwards writes to legacy's private addresses while legacy is the writer (docs/cutover.md).
        rules += [
            (
                f"alb_out_to_legacy_{index + 1}",
                self.alb,
                EGRESS,
                HTTPS_PORT,
                f"{address}/32",
                "Writes to the legacy API while legacy is the writer",
            )
            for index, address in enumerate(legacy_write_ips)
        ]
        rules += [
            (
                "lambda_out_https",
                self.lambda_functions,
                EGRESS,
                HTTPS_PORT,
                ANYWHERE,
                "AWS APIs (Data API, Route53, CloudWatch) over HTTPS",
            ),
            ("db_in_from_dms", self.database, INGRESS, POSTGRES_PORT, self.dms, "DMS replication into Aurora"),
            ("dms_out_to_db", self.dms, EGRESS, POSTGRES_PORT, self.database, "DMS replication into Aurora"),
            (
                "dms_out_to_onprem",
                self.dms,
                EGRESS,
                onprem_db_port,
                onprem_cidr,
                "DMS reads the on-premises PostgreSQL source",
            ),
            (
                "dms_out_to_endpoints",
                self.dms,
                EGRESS,
                HTTPS_PORT,
                self.endpoints,
                "DMS reads credentials from Secrets Manager",
            ),
            (
                "endpoints_in_https",
                self.endpoints,
                INGRESS,
                HTTPS_PORT,
                network.vpc_cidr,
                "Workloads in the VPC to AWS APIs",
            ),
        ]
        for rule in rules:
            self._rule(*rule)

    def _group(self, tier: str, description: str) -> SecurityGroup:
        name = f"{self._name_prefix}-{tier}"
        return SecurityGroup(
            self,
            f"{tier}_sg",
            name=name,
            description=description,
            vpc_id=self._vpc_id,
            tags={"Name": name, "Tier": tier},
        )

    def _rule(
        self, rule_id: str, group: SecurityGroup, direction: str, port: int, peer: str | SecurityGroup, why: str
    ) -> None:
        """One TCP port from (ingress) or to (egress) a CIDR block or another group."""
        rule_type = VpcSecurityGroupIngressRule if direction == INGRESS else VpcSecurityGroupEgressRule
        peer_argument = (
            {"referenced_security_group_id": peer.id} if isinstance(peer, SecurityGroup) else {"cidr_ipv4": peer}
        )
        rule_type(
            self,
            rule_id,
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=why,
            **peer_argument,
        )
