"""TLS for listeners that verify client certificates (mutual TLS, `verify` mode).

The emulator is its own certificate authority: at the first such listener it generates a CA
(in memory, for the life of the process; its certificate is served at GET
/_local_aws/elbv2/tls-ca) and signs a server certificate for 127.0.0.1 and localhost. The client
side is verified against the listener's trust store bundle, as the ALB does: a client without
a certificate that chains to it (or with an expired one) fails the handshake. The certificate then
reaches the target in the headers the ALB sets in verify mode.
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/mutual-authentication.html
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
import urllib.parse
from typing import Any

CA_NAME = "local_aws load balancer CA"
VALIDITY = datetime.timedelta(days=30)
CLOCK_SKEW = datetime.timedelta(minutes=5)
# The headers the ALB adds in verify mode; any a client sends under these names is dropped.
MTLS_HEADER_PREFIX = "x-amzn-mtls-"


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class LocalCertificateAuthority:
    """Signs the server certificates of the emulator's TLS listeners."""

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(CA_NAME))
            .issuer_name(_name(CA_NAME))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )

    @property
    def pem(self) -> str:
        from cryptography.hazmat.primitives.serialization import Encoding

        return self.certificate.public_bytes(Encoding.PEM).decode()

    def _server_certificate(self) -> tuple[bytes, bytes]:
        """(certificate chain PEM, private key PEM) for 127.0.0.1 and localhost."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name("localhost"))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        chain = certificate.public_bytes(serialization.Encoding.PEM) + self.pem.encode()
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return chain, private

    def server_context(self, client_ca_bundle: bytes) -> ssl.SSLContext:
        """A TLS 1.2+ server context that requires a client certificate chaining to client_ca_bundle."""
        chain, private = self._server_certificate()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        with tempfile.TemporaryDirectory(prefix="alb-tls-") as folder:  # load_cert_chain reads files only
            certificate_file, key_file = os.path.join(folder, "chain.pem"), os.path.join(folder, "key.pem")
            with open(certificate_file, "wb") as stream:
                stream.write(chain)
            with open(os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as stream:
                stream.write(private)
            context.load_cert_chain(certificate_file, key_file)
        context.verify_mode = ssl.CERT_REQUIRED
        # A trust store may hold intermediate CAs as trust anchors, as the ALB's does.
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        context.load_verify_locations(cadata=client_ca_bundle.decode("ascii"))
        return context


def client_certificate_headers(der: bytes) -> list[tuple[str, str]]:
    """The X-Amzn-Mtls-Clientcert-* headers the ALB adds in verify mode, for the client's leaf certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    certificate = x509.load_der_x509_certificate(der)
    serial = format(certificate.serial_number, "X")
    moment = "%Y-%m-%dT%H:%M:%SZ"
    validity = (
        f"NotBefore={certificate.not_valid_before_utc.strftime(moment)};"
        f"NotAfter={certificate.not_valid_after_utc.strftime(moment)}"
    )
    leaf = urllib.parse.quote(certificate.public_bytes(Encoding.PEM).decode(), safe="")
    return [
        ("x-amzn-mtls-clientcert-serial-number", serial.zfill(len(serial) + len(serial) % 2)),
        ("x-amzn-mtls-clientcert-issuer", certificate.issuer.rfc4514_string()),
        ("x-amzn-mtls-clientcert-subject", certificate.subject.rfc4514_string()),
        ("x-amzn-mtls-clientcert-validity", validity),
        ("x-amzn-mtls-clientcert-leaf", leaf),
    ]
