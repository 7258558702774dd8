"""Private paths to AWS APIs: an S3 gateway endpoint and interface endpoints in the private subnets."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from constructs import Construct

from lib.constructs.network import Network
from lib.constructs.security_groups import SecurityGroups

# Interface endpoints that private workloads (Lambda, DMS) call.
INTERFACE_ENDPOINT_SERVICES = ("secretsmanager", "rds-data", "logs", "sts", "monitoring", "sns")


class Endpoints(Construct):
    """S3 through the private and database route tables; the rest as interface endpoints."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        region: str,
        network: Network,
        security_groups: SecurityGroups,
    ) -> None:
        super().__init__(scope, construct_id)
        route_tables = [table.id for table in network.private_route_tables] + [network.database_route_table.id]
        self.gateway_endpoints = [
            VpcEndpoint(
                self,
                "s3",
                vpc_id=network.vpc.id,
                service_name=f"com.amazonaws.{region}.s3",
                vpc_endpoint_type="Gateway",
                route_table_ids=route_tables,
                tags={"Name": f"{name_prefix}-s3"},
            ),
        ]
        self.interface_endpoints = [
            VpcEndpoint(
                self,
                service.replace("-", "_"),
                vpc_id=network.vpc.id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=network.private_subnet_ids,
                security_group_ids=[security_groups.endpoints.id],
                tags={"Name": f"{name_prefix}-{service}"},
            )
            for service in INTERFACE_ENDPOINT_SERVICES
        ]
