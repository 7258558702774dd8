"""LoadBalancer alone: Lambda target, listeners that follow the certificate, WAF and the access-log bucket."""

import functools
import json

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.lb import Lb
from cdktf_cdktf_provider_aws.lb_listener import LbListener
from cdktf_cdktf_provider_aws.lb_trust_store import LbTrustStore
from cdktf_cdktf_provider_aws.wafv2_web_acl_logging_configuration import Wafv2WebAclLoggingConfiguration

from lib.constructs.load_balancer import WAF_MANAGED_RULE_GROUPS
from tests.unit.stacks import ACCOUNT_ID, declare_varying

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/abc"


LOAD_BALANCER_INPUTS: dict[str, dict] = {
    "http_public": {},
    "https_internal": {"certificate_arn": CERTIFICATE, "internal": True, "deletion_protection": True},
    "https_mutual_tls": {
        "certificate_arn": CERTIFICATE,
        "client_ca_bundle": ("payments-trust", "clients/ca-bundle.pem"),
    },
    "https_public": {"certificate_arn": CERTIFICATE},
    "with_legacy": {"legacy_write_ips": ("192.168.50.10", "100.64.7.1")},
}


def _inputs(**inputs):
    return {"waf_log_retention_days": 90, **inputs}


VARIANTS = declare_varying(
    "load_balancer", {variant: _inputs(**inputs) for variant, inputs in LOAD_BALANCER_INPUTS.items()}
)


@pytest.fixture(scope="module")
def variants(construct_variants):
    return construct_variants.views[VARIANTS]


@pytest.fixture(scope="module")
def refused(construct_variants):
    return functools.partial(construct_variants.refused, "load_balancer")


@pytest.fixture(scope="module")
def http_public(variants):
    return variants["http_public"]


@pytest.fixture(scope="module")
def https_internal(variants):
    return variants["https_internal"]


def _listeners(synthesized, built):
    return {
        synthesized.body(listener)["port"]: synthesized.body(listener) for listener in built.load_balancer.listeners
    }


def test_http_only_without_a_certificate(http_public):
    # seeds 000 #4, 001 #2, 002 #2: HTTPS listener with an empty certificate list.
    built, synthesized = http_public
    listeners = _listeners(synthesized, built)
    assert list(listeners) == [80] and listeners[80]["protocol"] == "HTTP"
    assert listeners[80]["default_action"] == [
        {"type": "forward", "target_group_arn": synthesized.ref(built.load_balancer.target_group.arn)}
    ]
    assert (built.load_balancer.https_enabled, built.load_balancer.scheme) == (False, "http")


def test_https_with_a_certificate_and_port_80_redirects(https_internal):
    built, synthesized = https_internal
    listeners = _listeners(synthesized, built)
    assert sorted(listeners) == [80, 443]
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        LbListener.TF_RESOURCE_TYPE,
        {
            "port": 443,
            "protocol": "HTTPS",
            "certificate_arn": CERTIFICATE,
            "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        },
    )
    assert listeners[80]["default_action"][0]["redirect"] == {
        "port": "443",
        "protocol": "HTTPS",
        "status_code": "HTTP_301",
    }
    assert (built.load_balancer.https_enabled, built.load_balancer.scheme) == (True, "https")


@pytest.fixture(scope="module")
def https_mutual_tls(variants):
    return variants["https_mutual_tls"]


def test_without_a_ca_bundle_there_is_no_trust_store_and_no_client_verification(https_internal):
    built, synthesized = https_internal
    assert built.load_balancer.trust_store is None
    assert synthesized.resources(LbTrustStore.TF_RESOURCE_TYPE) == {}
    assert "mutual_authentication" not in _listeners(synthesized, built)[443]


def test_a_ca_bundle_makes_a_trust_store_the_https_listener_verifies_against(https_mutual_tls):
    built, synthesized = https_mutual_tls
    store = synthesized.body(built.load_balancer.trust_store)
    assert (store["ca_certificates_bundle_s3_bucket"], store["ca_certificates_bundle_s3_key"]) == (
        "payments-trust",
        "clients/ca-bundle.pem",
    )
    assert store["name"] == "payments-test-mtls" and len(store["name"]) <= 32
    listeners = _listeners(synthesized, built)
    assert listeners[443]["mutual_authentication"] == {
        "mode": "verify",
        "trust_store_arn": synthesized.ref(built.load_balancer.trust_store.arn),
    }
    # The redirect on 80 verifies nothing: it only answers 301 to HTTPS, where verification happens.
    assert "mutual_authentication" not in listeners[80]


def test_a_ca_bundle_without_a_certificate_is_refused(refused):
    with pytest.raises(ValueError, match="mutual TLS runs on the HTTPS listener"):
        refused(**_inputs(client_ca_bundle=("payments-trust", "ca.pem")))


def test_public_alb_in_public_subnets_internal_in_private(http_public, https_internal):
    for (built, synthesized), internal, subnets in (
        (http_public, False, "public_subnet_ids"),
        (https_internal, True, "private_subnet_ids"),
    ):
        assert Testing.to_have_resource_with_properties(
            synthesized.text,
            Lb.TF_RESOURCE_TYPE,
            {
                "internal": internal,
                "subnets": synthesized.ref(getattr(built.network, subnets)),
                "security_groups": [synthesized.ref(built.security_groups.alb.id)],
            },
        )


def test_alb_is_hardened_and_protected_when_asked(http_public, https_internal):
    built, synthesized = http_public
    alb = synthesized.body(built.load_balancer.alb)
    assert alb["drop_invalid_header_fields"] is True and alb["desync_mitigation_mode"] == "strictest"
    assert alb["access_logs"] == {
        "bucket": synthesized.ref(built.load_balancer.access_logs.id),
        "prefix": "alb",
        "enabled": True,
    }
    assert len(alb["name"]) <= 32 and len(synthesized.body(built.load_balancer.target_group)["name"]) <= 32
    assert alb["enable_deletion_protection"] is False
    assert synthesized.body(built.load_balancer.access_logs)["force_destroy"] is True
    built, synthesized = https_internal
    assert synthesized.body(built.load_balancer.alb)["enable_deletion_protection"] is True
    assert synthesized.body(built.load_balancer.access_logs)["force_destroy"] is False


# What the provider ignores for a Lambda target group and warns about when set ("cannot be specified when
# target_type is lambda", an error in a later major version): the target's and the health check's port and protocol.
NOT_FOR_LAMBDA_TARGETS = {"port", "protocol", "protocol_version", "vpc_id"}
NOT_FOR_LAMBDA_HEALTH_CHECKS = {"port", "protocol"}


def test_lambda_target_group_has_no_port_or_protocol_and_checks_health(http_public):
    # seed 000 #3: "port/protocol should not be specified for Lambda targets".
    built, synthesized = http_public
    group = synthesized.body(built.load_balancer.target_group)
    assert group["target_type"] == "lambda" and not NOT_FOR_LAMBDA_TARGETS & group.keys()
    assert not NOT_FOR_LAMBDA_HEALTH_CHECKS & group["health_check"].keys()
    assert group["health_check"] == {
        "enabled": True,
        "path": "/health",
        "matcher": "200",
        "interval": 35,
        "timeout": 30,
        "healthy_threshold": 2,
        "unhealthy_threshold": 2,
    }


def test_the_alb_may_invoke_the_api_before_it_is_attached(http_public):
    built, synthesized = http_public
    permission = synthesized.one_of(built.load_balancer, "aws_lambda_permission")
    assert permission["principal"] == synthesized.principal_ref("elasticloadbalancing")
    assert permission["function_name"] == synthesized.ref(built.compute.payment_api.function.function_name)
    assert permission["source_arn"] == synthesized.ref(built.load_balancer.target_group.arn)
    attachment = synthesized.one("aws_lb_target_group_attachment")
    assert attachment["target_id"] == synthesized.ref(built.compute.payment_api.arn)
    assert any(dependency.startswith("aws_lambda_permission.") for dependency in attachment["depends_on"])


def test_access_log_bucket_is_private_versioned_expiring_and_written_only_by_the_alb(http_public):
    built, synthesized = http_public
    block = synthesized.one("aws_s3_bucket_public_access_block")
    assert all(
        block[flag] is True
        for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    assert synthesized.one("aws_s3_bucket_versioning")["versioning_configuration"]["status"] == "Enabled"
    [rule] = synthesized.one("aws_s3_bucket_lifecycle_configuration")["rule"]
    assert rule["status"] == "Enabled" and rule["expiration"] == [{"days": 365}]
    encryption = synthesized.one("aws_s3_bucket_server_side_encryption_configuration")["rule"][0]
    assert encryption["apply_server_side_encryption_by_default"]["sse_algorithm"] == "AES256"
    statements = {s["Sid"]: s for s in json.loads(synthesized.one("aws_s3_bucket_policy")["policy"])["Statement"]}
    assert statements["AlbWritesAccessLogs"]["Principal"]["AWS"].startswith("${data.aws_elb_service_account.")
    assert statements["LogDeliveryWritesAccessLogs"]["Principal"] == {
        "Service": synthesized.principal_ref("logdelivery.elasticloadbalancing")
    }
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"
    assert synthesized.one("aws_s3_bucket_notification")["eventbridge"] is True


def test_waf_protects_the_alb_with_managed_rules_rate_limit_and_logging(http_public):
    built, synthesized = http_public
    acl = synthesized.body(built.load_balancer.web_acl)
    groups = [
        rule["statement"]["managed_rule_group_statement"]["name"]
        for rule in acl["rule"]
        if "managed_rule_group_statement" in rule["statement"]
    ]
    assert groups == list(WAF_MANAGED_RULE_GROUPS)
    assert "AWSManagedRulesSQLiRuleSet" in groups and "AWSManagedRulesKnownBadInputsRuleSet" in groups
    assert any("rate_based_statement" in rule["statement"] for rule in acl["rule"])
    assert synthesized.one("aws_wafv2_web_acl_association")["resource_arn"] == synthesized.ref(
        built.load_balancer.alb.arn
    )
    waf_logs = next(group for group in synthesized.of(built.load_balancer, "aws_cloudwatch_log_group"))
    assert waf_logs["name"] == "aws-waf-logs-payments-test" and waf_logs["retention_in_days"] == 90
    assert waf_logs["kms_key_id"] == synthesized.ref(built.keys.logs_key.arn)
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        Wafv2WebAclLoggingConfiguration.TF_RESOURCE_TYPE,
        {"resource_arn": synthesized.ref(built.load_balancer.web_acl.arn)},
    )


def test_the_alb_is_created_after_its_access_log_bucket_policy(http_public, https_internal):
    # Issue 9 #3 / hashicorp/terraform-provider-aws#12010: ELB refuses the access-log setting intermittently
    # when the bucket policy does not exist yet.
    for built, synthesized in (http_public, https_internal):
        alb = synthesized.body(built.load_balancer.alb)
        assert alb["access_logs"]["enabled"] is True
        assert alb["depends_on"] == [synthesized.address(built.load_balancer.access_logs_policy)]
        assert synthesized.body(built.load_balancer.access_logs_policy)["bucket"] == synthesized.ref(
            built.load_balancer.access_logs.id
        )


def test_waf_logs_only_once_log_delivery_may_write_to_its_group(http_public):
    # Issue 9 #3: the log group's resource policy exists before logging is switched on, and names only this group.
    built, synthesized = http_public
    [policy] = synthesized.resources("aws_cloudwatch_log_resource_policy").values()
    [statement] = json.loads(policy["policy_document"])["Statement"]
    waf_logs = next(
        element
        for element in built.load_balancer.node.find_all()
        if getattr(element, "terraform_resource_type", None) == "aws_cloudwatch_log_group"
    )
    assert statement["Principal"] == {"Service": synthesized.principal_ref("delivery.logs")}
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == synthesized.ref(waf_logs.arn) + ":log-stream:*"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:*"},
    }
    logging = synthesized.one("aws_wafv2_web_acl_logging_configuration")
    [policy_address] = [
        f"aws_cloudwatch_log_resource_policy.{name}"
        for name in synthesized.resources("aws_cloudwatch_log_resource_policy")
    ]
    assert logging["depends_on"] == [policy_address]


def _write_rule(synthesized, built):
    return synthesized.body(built.load_balancer.write_rule)


@pytest.fixture(scope="module")
def https_public(variants):
    return variants["https_public"]


@pytest.mark.parametrize("balancer", ["http_public", "https_public"])  # without, then with a certificate
def test_without_legacy_the_write_rule_forwards_writes_to_the_api(request, balancer):
    # Issue 11: no legacy system, so Aurora is the writer from the start and there is no legacy target group.
    built, synthesized = request.getfixturevalue(balancer)
    rule = _write_rule(synthesized, built)
    serving = built.load_balancer.listeners[0]
    assert synthesized.body(serving)["default_action"][0]["type"] == "forward"
    assert (rule["listener_arn"], rule["priority"]) == (synthesized.ref(serving.arn), 10)
    assert rule["condition"] == [{"http_request_method": {"values": ["POST", "PUT", "PATCH", "DELETE"]}}]
    assert rule["action"] == [
        {"type": "forward", "target_group_arn": synthesized.ref(built.load_balancer.target_group.arn)}
    ]
    # The cutover owns the rule's target: a redeploy never moves writes back.
    assert rule["lifecycle"] == {"ignore_changes": ["action"]}
    assert built.load_balancer.legacy_target_group is None
    assert len(synthesized.resources("aws_lb_listener_rule")) == 1


def test_with_legacy_writes_go_to_its_private_addresses_first(variants):
    built, synthesized = variants["with_legacy"]
    legacy = built.load_balancer.legacy_target_group
    group = synthesized.body(legacy)
    assert (group["name"], group["target_type"], group["protocol"], group["port"]) == (
        "payments-test-legacy",
        "ip",
        "HTTPS",
        443,
    )
    assert group["vpc_id"] == synthesized.ref(built.network.vpc.id)
    assert (group["health_check"]["protocol"], group["health_check"]["path"]) == ("HTTPS", "/health")
    attachments = [
        a
        for a in synthesized.resources("aws_lb_target_group_attachment").values()
        if a["target_group_arn"] == synthesized.ref(legacy.arn)
    ]
    assert sorted((a["target_id"], a["port"], a["availability_zone"]) for a in attachments) == [
        ("100.64.7.1", 443, "all"),
        ("192.168.50.10", 443, "all"),
    ]
    assert _write_rule(synthesized, built)["action"] == [
        {"type": "forward", "target_group_arn": synthesized.ref(legacy.arn)}
    ]


@pytest.mark.parametrize("address", ["52.94.76.10", "8.8.8.8"])
def test_a_public_legacy_write_address_is_refused_at_synth(refused, address):
    # ALB IP targets outside the VPC must be RFC 1918 or RFC 6598 addresses (ELB docs, target type).
    with pytest.raises(ValueError, match=f"{address} are not private"):
        refused(**_inputs(legacy_write_ips=(address,)))
