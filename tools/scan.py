"""Policy-scan synthesized Terraform JSON with checkov, kept in its own virtualenv.

Usage:
    python -m tools.scan --venv .venv-checkov --config .checkov.yaml \\
        cdktf.out/stacks/TapStackdev/cdk.tf.json [MORE.json ...]

The virtualenv is created when missing, and checkov is (re)installed there
when its version is not CHECKOV_VERSION. checkov's own output is shown for
each file, then one summary line per file with a line per deploy-readiness check (CKV_TAP_*, from
tools/checkov_checks/, loaded with --external-checks-dir) under it.

checkov runs offline: --skip-download stops it fetching policy metadata from
its platform and CKV_SKIP_PACKAGE_UPDATE_CHECK its version check, so only pip
needs the network (PyPI), and only to install.

Exit codes:
    0  every file scanned, no failed check
    1  at least one failed check
    2  bad input (missing file or config), checkov could not be installed, or
       checkov could not scan a file (crash, parsing errors, no report)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHECKOV_VERSION = "3.3.30"
# The project's own checks (CKV_TAP_*: deploy readiness, tools/deploy_readiness.py) run with the built-in ones.
CUSTOM_CHECKS_DIR = Path(__file__).resolve().parent / "checkov_checks"
CUSTOM_CHECK_PREFIX = "CKV_TAP_"

EXIT_CLEAN = 0
EXIT_FAILED_CHECKS = 1
EXIT_ERROR = 2

# --skip-download does not cover checkov's "new version available" check,
# which queries pypi.org at start-up (cached per user); this turns it off.
CHECKOV_OFFLINE_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}

# checkov exits 1 when checks fail; anything else non-zero means it did not run.
CHECKOV_EXIT_CODES_WITH_REPORT = (0, 1)

Runner = Callable[..., subprocess.CompletedProcess]


class ScanError(Exception):
    """The scan cannot go on: bad input or a broken checkov install."""


@dataclass(frozen=True)
class ScanCounts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    parsing_errors: int = 0


@dataclass(frozen=True)
class FileResult:
    path: str
    counts: ScanCounts | None
    error: str | None = None
    custom: tuple[tuple[str, int, int], ...] = ()  # (CKV_TAP_ check id, passed, failed)

    @property
    def status(self) -> str:
        if self.error or self.counts is None or self.counts.parsing_errors:
            return "ERROR"
        return "FAIL" if self.counts.failed else "PASS"


# ------------------------------------------------------------ the virtualenv


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def checkov_executable(venv: Path) -> Path:
    return venv / "bin" / "checkov"


def installed_checkov_version(venv: Path, run: Runner = subprocess.run) -> str | None:
    if not venv_python(venv).exists():
        return None
    result = run(
        [
            str(venv_python(venv)),
            "-c",
            "import importlib.metadata as m; print(m.version('checkov'))",
        ],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def ensure_checkov(venv: Path, run: Runner = subprocess.run) -> None:
    """Creates the venv if missing and installs the pinned checkov if needed."""
    if not venv_python(venv).exists():
        print(f"scan: creating virtualenv {venv}", file=sys.stderr)
        _run_or_raise(run, [sys.executable, "-m", "venv", str(venv)], f"cannot create virtualenv {venv}")
    installed = installed_checkov_version(venv, run)
    if installed == CHECKOV_VERSION:
        return
    print(
        f"scan: installing checkov=={CHECKOV_VERSION} (found {installed or 'none'})",
        file=sys.stderr,
    )
    _run_or_raise(
        run,
        [str(venv_python(venv)), "-m", "pip", "install", "--quiet", f"checkov=={CHECKOV_VERSION}"],
        f"pip could not install checkov=={CHECKOV_VERSION}",
    )


def _run_or_raise(run: Runner, command: list[str], message: str) -> None:
    result = run(command, capture_output=True, text=True)
    if result.returncode != 0:
        last_line = (result.stderr or result.stdout or "").strip().splitlines()[-1:] or [""]
        raise ScanError(f"{message}: {last_line[0]}")


# ------------------------------------------------------------ running checkov


def checkov_command(venv: Path, config: Path, scanned_file: Path, json_report: Path) -> list[str]:
    return [
        str(checkov_executable(venv)),
        "--framework", "terraform_json",
        "--skip-download",
        "--config-file", str(config),
        "--external-checks-dir", str(CUSTOM_CHECKS_DIR),
        "-f", str(scanned_file),
        "--quiet",
        "--compact",
        "-o", "cli",
        "-o", "json",
        # 'console' keeps the readable report on stdout; the JSON goes to a file.
        "--output-file-path", f"console,{json_report}",
    ]  # fmt: skip


def checkov_env(base: dict[str, str]) -> dict[str, str]:
    return {**base, **CHECKOV_OFFLINE_ENV}


# Blocks that only rename or forget state entries: checkov's terraform_json parser fails on their lists,
# and they hold no configuration a policy could check.
STATE_ONLY_BLOCKS = ("moved", "removed")


def without_moved_blocks(scanned_file: Path, directory: Path) -> Path:
    """A copy of the file without its `moved` and `removed` blocks, in directory."""
    document = json.loads(scanned_file.read_text(encoding="utf-8"))
    for block in STATE_ONLY_BLOCKS:
        document.pop(block, None)
    copy = directory / scanned_file.name
    copy.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return copy


def custom_checks_command(venv: Path, scanned_file: Path, json_report: Path) -> list[str]:
    """checkov with only the CKV_TAP checks and without --quiet: its JSON report then lists the passed
    checks too (the main run's --quiet report keeps only failures), for the per-check lines."""
    from tools.deploy_readiness import CHECKS  # noqa: PLC0415 - the pack's ids, from the rules themselves

    return [
        str(checkov_executable(venv)),
        "--framework", "terraform_json",
        "--skip-download",
        "--external-checks-dir", str(CUSTOM_CHECKS_DIR),
        "--check", ",".join(check.id for check in CHECKS),
        "-f", str(scanned_file),
        "--compact",
        "-o", "cli",
        "-o", "json",
        "--output-file-path", f"console,{json_report}",
    ]  # fmt: skip


def scan_file(venv: Path, config: Path, scanned_file: Path, run: Runner = subprocess.run) -> FileResult:
    with tempfile.TemporaryDirectory(prefix="checkov-") as report_dir:
        json_report = Path(report_dir) / "report.json"
        custom_report = Path(report_dir) / "custom-report.json"
        scannable = without_moved_blocks(scanned_file, Path(report_dir))
        completed = run(
            checkov_command(venv, config, scannable, json_report),
            env=checkov_env(dict(os.environ)),
        )
        report_text = json_report.read_text(encoding="utf-8") if json_report.exists() else None
        # The console output of this run repeats the pack's checks one by one; the summary lines say it shorter.
        run(
            custom_checks_command(venv, scannable, custom_report),
            env=checkov_env(dict(os.environ)),
            capture_output=True,
            text=True,
        )
        custom_text = custom_report.read_text(encoding="utf-8") if custom_report.exists() else None
    result = result_from_checkov(str(scanned_file), completed.returncode, report_text)
    return with_custom_counts(result, custom_text)


def with_custom_counts(result: FileResult, custom_text: str | None) -> FileResult:
    """The result with the pack's per-check counts; an ERROR when they are missing (the pack did not run)."""
    if result.counts is None:
        return result
    try:
        custom = custom_check_counts(json.loads(custom_text)) if custom_text else ()
    except ValueError:
        custom = ()
    if not custom:
        return FileResult(result.path, result.counts, "the CKV_TAP checks did not run (tools/checkov_checks)")
    return FileResult(result.path, result.counts, result.error, custom)


# ------------------------------------------------------------ reading the report


def counts_from_summary(summary: dict[str, Any]) -> ScanCounts:
    return ScanCounts(
        passed=int(summary.get("passed", 0)),
        failed=int(summary.get("failed", 0)),
        skipped=int(summary.get("skipped", 0)),
        parsing_errors=int(summary.get("parsing_errors", 0)),
    )


def add_counts(counts: Iterable[ScanCounts]) -> ScanCounts:
    total = ScanCounts()
    for c in counts:
        total = ScanCounts(
            total.passed + c.passed,
            total.failed + c.failed,
            total.skipped + c.skipped,
            total.parsing_errors + c.parsing_errors,
        )
    return total


def parse_checkov_report(report: Any) -> ScanCounts:
    """Counts from checkov's `-o json` output, in any of its three shapes.

    One framework gives {"check_type", "results", "summary"}; several give a
    list of those; a file with nothing to check gives the bare summary dict.
    """
    if isinstance(report, list):
        return add_counts(parse_checkov_report(item) for item in report)
    if isinstance(report, dict) and isinstance(report.get("summary"), dict):
        return counts_from_summary(report["summary"])
    if isinstance(report, dict) and {"passed", "failed"} <= report.keys():
        return counts_from_summary(report)
    raise ValueError("not a checkov JSON report")


def custom_check_counts(report: Any) -> tuple[tuple[str, int, int], ...]:
    """(check id, passed, failed) of every CKV_TAP_ check in checkov's JSON report, by id."""
    reports = report if isinstance(report, list) else [report]
    counts: dict[str, list[int]] = {}
    for item in reports:
        results = item.get("results", {}) if isinstance(item, dict) else {}
        for index, outcome in enumerate(("passed_checks", "failed_checks")):
            for check in results.get(outcome, []):
                if str(check.get("check_id", "")).startswith(CUSTOM_CHECK_PREFIX):
                    counts.setdefault(check["check_id"], [0, 0])[index] += 1
    return tuple((check_id, counts[check_id][0], counts[check_id][1]) for check_id in sorted(counts, key=_check_number))


def _check_number(check_id: str) -> tuple[int, str]:
    number = check_id.rsplit("_", 1)[-1]
    return (int(number), check_id) if number.isdigit() else (0, check_id)


def result_from_checkov(path: str, returncode: int, report_text: str | None) -> FileResult:
    if returncode not in CHECKOV_EXIT_CODES_WITH_REPORT:
        return FileResult(path, None, f"checkov exited {returncode}")
    if report_text is None:
        return FileResult(path, None, "checkov wrote no JSON report")
    try:
        counts = parse_checkov_report(json.loads(report_text))
    except ValueError as error:  # json.JSONDecodeError is a ValueError
        return FileResult(path, None, f"unreadable checkov report: {error}")
    return FileResult(path, counts)


def summary_line(result: FileResult) -> str:
    if result.counts is None:
        return f"{result.status} {result.path}: {result.error}"
    c = result.counts
    line = f"{result.status} {result.path}: {c.passed} passed, {c.failed} failed, {c.skipped} skipped"
    line += f", {c.parsing_errors} parsing errors" if c.parsing_errors else ""
    return line + (f"; {result.error}" if result.error else "")


def custom_check_lines(result: FileResult) -> list[str]:
    """One line per deploy-readiness check (CKV_TAP_*) under the file's summary line; a check of the pack
    that checkov reported nothing for had no resource of its types in the file."""
    from tools.deploy_readiness import CHECKS  # noqa: PLC0415

    if result.counts is None:
        return []
    reported = {check_id: (passed, failed) for check_id, passed, failed in result.custom}
    ids = [check.id for check in CHECKS] + [
        check_id for check_id in reported if check_id not in {check.id for check in CHECKS}
    ]
    return [
        f"  {check_id}: {reported[check_id][0]} passed, {reported[check_id][1]} failed"
        if check_id in reported
        else f"  {check_id}: no resource it checks"
        for check_id in ids
    ]


def exit_code_for(results: Sequence[FileResult]) -> int:
    statuses = {result.status for result in results}
    if "ERROR" in statuses:
        return EXIT_ERROR
    return EXIT_FAILED_CHECKS if "FAIL" in statuses else EXIT_CLEAN


# ------------------------------------------------------------ CLI


def build_argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.scan",
        description=f"Scan Terraform JSON with checkov {CHECKOV_VERSION} from its own virtualenv.",
        epilog="exit codes:\n  0  no failed check\n  1  failed checks\n"
        "  2  bad input, checkov install failed, or checkov could not scan a file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--venv", required=True, type=Path, help="virtualenv for checkov (created if missing)")
    parser.add_argument("--config", type=Path, help="checkov config file (--config-file); required with files")
    parser.add_argument(
        "--install-only", action="store_true", help="only create the virtualenv and install checkov, scan nothing"
    )
    parser.add_argument("files", nargs="*", type=Path, help="Terraform JSON files, e.g. cdk.tf.json")
    return parser


def check_inputs_exist(config: Path, files: Iterable[Path]) -> None:
    missing = [str(path) for path in (config, *files) if not path.is_file()]
    if missing:
        raise ScanError(f"no such file: {', '.join(missing)}")


def main(argv: list[str] | None = None) -> int:
    parser = build_argument_parser()
    arguments = parser.parse_args(argv)
    if not arguments.install_only and (not arguments.files or arguments.config is None):
        parser.error("give --config and at least one file to scan, or --install-only")
    try:
        if not arguments.install_only:
            check_inputs_exist(arguments.config, arguments.files)
        ensure_checkov(arguments.venv)
    except ScanError as error:
        print(f"scan: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    if arguments.install_only:
        print(f"scan: checkov {CHECKOV_VERSION} is ready in {arguments.venv}")
        return 0
    results = []
    for scanned_file in arguments.files:
        sys.stdout.flush()  # keep our lines in order with checkov's output
        results.append(scan_file(arguments.venv, arguments.config, scanned_file))
    lines = ["checkov summary:"]
    for result in results:
        lines += [summary_line(result), *custom_check_lines(result)]
    print("\n".join(lines))
    return exit_code_for(results)


if __name__ == "__main__":
    sys.exit(main())
