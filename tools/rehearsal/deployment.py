"""Where the rehearsal runs: a deployment of its own on a fresh emulator, or one that exists (e2e's).

A fresh one is `make deploy`'s path (tools/stack.py) with its own suffix (`rehearse`), a free emulator port,
a private legacy address (RFC 1918: reached over the VPN in a real deployment; nothing is ever sent to it
here) and the on-premises seed size; it is destroyed and its emulator stopped afterwards, whatever
happened. An existing one is read from the outputs file, and left as it is for its owner to destroy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from lib.config import Settings, load_settings
from tools.local_aws.client import LocalAwsControl
from tools.local_aws.common import EMULATOR_CREDENTIALS, endpoint
from tools.local_aws.loopback import free_port
from tools.stack import OUTPUTS_FILE, PROJECT_ROOT

FRESH_SUFFIX = "rehearse"
LEGACY_ADDRESS = "192.168.50.10"
SEED_ROWS_VARIABLE = "LOCAL_AWS_ONPREM_SEED_ROWS"


@dataclass
class Deployment:
    settings: Settings
    outputs: dict[str, Any]
    environment: dict[str, str]
    fresh: bool

    @property
    def port(self) -> int:
        return self.settings.local_aws_port

    def control(self) -> LocalAwsControl:
        return LocalAwsControl(self.port)

    def client_factory(self) -> Callable[[str], Any]:
        session = boto3.session.Session(
            aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=self.settings.aws_region,
        )
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=180, max_pool_connections=20)
        clients: dict[str, Any] = {}

        def client(service: str) -> Any:
            if service not in clients:
                clients[service] = session.client(service, endpoint_url=endpoint(self.port), config=config)
            return clients[service]

        return client


def fresh_environment(seed_rows: int) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key != "TERRAFORM_STATE_BUCKET"}
    environment.update(
        ENVIRONMENT_SUFFIX=FRESH_SUFFIX,
        TARGET="local",
        LOCAL_AWS_PORT=str(free_port()),
        **{SEED_ROWS_VARIABLE: str(seed_rows)},
    )
    environment.setdefault("LEGACY_ENDPOINT", LEGACY_ADDRESS)
    return environment


def stack_command(action: str, environment: dict[str, str]) -> int:
    print(
        f"rehearsal: tools.stack {action} ({environment['ENVIRONMENT_SUFFIX']} on port "
        f"{environment['LOCAL_AWS_PORT']})",
        flush=True,
    )
    return subprocess.run(
        [sys.executable, "-m", "tools.stack", action], cwd=PROJECT_ROOT, env=environment, check=False
    ).returncode


def read_outputs(settings: Settings) -> dict[str, Any]:
    if not OUTPUTS_FILE.exists():
        raise SystemExit(f"{OUTPUTS_FILE} not found: deploy first (make deploy), or run without --reuse")
    by_stack = json.loads(OUTPUTS_FILE.read_text())
    if settings.stack_name not in by_stack:
        raise SystemExit(f"{OUTPUTS_FILE} has no outputs of {settings.stack_name} (it has {sorted(by_stack)})")
    return by_stack[settings.stack_name]


def deploy_fresh(seed_rows: int) -> Deployment:
    environment = fresh_environment(seed_rows)
    deployment = Deployment(load_settings(environment), {}, environment, fresh=True)
    if stack_command("deploy", environment) != 0:
        raise DeployFailed(deployment)
    deployment.outputs = read_outputs(deployment.settings)
    return deployment


def existing() -> Deployment:
    settings = load_settings()
    if settings.target != "local":
        raise SystemExit("the rehearsal runs on the local emulator only (TARGET=local)")
    return Deployment(settings, read_outputs(settings), dict(os.environ), fresh=False)


def tear_down(deployment: Deployment) -> bool:
    """Destroys a fresh deployment and stops its emulator; True when both went well."""
    destroyed = stack_command("destroy", deployment.environment) == 0
    stopped = stack_command("down", deployment.environment) == 0
    return destroyed and stopped


class DeployFailed(Exception):
    def __init__(self, deployment: Deployment) -> None:
        super().__init__("the rehearsal's deployment failed")
        self.deployment = deployment
