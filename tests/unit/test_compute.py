"""Compute alone: the payments API runs as its own database login; only the migration function, run
by Terraform whenever a migration changes, reaches the master secret."""

import json

import pytest
from cdktf_cdktf_provider_aws.lambda_invocation import LambdaInvocation
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktf_cdktf_provider_aws.secretsmanager_secret_version import SecretsmanagerSecretVersion

from lib import migrations
from tests.unit.stacks import declare_varying

VARIANTS = declare_varying(
    "compute", {"mtls": {"reserved_concurrency": 80, "client_identity": "mtls", "secret_recovery_window_days": 7}}
)


@pytest.fixture(scope="module")
def compute(construct_variants):
    return construct_variants.views[VARIANTS]["mtls"]


def statements_of(synthesized, function):
    return json.loads(synthesized.one_of(function, "aws_iam_role_policy")["policy"])["Statement"]


def resources_by_action(statements, prefixes):
    scoped: dict[str, set[str]] = {}
    for statement in statements:
        for action in statement["Action"]:
            if action.startswith(prefixes):
                resources = statement["Resource"]
                scoped.setdefault(action, set()).update([resources] if isinstance(resources, str) else resources)
    return scoped


def test_payment_api_uses_the_app_secret_and_its_identity_mode(compute):
    built, synthesized = compute
    api = built.compute.payment_api
    assert (api.name, api.short_name) == ("payments-test-payment-api", "payment-api")
    body = synthesized.body(api.function)
    assert body["environment"]["variables"] == {
        "CLIENT_IDENTITY": "mtls",
        "DB_CLUSTER_ARN": synthesized.ref(built.database.cluster.arn),
        "DB_NAME": "payments",
        "DB_SECRET_ARN": synthesized.ref(built.compute.app_secret.arn),
        # its write gate: writes only while the cutover state says Aurora is the writer
        "CUTOVER_STATE_PARAMETER": "/payments-test/cutover/state",
    }
    for value in body["environment"]["variables"].values():
        assert "password" not in value.lower()


def test_payment_api_never_references_the_master_secret(compute):
    built, synthesized = compute
    master = synthesized.ref(built.database.master_secret_arn)
    api = built.compute.payment_api
    assert master not in json.dumps(synthesized.body(api.function))
    assert master not in synthesized.one_of(api, "aws_iam_role_policy")["policy"]


def test_payment_api_has_the_concurrency_the_load_needs(compute):
    # seed 004 #12: 10 concurrent executions throttled 50k transactions a day.
    built, synthesized = compute
    body = synthesized.body(built.compute.payment_api.function)
    assert body["reserved_concurrent_executions"] == 80
    assert (body["timeout"], body["memory_size"]) == (15, 512)


def test_payment_api_runs_single_statements_with_its_own_secret(compute):
    built, synthesized = compute
    scoped = resources_by_action(
        statements_of(synthesized, built.compute.payment_api), ("rds-data:", "secretsmanager:")
    )
    assert scoped == {
        "rds-data:ExecuteStatement": {synthesized.ref(built.database.cluster.arn)},
        "secretsmanager:GetSecretValue": {synthesized.ref(built.compute.app_secret.arn)},
    }


def test_only_the_migration_function_reads_the_master_secret_and_writes_the_logins(compute):
    built, synthesized = compute
    master, app = synthesized.ref(built.database.master_secret_arn), synthesized.ref(built.compute.app_secret.arn)
    cutover = synthesized.ref(built.compute.cutover_secret.arn)
    dms_target = synthesized.ref(built.migration.target_secret_arn)
    migration = built.compute.schema_migrations
    scoped = resources_by_action(statements_of(synthesized, migration), ("rds-data:", "secretsmanager:"))
    cluster = {synthesized.ref(built.database.cluster.arn)}
    assert scoped == {
        "rds-data:ExecuteStatement": cluster,
        "rds-data:BeginTransaction": cluster,
        "rds-data:CommitTransaction": cluster,
        "rds-data:RollbackTransaction": cluster,
        "secretsmanager:GetSecretValue": {master, app, cutover, dms_target},
        "secretsmanager:PutSecretValue": {app, cutover},
    }
    assert synthesized.body(migration.function)["environment"]["variables"] == {
        "APP_SECRET_ARN": app,
        "CUTOVER_SECRET_ARN": cutover,
        "CUTOVER_LOGIN": "payments_test_cutover",
        "CUTOVER_TABLES": "public.payments",
        "DMS_TARGET_SECRET_ARN": dms_target,
        "DB_CLUSTER_ARN": synthesized.ref(built.database.cluster.arn),
        "DB_NAME": "payments",
        "DB_HOST": synthesized.ref(built.database.cluster.endpoint),
        "DB_PORT": synthesized.ref(built.database.cluster.port),
        "MASTER_SECRET_ARN": master,
    }


def test_the_app_and_cutover_secrets_are_created_empty(compute):
    built, synthesized = compute
    secrets = [synthesized.body(built.compute.app_secret), synthesized.body(built.compute.cutover_secret)]
    assert [(secret["name"], secret["recovery_window_in_days"]) for secret in secrets] == [
        ("payments-test/aurora/payment-api", 7),
        ("payments-test/aurora/cutover", 7),
    ]
    for secret in secrets:
        assert secret["kms_key_id"] == synthesized.ref(built.keys.data_key.arn)
        assert {"secret_string", "secret_binary"}.isdisjoint(secret)
    assert synthesized.resources(SecretsmanagerSecretVersion.TF_RESOURCE_TYPE) == {}
    assert synthesized.of(built.compute, SecretsmanagerSecret.TF_RESOURCE_TYPE) == secrets


def test_the_migration_run_is_keyed_on_the_migrations_and_waits_for_the_writer(compute):
    built, synthesized = compute
    run = synthesized.one(LambdaInvocation.TF_RESOURCE_TYPE)
    digest = migrations.digest()
    assert json.loads(run["input"]) == {"migrations_sha256": digest}
    assert run["triggers"] == {
        "migrations_sha256": digest,
        "cluster": synthesized.ref(built.database.cluster.cluster_resource_id),
        "app_secret": synthesized.ref(built.compute.app_secret.arn),
        "cutover_secret": synthesized.ref(built.compute.cutover_secret.arn),
    }
    assert run["function_name"] == synthesized.ref(built.compute.schema_migrations.function.function_name)
    writer_instance = built.database.instances[0]
    writer = f"{writer_instance.terraform_resource_type}.{synthesized.stack.get_logical_id(writer_instance)}"
    assert writer in run["depends_on"]
    assert "lifecycle_scope" not in run  # CREATE_ONLY: invoked on create (a trigger change), never on plan or destroy


def test_the_api_is_deployed_after_the_migration_run(compute):
    built, synthesized = compute
    run = built.compute.migration_run
    address = f"{run.terraform_resource_type}.{synthesized.stack.get_logical_id(run)}"
    assert address in synthesized.body(built.compute.payment_api.function)["depends_on"]


def test_the_migration_function_has_time_for_the_lock_and_the_statements(compute):
    built, synthesized = compute
    body = synthesized.body(built.compute.schema_migrations.function)
    assert body["timeout"] == 300
    assert body["handler"] == "handler.handler" and body["runtime"] == "python3.12"
