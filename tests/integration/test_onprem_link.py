"""The deployed way to on-premises, the zones and the service log groups (issue 9 #6, #7, #15), checked on the
resources. `make e2e` runs these for its first stack (no link: the local default) and for a second suffix
deployed beside it with a Site-to-Site VPN and DNS forwarding for a host name."""

from __future__ import annotations


def _private_route_tables(aws, outputs):
    ec2 = aws("ec2")
    return [
        ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])["RouteTables"][0]
        for subnet_id in outputs["private_subnet_ids"]
    ]


def _onprem_routes(aws, outputs, settings):
    return [
        route
        for table in _private_route_tables(aws, outputs)
        for route in table["Routes"]
        if route.get("DestinationCidrBlock") == settings.onprem_cidr
    ]


def test_private_subnets_reach_onprem_only_through_the_configured_link(aws, outputs, settings):
    ec2 = aws("ec2")
    gateways = ec2.describe_vpn_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [outputs["vpc_id"]]}])[
        "VpnGateways"
    ]
    routes = _onprem_routes(aws, outputs, settings)
    if settings.onprem_link != "vpn":
        assert gateways == [] and routes == []
        return
    [gateway] = gateways
    assert [route.get("GatewayId") for route in routes] == [gateway["VpnGatewayId"]] * 3
    [vpn] = [
        connection
        for connection in ec2.describe_vpn_connections()["VpnConnections"]
        if connection.get("VpnGatewayId") == gateway["VpnGatewayId"] and connection["State"] == "available"
    ]
    static = settings.onprem_bgp_asn is None
    assert vpn["Options"]["StaticRoutesOnly"] is static
    assert [route["DestinationCidrBlock"] for route in vpn.get("Routes", [])] == (
        [settings.onprem_cidr] if static else []
    )
    [customer] = ec2.describe_customer_gateways(CustomerGatewayIds=[vpn["CustomerGatewayId"]])["CustomerGateways"]
    assert customer["IpAddress"] == settings.onprem_customer_gateway_ip


def test_an_internet_facing_alb_reaches_legacy_writes_over_the_same_link(aws, outputs, settings):
    """The ALB's nodes sit in the public subnets and forward writes to legacy's private addresses."""
    ec2 = aws("ec2")
    tables = {
        table["RouteTableId"]: table
        for subnet_id in outputs["public_subnet_ids"]
        for table in ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
            "RouteTables"
        ]
    }
    [public] = tables.values()
    targets = [
        route.get("GatewayId") or route.get("TransitGatewayId")
        for route in public["Routes"]
        if route.get("DestinationCidrBlock") == settings.onprem_cidr
    ]
    if settings.onprem_link in ("vpn", "transit_gateway") and settings.legacy_write_ips and not settings.alb_internal:
        assert targets == [
            _onprem_routes(aws, outputs, settings)[0].get("GatewayId") or settings.onprem_transit_gateway_id
        ]
    else:
        assert targets == []


def test_an_onprem_host_name_is_forwarded_to_the_onprem_dns_servers(aws, outputs, settings):
    resolver = aws("route53resolver")
    rules = [
        rule
        for rule in resolver.list_resolver_rules()["ResolverRules"]
        if rule["Name"] == f"{settings.name_prefix}-onprem"
    ]
    if not settings.onprem_dns_domain:
        assert rules == []
        return
    [rule] = rules
    assert (rule["DomainName"].rstrip("."), rule["RuleType"]) == (settings.onprem_dns_domain, "FORWARD")
    assert sorted(target["Ip"] for target in rule["TargetIps"]) == sorted(settings.onprem_dns_servers)
    associations = resolver.list_resolver_rule_associations()["ResolverRuleAssociations"]
    assert [a["VPCId"] for a in associations if a["ResolverRuleId"] == rule["Id"]] == [outputs["vpc_id"]]
    endpoint = resolver.get_resolver_endpoint(ResolverEndpointId=rule["ResolverEndpointId"])["ResolverEndpoint"]
    assert endpoint["Direction"] == "OUTBOUND" and endpoint["IpAddressCount"] == 3


def test_subnets_sit_in_the_pinned_zones(aws, outputs, settings):
    subnets = aws("ec2").describe_subnets(SubnetIds=outputs["private_subnet_ids"])["Subnets"]
    assert sorted(subnet["AvailabilityZoneId"] for subnet in subnets) == sorted(settings.availability_zone_ids)


def test_service_log_groups_exist_with_retention_and_the_logs_key(aws, outputs, settings):
    names = [
        f"/aws/rds/cluster/{outputs['aurora_cluster_identifier']}/postgresql",
        f"dms-tasks-{settings.name_prefix}-dms",
    ]
    logs = aws("logs")
    for name in names:
        [group] = [
            g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name
        ]
        assert group["retentionInDays"] == settings.log_retention_days
        assert group["kmsKeyId"] == outputs["logs_kms_key_arn"]


def test_the_dms_roles_are_the_accounts_not_the_stacks(aws):
    # Issue 9 #2: they exist (the emulator's account starts with them, like a real one), and no stack owns them.
    iam = aws("iam")
    for name in ("dms-vpc-role", "dms-cloudwatch-logs-role"):
        assert iam.get_role(RoleName=name)["Role"]["RoleName"] == name
