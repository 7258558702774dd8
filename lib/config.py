"""Typed, validated settings: the only place that reads environment variables.

Every setting is declared once, as a field of ``Settings``: its environment variable,
parser, dev and prod defaults and description (the role a terraform-aws-modules
``variables.tf`` block plays). ``load_settings`` walks those declarations in order, then
``_broken_rules`` checks the rules that read more than one setting. The README table
is generated from the same declarations (``make docs``). A bad value raises
``ConfigError`` with one line naming the variable, the value and what is allowed, before
any construct is built.
"""

from __future__ import annotations

import ipaddress
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from lib.address_space import RFC1918_NETWORKS, alb_ip_target_allowed, legacy_address_is_private

PROFILES = ("dev", "prod")
# Route53 publishes health-check metrics in this region only; an alarm elsewhere never sees data.
ROUTE53_METRICS_REGION = "us-east-1"
TARGETS = ("local", "aws")
# Where the payment API takes the merchant id from (its CLIENT_IDENTITY environment variable).
IDENTITY_MODES = ("mtls", "header")
# Longest generated name is "payments-<suffix>-alb" / "-api" (ALB and target group
# names are limited to 32 characters).
SUFFIX_MAX_LENGTH = 16
# Values CloudWatch Logs accepts for retention_in_days.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
PROD_MIN_LOG_RETENTION_DAYS = 365
# A version this close to (or past) its date in the release tables gets a warning at synth.
VERSION_WARNING_DAYS = 60


# --- published engine versions (documentation; the deploy preflight asks AWS itself) ------


@dataclass(frozen=True)
class EngineRelease:
    """One engine version and its published dates; None where the source says TBD or could not be read."""

    version: str
    released: date | None
    closes: date | None


# The day the tables below were last read from their sources. A version whose closing date
# lies before this day is refused outright (the table, not the wall clock, decides that);
# versions closing later only draw a warning at synth (see version_warnings).
RELEASES_READ_ON = date(2026, 11, 27)

# AWS DMS release notes, "No new instance date" column:
# https://docs.aws.amazon.com/dms/latest/userguide/CHAP_ReleaseNotes.html (read 2026-11-27).
# The dates move (3.5.4's changed three times), so re-read the page when a warning appears.
DMS_CLOSES_MEANING = "AWS DMS no-new-instance date"
DMS_RELEASES = (
    EngineRelease("3.5.2", date(2023, 10, 29), date(2025, 3, 30)),
    EngineRelease("3.5.3", date(2024, 5, 17), date(2026, 2, 28)),
    EngineRelease("3.5.4", date(2024, 11, 15), date(2027, 1, 31)),
    EngineRelease("3.6.0", date(2024, 12, 27), date(2026, 4, 27)),
    EngineRelease("3.6.1", date(2025, 5, 15), None),  # TBD on the page
)

# Aurora PostgreSQL 15 minor versions, "Aurora end of standard support" column of
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraPostgreSQLReleaseNotes/aurorapostgresql-release-calendar.html
# The minor-version calendar could not be read when this table was written (2026-11-27), so
# its dates are left None rather than guessed; fill them in from that page. 15.14 is listed
# from the AWS announcement of 17.6/16.10/15.14/14.19/13.22. 15.10 is the long-term-support
# minor of Aurora PostgreSQL 15 (AuroraPostgreSQL.Updates.LTS.html: an LTS minor stays
# available for at least three years), which is why it is the default.
AURORA_CLOSES_MEANING = "Aurora end-of-standard-support date"
AURORA_POSTGRES_RELEASES = (
    EngineRelease("15.6", None, None),
    EngineRelease("15.7", None, None),
    EngineRelease("15.8", None, None),
    EngineRelease("15.10", None, None),
    EngineRelease("15.12", None, None),
    EngineRelease("15.13", None, None),
    EngineRelease("15.14", None, None),
)


def _open_versions(releases: tuple[EngineRelease, ...]) -> tuple[str, ...]:
    return tuple(release.version for release in releases if release.closes is None or release.closes > RELEASES_READ_ON)


AURORA_POSTGRES_VERSIONS = _open_versions(AURORA_POSTGRES_RELEASES)
DMS_ENGINE_VERSIONS = _open_versions(DMS_RELEASES)

# --- other reference data -------------------------------------------------------------------

# Replication instance classes: the families of "Choosing the right AWS DMS replication
# instance" (https://docs.aws.amazon.com/dms/latest/userguide/CHAP_ReplicationInstance.Types.html:
# T2, T3, C4, C5, C6i, R4, R5, R6i) with the sizes its table lists. Region availability is
# the preflight's business (DescribeOrderableReplicationInstances).
_DMS_SIZES = {
    "t2": ("micro", "small", "medium", "large"),
    "t3": ("micro", "small", "medium", "large"),
    "c4": ("large", "xlarge", "2xlarge", "4xlarge"),
    "c5": ("large", "xlarge", "2xlarge", "4xlarge", "9xlarge", "12xlarge", "18xlarge", "24xlarge"),
    "c6i": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge"),
    "r4": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge"),
    "r5": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
    "r6i": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge"),
}
DMS_INSTANCE_CLASSES = tuple(f"dms.{family}.{size}" for family, sizes in _DMS_SIZES.items() for size in sizes)

# RDS CreateDBCluster DatabaseName for Aurora PostgreSQL: 1-63 letters, digits or underscores,
# beginning with a letter, not a word reserved by the engine; "A database named postgres is
# always created" (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html).
# Reserved: PostgreSQL 15 pg_get_keywords() with catcode R (reserved) and T (reserved, can be a
# function or type name); both are syntax errors in CREATE DATABASE (checked on PostgreSQL 15.18).
# https://www.postgresql.org/docs/15/sql-keywords-appendix.html
POSTGRES_RESERVED_WORDS = frozenset(
    """
    all analyse analyze and any array as asc asymmetric both case cast check collate column constraint
    create current_catalog current_date current_role current_time current_timestamp current_user default
    deferrable desc distinct do else end except false fetch for foreign from grant group having in initially
    intersect into lateral leading limit localtime localtimestamp not null offset on only or order placing
    primary references returning select session_user some symmetric table then to trailing true union unique
    user using variadic when where window with
    authorization binary collation concurrently cross current_schema freeze full ilike inner is isnull join
    left like natural notnull outer overlaps right similar tablesample verbose
""".split()
)
# Databases every Aurora PostgreSQL cluster already has.
EXISTING_DATABASES = frozenset({"postgres", "template0", "template1", "rdsadmin"})

# Addresses that are neither RFC 1918 nor reachable from the internet, named for the refusal.
# Python's is_global calls multicast global, so this list is checked first.
UNROUTABLE_NETWORKS = tuple(
    (ipaddress.IPv4Network(block), name)
    for block, name in (
        ("0.0.0.0/8", "'this network' / unspecified (RFC 1122)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("100.64.0.0/10", "carrier-grade NAT shared space (RFC 6598)"),
        ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
        ("192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"),
        ("198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"),
        ("203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"),
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (RFC 1112), incl. broadcast"),
    )
)

# Zone names a private hosted zone must not take: a zone for one of these, associated with the
# VPC, shadows the public names of AWS endpoints for everything in the VPC (Lambda could no
# longer reach Secrets Manager or the RDS Data API). The partitions' endpoint suffixes come
# from botocore (see _aws_endpoint_suffixes); these are the rest: Amazon's own TLD (api.aws,
# on.aws), amazon.com, ACM's revocation endpoints, and the VPC's instance host names.
AWS_RESERVED_ZONE_SUFFIXES = ("aws", "amazon.com", "amazontrust.com", "ec2.internal", "compute.internal")

# S3 general purpose bucket naming rules:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

# Availability Zones the stack pins, by zone id: a zone *name* maps to a different zone in each
# account, and the live zone list moves when a zone is impaired or added, so the stack never
# derives zones from it. Three zone ids per region, from "AZ IDs for your AWS resources"
# (https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html), ordered as the local
# emulator names them a, b, c, so a stack deployed when zones were looked up keeps every subnet where
# it is. Regions missing here need AVAILABILITY_ZONE_IDS.
DEFAULT_ZONE_IDS: dict[str, tuple[str, str, str]] = {
    "us-east-1": ("use1-az6", "use1-az1", "use1-az2"),
    "us-east-2": ("use2-az1", "use2-az2", "use2-az3"),
    "us-west-2": ("usw2-az2", "usw2-az1", "usw2-az3"),
    "ca-central-1": ("cac1-az1", "cac1-az2", "cac1-az4"),
    "sa-east-1": ("sae1-az1", "sae1-az2", "sae1-az3"),
    "eu-central-1": ("euc1-az1", "euc1-az2", "euc1-az3"),
    "eu-west-1": ("euw1-az3", "euw1-az1", "euw1-az2"),
    "eu-west-2": ("euw2-az2", "euw2-az3", "euw2-az1"),
    "eu-west-3": ("euw3-az1", "euw3-az2", "euw3-az3"),
    "eu-north-1": ("eun1-az1", "eun1-az2", "eun1-az3"),
    "ap-south-1": ("aps1-az1", "aps1-az3", "aps1-az2"),
    "ap-southeast-1": ("apse1-az1", "apse1-az2", "apse1-az3"),
    "ap-southeast-2": ("apse2-az1", "apse2-az3", "apse2-az2"),
    "ap-northeast-1": ("apne1-az4", "apne1-az1", "apne1-az2"),
    "ap-northeast-2": ("apne2-az1", "apne2-az2", "apne2-az3"),
}
ZONE_COUNT = 3

# BGP ASNs AWS keeps for itself in some regions; a customer gateway may not use them.
# https://docs.aws.amazon.com/vpn/latest/s2svpn/cgw-options.html
AWS_RESERVED_ASNS = (7224, 9059, 10124, 17943)
# The customer gateway of a statically routed VPN still needs an ASN; AWS suggests 65000.
STATIC_ROUTING_ASN = 65000


@lru_cache(maxsize=2)
def _botocore_data(name: str) -> dict:
    """botocore's bundled `endpoints` or `partitions` data: read from the installed package, no network."""
    from botocore.loaders import create_loader  # noqa: PLC0415 - only needed once settings are read

    return create_loader().load_data(name)


@lru_cache(maxsize=4)
def _regions_by_partition(service: str) -> dict[str, str]:
    """Region -> partition for every region where botocore's endpoint data lists `service`."""
    return {
        region: partition["partition"]
        for partition in _botocore_data("endpoints")["partitions"]
        for region in partition["services"].get(service, {}).get("endpoints", {})
        if region in partition["regions"]
    }


@lru_cache(maxsize=1)
def _aws_endpoint_suffixes() -> tuple[str, ...]:
    suffixes = set(AWS_RESERVED_ZONE_SUFFIXES)
    for partition in _botocore_data("partitions")["partitions"]:
        suffixes.update(partition["outputs"][key] for key in ("dnsSuffix", "dualStackDnsSuffix"))
    return tuple(sorted(suffixes))


def region_partition(region: str) -> str:
    """The partition a region belongs to (aws, aws-cn, aws-us-gov, ...), from botocore's data."""
    return _regions_by_partition("dms")[region]


# --- errors ------------------------------------------------------------------------------


class ConfigError(ValueError):
    """A setting has a value that is not allowed."""


class _Invalid(Exception):
    """Raised by a parser: the reason names what is allowed."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _refusal(name: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"{name}={str(value)!r} is invalid: {allowed}")


# --- parsers: text -> typed value, with the `allowed` text that refusals and the README show -----

_ASCII_INT = re.compile(r"^-?[0-9]+$")
_ASCII_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class Parser(ABC):
    """Turns the text of one variable into its typed value, or raises _Invalid."""

    if TYPE_CHECKING:
        # What the value may be, for refusals and the README: a class attribute, a field or a property of
        # each parser. Declared read-only here (for mypy only) so that a property may supply it.
        @property
        def allowed(self) -> str: ...

    @abstractmethod
    def parse(self, text: str) -> Any:
        """The typed value of `text` (stripped, never blank)."""

    def render(self, value: Any) -> str:
        return str(value)


def _one_of(values: tuple[object, ...]) -> str:
    return f"one of {', '.join(map(str, values))}"


@dataclass(frozen=True)
class OneOf(Parser):
    """One value of a fixed list."""

    values: tuple[Any, ...]

    @property
    def allowed(self) -> str:
        return _one_of(self.values)


class Choice(OneOf):
    """One of a list of words."""

    def parse(self, text: str) -> str:
        if text not in self.values:
            raise _Invalid(f"must be {self.allowed}")
        return text


@dataclass(frozen=True)
class Integer(Parser):
    low: int
    high: int
    off_words: tuple[str, ...] = ()

    @property
    def allowed(self) -> str:
        off = f", or {' / '.join(self.off_words)} to turn it off" if self.off_words else ""
        return f"a whole number from {self.low} to {self.high}{off}"

    def parse(self, text: str) -> int | None:
        if text.lower() in self.off_words:
            return None
        # int() also accepts non-ASCII digits ('١٢٣') and underscores ('1_0'): refuse both.
        if not _ASCII_INT.match(text) or not self.low <= int(text) <= self.high:
            raise _Invalid(f"must be {self.allowed}")
        return int(text)

    def render(self, value: int | None) -> str:
        return self.off_words[0] if value is None else str(value)


class OneOfNumbers(OneOf):
    """One of a list of whole numbers."""

    def parse(self, text: str) -> int:
        if not _ASCII_INT.match(text) or int(text) not in self.values:
            raise _Invalid(f"must be {self.allowed}")
        return int(text)


class Boolean(Parser):
    allowed = "true or false (also yes/no, 1/0)"

    def parse(self, text: str) -> bool:
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise _Invalid("must be true or false")

    def render(self, value: bool) -> str:
        return str(value).lower()


class Capacity(Parser):
    """Aurora Serverless v2 capacity units."""

    allowed = "a number from 0.5 to 256 in steps of 0.5"

    def parse(self, text: str) -> float:
        # Plain ASCII decimals only: 'NaN', 'Infinity', '1e400' and '٢' are refused here, not by a traceback.
        number = Decimal(text) if _ASCII_DECIMAL.match(text) else None
        if number is None or not Decimal("0.5") <= number <= Decimal("256") or number % Decimal("0.5"):
            raise _Invalid(f"must be {self.allowed}")
        return float(number)


@dataclass(frozen=True)
class Pattern(Parser):
    pattern: re.Pattern[str]
    allowed: str

    def parse(self, text: str) -> str:
        if not self.pattern.match(text):
            raise _Invalid(f"must be {self.allowed}")
        return text


class Suffix(Parser):
    allowed = (
        f"1-{SUFFIX_MAX_LENGTH} lowercase letters or digits, optionally joined by single hyphens "
        "(it goes into ALB names limited to 32 characters)"
    )

    def parse(self, text: str) -> str:
        if len(text) > SUFFIX_MAX_LENGTH or not re.match(r"^[a-z0-9]+(-[a-z0-9]+)*$", text):
            raise _Invalid(f"must be {self.allowed}")
        return text


@dataclass(frozen=True)
class Region(Parser):
    service: str

    @property
    def allowed(self) -> str:
        return f"an AWS region where botocore's endpoint data lists {self.service}, such as us-east-1 or eu-central-1"

    def parse(self, text: str) -> str:
        if text not in _regions_by_partition(self.service):
            raise _Invalid(f"must be {self.allowed}")
        return text


@dataclass(frozen=True)
class Network(Parser):
    low: int
    high: int
    rfc1918_only: bool = False

    @property
    def allowed(self) -> str:
        space = " inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (RFC 1918)" if self.rfc1918_only else ""
        return f"an IPv4 network in CIDR form with no host bits, /{self.low} to /{self.high}{space}"

    def parse(self, text: str) -> str:
        try:
            network = ipaddress.IPv4Network(text, strict=True)
        except ValueError:
            raise _Invalid(f"must be {self.allowed}, e.g. 10.40.0.0/16") from None
        if not self.low <= network.prefixlen <= self.high:
            raise _Invalid(f"prefix length must be from /{self.low} to /{self.high}")
        if self.rfc1918_only and not any(network.subnet_of(block) for block in RFC1918_NETWORKS):
            raise _Invalid(f"must be private address space: {self.allowed}")
        return str(network)


def _dns_name_problem(name: str) -> str | None:
    """Why `name` (lowercase, no trailing dot) is not a DNS host name, or None when it is one."""
    if not name or len(name) > 253:
        return "a DNS name is 1-253 characters"
    labels = name.split(".")
    bad = next((label for label in labels if not _DNS_LABEL.match(label)), None)
    if bad is not None:
        return (
            f"label {bad!r} is not 1-63 letters, digits or inner hyphens" if bad else "a DNS name has no empty labels"
        )
    if labels[-1].isdigit():
        return "the last label of a host name is not all digits (that would be an IP address)"
    return None


def _as_ipv4(text: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return None


class HostOrAddress(Parser):
    allowed = "a DNS host name or an IPv4 address"

    def parse(self, text: str) -> str:
        if _as_ipv4(text):
            return str(ipaddress.IPv4Address(text))
        name = text.lower().removesuffix(".")
        problem = _dns_name_problem(name)
        if problem:
            raise _Invalid(f"must be {self.allowed}: {problem}")
        return name


class ZoneName(Parser):
    allowed = "a DNS name of at least two labels, not under an AWS service domain (amazonaws.com, aws, ...)"

    def parse(self, text: str) -> str:
        name = text.lower().removesuffix(".")
        problem = _dns_name_problem(name) or (None if "." in name else "a zone name has at least two labels")
        if problem:
            raise _Invalid(f"must be {self.allowed}: {problem}")
        reserved = next(
            (suffix for suffix in _aws_endpoint_suffixes() if name == suffix or name.endswith("." + suffix)), None
        )
        if reserved:
            raise _Invalid(
                f"{name} lies under the AWS service domain {reserved}: a private zone there would "
                "shadow AWS endpoints for everything in the VPC"
            )
        return name


class RecordLabel(Parser):
    allowed = "one DNS label (letters, digits, inner hyphens); the record lies inside HOSTED_ZONE_NAME"

    def parse(self, text: str) -> str:
        label = text.lower()
        if not _DNS_LABEL.match(label):
            raise _Invalid(f"must be {self.allowed}")
        return label


def _comma_items(text: str) -> list[str]:
    """The items of a comma-separated list, stripped; an empty item stays (as '')."""
    return [part.strip() for part in text.split(",")]


class CommaList(Parser):
    """A comma-separated list: parsed into a tuple, shown (in the README and refusals) joined by commas."""

    def render(self, value: tuple[str, ...]) -> str:
        return ",".join(value)


class LegacyEndpoint(Parser):
    allowed = (
        "a DNS host name, or a comma-separated list of distinct IPv4 addresses that are all private "
        "(RFC 1918: reached over the VPN, no health check) or all globally routable (health-checked)"
    )

    def parse(self, text: str) -> str:
        parts = _comma_items(text)
        name = parts[0].lower().removesuffix(".")
        if any(":" in part for part in parts):
            raise _Invalid("IPv6 is not supported: the legacy record is an A record (IPv4 only)")
        if len(parts) == 1 and not _as_ipv4(name) and not name.split(".")[-1].isdigit():
            problem = _dns_name_problem(name)
            if problem:
                raise _Invalid(f"must be {self.allowed}: {problem}")
            return name
        addresses = [self._address(part, in_list=len(parts) > 1) for part in parts]
        duplicates = sorted({str(address) for address in addresses if addresses.count(address) > 1})
        if duplicates:
            raise _Invalid(f"lists {', '.join(duplicates)} more than once: one record holds distinct addresses")
        if len({legacy_address_is_private(address) for address in addresses}) > 1:
            raise _Invalid(
                "mixes private (RFC 1918) and globally routable addresses: one record has one "
                "reachability class (private ones get no health check, global ones do)"
            )
        return ",".join(map(str, addresses))

    @staticmethod
    def _address(part: str, *, in_list: bool) -> ipaddress.IPv4Address:
        address = _as_ipv4(part)
        if address is None and in_list:
            raise _Invalid(
                f"{part!r} is not an IPv4 address: a list holds IPv4 addresses only (a host name stands alone)"
            )
        if address is None:
            raise _Invalid(
                f"{part!r} is neither an IPv4 address nor a host name (a host name's last label is not all digits)"
            )
        if legacy_address_is_private(address):
            return address
        reason = unroutable_reason(address)
        if reason:
            raise _Invalid(
                f"{address} is {reason}: neither private (RFC 1918, reached over the VPN) nor "
                "globally routable (health-checked from the internet)"
            )
        return address


def unroutable_reason(address: ipaddress.IPv4Address) -> str | None:
    """Why an address that is not RFC 1918 cannot be reached from the internet, or None when it can."""
    unroutable = next((name for network, name in UNROUTABLE_NETWORKS if address in network), None)
    if unroutable or not address.is_global:
        return unroutable or "not globally routable"
    return None


class AddressList(CommaList):
    allowed = "a comma-separated list of 1-6 distinct IPv4 addresses"

    def parse(self, text: str) -> tuple[str, ...]:
        addresses = [_as_ipv4(part) for part in _comma_items(text)]
        if not 1 <= len(addresses) <= 6 or None in addresses or len(set(addresses)) != len(addresses):
            raise _Invalid(f"must be {self.allowed}")
        return tuple(str(address) for address in addresses)


class PrivateAddressList(AddressList):
    """Addresses an ALB may have as IP targets outside its VPC: RFC 1918 or RFC 6598 only.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#target-type
    """

    allowed = (
        "a comma-separated list of 1-6 distinct private IPv4 addresses (RFC 1918, or RFC 6598 shared "
        "space 100.64.0.0/10): ALB IP targets outside the VPC must be private"
    )

    def parse(self, text: str) -> tuple[str, ...]:
        addresses = super().parse(text)
        public = [address for address in addresses if not alb_ip_target_allowed(ipaddress.IPv4Address(address))]
        if public:
            raise _Invalid(f"{', '.join(public)} is not private: must be {self.allowed}")
        return addresses


class CutoverTables(CommaList):
    allowed = "a comma-separated list of lower-case schema.table names (PostgreSQL identifiers, no wildcard)"

    def parse(self, text: str) -> tuple[str, ...]:
        entries = tuple(item for item in _comma_items(text) if item)
        identifier = r"[a-z_][a-z0-9_$]{0,62}"
        if not entries or not all(re.fullmatch(rf"{identifier}\.{identifier}", entry) for entry in entries):
            raise _Invalid(f"must be {self.allowed}")
        if len(set(entries)) != len(entries):
            raise _Invalid("lists a table more than once")
        return entries


class PublicAddress(Parser):
    allowed = "a globally routable IPv4 address (not RFC 1918, loopback, CGNAT, documentation or reserved)"

    def parse(self, text: str) -> str:
        address = _as_ipv4(text)
        if address is None:
            raise _Invalid(f"must be {self.allowed}")
        reason = "private (RFC 1918)" if legacy_address_is_private(address) else unroutable_reason(address)
        if reason:
            raise _Invalid(f"{address} is {reason}: must be {self.allowed}")
        return str(address)


class ZoneIds(CommaList):
    allowed = (
        f"{ZONE_COUNT} distinct Availability Zone ids of the region, comma-separated, such as "
        "use1-az1,use1-az2,use1-az4 (`aws ec2 describe-availability-zones` lists them)"
    )

    def parse(self, text: str) -> tuple[str, ...]:
        ids = tuple(item.lower() for item in _comma_items(text))
        if (
            len(ids) != ZONE_COUNT
            or len(set(ids)) != ZONE_COUNT
            or not all(re.match(r"^[a-z]+[0-9]+-az[0-9]+$", zone_id) for zone_id in ids)
        ):
            raise _Invalid(f"must be {self.allowed}")
        return ids


class BgpAsn(Parser):
    allowed = (
        "a BGP ASN from 1 to 2147483647 (a private one, 64512-65534, unless you own a public one), "
        f"not one AWS reserves ({', '.join(map(str, AWS_RESERVED_ASNS))})"
    )

    def parse(self, text: str) -> int:
        if not _ASCII_INT.match(text) or not 1 <= int(text) <= 2147483647 or int(text) in AWS_RESERVED_ASNS:
            raise _Invalid(f"must be {self.allowed}")
        return int(text)


class BucketName(Parser):
    allowed = (
        "an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a "
        "letter or digit, no '..', not an IP address, no reserved prefix (xn--, sthree-, amzn-s3-demo-) "
        "or suffix (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3)"
    )

    def parse(self, text: str) -> str:
        if (
            not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", text)
            or ".." in text
            or _as_ipv4(text)
            or text.startswith(S3_RESERVED_PREFIXES)
            or text.endswith(S3_RESERVED_SUFFIXES)
        ):
            raise _Invalid(f"must be {self.allowed}")
        return text


class S3ObjectUri(Parser):
    allowed = (
        "an S3 object URI s3://<bucket>/<key>: a valid bucket name, then a key of 1-1024 bytes "
        "without control characters that does not end with '/'"
    )

    def parse(self, text: str) -> str:
        if not text.startswith("s3://"):
            raise _Invalid(f"must be {self.allowed}")
        bucket, slash, key = text[len("s3://") :].partition("/")
        try:
            BucketName().parse(bucket)
        except _Invalid:
            raise _Invalid(f"bucket {bucket!r} is not an S3 bucket name; must be {self.allowed}") from None
        if (
            not slash
            or not key
            or len(key.encode()) > 1024
            or key.endswith("/")
            or any(ord(char) < 32 or ord(char) == 127 for char in key)
        ):
            raise _Invalid(f"key {key!r} is not an object key; must be {self.allowed}")
        return text


class DatabaseName(Parser):
    allowed = (
        "a lowercase PostgreSQL database name: a letter, then letters, digits or _, at most 63 "
        "characters, not a PostgreSQL reserved word, not postgres/template0/template1/rdsadmin"
    )

    def parse(self, text: str) -> str:
        # RDS also accepts upper case, but PostgreSQL folds unquoted names: lowercase only,
        # so psql, DMS and the Data API all name the same database.
        if not re.match(r"^[a-z][a-z0-9_]{0,62}$", text):
            raise _Invalid(f"must be {self.allowed}")
        if text in POSTGRES_RESERVED_WORDS:
            raise _Invalid(f"{text} is a PostgreSQL reserved word (RDS refuses it as DatabaseName)")
        if text in EXISTING_DATABASES:
            raise _Invalid(f"{text} already exists in every Aurora PostgreSQL cluster")
        return text


class TableMappings(CommaList):
    allowed = (
        "a comma-separated list of schema.table patterns (letters, digits, _ and the % wildcard), "
        "e.g. public.%,billing.invoices"
    )

    def parse(self, text: str) -> tuple[str, ...]:
        entries = tuple(item for item in _comma_items(text) if item)
        if not entries or not all(re.match(r"^[A-Za-z0-9_%]+\.[A-Za-z0-9_%]+$", entry) for entry in entries):
            raise _Invalid(f"must be {self.allowed}")
        return entries


class Email(Parser):
    allowed = "an e-mail address (local part @ a DNS domain of at least two labels)"

    def parse(self, text: str) -> str:
        local, at, domain = text.rpartition("@")
        domain = domain.lower().removesuffix(".")
        local_ok = (
            re.match(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$", local)
            and ".." not in local
            and not local.startswith(".")
            and not local.endswith(".")
        )
        tld = domain.rsplit(".", 1)[-1]
        if not (at and local_ok and "." in domain and not _dns_name_problem(domain) and tld.isalpha()):
            raise _Invalid(f"must be {self.allowed}")
        return text


@dataclass(frozen=True)
class EngineVersion(Parser):
    releases: tuple[EngineRelease, ...]
    closes_meaning: str

    @property
    def allowed(self) -> str:
        return _one_of(_open_versions(self.releases))

    def parse(self, text: str) -> str:
        release = next((release for release in self.releases if release.version == text), None)
        if release is None:
            raise _Invalid(f"must be {self.allowed}")
        if release.version not in _open_versions(self.releases):
            raise _Invalid(
                f"{text} is past its {self.closes_meaning}, {release.closes} (release table read "
                f"{RELEASES_READ_ON}); must be {self.allowed}"
            )
        return text


class DmsInstanceClass(Parser):
    allowed = "a DMS replication instance class dms.<family>.<size>, families t2 t3 c4 c5 c6i r4 r5 r6i"

    def parse(self, text: str) -> str:
        if text not in DMS_INSTANCE_CLASSES:
            raise _Invalid(
                f"must be {self.allowed} (e.g. dms.r5.large; the list is DMS_INSTANCE_CLASSES in lib/config.py)"
            )
        return text


_TAG_VALUE = Pattern(re.compile(r"^[\w .:/=+@-]{1,128}$"), "1-128 letters, digits, spaces or . : / = + @ - _")
_ACM_ARN = re.compile(r"^arn:(aws[a-z-]*):acm:([a-z0-9-]+):[0-9]{12}:certificate/[A-Za-z0-9-]+$")
_SECRET_ARN = re.compile(r"^arn:(aws[a-z-]*):secretsmanager:([a-z0-9-]+):[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$")


# --- the spec table -----------------------------------------------------------------------


@dataclass(frozen=True)
class Derived:
    """A default computed from settings declared above it; `doc` is how the README shows it."""

    doc: str
    compute: Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class SettingSpec:
    env: str
    parser: Parser
    dev: Any
    prod: Any
    description: str

    def default(self, profile: str, earlier: Mapping[str, Any]) -> Any:
        chosen = self.prod if profile == "prod" else self.dev
        return chosen.compute(earlier) if isinstance(chosen, Derived) else chosen

    def render_default(self, profile: str) -> str:
        chosen = self.prod if profile == "prod" else self.dev
        if isinstance(chosen, Derived):
            return chosen.doc
        return "–" if chosen is None else f"`{self.parser.render(chosen)}`"


_SAME_AS_DEV = object()


def setting(env: str, parser: Parser, *, dev: Any, prod: Any = _SAME_AS_DEV, description: str) -> Any:
    """One setting: a Settings field that carries its variable, parser, defaults and description."""
    spec = SettingSpec(env, parser, dev, dev if prod is _SAME_AS_DEV else prod, description)
    return field(metadata={"spec": spec})


def _private_legacy_ips(legacy_endpoint: str | None) -> tuple[str, ...] | None:
    parts = (legacy_endpoint or "").split(",")
    addresses = [address for address in map(_as_ipv4, parts) if address is not None]
    if not legacy_endpoint or len(addresses) != len(parts) or not all(map(alb_ip_target_allowed, addresses)):
        return None
    return tuple(map(str, addresses))


def _onprem_default_host(earlier: Mapping[str, Any]) -> str:
    return str(ipaddress.IPv4Network(earlier["onprem_cidr"]).network_address + 10)


@dataclass(frozen=True)
class Settings:
    """Everything the stack needs to know, already validated. Declaration order is parse order:
    a Derived default may read any setting above it."""

    environment: str = setting(
        "ENVIRONMENT",
        Choice(PROFILES),
        dev="dev",
        prod="prod",
        description="profile: picks every default in the prod column",
    )
    environment_suffix: str = setting(
        "ENVIRONMENT_SUFFIX",
        Suffix(),
        dev="dev",
        prod="prod",
        description="suffix of every name (`payments-<suffix>-…`) and of the stack and its state",
    )
    aws_region: str = setting("AWS_REGION", Region("dms"), dev="us-east-1", description="region of every resource")
    availability_zone_ids: tuple[str, ...] | None = setting(
        "AVAILABILITY_ZONE_IDS",
        ZoneIds(),
        dev=Derived(
            "per region in `DEFAULT_ZONE_IDS` (lib/config.py), e.g. `use1-az6,use1-az1,use1-az2` in "
            "us-east-1; required in other regions",
            lambda s: DEFAULT_ZONE_IDS.get(s["aws_region"]),
        ),
        description="the zones of the subnets, Aurora and DMS, by zone id (names differ per account); pinned, so "
        "a change in the region's zone list never moves a deployed resource",
    )
    target: str = setting(
        "TARGET",
        Choice(TARGETS),
        dev="local",
        description="`local` (emulator on 127.0.0.1) or `aws` (real account; needs `CERTIFICATE_ARN`)",
    )
    local_aws_port: int = setting(
        "LOCAL_AWS_PORT", Integer(1024, 65535), dev=4566, description="emulator port on the local target"
    )
    vpc_cidr: str = setting(
        "VPC_CIDR",
        Network(16, 20, rfc1918_only=True),
        dev="10.40.0.0/16",
        description="VPC range, split into 9 subnets",
    )
    onprem_cidr: str = setting(
        "ONPREM_CIDR",
        Network(8, 28),
        dev="192.168.0.0/16",
        description="on-premises network; DMS may reach PostgreSQL there, nothing else; must not overlap `VPC_CIDR`",
    )
    nat_gateways: int = setting(
        "NAT_GATEWAYS", Integer(1, 3), dev=1, prod=3, description="NAT gateways; private route tables spread over them"
    )
    log_retention_days: int = setting(
        "LOG_RETENTION_DAYS",
        OneOfNumbers(LOG_RETENTION_DAYS),
        dev=365,
        prod=2557,
        description=f"CloudWatch Logs retention (prod: at least {PROD_MIN_LOG_RETENTION_DAYS})",
    )
    state_bucket: str | None = setting(
        "TERRAFORM_STATE_BUCKET",
        BucketName(),
        dev=None,
        description="S3 backend bucket (encrypted, lock file); local state when unset",
    )
    state_bucket_region: str = setting(
        "TERRAFORM_STATE_BUCKET_REGION",
        Region("s3"),
        dev=Derived("`AWS_REGION`", lambda s: s["aws_region"]),
        description="region of the state bucket",
    )
    cost_center: str = setting("COST_CENTER", _TAG_VALUE, dev="payments-platform", description="cost-allocation tag")
    owner: str = setting("OWNER", _TAG_VALUE, dev="platform-team", description="owner tag")
    deletion_protection: bool = setting(
        "DELETION_PROTECTION",
        Boolean(),
        dev=False,
        prod=True,
        description="deletion protection of Aurora and the ALB (prod: must stay true)",
    )
    db_engine_version: str = setting(
        "DB_ENGINE_VERSION",
        EngineVersion(AURORA_POSTGRES_RELEASES, AURORA_CLOSES_MEANING),
        dev="15.10",
        description="Aurora PostgreSQL version (15.10 is the long-term-support minor of 15)",
    )
    db_min_acu: float = setting(
        "DB_MIN_ACU", Capacity(), dev=0.5, prod=1.0, description="Serverless v2 minimum capacity (at most `DB_MAX_ACU`)"
    )
    db_max_acu: float = setting(
        "DB_MAX_ACU", Capacity(), dev=2.0, prod=8.0, description="Serverless v2 maximum capacity"
    )
    db_readers: int = setting(
        "DB_READERS", Integer(0, 15), dev=1, description="reader instances, spread over the AZs (prod: at least 1)"
    )
    db_backup_retention_days: int = setting(
        "DB_BACKUP_RETENTION_DAYS", Integer(1, 35), dev=35, description="automated backups (prod: must be 35)"
    )
    db_name: str = setting(
        "DB_NAME", DatabaseName(), dev="payments", description="database the stack creates in Aurora"
    )
    dms_instance_class: str = setting(
        "DMS_INSTANCE_CLASS",
        DmsInstanceClass(),
        dev="dms.t3.medium",
        prod="dms.r5.large",
        description="replication instance class",
    )
    dms_engine_version: str = setting(
        "DMS_ENGINE_VERSION",
        EngineVersion(DMS_RELEASES, DMS_CLOSES_MEANING),
        dev="3.6.1",
        description="DMS engine; versions past their no-new-instance date are refused",
    )
    dms_allocated_storage: int = setting(
        "DMS_ALLOCATED_STORAGE", Integer(5, 6144), dev=50, prod=100, description="replication instance storage (GiB)"
    )
    # DMS looks up dms-vpc-role by that exact name: one per account, not per stack. Every suffix
    # after the first would fail with EntityAlreadyExists, so no stack creates them by default: a real
    # account has them (the deploy preflight checks), and the emulator's account starts with them.
    create_dms_service_roles: bool = setting(
        "CREATE_DMS_SERVICE_ROLES",
        Boolean(),
        dev=False,
        description="create the account-wide `dms-vpc-role` and `dms-cloudwatch-logs-role` (only in an account "
        "that has neither, for one stack); otherwise they must exist, which a `TARGET=aws` deploy "
        "checks first",
    )
    onprem_db_host: str = setting(
        "ONPREM_DB_HOST",
        HostOrAddress(),
        dev=Derived("10th address of `ONPREM_CIDR` (`192.168.0.10`)", _onprem_default_host),
        description="source PostgreSQL host (an IP must lie inside `ONPREM_CIDR`)",
    )
    onprem_db_port: int = setting("ONPREM_DB_PORT", Integer(1, 65535), dev=5432, description="source PostgreSQL port")
    onprem_db_name: str = setting(
        "ONPREM_DB_NAME",
        Pattern(
            re.compile(r"^[a-z_][a-z0-9_]{0,62}$"), "a PostgreSQL identifier (lowercase letters, digits, _; at most 63)"
        ),
        dev="payments",
        description="source database",
    )
    onprem_db_secret_arn: str | None = setting(
        "ONPREM_DB_SECRET_ARN",
        Pattern(_SECRET_ARN, "a Secrets Manager secret ARN"),
        dev=None,
        description="existing secret with the source credentials (same partition); otherwise the stack "
        "creates an empty one",
    )
    onprem_customer_gateway_ip: str | None = setting(
        "ONPREM_CUSTOMER_GATEWAY_IP",
        PublicAddress(),
        dev=None,
        description="public address of the on-premises VPN device: the stack builds a Site-to-Site VPN (virtual "
        "private gateway, customer gateway, connection) and routes `ONPREM_CIDR` from the private "
        "subnets (Lambda, DMS) through it",
    )
    onprem_bgp_asn: int | None = setting(
        "ONPREM_BGP_ASN",
        BgpAsn(),
        dev=None,
        description="BGP ASN of the on-premises VPN device: dynamic routing over the VPN; unset, the VPN has a "
        "static route to `ONPREM_CIDR` (needs `ONPREM_CUSTOMER_GATEWAY_IP`)",
    )
    onprem_transit_gateway_id: str | None = setting(
        "ONPREM_TRANSIT_GATEWAY_ID",
        Pattern(re.compile(r"^tgw-[0-9a-f]{8,17}$"), "a Transit Gateway id such as tgw-0123456789abcdef0"),
        dev=None,
        description="existing Transit Gateway (shared with this account) that reaches on-premises: the stack "
        "attaches the private subnets and routes `ONPREM_CIDR` through it; instead of a VPN",
    )
    onprem_routes_managed_outside: bool = setting(
        "ONPREM_ROUTES_MANAGED_OUTSIDE",
        Boolean(),
        dev=False,
        description="`true` when routes to `ONPREM_CIDR` are managed outside the stack (Direct Connect, a "
        "shared network team); on `TARGET=aws` one of this, `ONPREM_CUSTOMER_GATEWAY_IP` or "
        "`ONPREM_TRANSIT_GATEWAY_ID` is required",
    )
    onprem_dns_servers: tuple[str, ...] | None = setting(
        "ONPREM_DNS_SERVERS",
        AddressList(),
        dev=None,
        description="on-premises DNS servers (inside `ONPREM_CIDR`); required when `ONPREM_DB_HOST` is a host "
        "name: a Route53 Resolver outbound endpoint forwards its domain to them",
    )
    dms_table_mappings: tuple[str, ...] = setting(
        "DMS_TABLE_MAPPINGS", TableMappings(), dev=("public.%",), description="`schema.table` patterns to replicate"
    )
    certificate_arn: str | None = setting(
        "CERTIFICATE_ARN",
        Pattern(_ACM_ARN, "an ACM certificate ARN (arn:<partition>:acm:<region>:<account>:certificate/<id>)"),
        dev=None,
        description="ACM certificate in the stack's region: HTTPS on 443 + redirect on 80. **Required on "
        "`TARGET=aws`**; without it (local target only) plain HTTP on 80",
    )
    alb_internal: bool = setting(
        "ALB_INTERNAL",
        Boolean(),
        dev=False,
        description="internal ALB in the private subnets (ingress from the VPC only); the only kind whose records "
        "may live in a private zone",
    )
    client_ca_bundle_s3_uri: str | None = setting(
        "CLIENT_CA_BUNDLE_S3_URI",
        S3ObjectUri(),
        dev=None,
        description="PEM bundle of the CA certificates that sign the merchants' client certificates "
        "(`s3://bucket/key`): the ALB's trust store; the HTTPS listener then verifies client "
        "certificates (mutual TLS, `verify` mode; needs `CERTIFICATE_ARN`). **Required on `TARGET=aws` "
        "with `ENVIRONMENT=prod` unless `ALB_INTERNAL`**",
    )
    client_identity: str = setting(
        "CLIENT_IDENTITY",
        Choice(IDENTITY_MODES),
        dev=Derived(
            "`mtls` with `CLIENT_CA_BUNDLE_S3_URI`, else `header`",
            lambda s: "mtls" if s["client_ca_bundle_s3_uri"] else "header",
        ),
        description="where the API takes the merchant id from: `mtls` = the CN of the client certificate the ALB "
        "verified; `header` = `X-Merchant-Id` as the client sends it (local, dev or internal ALB "
        "only: refused for a public prod ALB)",
    )
    legacy_endpoint: str | None = setting(
        "LEGACY_ENDPOINT",
        LegacyEndpoint(),
        dev=None,
        description="legacy system: IPv4 list (A records) or host name (CNAMEs); adds the `legacy` record; "
        "globally routable addresses and host names get a Route53 health check, RFC 1918 ones do not",
    )
    hosted_zone_name: str = setting(
        "HOSTED_ZONE_NAME",
        ZoneName(),
        dev=Derived("`payments-<suffix>.internal`", lambda s: f"payments-{s['environment_suffix']}.internal"),
        description="private zone created for the records (local target, or an internal ALB); with "
        "`HOSTED_ZONE_ID`, the name of that zone (required)",
    )
    hosted_zone_id: str | None = setting(
        "HOSTED_ZONE_ID",
        Pattern(re.compile(r"^Z[A-Z0-9]{1,31}$"), "a Route53 hosted zone id such as Z0123456789ABC"),
        dev=None,
        description="use this existing zone instead of creating one: the zone the API's clients resolve in. "
        "**Required on `TARGET=aws` for an internet-facing ALB** (an existing public zone)",
    )
    api_record_name: str = setting(
        "API_RECORD_NAME", RecordLabel(), dev="api", description="record label inside the zone"
    )
    new_system_weight: int = setting(
        "NEW_SYSTEM_WEIGHT",
        Integer(0, 100),
        dev=Derived("`0` with `LEGACY_ENDPOINT`, else `100`", lambda s: 0 if s["legacy_endpoint"] else 100),
        description="weight of `new` when the records are created, and only then: the cutover owns the weights "
        "afterwards (`ignore_changes`), so changing it later changes nothing; legacy gets the rest",
    )
    legacy_write_ips: tuple[str, ...] | None = setting(
        "LEGACY_WRITE_IPS",
        PrivateAddressList(),
        dev=Derived(
            "`LEGACY_ENDPOINT` when it lists private addresses", lambda s: _private_legacy_ips(s["legacy_endpoint"])
        ),
        description="the legacy API's private addresses over the VPN or Transit Gateway, inside `ONPREM_CIDR`: the "
        "ALB's `legacy` IP target group, where the write rule sends writes while legacy is the writer. **Required "
        "with a `LEGACY_ENDPOINT` that is a host name or public addresses**",
    )
    cutover_tables: tuple[str, ...] = setting(
        "CUTOVER_TABLES",
        CutoverTables(),
        dev=("public.payments",),
        description="the tables the reverse task carries back to legacy after the flip and the rollback fences; "
        "each must be replicated by `DMS_TABLE_MAPPINGS`",
    )
    cutover_max_pause_seconds: int = setting(
        "CUTOVER_MAX_PAUSE_SECONDS",
        Integer(5, 120),
        dev=20,
        description="hard limit of the write pause of a flip or rollback (docs/cutover.md); the driver's timeout "
        "is this + 60 s, rollback's twice this + 60 s",
    )
    payment_api_reserved_concurrency: int | None = setting(
        "PAYMENT_API_RESERVED_CONCURRENCY",
        Integer(50, 1000, off_words=("off", "none", "0")),
        dev=50,
        description="reserved concurrency of the API; `off` leaves it unreserved (shares the account pool)",
    )
    cdc_latency_threshold_seconds: int = setting(
        "CDC_LATENCY_THRESHOLD_SECONDS",
        Integer(1, 86400),
        dev=300,
        description="CDC latency the validator and the critical alarm accept",
    )
    alarm_email: str | None = setting(
        "ALARM_EMAIL", Email(), dev=None, description="e-mail subscribed to both alert topics"
    )

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
        """The legacy endpoint's IPv4 addresses, or () when it is a host name or unset."""
        if not self.legacy_endpoint or not _as_ipv4(self.legacy_endpoint.split(",")[0]):
            return ()
        return tuple(self.legacy_endpoint.split(","))

    @property
    def legacy_health_checked_ips(self) -> tuple[str, ...]:
        """Legacy addresses Route53 can health-check: the globally routable ones (never RFC 1918)."""
        return tuple(ip for ip in self.legacy_ips if not legacy_address_is_private(ipaddress.IPv4Address(ip)))

    @property
    def onprem_link(self) -> str | None:
        """How the VPC reaches ONPREM_CIDR: "vpn", "transit_gateway", "outside" (managed elsewhere) or None."""
        if self.onprem_customer_gateway_ip:
            return "vpn"
        if self.onprem_transit_gateway_id:
            return "transit_gateway"
        return "outside" if self.onprem_routes_managed_outside else None

    @property
    def onprem_dns_domain(self) -> str | None:
        """The domain forwarded to the on-premises DNS servers: ONPREM_DB_HOST's parent domain (the host
        itself when it has only two labels), or None when ONPREM_DB_HOST is an address."""
        if _as_ipv4(self.onprem_db_host):
            return None
        labels = self.onprem_db_host.split(".")
        return ".".join(labels[1:]) if len(labels) > 2 else self.onprem_db_host

    @property
    def listener_ports(self) -> tuple[int, ...]:
        """Ports the ALB listens on: 80 alone, or 443 plus 80 for the redirect."""
        return (80, 443) if self.certificate_arn else (80,)

    @property
    def client_ca_bundle_location(self) -> tuple[str, str] | None:
        """(bucket, key) of the client CA bundle, or None without mutual TLS."""
        if not self.client_ca_bundle_s3_uri:
            return None
        bucket, _, key = self.client_ca_bundle_s3_uri[len("s3://") :].partition("/")
        return bucket, key

    @property
    def secret_recovery_window_days(self) -> int:
        """0 outside prod, so a destroyed suffix can be deployed again at once; 30 in prod."""
        return 30 if self.is_prod else 0


def setting_specs() -> tuple[tuple[str, SettingSpec], ...]:
    """(Settings attribute, spec) for every setting, in declaration (= parse) order."""
    return tuple((item.name, item.metadata["spec"]) for item in fields(Settings))


# --- loading --------------------------------------------------------------------------------

_REQUIRED = "required"  # first word of a rule's reason when the setting is missing, not wrong


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Builds validated settings from environment variables (``os.environ`` by default).
    A blank value counts as unset."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, spec in setting_specs():
        text = environ.get(spec.env)
        if text is None or not text.strip():
            values[name] = spec.default(values.get("environment", "dev"), values)
            continue
        try:
            values[name] = spec.parser.parse(text.strip())
        except _Invalid as invalid:
            raise _refusal(spec.env, text, invalid.reason) from None
    settings = Settings(**values)
    for env, reason in _broken_rules(settings, given={env for env, text in environ.items() if text.strip()}):
        raise _refusal(env, _shown_value(settings, environ, env, required=reason.startswith(_REQUIRED)), reason)
    return settings


def _shown_value(settings: Settings, environ: Mapping[str, str], env: str, *, required: bool) -> str:
    """What the user set; when unset or blank, '' for a missing required setting, else the default in force."""
    text = environ.get(env)
    if text is not None and (text.strip() or required):
        return text
    if required:
        return ""
    name, spec = next(item for item in setting_specs() if item[1].env == env)
    value = getattr(settings, name)
    return "" if value is None else spec.parser.render(value)


def _broken_rules(s: Settings, *, given: set[str]) -> Iterator[tuple[str, str]]:
    """The rules that read more than one setting, as (variable to change, reason). A reason that
    starts with _REQUIRED refuses a missing value, shown as ''."""
    vpc, onprem = ipaddress.IPv4Network(s.vpc_cidr), ipaddress.IPv4Network(s.onprem_cidr)
    if vpc.overlaps(onprem):
        yield "ONPREM_CIDR", f"must not overlap VPC_CIDR ({vpc}): routing to on-premises would be ambiguous"
    if _as_ipv4(s.onprem_db_host) and ipaddress.IPv4Address(s.onprem_db_host) not in onprem:
        yield (
            "ONPREM_DB_HOST",
            (f"an IP address must lie inside ONPREM_CIDR ({onprem}): DMS may only reach the on-premises network"),
        )
    if any(ipaddress.IPv4Address(ip) in vpc for ip in s.legacy_ips):
        yield "LEGACY_ENDPOINT", f"must not lie inside VPC_CIDR ({vpc}): the legacy system is not in the VPC"
    if s.db_min_acu > s.db_max_acu:
        yield "DB_MIN_ACU", f"must not exceed DB_MAX_ACU ({s.db_max_acu})"
    if s.hosted_zone_id and "HOSTED_ZONE_NAME" not in given:
        yield "HOSTED_ZONE_NAME", f"{_REQUIRED} with HOSTED_ZONE_ID: the name of that existing zone"
    partition = region_partition(s.aws_region)
    if s.target == "aws" and not s.certificate_arn:
        yield "CERTIFICATE_ARN", f"{_REQUIRED} on TARGET=aws: a real account never gets a plaintext payments API"
    certificate = _ACM_ARN.match(s.certificate_arn or "")
    if certificate and certificate.group(1) != partition:
        yield "CERTIFICATE_ARN", f"must be in the partition of {s.aws_region} ({partition})"
    elif certificate and certificate.group(2) != s.aws_region:
        yield (
            "CERTIFICATE_ARN",
            (f"must be in the stack's region {s.aws_region}: an ALB only uses certificates from its own region"),
        )
    yield from _client_identity_rules(s, given)
    yield from _zone_rules(s)
    secret = _SECRET_ARN.match(s.onprem_db_secret_arn or "")
    if secret and secret.group(1) != partition:
        yield "ONPREM_DB_SECRET_ARN", f"must be in the partition of {s.aws_region} ({partition})"
    yield from _onprem_rules(s, onprem)
    if s.is_prod and s.db_readers < 1:
        yield "DB_READERS", "must be at least 1 in prod (a reader in another AZ)"
    if s.is_prod and s.db_backup_retention_days < 35:
        yield "DB_BACKUP_RETENTION_DAYS", "must be 35 in prod"
    if s.is_prod and s.log_retention_days < PROD_MIN_LOG_RETENTION_DAYS:
        yield "LOG_RETENTION_DAYS", f"must be at least {PROD_MIN_LOG_RETENTION_DAYS} in prod"
    if s.is_prod and not s.deletion_protection:
        yield "DELETION_PROTECTION", "must be true in prod"
    yield from _cutover_rules(s, onprem)
    yield from _hosted_zone_rules(s)


def _zone_rules(s: Settings) -> Iterator[tuple[str, str]]:
    known = DEFAULT_ZONE_IDS.get(s.aws_region)
    if s.availability_zone_ids is None:
        yield (
            "AVAILABILITY_ZONE_IDS",
            (
                f"{_REQUIRED} in {s.aws_region} (no default zone ids recorded for it): "
                f"{ZONE_COUNT} zone ids from `aws ec2 describe-availability-zones`"
            ),
        )
    elif known and any(not zone_id.startswith(known[0].split("-")[0] + "-") for zone_id in s.availability_zone_ids):
        yield "AVAILABILITY_ZONE_IDS", f"zone ids in {s.aws_region} start with {known[0].split('-')[0]}-"


def _hosted_zone_rules(s: Settings) -> Iterator[tuple[str, str]]:
    """The weighted records live where the clients resolve: a public zone for an internet-facing ALB."""
    if s.target == "aws" and not s.alb_internal and not s.hosted_zone_id:
        yield (
            "HOSTED_ZONE_ID",
            (
                f"{_REQUIRED} on TARGET=aws for an internet-facing ALB (ALB_INTERNAL=false): the "
                "existing public zone the API's clients resolve in (with HOSTED_ZONE_NAME); a "
                "private zone created by the stack is only for ALB_INTERNAL=true"
            ),
        )


def _cutover_rules(s: Settings, onprem: ipaddress.IPv4Network) -> Iterator[tuple[str, str]]:
    """Writes reach legacy through the ALB's legacy IP target group (docs/cutover.md); the reverse task carries
    only tables the forward task replicates."""
    if s.legacy_endpoint and not s.legacy_write_ips:
        yield (
            "LEGACY_WRITE_IPS",
            (
                f"{_REQUIRED} with LEGACY_ENDPOINT={s.legacy_endpoint} (a host name or public "
                "addresses): the legacy API's private addresses over the VPN, where the ALB "
                "forwards writes while legacy is the writer"
            ),
        )
    if s.legacy_write_ips and not s.legacy_endpoint:
        yield "LEGACY_WRITE_IPS", "is only used with LEGACY_ENDPOINT: without a legacy system Aurora is the writer"
    outside = [ip for ip in s.legacy_write_ips or () if ipaddress.IPv4Address(ip) not in onprem]
    if outside:
        yield (
            "LEGACY_WRITE_IPS",
            f"{', '.join(outside)} must lie inside ONPREM_CIDR ({onprem}): the ALB reaches legacy's private "
            "addresses only over the route to on-premises",
        )
    unmatched = [
        table
        for table in s.cutover_tables
        if not any(_matches_pattern(table, pattern) for pattern in s.dms_table_mappings)
    ]
    if unmatched:
        yield (
            "CUTOVER_TABLES",
            (
                f"{', '.join(unmatched)} not replicated by DMS_TABLE_MAPPINGS "
                f"({','.join(s.dms_table_mappings)}): the reverse task carries back only tables "
                "the forward task brought over"
            ),
        )


def _matches_pattern(table: str, pattern: str) -> bool:
    """DMS selection-rule match: `%` is any run of characters."""
    regex = "".join(".*" if char == "%" else re.escape(char) for char in pattern.lower())
    return re.fullmatch(regex, table) is not None


def _onprem_rules(s: Settings, onprem: ipaddress.IPv4Network) -> Iterator[tuple[str, str]]:
    """One way to on-premises (VPN, Transit Gateway, or routes managed elsewhere), and DNS for a host name."""
    if s.onprem_customer_gateway_ip and s.onprem_transit_gateway_id:
        yield (
            "ONPREM_TRANSIT_GATEWAY_ID",
            (
                "must not be set together with ONPREM_CUSTOMER_GATEWAY_IP: one path "
                "to ONPREM_CIDR (a VPN or a Transit Gateway)"
            ),
        )
    if s.onprem_routes_managed_outside and (s.onprem_customer_gateway_ip or s.onprem_transit_gateway_id):
        yield (
            "ONPREM_ROUTES_MANAGED_OUTSIDE",
            (
                "must not be true when the stack builds the path itself "
                "(ONPREM_CUSTOMER_GATEWAY_IP or ONPREM_TRANSIT_GATEWAY_ID)"
            ),
        )
    if s.onprem_bgp_asn is not None and not s.onprem_customer_gateway_ip:
        yield "ONPREM_BGP_ASN", "needs ONPREM_CUSTOMER_GATEWAY_IP: it is the ASN of the VPN's customer gateway"
    if s.target == "aws" and s.onprem_link is None:
        yield (
            "ONPREM_CUSTOMER_GATEWAY_IP",
            (
                f"{_REQUIRED} on TARGET=aws unless ONPREM_TRANSIT_GATEWAY_ID is set or "
                "ONPREM_ROUTES_MANAGED_OUTSIDE=true: DMS must reach ONPREM_CIDR, and no route leads there"
            ),
        )
    if s.onprem_dns_domain and not s.onprem_dns_servers:
        yield (
            "ONPREM_DNS_SERVERS",
            (
                f"{_REQUIRED} with the host name ONPREM_DB_HOST={s.onprem_db_host}: the "
                "on-premises DNS servers that resolve it"
            ),
        )
    if s.onprem_dns_servers and not s.onprem_dns_domain:
        yield "ONPREM_DNS_SERVERS", "is only used with a host name in ONPREM_DB_HOST (it is an IP address)"
    outside = [ip for ip in s.onprem_dns_servers or () if ipaddress.IPv4Address(ip) not in onprem]
    if outside:
        yield "ONPREM_DNS_SERVERS", f"{', '.join(outside)} must lie inside ONPREM_CIDR ({onprem})"


def _client_identity_rules(s: Settings, given: set[str]) -> Iterator[tuple[str, str]]:
    """Mutual TLS needs its trust store and the HTTPS listener; a public prod ALB needs mutual TLS."""
    if s.client_identity == "mtls" and not s.client_ca_bundle_s3_uri:
        yield (
            "CLIENT_CA_BUNDLE_S3_URI",
            (
                f"{_REQUIRED} with CLIENT_IDENTITY=mtls: the CA bundle of the trust store "
                "the ALB verifies client certificates against"
            ),
        )
    elif s.client_ca_bundle_s3_uri and not s.certificate_arn:
        yield "CERTIFICATE_ARN", (f"{_REQUIRED} with CLIENT_CA_BUNDLE_S3_URI: mutual TLS runs on the HTTPS listener")
    elif s.client_ca_bundle_s3_uri and s.client_identity == "header":
        yield (
            "CLIENT_IDENTITY",
            (
                "must be mtls with CLIENT_CA_BUNDLE_S3_URI: the ALB verifies client certificates "
                "and the merchant is the certificate's CN; a header would let any certified client "
                "claim any merchant"
            ),
        )
    public_prod_alb = s.target == "aws" and s.is_prod and not s.alb_internal
    if public_prod_alb and s.client_identity == "header" and "CLIENT_IDENTITY" in given:
        yield (
            "CLIENT_IDENTITY",
            (
                "refused for a public prod ALB (TARGET=aws, ENVIRONMENT=prod, ALB_INTERNAL=false): "
                "anyone who reaches it could claim any merchant; use mtls with "
                "CLIENT_CA_BUNDLE_S3_URI"
            ),
        )
    elif public_prod_alb and not s.client_ca_bundle_s3_uri:
        yield (
            "CLIENT_CA_BUNDLE_S3_URI",
            (
                f"{_REQUIRED} on TARGET=aws with ENVIRONMENT=prod for a public ALB "
                "(ALB_INTERNAL=false): a public payments API verifies client certificates "
                "(mutual TLS); set ALB_INTERNAL=true for an internal one"
            ),
        )


# --- release-date warnings -------------------------------------------------------------------


def version_warnings(settings: Settings, today: date) -> list[str]:
    """One line per chosen engine version within VERSION_WARNING_DAYS of (or past) its published
    date. Never a failure: the calendar must not break a synth; `today` is passed in."""
    checks = (
        ("DB_ENGINE_VERSION", settings.db_engine_version, AURORA_POSTGRES_RELEASES, AURORA_CLOSES_MEANING),
        ("DMS_ENGINE_VERSION", settings.dms_engine_version, DMS_RELEASES, DMS_CLOSES_MEANING),
    )
    return [
        line
        for name, version, releases, meaning in checks
        if (line := release_warning(name, version, releases, meaning, today))
    ]


def release_warning(
    name: str, version: str, releases: tuple[EngineRelease, ...], closes_meaning: str, today: date
) -> str | None:
    release = next((release for release in releases if release.version == version), None)
    if release is None or release.closes is None or release.closes - today > timedelta(days=VERSION_WARNING_DAYS):
        return None
    days = (release.closes - today).days
    when = f"in {days} days" if days > 0 else "today" if days == 0 else f"{-days} days ago"
    later = [
        other.version
        for other in releases
        if other.closes is None or other.closes - today > timedelta(days=VERSION_WARNING_DAYS)
    ]
    advice = f"choose {' or '.join(later)}" if later else "update the release table in lib/config.py"
    return f"warning: {name}={version}: its {closes_meaning} is {release.closes} ({when}); {advice}"
