"""Connectivity alone: ONPREM_CIDR routed from the private subnets over a VPN or a Transit Gateway, and DNS
forwarding for an on-premises host name (issue 9 #6: DMS had no route to its source)."""

import pytest

from tests.unit.stacks import ONPREM_CIDR, declare_varying

PEER = "52.94.76.200"
TGW = "tgw-0123456789abcdef0"
DNS_SERVERS = ("192.168.0.2", "192.168.0.3")


CONNECTIVITY_INPUTS: dict[str, dict] = {
    "no_path": {},
    "no_path_public": {"route_public_subnets": True},
    "static_vpn": {"customer_gateway_ip": PEER},
    "static_vpn_public": {"customer_gateway_ip": PEER, "route_public_subnets": True},
    "bgp_vpn": {"customer_gateway_ip": PEER, "customer_gateway_asn": 65010, "static_routes": False},
    "transit_gateway": {"transit_gateway_id": TGW},
    "transit_gateway_public": {"transit_gateway_id": TGW, "route_public_subnets": True},
    "dns_forwarding": {"customer_gateway_ip": PEER, "dns_domain": "corp.example.com", "dns_servers": DNS_SERVERS},
}


VARIANTS = declare_varying("connectivity", CONNECTIVITY_INPUTS)


@pytest.fixture(scope="module")
def variants(construct_variants):
    return construct_variants.views[VARIANTS]


def _onprem_routes(built, synthesized, *, public=False):
    tables = [synthesized.ref(table.id) for table in built.network.private_route_tables]
    if public:
        tables.append(synthesized.ref(built.network.public_route_table.id))
    routes = [
        route for route in synthesized.resources("aws_route").values() if route["destination_cidr_block"] == ONPREM_CIDR
    ]
    assert sorted(route["route_table_id"] for route in routes) == sorted(tables)
    return routes


@pytest.fixture(scope="module")
def static_vpn(variants):
    return variants["static_vpn"]


def test_nothing_is_built_without_a_path_or_a_host_name(variants):
    # The local target, or routes managed outside the stack.
    built, _ = variants["no_path"]
    assert built.connectivity.node.children == []


def test_a_static_vpn_routes_onprem_from_every_private_subnet(static_vpn):
    built, synthesized = static_vpn
    gateway = synthesized.one("aws_vpn_gateway")
    assert gateway["vpc_id"] == synthesized.ref(built.network.vpc.id)
    customer = synthesized.one("aws_customer_gateway")
    assert (customer["ip_address"], customer["bgp_asn"], customer["type"]) == (PEER, "65000", "ipsec.1")
    vpn = synthesized.one("aws_vpn_connection")
    assert vpn["static_routes_only"] is True
    assert vpn["vpn_gateway_id"] == synthesized.ref(built.connectivity.vpn_gateway.id)
    route = synthesized.one("aws_vpn_connection_route")
    assert (route["destination_cidr_block"], route["vpn_connection_id"]) == (
        ONPREM_CIDR,
        synthesized.ref(built.connectivity.vpn.id),
    )
    routes = _onprem_routes(built, synthesized)
    assert {route["gateway_id"] for route in routes} == {synthesized.ref(built.connectivity.vpn_gateway.id)}


def test_a_bgp_vpn_has_no_static_route_but_the_vpc_still_sends_only_onprem_to_it(variants):
    built, synthesized = variants["bgp_vpn"]
    assert synthesized.one("aws_customer_gateway")["bgp_asn"] == "65010"
    assert synthesized.one("aws_vpn_connection")["static_routes_only"] is False
    assert not synthesized.resources("aws_vpn_connection_route")
    assert len(_onprem_routes(built, synthesized)) == 3


def test_a_transit_gateway_is_attached_before_the_routes_use_it(variants):
    built, synthesized = variants["transit_gateway"]
    attachment = synthesized.one("aws_ec2_transit_gateway_vpc_attachment")
    assert attachment["transit_gateway_id"] == TGW
    assert attachment["subnet_ids"] == synthesized.ref(built.network.private_subnet_ids)
    for route in _onprem_routes(built, synthesized):
        assert route["transit_gateway_id"] == TGW
        assert route["depends_on"] == [synthesized.address(built.connectivity.transit_gateway_attachment)]
    assert not synthesized.resources("aws_vpn_gateway")


def test_the_public_subnets_reach_onprem_only_when_an_internet_facing_alb_sends_writes_to_legacy(variants):
    # An internet-facing ALB's nodes sit in the public subnets; its legacy IP targets are in ONPREM_CIDR.
    built, synthesized = variants["static_vpn_public"]
    routes = _onprem_routes(built, synthesized, public=True)
    assert {route["gateway_id"] for route in routes} == {synthesized.ref(built.connectivity.vpn_gateway.id)}
    built, synthesized = variants["transit_gateway_public"]
    for route in _onprem_routes(built, synthesized, public=True):
        assert route["depends_on"] == [synthesized.address(built.connectivity.transit_gateway_attachment)]
    built, _ = variants["no_path_public"]
    assert built.connectivity.node.children == []  # no path: the routes are someone else's, or not needed


def test_an_onprem_host_name_is_forwarded_to_the_onprem_dns_servers(variants):
    built, synthesized = variants["dns_forwarding"]
    endpoint = synthesized.one("aws_route53_resolver_endpoint")
    assert endpoint["direction"] == "OUTBOUND"
    assert [address["subnet_id"] for address in endpoint["ip_address"]] == [
        synthesized.ref(subnet_id) for subnet_id in built.network.private_subnet_ids
    ]
    rule = synthesized.one("aws_route53_resolver_rule")
    assert (rule["domain_name"], rule["rule_type"]) == ("corp.example.com", "FORWARD")
    assert rule["target_ip"] == [{"ip": ip, "port": 53} for ip in DNS_SERVERS]
    assert rule["resolver_endpoint_id"] == synthesized.ref(built.connectivity.resolver_endpoint.id)
    association = synthesized.one("aws_route53_resolver_rule_association")
    assert association["vpc_id"] == synthesized.ref(built.network.vpc.id)
    [group] = synthesized.of(built.connectivity, "aws_security_group")
    [group_address] = [
        f"aws_security_group.{name}"
        for name, body in synthesized.resources("aws_security_group").items()
        if body is group or body == group
    ]
    assert endpoint["security_group_ids"] == [f"${{{group_address}.id}}"]
    egress = sorted(
        (rule["ip_protocol"], rule["cidr_ipv4"], rule["from_port"])
        for rule in synthesized.resources("aws_vpc_security_group_egress_rule").values()
    )
    assert egress == sorted((protocol, f"{ip}/32", 53) for ip in DNS_SERVERS for protocol in ("tcp", "udp"))
    assert group["tags"]["Tier"] == "resolver"


def test_one_path_only_and_forwarding_needs_servers(construct_variants):
    with pytest.raises(ValueError, match="not both"):
        construct_variants.refused("connectivity", customer_gateway_ip=PEER, transit_gateway_id=TGW)
    with pytest.raises(ValueError, match="DNS servers"):
        construct_variants.refused("connectivity", dns_domain="corp.example.com")
