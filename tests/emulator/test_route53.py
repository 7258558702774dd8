"""Route53 patches (tools/local_aws/route53.py) through boto3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.emulator.harness import REGION, unique


def test_route53_zone_created_with_vpc_is_private(aws: Callable[[str], Any], network: dict[str, Any]) -> None:
    route53 = aws("route53")
    zone = route53.create_hosted_zone(
        Name=f"{unique('zone')}.internal",
        CallerReference=unique("ref"),
        VPC={"VPCRegion": REGION, "VPCId": network["vpc_id"]},
    )["HostedZone"]
    described = route53.get_hosted_zone(Id=zone["Id"])
    assert described["HostedZone"]["Config"]["PrivateZone"] is True
    assert described["VPCs"] == [{"VPCRegion": REGION, "VPCId": network["vpc_id"]}]
