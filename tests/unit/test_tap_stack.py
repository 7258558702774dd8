"""The whole stack, per settings profile: one stack and provider, the wiring between constructs,
what each profile changes, and the outputs' values. What one construct builds is tested in its
own file (tests/unit/test_<construct>.py)."""

import ast
import base64
import hashlib
import importlib
import inspect
import json
import re
import typing
import zipfile
from pathlib import Path

import pytest
from cdktf import TerraformResource
from constructs import Construct

from lib import migrations
from lib.config import AURORA_POSTGRES_VERSIONS
from lib.constructs.monitoring import critical_alarm_prefix
from lib.tap_stack import DMS_SERVICE_ROLE_ADDRESSES, READY_METRIC_NAME
from tests.unit.profiles import GLOBAL_LEGACY_IP
from tools.scan_profiles import PROFILES as SCAN_PROFILES

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COST_TAGS = {"Environment", "Project", "Application", "CostCenter", "Owner", "ManagedBy"}
# Construct inputs that are ids or ARNs, and where they come from instead of a construct.
ID_INPUTS_NO_CONSTRUCT_BUILDS = {
    "account_id": "TapStack's aws_caller_identity data source",
    "availability_zone_ids": "setting AVAILABILITY_ZONE_IDS",
    "certificate_arn": "setting CERTIFICATE_ARN",
    "existing_zone_id": "setting HOSTED_ZONE_ID",
    "source_secret_arn": "setting ONPREM_DB_SECRET_ARN",
    "transit_gateway_id": "setting ONPREM_TRANSIT_GATEWAY_ID",
    "cutover_state_arn": "the cutover's parameter, named before Cutover (built after Compute) exists",
}


# --- one stack, one provider ---------------------------------------------------------------


def test_single_stack_with_single_aws_provider(synth_all):
    # seed 004 #1: one TerraformStack per concern meant providers missing from child stacks.
    for profile in synth_all.values():
        stacks = list((profile.stack_dir.parent).iterdir())
        assert [stack.name for stack in stacks] == [profile.stack_dir.name]
        assert list(profile.json["provider"]) == ["aws"]
        assert len(profile.json["provider"]["aws"]) == 1


def test_constructs_are_plain_constructs_never_stacks(synth_all):
    # seed 004 #1 and #4: every concern is a Construct child of TapStack, not a TerraformStack.
    for source in (PROJECT_ROOT / "lib" / "constructs").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(base, "id", getattr(base, "attr", "")) for base in node.bases}
                assert "TerraformStack" not in bases, f"{source.name}:{node.name} is a TerraformStack"
    for profile in synth_all.values():
        stack = profile.stack_dir.name
        for resources in profile.json["resource"].values():
            for name, resource in resources.items():
                assert resource["//"]["metadata"]["path"].startswith(f"{stack}/"), name


def _construct_classes():
    """(file stem, class) for every Construct subclass defined in lib/constructs."""
    for source in sorted((PROJECT_ROOT / "lib" / "constructs").glob("*.py")):
        module = importlib.import_module(f"lib.constructs.{source.stem}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Construct) and cls.__module__ == module.__name__:
                yield source.stem, cls


def test_every_construct_takes_scope_and_id_then_keyword_only_typed_inputs():
    # Issue 14 #5: one input style. Other constructs come in as objects (typed by their class): an id or ARN
    # input is one no construct builds, each named here with where it comes from.
    classes = list(_construct_classes())
    assert len(classes) >= 14
    for _, cls in classes:
        for name in _keyword_inputs(cls):
            if re.search(r"_(id|ids|arn|arns)$", name):
                assert name in ID_INPUTS_NO_CONSTRUCT_BUILDS, f"{cls.__name__}({name})"


def _keyword_inputs(cls: type) -> list[str]:
    """The names of what cls takes after scope and construct_id: each keyword-only and typed, or a group of
    them as `**group: Unpack[SomeTypedDict]`."""
    parameters = list(inspect.signature(vars(cls)["__init__"]).parameters.values())
    assert [(p.name, p.kind) for p in parameters[:3]] == [
        ("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("scope", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("construct_id", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    ], cls.__name__
    hints = typing.get_type_hints(vars(cls)["__init__"])
    names = []
    for parameter in parameters[3:]:
        assert parameter.name in hints, f"{cls.__name__}({parameter.name}) has no type"
        if parameter.kind == inspect.Parameter.VAR_KEYWORD:
            hint = hints[parameter.name]
            groups = [group for group in typing.get_args(hint) if typing.is_typeddict(group)]
            assert typing.get_origin(hint) is typing.Unpack and groups, f"{cls.__name__}(**{parameter.name}: {hint})"
            names += list(typing.get_type_hints(groups[0]))
        else:
            assert parameter.kind == inspect.Parameter.KEYWORD_ONLY, f"{cls.__name__}({parameter.name})"
            names.append(parameter.name)
    return names


def test_every_construct_file_has_a_test_file_that_builds_it_in_a_bare_stack():
    # Issue 14 #4: tests/unit/test_<file>.py builds the file's constructs alone (tests/unit/stacks.py: a bare
    # TerraformStack(Testing.app(), ...) with the inputs they take), never through the whole-stack profiles only.
    for stem in sorted({stem for stem, _ in _construct_classes()} | {"iam"}):
        test_file = PROJECT_ROOT / "tests" / "unit" / f"test_{stem}.py"
        assert test_file.is_file(), f"lib/constructs/{stem}.py has no {test_file.name}"
        builds = re.search(
            r"\b(bare_stack|built_through|built_variants|declare_varying|declare_variants)\(", test_file.read_text()
        )
        assert builds, f"{test_file.name} builds no bare stack"


def test_every_top_level_construct_has_the_file_its_plan_group_names(dev):
    # A plan summary groups changes by the first construct id under the stack: that id is the file.
    groups = {
        body["//"]["metadata"]["path"].split("/")[1]
        for resources in dev.json["resource"].values()
        for body in resources.values()
    }
    files = {path.stem for path in (PROJECT_ROOT / "lib" / "constructs").glob("*.py")}
    assert groups == {
        "security_keys",
        "network",
        "security_groups",
        "endpoints",
        "database",
        "migration",
        "alerting",
        "compute",
        "load_balancer",
        "dns",
        "cutover",
        "monitoring",
    }
    assert groups <= files


def _project_module_names():
    return {path.stem for path in (PROJECT_ROOT / "lib").rglob("*.py")} - {"__init__"}


def test_imports_resolve_from_the_repository_root():
    # seed 004 #2: `from stacks.vpc_stack import ...` failed; project modules are imported as lib.*.
    local_names = _project_module_names() | {"stacks"}
    sources = [
        PROJECT_ROOT / "main.py",
        *(PROJECT_ROOT / "lib").glob("*.py"),
        *(PROJECT_ROOT / "lib" / "constructs").glob("*.py"),
    ]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0 and node.module, f"{source.name}: relative import"
                assert node.module.split(".")[0] not in local_names - {"constructs"}, (
                    f"{source.name}: from {node.module}"
                )
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] not in local_names - {"constructs"}, source.name


def test_constructs_never_read_settings_or_the_environment():
    # Data flows one way: lib/config.py -> TapStack -> constructs (typed inputs) -> outputs.
    for source in (PROJECT_ROOT / "lib" / "constructs").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [module for module in modules if module in ("os", "lib.config")], source.name


# --- provider, backend, tags ---------------------------------------------------------------


def test_no_region_literal_outside_the_chosen_region(prod, https):
    # seed 004 #11 / 002 #10: nothing hard-codes us-east-1 (or an AZ) when another region is chosen.
    for profile in (prod, https):
        assert "us-east-1" not in profile.text
        assert profile.json["provider"]["aws"][0]["region"] == "eu-central-1"
        assert not re.search(r'"eu-central-1[a-z]"', profile.text)


def test_cost_allocation_tags_on_every_resource(synth_all):
    # seed 004 #13: missing CostCenter/Application/Owner tags.
    for profile in synth_all.values():
        tags = profile.json["provider"]["aws"][0]["default_tags"][0]["tags"]
        assert COST_TAGS <= set(tags)
        assert all(value and "${" not in value for value in tags.values())


def test_provider_constraint_accepts_the_offline_provider(dev):
    assert dev.json["terraform"]["required_providers"]["aws"]["version"] == "5.100.0"


def test_backend_is_local_by_default_and_s3_with_locking_when_configured(dev, synth_all):
    assert dev.json["terraform"]["backend"]["local"]["path"] == "../../../state/local/TapStackdev.tfstate"
    s3 = synth_all["aws_s3_backend"].json["terraform"]["backend"]["s3"]
    assert s3["bucket"] == "tap-state-bucket" and s3["key"] == "TapStackdev/terraform.tfstate"
    assert s3["encrypt"] is True and s3["use_lockfile"] is True


def test_local_target_points_every_service_at_loopback_and_aws_target_does_not(dev, synth_all):
    provider = dev.json["provider"]["aws"][0]
    urls = set(provider["endpoints"][0].values())
    assert urls == {"http://127.0.0.1:4566"}
    assert provider["skip_requesting_account_id"] is False
    aws_provider = synth_all["aws_s3_backend"].json["provider"]["aws"][0]
    assert "endpoints" not in aws_provider and "skip_credentials_validation" not in aws_provider


def _cutover_function_variables(profile):
    return [
        body["environment"]["variables"]
        for body in profile.json["resource"]["aws_lambda_function"].values()
        if body["function_name"].endswith(("-traffic-shifter", "-rollback"))
    ]


def test_the_flip_s_short_dns_hold_is_the_local_target_s_only(dev, synth_all):
    # Locally the rehearsal's resolvers keep answers 1 s; real resolvers get 2 x the records' TTL.
    assert [variables.get("DNS_HOLD_SECONDS") for variables in _cutover_function_variables(dev)] == ["5", "5"]
    for name, profile in synth_all.items():
        if name != "dev" and profile.json["provider"]["aws"][0].get("endpoints") is None:
            assert all("DNS_HOLD_SECONDS" not in variables for variables in _cutover_function_variables(profile)), name


def test_no_credentials_in_the_synthesized_json(synth_all):
    for profile in synth_all.values():
        provider = profile.json["provider"]["aws"][0]
        assert "access_key" not in provider and "secret_key" not in provider


# --- security across the stack ---------------------------------------------------------------


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


def test_no_stub_rotation_code_anywhere():
    # seeds 002 #6, 003 #6: rotation Lambdas with `pass` bodies. RDS rotates the managed secret.
    for source in (PROJECT_ROOT / "lib").rglob("*.py"):
        text = source.read_text()
        assert not re.search(r"def (create|set|test|finish)_secret\b", text), source
        assert not re.search(r"^\s*pass\s*$", text, re.MULTILINE), source


def _service_principals(profile):
    for resources in profile.json["resource"].values():
        for body in resources.values():
            if "principal" in body:  # aws_lambda_permission
                yield body["principal"]
            for key in ("policy", "assume_role_policy"):
                if key in body:
                    for statement in json.loads(body[key])["Statement"]:
                        principal = statement.get("Principal")
                        if isinstance(principal, dict) and "Service" in principal:
                            yield principal["Service"]


def test_service_principals_come_from_the_data_source_never_a_literal(synth_all):
    for profile in synth_all.values():
        principals = list(_service_principals(profile))
        assert len(principals) >= 12
        assert all(re.fullmatch(r"\$\{data\.aws_service_principal\.\w+\.(name|id)\}", p) for p in principals), (
            principals
        )


def test_only_named_services_may_invoke_functions_and_only_from_one_source(synth_all):
    # What checkov's CKV_AWS_301 and CKV_AWS_364 check, which it skips once the principal comes
    # from the aws_service_principal data source (it cannot resolve data sources).
    for profile in synth_all.values():
        permissions = list(profile.resources("aws_lambda_permission").values())
        assert len(permissions) == 3
        for permission in permissions:
            assert permission["principal"].startswith("${data.aws_service_principal.")
            assert permission["source_arn"].startswith("${aws_")
            assert permission["action"] == "lambda:InvokeFunction"


def test_data_and_dns_permissions_are_never_on_every_resource(dev):
    statements = [
        statement
        for policy in dev.resources("aws_iam_role_policy").values()
        for statement in json.loads(policy["policy"])["Statement"]
    ]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(action.startswith(("rds-data:", "route53:", "secretsmanager:GetSecretValue")) for action in actions):
            assert statement["Resource"] != "*", statement


# --- what each profile changes ---------------------------------------------------------------


def test_prod_is_larger_protected_and_kept_longer(dev, prod):
    # seeds 004 #9, 004 #14, 002 #8: prod capacity, Multi-AZ replication, 35-day backups, protection.
    assert (len(dev.resources("aws_nat_gateway")), len(prod.resources("aws_nat_gateway"))) == (1, 3)
    assert prod.one("aws_rds_cluster")["serverlessv2_scaling_configuration"] == {
        "min_capacity": 1.0,
        "max_capacity": 8.0,
    }
    assert dev.one("aws_rds_cluster")["serverlessv2_scaling_configuration"] == {
        "min_capacity": 0.5,
        "max_capacity": 2.0,
    }
    for profile, is_prod in ((dev, False), (prod, True)):
        cluster = profile.one("aws_rds_cluster")
        assert cluster["engine_version"] in AURORA_POSTGRES_VERSIONS and cluster["backup_retention_period"] == 35
        assert cluster["deletion_protection"] is is_prod and cluster["skip_final_snapshot"] is not is_prod
        assert profile.one("aws_dms_replication_instance")["multi_az"] is is_prod
        assert profile.one("aws_lb")["enable_deletion_protection"] is is_prod
        assert {key["deletion_window_in_days"] for key in profile.resources("aws_kms_key").values()} == {
            30 if is_prod else 7
        }
        assert {
            secret["recovery_window_in_days"] for secret in profile.resources("aws_secretsmanager_secret").values()
        } == {30 if is_prod else 0}
        assert profile.one("aws_route53_zone")["force_destroy"] is not is_prod
    assert prod.one("aws_dms_replication_instance")["replication_instance_class"] == "dms.r5.large"
    assert {group["retention_in_days"] for group in prod.resources("aws_cloudwatch_log_group").values()} == {2557}


def test_payment_api_reserved_concurrency_fits_the_load(dev):
    # seed 004 #12: 10 concurrent executions throttled 50k transactions a day.
    assert dev.body(dev.stack.compute.payment_api.function)["reserved_concurrent_executions"] >= 50


def test_no_profile_creates_the_account_wide_dms_roles(synth_all):
    # Issue 9 #2 / seed 004 #6: dms-vpc-role is account-wide and found by its exact name; a stack that created
    # it made every second suffix fail with EntityAlreadyExists.
    for profile in synth_all.values():
        assert not {"dms-vpc-role", "dms-cloudwatch-logs-role"} & {
            role["name"] for role in profile.resources("aws_iam_role").values()
        }
        assert "depends_on" not in profile.one("aws_dms_replication_subnet_group")


def test_a_stack_that_creates_the_dms_roles_holds_them_at_the_addresses_others_forget(tmp_path):
    from tests.unit.conftest import synthesize  # noqa: PLC0415 - one more synth, only here

    stack, _ = synthesize(tmp_path, {"CREATE_DMS_SERVICE_ROLES": "true", "ENVIRONMENT_SUFFIX": "owner"})
    synthesized = json.loads((tmp_path / "stacks" / "TapStackowner" / "cdk.tf.json").read_text())
    held = {
        f"{kind}.{name}"
        for kind in ("aws_iam_role", "aws_iam_role_policy_attachment")
        for name, body in synthesized["resource"][kind].items()
        if "dms_" in name and "secrets" not in name
    }
    assert held == set(DMS_SERVICE_ROLE_ADDRESSES)
    assert "removed" not in synthesized


def _alb_ingress_ports(profile):
    group = profile.ref(profile.stack.security_groups.alb.id)
    return sorted(
        rule["from_port"]
        for rule in profile.resources("aws_vpc_security_group_ingress_rule").values()
        if rule["security_group_id"] == group
    )


def test_alb_security_group_ports_match_the_listeners(dev, https):
    # seed 001 #4: 443 opened while the listener served 80.
    for profile in (dev, https):
        listener_ports = sorted(listener["port"] for listener in profile.resources("aws_lb_listener").values())
        assert _alb_ingress_ports(profile) == listener_ports
    assert _alb_ingress_ports(dev) == [80] and _alb_ingress_ports(https) == [80, 443]
    assert not dev.resources("aws_acm_certificate")


def test_legacy_records_follow_the_legacy_endpoint(dev, https, synth_all):
    assert [record["set_identifier"] for record in dev.resources("aws_route53_record").values()] == ["new"]
    records = {record["set_identifier"]: record for record in https.resources("aws_route53_record").values()}
    assert records["legacy"]["records"] == [GLOBAL_LEGACY_IP] and records["legacy"]["type"] == "A"
    assert (
        records["new"]["weighted_routing_policy"]["weight"],
        records["legacy"]["weighted_routing_policy"]["weight"],
    ) == (0, 100)
    hostname = {
        record["set_identifier"]: record
        for record in synth_all["legacy_hostname"].resources("aws_route53_record").values()
    }
    assert {record["type"] for record in hostname.values()} == {"CNAME"}
    assert (
        hostname["new"]["weighted_routing_policy"]["weight"],
        hostname["legacy"]["weighted_routing_policy"]["weight"],
    ) == (10, 90)


def test_an_existing_zone_replaces_the_created_one(synth_all):
    external = synth_all["aws_s3_backend"]
    assert not external.resources("aws_route53_zone")
    assert {record["zone_id"] for record in external.resources("aws_route53_record").values()} == {
        "Z0123456789ABCDEFGHIJ"
    }


def _health_check_alarms(profile):
    return [
        alarm
        for alarm in profile.resources("aws_cloudwatch_metric_alarm").values()
        if (alarm["namespace"], alarm["metric_name"]) == ("AWS/Route53", "HealthCheckStatus")
    ]


def test_legacy_health_alarm_only_in_the_region_route53_publishes_to(https, synth_all):
    assert len(_health_check_alarms(synth_all["legacy_hostname"])) == 1  # us-east-1
    assert https.resources("aws_route53_health_check") and _health_check_alarms(https) == []  # eu-central-1


def test_dashboard_uses_the_stack_region(prod, https):
    # seeds 002 #10, 004 #11: dashboards hard-coded to us-east-1 / us-east-2.
    for profile in (prod, https):
        raw = profile.one("aws_cloudwatch_dashboard")["dashboard_body"]
        body = json.loads(re.sub(r"\$\{[^}]*\}", "interpolated", raw))
        assert {widget["properties"]["region"] for widget in body["widgets"]} == {"eu-central-1"}


# --- wiring between constructs ---------------------------------------------------------------


def test_every_function_runs_in_the_private_subnets_behind_the_lambda_group(dev):
    stack = dev.stack
    for function in [stack.compute.payment_api, *stack.cutover.functions]:
        body = dev.body(function.function)
        assert body["vpc_config"] == {
            "subnet_ids": dev.ref(stack.network.private_subnet_ids),
            "security_group_ids": [dev.ref(stack.security_groups.lambda_functions.id)],
        }
        assert body["dead_letter_config"] == {"target_arn": dev.ref(stack.alerting.alerts.arn)}


def test_the_api_record_points_at_the_alb_and_the_alb_at_the_api(dev):
    stack = dev.stack
    new = dev.one("aws_route53_record")
    assert new["alias"]["name"] == dev.ref(stack.load_balancer.alb.dns_name)
    assert dev.one("aws_lb_target_group_attachment")["target_id"] == dev.ref(stack.compute.payment_api.arn)
    assert dev.one("aws_route53_zone")["vpc"][0]["vpc_id"] == dev.ref(stack.network.vpc.id)


def test_readiness_metric_and_critical_alarms_are_named_once(dev):
    stack = dev.stack
    validator = dev.body(stack.cutover.validator.function)["environment"]["variables"]
    shifter = dev.body(stack.cutover.shifter.function)["environment"]["variables"]
    assert validator["READY_METRIC_NAME"] == shifter["READY_METRIC_NAME"] == READY_METRIC_NAME
    assert validator["METRIC_NAMESPACE"] == shifter["METRIC_NAMESPACE"] == dev.output("migration_metric_namespace")
    dashboard = dev.one("aws_cloudwatch_dashboard")["dashboard_body"]
    assert json.dumps([validator["METRIC_NAMESPACE"], READY_METRIC_NAME]) in dashboard
    critical = [
        alarm["alarm_name"]
        for alarm in dev.resources("aws_cloudwatch_metric_alarm").values()
        if len(alarm["alarm_actions"]) == 2
    ]
    assert critical and all(name.startswith(shifter["CRITICAL_ALARM_PREFIX"]) for name in critical)
    assert (
        shifter["CRITICAL_ALARM_PREFIX"] == dev.output("critical_alarm_prefix") == critical_alarm_prefix("payments-dev")
    )


def test_lambda_zips_exist_and_the_hash_is_the_zip_hash(dev):
    # seed 004 #5: placeholder zips that did not exist; zips must not change with mtimes.
    functions = dev.resources("aws_lambda_function")
    assert len(functions) == 5
    for function in functions.values():
        package = dev.stack_dir / function["filename"]
        data = package.read_bytes()
        assert function["source_code_hash"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
        with zipfile.ZipFile(package) as archive:
            assert {"handler.py", "lambda_support.py"} <= set(archive.namelist())  # what every handler imports
            assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


# --- outputs ---------------------------------------------------------------------------------


def test_every_output_has_a_description(synth_all):
    # seed 004 #15: integration tests need outputs; reviewers need to know what each is.
    for profile in synth_all.values():
        assert profile.outputs
        for name, output in profile.outputs.items():
            assert output.get("description", "").strip(), name


def test_network_outputs_name_the_network_resources(dev):
    stack = dev.stack
    network, groups, keys = stack.network, stack.security_groups, stack.keys
    assert dev.output("vpc_id") == dev.ref(network.vpc.id)
    for tier in ("public", "private", "database"):
        subnets = dev.output(f"{tier}_subnet_ids")
        assert subnets == dev.ref(getattr(network, f"{tier}_subnet_ids")) and len(subnets) == 3
    assert dev.output("nat_gateway_ids") == [dev.ref(nat.id) for nat in network.nat_gateways]
    assert dev.output("flow_log_group_name") == dev.ref(network.flow_log_group.name)
    assert dev.output("security_group_ids") == {
        "alb": dev.ref(groups.alb.id),
        "lambda": dev.ref(groups.lambda_functions.id),
        "database": dev.ref(groups.database.id),
        "dms": dev.ref(groups.dms.id),
        "endpoints": dev.ref(groups.endpoints.id),
    }
    assert dev.output("data_kms_key_arn") == dev.ref(keys.data_key.arn)
    assert dev.output("logs_kms_key_arn") == dev.ref(keys.logs_key.arn)


def test_data_outputs_name_the_database_and_replication(dev):
    stack = dev.stack
    cluster, migration = stack.database.cluster, stack.migration
    assert {
        name: dev.output(name)
        for name in (
            "aurora_cluster_endpoint",
            "aurora_reader_endpoint",
            "aurora_cluster_arn",
            "aurora_cluster_identifier",
            "aurora_database_name",
        )
    } == {
        "aurora_cluster_endpoint": dev.ref(cluster.endpoint),
        "aurora_reader_endpoint": dev.ref(cluster.reader_endpoint),
        "aurora_cluster_arn": dev.ref(cluster.arn),
        "aurora_cluster_identifier": dev.ref(cluster.cluster_identifier),
        "aurora_database_name": dev.ref(cluster.database_name),
    }
    assert dev.output("aurora_master_secret_arn") == dev.ref(stack.database.master_secret_arn)
    assert dev.output("dms_replication_instance_arn") == dev.ref(migration.instance.replication_instance_arn)
    assert dev.output("dms_replication_task_arn") == dev.ref(migration.task.replication_task_arn)
    assert dev.output("dms_source_endpoint_arn") == dev.ref(migration.source_endpoint.endpoint_arn)
    assert dev.output("dms_target_endpoint_arn") == dev.ref(migration.target_endpoint.endpoint_arn)
    assert dev.output("dms_source_secret_arn") == dev.ref(migration.source_secret_arn)
    assert dev.output("dms_target_secret_arn") == dev.ref(migration.target_secret_arn)


def test_traffic_outputs_name_the_api_and_the_cutover(dev):
    stack = dev.stack
    alb = stack.load_balancer.alb
    assert dev.output("alb_dns_name") == dev.ref(alb.dns_name) and dev.output("alb_arn") == dev.ref(alb.arn)
    assert dev.output("api_target_group_arn") == dev.ref(stack.load_balancer.target_group.arn)
    assert dev.output("api_fqdn") == "api.payments-dev.internal"
    assert dev.output("api_url") == "http://api.payments-dev.internal"
    assert dev.output("alb_url") == "http://" + dev.ref(alb.dns_name)
    assert dev.output("hosted_zone_id") == dev.ref(stack.dns.zone_id)
    assert dev.output("lambda_function_names") == {
        "payment-api": "payments-dev-payment-api",
        "schema-migrations": "payments-dev-schema-migrations",
        "migration-validator": "payments-dev-migration-validator",
        "traffic-shifter": "payments-dev-traffic-shifter",
        "rollback": "payments-dev-rollback",
    }
    assert dev.output("lambda_function_arns") == {
        function.short_name: dev.ref(function.arn)
        for function in [stack.compute.payment_api, stack.compute.schema_migrations, *stack.cutover.functions]
    }
    assert dev.output("aurora_app_secret_arn") == dev.ref(stack.compute.app_secret.arn)
    assert dev.output("aurora_cutover_secret_arn") == dev.ref(stack.compute.cutover_secret.arn)
    assert dev.output("client_identity") == "header" and dev.output("alb_trust_store_arn") == ""
    assert dev.output("alert_topic_arn") == dev.ref(stack.alerting.alerts.arn)
    assert dev.output("critical_topic_arn") == dev.ref(stack.alerting.critical.arn)
    assert dev.output("dashboard_name") == dev.ref(stack.monitoring.dashboard.dashboard_name)
    assert dev.output("waf_web_acl_arn") == dev.ref(stack.load_balancer.web_acl.arn)
    assert dev.output("migration_metric_namespace") == "PaymentsMigration/dev"
    assert READY_METRIC_NAME in dev.outputs["migration_metric_namespace"]["description"]


def test_cutover_outputs_name_the_reverse_replication_the_routing_and_the_state(dev, https):
    # The outputs issue 11 added, which the runbook and the integration tests read.
    for synthesized in (dev, https):
        stack = synthesized.stack
        migration, load_balancer = stack.migration, stack.load_balancer
        assert {
            name: synthesized.output(name)
            for name in (
                "dms_reverse_task_arn",
                "dms_reverse_source_endpoint_arn",
                "dms_reverse_target_endpoint_arn",
                "dms_reverse_source_secret_arn",
                "dms_reverse_target_secret_arn",
                "write_rule_arn",
                "cutover_state_parameter",
            )
        } == {
            "dms_reverse_task_arn": synthesized.ref(migration.reverse_task.replication_task_arn),
            "dms_reverse_source_endpoint_arn": synthesized.ref(migration.reverse_source_endpoint.endpoint_arn),
            "dms_reverse_target_endpoint_arn": synthesized.ref(migration.reverse_target_endpoint.endpoint_arn),
            "dms_reverse_source_secret_arn": synthesized.ref(migration.reverse_source_secret_arn),
            "dms_reverse_target_secret_arn": synthesized.ref(migration.reverse_target_secret_arn),
            "write_rule_arn": synthesized.ref(load_balancer.write_rule.arn),
            "cutover_state_parameter": synthesized.ref(stack.cutover.state.name),
        }
        assert synthesized.output("reverse_slot_name") == "payments_dev_reverse"
        assert synthesized.output("schema_migrations_sha256") == migrations.digest()
    assert dev.body(dev.stack.cutover.state)["name"] == "/payments-dev/cutover/state"
    # Without a legacy system there is no legacy target group; with one, writes go there first.
    assert dev.output("legacy_target_group_arn") == "" and dev.stack.load_balancer.legacy_target_group is None
    legacy_group = https.stack.load_balancer.legacy_target_group
    assert legacy_group is not None
    assert https.output("legacy_target_group_arn") == https.ref(legacy_group.arn)


@pytest.mark.parametrize("profile, scheme", [("dev", "http"), ("https", "https")])
def test_urls_say_https_exactly_when_a_certificate_is_set(synth_all, profile, scheme):
    synthesized = synth_all[profile]
    assert synthesized.output("api_url") == f"{scheme}://{synthesized.output('api_fqdn')}"
    assert synthesized.output("alb_url").startswith(f"{scheme}://${{aws_lb.")


# --- issue 9: what a real account needs --------------------------------------------------------


def test_zones_are_pinned_by_id_in_every_profile(synth_all):
    # Issue 9 #15: no zone lookup whose result could shift; the default region keeps its deployed zones.
    for name, profile in synth_all.items():
        assert "aws_availability_zones" not in profile.text, name
        zone_ids = [subnet["availability_zone_id"] for subnet in profile.resources("aws_subnet").values()]
        assert len(zone_ids) == 9 and len(set(zone_ids)) == 3, name
    dev_zones = [subnet["availability_zone_id"] for subnet in synth_all["dev"].resources("aws_subnet").values()]
    assert set(dev_zones) == {"use1-az6", "use1-az1", "use1-az2"}  # us-east-1a, b, c where the stack was deployed
    assert {subnet["availability_zone_id"] for subnet in synth_all["prod"].resources("aws_subnet").values()} == {
        "euc1-az1",
        "euc1-az2",
        "euc1-az3",
    }


def test_the_way_to_onprem_follows_the_settings(synth_all):
    # Issue 9 #6: DMS had no route to ONPREM_CIDR.
    assert not synth_all["dev"].resources("aws_vpn_connection")
    assert not synth_all["dev"].resources("aws_ec2_transit_gateway_vpc_attachment")
    prod = synth_all["prod"]
    assert prod.one("aws_ec2_transit_gateway_vpc_attachment")["transit_gateway_id"] == "tgw-0123456789abcdef0"
    assert prod.one("aws_route53_resolver_rule")["domain_name"] == "corp.example.com"
    assert prod.one("aws_route53_resolver_rule")["target_ip"] == [
        {"ip": "192.168.0.2", "port": 53},
        {"ip": "192.168.0.3", "port": 53},
    ]
    assert synth_all["https"].one("aws_vpn_connection")["static_routes_only"] is True
    real = synth_all["aws_s3_backend"]
    assert real.one("aws_vpn_connection")["static_routes_only"] is False
    assert real.one("aws_customer_gateway")["bgp_asn"] == "65010"
    # Three private route tables; with legacy write addresses behind an internet-facing ALB, the public one too.
    for name, tables in (("prod", 3), ("https", 4), ("aws_s3_backend", 4)):
        routes = [
            route
            for route in synth_all[name].resources("aws_route").values()
            if route["destination_cidr_block"] == "192.168.0.0/16"
        ]
        assert len(routes) == tables, name
    public_table = "${aws_route_table.network_public_rt_686E63C9.id}"
    assert [route["route_table_id"] for route in routes].count(public_table) == 1


def test_the_route53_resolver_endpoint_is_pointed_at_the_emulator_too(dev):
    endpoints = dev.json["provider"]["aws"][0]["endpoints"][0]
    assert endpoints["route53resolver"] == "http://127.0.0.1:4566"


def test_every_profile_passes_the_deploy_readiness_pack(synth_all):
    # Issue 9 #13: the CKV_TAP rules (tools/deploy_readiness.py) that `make scan` runs inside checkov.
    from tools.deploy_readiness import findings  # noqa: PLC0415

    for name, profile in synth_all.items():
        assert findings(profile.json) == [], name


# --- issue 13: the prod profile of a real account ----------------------------------------------


def test_the_real_prod_alb_verifies_client_certificates_against_its_trust_store(scan_prod):
    # Issue 13, done when: TARGET=aws, ENVIRONMENT=prod, a certificate and a CA bundle.
    stack = scan_prod.stack
    bucket, key = SCAN_PROFILES["scanprod"]["CLIENT_CA_BUNDLE_S3_URI"].removeprefix("s3://").split("/", 1)
    store = scan_prod.one("aws_lb_trust_store")
    assert (store["ca_certificates_bundle_s3_bucket"], store["ca_certificates_bundle_s3_key"]) == (bucket, key)
    bodies = list(scan_prod.resources("aws_lb_listener").values())
    listeners = {body["protocol"]: body for body in bodies}
    assert sorted(body["protocol"] for body in bodies) == ["HTTP", "HTTPS"]
    assert listeners["HTTPS"]["certificate_arn"] == SCAN_PROFILES["scanprod"]["CERTIFICATE_ARN"]
    assert listeners["HTTPS"]["mutual_authentication"] == {
        "mode": "verify",
        "trust_store_arn": scan_prod.ref(stack.load_balancer.trust_store.arn),
    }
    assert scan_prod.body(stack.compute.payment_api.function)["environment"]["variables"]["CLIENT_IDENTITY"] == "mtls"


def test_the_real_prod_api_never_references_the_master_secret(scan_prod):
    stack = scan_prod.stack
    master = scan_prod.ref(stack.database.master_secret_arn)
    api = stack.compute.payment_api
    assert master in scan_prod.text  # the reference the assertions below look for is the synthesized one
    assert master not in json.dumps(scan_prod.body(api.function))
    assert master not in scan_prod.one_of(api, "aws_iam_role_policy")["policy"]
    variables = scan_prod.body(api.function)["environment"]["variables"]
    assert variables["DB_SECRET_ARN"] == scan_prod.ref(stack.compute.app_secret.arn)


@pytest.mark.parametrize("profile", ["dev", "scan_prod"])
def test_only_the_migration_function_references_the_master_secret(request, profile):
    """Issue 13: the master secret is reachable only by the migration function; the cutover driver and rollback
    use their own login's secret. Every resource of the stack is searched, so a new function or policy is too."""
    synthesized = request.getfixturevalue(profile)
    stack = synthesized.stack
    master = synthesized.ref(stack.database.master_secret_arn)
    migration = stack.compute.schema_migrations
    (policy,) = [
        element
        for element in migration.node.find_all()
        if isinstance(element, TerraformResource) and element.terraform_resource_type == "aws_iam_role_policy"
    ]
    referencing = {
        (resource_type, name)
        for resource_type, resources in synthesized.json["resource"].items()
        for name, body in resources.items()
        if master in json.dumps(body)
    }
    assert referencing == {
        ("aws_lambda_function", stack.get_logical_id(migration.function)),
        ("aws_iam_role_policy", stack.get_logical_id(policy)),
    }
    for function in (stack.cutover.shifter, stack.cutover.rollback):
        variables = synthesized.body(function.function)["environment"]["variables"]
        assert variables["DB_SECRET_ARN"] == synthesized.ref(stack.compute.cutover_secret.arn)
