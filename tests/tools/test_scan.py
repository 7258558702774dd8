"""Tests of tools.scan on checkov 3.3.30 JSON reports captured from real runs.

The reports in fixtures/checkov_report_*.json were made by checkov with the
flags of checkov_command() (the two-framework one with `--framework
terraform_json secrets`), then trimmed to a few fields per check.
"""

import json
import subprocess
from pathlib import Path

import pytest

from tools import scan
from tools.scan import (
    CHECKOV_VERSION,
    CUSTOM_CHECKS_DIR,
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FAILED_CHECKS,
    FileResult,
    ScanCounts,
    ScanError,
    checkov_command,
    checkov_env,
    custom_check_lines,
    ensure_checkov,
    exit_code_for,
    installed_checkov_version,
    parse_checkov_report,
    result_from_checkov,
    scan_file,
    summary_line,
)

FIXTURES = Path(__file__).parent / "fixtures"


def report_text(name):
    return (FIXTURES / name).read_text()


def report(name):
    return json.loads(report_text(name))


# ------------------------------------------------------------ report shapes


def test_counts_of_a_report_with_failed_checks():
    assert parse_checkov_report(report("checkov_report_failed.json")) == ScanCounts(passed=4, failed=7)


def test_counts_of_a_file_without_resources_come_from_the_bare_summary():
    assert parse_checkov_report(report("checkov_report_no_resources.json")) == ScanCounts()


def test_counts_include_parsing_errors():
    assert parse_checkov_report(report("checkov_report_parsing_error.json")) == ScanCounts(parsing_errors=1)


def test_counts_of_several_frameworks_are_added_up():
    assert parse_checkov_report(report("checkov_report_two_frameworks.json")) == ScanCounts(passed=4, failed=8)


@pytest.mark.parametrize("document", [{"check_type": "terraform_json"}, "text", 3, {"passed": 1}])
def test_other_json_is_not_a_report(document):
    with pytest.raises(ValueError, match="not a checkov JSON report"):
        parse_checkov_report(document)


# ------------------------------------------------------------ one file's result


def test_failed_checks_make_the_file_fail():
    result = result_from_checkov("cdk.tf.json", 1, report_text("checkov_report_failed.json"))
    assert result.status == "FAIL"
    assert summary_line(result) == "FAIL cdk.tf.json: 4 passed, 7 failed, 0 skipped"


def test_file_without_findings_passes():
    result = result_from_checkov("empty.tf.json", 0, report_text("checkov_report_no_resources.json"))
    assert summary_line(result) == "PASS empty.tf.json: 0 passed, 0 failed, 0 skipped"


def test_parsing_errors_are_an_error_although_checkov_exits_0():
    result = result_from_checkov("broken.tf.json", 0, report_text("checkov_report_parsing_error.json"))
    assert summary_line(result) == "ERROR broken.tf.json: 0 passed, 0 failed, 0 skipped, 1 parsing errors"


@pytest.mark.parametrize(
    "returncode, text, error",
    [
        (2, None, "checkov exited 2"),
        (2, report_text("checkov_report_failed.json"), "checkov exited 2"),
        (1, None, "checkov wrote no JSON report"),
        (0, "{truncated", "unreadable checkov report"),
    ],
)
def test_checkov_that_did_not_scan_is_an_error(returncode, text, error):
    result = result_from_checkov("cdk.tf.json", returncode, text)
    assert result.status == "ERROR"
    assert summary_line(result).startswith(f"ERROR cdk.tf.json: {error}")


# ------------------------------------------------------------ exit code


def file_result(status):
    counts = {"PASS": ScanCounts(passed=1), "FAIL": ScanCounts(failed=1), "ERROR": None}[status]
    return FileResult("f.json", counts, "checkov exited 2" if counts is None else None)


@pytest.mark.parametrize(
    "statuses, expected",
    [
        (["PASS"], EXIT_CLEAN),
        (["PASS", "PASS"], EXIT_CLEAN),
        (["PASS", "FAIL"], EXIT_FAILED_CHECKS),
        (["FAIL", "ERROR"], EXIT_ERROR),
        (["ERROR", "PASS"], EXIT_ERROR),
    ],
)
def test_exit_code_is_the_worst_file(statuses, expected):
    assert exit_code_for([file_result(status) for status in statuses]) == expected


# ------------------------------------------------------------ the checkov command


def test_checkov_command_is_offline_and_writes_json_beside_the_console_report():
    command = checkov_command(Path(".venv-checkov"), Path(".checkov.yaml"), Path("cdk.tf.json"), Path("/tmp/r.json"))
    assert command[0] == ".venv-checkov/bin/checkov"
    assert command[command.index("--framework") + 1] == "terraform_json"
    assert command[command.index("--config-file") + 1] == ".checkov.yaml"
    assert command[command.index("-f") + 1] == "cdk.tf.json"
    assert {"--skip-download", "--quiet", "--compact"} <= set(command)
    assert command[command.index("--output-file-path") + 1] == "console,/tmp/r.json"


def test_checkov_env_turns_off_the_update_check_and_keeps_the_rest():
    env = checkov_env({"PATH": "/usr/bin", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "false"})
    assert env == {"PATH": "/usr/bin", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}


PACK_REPORT = {
    "check_type": "terraform_json",
    "results": {
        "passed_checks": [
            {"check_id": "CKV_TAP_1"},
            {"check_id": "CKV_TAP_1"},
            {"check_id": "CKV_TAP_10"},
            {"check_id": "CKV_TAP_2"},
        ],
        "failed_checks": [{"check_id": "CKV_TAP_2"}, {"check_id": "CKV_AWS_1"}],
    },
    "summary": {"passed": 4, "failed": 2, "skipped": 0, "parsing_errors": 0},
}


def fake_checkov_writing(main_report: str, pack_report: str | None, calls: list, scanned: list):
    """Stands in for checkov: the main run writes main_report, the CKV_TAP-only run pack_report."""

    def fake_checkov(command, env, **kwargs):
        calls.append((command, env, kwargs))
        scanned.append(json.loads(Path(command[command.index("-f") + 1]).read_text()))
        target = command[command.index("--output-file-path") + 1].split(",", 1)[1]
        text = pack_report if "--check" in command else main_report
        if text is not None:
            Path(target).write_text(text)
        return subprocess.CompletedProcess(command, 1, "", "")

    return fake_checkov


def test_scan_file_reads_the_report_checkov_wrote(tmp_path):
    calls: list[tuple] = []
    scanned: list[dict] = []
    synthesized = tmp_path / "cdk.tf.json"
    synthesized.write_text(
        json.dumps(
            {
                "resource": {"aws_s3_bucket": {"b": {"bucket": "x"}}},
                "moved": [{"from": "aws_s3_bucket.a", "to": "aws_s3_bucket.b"}],
                "removed": [{"from": "aws_iam_role.r", "lifecycle": {"destroy": False}}],
            }
        )
    )
    run = fake_checkov_writing(report_text("checkov_report_failed.json"), json.dumps(PACK_REPORT), calls, scanned)
    result = scan_file(tmp_path / "venv", Path(".checkov.yaml"), synthesized, run=run)
    assert result == FileResult(
        str(synthesized),
        ScanCounts(passed=4, failed=7),
        custom=(("CKV_TAP_1", 2, 0), ("CKV_TAP_2", 1, 1), ("CKV_TAP_10", 1, 0)),
    )
    assert calls[0][1]["CKV_SKIP_PACKAGE_UPDATE_CHECK"] == "true"
    # checkov cannot parse `moved` and `removed` blocks; it scans everything else.
    assert scanned == [{"resource": {"aws_s3_bucket": {"b": {"bucket": "x"}}}}] * 2
    # The pack's own run: only its checks, the report with passed checks, its console output kept quiet.
    pack_command, _, pack_options = calls[1]
    assert pack_command[pack_command.index("--check") + 1] == "CKV_TAP_1,CKV_TAP_2,CKV_TAP_3,CKV_TAP_4,CKV_TAP_5"
    assert "--quiet" not in pack_command and pack_options["capture_output"] is True
    assert summary_line(result) == f"FAIL {synthesized}: 4 passed, 7 failed, 0 skipped"
    assert custom_check_lines(result) == [
        "  CKV_TAP_1: 2 passed, 0 failed",
        "  CKV_TAP_2: 1 passed, 1 failed",
        "  CKV_TAP_3: no resource it checks",
        "  CKV_TAP_4: no resource it checks",
        "  CKV_TAP_5: no resource it checks",
        "  CKV_TAP_10: 1 passed, 0 failed",
    ]


def test_a_scan_without_the_pack_is_an_error(tmp_path):
    synthesized = tmp_path / "cdk.tf.json"
    synthesized.write_text(json.dumps({"resource": {}}))
    run = fake_checkov_writing(report_text("checkov_report_failed.json"), None, [], [])
    result = scan_file(tmp_path / "venv", Path(".checkov.yaml"), synthesized, run=run)
    assert result.status == "ERROR" and result.error == "the CKV_TAP checks did not run (tools/checkov_checks)"
    assert summary_line(result).endswith("; the CKV_TAP checks did not run (tools/checkov_checks)")


def test_the_main_run_loads_the_pack_beside_the_built_in_checks():
    command = checkov_command(Path(".venv-checkov"), Path(".checkov.yaml"), Path("cdk.tf.json"), Path("/tmp/r.json"))
    assert command[command.index("--external-checks-dir") + 1] == str(CUSTOM_CHECKS_DIR)
    assert (CUSTOM_CHECKS_DIR / "__init__.py").is_file() and (CUSTOM_CHECKS_DIR / "tap_checks.py").is_file()
    assert "--check" not in command  # every built-in check runs too


# ------------------------------------------------------------ installing checkov


class FakeInstaller:
    """Stands in for subprocess.run: records commands, fakes venv and pip."""

    def __init__(self, installed_version=None, pip_fails=False):
        self.installed_version = installed_version
        self.pip_fails = pip_fails
        self.commands = []

    def __call__(self, command, **kwargs):
        self.commands.append(command)
        if command[1:3] == ["-m", "venv"]:
            python = Path(command[3]) / "bin" / "python"
            python.parent.mkdir(parents=True)
            python.touch()
            return subprocess.CompletedProcess(command, 0, "", "")
        if command[1:4] == ["-m", "pip", "install"]:
            if self.pip_fails:
                return subprocess.CompletedProcess(
                    command, 1, "", "Collecting checkov\nERROR: No matching distribution\n"
                )
            self.installed_version = command[-1].split("==")[1]
            return subprocess.CompletedProcess(command, 0, "", "")
        if self.installed_version is None:
            return subprocess.CompletedProcess(command, 1, "", "PackageNotFoundError: checkov")
        return subprocess.CompletedProcess(command, 0, f"{self.installed_version}\n", "")

    def ran(self, *words):
        return [c for c in self.commands if all(word in c for word in words)]


def make_venv(path):
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "python").touch()
    return path


def test_missing_venv_is_created_and_checkov_installed(tmp_path):
    installer = FakeInstaller()
    ensure_checkov(tmp_path / "venv", run=installer)
    assert len(installer.ran("venv")) == 1
    assert installer.ran("install", f"checkov=={CHECKOV_VERSION}")
    assert installer.installed_version == CHECKOV_VERSION


def test_pinned_version_already_installed_runs_no_pip(tmp_path):
    installer = FakeInstaller(installed_version=CHECKOV_VERSION)
    ensure_checkov(make_venv(tmp_path / "venv"), run=installer)
    assert not installer.ran("venv") and not installer.ran("install")


def test_other_installed_version_is_replaced_by_the_pinned_one(tmp_path):
    installer = FakeInstaller(installed_version="3.2.0")
    ensure_checkov(make_venv(tmp_path / "venv"), run=installer)
    assert not installer.ran("venv")
    assert installer.ran("install", f"checkov=={CHECKOV_VERSION}")


def test_failing_pip_raises_with_its_last_line(tmp_path):
    with pytest.raises(ScanError, match="could not install checkov==.*: ERROR: No matching distribution"):
        ensure_checkov(make_venv(tmp_path / "venv"), run=FakeInstaller(pip_fails=True))


def test_installed_version_of_a_missing_venv_is_none_without_running_anything(tmp_path):
    installer = FakeInstaller(installed_version=CHECKOV_VERSION)
    assert installed_checkov_version(tmp_path / "nothing", run=installer) is None
    assert installer.commands == []


# ------------------------------------------------------------ CLI


def test_missing_inputs_fail_before_any_install(tmp_path, capsys):
    venv = tmp_path / "venv"
    exit_code = scan.main(["--venv", str(venv), "--config", str(tmp_path / ".checkov.yaml"), str(tmp_path / "a.json")])
    assert exit_code == EXIT_ERROR
    assert not venv.exists()
    error = capsys.readouterr().err
    assert error.startswith("scan: error: no such file: ") and "a.json" in error and ".checkov.yaml" in error


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        scan.main(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "1  failed checks" in help_text and CHECKOV_VERSION in help_text


def test_without_files_or_install_only_it_says_what_is_missing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        scan.main(["--venv", str(tmp_path / "venv")])
    assert exit_info.value.code == 2
    assert "give --config and at least one file to scan, or --install-only" in capsys.readouterr().err
    assert not (tmp_path / "venv").exists()


def test_install_only_installs_and_scans_nothing(tmp_path, monkeypatch, capsys):
    installed: list[Path] = []
    monkeypatch.setattr(scan, "ensure_checkov", installed.append)
    monkeypatch.setattr(scan, "scan_file", lambda *arguments: pytest.fail("scanned a file"))
    assert scan.main(["--venv", str(tmp_path / "venv"), "--install-only"]) == 0
    assert installed == [tmp_path / "venv"]
    assert f"checkov {CHECKOV_VERSION} is ready" in capsys.readouterr().out
