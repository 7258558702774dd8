"""`make plan` and `make pr-review`'s plan step on the deployed stack, and the cdktf CLI's outputs file
(the `BASE=` plan, on an emulator of its own, is in test_base_plan.py).

The plans run `python -m tools.stack plan` as `make plan` does. The DANGER test synthesizes a
changed database name into the deployed stack's folder; nothing needs to put it back: the cdktf
CLI always synthesizes, and `tools.stack` sees that the settings differ and synthesizes again.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tools import cdktf_cli
from tools.plan_summary import EXIT_DANGER
from tools.stack import (
    OUTPUTS_FILE,
    PROJECT_ROOT,
    STATE_DIR,
    plan_summary_file,
    render_outputs,
    stack_outputs,
)


def run_stack(*arguments: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.stack", *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, **overrides},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_local_target_keeps_its_state_in_its_own_folder(outputs, settings):
    assert (STATE_DIR / "local" / f"{settings.stack_name}.tfstate").is_file()
    assert not (STATE_DIR / "aws" / f"{settings.stack_name}.tfstate").exists()


def test_cdktf_output_writes_exactly_what_make_deploy_writes(outputs, settings, tmp_path):
    # The CLI itself (not tools/cdktf, which keeps other stacks' entries), into a file of its own.
    written = tmp_path / "outputs.json"
    result = subprocess.run(
        [str(cdktf_cli.CDKTF_BIN), "output", "--outputs-file", str(written)],
        cwd=PROJECT_ROOT,
        env=cdktf_cli.cdktf_env(settings),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    expected = render_outputs({settings.stack_name: stack_outputs(settings)})
    assert written.read_text() == expected
    assert settings.stack_name in OUTPUTS_FILE.read_text()


def test_plan_of_the_unchanged_stack_summarises_no_changes(outputs, settings):
    planned = run_stack("plan")
    assert planned.returncode == 0, planned.stderr[-2000:]
    assert "is up to date" in planned.stdout  # `cdktf output` synthesized the same JSON and recorded it
    summary = plan_summary_file(settings)
    assert f"plan summary: {summary.name}" in planned.stdout
    assert "full output in build/logs/" in planned.stdout and len(planned.stdout.splitlines()) < 15
    assert "No changes." in summary.read_text() and "DANGER" not in summary.read_text()


def test_danger_fails_the_review_unless_the_override_is_given(outputs, settings):
    other_name = "ledger" if settings.db_name != "ledger" else "payments"
    planned = run_stack("plan", DB_NAME=other_name)
    assert planned.returncode == EXIT_DANGER, planned.stderr[-2000:]
    # A new database name changes resources, not providers or backend: the init of the last plan is reused.
    assert "terraform init: up to date" in planned.stdout
    summary = plan_summary_file(settings).read_text()
    danger = summary.split("## DANGER", 1)[1].split("\n## ", 1)[0]
    cluster_lines = [line for line in danger.splitlines() if "aws_rds_cluster." in line]
    assert cluster_lines, danger
    assert "database_name" in cluster_lines[0]
    assert f'`database_name`: `"{settings.db_name}"` → `"{other_name}"` (forces replacement)' in summary

    accepted = run_stack("plan", "--allow-stateful-change", DB_NAME=other_name)
    assert accepted.returncode == 0, accepted.stderr[-2000:]
    # Nothing changed since the last plan: neither synth nor init runs again.
    assert "is up to date" in accepted.stdout and "terraform init: up to date" in accepted.stdout
    assert "**Accepted**: the `allow-stateful-change` override was given." in plan_summary_file(settings).read_text()
