"""The bare stacks of the construct tests (tests/unit/stacks.py): a variant sees what a stack of its own would."""

from collections import Counter

import pytest

from tests.unit.stacks import built_through, built_variants, synth

VARIANTS: dict[str, dict[str, dict]] = {
    "plain": {},
    "https": {"security_groups": {"alb_listener_ports": (80, 443)}},
    "other_vpc": {"network": {"vpc_cidr": "10.41.0.0/16"}},
}


def _resource_types(synthesized) -> Counter:
    return Counter({kind: len(bodies) for kind, bodies in synthesized.json.get("resource", {}).items()})


@pytest.fixture(scope="module")
def variants():
    return built_variants("security_groups", VARIANTS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_variant_holds_what_a_stack_of_its_own_holds(variants, variant):
    _, view = variants[variant]
    _, own = built_through("security_groups", **VARIANTS[variant])  # type: ignore[arg-type]
    assert _resource_types(view) == _resource_types(own)
    assert view.json["provider"] == own.json["provider"]


def test_variants_share_what_they_build_alike_and_only_that(variants):
    plain, https, other_vpc = (variants[name][0] for name in ("plain", "https", "other_vpc"))
    assert plain.network is https.network and plain.keys is https.keys is other_vpc.keys
    assert plain.security_groups is not https.security_groups and other_vpc.network is not plain.network
    _, synthesized = variants["plain"]
    whole = synth(synthesized.stack)  # the stack itself, unfiltered: two VPCs, three sets of groups
    assert len(whole.resources("aws_vpc")) == 2
    assert len(whole.resources("aws_security_group")) == 3 * len(synthesized.resources("aws_security_group"))
    https_view = variants["https"][1]
    assert {body["vpc_id"] for body in https_view.resources("aws_security_group").values()} == {
        https_view.ref(https.network.vpc.id)
    }


def test_inputs_for_a_construct_the_stack_does_not_build_are_refused():
    with pytest.raises(ValueError, match=r"inputs for dns, which a stack built through 'network' does not hold"):
        built_variants("network", {"wrong": {"dns": {"new_weight": 0}}})
    with pytest.raises(ValueError, match=r"through='vpc' is not a construct these stacks build"):
        built_through("vpc")
