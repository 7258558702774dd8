"""Network alone: three tiers over three AZs, NAT for private subnets only, flow logs, closed default group."""

import ipaddress
import json

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.vpc import Vpc

from lib.constructs.network import subnet_cidrs
from tests.unit.stacks import ACCOUNT_ID, ZONE_IDS, declare_varying

VARIANTS = declare_varying("network", {"one_nat": {"nat_gateway_count": 1}, "three_nats": {"nat_gateway_count": 3}})


@pytest.fixture(scope="module")
def variants(construct_variants):
    return construct_variants.views[VARIANTS]


@pytest.fixture(scope="module")
def one_nat(variants):
    return variants["one_nat"]


@pytest.fixture(scope="module")
def three_nats(variants):
    return variants["three_nats"]


def test_vpc_has_the_given_range_and_dns(one_nat):
    built, synthesized = one_nat
    network = built.network
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        Vpc.TF_RESOURCE_TYPE,
        {"cidr_block": "10.40.0.0/16", "enable_dns_hostnames": True, "enable_dns_support": True},
    )
    assert network.vpc_cidr == "10.40.0.0/16"


def test_three_tiers_in_three_pinned_zones_without_public_ips(one_nat):
    built, synthesized = one_nat
    network = built.network
    subnets = [
        synthesized.body(subnet)
        for subnet in network.public_subnets + network.private_subnets + network.database_subnets
    ]
    assert [subnet["tags"]["Tier"] for subnet in subnets] == ["public"] * 3 + ["private"] * 3 + ["database"] * 3
    assert all(subnet["map_public_ip_on_launch"] is False for subnet in subnets)
    # Issue 9 #15: zones by id, never by position in the live zone list (which shifts when a zone is impaired).
    assert [subnet["availability_zone_id"] for subnet in subnets] == list(ZONE_IDS) * 3
    assert not any("availability_zone" in subnet for subnet in subnets)
    assert "aws_availability_zones" not in synthesized.text
    # Names come from the subnets: what the account maps each pinned zone id to.
    assert [synthesized.ref(name) for name in network.availability_zones] == [
        f"${{{synthesized.address(subnet)}.availability_zone}}" for subnet in network.database_subnets
    ]
    networks = [ipaddress.IPv4Network(subnet["cidr_block"]) for subnet in subnets]
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])
    assert all(net.subnet_of(ipaddress.IPv4Network("10.40.0.0/16")) for net in networks)


def test_subnet_cidrs_carve_nine_of_sixteen_blocks():
    cidrs = subnet_cidrs("10.40.0.0/16")
    assert cidrs["public"] == ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"]
    assert cidrs["database"][-1] == "10.40.128.0/20"


@pytest.mark.parametrize("fixture_name, nat_count", [("one_nat", 1), ("three_nats", 3)])
def test_every_private_route_table_routes_through_a_nat_gateway(fixture_name, nat_count, request):
    # seed 002 #5 / 003 #5: NAT created but not wired into the private route tables.
    built, synthesized = request.getfixturevalue(fixture_name)
    network = built.network
    assert len(network.nat_gateways) == nat_count
    nat_refs = {synthesized.ref(nat.id) for nat in network.nat_gateways}
    tables = {synthesized.ref(table.id) for table in network.private_route_tables}
    routes = [route for route in synthesized.resources("aws_route").values() if route["route_table_id"] in tables]
    assert {route["route_table_id"] for route in routes} == tables and len(routes) == 3
    assert all(route["destination_cidr_block"] == "0.0.0.0/0" for route in routes)
    assert {route["nat_gateway_id"] for route in routes} == nat_refs
    assert {synthesized.body(nat)["subnet_id"] for nat in network.nat_gateways} <= {
        synthesized.ref(subnet.id) for subnet in network.public_subnets
    }


def test_database_subnets_have_no_route_to_the_internet(one_nat):
    built, synthesized = one_nat
    network = built.network
    table = synthesized.ref(network.database_route_table.id)
    assert not [route for route in synthesized.resources("aws_route").values() if route["route_table_id"] == table]
    associated = {
        association["subnet_id"]
        for association in synthesized.resources("aws_route_table_association").values()
        if association["route_table_id"] == table
    }
    assert associated == {synthesized.ref(subnet.id) for subnet in network.database_subnets}


def test_flow_logs_capture_all_traffic_into_a_log_group_under_the_logs_key(one_nat):
    # seed 004 #10: no VPC flow logs.
    built, synthesized = one_nat
    network = built.network
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        FlowLog.TF_RESOURCE_TYPE,
        {
            "traffic_type": "ALL",
            "log_destination": synthesized.ref(network.flow_log_group.arn),
            "vpc_id": synthesized.ref(network.vpc.id),
        },
    )
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        CloudwatchLogGroup.TF_RESOURCE_TYPE,
        {
            "name": "/aws/vpc/payments-test/flow-logs",
            "retention_in_days": 365,
            "kms_key_id": synthesized.ref(built.keys.logs_key.arn),
        },
    )


def test_flow_log_role_is_for_this_accounts_flow_logs_and_writes_only_its_group(one_nat):
    built, synthesized = one_nat
    network = built.network
    role = synthesized.one_of(network, "aws_iam_role")
    trust = json.loads(role["assume_role_policy"])["Statement"][0]
    assert trust["Principal"] == {"Service": synthesized.principal_ref("vpc-flow-logs")}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:vpc-flow-log/*"},
    }
    group_statement, describe_groups = json.loads(synthesized.one_of(network, "aws_iam_role_policy")["policy"])[
        "Statement"
    ]
    group = synthesized.ref(network.flow_log_group.arn)
    assert group_statement["Resource"] == [group, f"{group}:*"]
    assert describe_groups == {
        "Effect": "Allow",
        "Action": ["logs:DescribeLogGroups"],
        "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:*",
    }


def test_flow_log_role_grants_what_the_aws_flow_logs_example_grants(one_nat):
    # Issue 9 #14: https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
    built, synthesized = one_nat
    statements = json.loads(synthesized.one_of(built.network, "aws_iam_role_policy")["policy"])["Statement"]
    granted = {action for statement in statements for action in statement["Action"]}
    assert granted == {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
    }


def test_the_flow_log_waits_for_its_roles_policy(one_nat):
    # Issue 9 #3: a flow log created before its role may write stays in an error state.
    built, synthesized = one_nat
    policy = next(
        element
        for element in built.network.node.find_all()
        if getattr(element, "terraform_resource_type", None) == "aws_iam_role_policy"
    )
    assert synthesized.one_of(built.network, "aws_flow_log")["depends_on"] == [synthesized.address(policy)]


def test_default_security_group_is_closed(one_nat):
    _, synthesized = one_nat
    default_group = synthesized.one("aws_default_security_group")
    assert "ingress" not in default_group and "egress" not in default_group
