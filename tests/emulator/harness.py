"""Drives the emulator the way its users do: the real CLI in a subprocess, boto3 over HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from tools.local_aws.common import EMULATOR_CREDENTIALS
from tools.local_aws.loopback import free_port

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


@dataclass
class Emulator:
    port: int
    pidfile: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pid(self) -> int:
        return int(self.pidfile.read_text())

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


def cli(*args: Any, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.local_aws", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_emulator(
    work: Path, idle_timeout: float = 600, *options: Any
) -> tuple[Emulator, subprocess.CompletedProcess[str]]:
    emulator = Emulator(free_port(), work / "moto.pid", work / "moto.log")
    started = cli(
        "start",
        "--port",
        emulator.port,
        "--pidfile",
        emulator.pidfile,
        "--log",
        emulator.log,
        "--idle-timeout",
        idle_timeout,
        *options,
    )
    return emulator, started


def stop_emulator(emulator: Emulator) -> None:
    stopped = cli("stop", "--pidfile", emulator.pidfile)
    assert stopped.returncode == 0, stopped.stderr


def listening_addresses(port: int) -> set[str]:
    """Local addresses of TCP sockets listening on port, from /proc/net/tcp{,6}."""
    addresses = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                raw = bytes.fromhex(address)
                if width == 8:
                    addresses.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    addresses.add(socket.inet_ntop(socket.AF_INET6, words))
    return addresses


def wait_until(condition: Callable[[], Any], seconds: float, interval: float = 0.2) -> Any:
    """The first truthy value of condition() within `seconds`, else its last (falsy) value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def record_raw_json(client: Any) -> dict[str, Any]:
    """Operation name -> the raw JSON body of its latest response, before botocore parses it."""
    bodies: dict[str, Any] = {}

    def keep(response_dict: dict[str, Any], operation_model: Any, **_: Any) -> None:
        bodies[operation_model.name] = json.loads(response_dict["body"])

    client.meta.events.register("before-parse.*.*", keep)
    return bodies


PROBE_DIR = Path(__file__).with_name("lambda_probe")
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}],
}


def probe_zip() -> bytes:
    """The probe function (tests/emulator/lambda_probe) as a deployment package."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for module in sorted(PROBE_DIR.glob("*.py")):
            archive.write(module, module.name)
    return buffer.getvalue()


def deploy_probe(
    aws: Callable[[str], Any],
    *,
    name: str | None = None,
    runtime: str = "python3.12",
    handler: str = "handler.handler",
    environment: dict[str, str] | None = None,
    **config: Any,
) -> str:
    """Create the probe function with `config` (Timeout, DeadLetterConfig, ...); returns its name."""
    name = name or unique("probe")
    role = aws("iam").create_role(RoleName=unique("probe"), AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"][
        "Arn"
    ]
    aws("lambda").create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role,
        Handler=handler,
        Code={"ZipFile": probe_zip()},
        Environment={"Variables": environment or {}},
        **config,
    )
    return name


def invoke(aws: Callable[[str], Any], name: str, event: dict[str, Any], **options: Any) -> tuple[Any, dict]:
    """(payload as JSON, raw response) of a RequestResponse invoke."""
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode(), **options)
    return json.loads(response["Payload"].read() or b"null"), response
