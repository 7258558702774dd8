"""Endpoints alone: S3 through the route tables, the other AWS APIs through interface endpoints."""

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint

from lib.constructs.endpoints import INTERFACE_ENDPOINT_SERVICES, Endpoints
from tests.unit.stacks import bare_stack, synth, upstream


@pytest.fixture(scope="module")
def endpoints():
    stack = bare_stack(region="eu-central-1")
    built = upstream(stack, through="security_groups")
    built.endpoints = Endpoints(
        stack,
        "endpoints",
        name_prefix="payments-test",
        region="eu-central-1",
        network=built.network,
        security_groups=built.security_groups,
    )
    return built, synth(stack)


def test_s3_gateway_serves_the_private_and_database_route_tables(endpoints):
    built, synthesized = endpoints
    tables = [synthesized.ref(table.id) for table in built.network.private_route_tables]
    tables.append(synthesized.ref(built.network.database_route_table.id))
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        VpcEndpoint.TF_RESOURCE_TYPE,
        {"service_name": "com.amazonaws.eu-central-1.s3", "vpc_endpoint_type": "Gateway", "route_table_ids": tables},
    )


def test_interface_endpoints_sit_in_the_private_subnets_behind_their_group(endpoints):
    built, synthesized = endpoints
    interface = [synthesized.body(endpoint) for endpoint in built.endpoints.interface_endpoints]
    assert sorted(endpoint["service_name"].rsplit(".", 1)[-1] for endpoint in interface) == sorted(
        INTERFACE_ENDPOINT_SERVICES
    )
    assert {"secretsmanager", "rds-data", "logs", "sts"} <= set(INTERFACE_ENDPOINT_SERVICES)
    for endpoint in interface:
        assert endpoint["vpc_endpoint_type"] == "Interface" and endpoint["private_dns_enabled"] is True
        assert endpoint["service_name"].startswith("com.amazonaws.eu-central-1.")
        assert endpoint["subnet_ids"] == synthesized.ref(built.network.private_subnet_ids)
        assert endpoint["security_group_ids"] == [synthesized.ref(built.security_groups.endpoints.id)]
