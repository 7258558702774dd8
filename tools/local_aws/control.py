"""Control endpoints of the local runtime, under /_local_aws/ beside moto's own /moto-api/.

    GET  /_local_aws/runtime                         what runs: workers, schedules, retry delays
    GET  /_local_aws/lambda/retry-delays             seconds before each async retry
    PUT  /_local_aws/lambda/retry-delays             {"seconds": [0.2, 0.2]} (Lambda: [60, 120])
    GET  /_local_aws/lambda/invocations/<request-id> an Event invocation: status, attempts, errors
    POST /_local_aws/events/rules/<name>/fire        run a rule now (?account=...&region=...)
    GET  /_local_aws/elbv2/listeners                 every served listener: its local URL and proxy URL
    PUT  /_local_aws/elbv2/ip-targets                {"targets": {"203.0.113.10:443": "127.0.0.1:8443"}}:
                                                     the local stand-in of each IP target
    POST /_local_aws/elbv2/health-checks             run every target group's health checks now
    GET  /_local_aws/elbv2/tls-ca                    {"pem": ...}: the CA of the TLS listeners' server certificates
    ANY  /_local_aws/alb/<lb name>/<port>/<path>     a request to that listener, through this port
    GET  /_local_aws/dms/onprem-databases            the on-premises stand-ins: host, port, database, owner login
    GET  /_local_aws/dms/tasks                       replication tasks: status, slot, subscription, latency
    POST /_local_aws/dms/metrics                     publish CDCLatencySource/Target of running tasks now

tools/local_aws/client.py calls them. Nothing here exists on AWS: it is how tests and the
rehearsal drive time-based behaviour without waiting for it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

from tools.local_aws.common import EmulatorError

PREFIX = "/_local_aws/"
PROXY_PREFIX = "/_local_aws/alb/"
DEFAULT_ACCOUNT = "123456789012"  # moto's account when requests carry no other
DEFAULT_REGION = "us-east-1"


class BadRequest(Exception):
    status = "400 Bad Request"


class NotFound(Exception):
    status = "404 Not Found"


def _body(environ: dict[str, Any]) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b"{}"
    try:
        return json.loads(raw or b"{}")
    except ValueError as error:
        raise BadRequest(f"the body is not JSON: {error}") from None


def _retry_delays(environ: dict[str, Any], method: str) -> Any:
    from tools.local_aws.runtime import current

    lambdas = current().lambdas
    if method == "PUT":
        seconds = _body(environ).get("seconds")
        if (
            not isinstance(seconds, list)
            or not seconds
            or not all(isinstance(s, (int, float)) and 0 <= s <= 3600 for s in seconds)
        ):
            raise BadRequest('expected {"seconds": [s1, s2, ...]} with each 0..3600')
        lambdas.retry_delays = tuple(float(s) for s in seconds)
    return {"seconds": list(lambdas.retry_delays)}


def _invocation(request_id: str) -> Any:
    from tools.local_aws.runtime import current

    found = current().lambdas.invocation(request_id)
    if found is None:
        raise NotFound(f"no Event invocation {request_id}")
    return found


def _fire(name: str, query: dict[str, list[str]]) -> Any:
    from tools.local_aws.runtime import current

    account = query.get("account", [DEFAULT_ACCOUNT])[0]
    region = query.get("region", [DEFAULT_REGION])[0]
    try:
        fired = current().schedules.fire_now(name, account, region)
    except EmulatorError as error:
        raise NotFound(str(error)) from None
    return {"fired": [asdict(event) for event in fired]}


def _ip_targets(environ: dict[str, Any]) -> Any:
    from tools.local_aws.loopback import is_loopback
    from tools.local_aws.runtime import current

    targets = _body(environ).get("targets")
    if not isinstance(targets, dict):
        raise BadRequest('expected {"targets": {"<ip>[:<port>]": "127.0.0.1:<port>", ...}}')
    for stand_in in targets.values():
        host, _, port = str(stand_in).rpartition(":")
        if not is_loopback(host) or not port.isdigit():
            raise BadRequest(f"stand-in {stand_in!r} is not <loopback address>:<port>: nothing leaves 127.0.0.1")
    frontends = current().load_balancers
    frontends.ip_targets = {str(k): str(v) for k, v in targets.items()}
    return {"targets": frontends.ip_targets}


def _runtime() -> Any:
    from tools.local_aws.runtime import current

    return current().describe()


ROUTES: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
    ("GET", re.compile(r"runtime"), lambda env, q, m: _runtime()),
    ("GET|PUT", re.compile(r"lambda/retry-delays"), lambda env, q, m: _retry_delays(env, env["REQUEST_METHOD"])),
    ("GET", re.compile(r"lambda/invocations/(?P<id>[\w-]+)"), lambda env, q, m: _invocation(m["id"])),
    ("POST", re.compile(r"events/rules/(?P<name>[\w.-]+)/fire"), lambda env, q, m: _fire(m["name"], q)),
    ("GET", re.compile(r"elbv2/listeners"), lambda env, q, m: _current().load_balancers.describe(_current().port)),
    ("PUT", re.compile(r"elbv2/ip-targets"), lambda env, q, m: _ip_targets(env)),
    ("POST", re.compile(r"elbv2/health-checks"), lambda env, q, m: _current().load_balancers.run_health_checks()),
    ("GET", re.compile(r"elbv2/tls-ca"), lambda env, q, m: _current().load_balancers.certificate_authority_pem()),
    ("GET", re.compile(r"dms/onprem-databases"), lambda env, q, m: _current().onprem.describe()),
    ("GET", re.compile(r"dms/tasks"), lambda env, q, m: _current().replication.describe()),
    ("POST", re.compile(r"dms/metrics"), lambda env, q, m: _current().replication.publish_metrics()),
]


def _current() -> Any:
    from tools.local_aws.runtime import current

    return current()


class ControlMiddleware:
    """Answers /_local_aws/ itself and passes everything else to moto."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        if path.startswith(PROXY_PREFIX):
            return self._proxy(environ, start_response)
        status, answer = "200 OK", None
        try:
            answer = self._route(environ, path[len(PREFIX) :])
        except (BadRequest, NotFound) as error:
            status, answer = error.status, {"error": str(error)}
        body = json.dumps(answer).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _proxy(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from tools.local_aws.elbv2.frontends import proxy_request

        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        outgoing = proxy_request(_current().load_balancers, environ, f"http://{host}")
        headers = [(k, v) for k, v in outgoing.headers if k.lower() != "content-length"]
        start_response(
            f"{outgoing.status} {outgoing.reason or ''}".strip(),
            headers + [("Content-Length", str(len(outgoing.body)))],
        )
        return [outgoing.body]

    @staticmethod
    def _route(environ: dict[str, Any], path: str) -> Any:
        method, query = environ["REQUEST_METHOD"], parse_qs(environ.get("QUERY_STRING", ""))
        for methods, pattern, handle in ROUTES:
            match = pattern.fullmatch(path)
            if match:
                if method not in methods.split("|"):
                    raise BadRequest(f"{method} is not allowed on {PREFIX}{path}")
                return handle(environ, query, match)
        raise NotFound(f"no control endpoint {PREFIX}{path}")
