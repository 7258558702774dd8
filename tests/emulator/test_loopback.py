"""The loopback guard (tools/local_aws/loopback.py): no test, emulator or Lambda worker reaches beyond 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from tests.emulator.harness import ROOT, Emulator, unique, wait_until
from tools.local_aws.loopback import LoopbackViolation, is_loopback

SUITES = {  # one light test file per suite: collecting it loads the suite's conftest files
    "unit": "tests/unit/test_readme.py",
    "lambda": "tests/lambda/test_lambda_imports.py",
    "tools": "tests/tools/test_scan.py",
    "emulator": "tests/emulator/test_route53.py",
    "integration": "tests/integration/test_no_change_plan.py",
    "teardown": "tests/teardown/test_nothing_left.py",
}


@pytest.mark.parametrize(
    "address",
    [("192.0.2.10", 80), ("10.40.0.10", 5432), ("8.8.8.8", 53), ("::ffff:192.0.2.10", 80), ("2001:db8::1", 443)],
)
def test_a_connect_beyond_the_loopback_fails_before_any_packet(address: tuple[str, int]) -> None:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        with pytest.raises(LoopbackViolation, match="only 127.0.0.0/8 and ::1"):
            probe.connect(address)
        with pytest.raises(LoopbackViolation):
            probe.connect_ex(address)


def test_a_name_lookup_beyond_the_loopback_fails() -> None:
    with pytest.raises(LoopbackViolation, match="refused to resolve 'example.com'"):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen("http://legacy.payments.example.com/health", timeout=5)
    assert isinstance(refused.value.reason, LoopbackViolation)


def test_the_loopback_stays_reachable() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=5):
            pass
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "localhost"))
    assert not any(is_loopback(host) for host in ("192.168.0.10", "0.0.0.0", "::", "example.com"))


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_every_suite_runs_under_the_guard(suite: str) -> None:
    collected = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.emulator.guard_probe",
            SUITES[suite],
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # A file that is gone collects nothing and loads none of the suite's conftest files, yet prints the probe.
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "loopback guard active: True" in collected.stdout, collected.stdout + collected.stderr


def test_the_emulator_itself_cannot_reach_beyond_the_loopback(aws: Callable[[str], Any], emulator: Emulator) -> None:
    sns = aws("sns")
    topic = sns.create_topic(Name=unique("webhook"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint="http://192.0.2.10/hook")
    with pytest.raises((ClientError, ResponseParserError)):  # moto answers its failure as a bare 500 page
        sns.publish(TopicArn=topic, Message="would leave the machine")
    assert wait_until(lambda: "refused to connect to 192.0.2.10" in emulator.log.read_text(), seconds=10)
