"""The legacy system's local stand-in: the payment API's own code, served over HTTP on 127.0.0.1, on the
on-premises database.

The real legacy API is not ours and is never contacted. Locally it is the payment API package exactly as
`make deploy` zips it (lib/packaging.py), imported from that zip, with its Data API client replaced by the
one Data API implementation (tools/local_aws/rdsdata) logged in to the on-premises stand-in database as its
owner. It has no write gate: legacy knows nothing about the cutover and takes every write until the operator
puts it into read-only mode (`read_only`, the runbook's step: `ALTER ROLE ... SET
default_transaction_read_only` and terminating the role's sessions; PostgreSQL then refuses the writes and
the API answers 503 + Retry-After). The ALB's legacy IP target and the rehearsal's resolver both map the
legacy address to this server.

    python -m tools.rehearsal.legacy --db-host 127.0.0.1 --db-port 5432 --database onprem.payments \
        --user legacy_admin      # password in LEGACY_DB_PASSWORD; prints {"port": N} once it listens
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from lib.packaging import zip_bytes
from tools.local_aws import loopback
from tools.local_aws.rdsdata.engine import Target
from tools.local_aws.rdsdata.in_process import InProcessDataApi

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PAYMENT_API_SOURCE = PROJECT_ROOT / "lib" / "lambda" / "payment_api"
PASSWORD_VARIABLE = "LEGACY_DB_PASSWORD"
# The stand-in's own names for the Data API request: the adapter below ignores them, the handler needs them set.
HANDLER_ENVIRONMENT = {
    "DB_CLUSTER_ARN": "arn:aws:rds:local:000000000000:cluster:legacy",
    "DB_SECRET_ARN": "arn:aws:secretsmanager:local:000000000000:secret:legacy",
    "DB_NAME": "legacy",
    "CLIENT_IDENTITY": "header",
    "LOG_LEVEL": "WARNING",
}


class LegacyDataApi(InProcessDataApi):
    """Stands in for a boto3 rds-data client: every request runs on the on-premises database."""

    def __init__(self, *, host: str, port: int, database: str, user: str, password: str) -> None:
        import pg8000.native

        def connect() -> Any:
            return pg8000.native.Connection(
                user=user, password=password, host=host, port=port, database=database, timeout=30
            )

        target = Target(key=("legacy", database, user), connect=connect)
        super().__init__(lambda resource_arn, secret_arn, name: target)


def load_payment_api(package_dir: Path) -> Any:
    """The payment API's handler module, imported from its deployment zip (as /var/task in Lambda)."""
    package = package_dir / "payment_api.zip"
    package.write_bytes(zip_bytes(PAYMENT_API_SOURCE))
    os.environ.update(HANDLER_ENVIRONMENT)
    os.environ.pop("CUTOVER_STATE_PARAMETER", None)  # legacy has no write gate
    sys.path.insert(0, str(package))
    import handler  # type: ignore[import-not-found]  # from the zip just put first on sys.path

    return handler


def alb_event(method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The request as the payment API reads it (an ALB Lambda-target event, one value per header)."""
    path, _, query = target.partition("?")
    return {
        "httpMethod": method,
        "path": path,
        "headers": {k.lower(): v for k, v in headers.items()},
        "queryStringParameters": dict(pair.partition("=")[::2] for pair in query.split("&") if pair),
        "body": body.decode("utf-8", "replace"),
        "isBase64Encoded": False,
    }


class LegacyContext:
    """What the handler reads of a Lambda context: its request id (answered as X-Request-Id)."""

    function_name = "legacy-stand-in"

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id


def make_request_handler(api: Any) -> type:
    class LegacyRequestHandler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "legacy-stand-in/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            context = LegacyContext(str(uuid.uuid4()))
            response = api.handler(alb_event(self.command, self.path, dict(self.headers.items()), body), context)
            payload = response.get("body") or ""
            data = payload.encode()
            self.send_response(int(response["statusCode"]))
            for name, value in (response.get("headers") or {}).items():
                if name.lower() != "content-length":
                    self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return LegacyRequestHandler


def serve(arguments: argparse.Namespace) -> None:
    loopback.install()
    password = os.environ.get(PASSWORD_VARIABLE)
    if not password:
        raise SystemExit(f"{PASSWORD_VARIABLE} is not set: the on-premises database owner's password")
    with tempfile.TemporaryDirectory(prefix="legacy-stand-in-") as package_dir:
        api = load_payment_api(Path(package_dir))
        api._clients["rds-data"] = LegacyDataApi(
            host=arguments.db_host,
            port=arguments.db_port,
            database=arguments.database,
            user=arguments.user,
            password=password,
        )
        server = http.server.ThreadingHTTPServer((loopback.HOST, arguments.port), make_request_handler(api))
        server.daemon_threads = True
        print(json.dumps({"port": server.server_address[1]}), flush=True)

        # Stops when its parent closes our stdin (or dies): a stand-in never outlives the rehearsal.
        def shut_down_when_stdin_closes() -> None:
            sys.stdin.read()
            server.shutdown()

        threading.Thread(target=shut_down_when_stdin_closes, daemon=True).start()
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.rehearsal.legacy", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--db-host", required=True)
    parser.add_argument("--db-port", type=int, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--user", required=True)
    serve(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
