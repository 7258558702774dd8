"""RDS patches (tools/local_aws/rds.py) through boto3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.emulator.harness import unique


@pytest.fixture(scope="module")
def aurora(aws: Callable[[str], Any], network: dict[str, Any]) -> dict[str, Any]:
    rds = aws("rds")
    key_arn = aws("kms").create_key(Description="performance insights")["KeyMetadata"]["Arn"]
    subnet_group = unique("db")
    rds.create_db_subnet_group(
        DBSubnetGroupName=subnet_group, DBSubnetGroupDescription="db", SubnetIds=network["subnet_ids"]
    )
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=unique("aurora"),
        Engine="aurora-postgresql",
        EngineVersion="15.8",
        EngineMode="provisioned",
        MasterUsername="payments_admin",
        ManageMasterUserPassword=True,
        DBSubnetGroupName=subnet_group,
        EnableHttpEndpoint=True,
        ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 2},
        EnablePerformanceInsights=True,
        PerformanceInsightsKMSKeyId=key_arn,
        PerformanceInsightsRetentionPeriod=31,
    )["DBCluster"]
    instance = rds.create_db_instance(
        DBInstanceIdentifier=unique("aurora-1"),
        DBClusterIdentifier=cluster["DBClusterIdentifier"],
        Engine="aurora-postgresql",
        DBInstanceClass="db.serverless",
        EnablePerformanceInsights=True,
        PerformanceInsightsKMSKeyId=key_arn,
        PerformanceInsightsRetentionPeriod=7,
    )["DBInstance"]
    return {"rds": rds, "key_arn": key_arn, "cluster": cluster, "instance": instance}


def describe_cluster(aurora: dict[str, Any]) -> dict[str, Any]:
    return aurora["rds"].describe_db_clusters(DBClusterIdentifier=aurora["cluster"]["DBClusterIdentifier"])[
        "DBClusters"
    ][0]


def test_rds_performance_insights_settings_are_returned(aurora: dict[str, Any]) -> None:
    cluster = describe_cluster(aurora)
    instance = aurora["rds"].describe_db_instances(DBInstanceIdentifier=aurora["instance"]["DBInstanceIdentifier"])[
        "DBInstances"
    ][0]
    for described, retention in ((cluster, 31), (instance, 7)):
        assert described.get("PerformanceInsightsEnabled") is True
        assert described.get("PerformanceInsightsKMSKeyId") == aurora["key_arn"]
        assert described.get("PerformanceInsightsRetentionPeriod") == retention

    aurora["rds"].modify_db_instance(
        DBInstanceIdentifier=instance["DBInstanceIdentifier"], EnablePerformanceInsights=False, ApplyImmediately=True
    )
    instance = aurora["rds"].describe_db_instances(DBInstanceIdentifier=instance["DBInstanceIdentifier"])[
        "DBInstances"
    ][0]
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
