"""Compute, edge, DNS and monitoring: one test per seed failure of the traffic tier."""

import ast
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lib.packaging import SHARED_SOURCE, PackageClashError, build_package, zip_bytes

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_ROOT = PROJECT_ROOT / "lib" / "lambda"
FUNCTIONS = ("payment_api", "migration_validator", "traffic_shifter", "rollback")
SHARED_MODULES = ("lambda_support.py", "route53_weights.py")


def test_lambda_target_group_has_no_port_or_protocol(dev):
    # seed 000 #3: "port/protocol should not be specified for Lambda targets".
    group = dev.one("aws_lb_target_group")
    assert group["target_type"] == "lambda"
    assert "port" not in group and "protocol" not in group
    assert group["health_check"]["path"] == "/health"


def test_lambda_permission_exists_before_the_attachment(dev):
    attachment = dev.one("aws_lb_target_group_attachment")
    permissions = {f"aws_lambda_permission.{key}" for key, permission in dev.resources("aws_lambda_permission").items()
                   if permission["principal"] == "elasticloadbalancing.amazonaws.com"}
    assert permissions and permissions <= set(attachment["depends_on"])


def test_no_https_listener_without_a_certificate(dev):
    # seeds 000 #4, 001 #2, 002 #2: HTTPS listener with an empty certificate list.
    listeners = list(dev.resources("aws_lb_listener").values())
    assert [(listener["port"], listener["protocol"]) for listener in listeners] == [(80, "HTTP")]
    assert listeners[0]["default_action"][0]["type"] == "forward"
    assert not dev.resources("aws_acm_certificate")


def test_https_with_a_certificate_redirects_http(https):
    listeners = {listener["port"]: listener for listener in https.resources("aws_lb_listener").values()}
    assert set(listeners) == {80, 443}
    assert listeners[443]["protocol"] == "HTTPS"
    assert listeners[443]["certificate_arn"] == "arn:aws:acm:eu-central-1:123456789012:certificate/abc"
    assert listeners[443]["ssl_policy"].startswith("ELBSecurityPolicy-TLS13")
    assert listeners[80]["default_action"][0]["redirect"]["protocol"] == "HTTPS"
    for profile_listener in listeners.values():
        assert profile_listener.get("certificate_arn", "x") != ""


def test_alb_hardening(dev, prod):
    alb = dev.one("aws_lb")
    assert alb["drop_invalid_header_fields"] is True
    assert alb["access_logs"]["enabled"] is True
    assert alb["enable_deletion_protection"] is False
    assert prod.one("aws_lb")["enable_deletion_protection"] is True
    assert len(alb["name"]) <= 32 and len(dev.one("aws_lb_target_group")["name"]) <= 32
    bucket_block = dev.one("aws_s3_bucket_public_access_block")
    assert all(bucket_block[flag] is True for flag in ("block_public_acls", "block_public_policy",
                                                       "ignore_public_acls", "restrict_public_buckets"))
    assert dev.one("aws_s3_bucket_versioning")["versioning_configuration"]["status"] == "Enabled"
    assert dev.one("aws_s3_bucket_lifecycle_configuration")["rule"][0]["status"] == "Enabled"


def test_waf_protects_the_alb_with_managed_rules_rate_limit_and_logging(dev):
    acl = dev.one("aws_wafv2_web_acl")
    groups = {rule["statement"]["managed_rule_group_statement"]["name"] for rule in acl["rule"]
              if "managed_rule_group_statement" in rule["statement"]}
    assert groups == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                      "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesAnonymousIpList"}
    assert any("rate_based_statement" in rule["statement"] for rule in acl["rule"])
    assert dev.one("aws_wafv2_web_acl_association")["resource_arn"].startswith("${aws_lb.")
    logging = dev.one("aws_wafv2_web_acl_logging_configuration")
    group_key = logging["log_destination_configs"][0].split(".")[1]
    assert dev.resources("aws_cloudwatch_log_group")[group_key]["name"].startswith("aws-waf-logs-")


def test_lambda_zips_exist_and_are_deterministic(dev, tmp_path):
    # seed 004 #5: placeholder zips that did not exist; zips must not change with mtimes.
    functions = dev.resources("aws_lambda_function")
    assert len(functions) == 4
    for function in functions.values():
        package = dev.stack_dir / function["filename"]
        assert package.is_file(), function["filename"]
        with zipfile.ZipFile(package) as archive:
            names = archive.namelist()
            assert "handler.py" in names
            assert set(SHARED_MODULES) <= set(names)
            assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
            assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_zip_bytes_ignore_mtimes_and_caches(tmp_path):
    source = tmp_path / "fn"
    source.mkdir()
    (source / "handler.py").write_text("def handler(event, context):\n    return event\n")
    first = zip_bytes(source)
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"cache")
    import os  # noqa: PLC0415

    os.utime(source / "handler.py", (1_000_000, 1_000_000))
    assert zip_bytes(source) == first
    package = build_package(source, tmp_path / "build")
    assert package.path.read_bytes() == first


def files_under(folder):
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_zip_has_its_handler_and_the_shared_modules_at_its_root(function, tmp_path):
    source = LAMBDA_ROOT / function
    data = zip_bytes(source)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        infos = archive.infolist()
    assert names == sorted(names)
    assert set(names) == files_under(source) | files_under(SHARED_SOURCE)
    assert {"handler.py", *SHARED_MODULES} <= set(names)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert {(info.date_time, info.external_attr) for info in infos} == {((1980, 1, 1, 0, 0, 0), 0o644 << 16)}
    assert zip_bytes(source) == data
    assert build_package(source, tmp_path).path.read_bytes() == data


def write_tree(root, files):
    """Creates root/<relative path> for each {relative path: text}; returns root."""
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def test_shared_modules_are_zipped_from_each_shared_folder_deterministically(tmp_path):
    function = write_tree(tmp_path / "fn", {"handler.py": "import helper\n"})
    shared = write_tree(tmp_path / "shared", {"helper.py": "VALUE = 1\n",
                                              "__pycache__/helper.cpython-312.pyc": "cache"})
    data = zip_bytes(function, shared_dirs=(shared,))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["handler.py", "helper.py"]
    (shared / "helper.py").touch()
    assert zip_bytes(function, shared_dirs=(shared,)) == data
    assert zip_bytes(function, shared_dirs=()) != data


def test_a_function_file_named_like_a_shared_module_is_an_error(tmp_path):
    function = write_tree(tmp_path / "fn", {"handler.py": "", "helper.py": "# the function's own\n"})
    shared = write_tree(tmp_path / "shared", {"helper.py": "# the shared one\n"})
    with pytest.raises(PackageClashError, match=r"fn: helper\.py is both .*rename"):
        zip_bytes(function, shared_dirs=(shared,))
    with pytest.raises(PackageClashError):
        build_package(function, tmp_path / "build", shared_dirs=(shared,))
    assert not (tmp_path / "build" / "fn.zip").exists()


def test_the_shared_folder_is_not_a_function_and_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="no handler.py"):
        zip_bytes(SHARED_SOURCE)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        zip_bytes(LAMBDA_ROOT / "rollback", shared_dirs=(tmp_path / "missing",))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_unzipped_handler_imports_without_boto3(function, tmp_path):
    # As in Lambda: the unzipped package alone is on sys.path, shared modules at its root.
    with zipfile.ZipFile(build_package(LAMBDA_ROOT / function, tmp_path / "build").path) as archive:
        archive.extractall(tmp_path / "task")
    probe = ("import sys; sys.path[0] = sys.argv[1]; import handler; "
             "assert callable(handler.handler); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'lambda_support', "
             "'route53_weights')))")
    result = subprocess.run([sys.executable, "-B", "-c", probe, str(tmp_path / "task")], cwd=tmp_path / "task",
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    loaded = ast.literal_eval(result.stdout.strip())
    assert "boto3" not in loaded  # the first client imports it
    assert "lambda_support" in loaded


def test_source_code_hash_comes_from_the_zip_bytes(dev):
    import base64  # noqa: PLC0415
    import hashlib  # noqa: PLC0415

    for function in dev.resources("aws_lambda_function").values():
        data = (dev.stack_dir / function["filename"]).read_bytes()
        assert function["source_code_hash"] == base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_no_module_the_runtime_lacks_is_imported():
    # seed 004 #8: psycopg2 imported but absent from the Lambda runtime.
    allowed_third_party = {"boto3", "botocore"}
    import sys  # noqa: PLC0415

    shared = {path.stem for path in SHARED_SOURCE.glob("*.py")}  # zipped next to every handler
    for source in LAMBDA_ROOT.rglob("*.py"):
        local = {path.stem for path in source.parent.glob("*.py")} | shared
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in allowed_third_party or top in local, \
                    f"{source}: imports {name}"


def test_functions_run_python312_in_private_subnets_with_tracing(dev):
    for function in dev.resources("aws_lambda_function").values():
        assert function["runtime"] == "python3.12"
        assert function["tracing_config"]["mode"] == "Active"
        assert len(function["vpc_config"]["subnet_ids"]) == 3
        assert "private" in " ".join(function["vpc_config"]["subnet_ids"])
        assert function["kms_key_arn"].startswith("${aws_kms_key.")
        for value in function["environment"]["variables"].values():
            assert "password" not in value.lower()


def test_payment_api_reserved_concurrency_fits_the_load(dev):
    # seed 004 #12: 10 concurrent executions throttled 50k transactions a day.
    api = next(f for f in dev.resources("aws_lambda_function").values() if f["function_name"].endswith("payment-api"))
    assert api["reserved_concurrent_executions"] >= 50


def test_each_function_has_its_own_encrypted_log_group_and_role(dev):
    functions = dev.resources("aws_lambda_function").values()
    groups = {group["name"]: group for group in dev.resources("aws_cloudwatch_log_group").values()}
    roles = {function["role"] for function in functions}
    assert len(roles) == len(functions)
    for function in functions:
        group = groups[f"/aws/lambda/{function['function_name']}"]
        assert group["kms_key_id"].startswith("${aws_kms_key.")


def test_iam_policies_scope_data_and_dns_access(dev):
    policies = {policy["name"]: json.loads(policy["policy"]) for policy in dev.resources("aws_iam_role_policy").values()
                if policy["name"] == "least-privilege"}
    statements = [statement for policy in dev.resources("aws_iam_role_policy").values()
                  for statement in json.loads(policy["policy"])["Statement"]]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(action.startswith(("rds-data:", "route53:", "secretsmanager:GetSecretValue")) for action in actions):
            assert statement["Resource"] != "*", statement
    assert policies


def test_api_record_lies_inside_its_zone(dev, synth_all):
    # seed 004 #7: records pointing at zones and names that do not exist.
    zone = dev.one("aws_route53_zone")
    assert zone["vpc"][0]["vpc_id"].startswith("${aws_vpc.")
    for record in dev.resources("aws_route53_record").values():
        assert record["name"].endswith("." + zone["name"])
        assert record["zone_id"].startswith("${aws_route53_zone.")
    new = dev.one("aws_route53_record")
    assert new["alias"]["name"].startswith("${aws_lb.") and new["alias"]["evaluate_target_health"] is True
    external = synth_all["aws_s3_backend"]
    assert not external.resources("aws_route53_zone")
    assert {record["zone_id"] for record in external.resources("aws_route53_record").values()} == {
        "Z0123456789ABCDEFGHIJ"}


def test_legacy_record_only_when_configured_and_weights_sum_to_100(dev, https, synth_all):
    assert len(dev.resources("aws_route53_record")) == 1
    records = {record["set_identifier"]: record for record in https.resources("aws_route53_record").values()}
    assert set(records) == {"new", "legacy"}
    assert records["legacy"]["type"] == "A" and records["legacy"]["records"] == ["52.94.76.10"]
    assert records["new"]["weighted_routing_policy"]["weight"] == 0
    assert records["legacy"]["weighted_routing_policy"]["weight"] == 100
    assert records["legacy"]["health_check_id"].startswith("${aws_route53_health_check.")
    hostname = {record["set_identifier"]: record for record in
                synth_all["legacy_hostname"].resources("aws_route53_record").values()}
    assert {record["type"] for record in hostname.values()} == {"CNAME"}
    assert hostname["new"]["weighted_routing_policy"]["weight"] == 10
    assert hostname["legacy"]["weighted_routing_policy"]["weight"] == 90


def test_dashboard_uses_the_stack_region(prod, https):
    # seeds 002 #10, 004 #11: dashboards hard-coded to us-east-1 / us-east-2.
    for profile in (prod, https):
        raw = profile.one("aws_cloudwatch_dashboard")["dashboard_body"]
        body = json.loads(re.sub(r"\$\{[^}]*\}", "interpolated", raw))  # Terraform fills ${...} at apply
        assert {widget["properties"]["region"] for widget in body["widgets"]} == {"eu-central-1"}
        assert "us-east" not in profile.one("aws_cloudwatch_dashboard")["dashboard_body"]


def test_alarms_cover_the_tier_and_critical_ones_trigger_rollback(dev):
    alarms = list(dev.resources("aws_cloudwatch_metric_alarm").values())
    metrics = {(alarm["namespace"], alarm["metric_name"]) for alarm in alarms}
    assert {("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"), ("AWS/ApplicationELB", "TargetResponseTime"),
            ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"), ("AWS/RDS", "ACUUtilization"),
            ("AWS/RDS", "CPUUtilization"), ("AWS/DMS", "CDCLatencyTarget")} <= metrics
    critical = [alarm for alarm in alarms if alarm["alarm_name"].startswith("payments-dev-critical-")]
    assert critical and all(len(alarm["alarm_actions"]) == 2 for alarm in critical)
    subscription = next(s for s in dev.resources("aws_sns_topic_subscription").values() if s["protocol"] == "lambda")
    assert subscription["topic_arn"] in {alarm["alarm_actions"][1] for alarm in critical}
    for topic in dev.resources("aws_sns_topic").values():
        assert topic["kms_master_key_id"].startswith("${aws_kms_key.")
    assert dev.one("aws_dms_event_subscription")["source_type"] == "replication-task"


def _health_check_alarms(profile):
    return [alarm for alarm in profile.resources("aws_cloudwatch_metric_alarm").values()
            if (alarm["namespace"], alarm["metric_name"]) == ("AWS/Route53", "HealthCheckStatus")]


def test_legacy_health_alarm_alerts_without_rolling_back_to_legacy(synth_all):
    [alarm] = _health_check_alarms(synth_all["legacy_hostname"])  # us-east-1, where Route53 metrics live
    assert alarm["dimensions"]["HealthCheckId"].startswith("${aws_route53_health_check.")
    assert not alarm["alarm_name"].startswith("payments-dev-critical-")
    assert len(alarm["alarm_actions"]) == 1


def test_no_legacy_health_alarm_where_route53_publishes_no_metrics(https):
    assert https.resources("aws_route53_health_check")  # eu-central-1: the check still steers DNS
    assert _health_check_alarms(https) == []


def test_traffic_outputs_exist(dev):
    for name in ("alb_dns_name", "alb_arn", "api_url", "api_fqdn", "hosted_zone_id", "lambda_function_names",
                 "lambda_function_arns", "alert_topic_arn", "critical_topic_arn", "dashboard_name",
                 "waf_web_acl_arn"):
        assert name in dev.outputs
