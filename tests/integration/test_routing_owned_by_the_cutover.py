"""The cutover owns the routing, Terraform the resources (issue 11 #2): the write rule sends writes to the
writer's target group, and after the cutover's own code has moved the weights, the `new` alias' health flag
and the write rule, a plan shows no changes and the routing stays where the cutover put it.

The routing moves through lib/lambda/shared (the `cutover` fixture), called in-process against the emulator,
so this is the code the driver and rollback run. Only on the local target: it moves the deployment's routing.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools.local_aws.client import LocalAwsControl
from tools.stack import run_terraform, synth

STAND_IN_HEADER = "X-Served-By"


@pytest.fixture(scope="module", autouse=True)
def local_with_legacy(settings, outputs):
    if settings.target != "local":
        pytest.skip("moves the deployment's routing: only on the local emulator")
    if not outputs["legacy_target_group_arn"]:
        pytest.skip("LEGACY_ENDPOINT is not set for this deployment (make e2e always sets one)")


class LegacyStandIn(BaseHTTPRequestHandler):
    """Answers every request as the legacy API would, naming itself: the real legacy is never contacted."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({"served_by": "legacy stand-in", "method": self.command}).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header(STAND_IN_HEADER, "legacy-stand-in")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args) -> None:
        return


@pytest.fixture(scope="module")
def legacy_stand_in(settings):
    """A local stand-in for every legacy write address, mapped through the emulator's ip-targets endpoint."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), LegacyStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    control = LocalAwsControl(settings.local_aws_port)
    control.map_ip_targets(
        {f"{address}:443": f"127.0.0.1:{server.server_port}" for address in settings.legacy_write_ips}
    )
    yield server
    control.map_ip_targets({})
    server.shutdown()
    server.server_close()


def request(url: str, method: str, body: dict | None = None) -> tuple[int, dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    call = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", "X-Merchant-Id": "m-routing"}
    )
    try:
        with urllib.request.urlopen(call, timeout=60) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}


def test_writes_follow_the_write_rule_and_reads_stay_on_the_api(cutover, outputs, legacy_stand_in):
    ops, config, client = cutover.ops, cutover.config, cutover.client
    url = outputs["local_api_url"]
    writer_group = ops.writer_target_group(config, cutover.store.read()["writer"])
    try:
        ops.point_write_rule(client, config, config.legacy_target_group_arn)
        status, headers = request(f"{url}/payments", "POST", {"amount": "1.00", "currency": "EUR"})
        assert (status, headers.get(STAND_IN_HEADER.lower())) == (201, "legacy-stand-in")
        status, headers = request(f"{url}/health", "GET")
        assert status == 200 and STAND_IN_HEADER.lower() not in headers, "reads go to the API's Lambda"
        ops.point_write_rule(client, config, config.api_target_group_arn)
        _, headers = request(f"{url}/payments", "POST", {"amount": "1.00", "currency": "EUR"})
        assert STAND_IN_HEADER.lower() not in headers, "writes go to the API's Lambda once the rule names it"
    finally:
        ops.point_write_rule(client, config, writer_group)


def test_a_plan_after_the_cutover_moved_the_routing_shows_no_changes(cutover, aurora_writer, settings):
    ops, config, client = cutover.ops, cutover.config, cutover.client
    # As the canary's last step and the flip leave it: all clients on the ALB, no automatic DNS fallback to
    # legacy, writes to the API (aurora_writer), the state saying Aurora is the writer.
    new_records, legacy_records, _ = ops.weighted_records(client, config)
    ops.set_weights(client, config, new_records, legacy_records, 100, "integration test: canary to 100")
    ops.set_new_alias_health(client, config, False, "integration test: Aurora is the writer")
    moved = routing(cutover)

    synth(settings)  # this deployment's own configuration (an earlier test may have planned another one)
    result = run_terraform(
        settings,
        ["plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock=false", "-parallelism=20"],
        capture=True,
    )
    assert result.returncode == 0, "plan after the cutover moved the routing is not empty:\n" + "\n".join(
        line for line in result.stdout.splitlines() if line.strip().startswith(("#", "~", "+", "-"))
    )
    assert "No changes." in result.stdout
    assert (
        routing(cutover)
        == moved
        == {
            "weights": {"new": 100, "legacy": 0},
            "evaluate_target_health": False,
            "write_rule": [config.api_target_group_arn],
            "phase": "aurora-writer",
            "writer": "aurora",
        }
    )


def routing(cutover) -> dict:
    ops, config, client = cutover.ops, cutover.config, cutover.client
    new_records, _, weights = ops.weighted_records(client, config)
    state = cutover.store.read()
    return {
        "weights": weights,
        "evaluate_target_health": all(record["AliasTarget"]["EvaluateTargetHealth"] for record in new_records),
        "write_rule": ops.write_rule_targets(client, config),
        "phase": state["phase"],
        "writer": state["writer"],
    }
