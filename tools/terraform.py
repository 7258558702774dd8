"""Runs Terraform with the project's own CLI configuration.

The environment may point TF_CLI_CONFIG_FILE at a file that does not exist, so
the project writes its own: a filesystem mirror for registry.terraform.io when
a pre-installed provider mirror exists, direct downloads otherwise.

    python -m tools.terraform <stack dir> <terraform args...>
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CLI_CONFIG = PROJECT_ROOT / "build" / "terraform.rc"
MIRROR_CANDIDATES = ("/opt/tf-plugins", "/usr/share/terraform/plugins",
                     "~/.terraform.d/plugins", "~/.local/share/terraform/plugins")


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
        # Another Terraform may be reading it right now: replace it whole, never truncate it.
        CLI_CONFIG.parent.mkdir(parents=True, exist_ok=True)
        descriptor, partial = tempfile.mkstemp(dir=CLI_CONFIG.parent, prefix=f"{CLI_CONFIG.name}.")
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.replace(partial, CLI_CONFIG)
    return CLI_CONFIG


@contextmanager
def plugin_cache_lock(*, exclusive: bool) -> Iterator[None]:
    """Terraform's plugin cache is not safe for concurrent use: an `init` creates and rewrites its
    folders, so it runs alone (exclusive), while other commands, which only read it, share the lock."""
    PLUGIN_CACHE_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with PLUGIN_CACHE_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def terraform_env(mirror: Path | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["TF_CLI_CONFIG_FILE"] = str(write_cli_config(mirror))
    env["TF_IN_AUTOMATION"] = "1"
    env["CHECKPOINT_DISABLE"] = "1"
    env.update(extra or {})
    return env


def run(stack_dir: Path, args: list[str], *, extra_env: dict[str, str] | None = None,
        capture: bool = False) -> subprocess.CompletedProcess:
    mirror = find_provider_mirror()

    def terraform() -> subprocess.CompletedProcess:
        return subprocess.run(["terraform", *args], cwd=stack_dir, env=terraform_env(mirror, extra_env),
                              text=True, capture_output=capture, check=False)

    if mirror is not None:  # no plugin cache: nothing shared between runs
        return terraform()
    with plugin_cache_lock(exclusive=args[:1] == ["init"]):
        return terraform()


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
