"""Compute alone: the payments API function reaches its database through the Data API and nothing else."""

import json

import pytest

from tests.unit.stacks import built_through


@pytest.fixture(scope="module")
def compute():
    return built_through("compute", compute={"reserved_concurrency": 80})


def test_payment_api_is_wired_to_the_cluster_and_its_secret(compute):
    built, synthesized = compute
    api = built.compute.payment_api
    assert (api.name, api.short_name) == ("payments-test-payment-api", "payment-api")
    body = synthesized.body(api.function)
    assert body["environment"]["variables"] == {
        "DB_CLUSTER_ARN": synthesized.ref(built.database.cluster.arn),
        "DB_NAME": "payments",
        "DB_SECRET_ARN": synthesized.ref(built.database.master_secret_arn)}
    for value in body["environment"]["variables"].values():
        assert "password" not in value.lower()


def test_payment_api_has_the_concurrency_the_load_needs(compute):
    # seed 004 #12: 10 concurrent executions throttled 50k transactions a day.
    built, synthesized = compute
    body = synthesized.body(built.compute.payment_api.function)
    assert body["reserved_concurrent_executions"] == 80
    assert (body["timeout"], body["memory_size"]) == (15, 512)


def test_data_access_is_scoped_to_the_cluster_and_the_master_secret(compute):
    built, synthesized = compute
    statements = json.loads(synthesized.one_of(built.compute, "aws_iam_role_policy")["policy"])["Statement"]
    scoped = {action: statement["Resource"] for statement in statements for action in statement["Action"]
              if action.startswith(("rds-data:", "secretsmanager:"))}
    assert set(scoped) == {"rds-data:ExecuteStatement", "rds-data:BatchExecuteStatement",
                           "rds-data:BeginTransaction", "rds-data:CommitTransaction",
                           "rds-data:RollbackTransaction", "secretsmanager:GetSecretValue"}
    assert scoped.pop("secretsmanager:GetSecretValue") == synthesized.ref(built.database.master_secret_arn)
    assert set(scoped.values()) == {synthesized.ref(built.database.cluster.arn)}
