"""What an Application Load Balancer listener does with a request: rules, conditions, actions.

Rules are evaluated in priority order, the default rule last; the first whose conditions all
match decides. Conditions: path-pattern, http-request-method, host-header, http-header,
query-string, source-ip. Actions: forward (one target group, or several by weight),
redirect, fixed-response.
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html
"""

from __future__ import annotations

import fnmatch
import ipaddress
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class IncomingRequest:
    method: str
    path: str
    query: str  # raw, still percent-encoded
    headers: tuple[tuple[str, str], ...]  # as received, in order
    body: bytes
    client_ip: str
    listener_port: int
    protocol: str  # "http" or "https"

    def header(self, name: str) -> str | None:
        """The last value of a header (the ALB passes one value per header to Lambda targets)."""
        found = None
        for key, value in self.headers:
            if key.lower() == name.lower():
                found = value
        return found

    @property
    def host(self) -> str:
        return (self.header("host") or "").split(":")[0]


def _pattern_match(patterns: list[str], value: str, *, case_sensitive: bool) -> bool:
    """ALB wildcards: * any characters, ? one character."""
    if not case_sensitive:
        value = value.lower()
        patterns = [pattern.lower() for pattern in patterns]
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def _values(condition: dict[str, Any], config: str) -> list[str]:
    return list((condition.get(config) or {}).get("Values") or condition.get("Values") or [])


def condition_matches(condition: dict[str, Any], request: IncomingRequest) -> bool:
    field = condition.get("Field")
    if field == "path-pattern":
        return _pattern_match(_values(condition, "PathPatternConfig"), request.path, case_sensitive=True)
    if field == "http-request-method":
        return request.method in _values(condition, "HttpRequestMethodConfig")
    if field == "host-header":
        return _pattern_match(_values(condition, "HostHeaderConfig"), request.host, case_sensitive=False)
    if field == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        value = request.header(config.get("HttpHeaderName", ""))
        return value is not None and _pattern_match(list(config.get("Values") or []), value, case_sensitive=False)
    if field == "query-string":
        pairs = parse_qsl(request.query, keep_blank_values=True)
        wanted = (condition.get("QueryStringConfig") or {}).get("Values") or []
        return any(
            any(
                (want.get("Key") is None or fnmatch.fnmatchcase(key.lower(), want["Key"].lower()))
                and fnmatch.fnmatchcase(value.lower(), want.get("Value", "").lower())
                for key, value in pairs
            )
            for want in wanted
        )
    if field == "source-ip":
        networks = _values(condition, "SourceIpConfig")
        address = ipaddress.ip_address(request.client_ip)
        return any(address in ipaddress.ip_network(network, strict=False) for network in networks)
    raise ValueError(f"rule condition {field!r} is not supported by the local load balancer")


def rule_order(rule: Any) -> tuple[int, int]:
    return (1, 0) if rule.is_default or rule.priority == "default" else (0, int(rule.priority))


def matching_actions(listener: Any, request: IncomingRequest) -> list[Any]:
    """The actions of the first rule (by priority, default last) whose conditions all match."""
    for rule in sorted(listener.rules.values(), key=rule_order):
        if all(condition_matches(condition, request) for condition in rule.conditions or []):
            return sorted(rule.actions, key=lambda action: int(action.data.get("Order", 0) or 0))
    return []


class WeightedChoice:
    """Smooth weighted round-robin over target groups: exact shares, no randomness (see docs)."""

    def __init__(self) -> None:
        self._current: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def choose(self, key: str, weighted: list[tuple[str, int]]) -> str | None:
        total = sum(weight for _, weight in weighted)
        if total <= 0:
            return None
        with self._lock:
            best, best_score = weighted[0][0], float("-inf")
            for arn, weight in weighted:
                score = self._current.get((key, arn), 0.0) + weight
                self._current[(key, arn)] = score
                if score > best_score:
                    best, best_score = arn, score
            self._current[(key, best)] -= total
            return best


def forward_target_group(action: Any, choice: WeightedChoice, key: str) -> str | None:
    """The target group ARN a forward action sends this request to."""
    groups = (action.data.get("ForwardConfig") or {}).get("TargetGroups")
    if groups:
        return choice.choose(key, [(group["TargetGroupArn"], int(group.get("Weight", 1))) for group in groups])
    return action.data.get("TargetGroupArn")


DEFAULT_PORTS = {"http": "80", "https": "443"}


def redirect_location(config: dict[str, Any], request: IncomingRequest) -> tuple[str, str, str, str, str]:
    """(protocol, host, port, path, query) of a redirect, with #{...} placeholders filled in."""
    original = {
        "protocol": request.protocol,
        "host": request.host,
        "port": str(request.listener_port),
        "path": request.path.lstrip("/"),
        "query": request.query,
    }

    def fill(template: str) -> str:
        for name, value in original.items():
            template = template.replace("#{" + name + "}", value)
        return template

    protocol = fill(config.get("Protocol") or "#{protocol}").lower()
    host = fill(config.get("Host") or "#{host}")
    port = fill(config.get("Port") or "#{port}")
    path = fill(config.get("Path") or "/#{path}")
    query = fill(config.get("Query") or "#{query}")
    return protocol, host, port, path if path.startswith("/") else "/" + path, query


def format_location(protocol: str, host: str, port: str, path: str, query: str) -> str:
    authority = host if DEFAULT_PORTS.get(protocol) == port else f"{host}:{port}"
    return f"{protocol}://{authority}{path}" + (f"?{query}" if query else "")
