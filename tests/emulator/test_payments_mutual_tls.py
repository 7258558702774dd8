"""The real path of a mutual-TLS deployment, on the emulator: the stack's own packages of schema_migrations
and payment_api (CLIENT_IDENTITY=mtls) behind an HTTPS listener that verifies client certificates.
The merchant is the CN of the certificate the load balancer verified; a header saying otherwise
counts for nothing."""

from __future__ import annotations

import http.client
import json
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lib import migrations
from lib.packaging import zip_bytes
from tests.emulator.certificates import ClientCertificate, TestCertificateAuthority, client_context
from tests.emulator.harness import LAMBDA_TRUST, unique
from tests.emulator.test_rdsdata import create_cluster
from tools.local_aws.client import LocalAwsControl

LAMBDA_SOURCES = Path(__file__).resolve().parents[2] / "lib" / "lambda"


def deploy_function(aws: Callable[[str], Any], source: str, environment: dict[str, str], timeout: int) -> str:
    """lib/lambda/<source> zipped as the stack zips it, deployed as a python3.12 function; returns its ARN."""
    role = aws("iam").create_role(RoleName=unique(source[:20]), AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))[
        "Role"
    ]["Arn"]
    return aws("lambda").create_function(
        FunctionName=unique(source.replace("_", "-")),
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zip_bytes(LAMBDA_SOURCES / source)},
        Timeout=timeout,
        Environment={"Variables": environment},
    )["FunctionArn"]


@pytest.fixture(scope="module")
def client_ca() -> TestCertificateAuthority:
    return TestCertificateAuthority("Payments Merchant CA")


@pytest.fixture(scope="module")
def deployment(
    aws: Callable[[str], Any], network: dict[str, Any], control: LocalAwsControl, client_ca: TestCertificateAuthority
) -> dict[str, Any]:
    cluster = create_cluster(aws, network)
    [described] = aws("rds").describe_db_clusters(DBClusterIdentifier=cluster["identifier"])["DBClusters"]
    app_secret = aws("secretsmanager").create_secret(Name=unique("payment-api-login"))["ARN"]  # empty
    cutover_secret = aws("secretsmanager").create_secret(Name=unique("cutover-login"))["ARN"]  # empty
    migration = deploy_function(
        aws,
        "schema_migrations",
        {
            "DB_CLUSTER_ARN": cluster["arn"],
            "DB_NAME": "payments",
            "MASTER_SECRET_ARN": cluster["secret"],
            "APP_SECRET_ARN": app_secret,
            "CUTOVER_SECRET_ARN": cutover_secret,
            "CUTOVER_LOGIN": f"{cluster['identifier'].replace('-', '_')}_cutover",  # roles are server-wide
            "CUTOVER_TABLES": "public.payments",
            "DB_HOST": described["Endpoint"],
            "DB_PORT": str(described["Port"]),
        },
        300,
    )
    invoked = aws("lambda").invoke(
        FunctionName=migration, Payload=json.dumps({"migrations_sha256": migrations.digest()}).encode()
    )
    migrated = json.loads(invoked["Payload"].read())
    assert "FunctionError" not in invoked and migrated["ok"] is True, migrated
    api = deploy_function(
        aws,
        "payment_api",
        {
            "DB_CLUSTER_ARN": cluster["arn"],
            "DB_SECRET_ARN": app_secret,
            "DB_NAME": "payments",
            "CLIENT_IDENTITY": "mtls",
        },
        15,
    )

    bucket = unique("merchant-ca")
    aws("s3").create_bucket(Bucket=bucket)
    aws("s3").put_object(Bucket=bucket, Key="ca.pem", Body=client_ca.pem)
    elbv2 = aws("elbv2")
    store = elbv2.create_trust_store(
        Name=unique("merchants"), CaCertificatesBundleS3Bucket=bucket, CaCertificatesBundleS3Key="ca.pem"
    )["TrustStores"][0]["TrustStoreArn"]
    balancer = elbv2.create_load_balancer(Name=unique("payments"), Subnets=network["subnet_ids"], Type="application")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    group = elbv2.create_target_group(Name=unique("api"), TargetType="lambda")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": api}])
    certificate = aws("acm").request_certificate(DomainName="api.payments.test")["CertificateArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        MutualAuthentication={"Mode": "verify", "TrustStoreArn": store},
    )["Listeners"][0]["ListenerArn"]
    [served] = [entry for entry in control.listeners() if entry["listener_arn"] == listener]
    return {"url": served["local_url"], "server_ca": control.tls_certificate_authority(), "migrated": migrated}


def call(
    deployment: dict[str, Any],
    client: ClientCertificate,
    method: str,
    path: str,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    url = urllib.parse.urlsplit(deployment["url"])
    connection = http.client.HTTPSConnection(
        url.hostname, url.port, timeout=60, context=client_context(deployment["server_ca"], client)
    )
    try:
        connection.request(
            method,
            path,
            body=json.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def pay(
    deployment: dict[str, Any], client: ClientCertificate, merchant: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    return call(
        deployment,
        client,
        "POST",
        "/payments",
        {"amount": "19.99", "currency": "EUR", "merchant_id": merchant},
        {"Idempotency-Key": uuid.uuid4().hex, **(headers or {})},
    )


def test_the_migration_function_applied_every_migration(deployment: dict[str, Any]) -> None:
    assert deployment["migrated"]["applied"] == [migration["name"] for migration in migrations.migrations()]
    assert deployment["migrated"]["migrations_sha256"] == migrations.digest()


def test_the_merchant_is_the_certificate_cn(deployment: dict[str, Any], client_ca: TestCertificateAuthority) -> None:
    merchant = client_ca.issue("m-tls-1")
    status, created = pay(deployment, merchant, "m-tls-1")
    assert status == 201 and created["merchant_id"] == "m-tls-1"
    assert call(deployment, merchant, "GET", f"/payments/{created['id']}") == (200, created)


def test_another_merchants_certificate_gets_404(
    deployment: dict[str, Any], client_ca: TestCertificateAuthority
) -> None:
    status, created = pay(deployment, client_ca.issue("m-tls-2"), "m-tls-2")
    assert status == 201
    status, answer = call(deployment, client_ca.issue("m-tls-3"), "GET", f"/payments/{created['id']}")
    assert status == 404 and "id" not in answer


def test_a_header_cannot_claim_another_merchant(
    deployment: dict[str, Any], client_ca: TestCertificateAuthority
) -> None:
    status, answer = pay(
        deployment,
        client_ca.issue("m-tls-4"),
        "m-tls-5",
        {"X-Merchant-Id": "m-tls-5", "X-Amzn-Mtls-Clientcert-Subject": "CN=m-tls-5"},
    )
    assert status == 403, answer
