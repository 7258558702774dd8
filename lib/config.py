"""Typed, validated settings: the only place that reads environment variables.

Every setting has a default per profile (``ENVIRONMENT=dev|prod``). A bad value
raises ``ConfigError`` naming the variable, the value and what is allowed,
before any construct is built.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Mapping

# Aurora PostgreSQL 15 minor versions that exist (a missing one fails the deploy:
# "Cannot find version 15.4 for aurora-postgresql").
AURORA_POSTGRES_VERSIONS = ("15.6", "15.7", "15.8", "15.10", "15.12", "15.13")
DMS_ENGINE_VERSIONS = ("3.5.2", "3.5.3", "3.5.4", "3.6.1")
# Values CloudWatch Logs accepts for retention_in_days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                      1096, 1827, 2192, 2557, 2922, 3288, 3653)
PROFILES = ("dev", "prod")
TARGETS = ("local", "aws")
# Route53 publishes health-check metrics in this region only; an alarm elsewhere never sees data.
ROUTE53_METRICS_REGION = "us-east-1"
# Longest generated name is "payments-<suffix>-alb" / "-api" (ALB and target group
# names are limited to 32 characters).
SUFFIX_MAX_LENGTH = 16

_SUFFIX = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[A-Za-z0-9-]+$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_TABLE_PATTERN = re.compile(r"^[A-Za-z0-9_%]+\.[A-Za-z0-9_%]+$")
_DMS_CLASS = re.compile(r"^dms\.[a-z0-9]+\.[a-z0-9]+$")
_TAG_VALUE = re.compile(r"^[\w .:/=+@-]{1,128}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


class ConfigError(ValueError):
    """A setting has a value that is not allowed."""


def _fail(name: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"{name}={str(value)!r} is invalid: {allowed}")


@dataclass(frozen=True)
class Settings:
    """Everything the stack needs to know, already validated."""

    environment_suffix: str
    environment: str
    aws_region: str
    target: str
    local_aws_port: int
    vpc_cidr: str
    onprem_cidr: str
    nat_gateways: int
    log_retention_days: int
    state_bucket: str | None
    state_bucket_region: str
    cost_center: str
    owner: str
    db_engine_version: str
    db_name: str
    db_min_acu: float
    db_max_acu: float
    db_readers: int
    db_backup_retention_days: int
    dms_instance_class: str
    dms_engine_version: str
    dms_allocated_storage: int
    create_dms_service_roles: bool
    onprem_db_host: str
    onprem_db_port: int
    onprem_db_name: str
    onprem_db_secret_arn: str | None
    dms_table_mappings: tuple[str, ...]
    certificate_arn: str | None
    alb_internal: bool
    legacy_endpoint: str | None
    hosted_zone_name: str
    hosted_zone_id: str | None
    api_record_name: str
    new_system_weight: int
    payment_api_reserved_concurrency: int
    cdc_latency_threshold_seconds: int
    alarm_email: str | None
    deletion_protection: bool

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def name_prefix(self) -> str:
        """Prefix of every named resource: unique per environment suffix."""
        return f"payments-{self.environment_suffix}"

    @property
    def stack_name(self) -> str:
        return f"TapStack{self.environment_suffix}"

    @property
    def legacy_ips(self) -> tuple[str, ...]:
        """The legacy endpoint's IPv4 addresses, or () when it is a hostname or unset."""
        if not self.legacy_endpoint or not _is_ip_list(self.legacy_endpoint):
            return ()
        return tuple(part.strip() for part in self.legacy_endpoint.split(","))

    @property
    def api_fqdn(self) -> str:
        return f"{self.api_record_name}.{self.hosted_zone_name}"

    @property
    def listener_ports(self) -> tuple[int, ...]:
        """Ports the ALB listens on: 80 alone, or 443 plus 80 for the redirect."""
        return (80, 443) if self.certificate_arn else (80,)


# --- parsing helpers -----------------------------------------------------------------

class _Env:
    """Reads and parses raw environment values; blank counts as unset."""

    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ

    def raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise _fail(name, value, f"must be a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise _fail(name, value, f"must be a whole number from {low} to {high}")
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise _fail(name, value, "must be true or false")

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise _fail(name, value, f"must be one of {', '.join(allowed)}")
        return value

    def matching(self, name: str, default: str | None, pattern: re.Pattern[str],
                 allowed: str) -> str | None:
        value = self.raw(name)
        if value is None:
            return default
        if not pattern.match(value):
            raise _fail(name, value, allowed)
        return value


def _is_ip_list(value: str) -> bool:
    try:
        for part in value.split(","):
            ipaddress.IPv4Address(part.strip())
    except ValueError:
        return False
    return True


def _network(env: _Env, name: str, default: str, low: int, high: int) -> ipaddress.IPv4Network:
    value = env.text(name, default)
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        raise _fail(name, value, "must be an IPv4 network in CIDR form with no host bits, "
                                 "e.g. 10.40.0.0/16") from None
    if not low <= network.prefixlen <= high:
        raise _fail(name, value, f"prefix length must be from /{low} to /{high}")
    return network


def _acu(env: _Env, name: str, default: float) -> float:
    value = env.raw(name)
    if value is None:
        return default
    allowed = "must be a number from 0.5 to 256 in steps of 0.5"
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _fail(name, value, allowed) from None
    if not (Decimal("0.5") <= number <= Decimal("256")) or number % Decimal("0.5") != 0:
        raise _fail(name, value, allowed)
    return float(number)


def _table_mappings(env: _Env) -> tuple[str, ...]:
    value = env.text("DMS_TABLE_MAPPINGS", "public.%")
    entries = tuple(part.strip() for part in value.split(",") if part.strip())
    bad = [entry for entry in entries if not _TABLE_PATTERN.match(entry)]
    if not entries or bad:
        raise _fail("DMS_TABLE_MAPPINGS", value,
                    "must be a comma-separated list of schema.table patterns "
                    "(letters, digits, _ and the % wildcard), e.g. public.%,billing.invoices")
    return entries


def _legacy_endpoint(env: _Env) -> str | None:
    value = env.raw("LEGACY_ENDPOINT")
    if value is None:
        return None
    if _is_ip_list(value) or ("," not in value and _HOSTNAME.match(value.lower())):
        return value
    raise _fail("LEGACY_ENDPOINT", value,
                "must be a hostname or a comma-separated list of IPv4 addresses")


def _onprem_host(env: _Env, onprem: ipaddress.IPv4Network) -> str:
    default = str(onprem.network_address + 10)
    value = env.text("ONPREM_DB_HOST", default)
    if _is_ip_list(value) and "," not in value:
        if ipaddress.IPv4Address(value) not in onprem:
            raise _fail("ONPREM_DB_HOST", value,
                        f"an IP address must lie inside ONPREM_CIDR ({onprem}): "
                        "DMS may only reach the on-premises network")
        return value
    if not _HOSTNAME.match(value.lower()):
        raise _fail("ONPREM_DB_HOST", value, "must be a hostname or an IPv4 address")
    return value


# --- the settings object ---------------------------------------------------------------

def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Builds validated settings from environment variables (``os.environ`` by default)."""
    env = _Env(os.environ if environ is None else environ)
    profile = env.choice("ENVIRONMENT", "dev", PROFILES)
    is_prod = profile == "prod"

    def by_profile(dev, prod):
        return prod if is_prod else dev

    suffix = env.text("ENVIRONMENT_SUFFIX", "dev")
    if len(suffix) > SUFFIX_MAX_LENGTH or not _SUFFIX.match(suffix):
        raise _fail("ENVIRONMENT_SUFFIX", suffix,
                    f"must be 1-{SUFFIX_MAX_LENGTH} lowercase letters or digits, optionally "
                    "joined by single hyphens (it goes into ALB names limited to 32 characters)")

    region = env.matching("AWS_REGION", "us-east-1", _REGION,
                          "must be an AWS region name such as us-east-1 or eu-central-1")
    assert region is not None
    target = env.choice("TARGET", "local", TARGETS)

    vpc = _network(env, "VPC_CIDR", "10.40.0.0/16", 16, 20)
    onprem = _network(env, "ONPREM_CIDR", "192.168.0.0/16", 8, 28)
    if vpc.overlaps(onprem):
        raise _fail("ONPREM_CIDR", str(onprem),
                    f"must not overlap VPC_CIDR ({vpc}): routing to on-premises would be ambiguous")

    state_bucket = env.matching("TERRAFORM_STATE_BUCKET", None, _BUCKET,
                                "must be an S3 bucket name (3-63 lowercase letters, digits, . and -)")
    state_region = env.matching("TERRAFORM_STATE_BUCKET_REGION", region, _REGION,
                                "must be an AWS region name such as us-east-1")
    assert state_region is not None

    retention_default = by_profile(365, 2557)
    retention = env.integer("LOG_RETENTION_DAYS", retention_default, 1, 3653)
    if retention not in LOG_RETENTION_DAYS:
        raise _fail("LOG_RETENTION_DAYS", retention,
                    f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")

    engine = env.choice("DB_ENGINE_VERSION", "15.8", AURORA_POSTGRES_VERSIONS)
    min_acu = _acu(env, "DB_MIN_ACU", by_profile(0.5, 1.0))
    max_acu = _acu(env, "DB_MAX_ACU", by_profile(2.0, 8.0))
    if min_acu > max_acu:
        raise _fail("DB_MIN_ACU", env.raw("DB_MIN_ACU") or min_acu, f"must not exceed DB_MAX_ACU ({max_acu})")
    readers = env.integer("DB_READERS", 1, 0, 15)
    if is_prod and readers < 1:
        raise _fail("DB_READERS", readers, "must be at least 1 in prod (a reader in another AZ)")
    backups = env.integer("DB_BACKUP_RETENTION_DAYS", 35, 1, 35)
    if is_prod and backups < 35:
        raise _fail("DB_BACKUP_RETENTION_DAYS", backups, "must be 35 in prod")
    db_name = env.matching("DB_NAME", "payments", _IDENT,
                           "must be a PostgreSQL identifier: lowercase letter or _, then "
                           "lowercase letters, digits or _, at most 63 characters")
    assert db_name is not None

    dms_class = env.matching("DMS_INSTANCE_CLASS", by_profile("dms.t3.medium", "dms.r5.large"),
                             _DMS_CLASS, "must be a DMS instance class such as dms.r5.large")
    assert dms_class is not None
    onprem_name = env.matching("ONPREM_DB_NAME", "payments", _IDENT,
                               "must be a PostgreSQL identifier (lowercase, digits, _)")
    assert onprem_name is not None

    certificate = env.raw("CERTIFICATE_ARN")
    if certificate is not None:
        match = _ACM_ARN.match(certificate)
        if not match:
            raise _fail("CERTIFICATE_ARN", certificate,
                        "must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)")
        if match.group(1) != region:
            raise _fail("CERTIFICATE_ARN", certificate,
                        f"must be in the stack's region {region}: an ALB only uses certificates "
                        "from its own region")

    legacy = _legacy_endpoint(env)
    zone_name = env.text("HOSTED_ZONE_NAME", f"payments-{suffix}.internal").lower().rstrip(".")
    if not _HOSTNAME.match(zone_name) or "." not in zone_name:
        raise _fail("HOSTED_ZONE_NAME", zone_name, "must be a DNS name with at least two labels")
    record = env.text("API_RECORD_NAME", "api").lower()
    if not re.match(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", record):
        raise _fail("API_RECORD_NAME", record,
                    "must be one DNS label (letters, digits, hyphens); the record lies inside "
                    "HOSTED_ZONE_NAME")

    alarm_email = env.matching("ALARM_EMAIL", None, _EMAIL, "must be an e-mail address")

    return Settings(
        environment_suffix=suffix,
        environment=profile,
        aws_region=region,
        target=target,
        local_aws_port=env.integer("LOCAL_AWS_PORT", 4566, 1024, 65535),
        vpc_cidr=str(vpc),
        onprem_cidr=str(onprem),
        nat_gateways=env.integer("NAT_GATEWAYS", by_profile(1, 3), 1, 3),
        log_retention_days=retention,
        state_bucket=state_bucket,
        state_bucket_region=state_region,
        cost_center=str(env.matching("COST_CENTER", "payments-platform", _TAG_VALUE,
                                     "must be 1-128 letters, digits, spaces or . : / = + @ - _")),
        owner=str(env.matching("OWNER", "platform-team", _TAG_VALUE,
                               "must be 1-128 letters, digits, spaces or . : / = + @ - _")),
        db_engine_version=engine,
        db_name=db_name,
        db_min_acu=min_acu,
        db_max_acu=max_acu,
        db_readers=readers,
        db_backup_retention_days=backups,
        dms_instance_class=dms_class,
        dms_engine_version=env.choice("DMS_ENGINE_VERSION", "3.5.3", DMS_ENGINE_VERSIONS),
        dms_allocated_storage=env.integer("DMS_ALLOCATED_STORAGE",
                                          by_profile(50, 100), 5, 6144),
        # DMS looks up dms-vpc-role by that exact name: one per account. A fresh emulator
        # never has it; a real account usually does.
        create_dms_service_roles=env.boolean("CREATE_DMS_SERVICE_ROLES", target == "local"),
        onprem_db_host=_onprem_host(env, onprem),
        onprem_db_port=env.integer("ONPREM_DB_PORT", 5432, 1, 65535),
        onprem_db_name=onprem_name,
        onprem_db_secret_arn=env.matching("ONPREM_DB_SECRET_ARN", None, _SECRET_ARN,
                                          "must be a Secrets Manager secret ARN"),
        dms_table_mappings=_table_mappings(env),
        certificate_arn=certificate,
        alb_internal=env.boolean("ALB_INTERNAL", False),
        legacy_endpoint=legacy,
        hosted_zone_name=zone_name,
        hosted_zone_id=env.matching("HOSTED_ZONE_ID", None, _ZONE_ID,
                                    "must be a Route53 hosted zone id such as Z0123456789ABC"),
        api_record_name=record,
        new_system_weight=env.integer("NEW_SYSTEM_WEIGHT", 0 if legacy else 100, 0, 100),
        payment_api_reserved_concurrency=env.integer("PAYMENT_API_RESERVED_CONCURRENCY", 50, 50, 1000),
        cdc_latency_threshold_seconds=env.integer("CDC_LATENCY_THRESHOLD_SECONDS", 300, 1, 86400),
        alarm_email=alarm_email,
        # Real accounts are protected unless told otherwise; the emulator is disposable.
        deletion_protection=env.boolean("DELETION_PROTECTION", is_prod or target == "aws"),
    )
