"""ELBv2: a load balancer without a scheme is internet-facing; target health comes from real checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.local_aws.common import wrap
from tools.local_aws.elbv2.trust_stores import PATCHES as TRUST_STORE_PATCHES
from tools.local_aws.moto_guard import CLASS, assigns, moto_patch, moto_uses


@moto_patch(requires={"moto.elbv2.models.ELBv2Backend.create_load_balancer": ("scheme",)})
def patch_elbv2_default_scheme() -> None:
    # moto defect: Scheme is left unset when internal=false; AWS defaults it to internet-facing.
    from moto.elbv2.models import ELBv2Backend

    def make(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_load_balancer(self: Any, *args: Any, scheme: str | None = None, **kwargs: Any) -> Any:
            return create(self, *args, scheme=scheme or "internet-facing", **kwargs)

        return create_load_balancer

    wrap(ELBv2Backend, "create_load_balancer", make)


@moto_patch(
    requires={
        "moto.elbv2.models.FakeTargetGroup.health_for": ("target", "ec2_backend"),
        "moto.elbv2.models.FakeHealthStatus.__init__": (
            "instance_id",
            "port",
            "health_port",
            "status",
            "reason",
            "description",
        ),
        "moto.elbv2.models.FakeTargetGroup": assigns(
            "arn",
            "target_type",
            "targets",
            "health_check_enabled",
            "health_check_path",
            "health_check_port",
            "health_check_interval_seconds",
            "healthy_threshold_count",
            "unhealthy_threshold_count",
            "matcher",
        ),
    }
)
def patch_elbv2_target_health() -> None:
    # moto gap: every registered target is reported healthy; no health check ever runs.
    from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

    def make(health_for: Callable[..., Any]) -> Callable[..., Any]:
        def checked_health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
            from tools.local_aws import runtime

            registered = self.targets.get(target["Id"])
            if registered is None or self.target_type not in ("lambda", "ip"):
                return health_for(self, target, ec2_backend)
            port = registered.get("Port")
            if not self.health_check_enabled:
                return FakeHealthStatus(
                    target["Id"],
                    port,
                    self.health_check_port,
                    "unavailable",
                    "Target.HealthCheckDisabled",
                    "Health checks are disabled",
                )
            health = runtime.current().load_balancers.health(self.arn, target["Id"])
            if health is None:
                return FakeHealthStatus(
                    target["Id"],
                    port,
                    self.health_check_port,
                    "initial",
                    "Elb.RegistrationInProgress",
                    "Target registration is in progress",
                )
            return FakeHealthStatus(
                target["Id"], port, self.health_check_port, health.state, health.reason, health.description
            )

        return checked_health_for

    wrap(FakeTargetGroup, "health_for", make)


USES = moto_uses(
    "serve_load_balancers",
    {
        "moto.elbv2.models.elbv2_backends": (),
        "moto.elbv2.models.ELBv2Backend": assigns("load_balancers", "target_groups"),
        "moto.elbv2.models.FakeLoadBalancer": assigns("name", "arn", "listeners"),
        "moto.elbv2.models.FakeListener": assigns("arn", "port", "protocol", "default_actions", "_default_rule"),
        "moto.elbv2.models.FakeListener.rules": (),
        "moto.elbv2.models.FakeRule": assigns("conditions", "priority", "actions", "is_default"),
        "moto.elbv2.models.FakeListenerRule": assigns("conditions", "priority", "actions", "is_default"),
        "moto.elbv2.models.FakeAction": assigns("data", "type"),
        "moto.awslambda.utils.get_backend": (),
        "moto.elbv2.models.FakeTargetGroup": CLASS,
    },
)

PATCHES = (patch_elbv2_default_scheme, patch_elbv2_target_health, *TRUST_STORE_PATCHES, USES)
