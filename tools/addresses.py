"""Records which Terraform addresses a commit synthesizes, so a later tree can prove it moves none.

    .venv/bin/python -m tools.addresses REF [--out FILE]

Checks REF out into a temporary git worktree, synthesizes it with main.py once per unit-test
profile (tests/unit/profiles.py) and writes the sorted managed-resource addresses per profile
to FILE (default tests/unit/fixtures/addresses-<REF>.json). tests/unit/test_addresses.py holds
them against the current synth: every address that is gone must be the source of a `moved` block.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.unit.profiles import PROFILES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = PROJECT_ROOT / "tests" / "unit" / "fixtures"
# What main.py needs from the environment besides the settings; settings come from the profile alone.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "TMPDIR", "JSII_NODE", "NODE_OPTIONS")


def managed_addresses(synthesized: dict) -> list[str]:
    """`type.name` of every managed resource in a cdk.tf.json (data sources cannot move)."""
    return sorted(
        f"{resource_type}.{name}"
        for resource_type, resources in synthesized.get("resource", {}).items()
        for name in resources
    )


def moved_blocks(synthesized: dict) -> dict[str, str]:
    """{from address: to address} of the `moved` blocks in a cdk.tf.json."""
    return {block["from"]: block["to"] for block in synthesized.get("moved", [])}


def forgotten_addresses(synthesized: dict) -> set[str]:
    """Addresses of the `removed` blocks that keep the resource (lifecycle destroy = false) in a cdk.tf.json."""
    return {
        block["from"] for block in synthesized.get("removed", []) if block.get("lifecycle", {}).get("destroy") is False
    }


def synthesize(tree: Path, profile: dict[str, str]) -> dict:
    """Runs tree/main.py with only the profile's settings; returns the parsed cdk.tf.json."""
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ} | profile
    result = subprocess.run([sys.executable, "main.py"], cwd=tree, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"synth of {tree} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    [stack_json] = (tree / "cdktf.out" / "stacks").glob("*/cdk.tf.json")
    synthesized = json.loads(stack_json.read_text())
    stack_json.unlink()  # the next profile writes its own stack folder
    return synthesized


def addresses_at(ref: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="tap-addresses-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), ref], cwd=PROJECT_ROOT, check=True, capture_output=True
        )
        try:
            return {
                "ref": ref,
                "profiles": {
                    name: {"environment": profile, "addresses": managed_addresses(synthesize(tree, profile))}
                    for name, profile in PROFILES.items()
                },
            }
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=PROJECT_ROOT, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.addresses", description=__doc__.split("\n")[0])
    parser.add_argument("ref", help="git commit whose addresses to record")
    parser.add_argument("--out", type=Path, help="fixture to write (default tests/unit/fixtures/addresses-REF.json)")
    args = parser.parse_args(argv)
    out = args.out or FIXTURES / f"addresses-{args.ref}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(addresses_at(args.ref), indent=1, sort_keys=True) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
