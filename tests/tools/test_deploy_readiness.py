"""The CKV_TAP_* deploy-readiness checks: each has a failing and a passing fixture
(tests/tools/fixtures/deploy_readiness/), judged by the rule functions directly and by checkov loading
tools/checkov_checks/ as `make scan` does."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tools import scan
from tools.deploy_readiness import CHECKS, findings

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "deploy_readiness"
CHECK_IDS = [check.id for check in CHECKS]
# The resources each failing fixture must be reported for, and a word of the reason.
EXPECTED_FAILURES = {
    "CKV_TAP_1": {
        "aws_rds_cluster.db": "'15.4'",
        "aws_dms_replication_instance.dms": "'3.5.3'",
        "aws_rds_cluster_instance.writer": "'15.3'",
    },
    "CKV_TAP_2": {"aws_lb.alb": "#12010"},
    "CKV_TAP_3": {
        "aws_route53_health_check.private": "RFC 1918",
        "aws_route53_health_check.cgnat": "carrier-grade",
        "aws_route53_health_check.documentation": "TEST-NET-3",
    },
    "CKV_TAP_4": {"aws_sns_topic.alerts": "dms publishes to this topic"},
    "CKV_TAP_5": {
        "aws_rds_cluster.db": "/aws/rds/cluster/payments-fx-aurora/postgresql",
        "aws_dms_replication_instance.dms": "must depend on aws_cloudwatch_log_group.dms",
        "aws_lambda_function.api": "retention_in_days and kms_key_id",
    },
}


def fixture(check_id: str, outcome: str) -> dict:
    return json.loads((FIXTURES / f"{check_id}_{outcome}.tf.json").read_text())


def test_the_pack_is_the_five_issue_9_checks():
    assert CHECK_IDS == [f"CKV_TAP_{n}" for n in range(1, 6)]
    assert sorted(path.name for path in FIXTURES.iterdir()) == sorted(
        f"{check_id}_{outcome}.tf.json" for check_id in CHECK_IDS for outcome in ("fail", "pass")
    )


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_the_failing_fixture_fails_for_each_bad_resource(check_id):
    reported = {
        address: reason for found_id, address, reason in findings(fixture(check_id, "fail")) if found_id == check_id
    }
    assert set(reported) == set(EXPECTED_FAILURES[check_id])
    for address, word in EXPECTED_FAILURES[check_id].items():
        assert word in reported[address], reported[address]
        assert "\n" not in reported[address]


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_the_passing_fixture_passes(check_id):
    assert [item for item in findings(fixture(check_id, "pass")) if item[0] == check_id] == []


def test_no_rule_reads_the_wall_clock():
    source = (REPO_ROOT / "tools" / "deploy_readiness.py").read_text()
    assert "date.today" not in source and "datetime" not in source and "time." not in source


def _checkov_results(files: list[Path], tmp_path: Path) -> dict[tuple[str, str], dict[str, int]]:
    """{(file name, check id): {"passed": n, "failed": n}} from one checkov run with the CKV_TAP checks only."""
    venv = REPO_ROOT / ".venv-checkov"
    scan.ensure_checkov(venv)
    tmp_path.mkdir(parents=True, exist_ok=True)
    command = [
        str(scan.checkov_executable(venv)),
        "--framework",
        "terraform_json",
        "--skip-download",
        "--external-checks-dir",
        str(scan.CUSTOM_CHECKS_DIR),
        "--check",
        ",".join(CHECK_IDS),
        "-o",
        "json",
        "--output-file-path",
        str(tmp_path),
    ]
    for file in files:
        command += ["-f", str(file)]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env=scan.checkov_env(dict(os.environ)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = next(tmp_path.glob("*.json"))
    counts: dict[tuple[str, str], dict[str, int]] = {}
    data = json.loads(report.read_text())
    for outcome in ("passed", "failed"):
        for item in data["results"][f"{outcome}_checks"]:
            key = (Path(item["file_path"]).name, item["check_id"])
            counts.setdefault(key, {"passed": 0, "failed": 0})[outcome] += 1
    return counts


def test_checkov_loads_the_pack_and_judges_the_fixtures_alike(tmp_path):
    files = sorted(FIXTURES.iterdir())
    results = _checkov_results(files, tmp_path / "checkov")
    for check_id in CHECK_IDS:
        failing = results.get((f"{check_id}_fail.tf.json", check_id), {"passed": 0, "failed": 0})
        assert failing["failed"] == len(EXPECTED_FAILURES[check_id]), (check_id, failing)
        passing = results.get((f"{check_id}_pass.tf.json", check_id), {"passed": 0, "failed": 0})
        assert passing["failed"] == 0 and passing["passed"] >= 1, (check_id, passing)
