"""End-to-end on the local emulator, driven through the cdktf CLI as users drive it:
`cdktf deploy --auto-approve` -> `cdktf output --outputs-file cfn-outputs/flat-outputs.json`
-> the README's runbook commands (tests/integration/test_cutover_runbook.py) -> a short cutover rehearsal under
load on the same deployment (`python -m tools.rehearsal --reuse`) -> the other integration tests (incl. `make plan`
reviews and a BASE plan) -> a second suffix deployed beside the first (`make deploy`'s path, with a VPN and DNS
forwarding), planned, checked and destroyed -> `cdktf destroy --auto-approve` -> nothing left -> stop the emulator.
Always tears down, even on failure.

Runs as its own environment (suffix `e2e`, a free port) so it never touches a
deployment you made with `make deploy`. The cdktf CLI's own output goes to
build/logs/e2e-cdktf-<command>.log; the terminal gets its result lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tools.local_aws.loopback import free_port
from tools.progress import display_path
from tools.stack import LOG_DIR, OUTPUTS_FILE, PROJECT_ROOT

# Lines of the cdktf CLI's output worth showing: results and errors (its spinner repeats the rest).
RESULT_LINES = re.compile(r"(Apply complete!|Destroy complete!|No changes\.|Error: |error: |written to)")
ANSI_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PEER_SUFFIX = "e2e-peer"
# What the second suffix proves: it deploys beside the first, applies with no perpetual diff, and its way to
# on-premises exists.
RUNBOOK_TESTS = "tests/integration/test_cutover_runbook.py"
NO_CHANGE_PLAN_TESTS = "tests/integration/test_no_change_plan.py"
PEER_TESTS = [NO_CHANGE_PLAN_TESTS, "tests/integration/test_onprem_link.py"]


def e2e_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"ENVIRONMENT_SUFFIX": "e2e", "TARGET": "local", "LOCAL_AWS_PORT": str(free_port())})
    # The cutover as it runs in production: both weighted records. The legacy address is private
    # (RFC 1918, reached over the VPN in a real deployment, so no Route53 health check); nothing
    # is ever sent to it locally. Documentation ranges such as 203.0.113.0/24 are refused.
    env.setdefault("LEGACY_ENDPOINT", "192.168.50.10")
    return env


def peer_environment(env: dict[str, str]) -> dict[str, str]:
    """A second suffix on the same emulator, as a real account would hold it: its own stack beside the first
    (the account-wide DMS roles belong to neither), reaching on-premises over a statically routed VPN and
    finding the source by host name through DNS forwarding."""
    return {
        **env,
        "ENVIRONMENT_SUFFIX": PEER_SUFFIX,
        "ONPREM_CUSTOMER_GATEWAY_IP": "52.94.76.200",
        "ONPREM_DB_HOST": "pg01.corp.example.com",
        "ONPREM_DNS_SERVERS": "192.168.0.2,192.168.0.3",
    }


def step(title: str, command: list[str], env: dict[str, str]) -> int:
    print(f"\n=== {title} ===", flush=True)
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=False).returncode


def cdktf_step(title: str, arguments: list[str], env: dict[str, str]) -> int:
    """One cdktf CLI command: its output to a log, its result lines (or the log's tail) here."""
    print(f"\n=== {title}: cdktf {' '.join(arguments)} ===", flush=True)
    log = LOG_DIR / f"e2e-cdktf-{arguments[0]}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out:
        exit_code = subprocess.run(
            [sys.executable, "-m", "tools.cdktf_cli", *arguments],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    text = ANSI_CODES.sub("", log.read_text(encoding="utf-8", errors="replace"))
    lines = [line.strip() for line in text.splitlines()]
    shown = list(dict.fromkeys(line for line in lines if RESULT_LINES.search(line)))
    if exit_code != 0:
        shown += [line for line in lines if line][-20:]
    for line in shown[-25:]:
        print(f"  {line}", flush=True)
    print(f"  cdktf {arguments[0]}: exit {exit_code}; full output in {display_path(log)}", flush=True)
    return exit_code


def integration_and_rehearsal(python: str, env: dict[str, str]) -> list[str]:
    """The README's runbook commands first (they start replication on the fresh deployment), then the short
    rehearsal (it needs legacy as the writer and replication running), then every other integration test
    (some move the routing as a flip would); returns what failed."""
    pytest = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    failures = []
    if step("integration tests: the runbook's commands on the emulator", [*pytest, RUNBOOK_TESTS], env) != 0:
        failures.append("runbook tests")
    if (
        step(
            "a short cutover rehearsal under load on this deployment", [python, "-m", "tools.rehearsal", "--reuse"], env
        )
        != 0
    ):
        failures.append("rehearsal")
    # The first suffix's no-change plan is the plan review's (test_plan_review.py runs `make plan` on it).
    others = [f"--ignore={RUNBOOK_TESTS}", f"--ignore={NO_CHANGE_PLAN_TESTS}"]
    if step("integration tests", [*pytest, "tests/integration", *others], env) != 0:
        failures.append("integration tests")
    return failures


def second_suffix(peer: dict[str, str], python: str) -> list[str]:
    """Deploys the second suffix beside the first (`make deploy`'s path), checks it, destroys it and checks that
    nothing of it is left while the first stays; returns what failed."""
    failures = []
    try:
        if (
            step(
                f"a second suffix ({PEER_SUFFIX}) beside the first on the same emulator",
                [python, "-m", "tools.stack", "deploy"],
                peer,
            )
            != 0
        ):
            return ["second suffix deploy"]
        if (
            step(
                "second suffix: no-change plan and its way to on-premises",
                [python, "-m", "pytest", *PEER_TESTS, "-q", "-p", "no:cacheprovider"],
                peer,
            )
            != 0
        ):
            failures.append("second suffix tests")
    finally:
        if step("second suffix: destroy", [python, "-m", "tools.stack", "destroy"], peer) != 0:
            failures.append("second suffix destroy")
        elif (
            step(
                "second suffix: nothing of it is left",
                [python, "-m", "pytest", "tests/teardown", "-q", "-p", "no:cacheprovider"],
                peer,
            )
            != 0
        ):
            failures.append("second suffix teardown check")
    return failures


def main() -> int:
    env = e2e_environment()
    peer = peer_environment(env)
    python = sys.executable
    failures: list[str] = []
    try:
        if cdktf_step("deploy to the local emulator", ["deploy", "--auto-approve"], env) != 0:
            failures.append("deploy")
        elif (
            cdktf_step(
                "write the outputs file", ["output", "--outputs-file", str(OUTPUTS_FILE.relative_to(PROJECT_ROOT))], env
            )
            != 0
        ):
            failures.append("outputs file")
        else:
            failures += integration_and_rehearsal(python, env)
        if "deploy" not in failures:
            failures += second_suffix(peer, python)
    finally:
        if cdktf_step("destroy", ["destroy", "--auto-approve"], env) != 0:
            failures.append("destroy")
        elif (
            "deploy" not in failures
            and step(
                "nothing of the stack is left",
                [python, "-m", "pytest", "tests/teardown", "-q", "-p", "no:cacheprovider"],
                env,
            )
            != 0
        ):
            failures.append("teardown check")
        step("stop the emulator", [python, "-m", "tools.stack", "down"], env)
    if failures:
        print(f"\ne2e failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("\ne2e passed: deployed and wrote outputs through the cdktf CLI, verified, planned, destroyed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
