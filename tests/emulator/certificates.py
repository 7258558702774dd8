"""Test certificate authorities and client certificates, generated in the test (cryptography)."""

from __future__ import annotations

import datetime
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name: str, organization: str) -> x509.Name:
    # Encoded in the usual order (O, then CN): its RFC 2253 string, as the ALB sends it, starts with the CN.
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class ClientCertificate:
    certificate: x509.Certificate
    key: Any

    @property
    def pem(self) -> bytes:
        return _pem(self.certificate)

    def files(self, folder: Path) -> tuple[Path, Path]:
        """(certificate, key) written as PEM files, as ssl.load_cert_chain wants them."""
        certificate, key = (
            folder / f"{self.certificate.serial_number}.crt",
            folder / f"{self.certificate.serial_number}.key",
        )
        certificate.write_bytes(self.pem)
        key.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return certificate, key


class TestCertificateAuthority:
    """A private CA like the one an operator runs to issue one client certificate per merchant."""

    __test__ = False  # not a pytest test class

    def __init__(self, name: str = "Payments Test Client CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name, "Payments Test"))
            .issuer_name(_name(name, "Payments Test"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return _pem(self.certificate)

    def issue(self, common_name: str, *, expired: bool = False) -> ClientCertificate:
        """A client certificate whose subject is CN=<common_name>,O=Merchants."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        start, end = (
            (now - datetime.timedelta(days=10), now - datetime.timedelta(days=1))
            if expired
            else (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=7))
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, "Merchants"))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return ClientCertificate(certificate, key)


def client_context(server_ca_pem: str, client: ClientCertificate | None) -> ssl.SSLContext:
    """A TLS client context that verifies the emulator's server certificate and presents `client`."""
    context = ssl.create_default_context(cadata=server_ca_pem)
    if client is not None:
        with tempfile.TemporaryDirectory(prefix="client-cert-") as folder:
            certificate, key = client.files(Path(folder))
            context.load_cert_chain(certificate, key)
    return context
