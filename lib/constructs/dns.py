"""Route53: the zone and the weighted records that move traffic from legacy to new."""

from __future__ import annotations

import ipaddress

from cdktf_cdktf_provider_aws.route53_health_check import Route53HealthCheck
from cdktf_cdktf_provider_aws.route53_record import Route53Record
from cdktf_cdktf_provider_aws.route53_zone import Route53Zone, Route53ZoneVpc
from constructs import Construct

from lib.constructs.load_balancer import LoadBalancer
from lib.constructs.network import Network

RECORD_TTL_SECONDS = 60
# Route53 health checkers live on the internet: they cannot reach these.
RFC1918_NETWORKS = tuple(ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
NEW_SET_IDENTIFIER = "new"
LEGACY_SET_IDENTIFIER = "legacy"


def legacy_is_reachable_from_internet(legacy_ips: tuple[str, ...]) -> bool:
    if not legacy_ips:
        return True
    first = ipaddress.IPv4Address(legacy_ips[0])
    return not any(first in network for network in RFC1918_NETWORKS)


class Dns(Construct):
    """`new` points at the ALB; `legacy` (when configured) at the on-premises system."""

    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str, region: str, zone_name: str,
                 existing_zone_id: str | None, record_label: str, new_weight: int, legacy_endpoint: str | None,
                 legacy_ips: tuple[str, ...], destroyable: bool, network: Network,
                 load_balancer: LoadBalancer) -> None:
        super().__init__(scope, construct_id)
        self._name_prefix = name_prefix
        self._new_weight = new_weight
        self.zone_id = existing_zone_id or Route53Zone(
            self, "zone", name=zone_name, comment=f"{name_prefix} payments (private)",
            vpc=[Route53ZoneVpc(vpc_id=network.vpc.id, vpc_region=region)], force_destroy=destroyable).zone_id
        self.record_name = f"{record_label}.{zone_name}"
        legacy_is_hostname = bool(legacy_endpoint) and not legacy_ips
        self.record_type = "CNAME" if legacy_is_hostname else "A"
        # Weighted records in one set must share a type: a hostname legacy endpoint makes both CNAMEs.
        self.new_record = self._new_record(load_balancer, as_cname=legacy_is_hostname)
        self.legacy_health_check: Route53HealthCheck | None = None
        self.legacy_record: Route53Record | None = None
        if legacy_endpoint:
            if legacy_is_reachable_from_internet(legacy_ips):
                self.legacy_health_check = self._legacy_health_check(legacy_endpoint, legacy_ips)
            self.legacy_record = self._legacy_record(
                legacy_endpoint, legacy_ips, self.legacy_health_check.id if self.legacy_health_check else None)

    def _new_record(self, load_balancer: LoadBalancer, *, as_cname: bool) -> Route53Record:
        alb = load_balancer.alb
        common = {"zone_id": self.zone_id, "name": self.record_name, "set_identifier": NEW_SET_IDENTIFIER,
                  "weighted_routing_policy": {"weight": self._new_weight}}
        if as_cname:
            return Route53Record(self, "new", type="CNAME", ttl=RECORD_TTL_SECONDS, records=[alb.dns_name], **common)
        return Route53Record(self, "new", type="A", alias={"name": alb.dns_name, "zone_id": alb.zone_id,
                                                            "evaluate_target_health": True}, **common)

    def _legacy_health_check(self, legacy_endpoint: str, legacy_ips: tuple[str, ...]) -> Route53HealthCheck:
        return Route53HealthCheck(
            self, "legacy_health", type="HTTPS", port=443, resource_path="/health", failure_threshold=3,
            request_interval=30, ip_address=legacy_ips[0] if legacy_ips else None,
            fqdn=None if legacy_ips else legacy_endpoint, tags={"Name": f"{self._name_prefix}-legacy"})

    def _legacy_record(self, legacy_endpoint: str, legacy_ips: tuple[str, ...],
                       health_check_id: str | None) -> Route53Record:
        return Route53Record(
            self, "legacy", zone_id=self.zone_id, name=self.record_name, set_identifier=LEGACY_SET_IDENTIFIER,
            type="A" if legacy_ips else "CNAME", ttl=RECORD_TTL_SECONDS,
            records=list(legacy_ips) or [legacy_endpoint],
            weighted_routing_policy={"weight": 100 - self._new_weight}, health_check_id=health_check_id)
