"""EC2 patches (tools/local_aws/ec2.py) through boto3."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from tests.emulator.harness import unique


def test_security_group_rule_referencing_a_group_returns_its_description(
    aws: Callable[[str], Any], network: dict[str, Any]
) -> None:
    ec2 = aws("ec2")
    db, dms = (
        ec2.create_security_group(GroupName=unique(tier), Description=tier, VpcId=network["vpc_id"])["GroupId"]
        for tier in ("db", "dms")
    )
    rule = ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "UserIdGroupPairs": [{"GroupId": dms, "Description": "PostgreSQL from DMS"}],
    }])["SecurityGroupRules"][0]
    described = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]])
    [described_rule] = described["SecurityGroupRules"]
    assert described_rule["ReferencedGroupInfo"]["GroupId"] == dms
    assert described_rule.get("Description") == "PostgreSQL from DMS"


def test_revoking_an_unknown_rule_id_answers_as_aws_does(
    aws: Callable[[str], Any], network: dict[str, Any]
) -> None:
    # The provider treats InvalidSecurityGroupRuleId.NotFound as "already revoked"; moto answered
    # InvalidPermission.NotFound, which failed a destroy whose first revoke had been retried.
    ec2 = aws("ec2")
    group = ec2.create_security_group(GroupName=unique("revoke"), Description="revoke",
                                      VpcId=network["vpc_id"])["GroupId"]
    rule = ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
    }])["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    ec2.revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=[rule])
    for revoke in (ec2.revoke_security_group_ingress, ec2.revoke_security_group_egress):
        with pytest.raises(ClientError) as refused:
            revoke(GroupId=group, SecurityGroupRuleIds=[rule])
        assert refused.value.response["Error"]["Code"] == "InvalidSecurityGroupRuleId.NotFound"
