"""tools.progress turns Terraform's output (lines as Terraform 1.11 prints them with -no-color)
into a few short lines."""

from pathlib import Path

from tools.progress import TerraformProgress

APPLY = """\
data.aws_caller_identity.caller: Reading...
data.aws_caller_identity.caller: Read complete after 0s [id=123456789012]

Terraform used the selected providers to generate the following execution plan.
  # aws_vpc.network_vpc_1 will be created
  + resource "aws_vpc" "network_vpc_1" {
      + cidr_block = "10.40.0.0/16"
    }

Plan: 3 to add, 0 to change, 1 to destroy.
aws_vpc.network_vpc_1: Creating...
aws_vpc.network_vpc_1: Creation complete after 11s [id=vpc-1]
aws_subnet.network_a: Creating...
aws_subnet.network_a: Creation complete after 1s [id=subnet-1]
aws_subnet.old: Destroying... [id=subnet-0]
aws_subnet.old: Destruction complete after 1s
aws_subnet.network_b: Creation complete after 1s [id=subnet-2]
╷
│ Warning: Invalid Attribute Combination
│
│   with aws_lb_target_group.compute_api_targets_D0E93DC0,
│   on cdk.tf.json line 1556, in resource.aws_lb_target_group.compute_api_targets_D0E93DC0.health_check:
│ 1556:         },
│
│ Attribute "health_check.protocol" cannot be specified when "target_type" is "lambda"
╵

Apply complete! Resources: 3 added, 0 changed, 1 destroyed.
"""

FAILED_APPLY = """\
Plan: 1 to add, 0 to change, 0 to destroy.
aws_vpc.network_vpc_1: Creating...
╷
│ Error: creating EC2 VPC: operation error EC2: CreateVpc, https response error StatusCode: 400
│
│   with aws_vpc.network_vpc_1,
│   on cdk.tf.json line 10, in resource.aws_vpc.network_vpc_1:
│   10:       }
│
╵
"""


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def feed(text, *, clock=None, step_seconds=10.0, interval=15.0):
    emitted: list[str] = []
    clock = clock or Clock()
    progress = TerraformProgress("apply", emit=emitted.append, clock=clock, interval=interval)
    for line in text.splitlines():
        clock.now += step_seconds
        progress(line)
    return progress, emitted


def test_apply_is_a_few_lines_with_the_plan_progress_and_result(tmp_path):
    progress, emitted = feed(APPLY)
    progress.finish(0, tmp_path / "apply.log")
    assert emitted[0] == "  apply: Plan: 3 to add, 0 to change, 1 to destroy" in emitted
    assert any(line.startswith("  apply: 2/4 resources done") for line in emitted)
    assert "  apply: 1 warning(s): Invalid Attribute Combination (details in the log)" in emitted
    assert emitted[-2].startswith("  apply: Apply complete! Resources: 3 added, 0 changed, 1 destroyed.")
    assert emitted[-1] == f"  apply: full output in {tmp_path / 'apply.log'}"
    assert len(emitted) < len(APPLY.splitlines()) / 2


def test_progress_is_reported_at_most_once_per_interval():
    _, emitted = feed(APPLY, step_seconds=0.1)
    assert not [line for line in emitted if "resources done" in line]


def test_a_failed_apply_shows_the_error_and_where_the_log_is():
    progress, emitted = feed(FAILED_APPLY)
    progress.finish(1, Path("build/logs/TapStackdev-apply.log"))
    assert (
        "    Error: creating EC2 VPC: operation error EC2: CreateVpc, https response error StatusCode: 400" in emitted
    )
    assert "with aws_vpc.network_vpc_1," in [line.strip() for line in emitted]
    assert any(line.startswith("  apply: failed with exit 1 after") for line in emitted)
    assert emitted[-1] == "  apply: full output in build/logs/TapStackdev-apply.log"


def test_errors_are_not_printed_when_the_command_succeeded():
    progress, emitted = feed(FAILED_APPLY)
    progress.finish(0, Path("x.log"))
    assert not [line for line in emitted if "Error:" in line]


def test_a_plan_without_changes_says_so():
    progress, emitted = feed(
        "aws_vpc.network_vpc_1: Refreshing state... [id=vpc-1]\n\n"
        "No changes. Your infrastructure matches the configuration.\n"
    )
    progress.finish(0, Path("plan.log"))
    assert any(
        line.startswith("  apply: No changes. Your infrastructure matches the configuration.") for line in emitted
    )
