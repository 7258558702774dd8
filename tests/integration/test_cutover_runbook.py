"""The runbook works against the emulator as the README shows it, and the deployed system runs.

1. The README's block of runbook commands (between the `runbook-commands` markers) runs line by line,
   exactly as written: only the placeholders are filled (outputs for `<name>`, the suffix, the port).
2. Then the system is used, not described: a payment POSTed to `local_api_url` while legacy is the writer
   goes through the ALB's write rule to the legacy stand-in, replicates to Aurora and reads back through
   the API and the Data API; a cutover step moves the routing; a notification on the critical topic makes
   the deployed rollback move it back; the validator's schedule publishes MigrationReady.

The tests of this module run in order and share the deployment's state: forward replication started by
the runbook's command keeps running, and legacy stays the writer. e2e runs this module first, then the
short rehearsal on the same deployment (which needs exactly that state), then the other modules.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tools.local_aws.client import LocalAwsControl
from tools.rehearsal import drive
from tools.rehearsal.load import send
from tools.rehearsal.resolver import weights
from tools.stack import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
BLOCK = re.compile(r"<!-- runbook-commands: begin -->\n```sh\n(.*?)```\n<!-- runbook-commands: end -->", re.S)
README_PORT = "4566"
AWS_CLI = Path(sys.executable).with_name("aws")
MERCHANT_HEADER = "X-Merchant-Id"


@dataclass(frozen=True)
class Runbook:
    """Runs the README's runbook lines (`runbook(marker)`) in one working folder, where their files stay."""

    folder: Path
    run: Callable[[str], str]

    def __call__(self, marker: str) -> str:
        return self.run(marker)


def runbook_lines() -> list[str]:
    """The block's command lines (comments dropped), in order."""
    match = BLOCK.search(README.read_text())
    assert match, "README.md has no runbook-commands block"
    return [line for line in match.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def local(settings, outputs):
    if settings.target != "local" or not outputs.get("local_api_url"):
        pytest.skip("the runbook is rehearsed on the local emulator only")
    return LocalAwsControl(settings.local_aws_port)


@pytest.fixture(scope="module")
def functions(aws, outputs):
    """The cutover driver's configuration: what the tests drive and check."""
    names = outputs["lambda_function_names"]
    environment = aws("lambda").get_function_configuration(FunctionName=names["traffic-shifter"])["Environment"][
        "Variables"
    ]
    if not environment.get("LEGACY_TARGET_GROUP_ARN"):
        pytest.skip("no legacy system deployed (LEGACY_ENDPOINT): there is no cutover to drive")
    return {"names": names, "environment": environment}


@pytest.fixture(scope="module")
def runbook(settings, outputs, local, tmp_path_factory):
    """run(marker): runs the block's one line containing `marker`, after the block's export line, in a
    working folder (its files stay there); returns the line's output."""
    lines = runbook_lines()
    export = lines[0]
    folder = tmp_path_factory.mktemp("runbook")

    def fill(line: str) -> str:
        line = line.replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{settings.local_aws_port}")
        line = line.replace("<suffix>", settings.environment_suffix)
        return re.sub(r"<([a-z0-9_]+)>", lambda match: str(outputs[match.group(1)]), line)

    def run(marker: str) -> str:
        [line] = [line for line in lines if marker in line]
        environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        environment["PATH"] = f"{AWS_CLI.parent}{os.pathsep}{environment.get('PATH', '')}"
        result = subprocess.run(
            ["bash", "-c", f"{export}\n{fill(line)}"],
            cwd=folder,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"{fill(line)}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    return Runbook(folder=folder, run=run)


def new_and_legacy_weights(aws, outputs) -> tuple[int, int]:
    current = weights(aws("route53"), outputs["hosted_zone_id"], outputs["api_fqdn"])
    return current["new"], current["legacy"]


def readiness_samples(aws, namespace: str, metric: str) -> float:
    now = datetime.now(UTC)
    points = aws("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        StartTime=now - timedelta(minutes=30),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["SampleCount"],
    )["Datapoints"]
    return sum(point["SampleCount"] for point in points)


# --------------------------------------------------------------------------- the README's commands
@pytest.fixture(scope="module")
def migration_ready(aws, outputs, local, functions):
    """Makes the validator's latest datapoint READY as the driver reads it (the latest minute's Minimum): a
    NOT_READY published while a change was still replicating refuses canary steps until it ages out."""
    validator = aws("lambda").get_function(FunctionName=functions["names"]["migration-validator"])
    function_arn = validator["Configuration"]["FunctionArn"]

    def become_ready() -> int:
        return drive.wait_until_ready(
            local,
            aws("cloudwatch"),
            aws("dms"),
            rule=drive.validator_rule(aws("events"), function_arn),
            namespace=functions["environment"]["METRIC_NAMESPACE"],
            metric=functions["environment"]["READY_METRIC_NAME"],
            task_arn=outputs["dms_replication_task_arn"],
            account=function_arn.split(":")[4],
            region=function_arn.split(":")[3],
        )

    return become_ready


def test_the_block_shows_every_command_with_the_endpoint_and_the_local_credentials():
    lines = runbook_lines()
    assert lines[0] == "export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1"
    commands = [shlex.split(line) for line in lines[1:]]
    assert all(words[:3] == ["aws", "--endpoint-url", f"http://127.0.0.1:{README_PORT}"] for words in commands)
    assert [tuple(words[3:5]) for words in commands] == [
        ("secretsmanager", "put-secret-value"),
        ("secretsmanager", "put-secret-value"),
        ("dms", "start-replication-task"),
        ("lambda", "invoke"),
        ("lambda", "invoke"),
        ("lambda", "invoke"),
    ]


def test_runbook_fills_the_secrets_and_starts_replication(aws, outputs, local, runbook, functions, legacy_stand_in):
    onprem = drive.onprem_login(local)
    master = drive.aurora_master_login(aws("secretsmanager"), outputs["aurora_master_secret_arn"])
    (runbook.folder / "source.json").write_text(
        json.dumps(
            {
                "username": onprem["username"],
                "password": onprem["password"],
                "host": onprem["host"],
                "port": onprem["port"],
                "dbname": "payments",
            }
        )
    )
    (runbook.folder / "target.json").write_text(
        json.dumps(
            {
                "username": master["username"],
                "password": master["password"],
                "port": 5432,
                "host": outputs["aurora_cluster_endpoint"],
                "dbname": outputs["aurora_database_name"],
            }
        )
    )
    runbook("<dms_source_secret_arn>")
    runbook("<dms_target_secret_arn>")
    runbook("start-replication-task")
    dms, task = aws("dms"), outputs["dms_replication_task_arn"]
    drive.wait_for("the forward task to run", lambda: drive.task_status(dms, task) == "running", 120)
    drive.wait_for("the forward full load", lambda: drive.tables_loaded(dms, task), 180)


def test_runbook_validator_reports_ready(aws, outputs, local, runbook):
    # Run before every table is validated, the validator publishes a 0, and the canary step after this test
    # then waits for that minute to age out (up to 60 s).
    task = outputs["dms_replication_task_arn"]
    drive.wait_for("every table validated", lambda: drive.tables_validated(aws("dms"), task), 180)

    def ready() -> bool:
        local.publish_replication_metrics()
        runbook("migration-validator")
        return json.loads((runbook.folder / "validator.json").read_text())["status"] == "READY"

    drive.wait_for("the validator to answer READY", ready, 120, poll=2.0)


def test_runbook_canary_step_moves_the_weights(aws, outputs, runbook, migration_ready):
    migration_ready()
    before = new_and_legacy_weights(aws, outputs)
    runbook("traffic-shifter")
    answer = json.loads((runbook.folder / "shifter.json").read_text())
    assert answer["ok"] and answer["after"] == {"new": before[0] + 10, "legacy": before[1] - 10}, answer
    assert new_and_legacy_weights(aws, outputs) == (before[0] + 10, before[1] - 10)


def test_runbook_rollback_moves_every_client_back_to_legacy(aws, outputs, runbook):
    runbook("-rollback ")
    answer = json.loads((runbook.folder / "rollback.json").read_text())
    assert answer["ok"] and answer["after"] == {"new": 0, "legacy": 100}, answer
    assert new_and_legacy_weights(aws, outputs) == (0, 100)


# --------------------------------------------------------------------------- the system at work
def test_a_payment_posted_to_the_alb_while_legacy_writes_lands_on_legacy_and_replicates(aws, outputs, legacy_stand_in):
    merchant, key = f"m-int-{uuid.uuid4().hex[:10]}", f"it-{uuid.uuid4().hex}"
    status, _, created = send(
        outputs["local_api_url"],
        "POST",
        "/payments",
        {"amount": "17.35", "currency": "EUR", "merchant_id": merchant},
        {MERCHANT_HEADER: merchant, "Idempotency-Key": key},
    )
    assert status == 201, created
    legacy = legacy_stand_in.connect()
    try:
        assert legacy.run("SELECT idempotency_key FROM payments WHERE id = CAST(:id AS uuid)", id=created["id"]) == [
            [key]
        ]
    finally:
        legacy.close()

    def read_back() -> dict | None:  # GET goes to the API on Aurora: there once forward CDC carried it
        status, _, body = send(
            outputs["local_api_url"], "GET", f"/payments/{created['id']}", None, {MERCHANT_HEADER: merchant}
        )
        return body if status == 200 else None

    assert drive.wait_for("the payment to replicate to Aurora", read_back, 60) == created
    rows = json.loads(
        aws("rds-data").execute_statement(
            resourceArn=outputs["aurora_cluster_arn"],
            secretArn=outputs["aurora_app_secret_arn"],
            database=outputs["aurora_database_name"],
            formatRecordsAs="JSON",
            sql=(
                "SELECT merchant_id, idempotency_key, amount::text AS amount FROM payments WHERE id = CAST(:id AS uuid)"
            ),
            parameters=[{"name": "id", "value": {"stringValue": created["id"]}}],
        )["formattedRecords"]
    )
    assert rows == [{"merchant_id": merchant, "idempotency_key": key, "amount": "17.35"}]


def test_the_api_refuses_writes_with_a_retriable_answer_while_legacy_is_the_writer(aws, outputs, functions):
    # The ALB's write rule keeps writes away from the API before the flip; asked directly, it answers 503.
    event = {
        "httpMethod": "POST",
        "path": "/payments",
        "headers": {
            "x-merchant-id": "m-int-gate",
            "idempotency-key": f"it-{uuid.uuid4().hex}",
            "content-type": "application/json",
        },
        "body": json.dumps({"amount": "1.00", "currency": "EUR", "merchant_id": "m-int-gate"}),
        "isBase64Encoded": False,
        "queryStringParameters": {},
    }
    answer = drive.invoke(aws("lambda"), functions["names"]["payment-api"], event)
    assert answer["statusCode"] == 503 and answer["headers"]["retry-after"] == "2", answer


def test_a_cutover_step_changes_the_routing(aws, outputs, functions, migration_ready):
    migration_ready()
    answer = drive.invoke(
        aws("lambda"),
        functions["names"]["traffic-shifter"],
        {"action": "canary", "target_weight": 30, "reason": "integration test"},
    )
    assert answer["ok"], answer
    assert new_and_legacy_weights(aws, outputs) == (30, 70)
    status = drive.invoke(aws("lambda"), functions["names"]["traffic-shifter"], {"action": "status"})
    assert status["state"]["dns_new_weight"] == 30 and status["write_rule"] == ["legacy"], status


def test_a_notification_on_the_critical_topic_rolls_the_routing_back(aws, outputs, settings):
    alarm = drive.critical_alarm_name(aws("cloudwatch"), outputs["critical_alarm_prefix"])
    account = aws("sts").get_caller_identity()["Account"]
    aws("sns").publish(
        TopicArn=outputs["critical_topic_arn"],
        Subject=f'ALARM: "{alarm}"',
        Message=drive.critical_alarm_message(alarm, settings.aws_region, account),
    )
    drive.wait_for(
        "rollback to put every client back on legacy", lambda: new_and_legacy_weights(aws, outputs) == (0, 100), 90
    )


def test_the_validator_schedule_publishes_migration_ready(aws, local, functions):
    namespace, metric = functions["environment"]["METRIC_NAMESPACE"], functions["environment"]["READY_METRIC_NAME"]
    validator = aws("lambda").get_function(FunctionName=functions["names"]["migration-validator"])
    rule = drive.validator_rule(aws("events"), validator["Configuration"]["FunctionArn"])
    before = readiness_samples(aws, namespace, metric)
    drive.fire_validator(
        local,
        rule,
        account=validator["Configuration"]["FunctionArn"].split(":")[4],
        region=validator["Configuration"]["FunctionArn"].split(":")[3],
    )
    assert readiness_samples(aws, namespace, metric) == before + 1
