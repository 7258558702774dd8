"""End-to-end on the local emulator: deploy -> integration tests (incl. a no-change plan)
-> destroy -> nothing left -> stop the emulator. Always tears down, even on failure.

Runs as its own environment (suffix `e2e`, a free port) so it never touches a
deployment you made with `make deploy`.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tools.local_aws.loopback import free_port
from tools.stack import PROJECT_ROOT


def e2e_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"ENVIRONMENT_SUFFIX": "e2e", "TARGET": "local", "LOCAL_AWS_PORT": str(free_port())})
    # The cutover as it runs in production: both weighted records. The legacy address is private
    # (RFC 1918, reached over the VPN in a real deployment, so no Route53 health check); nothing
    # is ever sent to it locally. Documentation ranges such as 203.0.113.0/24 are refused.
    env.setdefault("LEGACY_ENDPOINT", "192.168.50.10")
    return env


def step(title: str, command: list[str], env: dict[str, str]) -> int:
    print(f"\n=== {title} ===", flush=True)
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=False).returncode


def main() -> int:
    env = e2e_environment()
    python = sys.executable
    failures: list[str] = []
    try:
        if step("deploy to the local emulator", [python, "-m", "tools.stack", "deploy"], env) != 0:
            failures.append("deploy")
        else:
            if step("integration tests", [python, "-m", "pytest", "tests/integration", "-q", "-p",
                                          "no:cacheprovider"], env) != 0:
                failures.append("integration tests")
    finally:
        if step("destroy", [python, "-m", "tools.stack", "destroy"], env) != 0:
            failures.append("destroy")
        elif "deploy" not in failures and step(
                "nothing of the stack is left", [python, "-m", "pytest", "tests/teardown", "-q", "-p",
                                                 "no:cacheprovider"], env) != 0:
            failures.append("teardown check")
        step("stop the emulator", [python, "-m", "tools.stack", "down"], env)
    if failures:
        print(f"\ne2e failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("\ne2e passed: deployed, verified, planned with no changes, destroyed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
