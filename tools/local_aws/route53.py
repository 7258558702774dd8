"""Route53: a zone created with a VPC is private."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.local_aws.common import wrap
from tools.local_aws.moto_guard import moto_patch


@moto_patch(requires={"moto.route53.responses.Route53.create_hosted_zone": ()})
def patch_route53_private_zone() -> None:
    # moto defect: a zone is private only with HostedZoneConfig.PrivateZone; AWS decides by the VPC sent.
    from moto.route53.responses import Route53

    def make(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_hosted_zone(self: Any) -> Any:
            if self._get_param("VPC.VPCId"):
                self.params.setdefault("HostedZoneConfig", {})["PrivateZone"] = True
            return create(self)

        return create_hosted_zone

    wrap(Route53, "create_hosted_zone", make)


PATCHES = (patch_route53_private_zone,)
