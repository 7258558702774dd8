"""Application Load Balancers serve HTTP on 127.0.0.1: one local port per listener.

A reconciler notices listeners as moto creates and deletes them and keeps one HTTP server per
HTTP/HTTPS listener on a free 127.0.0.1 port. Every request is routed from moto's current
state (rules.py), so a rule or weight the cutover changes applies to the next request:

- Lambda targets get the ALB's Lambda event (multi-value headers off: the last value of each
  header and query parameter) and their response maps back; errors and bad responses are 502,
  throttling 503.
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
- IP targets go to the local stand-in mapped to them (PUT /_local_aws/elbv2/ip-targets);
  the real address is never contacted. Without a stand-in the answer is 503.
- Health checks run on each target group's path every interval (and on demand), and
  DescribeTargetHealth reports their outcome.

The same listener is reachable through the emulator's own port at
/_local_aws/alb/<load balancer name>/<listener port>/..., a URL known before anything is
deployed; that is the stack's `local_api_url` (see docs/local-runtime.md).
HTTPS listeners that verify client certificates (MutualAuthentication mode `verify`) are served
over TLS with the emulator's own CA (tls.py): the client certificate must chain to the trust
store's bundle, and reaches the target in the X-Amzn-Mtls-Clientcert-* headers. They are not
reachable through the emulator's port (no TLS there). Other HTTPS listeners are served as plain HTTP.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import re
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from tools.local_aws.elbv2.routing import (
    IncomingRequest,
    WeightedChoice,
    format_location,
    forward_target_group,
    matching_actions,
    redirect_location,
)
from tools.local_aws.elbv2.tls import MTLS_HEADER_PREFIX, LocalCertificateAuthority, client_certificate_headers
from tools.local_aws.elbv2.trust_stores import trust_stores
from tools.local_aws.loopback import HOST, free_port

PROXY_PREFIX = "/_local_aws/alb/"
RECONCILE_SECONDS = 0.5
MAX_BODY_BYTES = 1024 * 1024  # request body and response JSON limits for Lambda targets
HANDSHAKE_SECONDS = 10
TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml")


@dataclass
class Outgoing:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    reason: str | None = None

    @classmethod
    def text(cls, status: int, message: str) -> Outgoing:
        body = message.encode()
        return cls(status, [("Content-Type", "text/plain; charset=utf-8"), ("Server", "awselb/2.0")], body)


@dataclass
class TargetHealth:
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = "Target registration is in progress"
    passes: int = 0
    failures: int = 0
    checked: bool = False


@dataclass
class ListenerRef:
    account_id: str
    region: str
    load_balancer_name: str
    load_balancer_arn: str
    listener_arn: str
    port: int
    protocol: str
    # Mutual TLS in verify mode: the trust store and a digest of its bundle (a new bundle restarts the server).
    trust_store_arn: str | None = None
    client_ca_sha256: str | None = None
    client_ca_bundle: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def verifies_clients(self) -> bool:
        return self.client_ca_bundle is not None


@dataclass
class ListenerServer:
    ref: ListenerRef
    local_port: int
    server: http.server.ThreadingHTTPServer
    thread: threading.Thread = field(repr=False)


class TlsListenerServer(http.server.ThreadingHTTPServer):
    """A listener's HTTP server behind TLS; the handshake runs in the connection's own thread."""

    def __init__(self, address: tuple[str, int], handler: type, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_SECONDS)
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # no client certificate, or one the trust store does not vouch for: refused, as on the ALB
        try:
            connection.settimeout(None)
            # typeshed types the server argument as Self, which mypy does not bind through this attribute
            self.RequestHandlerClass(connection, client_address, self)  # type: ignore[arg-type]
        finally:
            connection.close()


def _elbv2_backends() -> Iterator[tuple[str, str, Any]]:
    from moto.elbv2.models import elbv2_backends

    for account_id, by_region in list(elbv2_backends.items()):
        for region, backend in list(by_region.items()):
            yield account_id, region, backend


def _verified_by(backend: Any, listener: Any) -> dict[str, Any]:
    """The trust store fields of a ListenerRef for a listener in verify mode, else none."""
    settings = getattr(listener, "mutual_authentication", None) or {}
    store = trust_stores(backend).get(settings.get("TrustStoreArn") or "") if settings.get("Mode") == "verify" else None
    if store is None:
        return {}
    return {
        "trust_store_arn": store.trust_store_arn,
        "client_ca_sha256": store.bundle_sha256,
        "client_ca_bundle": store.bundle,
    }


def listeners() -> Iterator[ListenerRef]:
    for account_id, region, backend in _elbv2_backends():
        for balancer in list(backend.load_balancers.values()):
            for listener in list(balancer.listeners.values()):
                if listener.protocol in ("HTTP", "HTTPS"):
                    yield ListenerRef(
                        account_id,
                        region,
                        balancer.name,
                        balancer.arn,
                        listener.arn,
                        int(listener.port),
                        listener.protocol.lower(),
                        **_verified_by(backend, listener),
                    )


def trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"


class LoadBalancerFrontends:
    """Serves every HTTP(S) listener of every load balancer moto knows, while the emulator runs."""

    def __init__(self, lambdas: Any, *, start: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        self._lambdas = lambdas
        self._clock = clock
        self._servers: dict[str, ListenerServer] = {}
        self._health: dict[tuple[str, str], TargetHealth] = {}
        self._last_check: dict[str, float] = {}
        self._choice = WeightedChoice()
        self._certificate_authority: LocalCertificateAuthority | None = None
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self.ip_targets: dict[str, str] = {}  # "ip:port" or "ip" -> "127.0.0.1:port" of a local stand-in
        self.on_request: Callable[[], None] = lambda: None  # told of every request a listener receives
        if start:
            threading.Thread(target=self._run, name="alb-frontends", daemon=True).start()

    # ----------------------------------------------------------------- lifecycle

    def _run(self) -> None:
        while not self._stopping.wait(RECONCILE_SECONDS):
            try:
                self.reconcile()
                self.run_due_health_checks()
            except Exception as error:  # moto changed under us mid-iteration: try again next round
                print(f"load balancer frontends: {error!r}", flush=True)

    def reconcile(self) -> None:
        """Start a server for each new listener, stop those of deleted listeners, restart changed ones
        (port, protocol or client verification)."""
        current = {ref.listener_arn: ref for ref in listeners()}
        with self._lock:
            stale = [arn for arn, server in self._servers.items() if current.get(arn) != server.ref]
            stopped = [self._servers.pop(arn) for arn in stale]
            for arn, ref in current.items():
                if arn not in self._servers:
                    self._servers[arn] = self._serve(ref)
        for server in stopped:
            server.server.shutdown()
            server.server.server_close()

    def certificate_authority(self) -> LocalCertificateAuthority:
        """The CA of the TLS listeners' server certificates, generated with the first one."""
        with self._lock:
            if self._certificate_authority is None:
                self._certificate_authority = LocalCertificateAuthority()
            return self._certificate_authority

    def _serve(self, ref: ListenerRef) -> ListenerServer:
        frontends = self

        class Handler(ListenerRequestHandler):
            listener_ref = ref
            owner = frontends

        if ref.client_ca_bundle is not None:
            context = self.certificate_authority().server_context(ref.client_ca_bundle)
            server: http.server.ThreadingHTTPServer = TlsListenerServer((HOST, free_port()), Handler, context)
        else:
            server = http.server.ThreadingHTTPServer((HOST, free_port()), Handler)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, name=f"alb-{ref.load_balancer_name}-{ref.port}", daemon=True
        )
        thread.start()
        return ListenerServer(ref, server.server_address[1], server, thread)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
        for server in servers:
            server.server.shutdown()
            server.server.server_close()

    # ----------------------------------------------------------------- discovery

    def local_port(self, listener_arn: str) -> int | None:
        with self._lock:
            server = self._servers.get(listener_arn)
            return server.local_port if server else None

    def find_listener(self, load_balancer_name: str, port: int) -> ListenerRef | None:
        self.reconcile()
        found = [ref for ref in listeners() if ref.load_balancer_name == load_balancer_name and ref.port == port]
        return found[0] if len(found) == 1 else None

    def describe(self, control_port: int) -> list[dict[str, Any]]:
        self.reconcile()
        with self._lock:
            return [
                {
                    "load_balancer_name": s.ref.load_balancer_name,
                    "load_balancer_arn": s.ref.load_balancer_arn,
                    "listener_arn": s.ref.listener_arn,
                    "port": s.ref.port,
                    "protocol": s.ref.protocol,
                    "local_url": f"{'https' if s.ref.verifies_clients else 'http'}://{HOST}:{s.local_port}",
                    "proxy_url": f"http://{HOST}:{control_port}{PROXY_PREFIX}{s.ref.load_balancer_name}/{s.ref.port}",
                    "verifies_client_certificates": s.ref.verifies_clients,
                    "trust_store_arn": s.ref.trust_store_arn,
                }
                for s in self._servers.values()
            ]

    def certificate_authority_pem(self) -> dict[str, str]:
        """The CA certificate a client trusts to verify the TLS listeners (GET /_local_aws/elbv2/tls-ca)."""
        return {"pem": self.certificate_authority().pem}

    # ----------------------------------------------------------------- requests

    def respond(self, ref: ListenerRef, request: IncomingRequest, *, proxy_base: str | None = None) -> Outgoing:
        """What the load balancer answers to `request` on listener `ref`."""
        listener = self._listener(ref)
        if listener is None:
            return Outgoing.text(503, "the listener no longer exists")
        try:
            actions = matching_actions(listener, request)
        except ValueError as error:
            return Outgoing.text(500, str(error))
        for action in actions:
            if action.type == "redirect":
                return self._redirect(ref, action.data.get("RedirectConfig") or {}, request, proxy_base)
            if action.type == "fixed-response":
                config = action.data.get("FixedResponseConfig") or {}
                return Outgoing(
                    int(config.get("StatusCode", 200)),
                    [("Content-Type", config.get("ContentType") or "text/plain")],
                    (config.get("MessageBody") or "").encode(),
                )
            if action.type == "forward":
                group_arn = forward_target_group(action, self._choice, f"{ref.listener_arn}/{id(action)}")
                if group_arn is None:
                    return Outgoing.text(503, "no target group has weight")
                return self._forward(ref, group_arn, request)
        return Outgoing.text(503, "no rule action applies (authenticate actions are not run locally)")

    @staticmethod
    def _listener(ref: ListenerRef) -> Any:
        from moto.elbv2.models import elbv2_backends

        balancer = elbv2_backends[ref.account_id][ref.region].load_balancers.get(ref.load_balancer_arn)
        return balancer.listeners.get(ref.listener_arn) if balancer else None

    def _redirect(
        self, ref: ListenerRef, config: dict[str, Any], request: IncomingRequest, proxy_base: str | None
    ) -> Outgoing:
        protocol, host, port, path, query = redirect_location(config, request)
        status = 301 if config.get("StatusCode") == "HTTP_301" else 302
        target = self.find_listener(ref.load_balancer_name, int(port)) if host == request.host else None
        if target is not None and proxy_base is not None:  # stay on the emulator's proxy path
            location = f"{proxy_base}{PROXY_PREFIX}{target.load_balancer_name}/{target.port}{path}" + (
                f"?{query}" if query else ""
            )
        elif target is not None and self.local_port(target.listener_arn):  # the local listener, not port 443
            location = format_location("http", HOST, str(self.local_port(target.listener_arn)), path, query)
        else:
            location = format_location(protocol, host, port, path, query)
        return Outgoing(status, [("Location", location), ("Server", "awselb/2.0"), ("Content-Length", "0")], b"")

    def _target_group(self, ref: ListenerRef, group_arn: str) -> Any:
        from moto.elbv2.models import elbv2_backends

        return elbv2_backends[ref.account_id][ref.region].target_groups.get(group_arn)

    def _forward(self, ref: ListenerRef, group_arn: str, request: IncomingRequest) -> Outgoing:
        group = self._target_group(ref, group_arn)
        if group is None or not group.targets:
            return Outgoing.text(503, "the target group has no registered targets")
        targets = list(group.targets.values())
        target = targets[0] if len(targets) == 1 else targets[self._round_robin(group_arn, len(targets))]
        if group.target_type == "lambda":
            return self._invoke_lambda(group, target["Id"], request)
        if group.target_type == "ip":
            return self._proxy_to_stand_in(target, request)
        return Outgoing.text(503, f"{group.target_type} targets are not served by the local load balancer")

    def _round_robin(self, key: str, count: int) -> int:
        choice = self._choice.choose(f"rr/{key}", [(str(i), 1) for i in range(count)])
        return int(choice or 0)

    # ----------------------------------------------------------------- Lambda targets

    @staticmethod
    def lambda_event(group_arn: str, request: IncomingRequest) -> dict[str, Any]:
        """The event an ALB sends a Lambda target, multi-value headers disabled: last value wins."""
        headers: dict[str, str] = {}
        for name, value in request.headers:
            headers[name.lower()] = value
        query: dict[str, str] = {}
        for pair in filter(None, request.query.split("&")):
            key, _, value = pair.partition("=")
            query[key] = value  # the ALB does not decode them
        content_type = headers.get("content-type", "")
        text = not request.body or content_type.startswith(TEXT_TYPES)
        return {
            "requestContext": {"elb": {"targetGroupArn": group_arn}},
            "httpMethod": request.method,
            "path": request.path,
            "queryStringParameters": query,
            "headers": headers,
            "body": request.body.decode("utf-8", "replace") if text else base64.b64encode(request.body).decode(),
            "isBase64Encoded": not text,
        }

    def _invoke_lambda(self, group: Any, function_arn: str, request: IncomingRequest) -> Outgoing:
        from moto.awslambda.utils import get_backend

        from tools.local_aws.awslambda.workers import Throttled

        if len(request.body) > MAX_BODY_BYTES:
            return Outgoing.text(413, "request body over 1 MB")
        arn = function_arn.split(":")
        try:
            function = get_backend(arn[4], arn[3]).get_function(function_arn)
            result = self._lambdas.invoke(function, json.dumps(self.lambda_event(group.arn, request)))
        except Throttled:
            return Outgoing.text(503, "the Lambda function is throttled")
        except Exception as error:
            return Outgoing.text(502, f"the Lambda target could not be invoked: {error}")
        if result.function_error or len(result.payload) > MAX_BODY_BYTES:
            return Outgoing.text(502, "Bad Gateway")
        return lambda_response(result.payload)

    # ----------------------------------------------------------------- IP targets

    def stand_in(self, target: dict[str, Any]) -> str | None:
        with self._lock:
            return self.ip_targets.get(f"{target['Id']}:{target.get('Port')}") or self.ip_targets.get(target["Id"])

    def _proxy_to_stand_in(self, target: dict[str, Any], request: IncomingRequest) -> Outgoing:
        stand_in = self.stand_in(target)
        if stand_in is None:
            return Outgoing.text(
                503,
                f"no local stand-in for IP target {target['Id']}:{target.get('Port')} "
                "(PUT /_local_aws/elbv2/ip-targets); the real address is never contacted",
            )
        host, _, port = stand_in.rpartition(":")
        headers = {name: value for name, value in request.headers if name.lower() not in ("host", "connection")}
        headers.update(
            {
                "X-Forwarded-For": request.client_ip,
                "X-Forwarded-Proto": request.protocol,
                "X-Forwarded-Port": str(request.listener_port),
                "X-Amzn-Trace-Id": trace_id(),
                "Host": request.header("host") or stand_in,
            }
        )
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            connection.request(
                request.method,
                request.path + (f"?{request.query}" if request.query else ""),
                body=request.body or None,
                headers=headers,
            )
            answer = connection.getresponse()
            return Outgoing(
                answer.status,
                [(k, v) for k, v in answer.getheaders() if k.lower() not in ("transfer-encoding", "connection")],
                answer.read(),
                answer.reason,
            )
        except OSError as error:
            return Outgoing.text(502, f"the stand-in {stand_in} did not answer: {error}")
        finally:
            connection.close()

    # ----------------------------------------------------------------- health checks

    def _target_groups(self) -> Iterator[tuple[str, str, Any]]:
        for account_id, region, backend in _elbv2_backends():
            for group in list(backend.target_groups.values()):
                yield account_id, region, group

    def run_due_health_checks(self) -> None:
        now = self._clock()
        for _, _, group in self._target_groups():
            if not group.health_check_enabled or not group.targets:
                continue
            if now - self._last_check.get(group.arn, float("-inf")) >= float(group.health_check_interval_seconds):
                self._last_check[group.arn] = now
                threading.Thread(target=self.check_group, args=(group,), daemon=True).start()

    def run_health_checks(self) -> dict[str, dict[str, str]]:
        """Check every target of every target group now; {group ARN: {target id: state}}."""
        states = {}
        for _, _, group in self._target_groups():
            if group.health_check_enabled and group.targets:
                self._last_check[group.arn] = self._clock()
                states[group.arn] = self.check_group(group)
        return states

    def check_group(self, group: Any) -> dict[str, str]:
        states = {}
        for target in list(group.targets.values()):
            passed, detail = self._probe(group, target)
            states[target["Id"]] = self._record(group, target["Id"], passed, detail)
        return states

    def _probe(self, group: Any, target: dict[str, Any]) -> tuple[bool, str]:
        path = group.health_check_path or "/"
        request = IncomingRequest(
            "GET",
            path,
            "",
            (("user-agent", "ELB-HealthChecker/2.0"),),
            b"",
            HOST,
            int(target.get("Port") or 80),
            "http",
        )
        if group.target_type == "lambda":
            outcome = self._invoke_lambda(group, target["Id"], request)
        elif group.target_type == "ip":
            if self.stand_in(target) is None:
                return False, "Target.Timeout"
            outcome = self._proxy_to_stand_in(target, request)
        else:
            return False, "Target.NotInUse"
        matcher = (getattr(group, "matcher", None) or {}).get("HttpCode", "200")
        return status_matches(outcome.status, matcher), f"Target.ResponseCodeMismatch ({outcome.status})"

    def _record(self, group: Any, target_id: str, passed: bool, detail: str) -> str:
        with self._lock:
            health = self._health.setdefault((group.arn, target_id), TargetHealth())
            health.passes, health.failures = (health.passes + 1, 0) if passed else (0, health.failures + 1)
            # A new target is healthy after one passing check; after that the thresholds apply.
            if passed and (not health.checked or health.passes >= int(group.healthy_threshold_count)):
                health.state, health.reason, health.description = "healthy", None, None
            elif not passed and (not health.checked or health.failures >= int(group.unhealthy_threshold_count)):
                reason = detail.split(" ")[0]
                health.state, health.reason = "unhealthy", reason
                health.description = f"Health checks failed ({detail})"
            health.checked = True
            return health.state

    def health(self, group_arn: str, target_id: str) -> TargetHealth | None:
        with self._lock:
            return self._health.get((group_arn, target_id))


def status_matches(status: int, matcher: str) -> bool:
    """An ALB matcher: "200", "200,202" or "200-299"."""
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        if low and int(low) <= status <= int(high or low):
            return True
    return False


def lambda_response(payload: bytes) -> Outgoing:
    """The HTTP response for a Lambda target's result; anything malformed is a 502, as on the ALB."""
    try:
        document = json.loads(payload)
        status = int(document["statusCode"])
    except (ValueError, KeyError, TypeError):
        return Outgoing.text(502, "Bad Gateway")
    headers = [(str(k), str(v)) for k, v in (document.get("headers") or {}).items()]
    body = document.get("body") or ""
    raw = base64.b64decode(body) if document.get("isBase64Encoded") else str(body).encode()
    description = document.get("statusDescription")
    reason = description.split(" ", 1)[1] if description and " " in description else None
    return Outgoing(status, headers, raw, reason)


class ListenerRequestHandler(http.server.BaseHTTPRequestHandler):
    """One listener's HTTP server: every method goes through the load balancer's routing."""

    protocol_version = "HTTP/1.1"
    server_version = "awselb/2.0"
    listener_ref: ListenerRef
    owner: LoadBalancerFrontends

    def log_message(self, format: str, *args: Any) -> None:  # the emulator's log stays moto's
        return

    def _handle(self) -> None:
        self.owner.on_request()
        if self.headers.get("upgrade"):
            outgoing = Outgoing.text(400, "WebSockets are not supported")
        else:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            request = IncomingRequest(
                self.command,
                path,
                query,
                self._request_headers(),
                body,
                self.client_address[0],
                self.listener_ref.port,
                self.listener_ref.protocol,
            )
            outgoing = self.owner.respond(self.listener_ref, request)
        self.send_response(outgoing.status, outgoing.reason or _phrase(outgoing.status))
        for name, value in outgoing.headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(outgoing.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(outgoing.body)

    def _request_headers(self) -> tuple[tuple[str, str], ...]:
        """As received; on a listener that verifies clients, the ALB's X-Amzn-Mtls-* headers replace any
        the client sent under those names."""
        headers = tuple(self.headers.items())
        if not self.listener_ref.verifies_clients:
            return headers
        certificate = self.connection.getpeercert(binary_form=True)
        return tuple((k, v) for k, v in headers if not k.lower().startswith(MTLS_HEADER_PREFIX)) + tuple(
            client_certificate_headers(certificate)
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


PROXY_PATH = re.compile(rf"^{PROXY_PREFIX}(?P<name>[^/]+)/(?P<port>\d+)(?P<rest>/.*)?$")


def proxy_request(frontends: LoadBalancerFrontends, environ: dict[str, Any], control_base: str) -> Outgoing:
    """A request to /_local_aws/alb/<name>/<port>/<path> on the emulator's port, answered by that listener."""
    match = PROXY_PATH.match(environ.get("PATH_INFO", ""))
    if match is None:
        return Outgoing.text(404, f"expected {PROXY_PREFIX}<load balancer name>/<listener port>/<path>")
    ref = frontends.find_listener(match["name"], int(match["port"]))
    if ref is None:
        return Outgoing.text(404, f"no HTTP listener on port {match['port']} of a load balancer named {match['name']}")
    if ref.verifies_clients:
        return Outgoing.text(
            400,
            "this listener verifies client certificates (mutual TLS): call its TLS local_url "
            "(GET /_local_aws/elbv2/listeners) with a client certificate",
        )
    headers = tuple(
        (key[5:].replace("_", "-").lower(), value) for key, value in environ.items() if key.startswith("HTTP_")
    )
    if environ.get("CONTENT_TYPE"):
        headers += (("content-type", environ["CONTENT_TYPE"]),)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    request = IncomingRequest(
        environ["REQUEST_METHOD"],
        match["rest"] or "/",
        environ.get("QUERY_STRING", ""),
        headers,
        body,
        environ.get("REMOTE_ADDR", HOST),
        ref.port,
        ref.protocol,
    )
    return frontends.respond(ref, request, proxy_base=control_base)
