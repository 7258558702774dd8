"""ELBv2 trust stores and mutual TLS on listeners.

moto 5.2.5 has neither: CreateTrustStore and its siblings are not implemented (NotImplementedError),
and CreateListener/ModifyListener drop MutualAuthentication. These patches add them as the ELBv2 API
documents them:

- Create/Describe/Modify/DeleteTrustStore and DescribeTrustStoreAssociations. The CA bundle is read
  from the emulator's S3 when the store is created or modified: a missing object is
  CaCertificatesBundleNotFound, anything but PEM X.509 certificates InvalidCaCertificatesBundle.
  A store is ACTIVE at once. Tags go through the ELBv2 tagging API like any other resource.
- MutualAuthentication on HTTPS listeners: `verify` needs an existing trust store, `off` and
  `passthrough` take none; DescribeListeners returns it. A store a listener uses cannot be deleted
  (TrustStoreInUse, "is currently in use by a listener", which Terraform retries on).
- Revocation lists (AddTrustStoreRevocations) and GetTrustStoreCaCertificatesBundle are not emulated.

frontends.py serves a `verify` listener over TLS and checks client certificates against the bundle.
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/mutual-authentication.html
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.local_aws.common import wrap
from tools.local_aws.moto_guard import CLASS, assigns, moto_patch

RESPONSE = "moto.elbv2.responses.ELBV2Response"
BACKEND = "moto.elbv2.models.ELBv2Backend"
MODES = ("off", "passthrough", "verify")
NAME_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?")


@dataclass
class TrustStore:
    """One trust store as DescribeTrustStores returns it, and the bundle it was made from."""

    name: str
    trust_store_arn: str
    bundle: bytes = field(repr=False)
    status: str = "ACTIVE"
    total_revoked_entries: int = 0

    @property
    def number_of_ca_certificates(self) -> int:
        return len(parse_bundle(self.bundle))

    @property
    def bundle_sha256(self) -> str:
        return hashlib.sha256(self.bundle).hexdigest()

    def describe(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "TrustStoreArn": self.trust_store_arn,
            "Status": self.status,
            "NumberOfCaCertificates": self.number_of_ca_certificates,
            "TotalRevokedEntries": self.total_revoked_entries,
        }


def _error(code: str, message: str) -> Exception:
    from moto.elbv2.exceptions import ELBClientError

    return ELBClientError(code, message)


def parse_bundle(bundle: bytes) -> list[Any]:
    """The X.509 certificates of a PEM bundle; raises ValueError when there are none or one is malformed."""
    from cryptography import x509

    certificates = x509.load_pem_x509_certificates(bundle)  # ValueError for no or malformed certificates
    return certificates


def trust_stores(backend: Any) -> dict[str, TrustStore]:
    """The trust stores of one ELBv2 backend (account and region), by ARN."""
    return backend.__dict__.setdefault("trust_stores", {})


def find_trust_store(backend: Any, arn: str | None) -> TrustStore:
    store = trust_stores(backend).get(arn or "")
    if store is None:
        raise _error("TrustStoreNotFound", f"The specified trust store does not exist: {arn}")
    return store


def read_bundle(backend: Any, bucket: str | None, key: str | None, version: str | None) -> bytes:
    """The CA bundle from the emulator's S3, checked to be PEM certificates."""
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    if not bucket or not key:
        raise _error("CaCertificatesBundleNotFound", "The CA certificates bundle bucket and key are required")
    try:
        found = s3_backends[backend.account_id][get_partition(backend.region_name)].get_object(
            bucket, key, version_id=version
        )
    except Exception:  # moto's MissingBucket, MissingKey, MissingVersion
        found = None
    if found is None:
        raise _error("CaCertificatesBundleNotFound", f"s3://{bucket}/{key} could not be read")
    try:
        parse_bundle(found.value)
    except ValueError as error:
        raise _error(
            "InvalidCaCertificatesBundle", f"s3://{bucket}/{key} is not a PEM bundle of X.509 certificates: {error}"
        ) from None
    return found.value


def listeners_using(backend: Any, arn: str) -> list[Any]:
    return [
        listener
        for balancer in backend.load_balancers.values()
        for listener in balancer.listeners.values()
        if (getattr(listener, "mutual_authentication", None) or {}).get("TrustStoreArn") == arn
    ]


# --------------------------------------------------------------------------- trust store operations
def create_trust_store(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.utilities.utils import get_partition

    backend = self.elbv2_backend
    name = self._get_param("Name") or ""
    if not NAME_PATTERN.fullmatch(name):
        raise _error("ValidationError", f"Trust store name {name!r} must be 1-32 letters, digits or inner hyphens")
    if any(store.name == name for store in trust_stores(backend).values()):
        raise _error("DuplicateTrustStoreName", f"A trust store named {name} already exists")
    bundle = read_bundle(
        backend,
        self._get_param("CaCertificatesBundleS3Bucket"),
        self._get_param("CaCertificatesBundleS3Key"),
        self._get_param("CaCertificatesBundleS3ObjectVersion"),
    )
    arn = (
        f"arn:{get_partition(backend.region_name)}:elasticloadbalancing:{backend.region_name}:"
        f"{backend.account_id}:truststore/{name}/{secrets.token_hex(8)}"
    )
    store = TrustStore(name=name, trust_store_arn=arn, bundle=bundle)
    trust_stores(backend)[arn] = store
    if self._get_param("Tags"):
        backend.add_tags([arn], self._get_param("Tags"))
    return ActionResult({"TrustStores": [store.describe()]})


def describe_trust_stores(self: Any) -> Any:
    from moto.core.responses import ActionResult

    stores = list(trust_stores(self.elbv2_backend).values())
    arns, names = self._get_param("TrustStoreArns") or [], self._get_param("Names") or []
    for arn in arns:
        find_trust_store(self.elbv2_backend, arn)
    for name in names:
        if not any(store.name == name for store in stores):
            raise _error("TrustStoreNotFound", f"The specified trust store does not exist: {name}")
    chosen = [
        store for store in stores if (not arns or store.trust_store_arn in arns) and (not names or store.name in names)
    ]
    return ActionResult({"TrustStores": [store.describe() for store in chosen]})


def modify_trust_store(self: Any) -> Any:
    from moto.core.responses import ActionResult

    backend = self.elbv2_backend
    store = find_trust_store(backend, self._get_param("TrustStoreArn"))
    store.bundle = read_bundle(
        backend,
        self._get_param("CaCertificatesBundleS3Bucket"),
        self._get_param("CaCertificatesBundleS3Key"),
        self._get_param("CaCertificatesBundleS3ObjectVersion"),
    )
    return ActionResult({"TrustStores": [store.describe()]})


def delete_trust_store(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    backend = self.elbv2_backend
    store = find_trust_store(backend, self._get_param("TrustStoreArn"))
    if listeners_using(backend, store.trust_store_arn):
        raise _error("TrustStoreInUse", f"Trust store '{store.trust_store_arn}' is currently in use by a listener")
    del trust_stores(backend)[store.trust_store_arn]
    backend.tagging_service.delete_all_tags_for_resource(store.trust_store_arn)
    return EmptyResult()


def describe_trust_store_associations(self: Any) -> Any:
    from moto.core.responses import ActionResult

    backend = self.elbv2_backend
    store = find_trust_store(backend, self._get_param("TrustStoreArn"))
    balancers = sorted({listener.load_balancer_arn for listener in listeners_using(backend, store.trust_store_arn)})
    return ActionResult({"TrustStoreAssociations": [{"ResourceArn": arn} for arn in balancers]})


TRUST_STORE_OPERATIONS = {
    operation.__name__: operation
    for operation in (
        create_trust_store,
        describe_trust_stores,
        modify_trust_store,
        delete_trust_store,
        describe_trust_store_associations,
    )
}


@moto_patch(
    requires={
        RESPONSE: CLASS,
        f"{RESPONSE}.elbv2_backend": (),
        f"{RESPONSE}._get_param": ("param_name", "if_none"),
        "moto.core.responses.ActionResult": CLASS,
        "moto.core.responses.EmptyResult": CLASS,
        "moto.elbv2.exceptions.ELBClientError": CLASS,
        BACKEND: assigns("load_balancers", "tagging_service"),
        f"{BACKEND}.add_tags": ("resource_arns", "tags"),
        f"{BACKEND}._get_resource_by_arn": ("arn",),
        "moto.elbv2.models.FakeListener": assigns("load_balancer_arn", "protocol"),
        "moto.s3.models.s3_backends": (),
        "moto.s3.models.S3Backend.get_object": ("bucket_name", "key_name", "version_id"),
        "moto.utilities.utils.get_partition": (),
        "moto.utilities.tagging_service.TaggingService.delete_all_tags_for_resource": ("arn",),
    },
    adds=(*(f"{RESPONSE}.{name}" for name in TRUST_STORE_OPERATIONS), f"{BACKEND}.trust_stores"),
)
def patch_elbv2_trust_stores() -> None:
    # moto gap: trust stores are not implemented at all (CreateTrustStore raises NotImplementedError).
    from moto.elbv2.models import ELBv2Backend
    from moto.elbv2.responses import ELBV2Response

    for name, operation in TRUST_STORE_OPERATIONS.items():
        setattr(ELBV2Response, name, operation)

    def make_resource_by_arn(get: Callable[..., Any]) -> Callable[..., Any]:
        def _get_resource_by_arn(self: Any, arn: str) -> Any:
            if ":truststore/" in arn:  # tags of a trust store
                return find_trust_store(self, arn)
            return get(self, arn)

        return _get_resource_by_arn

    wrap(ELBv2Backend, "_get_resource_by_arn", make_resource_by_arn)


# --------------------------------------------------------------------------- listeners
def mutual_authentication(backend: Any, requested: dict[str, Any] | None, protocol: str) -> dict[str, Any] | None:
    """The listener's MutualAuthentication as DescribeListeners returns it, from the request's; None: not given."""
    if requested is None:
        return None
    mode = requested.get("Mode") or "off"
    if mode not in MODES:
        raise _error("ValidationError", f"MutualAuthentication Mode {mode!r} must be one of {', '.join(MODES)}")
    arn = requested.get("TrustStoreArn")
    if mode != "verify":
        if arn:
            raise _error("InvalidConfigurationRequest", f"A trust store is used in verify mode only, not {mode}")
        return {"Mode": mode}
    if (protocol or "").upper() != "HTTPS":
        raise _error("InvalidConfigurationRequest", "Mutual authentication is supported on HTTPS listeners only")
    if not arn:
        raise _error("InvalidConfigurationRequest", "Mutual authentication in verify mode requires a TrustStoreArn")
    find_trust_store(backend, arn)
    return {
        "Mode": "verify",
        "TrustStoreArn": arn,
        "IgnoreClientCertificateExpiry": bool(requested.get("IgnoreClientCertificateExpiry") or False),
        "TrustStoreAssociationStatus": "active",
        "AdvertiseTrustStoreCaNames": requested.get("AdvertiseTrustStoreCaNames") or "off",
    }


@moto_patch(
    requires={
        f"{RESPONSE}.create_listener": (),
        f"{RESPONSE}.modify_listener": (),
        f"{BACKEND}.describe_listeners": ("load_balancer_arn", "listener_arns"),
        "moto.elbv2.models.FakeListener": assigns("protocol"),
        "moto.core.responses.ActionResult.result": (),
    },
    adds=("moto.elbv2.models.FakeListener.mutual_authentication",),
)
def patch_elbv2_listener_mutual_authentication() -> None:
    # moto gap: CreateListener/ModifyListener ignore MutualAuthentication; DescribeListeners never has it.
    from moto.elbv2.responses import ELBV2Response

    def make_create(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_listener(self: Any) -> Any:
            settings = mutual_authentication(
                self.elbv2_backend, self._get_param("MutualAuthentication"), self._get_param("Protocol")
            )
            result = create(self)
            if settings is not None:
                result.result["Listeners"][0].mutual_authentication = settings
            return result

        return create_listener

    def make_modify(modify: Callable[..., Any]) -> Callable[..., Any]:
        def modify_listener(self: Any) -> Any:
            backend = self.elbv2_backend
            [listener] = backend.describe_listeners(None, [self._get_param("ListenerArn")])
            settings = mutual_authentication(
                backend, self._get_param("MutualAuthentication"), self._get_param("Protocol") or listener.protocol
            )
            result = modify(self)
            if settings is not None:
                listener.mutual_authentication = settings
            return result

        return modify_listener

    wrap(ELBV2Response, "create_listener", make_create)
    wrap(ELBV2Response, "modify_listener", make_modify)


PATCHES = (patch_elbv2_trust_stores, patch_elbv2_listener_mutual_authentication)
