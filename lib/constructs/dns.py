"""Route53: the zone and the weighted records that move traffic from legacy to new."""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.route53_health_check import Route53HealthCheck
from cdktf_cdktf_provider_aws.route53_record import Route53Record
from cdktf_cdktf_provider_aws.route53_zone import Route53Zone, Route53ZoneVpc
from constructs import Construct

from lib.constructs.load_balancer import LEGACY_HEALTH_PATH, LoadBalancer
from lib.constructs.network import Network

RECORD_TTL_SECONDS = 60
NEW_SET_IDENTIFIER = "new"
LEGACY_SET_IDENTIFIER = "legacy"
# The cutover (canary steps, flip, rollback) owns the weights; NEW_SYSTEM_WEIGHT is the weight at creation only.
CUTOVER_OWNS_WEIGHTS = "weighted_routing_policy"
# ... and the `new` alias' evaluate_target_health: true while legacy is the writer, false once Aurora is.
CUTOVER_OWNS_ALIAS = "alias"


class Dns(Construct):
    """`new` points at the ALB; `legacy` (when configured) at the on-premises system.

    Terraform creates the records; the cutover moves them (docs/cutover.md), so what it moves is in
    ignore_changes and a redeploy never moves traffic. The legacy health checks only alert: attached to
    the `legacy` record, a failing check (or a typo in one) would make Route53 answer with the zero-weight
    `new` record and send every payment to Aurora before the flip.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        region: str,
        zone_name: str,
        existing_zone_id: str | None,
        record_label: str,
        new_weight: int,
        legacy_endpoint: str | None,
        legacy_ips: tuple[str, ...],
        health_checked_ips: tuple[str, ...],
        destroyable: bool,
        network: Network,
        load_balancer: LoadBalancer,
    ) -> None:
        super().__init__(scope, construct_id)
        self._name_prefix = name_prefix
        self._new_weight = new_weight
        self.zone_id = (
            existing_zone_id
            or Route53Zone(
                self,
                "zone",
                name=zone_name,
                comment=f"{name_prefix} payments (private)",
                vpc=[Route53ZoneVpc(vpc_id=network.vpc.id, vpc_region=region)],
                force_destroy=destroyable,
            ).zone_id
        )
        self.record_name = f"{record_label}.{zone_name}"
        legacy_is_hostname = bool(legacy_endpoint) and not legacy_ips
        self.record_type = "CNAME" if legacy_is_hostname else "A"
        # Weighted records in one set must share a type: a hostname legacy endpoint makes both CNAMEs.
        self.new_record = self._new_record(load_balancer, as_cname=legacy_is_hostname)
        # Route53's checkers are on the internet: one check per globally routable address (the settings
        # classify them; RFC 1918 addresses, reached over the VPN, get none), or one for a host name.
        self.legacy_health_checks: list[Route53HealthCheck] = []
        self.legacy_record: Route53Record | None = None
        if legacy_endpoint:
            self.legacy_health_checks = (
                [self._legacy_health_check(index, ip_address=ip) for index, ip in enumerate(health_checked_ips)]
                if legacy_ips
                else [self._legacy_health_check(0, fqdn=legacy_endpoint)]
            )
            self.legacy_record = self._legacy_record(legacy_endpoint, legacy_ips)

    @property
    def legacy_health_check(self) -> Route53HealthCheck | None:
        """The first legacy health check, or None."""
        return self.legacy_health_checks[0] if self.legacy_health_checks else None

    def _new_record(self, load_balancer: LoadBalancer, *, as_cname: bool) -> Route53Record:
        alb = load_balancer.alb
        common = {
            "zone_id": self.zone_id,
            "name": self.record_name,
            "set_identifier": NEW_SET_IDENTIFIER,
            "weighted_routing_policy": {"weight": self._new_weight},
        }
        if as_cname:
            return Route53Record(
                self,
                "new",
                type="CNAME",
                ttl=RECORD_TTL_SECONDS,
                records=[alb.dns_name],
                lifecycle=TerraformResourceLifecycle(ignore_changes=[CUTOVER_OWNS_WEIGHTS]),
                **common,
            )
        # Automatic DNS fallback to legacy only while legacy is the writer (the state Terraform starts in).
        return Route53Record(
            self,
            "new",
            type="A",
            alias={"name": alb.dns_name, "zone_id": alb.zone_id, "evaluate_target_health": True},
            lifecycle=TerraformResourceLifecycle(ignore_changes=[CUTOVER_OWNS_WEIGHTS, CUTOVER_OWNS_ALIAS]),
            **common,
        )

    def _legacy_health_check(
        self, index: int, *, ip_address: str | None = None, fqdn: str | None = None
    ) -> Route53HealthCheck:
        # The first keeps the id (and address) it had when only the first address was checked.
        return Route53HealthCheck(
            self,
            "legacy_health" if index == 0 else f"legacy_health_{index + 1}",
            type="HTTPS",
            port=443,
            resource_path=LEGACY_HEALTH_PATH,
            failure_threshold=3,
            request_interval=30,
            ip_address=ip_address,
            fqdn=fqdn,
            tags={"Name": f"{self._name_prefix}-legacy" if index == 0 else f"{self._name_prefix}-legacy-{index + 1}"},
        )

    def _legacy_record(self, legacy_endpoint: str, legacy_ips: tuple[str, ...]) -> Route53Record:
        # No health_check_id, ever: the legacy health checks only alert (class docstring).
        return Route53Record(
            self,
            "legacy",
            zone_id=self.zone_id,
            name=self.record_name,
            set_identifier=LEGACY_SET_IDENTIFIER,
            type="A" if legacy_ips else "CNAME",
            ttl=RECORD_TTL_SECONDS,
            records=list(legacy_ips) or [legacy_endpoint],
            weighted_routing_policy={"weight": 100 - self._new_weight},
            lifecycle=TerraformResourceLifecycle(ignore_changes=[CUTOVER_OWNS_WEIGHTS]),
        )
