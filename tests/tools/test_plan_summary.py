import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import plan_summary
from tools.plan_summary import (
    EXIT_BAD_INPUT,
    EXIT_DANGER,
    EXIT_OK,
    PlanInputError,
    attribute_changes,
    classify_actions,
    construct_from_name,
    construct_from_path,
    construct_index_from_synth,
    count_actions,
    dangerous_changes,
    group_by_construct,
    parse_plan,
    render_summary,
)

FIXTURES = Path(__file__).parent / "fixtures"
REPO_ROOT = Path(__file__).resolve().parents[2]

RDS_CLUSTER = "aws_rds_cluster.database_cluster_5E6F7A8B"
S3_BUCKET = "aws_s3_bucket.storage_artifacts_0C0FFEE0"
LOG_GROUP = "aws_cloudwatch_log_group.data_migration_logs_4B4B4B4B"
SUBNET_GROUP = "aws_dms_replication_subnet_group.data_migration_subnets_7A7A7A7A"
VPC = "aws_vpc.network_vpc_1A2B3C4D"
SECURITY_GROUP = "aws_security_group.network_db-sg_9F8E7D6C"


def load_fixture(name):
    return json.loads((FIXTURES / name).read_text())


def changes_from(name):
    return parse_plan(load_fixture(name))


def change_at(changes, address):
    return next(change for change in changes if change.address == address)


def synth_index():
    return construct_index_from_synth(load_fixture("cdk.tf.json"))


def run_cli(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "tools.plan_summary", *map(str, arguments)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


# ------------------------------------------------------------ classification


@pytest.mark.parametrize(
    "actions, expected",
    [
        (["create"], "create"),
        (["update"], "update"),
        (["delete", "create"], "replace"),
        (["create", "delete"], "replace"),
        (["delete"], "delete"),
        (["forget"], "forget"),
        (["no-op"], "no-op/read"),
        (["read"], "no-op/read"),
    ],
)
def test_classify_actions(actions, expected):
    assert classify_actions(actions) == expected


def test_classify_actions_rejects_unknown_combination():
    with pytest.raises(PlanInputError, match="unknown Terraform actions"):
        classify_actions(["update", "delete"])


# ------------------------------------------------------------ attributes


def test_update_lists_only_top_level_keys_that_differ():
    vpc = change_at(changes_from("plan_mixed.json"), VPC)
    assert [a.name for a in vpc.attributes] == ["tags", "tags_all"]
    assert not any(a.forces_replacement or a.known_after_apply for a in vpc.attributes)


def test_replace_marks_replace_paths_and_unknown_keys():
    cluster = change_at(changes_from("plan_mixed.json"), RDS_CLUSTER)
    by_name = {a.name: a for a in cluster.attributes}
    assert sorted(by_name) == ["arn", "database_name", "endpoint", "id"]
    assert by_name["database_name"].forces_replacement
    assert not by_name["database_name"].known_after_apply
    assert by_name["endpoint"].known_after_apply and not by_name["endpoint"].forces_replacement


def test_after_unknown_with_only_false_leaves_is_not_a_change():
    change = {
        "before": {"subnet_ids": ["a", "b"]},
        "after": {"subnet_ids": ["a", "b"]},
        "after_unknown": {"subnet_ids": [False, False], "tags": {}},
    }
    assert attribute_changes(change) == ()


def test_nested_unknown_leaf_marks_the_top_level_key():
    change = {"before": {}, "after": {}, "after_unknown": {"ingress": [{"cidr_blocks": True}]}}
    (ingress,) = attribute_changes(change)
    assert ingress.name == "ingress" and ingress.known_after_apply


def test_replace_path_without_value_difference_is_still_listed():
    change = {
        "before": {"name": "x"},
        "after": {"name": "x"},
        "after_unknown": {},
        "replace_paths": [["name"], ["ebs_block_device", 0, "size"]],
    }
    names = {a.name: a.forces_replacement for a in attribute_changes(change)}
    assert names == {"name": True, "ebs_block_device": True}


# ------------------------------------------------------------ parsing input


def test_parse_plan_sorts_by_address_regardless_of_input_order():
    plan = load_fixture("plan_mixed.json")
    random.Random(7).shuffle(plan["resource_changes"])
    addresses = [change.address for change in parse_plan(plan)]
    assert addresses == sorted(addresses)
    assert len(addresses) == 8


def test_parse_plan_rejects_a_state_document():
    with pytest.raises(PlanInputError, match="state, not a plan"):
        parse_plan(load_fixture("state_not_a_plan.json"))


@pytest.mark.parametrize("document", [[], "plan", {"resource_changes": []}])
def test_parse_plan_rejects_documents_without_format_version(document):
    with pytest.raises(PlanInputError, match="format_version"):
        parse_plan(document)


def test_parse_plan_rejects_a_change_without_actions():
    plan = {
        "format_version": "1.2",
        "resource_changes": [{"address": "a.b", "type": "a", "name": "b", "change": {}}],
    }
    with pytest.raises(PlanInputError, match=r"resource_changes\[0\].change has no 'actions'"):
        parse_plan(plan)


def test_empty_plan_with_planned_values_only_has_no_changes():
    plan = {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "planned_values": {"root_module": {}},
    }
    assert parse_plan(plan) == []
    assert "No changes." in render_summary([], {}, "1.11.4")


# ------------------------------------------------------------ constructs


@pytest.mark.parametrize(
    "path, construct",
    [
        ("TapStackdev/network/vpc", "network"),
        ("TapStackdev/database/aurora/cluster", "database"),
        ("TapStackdev/current", "(top level)"),
    ],
)
def test_construct_from_path(path, construct):
    assert construct_from_path(path) == construct


@pytest.mark.parametrize(
    "name, construct",
    [
        ("network_vpc_1A2B3C4D", "network"),
        ("data_migration_logs_4B4B4B4B", "data"),
        ("current", "(top level)"),
    ],
)
def test_construct_from_name(name, construct):
    assert construct_from_name(name) == construct


def test_synth_index_covers_resources_and_data_sources():
    index = synth_index()
    assert index[("managed", "aws_cloudwatch_log_group", "data_migration_logs_4B4B4B4B")] == "data_migration"
    assert index[("data", "aws_caller_identity", "current")] == "(top level)"
    assert ("managed", "aws_s3_bucket", "storage_artifacts_0C0FFEE0") not in index


def test_grouping_uses_synth_metadata_and_falls_back_to_the_name():
    changes = changes_from("plan_mixed.json")
    groups = group_by_construct(changes, synth_index())
    assert list(groups) == ["data_migration", "database", "network", "storage"]
    assert [c.address for c in groups["data_migration"]] == [LOG_GROUP, SUBNET_GROUP]
    assert [c.address for c in groups["network"]] == [SECURITY_GROUP, VPC]
    # The deleted bucket is no longer in the synth output; its name gives the group.
    assert [c.address for c in groups["storage"]] == [S3_BUCKET]


def test_grouping_without_synth_splits_names_at_the_first_underscore():
    groups = group_by_construct(changes_from("plan_mixed.json"), {})
    assert list(groups) == ["data", "database", "network", "storage"]


def test_no_op_and_read_are_left_out_of_the_construct_tables():
    groups = group_by_construct(changes_from("plan_mixed.json"), synth_index())
    addresses = {c.address for group in groups.values() for c in group}
    assert "aws_kms_key.security_key_D00DFEED" not in addresses
    assert "data.aws_caller_identity.current" not in addresses


# ------------------------------------------------------------ totals and danger


def test_totals_for_the_mixed_plan():
    assert count_actions(changes_from("plan_mixed.json")) == {
        "create": 1,
        "update": 1,
        "replace": 3,
        "delete": 1,
        "forget": 0,
        "no-op/read": 2,
    }


def test_danger_lists_stateful_replaces_and_deletes_only():
    danger = dangerous_changes(changes_from("plan_mixed.json"))
    # The subnet group is replaced too, but holds no data; the KMS key is a no-op.
    assert [c.address for c in danger] == [LOG_GROUP, RDS_CLUSTER, S3_BUCKET]


def test_stateful_type_created_or_updated_is_not_danger():
    plan = load_fixture("plan_mixed.json")
    for entry in plan["resource_changes"]:
        if entry["type"] == "aws_rds_cluster":
            entry["change"]["actions"] = ["update"]
        if entry["type"] == "aws_s3_bucket":
            entry["change"]["actions"] = ["create"]
    assert [c.address for c in dangerous_changes(parse_plan(plan))] == [LOG_GROUP]


TRAFFIC_TYPES = (
    "aws_route53_record",
    "aws_route53_health_check",
    "aws_lb_listener",
    "aws_lb_listener_rule",
    "aws_lb_target_group",
    "aws_lb_target_group_attachment",
)


def traffic_entry(resource_type, actions):
    name = f"traffic_{resource_type}_0A0A0A0A"
    return {
        "address": f"{resource_type}.{name}",
        "mode": "managed",
        "type": resource_type,
        "name": name,
        "change": {
            "actions": actions,
            "before": None if actions == ["create"] else {"id": "x"},
            "after": None if actions == ["delete"] else {"id": "x"},
            "after_unknown": {},
        },
    }


def plan_with(entries):
    plan = load_fixture("plan_safe.json")
    plan["resource_changes"] = entries
    return parse_plan(plan)


@pytest.mark.parametrize("resource_type", TRAFFIC_TYPES)
@pytest.mark.parametrize("actions", [["delete"], ["delete", "create"], ["create", "delete"]])
def test_deleting_or_replacing_what_carries_traffic_is_danger(resource_type, actions):
    [change] = dangerous_changes(plan_with([traffic_entry(resource_type, actions)]))
    assert change.danger == "traffic"


@pytest.mark.parametrize("resource_type", TRAFFIC_TYPES)
@pytest.mark.parametrize("actions", [["create"], ["update"], ["no-op"]])
def test_creating_or_updating_what_carries_traffic_is_not_danger(resource_type, actions):
    assert dangerous_changes(plan_with([traffic_entry(resource_type, actions)])) == []


def test_a_replaced_write_rule_is_named_as_traffic_danger(tmp_path):
    changes = plan_with(
        [traffic_entry("aws_lb_listener_rule", ["delete", "create"]), traffic_entry("aws_route53_record", ["create"])]
    )
    danger = section(render_summary(changes, {}, "1.11.4"), "DANGER")
    assert "- **replace** (traffic) `aws_lb_listener_rule.traffic_aws_lb_listener_rule_0A0A0A0A`" in danger
    assert "aws_route53_record" not in danger
    plan = load_fixture("plan_safe.json")
    plan["resource_changes"] = [traffic_entry("aws_route53_record", ["delete"])]
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    result = run_cli("--plan-json", tmp_path / "plan.json", "--out", tmp_path / "summary.md")
    assert result.returncode == EXIT_DANGER
    assert "DANGER: stateful or traffic resources deleted or replaced" in result.stderr


@pytest.mark.parametrize("actions", [["delete"], ["delete", "create"]])
def test_deleting_or_replacing_the_cutover_state_parameter_is_danger(actions):
    # Its value is the cutover's (ignore_changes): a re-created parameter starts over at legacy-writer while the
    # weights and the write rule may already point at Aurora.
    [change] = dangerous_changes(plan_with([traffic_entry("aws_ssm_parameter", actions)]))
    assert change.danger == "stateful"
    assert dangerous_changes(plan_with([traffic_entry("aws_ssm_parameter", ["update"])])) == []


# ------------------------------------------------------------ rendering


def section(markdown, heading):
    """The text under a '## ' heading, up to the next one."""
    after = markdown.split(f"## {heading}", 1)[1]
    return after.split("\n## ", 1)[0]


def test_rendered_danger_section_names_the_resources_and_why():
    markdown = render_summary(changes_from("plan_mixed.json"), synth_index(), "1.11.4")
    danger = section(markdown, "DANGER")
    assert f"- **replace** (stateful) `{RDS_CLUSTER}` (forced by `database_name`)" in danger
    assert f"- **replace** (stateful) `{LOG_GROUP}` (forced by `name`)" in danger
    assert f"- **delete** (stateful) `{S3_BUCKET}` (delete_because_no_resource_config)" in danger
    assert SUBNET_GROUP not in danger
    assert markdown.index("## DANGER") < markdown.index("## Totals")


def test_rendered_totals_and_tables():
    markdown = render_summary(changes_from("plan_mixed.json"), synth_index(), "1.11.4")
    assert "| replace | 3 |" in section(markdown, "Totals")
    assert "No changes." not in markdown
    tables = section(markdown, "Changes by construct")
    assert "### `data_migration`" in tables and "### `data`\n" not in tables
    assert f"| `{VPC}` | update | `tags`, `tags_all` |" in tables
    assert f"| `{SECURITY_GROUP}` | create | all (new resource) |" in tables
    assert (
        f"| `{RDS_CLUSTER}` | replace | `arn` (known after apply), "
        '`database_name`: `"tap"` → `"tap_main"` (forces replacement), '
        "`endpoint` (known after apply), `id` (known after apply) |"
    ) in tables


def update_of(before, after, **change):
    return {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": "aws_db_instance.database_db_1",
                "type": "aws_db_instance",
                "name": "database_db_1",
                "change": {"actions": ["update"], "before": before, "after": after, **change},
            }
        ],
    }


def test_scalars_show_old_and_new_values_and_collections_only_their_name():
    plan = update_of(
        {"port": 5432, "multi_az": False, "engine_version": "15.7", "tags": {"a": "1"}, "note": None},
        {"port": 5433, "multi_az": True, "engine_version": "15.8", "tags": {"a": "2"}, "note": "x"},
    )
    cell = render_summary(parse_plan(plan), {}, "1.11.4")
    assert '`engine_version`: `"15.7"` → `"15.8"`' in cell
    assert "`multi_az`: `false` → `true`" in cell and "`port`: `5432` → `5433`" in cell
    assert '`note`: `null` → `"x"`' in cell
    assert "`tags` |" in cell and "`tags`:" not in cell


def test_sensitive_values_are_never_written():
    plan = update_of(
        {"master_password": "old-pw-1", "custom": "old-value-2", "name": "db", "auth_token": "t-3"},
        {"master_password": "new-pw-1", "custom": "new-value-2", "name": "db", "auth_token": "t-4"},
        # Marked by Terraform (the provider's schema or a sensitive variable), and by name alone.
        before_sensitive={"master_password": True, "custom": True},
        after_sensitive={"custom": True},
    )
    markdown = render_summary(parse_plan(plan), {}, "1.11.4")
    for secret in ("old-pw-1", "new-pw-1", "old-value-2", "new-value-2", "t-3", "t-4"):
        assert secret not in markdown
    for name in ("master_password", "custom", "auth_token"):
        assert f"`{name}` (sensitive, value hidden)" in markdown


def test_a_wholly_sensitive_object_hides_every_value():
    plan = update_of({"port": 1}, {"port": 2}, before_sensitive=True, after_sensitive=True)
    markdown = render_summary(parse_plan(plan), {}, "1.11.4")
    assert "`port` (sensitive, value hidden)" in markdown and "`1`" not in markdown


def test_long_values_are_shortened_and_cannot_break_the_table():
    plan = update_of({"policy": "a" * 200}, {"policy": "b`|" + "c" * 200})
    markdown = render_summary(parse_plan(plan), {}, "1.11.4")
    row = next(line for line in markdown.splitlines() if "aws_db_instance.database_db_1" in line)
    assert "…" in row and "c" * 60 not in row
    assert row.count("`") % 2 == 0 and "b'\\|" in row


def test_notes_and_accepted_danger_are_rendered():
    markdown = render_summary(
        changes_from("plan_mixed.json"),
        synth_index(),
        "1.11.4",
        notes=["Planned against BASE `main`."],
        danger_accepted_by="the label `allow-stateful-change`",
    )
    assert markdown.index("Planned against BASE `main`.") < markdown.index("## DANGER")
    assert "**Accepted**: the label `allow-stateful-change`." in section(markdown, "DANGER")


def test_no_op_plan_says_no_changes():
    markdown = render_summary(changes_from("plan_noop.json"), {}, "1.11.4")
    assert "\nNo changes.\n" in markdown
    assert "| no-op/read | 3 |" in markdown
    assert "DANGER" not in markdown and "Changes by construct" not in markdown


def test_rendering_is_deterministic():
    plan = load_fixture("plan_mixed.json")
    first = render_summary(parse_plan(plan), synth_index(), "1.11.4")
    plan["resource_changes"].reverse()
    assert render_summary(parse_plan(plan), synth_index(), "1.11.4") == first


def test_pipe_in_an_address_does_not_break_the_table():
    plan = {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": 'aws_ssm_parameter.app_param_1["a|b"]',
                "type": "aws_ssm_parameter",
                "name": "app_param_1",
                "change": {"actions": ["create"], "before": None, "after": {"name": "a|b"}},
            }
        ],
    }
    markdown = render_summary(parse_plan(plan), {}, "1.11.4")
    assert '| `aws_ssm_parameter.app_param_1["a\\|b"]` | create |' in markdown


# ------------------------------------------------------------ CLI


def test_cli_exit_3_on_danger_and_writes_the_summary(tmp_path):
    out = tmp_path / "plan-summary.md"
    result = run_cli(
        "--plan-json",
        FIXTURES / "plan_mixed.json",
        "--synth-json",
        FIXTURES / "cdk.tf.json",
        "--out",
        out,
    )
    assert result.returncode == EXIT_DANGER
    assert "DANGER" in result.stderr
    assert f"`{RDS_CLUSTER}`" in section(out.read_text(), "DANGER")


@pytest.mark.parametrize("fixture", ["plan_safe.json", "plan_noop.json"])
def test_cli_exit_0_without_danger(tmp_path, fixture):
    out = tmp_path / "plan-summary.md"
    result = run_cli("--plan-json", FIXTURES / fixture, "--out", out)
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stderr == ""
    assert "# Terraform plan summary" in out.read_text()


def test_cli_safe_plan_groups_by_name_without_synth(tmp_path):
    out = tmp_path / "plan-summary.md"
    assert run_cli("--plan-json", FIXTURES / "plan_safe.json", "--out", out).returncode == EXIT_OK
    text = out.read_text()
    assert "### `network`" in text and "| create | 1 |" in text and "| update | 1 |" in text


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "make_plan, message",
    [
        (lambda tmp: tmp / "missing.json", "cannot read plan JSON"),
        (lambda tmp: write(tmp, "broken.json", "{not json"), "is not valid JSON"),
        (lambda tmp: FIXTURES / "state_not_a_plan.json", "not a plan"),
        (lambda tmp: FIXTURES / "cdk.tf.json", "no format_version"),
    ],
)
def test_cli_exit_2_on_bad_input_with_one_error_line(tmp_path, make_plan, message):
    out = tmp_path / "plan-summary.md"
    result = run_cli("--plan-json", make_plan(tmp_path), "--out", out)
    assert result.returncode == EXIT_BAD_INPUT
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_cli_exit_2_on_missing_synth_json(tmp_path):
    result = run_cli(
        "--plan-json",
        FIXTURES / "plan_safe.json",
        "--synth-json",
        tmp_path / "nope.json",
        "--out",
        tmp_path / "o.md",
    )
    assert result.returncode == EXIT_BAD_INPUT
    assert "cannot read synth JSON" in result.stderr and "Traceback" not in result.stderr


def test_cli_exit_2_when_the_output_cannot_be_written(tmp_path):
    result = run_cli("--plan-json", FIXTURES / "plan_safe.json", "--out", tmp_path / "no-such-dir" / "o.md")
    assert result.returncode == EXIT_BAD_INPUT
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_help_documents_the_exit_codes():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "3  a stateful or traffic resource is deleted or replaced" in result.stdout
    assert "Exit codes:" in plan_summary.__doc__


# ------------------------------------------------------------ real Terraform plan

# terraform_data is built into Terraform, so init needs no provider download.
INITIAL_CONFIG = {
    "resource": {
        "terraform_data": {
            "network_vpc_1A2B3C4D": {
                "//": {
                    "metadata": {
                        "path": "TapStackdev/network/vpc",
                        "uniqueId": "network_vpc_1A2B3C4D",
                    }
                },
                "input": "10.0.0.0/16",
            },
            "data_migration_task_5E6F7A8B": {
                "//": {
                    "metadata": {
                        "path": "TapStackdev/data_migration/task",
                        "uniqueId": "data_migration_task_5E6F7A8B",
                    }
                },
                "input": "full-load",
                "triggers_replace": ["v1"],
            },
            "legacy_queue_11111111": {
                "//": {
                    "metadata": {
                        "path": "TapStackdev/legacy/queue",
                        "uniqueId": "legacy_queue_11111111",
                    }
                },
                "input": "bye",
            },
        }
    }
}


def changed_config():
    config = json.loads(json.dumps(INITIAL_CONFIG))
    resources = config["resource"]["terraform_data"]
    resources["network_vpc_1A2B3C4D"]["input"] = "10.1.0.0/16"
    resources["data_migration_task_5E6F7A8B"]["triggers_replace"] = ["v2"]
    del resources["legacy_queue_11111111"]
    resources["app_service_22222222"] = {
        "//": {"metadata": {"path": "TapStackdev/app/service", "uniqueId": "app_service_22222222"}},
        "input": "new",
    }
    return config


def terraform(workdir, env, *arguments):
    result = subprocess.run(
        ["terraform", *arguments, "-no-color"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def terraform_env(tmp_path):
    cli_config = tmp_path / "terraform.rc"
    cli_config.write_text("")
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    return env


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_summary_of_a_real_terraform_plan(tmp_path, terraform_env):
    workdir = tmp_path / "stack"
    workdir.mkdir()
    config_file = workdir / "cdk.tf.json"
    config_file.write_text(json.dumps(INITIAL_CONFIG))
    terraform(workdir, terraform_env, "init", "-input=false")
    terraform(workdir, terraform_env, "apply", "-auto-approve", "-input=false")
    config_file.write_text(json.dumps(changed_config()))
    terraform(workdir, terraform_env, "plan", "-input=false", "-out=tfplan")
    plan_json = workdir / "plan.json"
    plan_json.write_text(terraform(workdir, terraform_env, "show", "-json", "tfplan"))

    out = tmp_path / "plan-summary.md"
    result = run_cli("--plan-json", plan_json, "--synth-json", config_file, "--out", out)

    assert result.returncode == EXIT_OK, result.stderr
    text = out.read_text()
    assert "Terraform 1." in text
    totals = section(text, "Totals")
    for row in ["| create | 1 |", "| update | 1 |", "| replace | 1 |", "| delete | 1 |"]:
        assert row in totals
    tables = section(text, "Changes by construct")
    assert "### `data_migration`" in tables and "### `legacy`" in tables
    assert (
        "| `terraform_data.data_migration_task_5E6F7A8B` | replace | `id` (known after apply), "
        "`output` (known after apply), `triggers_replace` (forces replacement) |"
    ) in tables
    assert (
        "| `terraform_data.network_vpc_1A2B3C4D` | update | "
        '`input`: `"10.0.0.0/16"` → `"10.1.0.0/16"`, `output` (known after apply) |'
    ) in tables
    assert "DANGER" not in text


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_real_plan_never_shows_a_sensitive_variable(tmp_path, terraform_env):
    workdir = tmp_path / "stack"
    workdir.mkdir()
    config = {
        "variable": {"token": {"type": "string", "sensitive": True}},
        "resource": {"terraform_data": {"app_login_1": {"input": "${var.token}"}}},
    }
    (workdir / "cdk.tf.json").write_text(json.dumps(config))
    terraform(workdir, terraform_env, "init", "-input=false")
    terraform(workdir, terraform_env, "apply", "-auto-approve", "-input=false", "-var=token=first-v4lue")
    terraform(workdir, terraform_env, "plan", "-input=false", "-var=token=second-v4lue", "-out=tfplan")
    plan_json = workdir / "plan.json"
    plan_json.write_text(terraform(workdir, terraform_env, "show", "-json", "tfplan"))

    out = tmp_path / "plan-summary.md"
    assert run_cli("--plan-json", plan_json, "--out", out).returncode == EXIT_OK
    text = out.read_text()
    assert "`input` (sensitive, value hidden)" in text
    assert "v4lue" not in text


def test_cli_accept_danger_exits_0_and_records_it(tmp_path):
    out = tmp_path / "plan-summary.md"
    result = run_cli(
        "--plan-json",
        FIXTURES / "plan_mixed.json",
        "--out",
        out,
        "--note",
        "first note",
        "--accept-danger",
        "the label `allow-stateful-change`",
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert "DANGER accepted" in result.stderr
    text = out.read_text()
    assert "first note" in text and "**Accepted**: the label" in section(text, "DANGER")


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_real_plan_without_changes_says_no_changes(tmp_path, terraform_env):
    workdir = tmp_path / "stack"
    workdir.mkdir()
    (workdir / "cdk.tf.json").write_text(json.dumps(INITIAL_CONFIG))
    terraform(workdir, terraform_env, "init", "-input=false")
    terraform(workdir, terraform_env, "apply", "-auto-approve", "-input=false")
    terraform(workdir, terraform_env, "plan", "-input=false", "-out=tfplan")
    plan_json = workdir / "plan.json"
    plan_json.write_text(terraform(workdir, terraform_env, "show", "-json", "tfplan"))

    out = tmp_path / "plan-summary.md"
    assert run_cli("--plan-json", plan_json, "--out", out).returncode == EXIT_OK
    text = out.read_text()
    assert "\nNo changes.\n" in text and "| no-op/read | 3 |" in text
