"""A client of the emulator's control endpoints (tools/local_aws/control.py), for tests and tools."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from tools.local_aws.common import endpoint

FINAL_STATES = frozenset({"succeeded", "failed", "dead-lettered", "dropped"})


class LocalAwsControl:
    def __init__(self, port: int) -> None:
        self.base = f"{endpoint(port)}/_local_aws"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base}/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def runtime(self) -> dict[str, Any]:
        return self._call("GET", "runtime")

    def set_retry_delays(self, *seconds: float) -> list[float]:
        """Shorten (or restore) the waits before Lambda's async retries."""
        return self._call("PUT", "lambda/retry-delays", {"seconds": list(seconds)})["seconds"]

    def invocation(self, request_id: str) -> dict[str, Any]:
        return self._call("GET", f"lambda/invocations/{request_id}")

    def wait_for_invocation(self, request_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """The Event invocation once it reached a final state (or as it stands after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.invocation(request_id)
            if state["status"] in FINAL_STATES or time.monotonic() > deadline:
                return state
            time.sleep(0.1)

    def fire_rule(self, name: str, *, account: str = "123456789012", region: str = "us-east-1") -> list[dict]:
        """Run an EventBridge rule's targets now; returns one entry per invoked target."""
        return self._call("POST", f"events/rules/{name}/fire?account={account}&region={region}")["fired"]

    def listeners(self) -> list[dict[str, Any]]:
        """Every load balancer listener the emulator serves, with its local_url and proxy_url."""
        return self._call("GET", "elbv2/listeners")

    def map_ip_targets(self, targets: dict[str, str]) -> dict[str, str]:
        """Route IP targets ("203.0.113.10:443" or "203.0.113.10") to local stand-ins ("127.0.0.1:8443")."""
        return self._call("PUT", "elbv2/ip-targets", {"targets": targets})["targets"]

    def tls_certificate_authority(self) -> str:
        """PEM of the CA that signs the server certificates of listeners served over TLS (mutual TLS)."""
        return self._call("GET", "elbv2/tls-ca")["pem"]

    def run_health_checks(self) -> dict[str, dict[str, str]]:
        """Run every target group's health checks now: {target group ARN: {target id: state}}."""
        return self._call("POST", "elbv2/health-checks")

    def onprem_databases(self) -> dict[str, dict[str, Any]]:
        """The on-premises stand-in databases: {source database name: {host, port, database, username, password}}."""
        return self._call("GET", "dms/onprem-databases")

    def replication_tasks(self) -> list[dict[str, Any]]:
        return self._call("GET", "dms/tasks")

    def publish_replication_metrics(self) -> list[dict[str, Any]]:
        """Put the running tasks' CDCLatencySource/Target into CloudWatch now (the emulator does it every 5 s)."""
        return self._call("POST", "dms/metrics")
