"""`make plan BASE=<git ref>`: what a pull request changes, planned offline.

1. check REF out into a temporary git worktree;
2. start a fresh emulator on a free port, synthesize REF there and apply it, with its state in a
   temporary file (never state/, never the emulator of `make deploy`);
3. synthesize the working tree for the same emulator and plan it against that state;
4. write the summary as `make plan` does; always stop the emulator and remove the worktree.

REF is synthesized by its own main.py and lib/ with this checkout's virtualenv and tools.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from lib.config import Settings, load_settings
from tools import stack
from tools.local_aws.common import EMULATOR_CREDENTIALS
from tools.local_aws.loopback import free_port
from tools.progress import display_path

WORK_ROOT = stack.BUILD_DIR / "base-plan"


def resolve_ref(ref: str) -> str:
    """The commit REF names, or a UsageError saying it names none."""
    result = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        cwd=stack.PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise stack.UsageError(
            f"BASE={ref!r} is not a commit in this repository (try a branch, tag or sha; "
            "in CI fetch the history: fetch-depth 0)"
        )
    return result.stdout.strip()


def add_worktree(commit: str, path: Path) -> None:
    result = subprocess.run(
        ["git", "worktree", "add", "--detach", "--force", str(path), commit],
        cwd=stack.PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise stack.StackError(f"git worktree add failed: {result.stderr.strip()}")


def remove_worktree(path: Path) -> None:
    subprocess.run(
        ["git", "worktree", "remove", "--force", str(path)], cwd=stack.PROJECT_ROOT, capture_output=True, check=False
    )
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["git", "worktree", "prune"], cwd=stack.PROJECT_ROOT, capture_output=True, check=False)


def synthesize(source: Path, outdir: Path, env: dict[str, str], what: str) -> None:
    """Runs source/main.py (the cdktf app) with its output in outdir."""
    print(f"synth: synthesizing {what} (about 15 s)...", flush=True)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "main.py"], cwd=source, env={**env, "CDKTF_OUTDIR": str(outdir)}, check=False
    )
    if result.returncode != 0:
        raise stack.StackError(f"synth of {what} failed (exit {result.returncode})")


def synthesized_stack(outdir: Path, stack_name: str) -> Path:
    stacks = outdir / "stacks"
    if (stacks / stack_name / "cdk.tf.json").is_file():
        return stacks / stack_name
    found = sorted(path.parent for path in stacks.glob("*/cdk.tf.json"))
    if len(found) != 1:
        raise stack.StackError(
            f"expected the stack {stack_name} under {display_path(stacks)}, found {[path.name for path in found]}"
        )
    return found[0]


class FreshEmulator:
    """An emulator of its own on a free port, stopped on exit whatever happened."""

    def __init__(self, workdir: Path, log: Path) -> None:
        self.port = free_port()
        self.pidfile = workdir / "moto.pid"
        self.log = log

    def __enter__(self) -> FreshEmulator:
        command = [
            sys.executable,
            "-m",
            "tools.local_aws",
            "start",
            "--port",
            str(self.port),
            "--pidfile",
            str(self.pidfile),
            "--log",
            str(self.log),
        ]
        if subprocess.run(command, cwd=stack.PROJECT_ROOT, check=False).returncode != 0:
            raise stack.StackError(f"the emulator for BASE did not start; see {display_path(self.log)}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        subprocess.run(
            [sys.executable, "-m", "tools.local_aws", "stop", "--pidfile", str(self.pidfile)],
            cwd=stack.PROJECT_ROOT,
            capture_output=True,
            check=False,
        )


def plan_against_base(
    settings: Settings, ref: str, *, allow_stateful_change: bool = False, github_output: Path | None = None
) -> int:
    if settings.target != "local":
        raise stack.UsageError(
            "BASE= deploys the base to a fresh local emulator and needs TARGET=local; "
            "on TARGET=aws `make plan` (without BASE) plans against the real state"
        )
    commit = resolve_ref(ref)
    workdir = WORK_ROOT / settings.stack_name
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    base_tree = workdir / "base"
    print(f"base: {ref} = {commit[:12]}, checked out in {display_path(base_tree)}", flush=True)
    add_worktree(commit, base_tree)
    try:
        with FreshEmulator(workdir, stack.log_file(settings, "base-emulator")) as emulator:
            print(f"base: fresh emulator on 127.0.0.1:{emulator.port}", flush=True)
            env = {**os.environ, **EMULATOR_CREDENTIALS, "LOCAL_AWS_PORT": str(emulator.port)}
            env.pop("TERRAFORM_STATE_BUCKET", None)
            here = load_settings(env)
            state = workdir / "terraform.tfstate"
            backend = (f"path={state}",)

            # The emulator's account starts with the account-wide DMS roles, as a real account has them
            # (tools/local_aws/iam.py): a base from before no stack created them would fail creating them.
            synthesize(base_tree, workdir / "base.out", {**env, "CREATE_DMS_SERVICE_ROLES": "false"}, f"BASE {ref}")
            base_dir = synthesized_stack(workdir / "base.out", here.stack_name)
            stack.init(here, directory=base_dir, backend_config=backend)
            stack.run_with_progress(
                here,
                ["apply", "-auto-approve", "-input=false", "-no-color", stack.APPLY_PARALLELISM],
                step="base-apply",
                directory=base_dir,
            )

            synthesize(stack.PROJECT_ROOT, workdir / "head.out", env, "the working tree")
            head_dir = synthesized_stack(workdir / "head.out", here.stack_name)
            stack.init(here, directory=head_dir, backend_config=backend)
            note = (
                f"Planned against BASE `{ref}` (`{commit[:12]}`), deployed to a fresh local emulator: "
                "the changes below are what the working tree changes."
            )
            return stack.plan_and_summarise(
                here,
                directory=head_dir,
                notes=[note],
                allow_stateful_change=allow_stateful_change,
                github_output=github_output,
            )
    finally:
        remove_worktree(base_tree)
