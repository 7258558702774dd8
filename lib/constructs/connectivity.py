"""The way to on-premises: ONPREM_CIDR routed from the private subnets (Lambda, DMS), and from the public
subnets when an internet-facing ALB sends writes to legacy's private addresses, over a Site-to-Site VPN or an
existing Transit Gateway, and DNS forwarding for an on-premises host name."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.customer_gateway import CustomerGateway
from cdktf_cdktf_provider_aws.ec2_transit_gateway_vpc_attachment import Ec2TransitGatewayVpcAttachment
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route53_resolver_endpoint import (
    Route53ResolverEndpoint,
    Route53ResolverEndpointIpAddress,
)
from cdktf_cdktf_provider_aws.route53_resolver_rule import Route53ResolverRule, Route53ResolverRuleTargetIp
from cdktf_cdktf_provider_aws.route53_resolver_rule_association import Route53ResolverRuleAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpn_connection import VpnConnection
from cdktf_cdktf_provider_aws.vpn_connection_route import VpnConnectionRoute
from cdktf_cdktf_provider_aws.vpn_gateway import VpnGateway
from constructs import Construct

from lib.constructs.network import Network

DNS_PORT = 53
VPN_TYPE = "ipsec.1"


class Connectivity(Construct):
    """Builds at most one path (VPN or Transit Gateway) and, for a host name, the resolver that finds it.

    With neither path the routes are someone else's (Direct Connect, a network team) or, on the local
    target, not needed: nothing is built.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        onprem_cidr: str,
        customer_gateway_ip: str | None,
        customer_gateway_asn: int,
        static_routes: bool,
        transit_gateway_id: str | None,
        dns_domain: str | None,
        dns_servers: tuple[str, ...],
        network: Network,
        route_public_subnets: bool = False,
    ) -> None:
        """`route_public_subnets`: the ALB sits in the public subnets (internet-facing) and forwards writes to
        legacy's private addresses in ONPREM_CIDR, so the public route table needs the way there too."""
        super().__init__(scope, construct_id)
        if customer_gateway_ip and transit_gateway_id:
            raise ValueError("Connectivity builds one path to on-premises: a VPN or a Transit Gateway, not both")
        if dns_domain and not dns_servers:
            raise ValueError(f"forwarding {dns_domain} needs the on-premises DNS servers")
        self._name_prefix = name_prefix
        self._onprem_cidr = onprem_cidr
        self._network = network
        self._route_public_subnets = route_public_subnets
        self.vpn_gateway: VpnGateway | None = None
        self.vpn: VpnConnection | None = None
        self.transit_gateway_attachment: Ec2TransitGatewayVpcAttachment | None = None
        self.routes: list[Route] = []
        if customer_gateway_ip:
            self._vpn(customer_gateway_ip, customer_gateway_asn, static_routes)
        elif transit_gateway_id:
            self._transit_gateway(transit_gateway_id)
        self.resolver_endpoint: Route53ResolverEndpoint | None = None
        self.resolver_rule: Route53ResolverRule | None = None
        if dns_domain:
            self._forward_dns(dns_domain, dns_servers)

    def _tags(self, suffix: str) -> dict[str, str]:
        return {"Name": f"{self._name_prefix}-{suffix}"}

    def _vpn(self, customer_gateway_ip: str, asn: int, static_routes: bool) -> None:
        self.vpn_gateway = VpnGateway(self, "vpn_gateway", vpc_id=self._network.vpc.id, tags=self._tags("vgw"))
        customer_gateway = CustomerGateway(
            self,
            "customer_gateway",
            bgp_asn=str(asn),
            ip_address=customer_gateway_ip,
            type=VPN_TYPE,
            tags=self._tags("onprem"),
        )
        self.vpn = VpnConnection(
            self,
            "vpn",
            vpn_gateway_id=self.vpn_gateway.id,
            customer_gateway_id=customer_gateway.id,
            type=VPN_TYPE,
            static_routes_only=static_routes,
            tags=self._tags("onprem"),
        )
        if static_routes:
            VpnConnectionRoute(
                self, "vpn_route", vpn_connection_id=self.vpn.id, destination_cidr_block=self._onprem_cidr
            )
        # The same route with BGP too: the VPC sends only ONPREM_CIDR to the VPN, whatever on-premises advertises.
        self._route_to_onprem(gateway_id=self.vpn_gateway.id)

    def _transit_gateway(self, transit_gateway_id: str) -> None:
        self.transit_gateway_attachment = Ec2TransitGatewayVpcAttachment(
            self,
            "transit_gateway_attachment",
            transit_gateway_id=transit_gateway_id,
            vpc_id=self._network.vpc.id,
            subnet_ids=self._network.private_subnet_ids,
            tags=self._tags("onprem"),
        )
        # A route to a transit gateway is refused until the VPC is attached to it.
        self._route_to_onprem(transit_gateway_id=transit_gateway_id, depends_on=[self.transit_gateway_attachment])

    def _route_to_onprem(self, **target: object) -> None:
        tables = {f"onprem_route_{az}": table for az, table in enumerate(self._network.private_route_tables)}
        if self._route_public_subnets:
            tables["onprem_route_public"] = self._network.public_route_table
        self.routes = [
            Route(self, route_id, route_table_id=table.id, destination_cidr_block=self._onprem_cidr, **target)
            for route_id, table in tables.items()
        ]

    def _forward_dns(self, domain: str, servers: tuple[str, ...]) -> None:
        group = SecurityGroup(
            self,
            "resolver_sg",
            name=f"{self._name_prefix}-resolver",
            description="Route53 Resolver outbound endpoint to on-premises DNS",
            vpc_id=self._network.vpc.id,
            tags={**self._tags("resolver"), "Tier": "resolver"},
        )
        for index, server in enumerate(servers):
            for protocol in ("udp", "tcp"):
                VpcSecurityGroupEgressRule(
                    self,
                    f"resolver_out_{protocol}_{index}",
                    security_group_id=group.id,
                    ip_protocol=protocol,
                    from_port=DNS_PORT,
                    to_port=DNS_PORT,
                    cidr_ipv4=f"{server}/32",
                    description=f"DNS queries for {domain} to on-premises {server}",
                )
        # One address per private subnet: AWS needs two zones at least, three keep it up when a zone is lost.
        self.resolver_endpoint = Route53ResolverEndpoint(
            self,
            "resolver_outbound",
            name=f"{self._name_prefix}-onprem-dns",
            direction="OUTBOUND",
            security_group_ids=[group.id],
            ip_address=[
                Route53ResolverEndpointIpAddress(subnet_id=subnet_id) for subnet_id in self._network.private_subnet_ids
            ],
            tags=self._tags("onprem-dns"),
        )
        self.resolver_rule = Route53ResolverRule(
            self,
            "resolver_rule",
            name=f"{self._name_prefix}-onprem",
            domain_name=domain,
            rule_type="FORWARD",
            resolver_endpoint_id=self.resolver_endpoint.id,
            target_ip=[Route53ResolverRuleTargetIp(ip=server, port=DNS_PORT) for server in servers],
            tags=self._tags("onprem"),
        )
        Route53ResolverRuleAssociation(
            self,
            "resolver_rule_vpc",
            resolver_rule_id=self.resolver_rule.id,
            vpc_id=self._network.vpc.id,
            name=f"{self._name_prefix}-onprem",
        )
