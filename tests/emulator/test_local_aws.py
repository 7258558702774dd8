"""The local AWS emulator (tools/local_aws.py), exercised through its real CLI and boto3.

One emulator is started for the module with `start` and stopped with `stop`;
each patch test checks one moto 5.2.5 gap it closes. Lifecycle tests start
their own emulators on other ports.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import boto3
import pytest

from tools import local_aws

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


@dataclass
class Emulator:
    port: int
    pidfile: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pid(self) -> int:
        return int(self.pidfile.read_text())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli(*args: Any, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.local_aws", *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )


def start_emulator(
    work: Path, idle_timeout: float = 600
) -> tuple[Emulator, subprocess.CompletedProcess[str]]:
    emulator = Emulator(free_port(), work / "moto.pid", work / "moto.log")
    started = cli("start", "--port", emulator.port, "--pidfile", emulator.pidfile,
                  "--log", emulator.log, "--idle-timeout", idle_timeout)
    return emulator, started


def listening_addresses(port: int) -> set[str]:
    """Local addresses of TCP sockets listening on port, from /proc/net/tcp{,6}."""
    addresses = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                raw = bytes.fromhex(address)
                if width == 8:
                    addresses.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    addresses.add(socket.inet_ntop(socket.AF_INET6, words))
    return addresses


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Emulator:
    running, started = start_emulator(tmp_path_factory.mktemp("emulator"))
    assert started.returncode == 0, started.stderr
    yield running
    stopped = cli("stop", "--pidfile", running.pidfile)
    assert stopped.returncode == 0, stopped.stderr


@pytest.fixture(scope="module")
def aws(emulator: Emulator) -> Callable[[str], Any]:
    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=emulator.url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def record_raw_json(client: Any) -> dict[str, Any]:
    """Operation name -> the raw JSON body of its latest response, before botocore parses it."""
    bodies: dict[str, Any] = {}

    def keep(response_dict: dict[str, Any], operation_model: Any, **_: Any) -> None:
        bodies[operation_model.name] = json.loads(response_dict["body"])

    client.meta.events.register("before-parse.*.*", keep)
    return bodies


@pytest.fixture(scope="module")
def network(aws: Callable[[str], Any]) -> dict[str, Any]:
    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")
        for i, zone in enumerate("ab", start=1)
    ]
    subnet_ids = [subnet["Subnet"]["SubnetId"] for subnet in subnets]
    return {"vpc_id": vpc_id, "subnet_ids": subnet_ids}


@pytest.fixture(scope="module")
def dms_stack(aws: Callable[[str], Any], network: dict[str, Any]) -> dict[str, Any]:
    dms = aws("dms")
    raw = record_raw_json(dms)
    group_id = unique("dms-subnets")
    dms.create_replication_subnet_group(
        ReplicationSubnetGroupIdentifier=group_id, ReplicationSubnetGroupDescription="dms subnets",
        SubnetIds=network["subnet_ids"], Tags=[{"Key": "team", "Value": "payments"}],
    )
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier=unique("dms"), ReplicationInstanceClass="dms.t3.medium",
        ReplicationSubnetGroupIdentifier=group_id,
    )["ReplicationInstance"]
    endpoints = [
        dms.create_endpoint(EndpointIdentifier=unique(kind), EndpointType=kind, EngineName="postgres",
                            Username="dms", Password="secret-pw", ServerName="10.99.0.10", Port=5432,
                            DatabaseName="payments")["Endpoint"]["EndpointArn"]
        for kind in ("source", "target")
    ]
    task = dms.create_replication_task(
        ReplicationTaskIdentifier=unique("task"), MigrationType="full-load-and-cdc",
        ReplicationInstanceArn=instance["ReplicationInstanceArn"],
        SourceEndpointArn=endpoints[0], TargetEndpointArn=endpoints[1], TableMappings='{"rules": []}',
    )["ReplicationTask"]
    return {"dms": dms, "raw": raw, "group_id": group_id, "instance": instance, "task": task}


# --------------------------------------------------------------------------- patches


def assert_recent_epoch(value: Any) -> None:
    assert isinstance(value, (int, float)) and not isinstance(value, bool), f"not an epoch number: {value!r}"
    assert abs(value - time.time()) < 600, f"epoch {value} is not close to now (timezone?)"


def test_dms_timestamps_are_epoch_numbers_in_the_raw_json(dms_stack: dict[str, Any]) -> None:
    dms, raw = dms_stack["dms"], dms_stack["raw"]
    assert_recent_epoch(raw["CreateReplicationInstance"]["ReplicationInstance"]["InstanceCreateTime"])
    assert_recent_epoch(raw["CreateReplicationTask"]["ReplicationTask"]["ReplicationTaskCreationDate"])

    dms.describe_replication_instances()
    dms.describe_replication_tasks()
    instances = raw["DescribeReplicationInstances"]["ReplicationInstances"]
    tasks = raw["DescribeReplicationTasks"]["ReplicationTasks"]
    assert_recent_epoch(instances[0]["InstanceCreateTime"])
    assert_recent_epoch(tasks[0]["ReplicationTaskCreationDate"])


def test_dms_task_becomes_ready(dms_stack: dict[str, Any]) -> None:
    task_arn = dms_stack["task"]["ReplicationTaskArn"]
    described = dms_stack["dms"].describe_replication_tasks(
        Filters=[{"Name": "replication-task-arn", "Values": [task_arn]}]
    )["ReplicationTasks"]
    assert [task["Status"] for task in described] == ["ready"]


def test_dms_subnet_group_keeps_subnets_vpc_and_arn_tags(
    aws: Callable[[str], Any], dms_stack: dict[str, Any], network: dict[str, Any]
) -> None:
    dms, group_id = dms_stack["dms"], dms_stack["group_id"]
    filters = [{"Name": "replication-subnet-group-id", "Values": [group_id]}]
    group = dms.describe_replication_subnet_groups(Filters=filters)["ReplicationSubnetGroups"][0]
    assert group["VpcId"] == network["vpc_id"]
    assert sorted(s["SubnetIdentifier"] for s in group["Subnets"]) == sorted(network["subnet_ids"])
    assert {s["SubnetAvailabilityZone"]["Name"] for s in group["Subnets"]} == {"us-east-1a", "us-east-1b"}

    account = aws("sts").get_caller_identity()["Account"]
    arn = f"arn:aws:dms:{REGION}:{account}:subgrp:{group_id}"
    tags = dms.list_tags_for_resource(ResourceArn=arn)["TagList"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("team", "payments")]

    instance_arn = dms_stack["instance"]["ReplicationInstanceArn"]
    instance = dms.describe_replication_instances(
        Filters=[{"Name": "replication-instance-arn", "Values": [instance_arn]}]
    )["ReplicationInstances"][0]
    assert instance["ReplicationSubnetGroup"]["VpcId"] == network["vpc_id"]

    modified = dms.modify_replication_subnet_group(
        ReplicationSubnetGroupIdentifier=group_id, ReplicationSubnetGroupDescription="one subnet",
        SubnetIds=network["subnet_ids"][:1],
    )["ReplicationSubnetGroup"]
    assert modified["ReplicationSubnetGroupDescription"] == "one subnet"
    group = dms.describe_replication_subnet_groups(Filters=filters)["ReplicationSubnetGroups"][0]
    assert [s["SubnetIdentifier"] for s in group["Subnets"]] == network["subnet_ids"][:1]


def test_dms_event_subscription_lifecycle_and_tags(
    aws: Callable[[str], Any], dms_stack: dict[str, Any]
) -> None:
    dms, raw, name = dms_stack["dms"], dms_stack["raw"], unique("dms-events")
    task_id = dms_stack["task"]["ReplicationTaskIdentifier"]
    topic_arn = aws("sns").create_topic(Name=unique("dms-events"))["TopicArn"]
    account = aws("sts").get_caller_identity()["Account"]
    arn = f"arn:aws:dms:{REGION}:{account}:es:{name}"
    created = dms.create_event_subscription(
        SubscriptionName=name, SnsTopicArn=topic_arn, SourceType="replication-task",
        SourceIds=[task_id], EventCategories=["failure", "state change"],
        Tags=[{"Key": "team", "Value": "payments"}],
    )["EventSubscription"]
    assert created["Status"] == "active" and created["Enabled"] is True
    assert isinstance(raw["CreateEventSubscription"]["EventSubscription"]["SubscriptionCreationTime"], str)

    [described] = dms.describe_event_subscriptions(SubscriptionName=name)["EventSubscriptionsList"]
    assert described == created
    assert described["CustomerAwsId"] == account and described["CustSubscriptionId"] == name
    assert described["SourceIdsList"] == [task_id]
    assert sorted(described["EventCategoriesList"]) == ["failure", "state change"]
    by_arn = dms.describe_event_subscriptions(Filters=[{"Name": "event-subscription-arn", "Values": [arn]}])
    assert [s["CustSubscriptionId"] for s in by_arn["EventSubscriptionsList"]] == [name]

    modified = dms.modify_event_subscription(SubscriptionName=name, EventCategories=["failure"],
                                             Enabled=False)["EventSubscription"]
    assert modified["Status"] == "active" and modified["Enabled"] is False
    assert modified["EventCategoriesList"] == ["failure"] and modified["SnsTopicArn"] == topic_arn

    dms.add_tags_to_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "local"}])
    dms.remove_tags_from_resource(ResourceArn=arn, TagKeys=["team"])
    tags = dms.list_tags_for_resource(ResourceArn=arn)["TagList"]
    assert [(t["Key"], t["Value"], t["ResourceArn"]) for t in tags] == [("env", "local", arn)]

    deleted = dms.delete_event_subscription(SubscriptionName=name)["EventSubscription"]
    assert deleted["CustSubscriptionId"] == name
    assert dms.list_tags_for_resource(ResourceArn=arn)["TagList"] == []
    for not_found in (lambda: dms.describe_event_subscriptions(SubscriptionName=name),
                      lambda: dms.modify_event_subscription(SubscriptionName=name, Enabled=True),
                      lambda: dms.delete_event_subscription(SubscriptionName=name)):
        with pytest.raises(dms.exceptions.ResourceNotFoundFault) as missing:
            not_found()
        assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.fixture(scope="module")
def aurora(aws: Callable[[str], Any], network: dict[str, Any]) -> dict[str, Any]:
    rds = aws("rds")
    key_arn = aws("kms").create_key(Description="performance insights")["KeyMetadata"]["Arn"]
    subnet_group = unique("db")
    rds.create_db_subnet_group(DBSubnetGroupName=subnet_group, DBSubnetGroupDescription="db",
                               SubnetIds=network["subnet_ids"])
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=unique("aurora"), Engine="aurora-postgresql", EngineVersion="15.8",
        EngineMode="provisioned", MasterUsername="payments_admin", ManageMasterUserPassword=True,
        DBSubnetGroupName=subnet_group, EnableHttpEndpoint=True,
        ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 2},
        EnablePerformanceInsights=True, PerformanceInsightsKMSKeyId=key_arn,
        PerformanceInsightsRetentionPeriod=31,
    )["DBCluster"]
    instance = rds.create_db_instance(
        DBInstanceIdentifier=unique("aurora-1"), DBClusterIdentifier=cluster["DBClusterIdentifier"],
        Engine="aurora-postgresql", DBInstanceClass="db.serverless",
        EnablePerformanceInsights=True, PerformanceInsightsKMSKeyId=key_arn,
        PerformanceInsightsRetentionPeriod=7,
    )["DBInstance"]
    return {"rds": rds, "key_arn": key_arn, "cluster": cluster, "instance": instance}


def describe_cluster(aurora: dict[str, Any]) -> dict[str, Any]:
    return aurora["rds"].describe_db_clusters(
        DBClusterIdentifier=aurora["cluster"]["DBClusterIdentifier"])["DBClusters"][0]


def test_rds_performance_insights_settings_are_returned(aurora: dict[str, Any]) -> None:
    cluster = describe_cluster(aurora)
    instance = aurora["rds"].describe_db_instances(
        DBInstanceIdentifier=aurora["instance"]["DBInstanceIdentifier"])["DBInstances"][0]
    for described, retention in ((cluster, 31), (instance, 7)):
        assert described.get("PerformanceInsightsEnabled") is True
        assert described.get("PerformanceInsightsKMSKeyId") == aurora["key_arn"]
        assert described.get("PerformanceInsightsRetentionPeriod") == retention

    aurora["rds"].modify_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"],
                                     EnablePerformanceInsights=False, ApplyImmediately=True)
    instance = aurora["rds"].describe_db_instances(
        DBInstanceIdentifier=instance["DBInstanceIdentifier"])["DBInstances"][0]
    assert instance.get("PerformanceInsightsEnabled") is False


def test_rds_data_api_on_serverless_v2_cluster(aurora: dict[str, Any]) -> None:
    rds, arn = aurora["rds"], aurora["cluster"]["DBClusterArn"]
    assert describe_cluster(aurora)["HttpEndpointEnabled"] is True

    assert rds.disable_http_endpoint(ResourceArn=arn)["HttpEndpointEnabled"] is False
    assert describe_cluster(aurora)["HttpEndpointEnabled"] is False

    assert rds.enable_http_endpoint(ResourceArn=arn)["HttpEndpointEnabled"] is True
    assert describe_cluster(aurora)["HttpEndpointEnabled"] is True


def test_rds_provisioned_cluster_has_no_scaling_configuration_info(aurora: dict[str, Any]) -> None:
    cluster = describe_cluster(aurora)
    assert "ScalingConfigurationInfo" not in cluster
    assert cluster["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 2.0}


def test_route53_zone_created_with_vpc_is_private(aws: Callable[[str], Any], network: dict[str, Any]) -> None:
    route53 = aws("route53")
    zone = route53.create_hosted_zone(
        Name=f"{unique('zone')}.internal", CallerReference=unique("ref"),
        VPC={"VPCRegion": REGION, "VPCId": network["vpc_id"]},
    )["HostedZone"]
    described = route53.get_hosted_zone(Id=zone["Id"])
    assert described["HostedZone"]["Config"]["PrivateZone"] is True
    assert described["VPCs"] == [{"VPCRegion": REGION, "VPCId": network["vpc_id"]}]


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


def test_alb_without_scheme_is_internet_facing(aws: Callable[[str], Any], network: dict[str, Any]) -> None:
    elbv2 = aws("elbv2")
    arn = elbv2.create_load_balancer(Name=unique("alb"), Subnets=network["subnet_ids"],
                                     Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
    described = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    assert described.get("Scheme") == "internet-facing"


def test_aws_managed_iam_policy_attaches(aws: Callable[[str], Any]) -> None:
    iam = aws("iam")
    role = unique("dms-vpc-role")
    policy = "arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole"
    trust = {"Version": "2012-10-17", "Statement": []}
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName=role, PolicyArn=policy)
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [policy]


def lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def test_lambda_dead_letter_config_is_returned_and_updated(aws: Callable[[str], Any]) -> None:
    iam, sqs, lam = aws("iam"), aws("sqs"), aws("lambda")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = iam.create_role(RoleName=unique("fn"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    first, second = (sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"],
                                              AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                     for _ in range(2))
    name = unique("fn")
    created = lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
                                  Code={"ZipFile": lambda_zip()}, DeadLetterConfig={"TargetArn": first})
    assert created["DeadLetterConfig"] == {"TargetArn": first}
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": first}

    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": second})
    assert lam.get_function(FunctionName=name)["Configuration"]["DeadLetterConfig"] == {"TargetArn": second}

    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={})
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)


def test_s3_eventbridge_notification_is_returned(aws: Callable[[str], Any]) -> None:
    s3 = aws("s3")
    bucket = unique("logs")
    s3.create_bucket(Bucket=bucket)
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket)

    s3.put_bucket_notification_configuration(Bucket=bucket,
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["EventBridgeConfiguration"] == {}

    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket)


# --------------------------------------------------------------------------- version and internals check


def test_check_accepts_the_installed_pinned_moto() -> None:
    local_aws.check_moto()


def test_check_refuses_another_moto_version() -> None:
    with pytest.raises(local_aws.EmulatorError) as refused:
        local_aws.check_moto(version="5.2.6")
    message = str(refused.value)
    assert "refuses to start" in message and "moto 5.2.6 is installed" in message and "5.2.5" in message


@pytest.mark.parametrize(
    ("internals", "must_be_absent", "problem"),
    [
        ({"moto.dms.models.FakeReplicationTask.no_such_method": ()}, (),
         "moto.dms.models.FakeReplicationTask.no_such_method is missing"),
        ({"moto.elbv2.models.ELBv2Backend.create_load_balancer": ("no_such_param",)}, (),
         "create_load_balancer no longer takes no_such_param"),
        ({"moto.rds.models.DBCluster.status": local_aws.PROPERTY,
          "moto.rds.models.DBCluster.failover": local_aws.PROPERTY}, (),
         "moto.rds.models.DBCluster.failover is no longer a property"),
        ({}, ("moto.rds.responses.RDSResponse.create_db_cluster",),
         "moto.rds.responses.RDSResponse.create_db_cluster already exists"),
    ],
)
def test_check_refuses_internals_not_where_expected(
    internals: dict[str, Any], must_be_absent: tuple[str, ...], problem: str
) -> None:
    with pytest.raises(local_aws.EmulatorError) as refused:
        local_aws.check_moto(version=local_aws.MOTO_VERSION, internals=internals,
                             must_be_absent=must_be_absent)
    assert "refuses to start" in str(refused.value) and problem in str(refused.value)


def test_serve_refuses_to_start_on_a_version_mismatch() -> None:
    port = free_port()
    refused = subprocess.run(
        [sys.executable, "-c",
         "import sys; from tools import local_aws; local_aws.MOTO_VERSION = '0.0.0'; "
         f"sys.exit(local_aws.main(['serve', '--port', '{port}', '--idle-timeout', '30']))"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode == 2
    assert "refuses to start" in refused.stderr and "0.0.0" in refused.stderr
    assert listening_addresses(port) == set()


# --------------------------------------------------------------------------- lifecycle


def test_listens_on_loopback_only(emulator: Emulator) -> None:
    assert listening_addresses(emulator.port) == {"127.0.0.1"}


def test_status_reports_the_running_emulator(emulator: Emulator) -> None:
    reported = cli("status", "--port", emulator.port, "--pidfile", emulator.pidfile)
    assert reported.returncode == 0
    assert emulator.url in reported.stdout and str(emulator.pid()) in reported.stdout


def test_start_twice_is_a_no_op(emulator: Emulator) -> None:
    pid = emulator.pid()
    again = cli("start", "--port", emulator.port, "--pidfile", emulator.pidfile, "--log", emulator.log)
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert emulator.pid() == pid and local_aws.is_emulator_process(pid)
    assert "serving on" in emulator.log.read_text()  # the running emulator's log was not truncated


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    emulator, started = start_emulator(tmp_path)
    assert started.returncode == 0, started.stderr
    pid = emulator.pid()
    assert local_aws.is_emulator_process(pid)

    stopped = cli("stop", "--pidfile", emulator.pidfile)
    assert stopped.returncode == 0 and f"stopped (pid {pid})" in stopped.stdout
    assert not local_aws.is_emulator_process(pid)
    assert not emulator.pidfile.exists()
    assert not local_aws.answers_as_moto(emulator.port)
    assert listening_addresses(emulator.port) == set()

    again = cli("stop", "--pidfile", emulator.pidfile)
    assert again.returncode == 0 and "not running" in again.stdout
    assert cli("status", "--port", emulator.port, "--pidfile", emulator.pidfile).returncode == 3


def test_stops_itself_when_idle(tmp_path: Path) -> None:
    emulator, started = start_emulator(tmp_path, idle_timeout=2)
    assert started.returncode == 0, started.stderr
    pid = emulator.pid()
    assert wait_until(lambda: not local_aws.is_emulator_process(pid), seconds=30)
    assert not emulator.pidfile.exists()
    assert "no request for 2 s: stopping" in emulator.log.read_text()


def test_start_fails_clearly_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        failed = cli("start", "--port", port, "--pidfile", tmp_path / "moto.pid",
                     "--log", tmp_path / "moto.log")
    assert failed.returncode == 2
    assert "exited with code" in failed.stderr and "in use" in failed.stderr
    assert not (tmp_path / "moto.pid").exists()
