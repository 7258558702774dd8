"""The emulator's account starts with the account-wide DMS roles (tools/local_aws/iam.py), as a real one has
them: stacks never create them, so any number of suffixes deploy side by side (issue 9 #2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tools.local_aws.iam import ACCOUNT_ROLES, DMS_PRINCIPAL


def test_the_account_has_both_dms_roles_with_their_managed_policies(aws: Callable[[str], Any]) -> None:
    iam = aws("iam")
    for name, policy_arn in ACCOUNT_ROLES.items():
        role = iam.get_role(RoleName=name)["Role"]
        trust = role["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        assert [statement["Principal"] for statement in trust["Statement"]] == [{"Service": DMS_PRINCIPAL}]
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        assert [policy["PolicyArn"] for policy in attached] == [policy_arn]
    assert set(ACCOUNT_ROLES) == {"dms-vpc-role", "dms-cloudwatch-logs-role"}


def test_creating_them_again_fails_as_in_a_real_account(aws: Callable[[str], Any]) -> None:
    iam = aws("iam")
    try:
        iam.create_role(RoleName="dms-vpc-role", AssumeRolePolicyDocument="{}")
    except iam.exceptions.EntityAlreadyExistsException:
        return
    raise AssertionError("dms-vpc-role could be created twice")
