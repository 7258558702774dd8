"""Address space facts that settings and constructs both apply (no settings, no cdktf)."""

from __future__ import annotations

import ipaddress

# Private address space (RFC 1918): the VPC's range, and legacy addresses reached over the VPN.
RFC1918_NETWORKS = tuple(ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
# Shared address space (RFC 6598): also allowed for ALB IP targets outside the VPC.
RFC6598_NETWORK = ipaddress.IPv4Network("100.64.0.0/10")


def legacy_address_is_private(address: ipaddress.IPv4Address) -> bool:
    """RFC 1918: reached over the VPN; Route53's health checkers (on the internet) cannot see it."""
    return any(address in network for network in RFC1918_NETWORKS)


def alb_ip_target_allowed(address: ipaddress.IPv4Address) -> bool:
    """An ALB IP target outside the VPC must be in RFC 1918 or RFC 6598 space:
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#target-type
    """
    return legacy_address_is_private(address) or address in RFC6598_NETWORK
