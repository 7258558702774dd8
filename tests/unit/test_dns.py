"""Dns alone: a private zone, the weighted `new` record on the ALB and, when configured, `legacy`."""

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.route53_zone import Route53Zone

from lib.constructs.dns import legacy_is_reachable_from_internet
from tests.unit.profiles import GLOBAL_LEGACY_IP
from tests.unit.stacks import built_through


def build(**inputs):
    return built_through("dns", dns=inputs)


def _records(synthesized):
    return {record["set_identifier"]: record for record in synthesized.resources("aws_route53_record").values()}


@pytest.fixture(scope="module")
def new_only():
    return build()


@pytest.fixture(scope="module")
def legacy_ip():
    return build(legacy_endpoint=GLOBAL_LEGACY_IP, legacy_ips=(GLOBAL_LEGACY_IP,), new_weight=0, destroyable=False)


def test_private_zone_in_the_vpc_holds_the_record(new_only):
    # seed 004 #7: records pointing at zones and names that do not exist.
    built, synthesized = new_only
    assert Testing.to_have_resource_with_properties(synthesized.text, Route53Zone.TF_RESOURCE_TYPE, {
        "name": "payments-test.internal", "force_destroy": True,
        "vpc": [{"vpc_id": synthesized.ref(built.network.vpc.id), "vpc_region": "us-east-1"}]})
    assert built.dns.record_name == "api.payments-test.internal"
    [record] = synthesized.resources("aws_route53_record").values()
    assert record["zone_id"] == synthesized.ref(built.dns.zone_id) and record["name"] == built.dns.record_name


def test_new_aliases_the_alb_and_takes_everything_without_legacy(new_only):
    built, synthesized = new_only
    new = _records(synthesized)["new"]
    assert new["type"] == "A" and new["weighted_routing_policy"] == {"weight": 100}
    assert new["alias"] == {"name": synthesized.ref(built.load_balancer.alb.dns_name),
                            "zone_id": synthesized.ref(built.load_balancer.alb.zone_id),
                            "evaluate_target_health": True}
    assert built.dns.legacy_record is None and built.dns.legacy_health_check is None


def test_legacy_ips_get_an_a_record_with_the_rest_of_the_weight_and_a_health_check(legacy_ip):
    built, synthesized = legacy_ip
    records = _records(synthesized)
    assert records["legacy"]["type"] == "A" and records["legacy"]["records"] == [GLOBAL_LEGACY_IP]
    assert records["new"]["weighted_routing_policy"]["weight"] + \
        records["legacy"]["weighted_routing_policy"]["weight"] == 100
    assert records["legacy"]["health_check_id"] == synthesized.ref(built.dns.legacy_health_check.id)
    check = synthesized.body(built.dns.legacy_health_check)
    assert (check["ip_address"], check["type"], check["port"]) == (GLOBAL_LEGACY_IP, "HTTPS", 443)
    assert synthesized.one("aws_route53_zone")["force_destroy"] is False


def test_a_legacy_hostname_makes_both_records_cnames():
    built, synthesized = build(legacy_endpoint="legacy-payments.example.com", new_weight=10)
    records = _records(synthesized)
    assert {record["type"] for record in records.values()} == {"CNAME"}
    assert records["new"]["records"] == [synthesized.ref(built.load_balancer.alb.dns_name)]
    assert records["legacy"]["records"] == ["legacy-payments.example.com"]
    assert (records["new"]["weighted_routing_policy"]["weight"],
            records["legacy"]["weighted_routing_policy"]["weight"]) == (10, 90)
    assert synthesized.body(built.dns.legacy_health_check)["fqdn"] == "legacy-payments.example.com"


def test_private_legacy_addresses_get_no_health_check():
    # Route53 health checkers live on the internet: they cannot reach RFC 1918 addresses.
    assert legacy_is_reachable_from_internet((GLOBAL_LEGACY_IP,)) and legacy_is_reachable_from_internet(())
    assert not legacy_is_reachable_from_internet(("10.1.2.3",))
    built, synthesized = build(legacy_endpoint="10.1.2.3", legacy_ips=("10.1.2.3",), new_weight=50)
    assert built.dns.legacy_health_check is None and not synthesized.resources("aws_route53_health_check")
    assert "health_check_id" not in _records(synthesized)["legacy"]


def test_an_existing_zone_is_used_instead_of_a_new_one():
    built, synthesized = build(existing_zone_id="Z0123456789ABCDEFGHIJ")
    assert not synthesized.resources("aws_route53_zone")
    assert {record["zone_id"] for record in synthesized.resources("aws_route53_record").values()} == {
        "Z0123456789ABCDEFGHIJ"}
