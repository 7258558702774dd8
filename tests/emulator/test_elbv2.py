"""ELBv2 patches (tools/local_aws/elbv2.py) through boto3."""

from __future__ import annotations

from typing import Any, Callable

from tests.emulator.harness import unique


def test_alb_without_scheme_is_internet_facing(aws: Callable[[str], Any], network: dict[str, Any]) -> None:
    elbv2 = aws("elbv2")
    arn = elbv2.create_load_balancer(Name=unique("alb"), Subnets=network["subnet_ids"],
                                     Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
    described = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    assert described.get("Scheme") == "internet-facing"
