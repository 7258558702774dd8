"""The patched moto services, and the order in which their patches apply."""

from __future__ import annotations

from collections.abc import Mapping

from tools.local_aws import awslambda, dms, ec2, elbv2, events, iam, rds, rdsdata, route53, s3, sns
from tools.local_aws.moto_guard import Expectation, MotoPatch, check_moto

SERVICES = (dms, rds, rdsdata, route53, ec2, elbv2, awslambda, s3, sns, events, iam)


def all_patches() -> tuple[MotoPatch, ...]:
    return tuple(patch for service in SERVICES for patch in service.PATCHES)


def apply_patches(also_requires: Mapping[str, Expectation]) -> None:
    """Check moto, every internal the patches rely on and `also_requires`, then patch.

    Nothing is patched when anything is amiss."""
    patches = all_patches()
    check_moto(patches, also_requires=also_requires)
    for patch in patches:
        patch.apply()
