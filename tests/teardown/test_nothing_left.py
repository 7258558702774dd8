"""After `destroy`, nothing of the stack is left (KMS keys pending deletion are fine)."""


def test_no_network_left(aws, settings):
    vpcs = aws("ec2").describe_vpcs(
        Filters=[{"Name": "tag:EnvironmentSuffix", "Values": [settings.environment_suffix]}]
    )["Vpcs"]
    assert vpcs == []


def test_no_database_or_replication_left(aws, settings):
    prefix = settings.name_prefix
    clusters = [c["DBClusterIdentifier"] for c in aws("rds").describe_db_clusters()["DBClusters"]]
    assert not [name for name in clusters if name.startswith(prefix)]
    dms = aws("dms")
    assert not [
        i
        for i in dms.describe_replication_instances()["ReplicationInstances"]
        if i["ReplicationInstanceIdentifier"].startswith(prefix)
    ]
    assert not [
        t
        for t in dms.describe_replication_tasks()["ReplicationTasks"]
        if t["ReplicationTaskIdentifier"].startswith(prefix)
    ]
    assert not [e for e in dms.describe_endpoints()["Endpoints"] if e["EndpointIdentifier"].startswith(prefix)]


def test_no_compute_or_edge_left(aws, settings):
    prefix = settings.name_prefix
    assert not [f for f in aws("lambda").list_functions()["Functions"] if f["FunctionName"].startswith(prefix)]
    elb = aws("elbv2")
    assert not [
        lb for lb in elb.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"].startswith(prefix)
    ]
    assert not [tg for tg in elb.describe_target_groups()["TargetGroups"] if tg["TargetGroupName"].startswith(prefix)]
    assert not [
        acl for acl in aws("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"] if acl["Name"].startswith(prefix)
    ]
    assert not [b for b in aws("s3").list_buckets()["Buckets"] if b["Name"].startswith(prefix)]


def test_no_dns_monitoring_or_logs_left(aws, settings):
    prefix = settings.name_prefix
    zones = aws("route53").list_hosted_zones()["HostedZones"]
    assert not [z for z in zones if z["Name"].rstrip(".") == settings.hosted_zone_name]
    cloudwatch = aws("cloudwatch")
    assert cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"] == []
    assert not [d for d in cloudwatch.list_dashboards()["DashboardEntries"] if d["DashboardName"].startswith(prefix)]
    assert not [t for t in aws("sns").list_topics()["Topics"] if f":{prefix}-" in t["TopicArn"]]
    groups = [g["logGroupName"] for g in aws("logs").describe_log_groups()["logGroups"]]
    assert not [g for g in groups if prefix in g]


def test_no_identities_or_secrets_left(aws, settings):
    prefix = settings.name_prefix
    roles = [role["RoleName"] for role in aws("iam").list_roles()["Roles"]]
    assert not [role for role in roles if role.startswith(prefix)]
    if settings.create_dms_service_roles:
        assert not {"dms-vpc-role", "dms-cloudwatch-logs-role"} & set(roles)
    secrets = aws("secretsmanager").list_secrets()["SecretList"]
    assert not [s for s in secrets if s["Name"].startswith(prefix) and "DeletedDate" not in s]
    aliases = [a["AliasName"] for a in aws("kms").list_aliases()["Aliases"]]
    assert not [a for a in aliases if a.startswith(f"alias/{prefix}-")]
