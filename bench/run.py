"""Benchmarks the project and writes bench/results.md.

    .venv/bin/python -m bench.run [--runs 3] [--no-emulator]

1. cold synth of the full stack vs a one-resource floor stack (median of --runs)
2. the unit suite's wall time vs one cold synth
3. each Lambda zip's size and its handler's import time (median of --runs)
4. on the local emulator: deploy, plan after apply, destroy (skipped with --no-emulator)
5. the long cutover rehearsal (`python -m tools.rehearsal --bench`, its own emulator): the invariants, and
   the throughput through ALB -> Lambda -> Data API -> PostgreSQL once warm (skipped with --no-rehearsal)

Every measurement runs in a fresh subprocess. Missing a target is reported, not an
error: the exit code is 0 unless something could not be measured at all (then 1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from lib.lambda_imports import HandlerImportError, import_packaged_handler
from lib.packaging import build_package
from tools.local_aws.common import EMULATOR_CREDENTIALS
from tools.local_aws.loopback import free_port

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.md"
LAMBDA_ROOT = PROJECT_ROOT / "lib" / "lambda"
PYTHON = sys.executable

SYNTH_RATIO_TARGET = 1.15
SUITE_RATIO_TARGET = 2.5
ZIP_BYTES_TARGET = 32 * 1024
IMPORT_SECONDS_TARGET = 0.100
PLAN_SECONDS_TARGET = 10.0
THROUGHPUT_TARGET = 50.0  # payments per second through the ALB, warm
P99_MS_TARGET = 250.0
WRITE_PAUSE_SECONDS_TARGET = 10.0
REHEARSAL_DIR = PROJECT_ROOT / "rehearsal"
MAKE_PLAN_SECONDS_TARGET = 20.0  # no-change `make plan` after deploy: synth and init reused

# What every handler that talks to AWS pays before its own code (informational floor).
BOTO3_PROBE = """
import time
start = time.perf_counter()
import boto3, botocore.config
print(time.perf_counter() - start)
"""


class BenchError(Exception):
    """A measurement could not be taken."""


@dataclass
class Row:
    metric: str
    measured: str
    target: str
    passed: bool | None  # None: informational, or could not be measured

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "-"}[self.passed]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def timed(
    command: list[str], *, cwd: Path, env: dict[str, str] | None = None, output: Path | None = None, merge: bool = True
) -> tuple[float, subprocess.CompletedProcess]:
    """Runs command to completion; returns (wall seconds, result; stderr joins stdout when merge)."""
    start = time.perf_counter()
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge else subprocess.PIPE,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if output is not None:
        output.write_text(result.stdout)
    return elapsed, result


def checked(what: str, elapsed_result: tuple[float, subprocess.CompletedProcess]) -> float:
    elapsed, result = elapsed_result
    if result.returncode != 0:
        tail = "\n".join(((result.stdout or "") + (result.stderr or "")).strip().splitlines()[-15:])
        raise BenchError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return elapsed


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


# --- 1. cold synth --------------------------------------------------------------------


def synth_full(outdir: Path) -> tuple[float, int]:
    """main.py itself, run from outdir so its cdktf.out lands there; returns (s, resource count)."""
    elapsed = checked("full synth (main.py)", timed([PYTHON, str(PROJECT_ROOT / "main.py")], cwd=outdir))
    synthesized = list((outdir / "cdktf.out" / "stacks").glob("*/cdk.tf.json"))
    if len(synthesized) != 1:
        raise BenchError(f"full synth wrote {len(synthesized)} stacks under {outdir}")
    resources = json.loads(synthesized[0].read_text()).get("resource", {})
    return elapsed, sum(len(by_name) for by_name in resources.values())


def synth_floor(outdir: Path) -> float:
    elapsed = checked("floor synth", timed([PYTHON, "-m", "bench.floor_stack", str(outdir)], cwd=PROJECT_ROOT))
    if not (outdir / "stacks" / "Floor" / "cdk.tf.json").is_file():
        raise BenchError("floor synth wrote no cdk.tf.json")
    return elapsed


def bench_synth(runs: int) -> tuple[list[Row], float]:
    full, floor, resources = [], [], 0
    for run in range(1, runs + 1):  # interleaved, so drift on the machine hits both alike
        with tempfile.TemporaryDirectory(prefix="tap-bench-synth-") as tmp:
            elapsed, resources = synth_full(Path(tmp))
            full.append(elapsed)
            floor.append(synth_floor(Path(tmp) / "floor"))
        log(f"synth run {run}/{runs}: full {full[-1]:.2f} s, floor {floor[-1]:.2f} s")
    full_median, floor_median = statistics.median(full), statistics.median(floor)
    ratio = full_median / floor_median
    runs_note = f"median of {runs}"
    return [
        Row(f"cold synth, full stack ({resources} resources, {runs_note})", seconds(full_median), "-", None),
        Row(f"cold synth, floor stack (1 aws_vpc, {runs_note})", seconds(floor_median), "-", None),
        Row("cold synth ratio full / floor", f"{ratio:.2f}x", f"<= {SYNTH_RATIO_TARGET}x", ratio <= SYNTH_RATIO_TARGET),
    ], full_median


# --- 2. unit suite --------------------------------------------------------------------


def bench_unit_suite(cold_synth: float) -> tuple[list[Row], list[str]]:
    command = [PYTHON, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"]
    elapsed, result = timed(command, cwd=PROJECT_ROOT)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "no output"
    counts = re.sub(r" in [0-9.]+s.*", "", summary).strip("= ")
    log(f"unit suite: {elapsed:.2f} s ({summary})")
    ratio = elapsed / cold_synth
    rows = [
        Row(f"unit suite wall time ({counts})", seconds(elapsed), "all pass", result.returncode == 0),
        Row("unit suite / one cold synth", f"{ratio:.2f}x", f"<= {SUITE_RATIO_TARGET}x", ratio <= SUITE_RATIO_TARGET),
    ]
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", result.stdout, re.MULTILINE)
    return rows, [f"unit suite exit {result.returncode}; failing: {test}" for test in failed]


# --- 3. Lambda packages -----------------------------------------------------------------


def import_seconds(probe: str, package_dir: Path) -> float:
    """Seconds the probe reports; -B: no __pycache__ written, compiled as on a cold start."""
    elapsed, result = timed([PYTHON, "-B", "-c", probe, str(package_dir)], cwd=package_dir, merge=False)
    if result.returncode != 0:
        checked(f"import of {package_dir.name}/handler.py", (elapsed, result))
    return float(result.stdout.strip().splitlines()[-1])


def bench_lambdas(runs: int) -> list[Row]:
    """Zips every function folder (lib/lambda/shared has no handler.py, so it is not one) and
    times `import handler` in the unzipped package: handler plus shared modules, as deployed."""
    rows = []
    functions = sorted(path.parent for path in LAMBDA_ROOT.glob("*/handler.py"))
    if not functions:
        raise BenchError(f"no */handler.py under {LAMBDA_ROOT}")
    with tempfile.TemporaryDirectory(prefix="tap-bench-zip-") as tmp:
        for function_dir in functions:
            package = build_package(function_dir, Path(tmp) / "zips")
            size = package.size
            try:
                imported = statistics.median(
                    import_packaged_handler(package.path, Path(tmp)).seconds for _ in range(runs)
                )
            except HandlerImportError as error:
                raise BenchError(str(error)) from None
            log(f"lambda {function_dir.name}: {size} B, import {imported * 1000:.0f} ms")
            rows.append(
                Row(
                    f"{function_dir.name}.zip size",
                    f"{size / 1024:.1f} KB",
                    f"<= {ZIP_BYTES_TARGET // 1024} KB",
                    size <= ZIP_BYTES_TARGET,
                )
            )
            rows.append(
                Row(
                    f"{function_dir.name} handler import (median of {runs})",
                    seconds(imported),
                    f"<= {IMPORT_SECONDS_TARGET * 1000:.0f} ms",
                    imported <= IMPORT_SECONDS_TARGET,
                )
            )
    boto3_floor = statistics.median(import_seconds(BOTO3_PROBE, functions[0]) for _ in range(runs))
    rows.append(
        Row(f"for reference: `import boto3, botocore.config` alone (median of {runs})", seconds(boto3_floor), "-", None)
    )
    return rows


# --- 4. emulator round trip ---------------------------------------------------------------


def make_sandbox(root: Path) -> Path:
    """A copy of the working tree (tracked + untracked, not ignored files).

    tools.stack keeps its emulator pidfile, plan file, plan-summary.md and
    cfn-outputs/ at fixed paths under the project; in a copy, the benchmark's
    deploy/destroy/down cannot touch another deployment's emulator or files.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    sandbox = root / "project"
    for name in filter(None, listed.decode().split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (sandbox / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, sandbox / name)
    return sandbox


def bench_emulator() -> tuple[list[Row], list[str]]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "TERRAFORM_STATE_BUCKET"}
    env.update(ENVIRONMENT_SUFFIX="bench", LOCAL_AWS_PORT=str(port), TARGET="local")
    stack = [PYTHON, "-m", "tools.stack"]
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tap-bench-emulator-") as tmp:
        sandbox = make_sandbox(Path(tmp))
        logs = Path(tmp)
        stack_dir = sandbox / "cdktf.out" / "stacks" / "TapStackbench"
        terraform = [PYTHON, "-m", "tools.terraform", str(stack_dir)]
        tf_env = {**env, **EMULATOR_CREDENTIALS}
        log(f"emulator: sandbox {sandbox}, port {port}")
        try:
            elapsed, result = timed([*stack, "deploy"], cwd=sandbox, env=env, output=logs / "deploy.log")
            checked("tools.stack deploy", (elapsed, result))
            added = re.search(r"Apply complete! Resources: (\d+) added", result.stdout)
            listed = timed([*terraform, "state", "list"], cwd=sandbox, env=tf_env, merge=False)
            checked("terraform state list", listed)
            in_state = len(listed[1].stdout.split())
            log(f"emulator deploy: {elapsed:.1f} s, {in_state} in state")
            rows.append(
                Row(
                    f"deploy: synth + emulator + init + apply ({added.group(1) if added else '?'} "
                    f"added, {in_state} in state)",
                    seconds(elapsed),
                    "-",
                    None,
                )
            )

            elapsed, result = timed([*stack, "plan"], cwd=sandbox, env=env, output=logs / "plan.log")
            if result.returncode not in (0, 3):  # 3: the plan summary flags a dangerous change
                checked("tools.stack plan", (elapsed, result))
            reused = "is up to date" in result.stdout and "terraform init: up to date" in result.stdout
            log(
                f"emulator plan command: {elapsed:.1f} s (exit {result.returncode}, synth and init "
                f"{'reused' if reused else 'run again'})"
            )
            rows.append(
                Row(
                    f"no-change `make plan` after deploy (`tools.stack plan`: synth and init "
                    f"{'reused' if reused else 'RUN AGAIN'}, plan, summary; exit {result.returncode})",
                    seconds(elapsed),
                    f"<= {MAKE_PLAN_SECONDS_TARGET:.0f} s",
                    elapsed <= MAKE_PLAN_SECONDS_TARGET and reused,
                )
            )

            plan_args = ["plan", "-input=false", "-no-color", "-lock=false", "-detailed-exitcode"]
            elapsed, result = timed(
                [*terraform, *plan_args], cwd=sandbox, env=tf_env, output=logs / "terraform-plan.log"
            )
            if result.returncode not in (0, 2):
                checked("terraform plan", (elapsed, result))
            changes = re.search(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy", result.stdout)
            drift = "no changes" if result.returncode == 0 else (changes.group(0) if changes else "changes")
            log(f"emulator terraform plan: {elapsed:.1f} s ({drift})")
            rows.append(
                Row(
                    f"plan after apply: terraform plan alone ({drift})",
                    seconds(elapsed),
                    f"<= {PLAN_SECONDS_TARGET:.0f} s",
                    elapsed <= PLAN_SECONDS_TARGET,
                )
            )
            notes += [
                f"plan right after apply wants: {change}"
                for change in re.findall(r"^\s*# (\S+ will be .+|\S+ must be .+)$", result.stdout, re.M)
            ]

            elapsed, result = timed([*stack, "destroy"], cwd=sandbox, env=env, output=logs / "destroy.log")
            checked("tools.stack destroy", (elapsed, result))
            destroyed = re.search(r"Destroy complete! Resources: (\d+) destroyed", result.stdout)
            log(f"emulator destroy: {elapsed:.1f} s")
            rows.append(
                Row(
                    f"destroy: synth + init + destroy ({destroyed.group(1) if destroyed else '?'} destroyed)",
                    seconds(elapsed),
                    "-",
                    None,
                )
            )
        finally:
            down = subprocess.run([*stack, "down"], cwd=sandbox, env=env, text=True, capture_output=True, check=False)
            log(f"emulator down: {(down.stdout + down.stderr).strip() or down.returncode}")
    return rows, notes


# --- 5. the long rehearsal ------------------------------------------------------------------


def bench_rehearsal() -> list[Row]:
    """The cutover under a heavier load on its own emulator, and the warm throughput through the ALB."""
    elapsed, result = timed(
        [PYTHON, "-m", "tools.rehearsal", "--bench", "--report-dir", str(REHEARSAL_DIR)], cwd=PROJECT_ROOT, output=None
    )
    (PROJECT_ROOT / "build" / "logs").mkdir(parents=True, exist_ok=True)
    (PROJECT_ROOT / "build" / "logs" / "bench-rehearsal.log").write_text(result.stdout)
    figures_file = REHEARSAL_DIR / "figures.json"
    if result.returncode == 2 or not figures_file.exists():
        checked("the rehearsal (log: build/logs/bench-rehearsal.log)", (elapsed, result))
        raise BenchError(f"the rehearsal wrote no figures (exit {result.returncode})")
    figures = json.loads(figures_file.read_text())
    log(f"rehearsal: {elapsed:.0f} s, exit {result.returncode}")
    rows = [
        Row(
            "rehearsal (deploy, flip, rollback under load, destroy): every invariant held",
            seconds(elapsed),
            "0 lost, 0 doubled, 0 failed",
            figures["passed"],
        )
    ]
    rows += [Row(f"rehearsal: {item['name']}", item["measured"], "-", item["held"]) for item in figures["invariants"]]
    rows.append(
        Row(
            f"rehearsal: {figures['requests']} requests, latency p50 / p99 (all paths, through the flips)",
            f"{figures['p50_ms']:.0f} ms / {figures['p99_ms']:.0f} ms",
            "-",
            None,
        )
    )
    throughput = figures.get("throughput")
    if throughput:
        rows.append(
            Row(
                f"payments/s through ALB -> Lambda -> Data API -> PostgreSQL, warm ({throughput['clients']} "
                f"clients, {throughput['seconds']:g} s)",
                f"{throughput['payments_per_second']:.1f}",
                f">= {THROUGHPUT_TARGET:g}",
                throughput["payments_per_second"] >= THROUGHPUT_TARGET,
            )
        )
        rows.append(
            Row(
                "write latency p99 through the ALB, warm",
                f"{throughput['p99_ms']:.0f} ms",
                f"< {P99_MS_TARGET:g} ms",
                throughput["p99_ms"] < P99_MS_TARGET,
            )
        )
    return rows


# --- report -------------------------------------------------------------------------------


def first_line(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    except OSError:
        return "not found"
    return (result.stdout or result.stderr).strip().splitlines()[0] if (result.stdout or result.stderr) else "?"


def machine() -> list[tuple[str, str]]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", model),
        ("cores", str(os.cpu_count())),
        ("memory", f"{int(total.group(1)) / 1024 / 1024:.1f} GiB" if total else "unknown"),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("Terraform", first_line(["terraform", "version"])),
        ("load average at start (1/5/15 min)", load),
    ]


def render_table(rows: list[Row]) -> list[str]:
    header = ("metric", "measured", "target", "result")
    cells = [header] + [(row.metric, row.measured, row.target, row.verdict) for row in rows]
    widths = [max(len(cell[i]) for cell in cells) for i in range(4)]
    return ["  ".join(cell[i].ljust(widths[i]) for i in range(4)).rstrip() for cell in cells]


BY_HAND = "## Measured by hand"


def kept_section() -> str:
    """The part of results.md that is not this run's (`make test` timings and the like), kept as it is."""
    text = RESULTS.read_text() if RESULTS.exists() else ""
    return "\n" + text[text.index(BY_HAND) :] if BY_HAND in text else ""


def render_markdown(rows: list[Row], host: list[tuple[str, str]], notes: list[str], command: str) -> str:
    lines = ["# Benchmark results", "", f"`{command}`", "", "## Machine", ""]
    lines += [f"- {label}: {value}" for label, value in host]
    lines += ["", "## Results", "", "| metric | measured | target | result |", "|---|---|---|---|"]
    lines += [f"| {row.metric} | {row.measured} | {row.target} | {row.verdict} |" for row in rows]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per median (synth, imports); default 3")
    parser.add_argument("--no-emulator", action="store_true", help="skip deploy/plan/destroy on the emulator")
    parser.add_argument("--no-rehearsal", action="store_true", help="skip the long cutover rehearsal")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    host = machine()
    rows: list[Row] = []
    notes: list[str] = []
    errors = 0

    def section(name: str, measure: Callable[[], T]) -> T | None:
        nonlocal errors
        try:
            return measure()
        except (BenchError, OSError, subprocess.SubprocessError) as error:
            errors += 1
            log(f"{name}: {error}")
            rows.append(Row(f"{name}: NOT MEASURED", str(error).splitlines()[0], "-", None))
            notes.append(f"{name} could not be measured: {error}")
            return None

    synth = section("cold synth", lambda: bench_synth(args.runs))
    if synth:
        rows += synth[0]
        suite = section("unit suite", lambda: bench_unit_suite(synth[1]))
        if suite:
            rows.extend(suite[0])
            notes.extend(suite[1])
    section("lambda packages", lambda: rows.extend(bench_lambdas(args.runs)))
    if args.no_emulator:
        notes.append("emulator round trip skipped (--no-emulator)")
    else:
        emulator = section("emulator", bench_emulator)
        if emulator:
            rows.extend(emulator[0])
            notes.extend(emulator[1])

    if args.no_rehearsal:
        notes.append("rehearsal skipped (--no-rehearsal)")
    else:
        section("rehearsal", lambda: rows.extend(bench_rehearsal()))

    misses = [row for row in rows if row.passed is False]
    notes[:0] = [f"MISSED: {row.metric}: {row.measured} (target {row.target})" for row in misses]
    command = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    RESULTS.write_text(render_markdown(rows, host, notes, command.strip()) + kept_section())

    print()
    print("\n".join(render_table(rows)))
    print()
    for note in notes:
        print(note)
    print(f"{len(misses)} target(s) missed; results written to {RESULTS.relative_to(PROJECT_ROOT)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
