"""Aurora and DMS: one test per seed failure of the data tier."""

import json
import re
from pathlib import Path

from lib.config import AURORA_POSTGRES_VERSIONS

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_aurora_engine_version_exists(dev, prod):
    # seeds 000 #2, 001 #1, 003 #2: 15.3 / 15.4 do not exist ("Cannot find version").
    for profile in (dev, prod):
        cluster = profile.one("aws_rds_cluster")
        assert cluster["engine"] == "aurora-postgresql"
        assert cluster["engine_version"] in AURORA_POSTGRES_VERSIONS
    assert prod.one("aws_rds_cluster")["engine_version"] == "15.10"


def test_serverless_v2_capacity_per_profile(dev, prod):
    # seed 004 #9: 0.5 ACU minimum is too low for production payments.
    assert prod.one("aws_rds_cluster")["serverlessv2_scaling_configuration"] == {
        "min_capacity": 1.0, "max_capacity": 8.0}
    assert dev.one("aws_rds_cluster")["serverlessv2_scaling_configuration"] == {
        "min_capacity": 0.5, "max_capacity": 2.0}
    for profile in (dev, prod):
        assert profile.one("aws_rds_cluster")["engine_mode"] == "provisioned"
        assert {instance["instance_class"] for instance in profile.resources("aws_rds_cluster_instance").values()} == {
            "db.serverless"}


def test_backups_kept_35_days(dev, prod):
    # seed 002 #8: 7-day backups are too short for financial data.
    assert prod.one("aws_rds_cluster")["backup_retention_period"] == 35
    assert dev.one("aws_rds_cluster")["backup_retention_period"] == 35


def test_prod_is_protected_and_dev_is_destroyable(dev, prod):
    prod_cluster, dev_cluster = prod.one("aws_rds_cluster"), dev.one("aws_rds_cluster")
    assert prod_cluster["deletion_protection"] is True
    assert prod_cluster["skip_final_snapshot"] is False and prod_cluster["final_snapshot_identifier"]
    assert dev_cluster["deletion_protection"] is False and dev_cluster["skip_final_snapshot"] is True


def test_writer_and_reader_in_different_azs(prod):
    instances = list(prod.resources("aws_rds_cluster_instance").values())
    assert len(instances) >= 2
    assert len({instance["availability_zone"] for instance in instances}) == len(instances)
    assert all(instance["publicly_accessible"] is False for instance in instances)


def test_cluster_security_and_operations_settings(dev):
    cluster = dev.one("aws_rds_cluster")
    assert cluster["storage_encrypted"] is True and cluster["kms_key_id"].startswith("${aws_kms_key.")
    assert cluster["manage_master_user_password"] is True
    assert cluster["master_user_secret_kms_key_id"].startswith("${aws_kms_key.")
    assert cluster["enable_http_endpoint"] is True
    assert cluster["iam_database_authentication_enabled"] is True
    assert cluster["enabled_cloudwatch_logs_exports"] == ["postgresql"]
    assert cluster["copy_tags_to_snapshot"] is True
    for instance in dev.resources("aws_rds_cluster_instance").values():
        assert instance["performance_insights_enabled"] is True
        assert instance["performance_insights_kms_key_id"].startswith("${aws_kms_key.")
        assert instance["monitoring_interval"] == 60 and instance["monitoring_role_arn"]
        assert instance["auto_minor_version_upgrade"] is True
    parameters = {p["name"]: p["value"] for p in dev.one("aws_rds_cluster_parameter_group")["parameter"]}
    assert parameters["log_statement"] == "ddl"


def _keyed_strings(node, key=""):
    """Every (key, string value) pair in the JSON tree; list items inherit their key."""
    if isinstance(node, dict):
        for child_key, value in node.items():
            yield from _keyed_strings(value, child_key)
    elif isinstance(node, list):
        for item in node:
            yield from _keyed_strings(item, key)
    elif isinstance(node, str):
        yield key, node


def test_no_plaintext_password_anywhere(synth_all):
    # seeds 002 #6, 003 #6: credentials in code; only Secrets Manager references are allowed.
    for profile in synth_all.values():
        for key, value in _keyed_strings(profile.json):
            if "password" in key.lower():
                assert value.startswith("${") or key == "manage_master_user_password", (key, value)
        assert not profile.resources("aws_secretsmanager_secret_version")
        for endpoint in profile.resources("aws_dms_endpoint").values():
            assert "password" not in endpoint and "username" not in endpoint
            assert endpoint["secrets_manager_arn"].startswith("${")


def test_no_stub_rotation_code_anywhere():
    # seeds 002 #6, 003 #6: rotation Lambdas with `pass` bodies. RDS rotates the managed secret.
    for source in (PROJECT_ROOT / "lib").rglob("*.py"):
        text = source.read_text()
        assert not re.search(r"def (create|set|test|finish)_secret\b", text), source
        assert not re.search(r"^\s*pass\s*$", text, re.MULTILINE), source


def test_dms_service_roles_keep_their_exact_names(dev):
    # seed 004 #6: suffixing dms-vpc-role breaks DMS, which looks it up by name.
    names = {role["name"] for role in dev.resources("aws_iam_role").values()}
    assert {"dms-vpc-role", "dms-cloudwatch-logs-role"} <= names
    assert not [name for name in names if name.startswith("dms-vpc-role") and name != "dms-vpc-role"]


def test_dms_subnet_group_waits_for_the_vpc_role_when_created_here(dev, synth_all):
    group = dev.one("aws_dms_replication_subnet_group")
    attachments = {f"aws_iam_role_policy_attachment.{key}" for key, attachment in
                   dev.resources("aws_iam_role_policy_attachment").items()
                   if "AmazonDMSVPCManagementRole" in attachment["policy_arn"]}
    assert attachments and attachments <= set(group["depends_on"])
    external = synth_all["aws_s3_backend"]
    assert "dms-vpc-role" not in {role["name"] for role in external.resources("aws_iam_role").values()}
    assert "depends_on" not in external.one("aws_dms_replication_subnet_group")


def test_dms_instance_is_multi_az_in_prod_and_private(dev, prod):
    # seed 004 #14: single-AZ replication instance.
    assert prod.one("aws_dms_replication_instance")["multi_az"] is True
    assert dev.one("aws_dms_replication_instance")["multi_az"] is False
    for profile in (dev, prod):
        instance = profile.one("aws_dms_replication_instance")
        assert instance["publicly_accessible"] is False
        assert instance["kms_key_arn"].startswith("${aws_kms_key.")
        assert instance["engine_version"] == "3.6.1"


def test_replication_task_is_full_load_and_cdc_with_validation(dev):
    task = dev.one("aws_dms_replication_task")
    assert task["migration_type"] == "full-load-and-cdc"
    assert task["start_replication_task"] is False
    settings = json.loads(task["replication_task_settings"])
    assert settings["ValidationSettings"]["EnableValidation"] is True
    assert settings["Logging"]["EnableLogging"] is True
    rules = json.loads(task["table_mappings"])["rules"]
    assert rules == [{"rule-type": "selection", "rule-id": "1", "rule-name": "include-1",
                      "object-locator": {"schema-name": "public", "table-name": "%"},
                      "rule-action": "include"}]


def test_dms_endpoints_read_credentials_from_secrets_manager(dev):
    endpoints = {endpoint["endpoint_type"]: endpoint for endpoint in dev.resources("aws_dms_endpoint").values()}
    assert endpoints["source"]["engine_name"] == "postgres"
    assert endpoints["target"]["engine_name"] == "aurora-postgresql"
    role = next(role for role in dev.resources("aws_iam_role").values() if role["name"].endswith("-dms-secrets"))
    assert "dms.us-east-1.amazonaws.com" in role["assume_role_policy"]
    policy = json.loads(next(policy for policy in dev.resources("aws_iam_role_policy").values()
                             if policy["name"] == "read-endpoint-secrets")["policy"])
    resources = policy["Statement"][0]["Resource"]
    assert len(resources) == 2 and all(arn.startswith("${aws_secretsmanager_secret.") for arn in resources)


def test_data_outputs_exist(dev):
    for name in ("aurora_cluster_endpoint", "aurora_reader_endpoint", "aurora_cluster_arn",
                 "aurora_cluster_identifier", "aurora_master_secret_arn", "aurora_database_name",
                 "dms_replication_instance_arn", "dms_replication_task_arn", "dms_source_endpoint_arn",
                 "dms_target_endpoint_arn"):
        assert name in dev.outputs
