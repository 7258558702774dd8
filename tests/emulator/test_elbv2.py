"""ELBv2 (tools/local_aws/elbv2): listeners served on 127.0.0.1, routed by their rules to their targets."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.emulator.harness import Emulator, deploy_probe, unique
from tools.local_aws.client import LocalAwsControl


def test_alb_without_scheme_is_internet_facing(aws: Callable[[str], Any], network: dict[str, Any]) -> None:
    elbv2 = aws("elbv2")
    arn = elbv2.create_load_balancer(Name=unique("alb"), Subnets=network["subnet_ids"], Type="application")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    described = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    assert described.get("Scheme") == "internet-facing"


def lambda_target_group(aws: Callable[[str], Any], backend: str, **environment: str) -> dict[str, str]:
    function = deploy_probe(aws, handler="alb.handler", environment={"BACKEND": backend, **environment})
    function_arn = aws("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    group = aws("elbv2").create_target_group(
        Name=unique(backend),
        TargetType="lambda",
        HealthCheckEnabled=True,
        HealthCheckPath="/health",
        Matcher={"HttpCode": "200"},
    )
    group_arn = group["TargetGroups"][0]["TargetGroupArn"]
    aws("elbv2").register_targets(TargetGroupArn=group_arn, Targets=[{"Id": function_arn}])
    return {"function": function, "function_arn": function_arn, "arn": group_arn}


@pytest.fixture(scope="module")
def alb(aws: Callable[[str], Any], network: dict[str, Any], control: LocalAwsControl) -> dict[str, Any]:
    elbv2 = aws("elbv2")
    name = unique("api")
    balancer = elbv2.create_load_balancer(Name=name, Subnets=network["subnet_ids"], Type="application")
    balancer_arn = balancer["LoadBalancers"][0]["LoadBalancerArn"]
    blue, green = lambda_target_group(aws, "blue"), lambda_target_group(aws, "green", UNHEALTHY="true")
    ip_group = elbv2.create_target_group(
        Name=unique("legacy"),
        TargetType="ip",
        Protocol="HTTP",
        Port=8080,
        VpcId=network["vpc_id"],
        HealthCheckPath="/ping",
    )
    ip_group_arn = ip_group["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=ip_group_arn, Targets=[{"Id": "10.30.1.10", "Port": 8080}])
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": blue["arn"]}],
    )
    listener_arn = listener["Listeners"][0]["ListenerArn"]
    writes = elbv2.create_rule(
        ListenerArn=listener_arn,
        Priority=20,
        Conditions=[
            {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/payments*"]}},
            {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}},
        ],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": blue["arn"], "Weight": 1},
                        {"TargetGroupArn": green["arn"], "Weight": 1},
                    ]
                },
            }
        ],
    )
    elbv2.create_rule(
        ListenerArn=listener_arn,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/payments/legacy*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": ip_group_arn}],
    )
    elbv2.create_rule(
        ListenerArn=listener_arn,
        Priority=5,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/boom", "/malformed"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": green["arn"]}],
    )
    elbv2.create_listener(
        LoadBalancerArn=balancer_arn,
        Protocol="HTTP",
        Port=8080,
        DefaultActions=[
            {"Type": "redirect", "RedirectConfig": {"Port": "80", "Path": "/v2/#{path}", "StatusCode": "HTTP_301"}}
        ],
    )
    listeners = {entry["port"]: entry for entry in control.listeners() if entry["load_balancer_arn"] == balancer_arn}
    return {
        "name": name,
        "blue": blue,
        "green": green,
        "ip_group": ip_group_arn,
        "writes_rule": writes["Rules"][0],
        "url": listeners[80]["local_url"],
        "proxy": listeners[80]["proxy_url"],
        "redirect_url": listeners[8080]["local_url"],
    }


def call(
    url: str, method: str = "GET", body: bytes | None = None, headers: list[tuple[str, str]] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    for name, value in headers or []:
        request.add_header(name, value)  # urllib keeps one value per name: duplicates go through http.client below
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def test_the_listener_url_and_the_proxy_url_reach_the_lambda_target_with_an_alb_event(alb: dict[str, Any]) -> None:
    for base in (alb["url"], alb["proxy"]):
        status, headers, body = call(f"{base}/echo?a=1&a=2&b=%20x", headers=[("X-Client", "test")])
        assert status == 200 and headers["x-backend"] == "blue"
        event = json.loads(body)
        assert event["httpMethod"] == "GET" and event["path"] == "/echo"
        assert event["queryStringParameters"] == {"a": "2", "b": "%20x"}  # last value, not decoded
        assert event["headers"]["x-client"] == "test"
        assert event["requestContext"]["elb"]["targetGroupArn"] == alb["blue"]["arn"]
        assert event["body"] == "" and event["isBase64Encoded"] is False


def test_duplicate_headers_reach_the_target_as_their_last_value(alb: dict[str, Any]) -> None:
    import http.client

    host, port = alb["url"].removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/echo")
    for value in ("first", "last"):
        connection.putheader("X-Dup", value)
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", "3")
    connection.endheaders(b"\x00\x01\x02")
    event = json.loads(connection.getresponse().read())
    connection.close()
    assert event["headers"]["x-dup"] == "last"
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\x01\x02"


def test_target_errors_and_malformed_responses_are_502(alb: dict[str, Any]) -> None:
    assert call(f"{alb['url']}/boom")[0] == 502
    assert call(f"{alb['url']}/malformed")[0] == 502


def test_rules_by_path_and_method_with_weighted_forwards(aws: Callable[[str], Any], alb: dict[str, Any]) -> None:
    backends = [
        call(f"{alb['url']}/payments", "POST", b"{}", [("Content-Type", "application/json")])[1]["x-backend"]
        for _ in range(4)
    ]
    assert sorted(backends) == ["blue", "blue", "green", "green"]  # 1:1 weights, exact shares
    assert call(f"{alb['url']}/payments")[1]["x-backend"] == "blue"  # GET: the POST rule does not match

    aws("elbv2").modify_rule(
        RuleArn=alb["writes_rule"]["RuleArn"],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": alb["blue"]["arn"], "Weight": 0},
                        {"TargetGroupArn": alb["green"]["arn"], "Weight": 100},
                    ]
                },
            }
        ],
    )
    after_change = {call(f"{alb['url']}/payments", "POST", b"{}")[1]["x-backend"] for _ in range(3)}
    assert after_change == {"green"}  # the cutover's weight change applies to the next request


def test_redirects_point_at_the_local_listener(alb: dict[str, Any]) -> None:
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirected:
        opener.open(f"{alb['redirect_url']}/orders?x=1", timeout=30)
    assert redirected.value.code == 301
    assert redirected.value.headers["Location"] == f"{alb['url']}/v2/orders?x=1"


@pytest.fixture
def stand_in() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Legacy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            body = b"legacy says hi"
            self.send_response(200 if self.path != "/ping" else 204)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Legacy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_ip_targets_go_to_their_local_stand_in_never_to_the_real_address(
    alb: dict[str, Any], control: LocalAwsControl, stand_in: tuple[str, list[dict[str, str]]]
) -> None:
    control.map_ip_targets({})
    status, _, body = call(f"{alb['url']}/payments/legacy/1")
    assert status == 503 and b"no local stand-in for IP target 10.30.1.10:8080" in body

    address, seen = stand_in
    control.map_ip_targets({"10.30.1.10:8080": address})
    status, _, body = call(f"{alb['url']}/payments/legacy/1")
    assert (status, body) == (200, b"legacy says hi")
    assert seen[-1]["path"] == "/payments/legacy/1" and seen[-1]["x-forwarded-for"] == "127.0.0.1"

    with pytest.raises(urllib.error.HTTPError) as refused:
        control.map_ip_targets({"10.30.1.10:8080": "10.30.1.10:8080"})
    assert refused.value.code == 400


def test_health_checks_call_the_health_path(
    aws: Callable[[str], Any], alb: dict[str, Any], control: LocalAwsControl, stand_in: tuple[str, list[dict[str, str]]]
) -> None:
    address, seen = stand_in
    control.map_ip_targets({"10.30.1.10:8080": address})
    elbv2 = aws("elbv2")
    states = control.run_health_checks()
    assert states[alb["blue"]["arn"]] == {alb["blue"]["function_arn"]: "healthy"}
    assert states[alb["green"]["arn"]] == {alb["green"]["function_arn"]: "unhealthy"}
    assert states[alb["ip_group"]] == {"10.30.1.10": "unhealthy"}  # /ping answers 204; the matcher wants 200
    assert seen[-1]["path"] == "/ping" and seen[-1]["user-agent"] == "ELB-HealthChecker/2.0"

    def health(group: str) -> dict[str, Any]:
        return elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"][0]["TargetHealth"]

    assert health(alb["blue"]["arn"]) == {"State": "healthy"}
    assert health(alb["green"]["arn"])["State"] == "unhealthy"
    assert health(alb["green"]["arn"])["Reason"] == "Target.ResponseCodeMismatch"


def test_a_deleted_listener_stops_being_served(
    aws: Callable[[str], Any], network: dict[str, Any], emulator: Emulator, control: LocalAwsControl
) -> None:
    elbv2 = aws("elbv2")
    balancer_arn = elbv2.create_load_balancer(Name=unique("gone"), Subnets=network["subnet_ids"], Type="application")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    listener_arn = elbv2.create_listener(
        LoadBalancerArn=balancer_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "418", "MessageBody": "teapot"}}
        ],
    )["Listeners"][0]["ListenerArn"]
    [served] = [entry for entry in control.listeners() if entry["listener_arn"] == listener_arn]
    assert call(served["local_url"] + "/")[0:3:2] == (418, b"teapot")
    elbv2.delete_listener(ListenerArn=listener_arn)
    assert all(entry["listener_arn"] != listener_arn for entry in control.listeners())
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(served["local_url"] + "/", timeout=5)


def test_a_write_rule_moved_to_an_https_ip_target_outside_the_vpc_reaches_its_stand_in(
    aws: Callable[[str], Any],
    alb: dict[str, Any],
    network: dict[str, Any],
    control: LocalAwsControl,
    stand_in: tuple[str, list[dict[str, str]]],
) -> None:
    # The stack's legacy target group (docs/cutover.md): legacy's private address over the VPN, outside the VPC
    # (availability zone "all"), HTTPS 443; the cutover moves the write rule between it and a Lambda group.
    elbv2 = aws("elbv2")
    legacy = elbv2.create_target_group(
        Name=unique("legacy-tls"),
        TargetType="ip",
        Protocol="HTTPS",
        Port=443,
        VpcId=network["vpc_id"],
        HealthCheckProtocol="HTTPS",
        HealthCheckPath="/health",
    )["TargetGroups"][0]["TargetGroupArn"]
    target = {"Id": "192.168.50.10", "Port": 443, "AvailabilityZone": "all"}
    elbv2.register_targets(TargetGroupArn=legacy, Targets=[target])
    [health] = elbv2.describe_target_health(TargetGroupArn=legacy, Targets=[target])["TargetHealthDescriptions"]
    assert health["Target"]["Id"] == "192.168.50.10"
    listener_arn = elbv2.describe_listeners(
        LoadBalancerArn=elbv2.describe_load_balancers(Names=[alb["name"]])["LoadBalancers"][0]["LoadBalancerArn"]
    )["Listeners"]
    listener_arn = next(entry["ListenerArn"] for entry in listener_arn if entry["Port"] == 80)
    rule = elbv2.create_rule(
        ListenerArn=listener_arn,
        Priority=3,
        Conditions=[
            {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/cutover*"]}},
            {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET"]}},
        ],
        Actions=[{"Type": "forward", "TargetGroupArn": alb["blue"]["arn"]}],
    )["Rules"][0]["RuleArn"]
    assert call(f"{alb['url']}/cutover")[1]["x-backend"] == "blue"

    address, seen = stand_in
    control.map_ip_targets({"192.168.50.10:443": address})
    elbv2.modify_rule(RuleArn=rule, Actions=[{"Type": "forward", "TargetGroupArn": legacy}])
    status, _, body = call(f"{alb['url']}/cutover")
    assert (status, body) == (200, b"legacy says hi") and seen[-1]["path"] == "/cutover"
    elbv2.modify_rule(RuleArn=rule, Actions=[{"Type": "forward", "TargetGroupArn": alb["blue"]["arn"]}])
    assert call(f"{alb['url']}/cutover")[1]["x-backend"] == "blue"
    elbv2.delete_rule(RuleArn=rule)
    control.map_ip_targets({})
