"""ELBv2: a load balancer without a scheme is internet-facing."""

from __future__ import annotations

from typing import Any, Callable

from tools.local_aws.common import wrap
from tools.local_aws.moto_guard import moto_patch


@moto_patch(requires={"moto.elbv2.models.ELBv2Backend.create_load_balancer": ("scheme",)})
def patch_elbv2_default_scheme() -> None:
    # moto defect: Scheme is left unset when internal=false; AWS defaults it to internet-facing.
    from moto.elbv2.models import ELBv2Backend

    def make(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_load_balancer(self: Any, *args: Any, scheme: str | None = None, **kwargs: Any) -> Any:
            return create(self, *args, scheme=scheme or "internet-facing", **kwargs)

        return create_load_balancer

    wrap(ELBv2Backend, "create_load_balancer", make)


PATCHES = (patch_elbv2_default_scheme,)
