"""Terraform against the emulator's trust store patches (tools/local_aws/elbv2/trust_stores.py):
aws_lb_trust_store and an HTTPS aws_lb_listener with mutual_authentication apply, a plan afterwards
shows no changes, and destroy removes them (the provider waits for the store's associations to go).

`make e2e` deploys in header mode, so the stack's own no-change plan never holds a trust store: this
checks one in a Terraform configuration of its own, in the same emulator, in the deployed VPC. It runs
here rather than in tests/emulator because the provider waits about 30 s for a new trust store and
longer for a new load balancer (made with boto3 here for that reason)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.certificates import TestCertificateAuthority
from tools import terraform
from tools.local_aws.common import EMULATOR_CREDENTIALS, endpoint

PROVIDER_CONSTRAINT = "~> 5.99"


def configuration(url: str, region: str, *, load_balancer: str, bucket: str, certificate: str, name: str) -> dict:
    endpoints = {service: url for service in ("elbv2", "s3", "sts", "acm", "ec2", "iam")}
    return {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": PROVIDER_CONSTRAINT}}},
        "provider": {
            "aws": [
                {
                    "region": region,
                    "endpoints": [endpoints],
                    "skip_credentials_validation": True,
                    "skip_metadata_api_check": "true",
                    "skip_requesting_account_id": False,
                    "s3_use_path_style": True,
                }
            ]
        },
        "resource": {
            "aws_lb_trust_store": {
                "merchants": {
                    "name": name,
                    "ca_certificates_bundle_s3_bucket": bucket,
                    "ca_certificates_bundle_s3_key": "ca.pem",
                    "tags": {"Name": name},
                }
            },
            "aws_lb_listener": {
                "https": {
                    "load_balancer_arn": load_balancer,
                    "port": 443,
                    "protocol": "HTTPS",
                    "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                    "certificate_arn": certificate,
                    "default_action": [
                        {
                            "type": "fixed-response",
                            "fixed_response": [
                                {"content_type": "text/plain", "message_body": "ok", "status_code": "200"}
                            ],
                        }
                    ],
                    "mutual_authentication": [
                        {"mode": "verify", "trust_store_arn": "${aws_lb_trust_store.merchants.arn}"}
                    ],
                }
            },
        },
    }


def run(folder: Path, *args: str) -> Any:
    return terraform.run(folder, list(args), extra_env=dict(EMULATOR_CREDENTIALS), capture=True)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory, settings: Any, outputs: dict, aws: Callable[[str], Any]) -> Any:
    if settings.target != "local":
        pytest.skip("creates its own trust store and listener in the local emulator only")
    folder = tmp_path_factory.mktemp("trust-store-terraform")
    name = f"tstf-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=name)
    aws("s3").put_object(Bucket=name, Key="ca.pem", Body=TestCertificateAuthority().pem)
    certificate = aws("acm").request_certificate(DomainName="api.payments.test")["CertificateArn"]
    load_balancer = aws("elbv2").create_load_balancer(
        Name=name, Subnets=outputs["public_subnet_ids"], Type="application"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    (folder / "main.tf.json").write_text(
        json.dumps(
            configuration(
                endpoint(settings.local_aws_port),
                settings.aws_region,
                load_balancer=load_balancer,
                bucket=name,
                certificate=certificate,
                name=name,
            )
        )
    )
    try:
        for step in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
            result = run(folder, *step)
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        yield folder
        destroyed = run(folder, "destroy", "-auto-approve", "-input=false", "-no-color")
        assert destroyed.returncode == 0, destroyed.stdout[-3000:] + destroyed.stderr[-3000:]
        assert name not in [store["Name"] for store in aws("elbv2").describe_trust_stores()["TrustStores"]]
    finally:
        aws("elbv2").delete_load_balancer(LoadBalancerArn=load_balancer)
        aws("acm").delete_certificate(CertificateArn=certificate)
        aws("s3").delete_object(Bucket=name, Key="ca.pem")
        aws("s3").delete_bucket(Bucket=name)


def test_a_plan_after_apply_shows_no_changes(applied: Path) -> None:
    result = run(applied, "plan", "-detailed-exitcode", "-input=false", "-no-color")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "No changes." in result.stdout


def test_the_state_holds_the_verifying_listener(applied: Path) -> None:
    state = json.loads((applied / "terraform.tfstate").read_text())
    resources = {f"{r['type']}.{r['name']}": r["instances"][0]["attributes"] for r in state["resources"]}
    listener, store = resources["aws_lb_listener.https"], resources["aws_lb_trust_store.merchants"]
    [mutual] = listener["mutual_authentication"]
    assert (mutual["mode"], mutual["trust_store_arn"]) == ("verify", store["arn"])
    assert ":truststore/" in store["arn"]
