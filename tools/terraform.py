"""Runs Terraform with the project's own CLI configuration.

The environment may point TF_CLI_CONFIG_FILE at a file that does not exist, so
the project writes its own: a filesystem mirror for registry.terraform.io when
a pre-installed provider mirror exists, direct downloads otherwise.

    python -m tools.terraform <stack dir> <terraform args...>
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.shared_files import locked, replace_text

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CLI_CONFIG = PROJECT_ROOT / "build" / "terraform.rc"
# The committed provider lock: exact version and hashes (`terraform providers lock -fs-mirror=...`).
PROVIDER_LOCK = PROJECT_ROOT / ".terraform.lock.hcl"
MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "/usr/share/terraform/plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
)


def find_provider_mirror() -> Path | None:
    """The first mirror folder holding hashicorp/aws (TF_PROVIDER_MIRROR wins when set)."""
    explicit = os.environ.get("TF_PROVIDER_MIRROR")
    candidates = [explicit] if explicit else list(MIRROR_CANDIDATES)
    for candidate in candidates:
        folder = Path(candidate).expanduser()
        if (folder / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return folder
    return None


PLUGIN_CACHE = PROJECT_ROOT / "build" / "plugin-cache"
PLUGIN_CACHE_LOCK = PROJECT_ROOT / "build" / "plugin-cache.lock"


def cli_config_text(mirror: Path | None, plugin_cache: Path = PLUGIN_CACHE) -> str:
    if mirror is None:
        # Downloads go through a cache, so each stack folder does not fetch ~700 MB again.
        return f'plugin_cache_dir = "{plugin_cache}"\n' + "provider_installation {\n  direct {}\n}\n"
    # No cache with a mirror: init symlinks the unpacked mirror, and a shared cache would be
    # rewritten by every init that has no lock file, under the feet of concurrent validates.
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "}\n"
    )


def write_cli_config(mirror: Path | None) -> Path:
    if mirror is None:
        PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
    text = cli_config_text(mirror)
    if not CLI_CONFIG.exists() or CLI_CONFIG.read_text() != text:
        replace_text(CLI_CONFIG, text)  # another Terraform may be reading it right now
    return CLI_CONFIG


@contextmanager
def plugin_cache_lock(*, exclusive: bool) -> Iterator[None]:
    """Terraform's plugin cache is not safe for concurrent use: an `init` creates and rewrites its
    folders, so it runs alone (exclusive), while other commands, which only read it, share the lock."""
    with locked(PLUGIN_CACHE_LOCK, exclusive=exclusive):
        yield


def install_provider_lock(stack_dir: Path) -> Path:
    """Puts the committed lock beside a synthesized stack, so every `terraform init` there (ours,
    the cdktf CLI's or a user's plain terraform) installs exactly the locked provider. With a lock
    present the cdktf CLI also skips its `terraform providers lock`, which needs the registry."""
    target = stack_dir / PROVIDER_LOCK.name
    text = PROVIDER_LOCK.read_text()
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return target


def terraform_env(mirror: Path | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["TF_CLI_CONFIG_FILE"] = str(write_cli_config(mirror))
    env["TF_IN_AUTOMATION"] = "1"
    env["CHECKPOINT_DISABLE"] = "1"
    env.update(extra or {})
    return env


def _with_plugin_cache(mirror: Path | None, args: list[str], terraform: Callable[[], object]):
    if mirror is not None:  # no plugin cache: nothing shared between runs
        return terraform()
    with plugin_cache_lock(exclusive=args[:1] == ["init"]):
        return terraform()


def run(
    stack_dir: Path, args: list[str], *, extra_env: dict[str, str] | None = None, capture: bool = False
) -> subprocess.CompletedProcess:
    mirror = find_provider_mirror()

    def terraform() -> subprocess.CompletedProcess:
        return subprocess.run(
            ["terraform", *args],
            cwd=stack_dir,
            env=terraform_env(mirror, extra_env),
            text=True,
            capture_output=capture,
            check=False,
        )

    return _with_plugin_cache(mirror, args, terraform)


def run_logged(
    stack_dir: Path,
    args: list[str],
    *,
    log: Path,
    extra_env: dict[str, str] | None = None,
    on_line: Callable[[str], None] = lambda line: None,
) -> int:
    """Runs terraform with all of its output (stdout and stderr) going to `log`; every line is also
    handed to `on_line` as it arrives, so a caller can print short progress instead. Returns the exit code."""
    mirror = find_provider_mirror()
    log.parent.mkdir(parents=True, exist_ok=True)

    def terraform() -> int:
        with log.open("w", encoding="utf-8") as out:
            process = subprocess.Popen(
                ["terraform", *args],
                cwd=stack_dir,
                env=terraform_env(mirror, extra_env),
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                bufsize=1,
            )
            assert process.stdout is not None
            for line in process.stdout:
                out.write(line)
                out.flush()
                on_line(line.rstrip("\n"))
            return process.wait()

    return _with_plugin_cache(mirror, args, terraform)


def init_inputs_digest(stack_dir: Path, backend_args: list[str]) -> str:
    """What `terraform init` depends on: the terraform block (providers, backend), the lock file,
    the CLI config, the backend arguments and the Terraform binary. Equal digest: init would do nothing new."""
    synthesized = json.loads((stack_dir / "cdk.tf.json").read_text())
    lock = stack_dir / PROVIDER_LOCK.name
    binary = shutil.which("terraform")
    binary_id = f"{binary}:{os.stat(binary).st_size}:{os.stat(binary).st_mtime_ns}" if binary else "missing"
    parts = {
        "terraform_block": synthesized.get("terraform", {}),
        "lock": lock.read_text() if lock.exists() else None,
        "cli_config": cli_config_text(find_provider_mirror()),
        "backend_args": backend_args,
        "terraform_binary": binary_id,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def init_marker(stack_dir: Path) -> Path:
    # Inside .terraform: removing that folder (or the whole cdktf.out) forgets the marker with it.
    return stack_dir / ".terraform" / "tap-init-inputs.sha256"


def init_is_current(stack_dir: Path, digest: str) -> bool:
    marker = init_marker(stack_dir)
    return (
        (stack_dir / ".terraform" / "terraform.tfstate").is_file()
        and marker.is_file()
        and marker.read_text().strip() == digest
    )


def record_init(stack_dir: Path, digest: str) -> None:
    init_marker(stack_dir).write_text(digest + "\n")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m tools.terraform <stack dir> <terraform args...>", file=sys.stderr)
        return 2
    stack_dir = Path(argv[0])
    if not (stack_dir / "cdk.tf.json").is_file():
        print(f"error: {stack_dir}/cdk.tf.json not found; run `make synth` first", file=sys.stderr)
        return 2
    return run(stack_dir, argv[1:]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
