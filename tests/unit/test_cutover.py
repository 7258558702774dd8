"""Cutover alone: validator, shifter and rollback wired to the records, the task and the readiness metric."""

import ast
import json
from datetime import UTC, datetime

import pytest

from lib.constructs.cutover import DATA_API_CALLS, READINESS_MAX_AGE_SECONDS, cutover_state_module
from lib.constructs.function import LAMBDA_SOURCE_ROOT
from tests.unit.stacks import METRIC_NAMESPACE, declare_variants

cutover_state = cutover_state_module()


def _cutover_ops_constant(name):
    """A tuple constant of lib/lambda/shared/cutover_ops.py (read, not imported: it needs the Lambda's path)."""
    tree = ast.parse((LAMBDA_SOURCE_ROOT / "shared" / "cutover_ops.py").read_text())
    [value] = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == name for target in node.targets)
    ]
    return ast.literal_eval(value)


VARIANTS: dict[str, dict[str, dict]] = {
    "default": {"cutover": {"ready_metric_name": "Ready", "cdc_latency_threshold_seconds": 120}},
    "with_legacy": {
        "cutover": {"ready_metric_name": "Ready", "max_pause_seconds": 30},
        "load_balancer": {"legacy_write_ips": ("192.168.50.10",)},
    },
    # As the local runtime configures it: a reverse slot decoded through a publication, a short DNS hold.
    "local_runtime": {
        "cutover": {
            "reverse_slot_plugin": "pgoutput",
            "reverse_publication": "payments_test_reverse_tables",
            "dns_hold_seconds": 5,
        }
    },
    "hostname_legacy": {"dns": {"legacy_endpoint": "legacy.example.com", "new_weight": 0}},
}


VARIANT_SET = declare_variants("cutover", "cutover", VARIANTS)


@pytest.fixture(scope="module")
def variants(construct_variants):
    return construct_variants.views[VARIANT_SET]


@pytest.fixture(scope="module")
def cutover(variants):
    return variants["default"]


def _environment(synthesized, function):
    return synthesized.body(function.function)["environment"]["variables"]


def _statements(synthesized, function):
    return json.loads(synthesized.one_of(function, "aws_iam_role_policy")["policy"])["Statement"]


def test_three_functions_named_by_their_role(cutover):
    built, _ = cutover
    assert [function.name for function in built.cutover.functions] == [
        "payments-test-migration-validator",
        "payments-test-traffic-shifter",
        "payments-test-rollback",
    ]
    assert (built.cutover.metric_namespace, built.cutover.ready_metric_name) == (METRIC_NAMESPACE, "Ready")


def test_validator_reads_the_task_and_publishes_readiness_in_its_namespace(cutover):
    built, synthesized = cutover
    assert _environment(synthesized, built.cutover.validator) == {
        "ALERT_TOPIC_ARN": synthesized.ref(built.alerting.alerts.arn),
        "CDC_LATENCY_THRESHOLD_SECONDS": "120",
        "METRIC_NAMESPACE": METRIC_NAMESPACE,
        "READY_METRIC_NAME": "Ready",
        "REPLICATION_INSTANCE_ID": synthesized.ref(built.migration.instance.replication_instance_id),
        "REPLICATION_TASK_ARN": synthesized.ref(built.migration.task.replication_task_arn),
    }
    put_metric = next(
        s for s in _statements(synthesized, built.cutover.validator) if s["Action"] == ["cloudwatch:PutMetricData"]
    )
    assert put_metric["Condition"] == {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}}
    assert synthesized.body(built.cutover.validator.function)["timeout"] == 60


def _cutover_environment(synthesized, built, **extra):
    database, migration, balancer = built.database, built.migration, built.load_balancer
    return {
        "HOSTED_ZONE_ID": synthesized.ref(built.dns.zone_id),
        "RECORD_NAME": built.dns.record_name,
        "NEW_SET_IDENTIFIER": "new",
        "LEGACY_SET_IDENTIFIER": "legacy",
        "CRITICAL_ALARM_PREFIX": "payments-test-critical-",
        "METRIC_NAMESPACE": METRIC_NAMESPACE,
        "READY_METRIC_NAME": "Ready",
        "READINESS_MAX_AGE_SECONDS": str(READINESS_MAX_AGE_SECONDS),
        "CUTOVER_STATE_PARAMETER": synthesized.ref(built.cutover.state.name),
        "WRITE_RULE_ARN": synthesized.ref(balancer.write_rule.arn),
        "API_TARGET_GROUP_ARN": synthesized.ref(balancer.target_group.arn),
        "FORWARD_TASK_ARN": synthesized.ref(migration.task.replication_task_arn),
        "REVERSE_TASK_ARN": synthesized.ref(migration.reverse_task.replication_task_arn),
        "REPLICATION_INSTANCE_ID": synthesized.ref(migration.instance.replication_instance_id),
        "DB_CLUSTER_ARN": synthesized.ref(database.cluster.arn),
        "DB_SECRET_ARN": synthesized.ref(built.compute.cutover_secret.arn),
        "DB_NAME": "payments",
        "CUTOVER_TABLES": "public.payments",
        "REVERSE_SLOT_NAME": "payments_test_reverse",
        "REVERSE_SLOT_PLUGIN": "test_decoding",
        "ALERT_TOPIC_ARN": synthesized.ref(built.alerting.alerts.arn),
        "CUTOVER_MAX_PAUSE_SECONDS": "20",
        **extra,
    }


def test_driver_and_rollback_get_every_variable_the_cutover_code_reads(cutover):
    built, synthesized = cutover
    for function in (built.cutover.shifter, built.cutover.rollback):
        assert _environment(synthesized, function) == _cutover_environment(synthesized, built)
        # The cutover state relies on one invocation at a time per function (cutover_store.py).
        assert synthesized.body(function.function)["reserved_concurrent_executions"] == 1
    # driver >= max pause + 30 s; rollback >= 2 x max pause + 30 s (it may wait for a flip's pause first)
    assert synthesized.body(built.cutover.shifter.function)["timeout"] == 80
    assert synthesized.body(built.cutover.rollback.function)["timeout"] == 100


def test_the_variables_satisfy_the_cutover_code_that_reads_them(cutover):
    built, synthesized = cutover
    names = set(_environment(synthesized, built.cutover.shifter))
    assert set(_cutover_ops_constant("BASE_VARIABLES")) <= names
    assert set(_cutover_ops_constant("LEGACY_VARIABLES")) <= names


def test_with_legacy_the_legacy_target_group_makes_legacy_the_first_writer(variants):
    built, synthesized = variants["with_legacy"]
    variables = _environment(synthesized, built.cutover.shifter)
    assert variables == _cutover_environment(
        synthesized,
        built,
        CUTOVER_MAX_PAUSE_SECONDS="30",
        LEGACY_TARGET_GROUP_ARN=synthesized.ref(built.load_balancer.legacy_target_group.arn),
    )
    assert synthesized.body(built.cutover.shifter.function)["timeout"] == 90
    assert synthesized.body(built.cutover.rollback.function)["timeout"] == 120
    state = json.loads(synthesized.body(built.cutover.state)["value"])
    assert (state["phase"], state["writer"], state["seq"]) == ("legacy-writer", "legacy", 0)


def test_the_state_parameter_starts_with_the_code_s_initial_state_and_is_owned_by_the_cutover(cutover):
    built, synthesized = cutover
    parameter = synthesized.body(built.cutover.state)
    assert (parameter["name"], parameter["type"]) == ("/payments-test/cutover/state", "String")
    # Terraform writes the first state only: the cutover owns the value after it.
    assert parameter["lifecycle"] == {"ignore_changes": ["value"]}
    state = cutover_state.parse(parameter["value"])
    assert (state["phase"], state["writer"]) == ("aurora-writer", "aurora")  # no legacy system: Aurora writes
    assert parameter["value"] == cutover_state.render(
        cutover_state.initial_state("aurora", datetime(2000, 1, 1, tzinfo=UTC))
    )


def test_the_local_emulator_decodes_the_reverse_slot_through_a_publication(variants):
    built, synthesized = variants["local_runtime"]
    variables = _environment(synthesized, built.cutover.rollback)
    assert (variables["REVERSE_SLOT_PLUGIN"], variables["REVERSE_PUBLICATION"]) == (
        "pgoutput",
        "payments_test_reverse_tables",
    )


def test_a_dns_hold_given_to_the_construct_reaches_driver_and_rollback(variants):
    built, synthesized = variants["local_runtime"]
    for function in (built.cutover.shifter, built.cutover.rollback):
        assert _environment(synthesized, function)["DNS_HOLD_SECONDS"] == "5"


def test_cutover_grants_name_the_resources_by_reference(cutover):
    built, synthesized = cutover
    migration, balancer, database = built.migration, built.load_balancer, built.database
    state_arn = synthesized.ref(built.cutover.state.arn)
    tasks = [
        synthesized.ref(migration.task.replication_task_arn),
        synthesized.ref(migration.reverse_task.replication_task_arn),
    ]
    for function in (built.cutover.shifter, built.cutover.rollback):
        granted = {
            tuple(s["Action"]) if isinstance(s["Action"], list) else (s["Action"],): s["Resource"]
            for s in _statements(synthesized, function)
        }
        assert granted[("ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter", "ssm:DeleteParameters")] == [
            state_arn,
            f"{state_arn}-claim-*",
        ]
        assert granted[("elasticloadbalancing:ModifyRule",)] == synthesized.ref(balancer.write_rule.arn)
        assert granted[("dms:DescribeTableStatistics", "dms:StartReplicationTask", "dms:StopReplicationTask")] == tasks
        assert granted[tuple(DATA_API_CALLS)] == synthesized.ref(database.cluster.arn)
        # its own login's secret, which schema_migrations writes; never the master secret
        assert granted[("secretsmanager:GetSecretValue",)] == synthesized.ref(built.compute.cutover_secret.arn)
        assert synthesized.ref(database.master_secret_arn) not in json.dumps(synthesized.body(function.function))


def test_route53_changes_are_scoped_to_the_weighted_records(cutover):
    built, synthesized = cutover
    zone_arn = "arn:aws:route53:::hostedzone/" + synthesized.ref(built.dns.zone_id)
    for function in (built.cutover.shifter, built.cutover.rollback):
        route53 = [s for s in _statements(synthesized, function) if any(a.startswith("route53:") for a in s["Action"])]
        assert route53 == [
            {"Effect": "Allow", "Action": ["route53:ListResourceRecordSets"], "Resource": zone_arn},
            {
                "Effect": "Allow",
                "Action": ["route53:ChangeResourceRecordSets"],
                "Resource": zone_arn,
                "Condition": {
                    "ForAllValues:StringEquals": {
                        "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["api.payments-test.internal"],
                        "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
                        "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
                    }
                },
            },
        ]


def test_a_hostname_legacy_endpoint_makes_the_weighted_records_cnames(variants):
    built, synthesized = variants["hostname_legacy"]
    [change] = [
        s
        for s in _statements(synthesized, built.cutover.rollback)
        if s["Action"] == ["route53:ChangeResourceRecordSets"]
    ]
    assert change["Condition"]["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsRecordTypes"] == ["CNAME"]
    assert synthesized.body(built.dns.new_record)["type"] == "CNAME"


def test_dms_table_statistics_are_scoped_to_the_task(cutover):
    built, synthesized = cutover
    dms = {
        tuple(s["Action"]): s["Resource"]
        for s in _statements(synthesized, built.cutover.validator)
        if any(a.startswith("dms:") for a in s["Action"])
    }
    # DescribeReplicationTasks supports no resource-level permission: "*" is the only resource it takes.
    assert dms == {
        ("dms:DescribeTableStatistics",): synthesized.ref(built.migration.task.replication_task_arn),
        ("dms:DescribeReplicationTasks",): "*",
    }
    for function in built.cutover.functions:
        for statement in _statements(synthesized, function):
            if any(action.startswith(("route53:", "sns:Publish")) for action in statement["Action"]):
                assert statement["Resource"] != "*", statement


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_the_only_ssm_parameter_is_the_cutover_state_which_holds_no_secret(synth_all, profile):
    """.checkov.yaml skips CKV2_AWS_34 (SSM parameters encrypted) for this reason: a new parameter fails here."""
    parameters = synth_all[profile].resources("aws_ssm_parameter")
    assert [body["name"].rsplit("/", 2)[1:] for body in parameters.values()] == [["cutover", "state"]]
    [state] = parameters.values()
    assert state["type"] == "String"
    assert set(json.loads(state["value"])) == set(
        cutover_state.initial_state("legacy", datetime(2000, 1, 1, tzinfo=UTC))
    )
