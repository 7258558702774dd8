"""Synthesizes and drives the stack for the Makefile: `python -m tools.stack <command>`.

Commands:
  synth     synthesize cdktf.out/stacks/TapStack<suffix>/cdk.tf.json
  validate  synth + terraform init/validate against the real provider schema (offline)
  deploy    synth, start the emulator on the local target, init + apply, write outputs
  plan      synth + terraform plan, rendered to plan-summary.md (exit 3 when it is dangerous)
  destroy   terraform destroy
  down      stop the local emulator

Settings come from environment variables (lib/config.py); a bad value ends the
command with one line naming it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lib.config import ConfigError, Settings, load_settings
from tools import terraform
from tools.local_aws.common import EMULATOR_CREDENTIALS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / "build"
OUTPUTS_FILE = PROJECT_ROOT / "cfn-outputs" / "flat-outputs.json"
PLAN_SUMMARY = PROJECT_ROOT / "plan-summary.md"
APPLY_PARALLELISM = "-parallelism=20"


class StackError(Exception):
    """A step failed; the message says which and what to do."""


def stack_dir(settings: Settings) -> Path:
    return PROJECT_ROOT / "cdktf.out" / "stacks" / settings.stack_name


def state_file(settings: Settings) -> Path:
    return PROJECT_ROOT / "state" / f"{settings.stack_name}.tfstate"


def target_env(settings: Settings) -> dict[str, str]:
    return dict(EMULATOR_CREDENTIALS) if settings.target == "local" else {}


def synth(settings: Settings) -> Path:
    result = subprocess.run([sys.executable, "main.py"], cwd=PROJECT_ROOT, check=False)
    if result.returncode != 0:
        raise StackError(f"synth failed (exit {result.returncode})")
    print(f"synthesized {stack_dir(settings).relative_to(PROJECT_ROOT)}/cdk.tf.json", flush=True)
    return stack_dir(settings)


def run_terraform(settings: Settings, args: list[str], *, capture: bool = False) -> subprocess.CompletedProcess:
    result = terraform.run(stack_dir(settings), args, extra_env=target_env(settings), capture=capture)
    if result.returncode not in (0, 2) or (result.returncode == 2 and "-detailed-exitcode" not in args):
        detail = (result.stderr or "").strip().splitlines()[-5:] if capture else []
        raise StackError(f"terraform {args[0]} failed (exit {result.returncode})"
                         + ("".join(f"\n  {line}" for line in detail)))
    return result


def init(settings: Settings, *, backend: bool = True) -> None:
    args = ["init", "-input=false", "-no-color"] + ([] if backend else ["-backend=false"])
    run_terraform(settings, args, capture=True)


def validate(settings: Settings) -> None:
    synth(settings)
    init(settings, backend=False)
    run_terraform(settings, ["validate", "-no-color"])


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
    result = subprocess.run(emulator_command("status", settings), cwd=PROJECT_ROOT, capture_output=True,
                            text=True, check=False)
    return result.returncode == 0


def ensure_emulator(settings: Settings) -> None:
    if emulator_running(settings):
        return
    # The emulator keeps everything in memory: state from an earlier emulator describes nothing.
    stale = state_file(settings)
    if stale.exists():
        stale.unlink()
        print(f"removed {stale.relative_to(PROJECT_ROOT)}: it described an emulator that is gone", flush=True)
    result = subprocess.run(emulator_command("start", settings), cwd=PROJECT_ROOT, check=False)
    if result.returncode != 0:
        raise StackError(f"the local AWS emulator did not start; see {emulator_log(settings)}")


def read_all_outputs() -> dict[str, dict]:
    return json.loads(OUTPUTS_FILE.read_text()) if OUTPUTS_FILE.exists() else {}


def save_all_outputs(by_stack: dict[str, dict]) -> None:
    """One file for every deployed stack, as `cdktf output --outputs-file` writes it."""
    if not by_stack:
        OUTPUTS_FILE.unlink(missing_ok=True)
        return
    OUTPUTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    OUTPUTS_FILE.write_text(json.dumps(by_stack, indent=2, sort_keys=True) + "\n")


def write_outputs(settings: Settings) -> dict[str, object]:
    raw = json.loads(run_terraform(settings, ["output", "-json"], capture=True).stdout)
    flat = {name: entry["value"] for name, entry in sorted(raw.items())}
    save_all_outputs({**read_all_outputs(), settings.stack_name: flat})
    return flat


def print_summary(settings: Settings, outputs: dict[str, object]) -> None:
    rows = [("target", f"{settings.target} ({settings.aws_region})"), ("API URL", outputs.get("api_url")),
            ("ALB URL", outputs.get("alb_url")), ("database endpoint", outputs.get("aurora_cluster_endpoint")),
            ("DMS task", outputs.get("dms_replication_task_arn")), ("hosted zone", outputs.get("hosted_zone_id")),
            ("dashboard", outputs.get("dashboard_name")),
            ("outputs file", OUTPUTS_FILE.relative_to(PROJECT_ROOT))]
    width = max(len(label) for label, _ in rows)
    print(f"\n{settings.stack_name} deployed:")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


def deploy(settings: Settings) -> None:
    synth(settings)
    if settings.target == "local":
        ensure_emulator(settings)
    init(settings)
    run_terraform(settings, ["apply", "-auto-approve", "-input=false", "-no-color", APPLY_PARALLELISM])
    print_summary(settings, write_outputs(settings))


def plan(settings: Settings) -> int:
    synth(settings)
    if settings.target == "local" and not emulator_running(settings):
        raise StackError("the local emulator is not running: run `make deploy` first")
    init(settings)
    plan_file = BUILD_DIR / f"{settings.stack_name}.tfplan"
    run_terraform(settings, ["plan", "-input=false", "-no-color", APPLY_PARALLELISM, f"-out={plan_file}"])
    plan_json = BUILD_DIR / f"{settings.stack_name}.plan.json"
    plan_json.write_text(run_terraform(settings, ["show", "-json", str(plan_file)], capture=True).stdout)
    return subprocess.run([sys.executable, "-m", "tools.plan_summary", "--plan-json", str(plan_json),
                           "--synth-json", str(stack_dir(settings) / "cdk.tf.json"), "--out", str(PLAN_SUMMARY)],
                          cwd=PROJECT_ROOT, check=False).returncode


def destroy(settings: Settings) -> None:
    if settings.target == "local" and not emulator_running(settings):
        print("nothing to destroy: the local emulator is not running (its resources died with it)")
        return
    synth(settings)
    init(settings)
    run_terraform(settings, ["destroy", "-auto-approve", "-input=false", "-no-color", APPLY_PARALLELISM])
    remaining = read_all_outputs()
    remaining.pop(settings.stack_name, None)
    save_all_outputs(remaining)


def down(settings: Settings) -> None:
    subprocess.run(emulator_command("stop", settings), cwd=PROJECT_ROOT, check=False)


COMMANDS = {"synth": synth, "validate": validate, "deploy": deploy, "plan": plan, "destroy": destroy, "down": down}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print(f"usage: python -m tools.stack {{{','.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
        result = COMMANDS[argv[0]](settings)
    except (ConfigError, StackError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, ConfigError) else 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
