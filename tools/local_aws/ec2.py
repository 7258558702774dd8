"""EC2: security-group rules as AWS describes and revokes them."""

from __future__ import annotations

from typing import Any, Callable

from tools.local_aws.common import wrap
from tools.local_aws.moto_guard import PROPERTY, moto_patch

_REVOKE_PARAMETERS = ("group_name_or_id", "security_rule_ids", "vpc_id")


@moto_patch(requires={"moto.ec2.models.security_groups.SecurityGroupRule.description": PROPERTY})
def patch_ec2_rule_description() -> None:
    # moto defect: SecurityGroupRule.description reads only the CIDR range, not a referenced-group rule.
    from moto.ec2.models.security_groups import SecurityGroupRule

    def description(self: Any) -> str | None:
        return self.ip_range.get("Description") or self.source_group.get("Description")

    SecurityGroupRule.description = property(description)


@moto_patch(requires={
    "moto.ec2.models.security_groups.SecurityGroupBackend.revoke_security_group_ingress": _REVOKE_PARAMETERS,
    "moto.ec2.models.security_groups.SecurityGroupBackend.revoke_security_group_egress": _REVOKE_PARAMETERS,
    "moto.ec2.models.security_groups.SecurityGroupBackend.get_security_group_by_name_or_id": (),
    "moto.ec2.exceptions.InvalidSecurityGroupRuleIdNotFoundError": (),
})
def patch_ec2_revoke_unknown_rule_id() -> None:
    # moto defect: revoking an unknown SecurityGroupRuleId answers InvalidPermission.NotFound, where AWS
    # answers InvalidSecurityGroupRuleId.NotFound. The provider treats only the latter as "already gone",
    # so a destroy whose first revoke was retried failed now and then on the emulator.
    from moto.ec2.exceptions import InvalidSecurityGroupRuleIdNotFoundError
    from moto.ec2.models.security_groups import SecurityGroupBackend

    def refusing_unknown_rule_ids(rules_of: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def make(revoke: Callable[..., Any]) -> Callable[..., Any]:
            def checked(self: Any, group_name_or_id: str, *args: Any, security_rule_ids: list[str] | None = None,
                        vpc_id: str | None = None, **kwargs: Any) -> Any:
                group = self.get_security_group_by_name_or_id(group_name_or_id, vpc_id)
                if group is not None and security_rule_ids:
                    known = {rule.id for rule in getattr(group, rules_of)}
                    unknown = [rule_id for rule_id in security_rule_ids if rule_id not in known]
                    if unknown:
                        raise InvalidSecurityGroupRuleIdNotFoundError(unknown[0])
                return revoke(self, group_name_or_id, *args, security_rule_ids=security_rule_ids, vpc_id=vpc_id,
                              **kwargs)

            return checked

        return make

    wrap(SecurityGroupBackend, "revoke_security_group_ingress", refusing_unknown_rule_ids("ingress_rules"))
    wrap(SecurityGroupBackend, "revoke_security_group_egress", refusing_unknown_rule_ids("egress_rules"))


PATCHES = (patch_ec2_rule_description, patch_ec2_revoke_unknown_rule_id)
