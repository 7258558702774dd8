"""ELBv2 trust stores and mutual TLS (tools/local_aws/elbv2/trust_stores.py, tls.py): the trust store API,
MutualAuthentication on listeners, and a `verify` listener served over TLS that refuses clients
without a certificate from the trust store and hands the certificate to the target in the ALB's headers."""

from __future__ import annotations

import datetime
import http.client
import json
import re
import ssl
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.emulator.certificates import TestCertificateAuthority, client_context
from tests.emulator.harness import deploy_probe, unique
from tools.local_aws.client import LocalAwsControl

BUNDLE_KEY = "clients/ca-bundle.pem"


@pytest.fixture(scope="module")
def client_ca() -> TestCertificateAuthority:
    return TestCertificateAuthority()


@pytest.fixture(scope="module")
def server_certificate(aws: Callable[[str], Any]) -> str:
    """The listener's own certificate (ACM): the emulator serves TLS with a certificate of its CA instead."""
    return aws("acm").request_certificate(DomainName="api.payments.test")["CertificateArn"]


@pytest.fixture(scope="module")
def bundle(aws: Callable[[str], Any], client_ca: TestCertificateAuthority) -> dict[str, str]:
    bucket = unique("trust")
    aws("s3").create_bucket(Bucket=bucket)
    aws("s3").put_object(Bucket=bucket, Key=BUNDLE_KEY, Body=client_ca.pem)
    return {"CaCertificatesBundleS3Bucket": bucket, "CaCertificatesBundleS3Key": BUNDLE_KEY}


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"]


def test_a_trust_store_is_made_from_the_bundle_in_s3(aws: Callable[[str], Any], bundle: dict[str, str]) -> None:
    elbv2 = aws("elbv2")
    name = unique("ts")
    [store] = elbv2.create_trust_store(Name=name, Tags=[{"Key": "Name", "Value": name}], **bundle)["TrustStores"]
    assert re.fullmatch(
        rf"arn:aws:elasticloadbalancing:us-east-1:\d{{12}}:truststore/{name}/[0-9a-f]{{16}}", store["TrustStoreArn"]
    )
    assert (store["Name"], store["Status"], store["NumberOfCaCertificates"], store["TotalRevokedEntries"]) == (
        name,
        "ACTIVE",
        1,
        0,
    )
    assert elbv2.describe_trust_stores(TrustStoreArns=[store["TrustStoreArn"]])["TrustStores"] == [store]
    assert elbv2.describe_trust_stores(Names=[name])["TrustStores"] == [store]
    [tags] = elbv2.describe_tags(ResourceArns=[store["TrustStoreArn"]])["TagDescriptions"]
    assert tags["Tags"] == [{"Key": "Name", "Value": name}]
    assert elbv2.describe_trust_store_associations(TrustStoreArn=store["TrustStoreArn"])["TrustStoreAssociations"] == []
    elbv2.delete_trust_store(TrustStoreArn=store["TrustStoreArn"])
    assert (
        error_code(lambda: elbv2.describe_trust_stores(TrustStoreArns=[store["TrustStoreArn"]])) == "TrustStoreNotFound"
    )


def test_a_trust_store_refuses_a_missing_or_malformed_bundle_and_a_taken_name(
    aws: Callable[[str], Any], bundle: dict[str, str]
) -> None:
    elbv2 = aws("elbv2")
    bucket = bundle["CaCertificatesBundleS3Bucket"]
    aws("s3").put_object(Bucket=bucket, Key="not-a-bundle.pem", Body=b"-----BEGIN CERTIFICATE-----\nAAAA\n")
    assert (
        error_code(
            lambda: elbv2.create_trust_store(
                Name=unique("ts"), CaCertificatesBundleS3Bucket=bucket, CaCertificatesBundleS3Key="missing.pem"
            )
        )
        == "CaCertificatesBundleNotFound"
    )
    assert (
        error_code(
            lambda: elbv2.create_trust_store(
                Name=unique("ts"), CaCertificatesBundleS3Bucket=bucket, CaCertificatesBundleS3Key="not-a-bundle.pem"
            )
        )
        == "InvalidCaCertificatesBundle"
    )
    name = unique("ts")
    elbv2.create_trust_store(Name=name, **bundle)
    assert error_code(lambda: elbv2.create_trust_store(Name=name, **bundle)) == "DuplicateTrustStoreName"


@pytest.fixture(scope="module")
def verified(
    aws: Callable[[str], Any],
    network: dict[str, Any],
    bundle: dict[str, str],
    server_certificate: str,
    control: LocalAwsControl,
) -> dict[str, Any]:
    """An ALB whose HTTPS listener verifies client certificates, forwarding to the echoing probe."""
    elbv2 = aws("elbv2")
    store = elbv2.create_trust_store(Name=unique("ts"), **bundle)["TrustStores"][0]["TrustStoreArn"]
    balancer = elbv2.create_load_balancer(Name=unique("mtls"), Subnets=network["subnet_ids"], Type="application")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    function = deploy_probe(aws, handler="alb.handler", environment={"BACKEND": "verified"})
    function_arn = aws("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    group = elbv2.create_target_group(Name=unique("mtls"), TargetType="lambda")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": function_arn}])
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": server_certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        MutualAuthentication={"Mode": "verify", "TrustStoreArn": store},
    )["Listeners"][0]
    [served] = [entry for entry in control.listeners() if entry["listener_arn"] == listener["ListenerArn"]]
    return {
        "store": store,
        "balancer": balancer,
        "listener": listener,
        "served": served,
        "server_ca": control.tls_certificate_authority(),
    }


def request(
    verified: dict[str, Any], client: Any, path: str = "/whoami", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    url = urllib.parse.urlsplit(verified["served"]["local_url"])
    connection = http.client.HTTPSConnection(
        url.hostname, url.port, timeout=30, context=client_context(verified["server_ca"], client)
    )
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def refused(verified: dict[str, Any], client: Any) -> bool:
    """True when the load balancer refuses the connection in the TLS handshake (TLS 1.3 reports the
    client certificate's rejection at the client's first read)."""
    try:
        request(verified, client)
    except (ssl.SSLError, ConnectionError, http.client.RemoteDisconnected):
        return True
    return False


def test_the_listener_reports_its_mutual_authentication(aws: Callable[[str], Any], verified: dict[str, Any]) -> None:
    expected = {
        "Mode": "verify",
        "TrustStoreArn": verified["store"],
        "IgnoreClientCertificateExpiry": False,
        "TrustStoreAssociationStatus": "active",
        "AdvertiseTrustStoreCaNames": "off",
    }
    assert verified["listener"]["MutualAuthentication"] == expected
    [described] = aws("elbv2").describe_listeners(ListenerArns=[verified["listener"]["ListenerArn"]])["Listeners"]
    assert described["MutualAuthentication"] == expected
    assert verified["served"]["local_url"].startswith("https://127.0.0.1:")
    assert verified["served"]["verifies_client_certificates"] is True


def test_a_certificate_from_the_trust_store_reaches_the_target_in_the_alb_headers(
    verified: dict[str, Any], client_ca: TestCertificateAuthority
) -> None:
    client = client_ca.issue("merchant-42")
    status, event = request(verified, client, headers={"X-Amzn-Mtls-Clientcert-Subject": "CN=someone-else"})
    assert status == 200
    headers = event["headers"]
    assert headers["x-amzn-mtls-clientcert-subject"] == "CN=merchant-42,O=Merchants"
    assert headers["x-amzn-mtls-clientcert-issuer"] == "CN=Payments Test Client CA,O=Payments Test"
    assert int(headers["x-amzn-mtls-clientcert-serial-number"], 16) == client.certificate.serial_number
    moment = "%Y-%m-%dT%H:%M:%SZ"
    assert headers["x-amzn-mtls-clientcert-validity"] == (
        f"NotBefore={client.certificate.not_valid_before_utc.strftime(moment)};"
        f"NotAfter={client.certificate.not_valid_after_utc.strftime(moment)}"
    )
    assert urllib.parse.unquote(headers["x-amzn-mtls-clientcert-leaf"]).encode() == client.pem


def test_a_client_without_a_certificate_is_refused_in_the_handshake(verified: dict[str, Any]) -> None:
    assert refused(verified, None)


def test_a_certificate_from_another_ca_is_refused(verified: dict[str, Any]) -> None:
    assert refused(verified, TestCertificateAuthority("Someone Else's CA").issue("merchant-42"))


def test_an_expired_certificate_is_refused(verified: dict[str, Any], client_ca: TestCertificateAuthority) -> None:
    assert refused(verified, client_ca.issue("merchant-42", expired=True))
    assert client_ca.issue("merchant-42", expired=True).certificate.not_valid_after_utc < datetime.datetime.now(
        datetime.UTC
    )


def test_the_emulator_port_is_no_way_around_client_verification(verified: dict[str, Any]) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(verified["served"]["proxy_url"] + "/whoami", timeout=30)
    assert raised.value.code == 400 and b"mutual TLS" in raised.value.read()


def test_a_trust_store_in_use_cannot_be_deleted(aws: Callable[[str], Any], verified: dict[str, Any]) -> None:
    elbv2 = aws("elbv2")
    with pytest.raises(ClientError) as raised:
        elbv2.delete_trust_store(TrustStoreArn=verified["store"])
    assert raised.value.response["Error"]["Code"] == "TrustStoreInUse"
    assert "is currently in use by a listener" in raised.value.response["Error"]["Message"]
    assert elbv2.describe_trust_store_associations(TrustStoreArn=verified["store"])["TrustStoreAssociations"] == [
        {"ResourceArn": verified["balancer"]}
    ]


def test_verify_mode_needs_https_and_an_existing_trust_store(
    aws: Callable[[str], Any], verified: dict[str, Any], server_certificate: str
) -> None:
    elbv2 = aws("elbv2")
    forward = [{"Type": "forward", "TargetGroupArn": verified["listener"]["DefaultActions"][0]["TargetGroupArn"]}]
    common = {"LoadBalancerArn": verified["balancer"], "DefaultActions": forward}
    https = {**common, "Protocol": "HTTPS", "Port": 8443, "Certificates": [{"CertificateArn": server_certificate}]}
    assert (
        error_code(
            lambda: elbv2.create_listener(
                **common,
                Protocol="HTTP",
                Port=8080,
                MutualAuthentication={"Mode": "verify", "TrustStoreArn": verified["store"]},
            )
        )
        == "InvalidConfigurationRequest"
    )
    assert (
        error_code(lambda: elbv2.create_listener(**https, MutualAuthentication={"Mode": "verify"}))
        == "InvalidConfigurationRequest"
    )
    assert (
        error_code(
            lambda: elbv2.create_listener(
                **https,
                MutualAuthentication={"Mode": "verify", "TrustStoreArn": verified["store"].replace("/ts-", "/gone-")},
            )
        )
        == "TrustStoreNotFound"
    )
    assert [
        listener["Port"] for listener in elbv2.describe_listeners(LoadBalancerArn=verified["balancer"])["Listeners"]
    ] == [443]


def test_switching_verification_off_serves_the_listener_without_tls_and_frees_the_store(
    aws: Callable[[str], Any],
    verified: dict[str, Any],
    bundle: dict[str, str],
    control: LocalAwsControl,
    client_ca: TestCertificateAuthority,
    server_certificate: str,
) -> None:
    elbv2 = aws("elbv2")
    store = elbv2.create_trust_store(Name=unique("ts"), **bundle)["TrustStores"][0]["TrustStoreArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=verified["balancer"],
        Protocol="HTTPS",
        Port=9443,
        Certificates=[{"CertificateArn": server_certificate}],
        DefaultActions=verified["listener"]["DefaultActions"],
        MutualAuthentication={"Mode": "verify", "TrustStoreArn": store},
    )["Listeners"][0]["ListenerArn"]

    def served() -> dict[str, Any]:
        return next(entry for entry in control.listeners() if entry["listener_arn"] == listener)

    assert request({**verified, "served": served()}, client_ca.issue("merchant-7"))[0] == 200
    elbv2.modify_listener(ListenerArn=listener, MutualAuthentication={"Mode": "off"})
    [described] = elbv2.describe_listeners(ListenerArns=[listener])["Listeners"]
    assert described["MutualAuthentication"] == {"Mode": "off"}
    assert served()["local_url"].startswith("http://") and not served()["verifies_client_certificates"]
    elbv2.delete_trust_store(TrustStoreArn=store)
    elbv2.delete_listener(ListenerArn=listener)
