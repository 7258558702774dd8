"""SecurityGroups alone: one group per tier, each rule a resource, the ALB open only on its listener ports."""

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule

from tests.unit.stacks import ONPREM_CIDR, VPC_CIDR, declare_varying

SECURITY_GROUPS_INPUTS: dict[str, dict] = {
    "http_public": {},
    "https_internal": {"alb_listener_ports": (80, 443), "alb_internal": True},
    "onprem_db_port": {"onprem_db_port": 6432},
    "legacy_writes": {"legacy_write_ips": ("192.168.50.10",)},
}


VARIANTS = declare_varying("security_groups", SECURITY_GROUPS_INPUTS)


@pytest.fixture(scope="module")
def variants(construct_variants):
    built = construct_variants.views[VARIANTS]
    return {variant: (built.security_groups, synthesized) for variant, (built, synthesized) in built.items()}


@pytest.fixture(scope="module")
def http_public(variants):
    return variants["http_public"]


@pytest.fixture(scope="module")
def https_internal(variants):
    return variants["https_internal"]


def _rules(synthesized, resource_type, group):
    return [
        rule
        for rule in synthesized.resources(resource_type).values()
        if rule["security_group_id"] == synthesized.ref(group.id)
    ]


def test_one_group_per_tier_in_the_vpc(http_public):
    groups, synthesized = http_public
    tiers = {
        "alb": groups.alb,
        "lambda": groups.lambda_functions,
        "database": groups.database,
        "dms": groups.dms,
        "endpoints": groups.endpoints,
    }
    for tier, group in tiers.items():
        body = synthesized.body(group)
        assert body["name"] == f"payments-test-{tier}" and body["tags"]["Tier"] == tier
        assert body["vpc_id"].startswith("${aws_vpc.")
        # seed 004 #3: rules as their own resources; no inline ingress/egress blocks.
        assert "ingress" not in body and "egress" not in body
    assert not synthesized.resources("aws_security_group_rule")


def test_alb_ports_follow_the_listeners_and_the_scheme(http_public, https_internal):
    # seed 001 #4: 443 opened while the listener served 80.
    groups, synthesized = http_public
    assert [
        (rule["from_port"], rule["cidr_ipv4"])
        for rule in _rules(synthesized, "aws_vpc_security_group_ingress_rule", groups.alb)
    ] == [(80, "0.0.0.0/0")]
    groups, synthesized = https_internal
    assert sorted(
        (rule["from_port"], rule["cidr_ipv4"])
        for rule in _rules(synthesized, "aws_vpc_security_group_ingress_rule", groups.alb)
    ) == [(80, VPC_CIDR), (443, VPC_CIDR)]


def test_dms_reaches_only_aurora_onprem_postgres_and_the_endpoints(http_public):
    groups, synthesized = http_public
    egress = _rules(synthesized, "aws_vpc_security_group_egress_rule", groups.dms)
    assert sorted(
        (rule["from_port"], rule.get("cidr_ipv4") or rule["referenced_security_group_id"]) for rule in egress
    ) == sorted(
        [(5432, synthesized.ref(groups.database.id)), (5432, ONPREM_CIDR), (443, synthesized.ref(groups.endpoints.id))]
    )
    assert all(rule["from_port"] == rule["to_port"] and rule["ip_protocol"] == "tcp" for rule in egress)


def test_dms_reaches_the_onprem_database_on_its_own_port(variants):
    # Issue 9 #6: ONPREM_DB_PORT was ignored; the rule allowed 5432 whatever the source listened on.
    groups, synthesized = variants["onprem_db_port"]
    onprem = [
        rule
        for rule in _rules(synthesized, "aws_vpc_security_group_egress_rule", groups.dms)
        if rule.get("cidr_ipv4") == ONPREM_CIDR
    ]
    assert [(rule["from_port"], rule["to_port"]) for rule in onprem] == [(6432, 6432)]


def test_aurora_admits_only_dms_and_endpoints_only_the_vpc(http_public):
    groups, synthesized = http_public
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        VpcSecurityGroupIngressRule.TF_RESOURCE_TYPE,
        {
            "security_group_id": synthesized.ref(groups.database.id),
            "from_port": 5432,
            "to_port": 5432,
            "referenced_security_group_id": synthesized.ref(groups.dms.id),
        },
    )
    assert len(_rules(synthesized, "aws_vpc_security_group_ingress_rule", groups.database)) == 1
    assert [
        (rule["from_port"], rule["cidr_ipv4"])
        for rule in _rules(synthesized, "aws_vpc_security_group_ingress_rule", groups.endpoints)
    ] == [(443, VPC_CIDR)]


def test_functions_leave_only_over_https(http_public):
    groups, synthesized = http_public
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        VpcSecurityGroupEgressRule.TF_RESOURCE_TYPE,
        {
            "security_group_id": synthesized.ref(groups.lambda_functions.id),
            "from_port": 443,
            "to_port": 443,
            "cidr_ipv4": "0.0.0.0/0",
        },
    )
    assert len(_rules(synthesized, "aws_vpc_security_group_egress_rule", groups.lambda_functions)) == 1


def test_every_rule_says_why(http_public):
    _, synthesized = http_public
    for resource_type in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
        assert all(rule["description"].strip() for rule in synthesized.resources(resource_type).values())


def test_the_alb_reaches_only_the_legacy_write_addresses_on_443(variants):
    groups, synthesized = variants["legacy_writes"]
    egress = [
        rule
        for rule in synthesized.resources("aws_vpc_security_group_egress_rule").values()
        if rule["security_group_id"] == synthesized.ref(groups.alb.id)
    ]
    assert [(rule["cidr_ipv4"], rule["from_port"], rule["to_port"]) for rule in egress] == [
        ("192.168.50.10/32", 443, 443)
    ]
