"""EC2 patches (tools/local_aws/ec2.py) through boto3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    rule = ec2.authorize_security_group_ingress(
        GroupId=db,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": dms, "Description": "PostgreSQL from DMS"}],
            }
        ],
    )["SecurityGroupRules"][0]
    described = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]])
    [described_rule] = described["SecurityGroupRules"]
    assert described_rule["ReferencedGroupInfo"]["GroupId"] == dms
    assert described_rule.get("Description") == "PostgreSQL from DMS"


def test_revoking_an_unknown_rule_id_answers_as_aws_does(aws: Callable[[str], Any], network: dict[str, Any]) -> None:
    # The provider treats InvalidSecurityGroupRuleId.NotFound as "already revoked"; moto answered
    # InvalidPermission.NotFound, which failed a destroy whose first revoke had been retried.
    ec2 = aws("ec2")
    group = ec2.create_security_group(GroupName=unique("revoke"), Description="revoke", VpcId=network["vpc_id"])[
        "GroupId"
    ]
    rule = ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
            }
        ],
    )["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    ec2.revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=[rule])
    for revoke in (ec2.revoke_security_group_ingress, ec2.revoke_security_group_egress):
        with pytest.raises(ClientError) as refused:
            revoke(GroupId=group, SecurityGroupRuleIds=[rule])
        assert refused.value.response["Error"]["Code"] == "InvalidSecurityGroupRuleId.NotFound"


def _vpn(ec2: Any, network: dict[str, Any], *, static: bool) -> str:
    gateway = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpcId=network["vpc_id"], VpnGatewayId=gateway)
    customer = ec2.create_customer_gateway(Type="ipsec.1", PublicIp="52.94.76.200", BgpAsn=65000)
    return ec2.create_vpn_connection(
        Type="ipsec.1",
        CustomerGatewayId=customer["CustomerGateway"]["CustomerGatewayId"],
        VpnGatewayId=gateway,
        Options={"StaticRoutesOnly": static},
    )["VpnConnection"]["VpnConnectionId"]


def test_a_vpn_connection_keeps_its_static_routing_option(aws: Callable[[str], Any], network: dict[str, Any]) -> None:
    # Without it static_routes_only read back false and every plan replaced the stack's VPN.
    ec2 = aws("ec2")
    for static in (True, False):
        vpn_id = _vpn(ec2, network, static=static)
        [vpn] = ec2.describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"]
        assert vpn["Options"]["StaticRoutesOnly"] is static


def test_a_vpn_connection_takes_static_routes_and_finds_them_by_destination(
    aws: Callable[[str], Any], network: dict[str, Any]
) -> None:
    ec2 = aws("ec2")
    vpn_id = _vpn(ec2, network, static=True)
    ec2.create_vpn_connection_route(VpnConnectionId=vpn_id, DestinationCidrBlock="192.168.0.0/16")
    [vpn] = ec2.describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"]
    assert vpn["Routes"] == [{"DestinationCidrBlock": "192.168.0.0/16", "Source": "Static", "State": "available"}]
    found = ec2.describe_vpn_connections(
        Filters=[
            {"Name": "route.destination-cidr-block", "Values": ["192.168.0.0/16"]},
            {"Name": "vpn-connection-id", "Values": [vpn_id]},
        ]
    )["VpnConnections"]
    assert [vpn["VpnConnectionId"] for vpn in found] == [vpn_id]
    ec2.delete_vpn_connection_route(VpnConnectionId=vpn_id, DestinationCidrBlock="192.168.0.0/16")
    [vpn] = ec2.describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"]
    assert not vpn.get("Routes")
    assert not ec2.describe_vpn_connections(
        Filters=[
            {"Name": "route.destination-cidr-block", "Values": ["192.168.0.0/16"]},
            {"Name": "vpn-connection-id", "Values": [vpn_id]},
        ]
    )["VpnConnections"]


def test_a_deleted_transit_gateway_attachment_is_listed_as_deleted(
    aws: Callable[[str], Any], network: dict[str, Any]
) -> None:
    # The provider waits for the `deleted` state; an attachment that vanished timed out every destroy.
    ec2 = aws("ec2")
    gateway = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    attachment = ec2.create_transit_gateway_vpc_attachment(
        TransitGatewayId=gateway,
        VpcId=network["vpc_id"],
        SubnetIds=network["subnet_ids"],
    )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
    ec2.delete_transit_gateway_vpc_attachment(TransitGatewayAttachmentId=attachment)
    [listed] = ec2.describe_transit_gateway_vpc_attachments(TransitGatewayAttachmentIds=[attachment])[
        "TransitGatewayVpcAttachments"
    ]
    assert listed["State"] == "deleted"
