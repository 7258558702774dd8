"""`make plan` on the deployed stack: the review summary a pull request gets, from a real plan.

Both tests run `python -m tools.stack plan` as `make plan` does. The second one synthesizes a
changed database name into the deployed stack's folder; a finalizer synthesizes the deployed
settings again, so later tests and `destroy` see the stack as deployed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tools.plan_summary import EXIT_DANGER
from tools.stack import PLAN_SUMMARY, PROJECT_ROOT


def run_stack(command: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.stack", command], cwd=PROJECT_ROOT,
                          env={**os.environ, **overrides}, capture_output=True, text=True, check=False)


@pytest.fixture
def resynth_deployed_settings():
    yield
    restored = run_stack("synth")
    assert restored.returncode == 0, restored.stderr


def test_plan_of_the_unchanged_stack_summarises_no_changes(outputs):
    planned = run_stack("plan")
    assert planned.returncode == 0, planned.stderr[-2000:]
    summary = PLAN_SUMMARY.read_text()
    assert "No changes." in summary
    assert "DANGER" not in summary


def test_plan_that_replaces_the_cluster_is_flagged_as_danger(outputs, settings, resynth_deployed_settings):
    other_name = "ledger" if settings.db_name != "ledger" else "payments"
    planned = run_stack("plan", DB_NAME=other_name)
    assert planned.returncode == EXIT_DANGER, planned.stderr[-2000:]
    summary = PLAN_SUMMARY.read_text()
    danger = summary.split("## DANGER", 1)[1].split("\n## ", 1)[0]
    cluster_lines = [line for line in danger.splitlines() if "aws_rds_cluster." in line]
    assert cluster_lines, danger
    assert "database_name" in cluster_lines[0]
