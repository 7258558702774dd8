"""Foundation: one stack, one provider, constructs, network, security groups, tags, outputs.

Each test names the seed failure it makes impossible.
"""

import ast
import ipaddress
import json
import re
from pathlib import Path

from lib.constructs.network import INTERFACE_ENDPOINT_SERVICES

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COST_TAGS = {"Environment", "Project", "Application", "CostCenter", "Owner", "ManagedBy"}


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


def _project_module_names():
    return {path.stem for path in (PROJECT_ROOT / "lib").rglob("*.py")} - {"__init__"}


def test_imports_resolve_from_the_repository_root():
    # seed 004 #2: `from stacks.vpc_stack import ...` failed; project modules are imported as lib.*.
    local_names = _project_module_names() | {"stacks"}
    sources = [PROJECT_ROOT / "main.py", *(PROJECT_ROOT / "lib").glob("*.py"),
               *(PROJECT_ROOT / "lib" / "constructs").glob("*.py")]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{source.name}: relative import"
                assert node.module.split(".")[0] not in local_names - {"constructs"}, \
                    f"{source.name}: from {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] not in local_names - {"constructs"}, source.name


def test_security_group_rules_are_standalone_resources(dev, https):
    # seed 004 #3: rules as their own resources; no inline ingress/egress blocks.
    for profile in (dev, https):
        for name, group in profile.resources("aws_security_group").items():
            assert "ingress" not in group and "egress" not in group, name
        assert profile.resources("aws_vpc_security_group_ingress_rule")
        assert profile.resources("aws_vpc_security_group_egress_rule")
        assert not profile.resources("aws_security_group_rule")


def test_no_region_literal_outside_the_chosen_region(prod, https):
    # seed 004 #11 / 002 #10: nothing hard-codes us-east-1 (or an AZ) when another region is chosen.
    for profile in (prod, https):
        assert "us-east-1" not in profile.text
        assert profile.json["provider"]["aws"][0]["region"] == "eu-central-1"
        assert not re.search(r'"eu-central-1[a-z]"', profile.text)


def test_availability_zones_come_from_the_region(prod):
    zones = prod.data("aws_availability_zones")
    assert len(zones) == 1
    azs = {subnet["availability_zone"] for subnet in prod.resources("aws_subnet").values()}
    assert len(azs) == 3
    assert all("data.aws_availability_zones" in az for az in azs)


def _private_route_tables(profile):
    tables = {f"${{aws_route_table.{key}.id}}" for key, table in profile.resources("aws_route_table").items()
              if table["tags"]["Name"].split("-")[-2] == "private"}
    return tables


def test_every_private_route_table_routes_through_a_nat_gateway(dev, prod):
    # seed 002 #5 / 003 #5: NAT created but not wired into the private route tables.
    for profile, nat_count in ((dev, 1), (prod, 3)):
        nats = profile.resources("aws_nat_gateway")
        assert len(nats) == nat_count
        nat_refs = {f"${{aws_nat_gateway.{key}.id}}" for key in nats}
        private_tables = _private_route_tables(profile)
        assert len(private_tables) == 3
        routed = {route["route_table_id"]: route for route in profile.resources("aws_route").values()
                  if route["route_table_id"] in private_tables}
        assert set(routed) == private_tables
        assert all(route["destination_cidr_block"] == "0.0.0.0/0" and route["nat_gateway_id"] in nat_refs
                   for route in routed.values())
        assert {route["nat_gateway_id"] for route in routed.values()} == nat_refs


def test_database_subnets_have_no_route_to_the_internet(dev):
    db_tables = {f"${{aws_route_table.{key}.id}}" for key, table in dev.resources("aws_route_table").items()
                 if table["tags"]["Name"].endswith("-database")}
    assert len(db_tables) == 1
    assert not [route for route in dev.resources("aws_route").values() if route["route_table_id"] in db_tables]


def test_three_tiers_in_three_azs_without_public_ip_mapping(dev):
    subnets = list(dev.resources("aws_subnet").values())
    assert sorted(subnet["tags"]["Tier"] for subnet in subnets) == ["database"] * 3 + ["private"] * 3 + ["public"] * 3
    assert all(subnet["map_public_ip_on_launch"] is False for subnet in subnets)
    networks = [ipaddress.IPv4Network(subnet["cidr_block"]) for subnet in subnets]
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1:])


def test_flow_logs_capture_all_traffic_into_an_encrypted_log_group(dev):
    # seed 004 #10: no VPC flow logs.
    flow_log = dev.one("aws_flow_log")
    assert flow_log["traffic_type"] == "ALL"
    group_key = flow_log["log_destination"].split(".")[1]
    group = dev.resources("aws_cloudwatch_log_group")[group_key]
    assert group["kms_key_id"].startswith("${aws_kms_key.")
    assert group["retention_in_days"] >= 365


def test_default_security_group_has_no_rules(dev):
    default_group = dev.one("aws_default_security_group")
    assert "ingress" not in default_group and "egress" not in default_group


def test_vpc_endpoints_reach_aws_apis_privately(dev):
    endpoints = list(dev.resources("aws_vpc_endpoint").values())
    services = {endpoint["service_name"].rsplit(".", 1)[-1]: endpoint for endpoint in endpoints}
    assert services["s3"]["vpc_endpoint_type"] == "Gateway"
    for service in ("secretsmanager", "rds-data", "logs", "sts"):
        assert services[service]["vpc_endpoint_type"] == "Interface"
        assert services[service]["private_dns_enabled"] is True
    assert set(INTERFACE_ENDPOINT_SERVICES) <= set(services)


def test_kms_keys_rotate_and_let_cloudwatch_logs_use_the_logs_key(dev):
    keys = dev.resources("aws_kms_key")
    assert len(keys) >= 2
    assert all(key["enable_key_rotation"] is True for key in keys.values())
    logs_key = next(key for key in keys.values() if "Logs" in key["description"])
    policy = json.loads(logs_key["policy"])
    services = [statement["Principal"].get("Service") for statement in policy["Statement"]]
    assert "logs.us-east-1.amazonaws.com" in services


def _alb_ingress_ports(profile):
    alb_group = next(key for key, group in profile.resources("aws_security_group").items()
                     if group["tags"]["Tier"] == "alb")
    return sorted(rule["from_port"] for rule in profile.resources("aws_vpc_security_group_ingress_rule").values()
                  if rule["security_group_id"] == f"${{aws_security_group.{alb_group}.id}}")


def test_alb_security_group_ports_match_the_listeners(dev, https):
    # seed 001 #4: 443 opened while the listener served 80.
    assert _alb_ingress_ports(dev) == [80]
    assert _alb_ingress_ports(https) == [80, 443]


def test_dms_reaches_only_aurora_and_onprem_postgres(dev):
    dms_group = next(key for key, group in dev.resources("aws_security_group").items()
                     if group["tags"]["Tier"] == "dms")
    egress = [rule for rule in dev.resources("aws_vpc_security_group_egress_rule").values()
              if rule["security_group_id"] == f"${{aws_security_group.{dms_group}.id}}"]
    postgres = [rule for rule in egress if rule["from_port"] == 5432]
    assert {rule.get("cidr_ipv4") for rule in postgres} == {None, "192.168.0.0/16"}
    assert all(rule["from_port"] == rule["to_port"] for rule in egress)
    assert not [rule for rule in egress if rule.get("cidr_ipv4") == "0.0.0.0/0"]


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
    assert s3["bucket"] == "tap-state-bucket"
    assert s3["encrypt"] is True and s3["use_lockfile"] is True


def test_local_target_points_every_service_at_loopback_and_aws_target_does_not(dev, synth_all):
    provider = dev.json["provider"]["aws"][0]
    urls = set(provider["endpoints"][0].values())
    assert urls == {"http://127.0.0.1:4566"}
    assert provider["skip_requesting_account_id"] is False
    aws_provider = synth_all["aws_s3_backend"].json["provider"]["aws"][0]
    assert "endpoints" not in aws_provider and "skip_credentials_validation" not in aws_provider


def test_no_credentials_in_the_synthesized_json(synth_all):
    for profile in synth_all.values():
        provider = profile.json["provider"]["aws"][0]
        assert "access_key" not in provider and "secret_key" not in provider


def test_every_output_has_a_description(synth_all):
    # seed 004 #15: integration tests need outputs; reviewers need to know what each is.
    for profile in synth_all.values():
        assert profile.outputs
        for name, output in profile.outputs.items():
            assert output.get("description", "").strip(), name


def test_network_outputs_exist(dev):
    for name in ("vpc_id", "public_subnet_ids", "private_subnet_ids", "database_subnet_ids",
                 "security_group_ids", "data_kms_key_arn", "logs_kms_key_arn"):
        assert name in dev.outputs
