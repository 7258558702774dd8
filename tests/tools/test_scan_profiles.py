"""The sample profiles `make scan` judges (tools/scan_profiles.py): what a real account supplies, and nothing
that would make a check pass that a real deploy would fail (issue 9 #9, #13)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from lib.config import load_settings
from tools.scan_profiles import PROFILES, profile_environment

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_both_profiles_are_valid_real_account_settings_for_dev_and_prod():
    loaded = {suffix: load_settings(profile_environment(suffix, base={})) for suffix in PROFILES}
    assert {settings.environment for settings in loaded.values()} == {"dev", "prod"}
    for suffix, settings in loaded.items():
        assert settings.target == "aws" and settings.environment_suffix == suffix
        assert settings.certificate_arn and settings.state_bucket and settings.alarm_email
        assert settings.onprem_link in ("vpn", "transit_gateway"), suffix  # the stack builds the way there


def test_no_profile_switches_off_what_a_real_deploy_needs():
    for profile in PROFILES.values():
        assert "CREATE_DMS_SERVICE_ROLES" not in profile  # the account owns them; the preflight checks
        assert "ONPREM_ROUTES_MANAGED_OUTSIDE" not in profile  # would pass the connectivity rule with no route
        assert "DELETION_PROTECTION" not in profile and "LOG_RETENTION_DAYS" not in profile
        assert "LOCAL_AWS_PORT" not in profile


def test_the_profiles_cover_both_ways_to_onprem_dns_forwarding_and_health_checks():
    dev, prod = (load_settings(profile_environment(suffix, base={})) for suffix in ("scandev", "scanprod"))
    assert (dev.onprem_link, prod.onprem_link) == ("vpn", "transit_gateway")
    assert prod.onprem_dns_domain == "dc1.corp.example.com" and dev.onprem_dns_domain is None
    assert prod.legacy_health_checked_ips and not dev.legacy_health_checked_ips


def test_settings_from_the_callers_shell_do_not_leak_into_a_profile():
    environment = profile_environment(
        "scandev",
        base={
            "PATH": "/usr/bin",
            "CREATE_DMS_SERVICE_ROLES": "true",
            "TARGET": "local",
            "ONPREM_ROUTES_MANAGED_OUTSIDE": "true",
        },
    )
    assert environment["PATH"] == "/usr/bin" and environment["TARGET"] == "aws"
    assert "CREATE_DMS_SERVICE_ROLES" not in environment and "ONPREM_ROUTES_MANAGED_OUTSIDE" not in environment


def test_make_scan_synthesizes_the_profiles_and_scans_their_files():
    commands = subprocess.run(
        ["make", "--no-print-directory", "-n", "scan"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "-m tools.scan_profiles" in commands
    scan = re.search(r"-m tools\.scan --venv \.venv-checkov --config \.checkov\.yaml (.+)", commands)
    assert scan, commands
    files = scan.group(1)
    assert files.split() == [f"cdktf.out/stacks/TapStack{suffix}/cdk.tf.json" for suffix in PROFILES]
    assert "TARGET=aws" not in commands  # the profiles, not ad-hoc variables, say what a real account gets
