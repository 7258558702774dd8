"""Deploy-readiness rules over a synthesized stack (cdk.tf.json): what a real account refuses but the emulator
and checkov's built-in checks let through (issue 9). `tools/checkov_checks/` runs them inside checkov as the
CKV_TAP_* checks of `make scan`; they are plain functions of the JSON so the tests call them directly.

Each rule looks at one resource, reading the rest of the document where the rule spans resources, and
returns None when the resource passes or one line saying why it fails. Standard library and lib/config.py
only (checkov's own virtualenv runs them). No rule reads the wall clock: versions are judged by the release
tables as read on their documented day (lib/config.py), never by today's date.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lib.address_space import legacy_address_is_private
from lib.config import (
    AURORA_POSTGRES_VERSIONS,
    DMS_ENGINE_VERSIONS,
    unroutable_reason,
)

Document = dict[str, Any]
Rule = Callable[[Document, str, str], "str | None"]

REFERENCE = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}$")
# Services that publish to an SNS topic, by the resource that makes them publish and where it names the topic.
TOPIC_PUBLISHERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws_cloudwatch_metric_alarm": ("cloudwatch", ("alarm_actions", "ok_actions", "insufficient_data_actions")),
    "aws_dms_event_subscription": ("dms", ("sns_topic_arn",)),
    "aws_cloudwatch_event_target": ("events", ("arn",)),
    "aws_db_event_subscription": ("events.rds", ("sns_topic_arn",)),
}
# What a publisher needs on the key of an encrypted topic
# (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
PUBLISHER_KEY_ACTIONS = ("kms:GenerateDataKey*", "kms:Decrypt")


@dataclass(frozen=True)
class Check:
    id: str
    name: str
    resource_types: tuple[str, ...]
    rule: Rule


def resources(document: Document, resource_type: str) -> dict[str, dict]:
    return document.get("resource", {}).get(resource_type, {})


def reference(value: Any) -> tuple[str, str, str] | None:
    """`${type.name.attribute}` -> (type, name, attribute); anything else -> None."""
    match = REFERENCE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    resource_type, name, attribute = match.groups()
    return resource_type, name, attribute


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# --- CKV_TAP_1: engine versions from the release tables --------------------------------------


def engine_version_in_table(document: Document, resource_type: str, name: str) -> str | None:
    body = resources(document, resource_type)[name]
    version = body.get("engine_version")
    if resource_type == "aws_dms_replication_instance":
        allowed = DMS_ENGINE_VERSIONS
    elif str(body.get("engine", "")).startswith("${aws_rds_cluster."):
        return None  # an instance takes its cluster's engine and version, which this rule checks there
    elif body.get("engine") == "aurora-postgresql":
        allowed = AURORA_POSTGRES_VERSIONS
    else:
        return None
    referenced = reference(version)
    if referenced and referenced[0] == "aws_rds_cluster" and referenced[2] == "engine_version":
        return None
    if version not in allowed:
        return (
            f"engine_version {version!r} is not one the release tables allow for new instances ({', '.join(allowed)})"
        )
    return None


# --- CKV_TAP_2: ALB access logs after the bucket policy ----------------------------------------


def access_logs_after_bucket_policy(document: Document, resource_type: str, name: str) -> str | None:
    body = resources(document, resource_type)[name]
    logs = body.get("access_logs") or {}
    logs = logs[0] if isinstance(logs, list) and logs else logs
    if not logs or not logs.get("enabled"):
        return None
    bucket = reference(logs.get("bucket"))
    policies = [
        address.split(".", 1)[1]
        for address in body.get("depends_on", [])
        if address.startswith("aws_s3_bucket_policy.")
    ]
    for policy_name in policies:
        policy_bucket = reference(resources(document, "aws_s3_bucket_policy").get(policy_name, {}).get("bucket"))
        if bucket is None or (policy_bucket and policy_bucket[:2] == bucket[:2]):
            return None
    return (
        "access logs are on, but the load balancer does not depend on its log bucket's aws_s3_bucket_policy: "
        "ELB refuses the setting while the policy does not exist yet (hashicorp/terraform-provider-aws#12010)"
    )


# --- CKV_TAP_3: health checks only of addresses Route53 can reach -----------------------------------


def health_check_address_is_public(document: Document, resource_type: str, name: str) -> str | None:
    address_text = resources(document, resource_type)[name].get("ip_address")
    if not address_text or reference(address_text) or "${" in str(address_text):
        return None
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        return f"ip_address {address_text!r} is not an IP address"
    if address.version == 4 and legacy_address_is_private(address):
        return (
            f"ip_address {address} is private (RFC 1918): Route53's health checkers are on the internet and "
            "never reach it; private legacy addresses get no health check"
        )
    reason = unroutable_reason(address) if address.version == 4 else (None if address.is_global else "not global")
    if reason:
        return f"ip_address {address} is {reason}: Route53's health checkers cannot reach it"
    return None


# --- CKV_TAP_4: every publisher of an encrypted topic is on its key ----------------------------------


def _service_of(document: Document, principal: str) -> str:
    """`${data.aws_service_principal.x.name}` -> its service_name; `dms.amazonaws.com` -> `dms`."""
    match = re.match(r"^\$\{data\.aws_service_principal\.([A-Za-z0-9_-]+)\.(name|id)\}$", principal)
    if match:
        return (
            document.get("data", {})
            .get("aws_service_principal", {})
            .get(match.group(1), {})
            .get("service_name", principal)
        )
    return re.sub(r"(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$", "", principal)


def _key_services(document: Document, key_name: str) -> set[str]:
    """Services a key policy lets generate and decrypt data keys (for SNS publishing)."""
    text = resources(document, "aws_kms_key").get(key_name, {}).get("policy")
    try:
        statements = json.loads(text)["Statement"] if isinstance(text, str) else []
    except (ValueError, KeyError, TypeError):
        return set()
    services: set[str] = set()
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = set(_strings(statement.get("Action")))
        if statement.get("Effect") != "Allow" or not all(
            action in actions or "kms:*" in actions for action in PUBLISHER_KEY_ACTIONS
        ):
            continue
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            services.update(_service_of(document, value) for value in _strings(principal.get("Service")))
    return services


def _publishers(document: Document, topic_name: str) -> set[str]:
    topic_refs = {f"${{aws_sns_topic.{topic_name}.{attribute}}}" for attribute in ("arn", "id")}
    found = set()
    for resource_type, (service, fields) in TOPIC_PUBLISHERS.items():
        for body in resources(document, resource_type).values():
            if any(value in topic_refs for field in fields for value in _strings(body.get(field))):
                found.add(service)
    return found


def publishers_on_the_topic_key(document: Document, resource_type: str, name: str) -> str | None:
    key = reference(resources(document, resource_type)[name].get("kms_master_key_id"))
    if not key or key[0] != "aws_kms_key":
        return None  # unencrypted, or an AWS managed / external key this stack does not write the policy of
    missing = sorted(_publishers(document, name) - _key_services(document, key[1]))
    if missing:
        return (
            f"{', '.join(missing)} publish{'es' if len(missing) == 1 else ''} to this topic, but the policy of "
            f"its key aws_kms_key.{key[1]} does not let {'it' if len(missing) == 1 else 'them'} use the key "
            f"({' and '.join(PUBLISHER_KEY_ACTIONS)}): SNS drops the messages"
        )
    return None


# --- CKV_TAP_5: log groups services create themselves are the stack's, created first -----------------


def _service_log_groups(body: dict, resource_type: str) -> list[str]:
    if resource_type == "aws_rds_cluster":
        return [
            f"/aws/rds/cluster/{body.get('cluster_identifier')}/{log}"
            for log in body.get("enabled_cloudwatch_logs_exports", [])
        ]
    if resource_type == "aws_dms_replication_instance":
        return [f"dms-tasks-{body.get('replication_instance_id')}"]
    if resource_type == "aws_lambda_function":
        return [f"/aws/lambda/{body.get('function_name')}"]
    return []


def service_log_groups_precreated(document: Document, resource_type: str, name: str) -> str | None:
    body = resources(document, resource_type)[name]
    groups = {
        group.get("name"): f"aws_cloudwatch_log_group.{group_name}"
        for group_name, group in resources(document, "aws_cloudwatch_log_group").items()
    }
    by_name = resources(document, "aws_cloudwatch_log_group")
    dependencies = set(body.get("depends_on", []))
    for wanted in _service_log_groups(body, resource_type):
        address = groups.get(wanted)
        if address is None:
            return (
                f"the service creates log group {wanted} itself (no retention, no key): the stack must create it first"
            )
        group = by_name[address.split(".", 1)[1]]
        if not group.get("retention_in_days") or not group.get("kms_key_id"):
            return f"log group {wanted} needs retention_in_days and kms_key_id"
        if address not in dependencies:
            return f"{resource_type}.{name} must depend on {address}, or the service may create {wanted} first"
    return None


CHECKS = (
    Check(
        "CKV_TAP_1",
        "Engine versions are ones the release tables allow for new instances (lib/config.py)",
        ("aws_rds_cluster", "aws_rds_cluster_instance", "aws_dms_replication_instance"),
        engine_version_in_table,
    ),
    Check(
        "CKV_TAP_2",
        "An ALB with access logs is created after its log bucket's policy (provider #12010)",
        ("aws_lb",),
        access_logs_after_bucket_policy,
    ),
    Check(
        "CKV_TAP_3",
        "Route53 health checks only check addresses reachable from the internet",
        ("aws_route53_health_check",),
        health_check_address_is_public,
    ),
    Check(
        "CKV_TAP_4",
        "Every service that publishes to a CMK-encrypted SNS topic may use the key",
        ("aws_sns_topic",),
        publishers_on_the_topic_key,
    ),
    Check(
        "CKV_TAP_5",
        "Log groups services would create themselves are created first, with retention and a key",
        ("aws_rds_cluster", "aws_dms_replication_instance", "aws_lambda_function"),
        service_log_groups_precreated,
    ),
)


def findings(document: Document) -> list[tuple[str, str, str]]:
    """(check id, `type.name`, reason) of every failing resource of the document."""
    found = []
    for check in CHECKS:
        for resource_type in check.resource_types:
            for name in sorted(resources(document, resource_type)):
                reason = check.rule(document, resource_type, name)
                if reason:
                    found.append((check.id, f"{resource_type}.{name}", reason))
    return found
