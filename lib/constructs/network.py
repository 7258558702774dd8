"""VPC over three pinned AZs: public, private and database subnets, NAT, flow logs."""

from __future__ import annotations

import ipaddress

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from constructs import Construct

from lib.constructs.iam import allow, from_account, policy_document, service_principal, trust_policy
from lib.constructs.security_keys import SecurityKeys, encrypted_log_group

AZ_COUNT = 3
TIERS = ("public", "private", "database")
# What the flow-logs role of the AWS example may do to its log group.
FLOW_LOG_GROUP_ACTIONS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]


def subnet_cidrs(vpc_cidr: str) -> dict[str, list[str]]:
    """Carves the VPC into 16 equal blocks: the first nine go to 3 tiers x 3 AZs."""
    network = ipaddress.IPv4Network(vpc_cidr)
    blocks = list(network.subnets(prefixlen_diff=4))
    return {tier: [str(blocks[t * AZ_COUNT + az]) for az in range(AZ_COUNT)] for t, tier in enumerate(TIERS)}


class Network(Construct):
    """The VPC. Private subnets leave through NAT; database subnets have no internet route."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        vpc_cidr: str,
        availability_zone_ids: tuple[str, ...],
        nat_gateway_count: int,
        flow_log_retention_days: int,
        account_id: str,
        partition: str,
        region: str,
        keys: SecurityKeys,
    ) -> None:
        super().__init__(scope, construct_id)
        if len(availability_zone_ids) != AZ_COUNT:
            raise ValueError(f"Network needs {AZ_COUNT} availability zone ids, got {availability_zone_ids}")
        self._name_prefix = name_prefix
        self._account_id, self._partition, self._region = account_id, partition, region
        self.vpc_cidr = vpc_cidr
        # Zone ids, never positions in the live zone list: when a zone is impaired or added, the list
        # shifts and every subnet, Aurora and DMS instance placed by index would be replaced.
        self.availability_zone_ids = availability_zone_ids

        self.vpc = Vpc(
            self,
            "vpc",
            cidr_block=vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": name_prefix},
        )
        # Closes the default group: anything that forgets a group gets no traffic.
        DefaultSecurityGroup(self, "default_sg", vpc_id=self.vpc.id, tags={"Name": f"{name_prefix}-default-closed"})

        cidrs = subnet_cidrs(vpc_cidr)
        self.public_subnets = self._subnets("public", cidrs["public"])
        self.private_subnets = self._subnets("private", cidrs["private"])
        self.database_subnets = self._subnets("database", cidrs["database"])

        igw = InternetGateway(self, "igw", vpc_id=self.vpc.id, tags={"Name": name_prefix})
        self.public_route_table = self._public_routes(igw)
        self.nat_gateways = self._nat_gateways(nat_gateway_count, igw)
        self.private_route_tables = self._private_routes()
        self.database_route_table = self._isolated_routes()
        self.flow_log_group = self._flow_logs(flow_log_retention_days, keys)

    @property
    def availability_zones(self) -> list[str]:
        """Zone names in this account, in zone-id order, as the subnets resolved them."""
        return [subnet.availability_zone for subnet in self.database_subnets]

    @property
    def public_subnet_ids(self) -> list[str]:
        return [subnet.id for subnet in self.public_subnets]

    @property
    def private_subnet_ids(self) -> list[str]:
        return [subnet.id for subnet in self.private_subnets]

    @property
    def database_subnet_ids(self) -> list[str]:
        return [subnet.id for subnet in self.database_subnets]

    def _subnets(self, tier: str, cidrs: list[str]) -> list[Subnet]:
        return [
            Subnet(
                self,
                f"{tier}_subnet_{az}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone_id=self.availability_zone_ids[az],
                map_public_ip_on_launch=False,
                tags={"Name": f"{self._name_prefix}-{tier}-{az + 1}", "Tier": tier},
            )
            for az, cidr in enumerate(cidrs)
        ]

    def _public_routes(self, igw: InternetGateway) -> RouteTable:
        table = RouteTable(self, "public_rt", vpc_id=self.vpc.id, tags={"Name": f"{self._name_prefix}-public"})
        Route(
            self, "public_default_route", route_table_id=table.id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id
        )
        for az, subnet in enumerate(self.public_subnets):
            RouteTableAssociation(self, f"public_rta_{az}", subnet_id=subnet.id, route_table_id=table.id)
        return table

    def _nat_gateways(self, count: int, igw: InternetGateway) -> list[NatGateway]:
        gateways = []
        for az in range(count):
            eip = Eip(
                self,
                f"nat_eip_{az}",
                domain="vpc",
                depends_on=[igw],
                tags={"Name": f"{self._name_prefix}-nat-{az + 1}"},
            )
            gateways.append(
                NatGateway(
                    self,
                    f"nat_{az}",
                    allocation_id=eip.id,
                    subnet_id=self.public_subnets[az].id,
                    depends_on=[igw],
                    tags={"Name": f"{self._name_prefix}-nat-{az + 1}"},
                )
            )
        return gateways

    def _private_routes(self) -> list[RouteTable]:
        tables = []
        for az, subnet in enumerate(self.private_subnets):
            table = RouteTable(
                self, f"private_rt_{az}", vpc_id=self.vpc.id, tags={"Name": f"{self._name_prefix}-private-{az + 1}"}
            )
            nat = self.nat_gateways[az % len(self.nat_gateways)]
            Route(
                self,
                f"private_nat_route_{az}",
                route_table_id=table.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat.id,
            )
            RouteTableAssociation(self, f"private_rta_{az}", subnet_id=subnet.id, route_table_id=table.id)
            tables.append(table)
        return tables

    def _isolated_routes(self) -> RouteTable:
        table = RouteTable(self, "database_rt", vpc_id=self.vpc.id, tags={"Name": f"{self._name_prefix}-database"})
        for az, subnet in enumerate(self.database_subnets):
            RouteTableAssociation(self, f"database_rta_{az}", subnet_id=subnet.id, route_table_id=table.id)
        return table

    def _flow_logs(self, retention_days: int, keys: SecurityKeys) -> CloudwatchLogGroup:
        group = encrypted_log_group(
            self,
            "flow_log_group",
            name=f"/aws/vpc/{self._name_prefix}/flow-logs",
            retention_days=retention_days,
            keys=keys,
        )
        # The role and its permissions as in the AWS example, scoped to this log group where the action allows
        # it; the trust carries the confused-deputy conditions the example recommends.
        # https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
        flow_logs_arn = f"arn:{self._partition}:ec2:{self._region}:{self._account_id}:vpc-flow-log/*"
        role = IamRole(
            self,
            "flow_log_role",
            name=f"{self._name_prefix}-vpc-flow-logs",
            assume_role_policy=trust_policy(
                service_principal(self, "vpc-flow-logs").name, from_account(self._account_id, flow_logs_arn)
            ),
        )
        all_groups = f"arn:{self._partition}:logs:{self._region}:{self._account_id}:log-group:*"
        policy = IamRolePolicy(
            self,
            "flow_log_policy",
            role=role.id,
            name="write-flow-logs",
            policy=policy_document(
                [
                    allow(FLOW_LOG_GROUP_ACTIONS, [group.arn, f"{group.arn}:*"]),
                    # DescribeLogGroups takes no single log group as its resource.
                    allow(["logs:DescribeLogGroups"], all_groups),
                ]
            ),
        )
        # Created after the role's policy: a flow log whose role cannot yet write stays in an error state.
        FlowLog(
            self,
            "flow_log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags={"Name": self._name_prefix},
            depends_on=[policy],
        )
        return group
