"""EC2: a security-group rule that references a group keeps its description."""

from __future__ import annotations

from typing import Any

from tools.local_aws.moto_guard import PROPERTY, moto_patch


@moto_patch(requires={"moto.ec2.models.security_groups.SecurityGroupRule.description": PROPERTY})
def patch_ec2_rule_description() -> None:
    # moto defect: SecurityGroupRule.description reads only the CIDR range, not a referenced-group rule.
    from moto.ec2.models.security_groups import SecurityGroupRule

    def description(self: Any) -> str | None:
        return self.ip_range.get("Description") or self.source_group.get("Description")

    SecurityGroupRule.description = property(description)


PATCHES = (patch_ec2_rule_description,)
