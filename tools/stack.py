"""Synthesizes and drives the stack for the Makefile: `python -m tools.stack <command> [options]`.

Commands:
  synth     synthesize cdktf.out/stacks/TapStack<suffix>/cdk.tf.json (skipped when its inputs are unchanged)
  validate  synth + terraform init/validate against the real provider schema (offline)
  deploy    synth, start the emulator on the local target, init + apply, write outputs
  plan      synth, start the emulator on the local target, init + plan, summary in
            plan-summary-TapStack<suffix>.md
              --base REF               deploy REF to a fresh emulator and plan the working tree against it
              --allow-stateful-change  report DANGER but exit 0 (the pull request's label override)
              --github-output FILE     append `summary=<path>` for the next steps of a GitHub Actions job
  destroy   terraform destroy
  down      stop the local emulator

Exit codes: 0 done (plan: nothing stateful or traffic-carrying is deleted or replaced), 1 a step failed,
2 a bad setting or argument, or (deploy on TARGET=aws) the account or region cannot take the stack
(tools/preflight.py), 3 the plan deletes or replaces such a resource (DANGER).

Settings come from environment variables (lib/config.py); a bad value ends the
command with one line naming it. Terraform's full output goes to build/logs/; the
terminal gets short progress lines and the log's path.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from lib.config import ConfigError, Settings, load_settings
from tools import plan_summary, preflight, terraform
from tools.local_aws.common import EMULATOR_CREDENTIALS
from tools.progress import TerraformProgress, display_path
from tools.shared_files import replace_text, shared_files_lock

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / "build"
LOG_DIR = BUILD_DIR / "logs"
SYNTH_RECORDS = BUILD_DIR / "synth"
CDKTF_OUT = PROJECT_ROOT / "cdktf.out"
STATE_DIR = PROJECT_ROOT / "state"
OUTPUTS_FILE = PROJECT_ROOT / "cfn-outputs" / "flat-outputs.json"
APPLY_PARALLELISM = "-parallelism=20"
# Everything a synthesis reads besides the settings; an unchanged digest means the same cdk.tf.json.
SYNTH_INPUTS = ("main.py", "cdktf.json", "Pipfile.lock", ".terraform.lock.hcl", "lib", "tools/terraform.py")
EXIT_FAILED = 1
EXIT_USAGE = 2
STATEFUL_CHANGE_LABEL = "allow-stateful-change"


class StackError(Exception):
    """A step failed; the message says which and what to do."""


class UsageError(StackError):
    """A bad argument (not a setting): exit 2 like a bad setting."""


# --- where things are -------------------------------------------------------------------


def stack_dir(settings: Settings) -> Path:
    return CDKTF_OUT / "stacks" / settings.stack_name


def state_file(settings: Settings) -> Path | None:
    """The local state file (None with an S3 state bucket): one folder per target, so the
    emulator's state and a real account's never share a file (lib/tap_stack.py sets the same path)."""
    return None if settings.state_bucket else STATE_DIR / settings.target / f"{settings.stack_name}.tfstate"


def local_target_state_file(settings: Settings) -> Path:
    return STATE_DIR / "local" / f"{settings.stack_name}.tfstate"


def pre_split_state_file(settings: Settings) -> Path:
    """Where state lived before the local and aws targets got their own folders."""
    return STATE_DIR / f"{settings.stack_name}.tfstate"


def plan_summary_file(settings: Settings) -> Path:
    return PROJECT_ROOT / f"plan-summary-{settings.stack_name}.md"


def log_file(settings: Settings, step: str) -> Path:
    return LOG_DIR / f"{settings.stack_name}-{step}.log"


def target_env(settings: Settings) -> dict[str, str]:
    return dict(EMULATOR_CREDENTIALS) if settings.target == "local" else {}


# --- state ------------------------------------------------------------------------------


def check_state_layout(settings: Settings) -> None:
    """A state file from before the split cannot be told apart (emulator or real account): ask."""
    old = pre_split_state_file(settings)
    if old.exists():
        raise StackError(
            f"{display_path(old)} is state from before local and aws state were split: move it to "
            f"state/aws/{old.name} if it describes a real account, or delete it if it was the emulator's"
        )


def describe_state(settings: Settings) -> str:
    local_state = state_file(settings)
    if local_state is None:
        return (
            f"state: s3://{settings.state_bucket}/{settings.stack_name}/terraform.tfstate "
            f"({settings.state_bucket_region})"
        )
    path = display_path(local_state)
    if settings.target == "aws":
        return (
            f"state: LOCAL FILE {path}, on this machine only (TARGET=aws without "
            "TERRAFORM_STATE_BUCKET): keep it safe, or set TERRAFORM_STATE_BUCKET to keep it in S3"
        )
    return f"state: {path} (the emulator's; removed when the emulator it describes is gone)"


def prepare_state(settings: Settings) -> None:
    check_state_layout(settings)
    print(describe_state(settings), flush=True)


# --- synth ------------------------------------------------------------------------------


def settings_fingerprint(settings: Settings) -> str:
    return json.dumps(dataclasses.asdict(settings), sort_keys=True, default=str)


def synth_input_files(root: Path = PROJECT_ROOT) -> list[Path]:
    files: list[Path] = []
    for name in SYNTH_INPUTS:
        path = root / name
        if path.is_dir():
            files += [
                item
                for item in path.rglob("*")
                if item.is_file() and "__pycache__" not in item.parts and item.suffix != ".pyc"
            ]
        elif path.is_file():
            files.append(path)
    return sorted(files)


def synth_inputs_digest(settings: Settings, root: Path = PROJECT_ROOT) -> str:
    digest = hashlib.sha256(settings_fingerprint(settings).encode())
    for path in synth_input_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def synth_record(settings: Settings) -> Path:
    return SYNTH_RECORDS / f"{settings.stack_name}.json"


def file_digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def synth_is_current(settings: Settings, inputs: str) -> bool:
    record = synth_record(settings)
    if not record.is_file():
        return False
    recorded = json.loads(record.read_text())
    output = stack_dir(settings) / "cdk.tf.json"
    return recorded == {"inputs": inputs, "output": file_digest(output)} and recorded["output"] is not None


def record_synth(settings: Settings, inputs: str) -> None:
    """Remembers which inputs made the cdk.tf.json that is there now."""
    SYNTH_RECORDS.mkdir(parents=True, exist_ok=True)
    output = stack_dir(settings) / "cdk.tf.json"
    synth_record(settings).write_text(json.dumps({"inputs": inputs, "output": file_digest(output)}) + "\n")


def synth(settings: Settings) -> Path:
    """Synthesizes unless the same inputs already made the cdk.tf.json that is there."""
    inputs = synth_inputs_digest(settings, PROJECT_ROOT)
    output = stack_dir(settings) / "cdk.tf.json"
    if synth_is_current(settings, inputs):
        print(f"synth: {display_path(output)} is up to date (sources and settings unchanged)", flush=True)
        return stack_dir(settings)
    with shared_files_lock():
        print("synth: synthesizing (about 15 s)...", flush=True)
        result = subprocess.run([sys.executable, "main.py"], cwd=PROJECT_ROOT, check=False)
        if result.returncode != 0:
            raise StackError(f"synth failed (exit {result.returncode})")
        record_synth(settings, inputs)
    print(f"synth: wrote {display_path(output)}", flush=True)
    return stack_dir(settings)


# --- terraform --------------------------------------------------------------------------


def run_terraform(
    settings: Settings,
    args: list[str],
    *,
    capture: bool = False,
    directory: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    result = terraform.run(
        directory or stack_dir(settings), args, extra_env={**target_env(settings), **(extra_env or {})}, capture=capture
    )
    if result.returncode not in (0, 2) or (result.returncode == 2 and "-detailed-exitcode" not in args):
        detail = (result.stderr or "").strip().splitlines()[-5:] if capture else []
        raise StackError(
            f"terraform {args[0]} failed (exit {result.returncode})" + ("".join(f"\n  {line}" for line in detail))
        )
    return result


def run_with_progress(
    settings: Settings,
    args: list[str],
    *,
    step: str,
    directory: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> None:
    """A long Terraform command: short progress lines here, everything in build/logs/<stack>-<step>.log."""
    log = log_file(settings, step)
    print(f"terraform {args[0]}: running...", flush=True)
    progress = TerraformProgress(step, emit=lambda text: print(text, flush=True))
    exit_code = terraform.run_logged(
        directory or stack_dir(settings),
        args,
        log=log,
        extra_env={**target_env(settings), **(extra_env or {})},
        on_line=progress,
    )
    progress.finish(exit_code, log)
    if exit_code != 0:
        raise StackError(f"terraform {args[0]} failed (exit {exit_code}); full output in {display_path(log)}")


def init(
    settings: Settings, *, backend: bool = True, directory: Path | None = None, backend_config: tuple[str, ...] = ()
) -> None:
    """terraform init, skipped when nothing it depends on changed since the last one here."""
    directory = directory or stack_dir(settings)
    locked = (directory / terraform.PROVIDER_LOCK.name).is_file()
    args = (
        ["init", "-input=false", "-no-color"]
        + (["-lockfile=readonly"] if locked else [])
        + ([] if backend else ["-backend=false"])
        + [f"-backend-config={item}" for item in backend_config]
        + (["-reconfigure"] if backend_config else [])
    )
    digest = terraform.init_inputs_digest(directory, args)
    if backend and terraform.init_is_current(directory, digest):
        print("terraform init: up to date (providers, backend and lock file unchanged)", flush=True)
        return
    print("terraform init: running...", flush=True)
    run_terraform(settings, args, capture=True, directory=directory)
    terraform.record_init(directory, digest)


def validate(settings: Settings) -> None:
    synth(settings)
    init(settings, backend=False)
    run_terraform(settings, ["validate", "-no-color"])


# --- the local emulator -----------------------------------------------------------------


def emulator_pidfile(settings: Settings) -> Path:
    return BUILD_DIR / f"moto-{settings.local_aws_port}.pid"


def emulator_log(settings: Settings) -> Path:
    return BUILD_DIR / f"moto-{settings.local_aws_port}.log"


def emulator_command(action: str, settings: Settings) -> list[str]:
    command = [sys.executable, "-m", "tools.local_aws", action, "--pidfile", str(emulator_pidfile(settings))]
    if action in ("start", "status"):
        command += ["--port", str(settings.local_aws_port)]
    if action == "start":
        command += ["--log", str(emulator_log(settings))]
    return command


def emulator_running(settings: Settings) -> bool:
    result = subprocess.run(
        emulator_command("status", settings), cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    return result.returncode == 0


def ensure_emulator(settings: Settings) -> None:
    if settings.target != "local":
        raise StackError(f"the local emulator is for TARGET=local, not TARGET={settings.target}")
    if emulator_running(settings):
        return
    # The emulator keeps everything in memory: state from an earlier emulator describes nothing.
    # Only the local target's state is ever removed; a real account's lives in state/aws/ or S3.
    stale = local_target_state_file(settings)
    if stale.exists():
        stale.unlink()
        print(f"removed {display_path(stale)}: it described an emulator that is gone", flush=True)
    result = subprocess.run(emulator_command("start", settings), cwd=PROJECT_ROOT, check=False)
    if result.returncode != 0:
        raise StackError(f"the local AWS emulator did not start; see {display_path(emulator_log(settings))}")


# --- outputs ----------------------------------------------------------------------------


def read_all_outputs() -> dict[str, dict]:
    return json.loads(OUTPUTS_FILE.read_text()) if OUTPUTS_FILE.exists() else {}


def render_outputs(by_stack: dict[str, dict]) -> str:
    """Byte for byte what `cdktf output --outputs-file` writes for the same stacks: JSON indented
    by 2, keys in Terraform's (sorted) order, no trailing newline."""
    return json.dumps(by_stack, indent=2, sort_keys=True, ensure_ascii=False)


def save_all_outputs(by_stack: dict[str, dict]) -> None:
    """One file for every deployed stack; each deploy replaces only its own stack's entry."""
    if not by_stack:
        OUTPUTS_FILE.unlink(missing_ok=True)
        return
    replace_text(OUTPUTS_FILE, render_outputs(by_stack))


def stack_outputs(settings: Settings) -> dict[str, object]:
    """The stack's outputs as cdktf writes them: name -> value, sensitive outputs left out."""
    raw = json.loads(run_terraform(settings, ["output", "-json"], capture=True).stdout)
    return {name: entry["value"] for name, entry in sorted(raw.items()) if not entry.get("sensitive")}


def update_outputs_entry(stack_name: str, flat: dict[str, object] | None) -> None:
    """Sets one stack's entry (None removes it) and keeps the others, also while another suffix writes its own."""
    with shared_files_lock():
        by_stack = read_all_outputs()
        if flat is None:
            by_stack.pop(stack_name, None)
        else:
            by_stack[stack_name] = flat
        save_all_outputs(by_stack)


def write_outputs(settings: Settings) -> dict[str, object]:
    flat = stack_outputs(settings)
    update_outputs_entry(settings.stack_name, flat)
    return flat


def forget_outputs(settings: Settings) -> None:
    update_outputs_entry(settings.stack_name, None)


def print_summary(settings: Settings, outputs: dict[str, object]) -> None:
    rows = [
        ("target", f"{settings.target} ({settings.aws_region})"),
        ("API URL", outputs.get("api_url")),
        ("ALB URL", outputs.get("alb_url")),
        ("database endpoint", outputs.get("aurora_cluster_endpoint")),
        ("DMS task", outputs.get("dms_replication_task_arn")),
        ("hosted zone", outputs.get("hosted_zone_id")),
        ("dashboard", outputs.get("dashboard_name")),
        ("outputs file", OUTPUTS_FILE.relative_to(PROJECT_ROOT)),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"\n{settings.stack_name} deployed:")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


# --- commands ---------------------------------------------------------------------------


def deploy(settings: Settings) -> None:
    prepare_state(settings)
    synth(settings)
    if settings.target == "local":
        ensure_emulator(settings)
    else:
        # A real account is asked first (versions, zones, DMS roles, concurrency): nothing is created when it says no.
        preflight.run(settings, stack_dir(settings) / "cdk.tf.json")
    init(settings)
    run_with_progress(
        settings, ["apply", "-auto-approve", "-input=false", "-no-color", APPLY_PARALLELISM], step="apply"
    )
    print_summary(settings, write_outputs(settings))


def plan_and_summarise(
    settings: Settings,
    *,
    directory: Path,
    notes: list[str],
    allow_stateful_change: bool,
    github_output: Path | None,
    extra_env: dict[str, str] | None = None,
) -> int:
    """plan -> show -json -> the Markdown summary; the summary's exit code (0, or 3 for DANGER)."""
    plan_file = BUILD_DIR / f"{settings.stack_name}.tfplan"
    run_with_progress(
        settings,
        ["plan", "-input=false", "-no-color", APPLY_PARALLELISM, f"-out={plan_file}"],
        step="plan",
        directory=directory,
        extra_env=extra_env,
    )
    plan_json = BUILD_DIR / f"{settings.stack_name}.plan.json"
    plan_json.write_text(
        run_terraform(
            settings, ["show", "-json", str(plan_file)], capture=True, directory=directory, extra_env=extra_env
        ).stdout
    )
    summary = plan_summary_file(settings)
    arguments = [
        "--plan-json",
        str(plan_json),
        "--synth-json",
        str(directory / "cdk.tf.json"),
        "--out",
        str(summary),
    ] + [item for note in notes for item in ("--note", note)]
    if allow_stateful_change:
        arguments += ["--accept-danger", f"the `{STATEFUL_CHANGE_LABEL}` override was given"]
    exit_code = plan_summary.main(arguments)
    if exit_code == plan_summary.EXIT_BAD_INPUT:
        raise StackError("the plan could not be summarised (see the line above)")
    print(f"plan summary: {display_path(summary)}", flush=True)
    if github_output is not None:
        with github_output.open("a", encoding="utf-8") as handle:
            handle.write(f"summary={summary}\n")
    return exit_code


def plan(
    settings: Settings,
    *,
    base: str | None = None,
    allow_stateful_change: bool = False,
    github_output: Path | None = None,
) -> int:
    if base:
        from tools import base_plan  # noqa: PLC0415 - only `--base` needs git worktrees

        return base_plan.plan_against_base(
            settings, base, allow_stateful_change=allow_stateful_change, github_output=github_output
        )
    prepare_state(settings)
    synth(settings)
    if settings.target == "local" and not emulator_running(settings):
        print(
            "emulator: not running; starting a fresh one (nothing is deployed there, so the plan creates "
            "everything; `make plan BASE=<git ref>` plans against a deployed ref)",
            flush=True,
        )
        ensure_emulator(settings)
    init(settings)
    return plan_and_summarise(
        settings,
        directory=stack_dir(settings),
        notes=[],
        allow_stateful_change=allow_stateful_change,
        github_output=github_output,
    )


def destroy(settings: Settings) -> None:
    prepare_state(settings)
    if settings.target == "local" and not emulator_running(settings):
        print("nothing to destroy: the local emulator is not running (its resources died with it)")
        return
    synth(settings)
    init(settings)
    run_with_progress(
        settings, ["destroy", "-auto-approve", "-input=false", "-no-color", APPLY_PARALLELISM], step="destroy"
    )
    forget_outputs(settings)


def down(settings: Settings) -> None:
    subprocess.run(emulator_command("stop", settings), cwd=PROJECT_ROOT, check=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.stack",
        description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("synth", "validate", "deploy", "destroy", "down"):
        commands.add_parser(name)
    plan_parser = commands.add_parser("plan")
    plan_parser.add_argument("--base", metavar="REF", help="git ref to deploy to a fresh emulator first")
    plan_parser.add_argument(
        "--allow-stateful-change", action="store_true", help="report DANGER in the summary, but exit 0"
    )
    plan_parser.add_argument(
        "--github-output", type=Path, metavar="FILE", help="append summary=<path> to this file ($GITHUB_OUTPUT)"
    )
    return parser


def run_command(arguments: argparse.Namespace) -> int | None:
    settings = load_settings()
    if arguments.command == "plan":
        return plan(
            settings,
            base=arguments.base,
            allow_stateful_change=arguments.allow_stateful_change,
            github_output=arguments.github_output,
        )
    commands = {"synth": synth, "validate": validate, "deploy": deploy, "destroy": destroy, "down": down}
    commands[arguments.command](settings)
    return 0


def main(argv: list[str]) -> int:
    try:
        arguments = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return EXIT_USAGE if exit_.code else 0
    try:
        result = run_command(arguments)
    except (ConfigError, UsageError, preflight.PreflightError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    return result or 0


if __name__ == "__main__":
    # `python -m` runs this file as __main__; tools.base_plan raises the errors of `tools.stack`.
    from tools import stack as imported  # noqa: PLW0406 - the one module instance

    sys.exit(imported.main(sys.argv[1:]))
