"""DMS patches (tools/local_aws/dms.py) through boto3."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.emulator.harness import REGION, record_raw_json, unique


@pytest.fixture(scope="module")
def dms_stack(aws: Callable[[str], Any], network: dict[str, Any]) -> dict[str, Any]:
    dms = aws("dms")
    raw = record_raw_json(dms)
    group_id = unique("dms-subnets")
    dms.create_replication_subnet_group(
        ReplicationSubnetGroupIdentifier=group_id,
        ReplicationSubnetGroupDescription="dms subnets",
        SubnetIds=network["subnet_ids"],
        Tags=[{"Key": "team", "Value": "payments"}],
    )
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier=unique("dms"),
        ReplicationInstanceClass="dms.t3.medium",
        ReplicationSubnetGroupIdentifier=group_id,
    )["ReplicationInstance"]
    endpoints = [
        dms.create_endpoint(
            EndpointIdentifier=unique(kind),
            EndpointType=kind,
            EngineName="postgres",
            Username="dms",
            Password="secret-pw",
            ServerName="10.99.0.10",
            Port=5432,
            DatabaseName="payments",
        )["Endpoint"]["EndpointArn"]
        for kind in ("source", "target")
    ]
    task = dms.create_replication_task(
        ReplicationTaskIdentifier=unique("task"),
        MigrationType="full-load-and-cdc",
        ReplicationInstanceArn=instance["ReplicationInstanceArn"],
        SourceEndpointArn=endpoints[0],
        TargetEndpointArn=endpoints[1],
        TableMappings='{"rules": []}',
    )["ReplicationTask"]
    return {"dms": dms, "raw": raw, "group_id": group_id, "instance": instance, "task": task}


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
        ReplicationSubnetGroupIdentifier=group_id,
        ReplicationSubnetGroupDescription="one subnet",
        SubnetIds=network["subnet_ids"][:1],
    )["ReplicationSubnetGroup"]
    assert modified["ReplicationSubnetGroupDescription"] == "one subnet"
    group = dms.describe_replication_subnet_groups(Filters=filters)["ReplicationSubnetGroups"][0]
    assert [s["SubnetIdentifier"] for s in group["Subnets"]] == network["subnet_ids"][:1]


def test_dms_event_subscription_lifecycle_and_tags(aws: Callable[[str], Any], dms_stack: dict[str, Any]) -> None:
    dms, raw, name = dms_stack["dms"], dms_stack["raw"], unique("dms-events")
    task_id = dms_stack["task"]["ReplicationTaskIdentifier"]
    topic_arn = aws("sns").create_topic(Name=unique("dms-events"))["TopicArn"]
    account = aws("sts").get_caller_identity()["Account"]
    arn = f"arn:aws:dms:{REGION}:{account}:es:{name}"
    created = dms.create_event_subscription(
        SubscriptionName=name,
        SnsTopicArn=topic_arn,
        SourceType="replication-task",
        SourceIds=[task_id],
        EventCategories=["failure", "state change"],
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

    modified = dms.modify_event_subscription(SubscriptionName=name, EventCategories=["failure"], Enabled=False)[
        "EventSubscription"
    ]
    assert modified["Status"] == "active" and modified["Enabled"] is False
    assert modified["EventCategoriesList"] == ["failure"] and modified["SnsTopicArn"] == topic_arn

    dms.add_tags_to_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "local"}])
    dms.remove_tags_from_resource(ResourceArn=arn, TagKeys=["team"])
    tags = dms.list_tags_for_resource(ResourceArn=arn)["TagList"]
    assert [(t["Key"], t["Value"], t["ResourceArn"]) for t in tags] == [("env", "local", arn)]

    deleted = dms.delete_event_subscription(SubscriptionName=name)["EventSubscription"]
    assert deleted["CustSubscriptionId"] == name
    assert dms.list_tags_for_resource(ResourceArn=arn)["TagList"] == []
    for not_found in (
        lambda: dms.describe_event_subscriptions(SubscriptionName=name),
        lambda: dms.modify_event_subscription(SubscriptionName=name, Enabled=True),
        lambda: dms.delete_event_subscription(SubscriptionName=name),
    ):
        with pytest.raises(dms.exceptions.ResourceNotFoundFault) as missing:
            not_found()
        assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
