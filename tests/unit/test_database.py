"""Database alone: Aurora PostgreSQL Serverless v2, protected, encrypted, readers spread over the AZs."""

import json

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.rds_cluster import RdsCluster

from lib.config import AURORA_POSTGRES_VERSIONS
from tests.unit.stacks import declare_varying

DEV = dict(min_acu=0.5, max_acu=2.0, reader_count=1, deletion_protection=False, final_snapshot=False)
PROD = dict(min_acu=1.0, max_acu=8.0, reader_count=2, deletion_protection=True, final_snapshot=True)


VARIANTS = declare_varying("database", {"dev": DEV, "prod": PROD})


@pytest.fixture(scope="module")
def variants(construct_variants):
    return construct_variants.views[VARIANTS]


@pytest.fixture(scope="module")
def dev(variants):
    return variants["dev"]


@pytest.fixture(scope="module")
def prod(variants):
    return variants["prod"]


def test_engine_version_exists_and_capacity_is_serverless_v2(dev, prod):
    # seeds 000 #2, 001 #1, 003 #2: 15.3 / 15.4 do not exist ("Cannot find version").
    assert "15.8" in AURORA_POSTGRES_VERSIONS
    for (built, synthesized), inputs in ((dev, DEV), (prod, PROD)):
        assert Testing.to_have_resource_with_properties(
            synthesized.text,
            RdsCluster.TF_RESOURCE_TYPE,
            {
                "engine": "aurora-postgresql",
                "engine_mode": "provisioned",
                "engine_version": "15.8",
                "serverlessv2_scaling_configuration": {
                    "min_capacity": inputs["min_acu"],
                    "max_capacity": inputs["max_acu"],
                },
            },
        )
        instances = [synthesized.body(instance) for instance in built.database.instances]
        assert {instance["instance_class"] for instance in instances} == {"db.serverless"}
        assert len(instances) == 1 + inputs["reader_count"]
    assert synthesized.one("aws_rds_cluster_parameter_group")["family"] == "aurora-postgresql15"


def test_protection_and_final_snapshot_follow_the_inputs(dev, prod):
    # seed 002 #8: backups kept 35 days.
    (_, dev_synth), (_, prod_synth) = dev, prod
    prod_cluster, dev_cluster = prod_synth.one("aws_rds_cluster"), dev_synth.one("aws_rds_cluster")
    assert prod_cluster["deletion_protection"] is True and prod_cluster["skip_final_snapshot"] is False
    assert prod_cluster["final_snapshot_identifier"] == "payments-test-aurora-final"
    assert dev_cluster["deletion_protection"] is False and dev_cluster["skip_final_snapshot"] is True
    assert "final_snapshot_identifier" not in dev_cluster
    assert {prod_cluster["backup_retention_period"], dev_cluster["backup_retention_period"]} == {35}


def test_writer_and_readers_in_different_azs_and_private(prod):
    built, synthesized = prod
    instances = [synthesized.body(instance) for instance in built.database.instances]
    assert len({instance["availability_zone"] for instance in instances}) == len(instances) == 3
    assert [instance["tags"]["Role"] for instance in instances] == ["writer", "reader", "reader"]
    assert all(instance["publicly_accessible"] is False for instance in instances)


def test_cluster_lives_in_the_database_subnets_behind_its_group_and_encrypted(dev):
    built, synthesized = dev
    cluster = synthesized.one("aws_rds_cluster")
    data_key = synthesized.ref(built.keys.data_key.arn)
    assert synthesized.one("aws_db_subnet_group")["subnet_ids"] == synthesized.ref(built.network.database_subnet_ids)
    assert cluster["vpc_security_group_ids"] == [synthesized.ref(built.security_groups.database.id)]
    assert cluster["storage_encrypted"] is True and cluster["kms_key_id"] == data_key
    assert cluster["manage_master_user_password"] is True and cluster["master_user_secret_kms_key_id"] == data_key
    assert "master_password" not in cluster
    assert cluster["enable_http_endpoint"] is True and cluster["iam_database_authentication_enabled"] is True
    assert cluster["enabled_cloudwatch_logs_exports"] == ["postgresql"] and cluster["copy_tags_to_snapshot"] is True
    parameters = {
        p["name"]: (p["value"], p.get("apply_method"))
        for p in synthesized.one("aws_rds_cluster_parameter_group")["parameter"]
    }
    # rds.logical_replication (the reverse slot after the flip) is static: it waits for the writer's reboot.
    assert parameters == {
        "log_statement": ("ddl", None),
        "log_min_duration_statement": ("1000", None),
        "rds.force_ssl": ("1", None),
        "rds.logical_replication": ("1", "pending-reboot"),
    }


def test_instances_have_performance_insights_and_enhanced_monitoring(dev):
    built, synthesized = dev
    role = synthesized.one_of(built.database, "aws_iam_role")
    assert json.loads(role["assume_role_policy"])["Statement"][0]["Principal"] == {
        "Service": synthesized.principal_ref("monitoring.rds")
    }
    for instance in built.database.instances:
        body = synthesized.body(instance)
        assert body["performance_insights_enabled"] is True
        assert body["performance_insights_kms_key_id"] == synthesized.ref(built.keys.data_key.arn)
        assert body["monitoring_interval"] == 60 and body["monitoring_role_arn"].startswith("${aws_iam_role.")
        assert body["auto_minor_version_upgrade"] is True


def test_master_secret_is_the_rds_managed_one(dev):
    built, synthesized = dev
    cluster_arn = synthesized.ref(built.database.cluster.arn)
    assert synthesized.ref(built.database.master_secret_arn) == cluster_arn.replace(
        ".arn}", ".master_user_secret[0].secret_arn}"
    )


def test_aurora_keeps_the_minor_version_aws_upgraded_it_to(dev):
    # Issue 9 #1: auto minor upgrades move engine_version; a plan afterwards must not try to downgrade.
    built, synthesized = dev
    assert synthesized.one("aws_rds_cluster")["lifecycle"] == {"ignore_changes": ["engine_version"]}
    for instance in built.database.instances:
        body = synthesized.body(instance)
        assert body["auto_minor_version_upgrade"] is True
        assert body["lifecycle"] == {"ignore_changes": ["engine_version"]}


def test_the_postgresql_export_group_exists_before_the_cluster(dev):
    # Issue 9 #7: RDS creates /aws/rds/cluster/<id>/postgresql itself, unencrypted and kept forever.
    built, synthesized = dev
    cluster = synthesized.one("aws_rds_cluster")
    [group] = built.database.log_groups
    body = synthesized.body(group)
    assert cluster["enabled_cloudwatch_logs_exports"] == ["postgresql"]
    assert body["name"] == f"/aws/rds/cluster/{cluster['cluster_identifier']}/postgresql"
    assert (body["retention_in_days"], body["kms_key_id"]) == (365, synthesized.ref(built.keys.logs_key.arn))
    assert cluster["depends_on"] == [synthesized.address(group)]


def test_instances_sit_in_the_pinned_zones_of_the_database_subnets(prod):
    # Issue 9 #15: the zone names come from the subnets pinned by zone id, never from the live zone list.
    built, synthesized = prod
    zones = [synthesized.body(instance)["availability_zone"] for instance in built.database.instances]
    subnets = [synthesized.address(subnet) for subnet in built.network.database_subnets]
    assert zones == [f"${{{subnet}.availability_zone}}" for subnet in subnets]
