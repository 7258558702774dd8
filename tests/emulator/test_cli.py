"""The launcher (tools/local_aws/cli.py, process.py, server.py): start, status, stop, idle self-stop."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.emulator.harness import Emulator, cli, listening_addresses, start_emulator, unique, wait_until
from tools.local_aws import process
from tools.local_aws.awslambda.invocations import WORKER_APP_ID
from tools.local_aws.server import ActivityTracker


def test_listens_on_loopback_only(emulator: Emulator) -> None:
    assert listening_addresses(emulator.port) == {"127.0.0.1"}


def test_status_reports_the_running_emulator(emulator: Emulator) -> None:
    reported = cli("status", "--port", emulator.port, "--pidfile", emulator.pidfile)
    assert reported.returncode == 0
    assert emulator.url in reported.stdout and str(emulator.pid()) in reported.stdout


def test_start_twice_is_a_no_op(emulator: Emulator) -> None:
    pid = emulator.pid()
    again = cli("start", "--port", emulator.port, "--pidfile", emulator.pidfile, "--log", emulator.log)
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert emulator.pid() == pid and process.is_emulator_process(pid)
    assert "serving on" in emulator.log.read_text()  # the running emulator's log was not truncated


def test_aws_managed_iam_policy_attaches(aws: Callable[[str], Any]) -> None:
    iam = aws("iam")
    role = unique("dms-vpc-role")
    policy = "arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole"
    trust = {"Version": "2012-10-17", "Statement": []}
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName=role, PolicyArn=policy)
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [policy]


def test_requests_of_the_emulators_own_functions_are_not_activity() -> None:
    tracker = ActivityTracker(lambda environ, start_response: [b""])

    def start_response(status, headers):  # the wrapped app answers without calling it
        raise AssertionError("not called")

    tracker.last_request = 0.0
    tracker({"HTTP_USER_AGENT": f"Boto3/1.34.145 md/Botocore#1.34.145 app/{WORKER_APP_ID}"}, start_response)
    assert tracker.last_request == 0.0
    tracker({"HTTP_USER_AGENT": "Boto3/1.44.8 md/Botocore#1.44.8"}, start_response)
    assert tracker.last_request > 0.0


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    emulator, started = start_emulator(tmp_path)
    assert started.returncode == 0, started.stderr
    pid = emulator.pid()
    assert process.is_emulator_process(pid)

    stopped = cli("stop", "--pidfile", emulator.pidfile)
    assert stopped.returncode == 0 and f"stopped (pid {pid})" in stopped.stdout
    assert not process.is_emulator_process(pid)
    assert not emulator.pidfile.exists()
    assert not process.answers_as_moto(emulator.port)
    assert listening_addresses(emulator.port) == set()

    again = cli("stop", "--pidfile", emulator.pidfile)
    assert again.returncode == 0 and "not running" in again.stdout
    assert cli("status", "--port", emulator.port, "--pidfile", emulator.pidfile).returncode == 3


def test_stops_itself_when_idle(tmp_path: Path) -> None:
    emulator, started = start_emulator(tmp_path, idle_timeout=2)
    assert started.returncode == 0, started.stderr
    pid = emulator.pid()
    assert wait_until(lambda: not process.is_emulator_process(pid), seconds=30)
    assert not emulator.pidfile.exists()
    assert "no request for 2 s: stopping" in emulator.log.read_text()


def test_start_fails_clearly_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        failed = cli("start", "--port", port, "--pidfile", tmp_path / "moto.pid", "--log", tmp_path / "moto.log")
    assert failed.returncode == 2
    assert "exited with code" in failed.stderr and "in use" in failed.stderr
    assert not (tmp_path / "moto.pid").exists()
