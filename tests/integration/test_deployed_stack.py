"""The deployed stack is what it claims to be: checked on the resources, not on the JSON."""

import ipaddress
import json

import pytest

from lib.address_space import legacy_address_is_private
from lib.config import ROUTE53_METRICS_REGION


def test_subnets_span_three_azs_and_private_routes_use_nat(aws, outputs):
    ec2 = aws("ec2")
    for tier in ("public", "private", "database"):
        subnets = ec2.describe_subnets(SubnetIds=outputs[f"{tier}_subnet_ids"])["Subnets"]
        assert len({subnet["AvailabilityZone"] for subnet in subnets}) == 3, tier
        assert all(subnet["VpcId"] == outputs["vpc_id"] for subnet in subnets)
        assert not any(subnet["MapPublicIpOnLaunch"] for subnet in subnets)
    nat_ids = set(outputs["nat_gateway_ids"])
    for subnet_id in outputs["private_subnet_ids"]:
        table = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
            "RouteTables"
        ][0]
        defaults = [route for route in table["Routes"] if route.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert len(defaults) == 1 and defaults[0].get("NatGatewayId") in nat_ids
    for subnet_id in outputs["database_subnet_ids"]:
        table = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
            "RouteTables"
        ][0]
        assert not [route for route in table["Routes"] if route.get("DestinationCidrBlock") == "0.0.0.0/0"]


def test_nat_gateways_per_profile(aws, outputs, settings):
    gateways = aws("ec2").describe_nat_gateways(NatGatewayIds=outputs["nat_gateway_ids"])["NatGateways"]
    assert len(gateways) == settings.nat_gateways
    assert {gateway["SubnetId"] for gateway in gateways} <= set(outputs["public_subnet_ids"])


def test_flow_logs_capture_all_traffic(aws, outputs):
    logs = aws("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [outputs["vpc_id"]]}])["FlowLogs"]
    assert len(logs) == 1
    assert logs[0]["TrafficType"] == "ALL"
    assert logs[0]["LogDestination"].endswith(f":log-group:{outputs['flow_log_group_name']}")
    group = aws("logs").describe_log_groups(logGroupNamePrefix=outputs["flow_log_group_name"])["logGroups"][0]
    assert group["kmsKeyId"] == outputs["logs_kms_key_arn"]


def test_default_security_group_is_closed(aws, outputs):
    groups = aws("ec2").describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [outputs["vpc_id"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    assert len(groups) == 1
    assert groups[0]["IpPermissions"] == [] and groups[0]["IpPermissionsEgress"] == []


def test_alb_security_group_allows_only_listener_ports(aws, outputs, settings):
    group_id = outputs["security_group_ids"]["alb"]
    rules = aws("ec2").describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])[
        "SecurityGroupRules"
    ]
    ingress = sorted(rule["FromPort"] for rule in rules if not rule["IsEgress"])
    assert ingress == sorted(settings.listener_ports)


def test_aurora_cluster_matches_the_profile(aws, outputs, settings):
    cluster = aws("rds").describe_db_clusters(DBClusterIdentifier=outputs["aurora_cluster_identifier"])["DBClusters"][0]
    assert cluster["Engine"] == "aurora-postgresql"
    assert cluster["EngineVersion"] == settings.db_engine_version
    assert cluster["EngineMode"] == "provisioned"
    assert cluster["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": settings.db_min_acu,
        "MaxCapacity": settings.db_max_acu,
    }
    assert cluster["HttpEndpointEnabled"] is True
    assert cluster["BackupRetentionPeriod"] == 35
    assert cluster["StorageEncrypted"] is True and cluster["KmsKeyId"] == outputs["data_kms_key_arn"]
    assert cluster["DeletionProtection"] is settings.deletion_protection
    assert cluster["MasterUserSecret"]["SecretArn"] == outputs["aurora_master_secret_arn"]


def test_aurora_instances_are_serverless_private_and_spread(aws, outputs, settings):
    instances = aws("rds").describe_db_instances(
        Filters=[{"Name": "db-cluster-id", "Values": [outputs["aurora_cluster_identifier"]]}]
    )["DBInstances"]
    assert len(instances) == 1 + settings.db_readers
    assert {instance["DBInstanceClass"] for instance in instances} == {"db.serverless"}
    assert not any(instance["PubliclyAccessible"] for instance in instances)
    assert all(instance["PerformanceInsightsEnabled"] for instance in instances)
    assert len({instance["AvailabilityZone"] for instance in instances}) == len(instances)


def test_dms_replicates_full_load_and_cdc_with_validation(aws, outputs, settings):
    dms = aws("dms")
    instance = dms.describe_replication_instances(
        Filters=[{"Name": "replication-instance-arn", "Values": [outputs["dms_replication_instance_arn"]]}]
    )["ReplicationInstances"][0]
    assert instance["ReplicationInstanceClass"] == settings.dms_instance_class
    assert instance["MultiAZ"] is settings.is_prod
    assert instance["PubliclyAccessible"] is False
    endpoints = {
        endpoint["EndpointType"].lower(): endpoint
        for endpoint in dms.describe_endpoints()["Endpoints"]
        if endpoint["EndpointArn"] in (outputs["dms_source_endpoint_arn"], outputs["dms_target_endpoint_arn"])
    }
    assert endpoints["source"]["EngineName"] == "postgres"
    assert endpoints["target"]["EngineName"] == "aurora-postgresql"
    task = dms.describe_replication_tasks(
        Filters=[{"Name": "replication-task-arn", "Values": [outputs["dms_replication_task_arn"]]}]
    )["ReplicationTasks"][0]
    assert task["MigrationType"] == "full-load-and-cdc"
    # ready as deployed; e2e's runbook test started it and its rehearsal's flip stopped it (tools/e2e.py)
    assert task["Status"] in ("ready", "stopped")
    assert json.loads(task["ReplicationTaskSettings"])["ValidationSettings"]["EnableValidation"] is True


def test_dms_service_roles_exist_with_exact_names(aws):
    iam = aws("iam")
    for name in ("dms-vpc-role", "dms-cloudwatch-logs-role"):
        assert iam.get_role(RoleName=name)["Role"]["RoleName"] == name


@pytest.mark.parametrize(
    "role", ["payment-api", "schema-migrations", "migration-validator", "traffic-shifter", "rollback"]
)
def test_functions_run_in_private_subnets_with_tracing_and_concurrency(aws, outputs, settings, role):
    lam = aws("lambda")
    name = outputs["lambda_function_names"][role]
    function = lam.get_function(FunctionName=name)
    configuration = function["Configuration"]
    assert configuration["Runtime"] == "python3.12"
    assert configuration["Handler"] == "handler.handler"
    assert set(configuration["VpcConfig"]["SubnetIds"]) == set(outputs["private_subnet_ids"])
    assert configuration["VpcConfig"]["SecurityGroupIds"] == [outputs["security_group_ids"]["lambda"]]
    assert configuration["TracingConfig"]["Mode"] == "Active"
    concurrency = function["Concurrency"]["ReservedConcurrentExecutions"]
    if role == "payment-api":
        assert concurrency == settings.payment_api_reserved_concurrency >= 50
        variables = configuration["Environment"]["Variables"]
        # The write gate reads the cutover state (docs/cutover.md).
        assert set(variables) == {
            "DB_CLUSTER_ARN",
            "DB_SECRET_ARN",
            "DB_NAME",
            "CLIENT_IDENTITY",
            "CUTOVER_STATE_PARAMETER",
        }
        assert variables["CUTOVER_STATE_PARAMETER"] == outputs["cutover_state_parameter"]
        assert variables["DB_CLUSTER_ARN"] == outputs["aurora_cluster_arn"]
        assert variables["DB_SECRET_ARN"] == outputs["aurora_app_secret_arn"] != outputs["aurora_master_secret_arn"]
        assert variables["CLIENT_IDENTITY"] == settings.client_identity == outputs["client_identity"]
    else:
        assert concurrency >= 1
    if role in ("traffic-shifter", "rollback"):  # the cutover's own login, never the master user
        secret = configuration["Environment"]["Variables"]["DB_SECRET_ARN"]
        assert secret == outputs["aurora_cutover_secret_arn"] != outputs["aurora_master_secret_arn"]
        login = json.loads(aws("secretsmanager").get_secret_value(SecretId=secret)["SecretString"])["username"]
        assert login == f"{settings.name_prefix.replace('-', '_')}_cutover"


def test_alb_forwards_to_the_lambda_target_group(aws, outputs):
    elb = aws("elbv2")
    alb = elb.describe_load_balancers(LoadBalancerArns=[outputs["alb_arn"]])["LoadBalancers"][0]
    assert alb["Type"] == "application"
    listeners = elb.describe_listeners(LoadBalancerArn=outputs["alb_arn"])["Listeners"]
    forward = [listener for listener in listeners if listener["DefaultActions"][0]["Type"] == "forward"]
    assert len(forward) == 1
    assert forward[0]["DefaultActions"][0]["TargetGroupArn"] == outputs["api_target_group_arn"]
    group = elb.describe_target_groups(TargetGroupArns=[outputs["api_target_group_arn"]])["TargetGroups"][0]
    assert group["TargetType"] == "lambda"
    assert group["HealthCheckPath"] == "/health"
    targets = elb.describe_target_health(TargetGroupArn=outputs["api_target_group_arn"])["TargetHealthDescriptions"]
    assert [target["Target"]["Id"] for target in targets] == [outputs["lambda_function_arns"]["payment-api"]]
    attributes = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=outputs["alb_arn"])["Attributes"]
    }
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"


def test_waf_is_associated_with_the_alb(aws, outputs):
    acl = aws("wafv2").get_web_acl_for_resource(ResourceArn=outputs["alb_arn"])["WebACL"]
    assert acl["ARN"] == outputs["waf_web_acl_arn"]
    managed = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for rule in acl["Rules"]
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
    } <= managed


def test_private_zone_with_weighted_records(aws, outputs, settings):
    route53 = aws("route53")
    zone = route53.get_hosted_zone(Id=outputs["hosted_zone_id"])
    assert zone["HostedZone"]["Config"]["PrivateZone"] is True
    assert [vpc["VPCId"] for vpc in zone["VPCs"]] == [outputs["vpc_id"]]
    records = [
        record
        for record in route53.list_resource_record_sets(HostedZoneId=outputs["hosted_zone_id"])["ResourceRecordSets"]
        if record["Name"].rstrip(".") == outputs["api_fqdn"]
    ]
    by_set = {record["SetIdentifier"]: record for record in records}
    assert set(by_set) == ({"new", "legacy"} if settings.legacy_endpoint else {"new"})
    assert by_set["new"]["Weight"] == settings.new_system_weight
    assert by_set["new"]["AliasTarget"]["DNSName"].rstrip(".").lower() == outputs["alb_dns_name"].lower()


def test_legacy_record_carries_the_rest_of_the_traffic_and_its_health_check_only_alerts(aws, outputs, settings):
    if not settings.legacy_endpoint:
        pytest.skip("LEGACY_ENDPOINT is not set for this deployment (make e2e always sets one)")
    route53 = aws("route53")
    [legacy] = [
        record
        for record in route53.list_resource_record_sets(HostedZoneId=outputs["hosted_zone_id"])["ResourceRecordSets"]
        if record.get("SetIdentifier") == "legacy"
    ]
    assert legacy["Weight"] == 100 - settings.new_system_weight
    assert [value["Value"] for value in legacy["ResourceRecords"]] == (
        list(settings.legacy_ips) or [settings.legacy_endpoint]
    )
    private = bool(settings.legacy_ips) and legacy_address_is_private(ipaddress.IPv4Address(settings.legacy_ips[0]))
    # Issue 11 #3: no health check on a weighted record, ever; the legacy health checks only alert.
    assert "HealthCheckId" not in legacy
    checks = [
        check
        for check in route53.list_health_checks()["HealthChecks"]
        if check["HealthCheckConfig"].get("IPAddress") in settings.legacy_ips
        or check["HealthCheckConfig"].get("FullyQualifiedDomainName") == settings.legacy_endpoint
    ]
    # Route53 health checkers live on the internet: a private legacy address gets none.
    assert bool(checks) is not private
    if private:
        return
    check = checks[0]["HealthCheckConfig"]
    assert (check["Type"], check["Port"], check["ResourcePath"]) == ("HTTPS", 443, "/health")
    alarms = aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"{settings.name_prefix}-")["MetricAlarms"]
    watching = [alarm for alarm in alarms if alarm["MetricName"] == "HealthCheckStatus"]
    expected = [checks[0]["Id"]] if settings.aws_region == ROUTE53_METRICS_REGION else []
    assert [dimension["Value"] for alarm in watching for dimension in alarm["Dimensions"]] == expected
    assert not any(alarm["AlarmName"].startswith(outputs["critical_alarm_prefix"]) for alarm in watching)


def test_alarms_topics_and_dashboard(aws, outputs, settings):
    cloudwatch = aws("cloudwatch")
    critical = cloudwatch.describe_alarms(AlarmNamePrefix=outputs["critical_alarm_prefix"])["MetricAlarms"]
    assert {alarm["MetricName"] for alarm in critical} >= {
        "HTTPCode_Target_5XX_Count",
        "TargetResponseTime",
        "CDCLatencyTarget",
        "Errors",
    }
    assert all(outputs["critical_topic_arn"] in alarm["AlarmActions"] for alarm in critical)
    body = json.loads(cloudwatch.get_dashboard(DashboardName=outputs["dashboard_name"])["DashboardBody"])
    assert {widget["properties"]["region"] for widget in body["widgets"]} == {settings.aws_region}
    sns = aws("sns")
    for topic in (outputs["alert_topic_arn"], outputs["critical_topic_arn"]):
        assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"] == outputs["data_kms_key_arn"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=outputs["critical_topic_arn"])["Subscriptions"]
    assert outputs["lambda_function_arns"]["rollback"] in {subscription["Endpoint"] for subscription in subscriptions}
