"""Integration tests read the deployed stack's outputs and check the real resources with boto3.

They need a deployment (`make deploy`); with no outputs file they skip and say why.
`make test` always deploys first, so in CI none skip.

With a legacy system (LEGACY_ENDPOINT), the ALB sends writes to the legacy IP target until the flip:
`legacy_stand_in` serves it locally (the rehearsal's stand-in: the payment API's code on the on-premises
database). e2e runs test_cutover_runbook.py first (it starts forward replication through the README's
commands), then the short rehearsal, then the other modules (tools/e2e.py); `aurora_writer` moves the
routing only, so it comes after the rehearsal.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config

from lib.config import Settings, load_settings
from tools.local_aws.client import LocalAwsControl
from tools.rehearsal import drive
from tools.rehearsal.run import LEGACY_PORT, LegacyStandIn
from tools.stack import OUTPUTS_FILE, target_env


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def outputs(settings) -> dict:
    if not OUTPUTS_FILE.exists():
        pytest.skip(
            f"{OUTPUTS_FILE.relative_to(Path.cwd()) if OUTPUTS_FILE.is_relative_to(Path.cwd()) else OUTPUTS_FILE}"
            " not found: run `make deploy` first"
        )
    by_stack = json.loads(OUTPUTS_FILE.read_text())
    assert settings.stack_name in by_stack, f"outputs are for {sorted(by_stack)}, settings say {settings.stack_name}"
    return by_stack[settings.stack_name]


@pytest.fixture(scope="session")
def aws(settings):
    """A client factory for the deployment's target (the emulator on the local target)."""
    credentials = target_env(settings)
    endpoint = f"http://127.0.0.1:{settings.local_aws_port}" if settings.target == "local" else None
    session = boto3.session.Session(
        aws_access_key_id=credentials.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=credentials.get("AWS_SECRET_ACCESS_KEY"),
        region_name=settings.aws_region,
    )
    config = Config(retries={"max_attempts": 3, "mode": "standard"})

    def client(service: str):
        return session.client(service, endpoint_url=endpoint, config=config)

    return client


@pytest.fixture(scope="session")
def legacy_stand_in(settings, outputs, aws):
    """The legacy stand-in mapped as the legacy IP target's local address; None without a legacy system."""
    if settings.target != "local" or not outputs.get("legacy_target_group_arn"):
        yield None
        return
    control = LocalAwsControl(settings.local_aws_port)
    legacy = LegacyStandIn(drive.onprem_login(control))
    targets = aws("elbv2").describe_target_health(TargetGroupArn=outputs["legacy_target_group_arn"])[
        "TargetHealthDescriptions"
    ]
    control.map_ip_targets(
        {f"{t['Target']['Id']}:{t['Target'].get('Port', LEGACY_PORT)}": f"127.0.0.1:{legacy.port}" for t in targets}
    )
    yield legacy
    legacy.close()


SHARED_DIR = Path(__file__).resolve().parents[2] / "lib" / "lambda" / "shared"


@pytest.fixture(scope="session")
def cutover(aws, outputs):
    """The cutover's own code (lib/lambda/shared: cutover_ops, cutover_store), run in this process against the
    deployment with the deployed driver's environment: what the driver and rollback do, without their waits."""
    if str(SHARED_DIR) not in sys.path:
        sys.path.insert(0, str(SHARED_DIR))
    import cutover_ops  # noqa: PLC0415 - a Lambda module, importable once its folder is on sys.path
    import cutover_state  # noqa: PLC0415
    import cutover_store  # noqa: PLC0415

    driver = outputs["lambda_function_names"]["traffic-shifter"]
    environment = aws("lambda").get_function_configuration(FunctionName=driver)["Environment"]["Variables"]
    config = cutover_ops.load_config(environment)
    store = cutover_store.StateStore(
        aws("ssm"),
        config.state_parameter,
        owner={"function": "integration-tests", "request_id": None},
        now=lambda: datetime.now(UTC),
        takeover_after=config.takeover_after,
    )
    return SimpleNamespace(ops=cutover_ops, states=cutover_state, config=config, store=store, client=aws)


@pytest.fixture(scope="session")
def aurora_writer(cutover):
    """Aurora is the writer, as a flip's commit leaves it: the write rule forwards to the API's target group and
    the state says aurora-writer (routing only: nothing is replicated). Without a legacy system it already is."""
    ops, states, config = cutover.ops, cutover.states, cutover.config
    ops.point_write_rule(cutover.client, config, config.api_target_group_arn)
    state = cutover.store.read()
    if state["phase"] != states.AURORA_WRITER:
        state = cutover.store.transition(
            state,
            phase=states.AURORA_WRITER,
            direction=None,
            writer="aurora",
            deadline=None,
            reason="integration tests: routing as after a flip",
        )
    return state
