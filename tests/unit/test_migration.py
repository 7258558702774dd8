"""Migration alone: DMS full load + CDC from on-premises into Aurora, credentials only in Secrets Manager."""

import json

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.dms_replication_instance import DmsReplicationInstance

from lib.constructs.migration import table_mappings
from tests.unit.stacks import declare_varying

SOURCE_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:onprem-AbCdEf"


MIGRATION_INPUTS = {
    "local": {},
    # Prod-like: Multi-AZ, the account already has the DMS roles, the source secret exists.
    "account_owned": {
        "multi_az": True,
        "create_service_roles": False,
        "source_secret_arn": SOURCE_SECRET,
        "instance_class": "dms.r5.large",
        "table_patterns": ("public.%", "billing.invoices"),
    },
}


VARIANTS = declare_varying(
    "migration", {variant: {"source_database": "onprem", **inputs} for variant, inputs in MIGRATION_INPUTS.items()}
)


@pytest.fixture(scope="module")
def variants(construct_variants):
    return construct_variants.views[VARIANTS]


@pytest.fixture(scope="module")
def local(variants):
    return variants["local"]


@pytest.fixture(scope="module")
def account_owned(variants):
    return variants["account_owned"]


def test_service_roles_keep_their_exact_names_and_are_created_only_when_asked(local, account_owned):
    # seed 004 #6: suffixing dms-vpc-role breaks DMS, which looks it up by name.
    built, synthesized = local
    roles = {role["name"]: role for role in synthesized.of(built.migration, "aws_iam_role")}
    assert {"dms-vpc-role", "dms-cloudwatch-logs-role"} <= set(roles)
    assert json.loads(roles["dms-vpc-role"]["assume_role_policy"])["Statement"][0]["Principal"] == {
        "Service": synthesized.principal_ref("dms")
    }
    built, synthesized = account_owned
    assert [role["name"] for role in synthesized.of(built.migration, "aws_iam_role")] == ["payments-test-dms-secrets"]


def test_subnet_group_waits_for_the_vpc_role_only_when_created_here(local, account_owned):
    built, synthesized = local
    group = synthesized.one("aws_dms_replication_subnet_group")
    attachments = {
        f"aws_iam_role_policy_attachment.{name}"
        for name, attachment in synthesized.resources("aws_iam_role_policy_attachment").items()
        if "AmazonDMSVPCManagementRole" in attachment["policy_arn"]
    }
    assert attachments and attachments <= set(group["depends_on"])
    assert group["subnet_ids"] == synthesized.ref(built.network.private_subnet_ids)
    _, synthesized = account_owned
    assert "depends_on" not in synthesized.one("aws_dms_replication_subnet_group")


def test_instance_is_private_encrypted_and_multi_az_when_asked(local, account_owned):
    # seed 004 #14: single-AZ replication instance.
    for (built, synthesized), multi_az in ((local, False), (account_owned, True)):
        assert Testing.to_have_resource_with_properties(
            synthesized.text,
            DmsReplicationInstance.TF_RESOURCE_TYPE,
            {
                "multi_az": multi_az,
                "publicly_accessible": False,
                "engine_version": "3.6.1",
                "kms_key_arn": synthesized.ref(built.keys.data_key.arn),
                "vpc_security_group_ids": [synthesized.ref(built.security_groups.dms.id)],
            },
        )
    assert account_owned[1].one("aws_dms_replication_instance")["replication_instance_class"] == "dms.r5.large"


def test_instance_keeps_the_minor_version_aws_upgraded_it_to(local):
    # Issue 9 #1: auto minor upgrades move engine_version; a plan afterwards must not try to downgrade.
    _, synthesized = local
    instance = synthesized.one("aws_dms_replication_instance")
    assert instance["auto_minor_version_upgrade"] is True
    assert instance["lifecycle"] == {"ignore_changes": ["engine_version"]}


def test_the_task_log_group_exists_before_dms_would_create_it(local):
    # Issue 9 #7: DMS creates dms-tasks-<instance id> itself, unencrypted and kept forever.
    built, synthesized = local
    group = synthesized.body(built.migration.task_log_group)
    assert group["name"] == "dms-tasks-payments-test-dms"
    assert group["name"] == "dms-tasks-" + synthesized.one("aws_dms_replication_instance")["replication_instance_id"]
    assert (group["retention_in_days"], group["kms_key_id"]) == (365, synthesized.ref(built.keys.logs_key.arn))
    assert (
        synthesized.address(built.migration.task_log_group)
        in synthesized.one("aws_dms_replication_instance")["depends_on"]
    )


def test_endpoint_secrets_role_is_for_dms_acting_for_this_account(local):
    built, synthesized = local
    [role] = [role for role in synthesized.of(built.migration, "aws_iam_role") if role["name"].endswith("-secrets")]
    [trust] = json.loads(role["assume_role_policy"])["Statement"]
    assert trust["Principal"] == {"Service": synthesized.principal_ref("dms", "id")}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_task_is_full_load_and_cdc_with_validation_and_not_started(local):
    built, synthesized = local
    task = synthesized.body(built.migration.task)
    assert task["migration_type"] == "full-load-and-cdc" and task["start_replication_task"] is False
    settings = json.loads(task["replication_task_settings"])
    assert settings["ValidationSettings"]["EnableValidation"] is True
    assert settings["Logging"]["EnableLogging"] is True
    assert settings["FullLoadSettings"]["TargetTablePrepMode"] == "DO_NOTHING"
    assert json.loads(task["table_mappings"])["rules"] == [
        {
            "rule-type": "selection",
            "rule-id": "1",
            "rule-name": "include-1",
            "object-locator": {"schema-name": "public", "table-name": "%"},
            "rule-action": "include",
        }
    ]


def test_every_table_pattern_becomes_a_selection_rule():
    rules = json.loads(table_mappings(("public.%", "billing.invoices")))["rules"]
    assert [(rule["rule-id"], rule["object-locator"]) for rule in rules] == [
        ("1", {"schema-name": "public", "table-name": "%"}),
        ("2", {"schema-name": "billing", "table-name": "invoices"}),
    ]


def test_endpoints_read_credentials_from_secrets_manager_only(local):
    # seeds 002 #6, 003 #6: credentials in code; only Secrets Manager references are allowed.
    built, synthesized = local
    migration = built.migration
    source, target = synthesized.body(migration.source_endpoint), synthesized.body(migration.target_endpoint)
    assert (source["engine_name"], source["database_name"]) == ("postgres", "onprem")
    assert (target["engine_name"], target["database_name"]) == ("aurora-postgresql", "payments")
    assert target["tags"] == {"Host": synthesized.ref(built.database.cluster.endpoint)}
    for endpoint in (source, target):
        assert "password" not in endpoint and "username" not in endpoint
        assert endpoint["secrets_manager_arn"].startswith("${aws_secretsmanager_secret.")
        assert endpoint["ssl_mode"] == "require"
    assert not synthesized.resources("aws_secretsmanager_secret_version")


def test_secrets_role_uses_the_regional_principal_and_reads_only_the_endpoint_secrets(local):
    built, synthesized = local
    role = next(
        role for role in synthesized.of(built.migration, "aws_iam_role") if role["name"] == "payments-test-dms-secrets"
    )
    assert json.loads(role["assume_role_policy"])["Statement"][0]["Principal"] == {
        "Service": synthesized.principal_ref("dms", "id")
    }
    read, decrypt = json.loads(synthesized.one_of(built.migration, "aws_iam_role_policy")["policy"])["Statement"]
    migration = built.migration
    assert read["Resource"] == [
        synthesized.ref(arn)
        for arn in (
            migration.source_secret_arn,
            migration.target_secret_arn,
            migration.reverse_source_secret_arn,
            migration.reverse_target_secret_arn,
        )
    ]
    assert decrypt == {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": synthesized.ref(built.keys.data_key.arn)}


def test_an_existing_source_secret_is_used_instead_of_a_new_one(account_owned):
    built, synthesized = account_owned
    assert sorted(secret["name"] for secret in synthesized.resources("aws_secretsmanager_secret").values()) == [
        "payments-test/dms/aurora-reverse-source",
        "payments-test/dms/aurora-target",
        "payments-test/dms/onprem-reverse-target",
    ]
    assert synthesized.body(built.migration.source_endpoint)["secrets_manager_arn"] == SOURCE_SECRET
    assert len(json.loads(synthesized.body(built.migration.task)["table_mappings"])["rules"]) == 2


def test_task_resource_id_is_the_last_part_of_the_task_arn(local):
    built, synthesized = local
    task_arn = synthesized.ref(built.migration.task.replication_task_arn)
    assert synthesized.ref(built.migration.task_resource_id) == '${element(split(":", ' + task_arn[2:-1] + "), 6)}"


@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_both_tasks_apply_in_order_stop_on_any_error_and_validate(local, direction):
    # Issue 11 #5: a payments table never skips a row; the reverse task replicates no DDL.
    built, synthesized = local
    task = synthesized.body(built.migration.task if direction == "forward" else built.migration.reverse_task)
    text = task["replication_task_settings"]
    settings = json.loads(text)
    assert text == json.dumps(settings, sort_keys=True), "canonical (sorted) JSON, so plans compare it unchanged"
    assert settings["TargetMetadata"]["BatchApplyEnabled"] is False
    assert settings["ValidationSettings"]["EnableValidation"] is True
    errors = settings["ErrorBehavior"]
    assert {
        errors[policy]
        for policy in (
            "ApplyErrorDeletePolicy",
            "ApplyErrorInsertPolicy",
            "ApplyErrorUpdatePolicy",
            "ApplyErrorEscalationPolicy",
            "DataErrorPolicy",
            "TableErrorPolicy",
        )
    } == {"STOP_TASK"}
    ddl = settings.get("ChangeProcessingDdlHandlingPolicy")
    if direction == "reverse":
        assert ddl == {
            "HandleSourceTableAltered": False,
            "HandleSourceTableDropped": False,
            "HandleSourceTableTruncated": False,
        }
    else:
        assert ddl is None


def test_the_reverse_task_is_cdc_only_from_aurora_and_never_started_by_terraform(local):
    built, synthesized = local
    migration = built.migration
    task = synthesized.body(migration.reverse_task)
    assert (task["replication_task_id"], task["migration_type"], task["start_replication_task"]) == (
        "payments-test-reverse-cdc",
        "cdc",
        False,
    )
    assert "cdc_start_position" not in task and "cdc_start_time" not in task
    assert task["source_endpoint_arn"] == synthesized.ref(migration.reverse_source_endpoint.endpoint_arn)
    assert task["target_endpoint_arn"] == synthesized.ref(migration.reverse_target_endpoint.endpoint_arn)
    assert json.loads(task["table_mappings"])["rules"] == [
        {
            "rule-type": "selection",
            "rule-id": "1",
            "rule-name": "include-1",
            "object-locator": {"schema-name": "public", "table-name": "payments"},
            "rule-action": "include",
        }
    ]
    source = synthesized.body(migration.reverse_source_endpoint)
    assert (source["endpoint_type"], source["engine_name"], source["database_name"]) == (
        "source",
        "aurora-postgresql",
        "payments",
    )
    assert source["postgres_settings"] == {
        "slot_name": "payments_test_reverse",
        "plugin_name": "test_decoding",
        "capture_ddls": False,
    }
    assert source["secrets_manager_arn"] == synthesized.ref(migration.reverse_source_secret_arn)
    target = synthesized.body(migration.reverse_target_endpoint)
    assert (target["endpoint_type"], target["engine_name"], target["database_name"]) == ("target", "postgres", "onprem")
    assert target["secrets_manager_arn"] == synthesized.ref(migration.reverse_target_secret_arn)
    for endpoint in (source, target):
        assert endpoint["ssl_mode"] == "require" and "password" not in endpoint
