"""End-to-end on the local emulator, driven through the cdktf CLI as users drive it:
`cdktf deploy --auto-approve` -> `cdktf output --outputs-file cfn-outputs/flat-outputs.json`
-> the README's runbook commands (tests/integration/test_cutover_runbook.py) -> a short cutover rehearsal under
load on the same deployment (`python -m tools.rehearsal --reuse`) -> the other integration tests (incl. `make plan`
reviews), while a BASE plan runs on an emulator of its own and a second suffix is deployed beside the first
(`make deploy`'s path, with a VPN and DNS forwarding), planned, checked and destroyed -> `cdktf destroy
--auto-approve` -> nothing left -> stop the emulator.
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
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

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
BASE_PLAN_TESTS = "tests/integration/test_base_plan.py"
BASE_PLAN_SUFFIX = "e2e-base"
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


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


def step(title: str, command: list[str], env: dict[str, str], *, out: TextIO | None = None) -> int:
    """One command; its output to `out` (a log) or, by default, to the terminal."""
    print(f"\n=== {title} ===", file=out or sys.stdout, flush=True)
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, check=False, stdout=out, stderr=subprocess.STDOUT if out else None
    ).returncode


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


def runbook_and_rehearsal(python: str, env: dict[str, str]) -> list[str]:
    """The README's runbook commands first (they start replication on the fresh deployment), then the short
    rehearsal (it needs legacy as the writer and replication running); returns what failed."""
    failures = []
    if step("integration tests: the runbook's commands on the emulator", [*PYTEST, RUNBOOK_TESTS], env) != 0:
        failures.append("runbook tests")
    rehearsal = [python, "-m", "tools.rehearsal", "--reuse"]
    if step("a short cutover rehearsal under load on this deployment", rehearsal, env) != 0:
        failures.append("rehearsal")
    return failures


def other_integration_tests(env: dict[str, str]) -> list[str]:
    """Every other integration test (some move the routing as a flip would); returns what failed.
    The first suffix's no-change plan is the plan review's (test_plan_review.py runs `make plan` on it)."""
    others = [f"--ignore={path}" for path in (RUNBOOK_TESTS, NO_CHANGE_PLAN_TESTS, BASE_PLAN_TESTS)]
    if step("integration tests", [*PYTEST, "tests/integration", *others, "--durations=8"], env) != 0:
        return ["integration tests"]
    return []


def second_suffix(peer: dict[str, str], python: str, out: TextIO) -> list[str]:
    """Deploys the second suffix beside the first (`make deploy`'s path), checks it, destroys it and checks that
    nothing of it is left while the first stays; returns what failed."""
    title = f"a second suffix ({PEER_SUFFIX}) beside the first on the same emulator"
    if step(title, [python, "-m", "tools.stack", "deploy"], peer, out=out) != 0:
        return ["second suffix deploy"]
    failures = []
    try:
        if step("second suffix: no-change plan and its way to on-premises", [*PYTEST, *PEER_TESTS], peer, out=out):
            failures.append("second suffix tests")
    finally:
        if step("second suffix: destroy", [python, "-m", "tools.stack", "destroy"], peer, out=out) != 0:
            failures.append("second suffix destroy")
        elif step("second suffix: nothing of it is left", [*PYTEST, "tests/teardown"], peer, out=out) != 0:
            failures.append("second suffix teardown check")
    return failures


def base_plan(env: dict[str, str], out: TextIO) -> list[str]:
    """`make plan BASE=`: the base on an emulator of its own, under a suffix of its own; returns what failed."""
    own = {**env, "ENVIRONMENT_SUFFIX": BASE_PLAN_SUFFIX}
    if step(f"a BASE plan ({BASE_PLAN_SUFFIX}) on an emulator of its own", [*PYTEST, BASE_PLAN_TESTS], own, out=out):
        return ["BASE plan test"]
    return []


class Meanwhile:
    """Tracks that run in threads beside the first suffix's integration tests, each with its output in a log of
    its own (shown whole when they are done): they spend most of their time waiting (on Terraform's waiters, on
    the functions), and they share only the emulator and the files tools/shared_files.py guards."""

    def __init__(self, tracks: dict[str, Callable[[TextIO], list[str]]]) -> None:
        self.failures: list[str] = []
        self.logs = {name: LOG_DIR / f"{name}.log" for name in tracks}
        self.threads = [
            threading.Thread(target=self._run, args=(track, self.logs[name])) for name, track in tracks.items()
        ]
        for name, thread in zip(tracks, self.threads, strict=True):
            print(f"\n=== meanwhile: {name.removeprefix('e2e-')}; output in {display_path(self.logs[name])} ===")
            thread.start()

    def _run(self, track: Callable[[TextIO], list[str]], log: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w", encoding="utf-8") as out:
            self.failures.extend(track(out))

    def finish(self) -> list[str]:
        """Waits for every track, shows their logs, returns what failed."""
        for thread in self.threads:
            thread.join()
        for log in self.logs.values():
            print(log.read_text(encoding="utf-8", errors="replace"), end="", flush=True)
        return self.failures


def main() -> int:
    env = e2e_environment()
    peer = peer_environment(env)
    python = sys.executable
    failures: list[str] = []
    meanwhile: Meanwhile | None = None
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
            failures += runbook_and_rehearsal(python, env)
            meanwhile = Meanwhile(
                {
                    "e2e-second-suffix": lambda out: second_suffix(peer, python, out),
                    "e2e-base-plan": lambda out: base_plan(env, out),
                }
            )
            failures += other_integration_tests(env)
    finally:
        # The first suffix is destroyed while the tracks may still run; its nothing-left check waits for them,
        # because the second suffix's names start with the first's prefix.
        destroyed = cdktf_step("destroy", ["destroy", "--auto-approve"], env) == 0
        if meanwhile is not None:
            failures += meanwhile.finish()
        if not destroyed:
            failures.append("destroy")
        elif "deploy" not in failures and step("nothing of the stack is left", [*PYTEST, "tests/teardown"], env) != 0:
            failures.append("teardown check")
        step("stop the emulator", [python, "-m", "tools.stack", "down"], env)
    if failures:
        print(f"\ne2e failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("\ne2e passed: deployed and wrote outputs through the cdktf CLI, verified, planned, destroyed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
