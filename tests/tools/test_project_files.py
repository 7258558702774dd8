"""The files that wire the tools together: Makefile, package pins, provider lock, the PR workflow."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tools import terraform

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "plan-review.yml"
VERSIONS_WORKFLOW = REPO_ROOT / ".github" / "workflows" / "versions-check.yml"
# Read from the source: importing lib.tap_stack starts jsii (seconds) for one string.
PROVIDER_CONSTRAINT = re.findall(
    r'^PROVIDER_CONSTRAINT = "([^"]+)"', (REPO_ROOT / "lib" / "tap_stack.py").read_text(), re.MULTILINE
)[0]


# A make running these tests (make pr-review BASE=...) hands its variables down through the environment.
INHERITED = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "BASE", "ALLOW_STATEFUL_CHANGE", "GITHUB_OUTPUT"}


def make(*args):
    env = {name: value for name, value in os.environ.items() if name not in INHERITED}
    result = subprocess.run(
        ["make", "--no-print-directory", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- Makefile ---------------------------------------------------------------------------


def makefile_targets():
    text = (REPO_ROOT / "Makefile").read_text()
    return {name for name in re.findall(r"^([a-z0-9][a-z0-9-]*):", text, re.MULTILINE)}


def test_make_help_lists_every_target():
    listed = set(re.findall(r"^  make (\S+)", make("help"), re.MULTILINE))
    assert {"e2e", "pr-review", "cdktf", "lint-workflows"} <= listed
    assert listed == makefile_targets()


def test_pr_review_runs_fast_tests_lint_scan_then_the_plan_with_its_options():
    commands = make("-n", "pr-review", "BASE=origin/main", "ALLOW_STATEFUL_CHANGE=true")
    order = [
        commands.index(marker)
        for marker in (
            "-m pytest tests/unit",
            "-m check_jsonschema",
            "-m tools.scan --venv .venv-checkov --config",
            "-m tools.stack plan",
        )
    ]
    assert order == sorted(order)
    plan_line = commands[order[-1] :].splitlines()[0]
    assert '--base "origin/main"' in plan_line and "--allow-stateful-change" in plan_line


def test_plan_passes_no_options_it_was_not_given():
    plan_line = next(line for line in make("-n", "plan").splitlines() if "tools.stack plan" in line)
    assert "--base" not in plan_line and "--allow-stateful-change" not in plan_line


def test_plan_hands_the_summary_path_to_github_actions():
    plan_line = next(
        line for line in make("-n", "plan", "GITHUB_OUTPUT=/tmp/out").splitlines() if "tools.stack plan" in line
    )
    assert '--github-output "/tmp/out"' in plan_line


def makefile_recipe(target: str) -> list[str]:
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, f"no recipe for {target}"
    return [line.strip() for line in recipe.group(1).splitlines()]


def test_test_runs_every_check_then_e2e_alone():
    install, checks, e2e = makefile_recipe("test")
    assert install.endswith("install checkov")  # installed once, before two jobs could both install it
    assert "-j2" in checks and "--keep-going" in checks and "--output-sync=target" in checks
    assert checks.split("--output-sync=target", 1)[1].split() == ["lint", "test-fast", "lint-workflows", "scan"]
    assert e2e.endswith(" e2e") and "-j" not in e2e


def test_test_and_pr_review_run_ruff_and_mypy_first():
    checks = makefile_recipe("test")[1]
    assert checks.split().index("lint") < checks.split().index("test-fast")  # make -j2 starts lint first
    commands = make("-n", "pr-review")
    order = [
        commands.index(marker)
        for marker in ("-m ruff check .", "-m ruff format --check .", "-m mypy", "-m pytest tests/unit")
    ]
    assert order == sorted(order)
    # each Lambda function as it is zipped: its folder and lib/lambda/shared at the package root
    functions = sorted(path.parent.name for path in (REPO_ROOT / "lib" / "lambda").glob("*/handler.py"))
    lint = make("-n", "lint")
    assert [names.split() for names in re.findall(r"for function in (.+); do", lint)] == [functions]
    assert "MYPYPATH=lib/lambda/$function " in lint


def test_install_uses_npm_ci_from_the_committed_lock():
    text = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(NODE_INSTALLED\): package-lock\.json$", text, re.MULTILINE)
    assert "npm ci" in text


# --- pins -------------------------------------------------------------------------------


def test_cdktf_cli_is_pinned_exactly_and_locked():
    package = json.loads((REPO_ROOT / "package.json").read_text())
    assert package["devDependencies"] == {"cdktf-cli": "0.20.12"}
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/cdktf-cli"]["version"] == "0.20.12"
    assert lock["packages"][""]["devDependencies"] == package["devDependencies"]


def test_provider_is_pinned_to_the_locked_version_with_hashes():
    lock = terraform.PROVIDER_LOCK.read_text()
    block = re.search(r'provider "registry.terraform.io/hashicorp/aws" \{(.*?)\n\}', lock, re.DOTALL)
    assert block, lock
    assert re.findall(r'^\s*version\s*=\s*"([^"]+)"', block.group(1), re.MULTILINE) == [PROVIDER_CONSTRAINT]
    assert re.search(r'"h1:[A-Za-z0-9+/=]{44}"', block.group(1))


def test_the_mirror_holds_the_locked_version():
    mirror = terraform.find_provider_mirror()
    if mirror is None:
        pytest.skip("no provider mirror on this machine: init downloads and checks the locked hashes")
    assert (mirror / "registry.terraform.io" / "hashicorp" / "aws" / PROVIDER_CONSTRAINT).is_dir()


def test_the_lock_is_committed_and_not_ignored():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".terraform.lock.hcl"], cwd=REPO_ROOT, check=False)
    assert ignored.returncode == 1


# --- the pull-request workflow ------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow():
    document = yaml.safe_load(WORKFLOW.read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as true
    return document


def steps_using(workflow, action):
    return [step for step in workflow["jobs"]["plan-review"]["steps"] if step.get("uses", "").startswith(action)]


def test_triggers_on_every_push_and_label_change(workflow):
    assert workflow["on"] == {"pull_request": {"types": ["opened", "synchronize", "reopened", "labeled", "unlabeled"]}}


def test_least_permissions(workflow):
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write", "id-token": "write"}


def test_full_history_for_base(workflow):
    (checkout,) = steps_using(workflow, "actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0


def test_the_review_is_make_pr_review_and_nothing_else(workflow):
    runs = [step["run"] for step in workflow["jobs"]["plan-review"]["steps"] if "make" in step.get("run", "")]
    assert len(runs) == 1
    assert 'make pr-review BASE="origin/$BASE_BRANCH"' in runs[0] and "make pr-review\n" in runs[0]


def test_oidc_role_and_state_bucket_come_from_repository_variables(workflow):
    (credentials,) = steps_using(workflow, "aws-actions/configure-aws-credentials@")
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    assert credentials["if"] == "env.PLAN_ON_AWS == 'true'"
    on_aws = workflow["jobs"]["plan-review"]["env"]["PLAN_ON_AWS"]
    assert "vars.AWS_PLAN_ROLE_ARN != ''" in on_aws and "vars.TERRAFORM_STATE_BUCKET != ''" in on_aws
    assert "head.repo.full_name == github.repository" in on_aws  # forks plan on the emulator


def test_one_sticky_comment_never_from_a_fork(workflow):
    (comment,) = steps_using(workflow, "marocchino/sticky-pull-request-comment@")
    assert comment["with"]["header"] == "plan-review"
    assert comment["with"]["path"] == "${{ steps.review.outputs.summary }}"
    assert "env.FROM_FORK == 'false'" in comment["if"] and "always()" in comment["if"]


def test_the_label_overrides_danger(workflow):
    allow = workflow["jobs"]["plan-review"]["env"]["ALLOW_STATEFUL_CHANGE"]
    assert allow == "${{ contains(github.event.pull_request.labels.*.name, 'allow-stateful-change') }}"


# --- the weekly engine-version check ------------------------------------------------------


@pytest.fixture(scope="module")
def versions_workflow():
    document = yaml.safe_load(VERSIONS_WORKFLOW.read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as true
    return document


def test_the_version_check_runs_weekly_with_read_only_permissions(versions_workflow):
    (schedule,) = versions_workflow["on"]["schedule"]
    minute, hour, day_of_month, month, day_of_week = schedule["cron"].split()
    assert (day_of_month, month) == ("*", "*") and day_of_week.isdigit()
    assert versions_workflow["permissions"] == {"contents": "read"}


def test_the_version_check_fails_the_job_on_a_finding(versions_workflow):
    runs = [
        step["run"] for step in versions_workflow["jobs"]["versions-check"]["steps"] if "make" in step.get("run", "")
    ]
    assert runs == ["make versions-check FAIL_ON_FINDING=1"]
    assert "--fail-on-finding" in make("-n", "versions-check", "FAIL_ON_FINDING=1")
    assert "--fail-on-finding" not in make("-n", "versions-check")


# --- the repository stands alone ---------------------------------------------------------


def test_nothing_in_the_repository_points_outside_it():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = [
        name
        for name in tracked
        if (REPO_ROOT / name).is_file()
        and name not in ("package-lock.json", "Pipfile.lock")
        and "../shared" in (REPO_ROOT / name).read_text(errors="replace")
        and name != "tests/tools/test_project_files.py"
    ]
    assert offenders == []
