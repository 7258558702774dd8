"""Dns alone: a private zone, the weighted `new` record on the ALB and, when configured, `legacy`."""

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.route53_zone import Route53Zone

from lib.config import load_settings
from tests.unit.profiles import GLOBAL_LEGACY_IP
from tests.unit.stacks import declare_varying


def _records(synthesized):
    return {record["set_identifier"]: record for record in synthesized.resources("aws_route53_record").values()}


def _legacy_inputs(endpoint):
    """The Dns inputs TapStack passes for LEGACY_ENDPOINT=endpoint: the settings classify the addresses."""
    settings = load_settings({"LEGACY_ENDPOINT": endpoint, "LEGACY_WRITE_IPS": "192.168.50.20"})
    return {
        "legacy_endpoint": settings.legacy_endpoint,
        "legacy_ips": settings.legacy_ips,
        "health_checked_ips": settings.legacy_health_checked_ips,
        "new_weight": 50,
    }


GLOBAL_ADDRESSES = ("52.94.76.10", "52.94.76.11", "3.5.140.2")
OWNED_BY_THE_CUTOVER = {  # LEGACY_ENDPOINT of each kind: one global address, private addresses, a host name
    "owned_global": "52.94.76.10",
    "owned_private": "192.168.50.10,192.168.50.11",
    "owned_hostname": "legacy-payments.example.com",
}
DNS_INPUTS = {
    "new_only": {},
    "legacy_ip": {
        "legacy_endpoint": GLOBAL_LEGACY_IP,
        "legacy_ips": (GLOBAL_LEGACY_IP,),
        "health_checked_ips": (GLOBAL_LEGACY_IP,),
        "new_weight": 0,
        "destroyable": False,
    },
    "legacy_hostname": {"legacy_endpoint": "legacy-payments.example.com", "new_weight": 10},
    "private_legacy": _legacy_inputs("10.1.2.3,172.16.9.9"),
    "global_legacy": _legacy_inputs(",".join(GLOBAL_ADDRESSES)),
    "existing_zone": {"existing_zone_id": "Z0123456789ABCDEFGHIJ"},
    **{variant: _legacy_inputs(endpoint) for variant, endpoint in OWNED_BY_THE_CUTOVER.items()},
}


VARIANTS = declare_varying("dns", DNS_INPUTS)


@pytest.fixture(scope="module")
def variants(construct_variants):
    return construct_variants.views[VARIANTS]


@pytest.fixture(scope="module")
def new_only(variants):
    return variants["new_only"]


@pytest.fixture(scope="module")
def legacy_ip(variants):
    return variants["legacy_ip"]


def test_private_zone_in_the_vpc_holds_the_record(new_only):
    # seed 004 #7: records pointing at zones and names that do not exist.
    built, synthesized = new_only
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        Route53Zone.TF_RESOURCE_TYPE,
        {
            "name": "payments-test.internal",
            "force_destroy": True,
            "vpc": [{"vpc_id": synthesized.ref(built.network.vpc.id), "vpc_region": "us-east-1"}],
        },
    )
    assert built.dns.record_name == "api.payments-test.internal"
    [record] = synthesized.resources("aws_route53_record").values()
    assert record["zone_id"] == synthesized.ref(built.dns.zone_id) and record["name"] == built.dns.record_name


def test_new_aliases_the_alb_and_takes_everything_without_legacy(new_only):
    built, synthesized = new_only
    new = _records(synthesized)["new"]
    assert new["type"] == "A" and new["weighted_routing_policy"] == {"weight": 100}
    assert new["alias"] == {
        "name": synthesized.ref(built.load_balancer.alb.dns_name),
        "zone_id": synthesized.ref(built.load_balancer.alb.zone_id),
        "evaluate_target_health": True,
    }
    assert built.dns.legacy_record is None and built.dns.legacy_health_checks == []


def test_legacy_ips_get_an_a_record_with_the_rest_of_the_weight_and_an_alerting_health_check(legacy_ip):
    built, synthesized = legacy_ip
    records = _records(synthesized)
    assert records["legacy"]["type"] == "A" and records["legacy"]["records"] == [GLOBAL_LEGACY_IP]
    assert (
        records["new"]["weighted_routing_policy"]["weight"] + records["legacy"]["weighted_routing_policy"]["weight"]
        == 100
    )
    # Issue 11 #3: the check only alerts; attached, a failing check would send every payment to Aurora.
    assert "health_check_id" not in records["legacy"]
    check = synthesized.body(built.dns.legacy_health_check)
    assert (check["ip_address"], check["type"], check["port"]) == (GLOBAL_LEGACY_IP, "HTTPS", 443)
    assert synthesized.one("aws_route53_zone")["force_destroy"] is False


def test_a_legacy_hostname_makes_both_records_cnames(variants):
    built, synthesized = variants["legacy_hostname"]
    records = _records(synthesized)
    assert {record["type"] for record in records.values()} == {"CNAME"}
    assert records["new"]["records"] == [synthesized.ref(built.load_balancer.alb.dns_name)]
    assert records["legacy"]["records"] == ["legacy-payments.example.com"]
    assert (
        records["new"]["weighted_routing_policy"]["weight"],
        records["legacy"]["weighted_routing_policy"]["weight"],
    ) == (10, 90)
    assert synthesized.body(built.dns.legacy_health_check)["fqdn"] == "legacy-payments.example.com"


def test_private_legacy_addresses_get_no_health_check(variants):
    # Route53 health checkers live on the internet: they cannot reach RFC 1918 addresses, even the later ones.
    built, synthesized = variants["private_legacy"]
    assert built.dns.legacy_health_checks == [] and not synthesized.resources("aws_route53_health_check")
    assert _records(synthesized)["legacy"]["records"] == ["10.1.2.3", "172.16.9.9"]
    assert "health_check_id" not in _records(synthesized)["legacy"]


def test_every_globally_routable_legacy_address_gets_its_own_health_check(variants):
    # Issue 9 #4: checking only the first address missed the others failing.
    built, synthesized = variants["global_legacy"]
    checks = [synthesized.body(check) for check in built.dns.legacy_health_checks]
    assert [check["ip_address"] for check in checks] == list(GLOBAL_ADDRESSES)
    assert all((check["type"], check["port"], check["resource_path"]) == ("HTTPS", 443, "/health") for check in checks)
    assert len(synthesized.resources("aws_route53_health_check")) == 3
    # A record carries one health check for all its addresses: the per-address checks only alert.
    assert "health_check_id" not in _records(synthesized)["legacy"]
    # The first check keeps the construct id (and address) it had when only the first address was checked.
    assert built.dns.legacy_health_checks[0].node.id == "legacy_health"


def test_an_existing_zone_is_used_instead_of_a_new_one(variants):
    built, synthesized = variants["existing_zone"]
    assert not synthesized.resources("aws_route53_zone")
    assert {record["zone_id"] for record in synthesized.resources("aws_route53_record").values()} == {
        "Z0123456789ABCDEFGHIJ"
    }


@pytest.mark.parametrize("variant", sorted(OWNED_BY_THE_CUTOVER))
def test_the_cutover_owns_what_it_moves_and_no_weighted_record_has_a_health_check(variants, variant):
    # Issue 11 #2, #3: a redeploy never resets the weights or the alias flag; no health check moves writes.
    built, synthesized = variants[variant]
    records = _records(synthesized)
    for record in records.values():
        assert "health_check_id" not in record
        assert "weighted_routing_policy" in record["lifecycle"]["ignore_changes"]
    assert records["legacy"]["lifecycle"]["ignore_changes"] == ["weighted_routing_policy"]
    expected_new = ["weighted_routing_policy"] + (["alias"] if "alias" in records["new"] else [])
    assert records["new"]["lifecycle"]["ignore_changes"] == expected_new
    # the checks that exist (none for RFC 1918 addresses) still alert
    assert bool(synthesized.resources("aws_route53_health_check")) is (variant != "owned_private")


def test_without_legacy_the_new_record_still_leaves_its_weight_to_the_cutover(new_only):
    _, synthesized = new_only
    assert _records(synthesized)["new"]["lifecycle"]["ignore_changes"] == ["weighted_routing_policy", "alias"]
