"""`make plan BASE=<ref>`: the base deployed to an emulator of its own, the working tree planned against it.

It needs no deployment of its own suffix, so `make e2e` runs it beside the other integration tests under a suffix
of its own (its summary file and work folder are that suffix's).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from tests.integration.test_plan_review import run_stack
from tools.stack import PROJECT_ROOT, plan_summary_file


def git(*arguments: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(["git", *arguments], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def working_tree_commit() -> str:
    """A commit of the working tree as it is, untracked files included (not ignored ones), made with
    a throwaway index: the repository's index, branches and files are left as they are."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "GIT_INDEX_FILE": str(Path(scratch) / "index"),
            "GIT_AUTHOR_NAME": "e2e",
            "GIT_AUTHOR_EMAIL": "e2e@localhost",
            "GIT_COMMITTER_NAME": "e2e",
            "GIT_COMMITTER_EMAIL": "e2e@localhost",
        }
        git("read-tree", "HEAD", env=env)
        git("add", "-A", env=env)
        tree = git("write-tree", env=env)
        return git("commit-tree", tree, "-p", "HEAD", "-m", "working tree, for a BASE plan", env=env)


def test_base_plan_deploys_the_base_to_a_fresh_emulator_and_plans_against_it(settings):
    base = working_tree_commit()
    planned = run_stack("plan", "--base", base)
    assert planned.returncode == 0, planned.stdout[-3000:] + planned.stderr[-2000:]
    assert "base-apply: Apply complete!" in planned.stdout
    summary = plan_summary_file(settings).read_text()
    assert f"Planned against BASE `{base}` (`{base[:12]}`)" in summary
    # The base is the working tree itself: planned against it, nothing changes.
    assert "No changes." in summary
    assert not (PROJECT_ROOT / "build" / "base-plan" / settings.stack_name / "base").exists()
    assert base not in git("worktree", "list")
