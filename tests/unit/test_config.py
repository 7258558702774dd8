"""Settings: every invalid value fails before any construct exists, with one line naming the
setting, the value and what is allowed; every valid one is accepted; defaults follow the profile."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, make_dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

import lib.config
from lib.config import (
    AURORA_POSTGRES_VERSIONS,
    DMS_ENGINE_VERSIONS,
    DMS_RELEASES,
    RELEASES_READ_ON,
    ConfigError,
    Derived,
    EngineRelease,
    Integer,
    Settings,
    load_settings,
    region_partition,
    release_warning,
    setting,
    setting_specs,
    version_warnings,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CERT_US_EAST_1 = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
# What a real account needs besides a certificate: a way to on-premises (here a Site-to-Site VPN).
AWS_TARGET = {
    "TARGET": "aws",
    "CERTIFICATE_ARN": CERT_US_EAST_1,
    "ONPREM_CUSTOMER_GATEWAY_IP": "52.94.76.200",
    "HOSTED_ZONE_ID": "Z0123456789ABC",
    "HOSTED_ZONE_NAME": "example.com",
}
# The legacy API's private address where the ALB sends writes (required with a public or host-name legacy).
WRITE_IPS = {"LEGACY_WRITE_IPS": "192.168.50.20"}

# (environment, setting named in the refusal, text the reason must contain)
INVALID = [
    # profile and names
    ({"ENVIRONMENT": "staging"}, "ENVIRONMENT", "dev, prod"),
    ({"ENVIRONMENT": "Prod"}, "ENVIRONMENT", "dev, prod"),
    ({"ENVIRONMENT_SUFFIX": "Bad Suffix!"}, "ENVIRONMENT_SUFFIX", "lowercase"),
    ({"ENVIRONMENT_SUFFIX": "a" * 17}, "ENVIRONMENT_SUFFIX", "32 characters"),
    ({"ENVIRONMENT_SUFFIX": "pr--1"}, "ENVIRONMENT_SUFFIX", "single hyphens"),
    ({"ENVIRONMENT_SUFFIX": "pr-"}, "ENVIRONMENT_SUFFIX", "single hyphens"),
    ({"ENVIRONMENT_SUFFIX": "dév"}, "ENVIRONMENT_SUFFIX", "lowercase"),
    # regions: botocore's partition data, offline
    ({"AWS_REGION": "useast1"}, "AWS_REGION", "botocore"),
    ({"AWS_REGION": "us-east-1a"}, "AWS_REGION", "botocore"),
    ({"AWS_REGION": "us-east-9"}, "AWS_REGION", "botocore"),
    ({"AWS_REGION": "mars-north-1"}, "AWS_REGION", "botocore"),
    ({"TERRAFORM_STATE_BUCKET_REGION": "mars"}, "TERRAFORM_STATE_BUCKET_REGION", "botocore"),
    ({"TARGET": "gcp"}, "TARGET", "local, aws"),
    # networks
    ({"VPC_CIDR": "10.0.0.0/33"}, "VPC_CIDR", "CIDR"),
    ({"VPC_CIDR": "10.0.0.1/16"}, "VPC_CIDR", "no host bits"),
    ({"VPC_CIDR": "10.0.0.0/24"}, "VPC_CIDR", "/16 to /20"),
    ({"VPC_CIDR": "11.0.0.0/16"}, "VPC_CIDR", "RFC 1918"),
    ({"VPC_CIDR": "100.64.0.0/16"}, "VPC_CIDR", "RFC 1918"),
    ({"VPC_CIDR": "172.32.0.0/16"}, "VPC_CIDR", "RFC 1918"),
    ({"ONPREM_CIDR": "10.40.128.0/17"}, "ONPREM_CIDR", "must not overlap VPC_CIDR"),
    # whole numbers: ASCII digits only, in range
    ({"NAT_GATEWAYS": "0"}, "NAT_GATEWAYS", "from 1 to 3"),
    ({"NAT_GATEWAYS": "4"}, "NAT_GATEWAYS", "from 1 to 3"),
    ({"NAT_GATEWAYS": "two"}, "NAT_GATEWAYS", "whole number"),
    ({"NAT_GATEWAYS": "١"}, "NAT_GATEWAYS", "whole number"),  # Arabic-Indic one: int() would take it
    ({"NAT_GATEWAYS": "２"}, "NAT_GATEWAYS", "whole number"),  # full-width two
    ({"DB_READERS": "1_0"}, "DB_READERS", "whole number"),
    ({"DB_READERS": "+1"}, "DB_READERS", "whole number"),
    ({"DB_READERS": "16"}, "DB_READERS", "from 0 to 15"),
    ({"LOCAL_AWS_PORT": "80"}, "LOCAL_AWS_PORT", "from 1024 to 65535"),
    ({"ONPREM_DB_PORT": "70000"}, "ONPREM_DB_PORT", "from 1 to 65535"),
    ({"ONPREM_DB_PORT": "٥٤٣٢"}, "ONPREM_DB_PORT", "whole number"),
    ({"NEW_SYSTEM_WEIGHT": "101"}, "NEW_SYSTEM_WEIGHT", "from 0 to 100"),
    ({"NEW_SYSTEM_WEIGHT": "-1"}, "NEW_SYSTEM_WEIGHT", "from 0 to 100"),
    ({"PAYMENT_API_RESERVED_CONCURRENCY": "10"}, "PAYMENT_API_RESERVED_CONCURRENCY", "from 50 to 1000"),
    ({"PAYMENT_API_RESERVED_CONCURRENCY": "never"}, "PAYMENT_API_RESERVED_CONCURRENCY", "off"),
    ({"CDC_LATENCY_THRESHOLD_SECONDS": "0"}, "CDC_LATENCY_THRESHOLD_SECONDS", "from 1 to 86400"),
    ({"DMS_ALLOCATED_STORAGE": "4"}, "DMS_ALLOCATED_STORAGE", "from 5 to 6144"),
    ({"LOG_RETENTION_DAYS": "8"}, "LOG_RETENTION_DAYS", "must be one of"),
    ({"LOG_RETENTION_DAYS": "３６５"}, "LOG_RETENTION_DAYS", "must be one of"),
    # capacity: plain decimals, never a traceback
    ({"DB_MIN_ACU": "0.3"}, "DB_MIN_ACU", "steps of 0.5"),
    ({"DB_MAX_ACU": "1.25"}, "DB_MAX_ACU", "steps of 0.5"),
    ({"DB_MAX_ACU": "lots"}, "DB_MAX_ACU", "steps of 0.5"),
    ({"DB_MAX_ACU": "NaN"}, "DB_MAX_ACU", "steps of 0.5"),
    ({"DB_MAX_ACU": "sNaN"}, "DB_MAX_ACU", "steps of 0.5"),
    ({"DB_MAX_ACU": "Infinity"}, "DB_MAX_ACU", "steps of 0.5"),
    ({"DB_MAX_ACU": "-Infinity"}, "DB_MAX_ACU", "steps of 0.5"),
    ({"DB_MAX_ACU": "1e400"}, "DB_MAX_ACU", "steps of 0.5"),
    ({"DB_MAX_ACU": "257"}, "DB_MAX_ACU", "steps of 0.5"),
    ({"DB_MAX_ACU": "٢"}, "DB_MAX_ACU", "steps of 0.5"),
    ({"DB_MIN_ACU": "4", "DB_MAX_ACU": "2"}, "DB_MIN_ACU", "must not exceed DB_MAX_ACU"),
    # booleans
    ({"CREATE_DMS_SERVICE_ROLES": "maybe"}, "CREATE_DMS_SERVICE_ROLES", "true or false"),
    ({"ALB_INTERNAL": "sometimes"}, "ALB_INTERNAL", "true or false"),
    ({"DELETION_PROTECTION": "soon"}, "DELETION_PROTECTION", "true or false"),
    # S3 bucket names (full naming rules)
    ({"TERRAFORM_STATE_BUCKET": "Bad_Bucket"}, "TERRAFORM_STATE_BUCKET", "S3 bucket name"),
    ({"TERRAFORM_STATE_BUCKET": "ab"}, "TERRAFORM_STATE_BUCKET", "S3 bucket name"),
    ({"TERRAFORM_STATE_BUCKET": "a" * 64}, "TERRAFORM_STATE_BUCKET", "S3 bucket name"),
    ({"TERRAFORM_STATE_BUCKET": "tap..state"}, "TERRAFORM_STATE_BUCKET", "no '..'"),
    ({"TERRAFORM_STATE_BUCKET": "192.168.5.4"}, "TERRAFORM_STATE_BUCKET", "not an IP address"),
    ({"TERRAFORM_STATE_BUCKET": "xn--tapstate"}, "TERRAFORM_STATE_BUCKET", "xn--"),
    ({"TERRAFORM_STATE_BUCKET": "sthree-state"}, "TERRAFORM_STATE_BUCKET", "sthree-"),
    ({"TERRAFORM_STATE_BUCKET": "amzn-s3-demo-state"}, "TERRAFORM_STATE_BUCKET", "amzn-s3-demo-"),
    ({"TERRAFORM_STATE_BUCKET": "tap-state-s3alias"}, "TERRAFORM_STATE_BUCKET", "-s3alias"),
    ({"TERRAFORM_STATE_BUCKET": "tap-state--ol-s3"}, "TERRAFORM_STATE_BUCKET", "--ol-s3"),
    ({"TERRAFORM_STATE_BUCKET": "tap-state.mrap"}, "TERRAFORM_STATE_BUCKET", ".mrap"),
    ({"TERRAFORM_STATE_BUCKET": "tap-state--x-s3"}, "TERRAFORM_STATE_BUCKET", "--x-s3"),
    ({"TERRAFORM_STATE_BUCKET": "-tap-state"}, "TERRAFORM_STATE_BUCKET", "S3 bucket name"),
    # engine versions: the release tables decide
    ({"DB_ENGINE_VERSION": "15.4"}, "DB_ENGINE_VERSION", ", ".join(AURORA_POSTGRES_VERSIONS)),
    ({"DMS_ENGINE_VERSION": "3.4.7"}, "DMS_ENGINE_VERSION", "3.5.4, 3.6.1"),
    ({"DMS_ENGINE_VERSION": "3.5.2"}, "DMS_ENGINE_VERSION", "past its AWS DMS no-new-instance date, 2025-03-30"),
    ({"DMS_ENGINE_VERSION": "3.5.3"}, "DMS_ENGINE_VERSION", "past its AWS DMS no-new-instance date, 2026-02-28"),
    ({"DMS_ENGINE_VERSION": "3.6.0"}, "DMS_ENGINE_VERSION", "past its AWS DMS no-new-instance date, 2026-04-27"),
    # database names RDS rejects
    ({"DB_NAME": "Payments-DB"}, "DB_NAME", "PostgreSQL database name"),
    ({"DB_NAME": "_payments"}, "DB_NAME", "a letter"),
    ({"DB_NAME": "1payments"}, "DB_NAME", "a letter"),
    ({"DB_NAME": "p" * 64}, "DB_NAME", "at most 63"),
    ({"DB_NAME": "select"}, "DB_NAME", "reserved word"),
    ({"DB_NAME": "user"}, "DB_NAME", "reserved word"),
    ({"DB_NAME": "join"}, "DB_NAME", "reserved word"),
    ({"DB_NAME": "postgres"}, "DB_NAME", "already exists"),
    ({"DB_NAME": "template1"}, "DB_NAME", "already exists"),
    ({"ONPREM_DB_NAME": "Payments"}, "ONPREM_DB_NAME", "PostgreSQL identifier"),
    # DMS instance classes
    ({"DMS_INSTANCE_CLASS": "r5.large"}, "DMS_INSTANCE_CLASS", "dms.r5.large"),
    ({"DMS_INSTANCE_CLASS": "dms.r5.huge"}, "DMS_INSTANCE_CLASS", "replication instance class"),
    ({"DMS_INSTANCE_CLASS": "dms.m5.large"}, "DMS_INSTANCE_CLASS", "families t2 t3 c4 c5 c6i r4 r5 r6i"),
    ({"DMS_INSTANCE_CLASS": "dms.t3.xlarge"}, "DMS_INSTANCE_CLASS", "replication instance class"),
    # on-premises source
    ({"ONPREM_DB_HOST": "10.1.2.3"}, "ONPREM_DB_HOST", "inside ONPREM_CIDR"),
    ({"ONPREM_DB_HOST": "bad host!"}, "ONPREM_DB_HOST", "host name"),
    ({"ONPREM_DB_HOST": "999.999.999.999"}, "ONPREM_DB_HOST", "not all digits"),
    ({"ONPREM_DB_HOST": "db..corp"}, "ONPREM_DB_HOST", "empty labels"),
    ({"ONPREM_DB_SECRET_ARN": "secret"}, "ONPREM_DB_SECRET_ARN", "Secrets Manager secret ARN"),
    (
        {"ONPREM_DB_SECRET_ARN": "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:src"},
        "ONPREM_DB_SECRET_ARN",
        "partition of us-east-1 (aws)",
    ),
    ({"DMS_TABLE_MAPPINGS": "payments"}, "DMS_TABLE_MAPPINGS", "schema.table"),
    ({"DMS_TABLE_MAPPINGS": "public.x;drop"}, "DMS_TABLE_MAPPINGS", "schema.table"),
    # certificates: required on aws, same partition and region
    ({"TARGET": "aws"}, "CERTIFICATE_ARN", "required on TARGET=aws"),
    ({"TARGET": "aws", "CERTIFICATE_ARN": "   "}, "CERTIFICATE_ARN", "required on TARGET=aws"),
    ({"TARGET": "aws", "ENVIRONMENT": "prod"}, "CERTIFICATE_ARN", "required on TARGET=aws"),
    ({"CERTIFICATE_ARN": "arn:aws:iam::123456789012:server-certificate/x"}, "CERTIFICATE_ARN", "ACM certificate ARN"),
    (
        {"CERTIFICATE_ARN": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"},
        "CERTIFICATE_ARN",
        "stack's region us-east-1",
    ),
    (
        {"CERTIFICATE_ARN": "arn:aws-cn:acm:us-east-1:123456789012:certificate/abc"},
        "CERTIFICATE_ARN",
        "partition of us-east-1 (aws)",
    ),
    (
        {"AWS_REGION": "cn-north-1", "CERTIFICATE_ARN": "arn:aws:acm:cn-north-1:123456789012:certificate/abc"},
        "CERTIFICATE_ARN",
        "partition of cn-north-1 (aws-cn)",
    ),
    (
        {"CERTIFICATE_ARN": "arn:aws:acm:us-east-1:١٢٣٤٥٦٧٨٩٠١٢:certificate/abc"},
        "CERTIFICATE_ARN",
        "ACM certificate ARN",
    ),
    # client identity: mutual TLS needs its trust store and HTTPS; a public prod ALB needs mutual TLS
    ({"CLIENT_IDENTITY": "cert"}, "CLIENT_IDENTITY", "mtls, header"),
    ({"CLIENT_IDENTITY": "MTLS"}, "CLIENT_IDENTITY", "mtls, header"),
    ({"CLIENT_IDENTITY": "mtls"}, "CLIENT_CA_BUNDLE_S3_URI", "required with CLIENT_IDENTITY=mtls"),
    (
        {"CLIENT_CA_BUNDLE_S3_URI": "s3://trust-bucket/ca.pem"},
        "CERTIFICATE_ARN",
        "required with CLIENT_CA_BUNDLE_S3_URI",
    ),
    (
        {
            "CLIENT_CA_BUNDLE_S3_URI": "s3://trust-bucket/ca.pem",
            "CERTIFICATE_ARN": CERT_US_EAST_1,
            "CLIENT_IDENTITY": "header",
        },
        "CLIENT_IDENTITY",
        "must be mtls with CLIENT_CA_BUNDLE_S3_URI",
    ),
    (
        {"TARGET": "aws", "ENVIRONMENT": "prod", "CERTIFICATE_ARN": CERT_US_EAST_1},
        "CLIENT_CA_BUNDLE_S3_URI",
        "required on TARGET=aws with ENVIRONMENT=prod for a public ALB",
    ),
    (
        {"TARGET": "aws", "ENVIRONMENT": "prod", "CERTIFICATE_ARN": CERT_US_EAST_1, "ALB_INTERNAL": "false"},
        "CLIENT_CA_BUNDLE_S3_URI",
        "required on TARGET=aws with ENVIRONMENT=prod for a public ALB",
    ),
    (
        {"TARGET": "aws", "ENVIRONMENT": "prod", "CERTIFICATE_ARN": CERT_US_EAST_1, "CLIENT_IDENTITY": "header"},
        "CLIENT_IDENTITY",
        "refused for a public prod ALB",
    ),
    (
        {"CLIENT_CA_BUNDLE_S3_URI": "https://trust-bucket.s3.amazonaws.com/ca.pem"},
        "CLIENT_CA_BUNDLE_S3_URI",
        "s3://<bucket>/<key>",
    ),
    ({"CLIENT_CA_BUNDLE_S3_URI": "s3://trust-bucket"}, "CLIENT_CA_BUNDLE_S3_URI", "is not an object key"),
    ({"CLIENT_CA_BUNDLE_S3_URI": "s3://trust-bucket/"}, "CLIENT_CA_BUNDLE_S3_URI", "is not an object key"),
    ({"CLIENT_CA_BUNDLE_S3_URI": "s3://trust-bucket/certs/"}, "CLIENT_CA_BUNDLE_S3_URI", "is not an object key"),
    ({"CLIENT_CA_BUNDLE_S3_URI": "s3://trust-bucket/" + "k" * 1025}, "CLIENT_CA_BUNDLE_S3_URI", "is not an object key"),
    ({"CLIENT_CA_BUNDLE_S3_URI": "s3://trust-bucket/ca\n.pem"}, "CLIENT_CA_BUNDLE_S3_URI", "control characters"),
    ({"CLIENT_CA_BUNDLE_S3_URI": "s3://Trust_Bucket/ca.pem"}, "CLIENT_CA_BUNDLE_S3_URI", "not an S3 bucket name"),
    ({"CLIENT_CA_BUNDLE_S3_URI": "s3://xn--trust/ca.pem"}, "CLIENT_CA_BUNDLE_S3_URI", "not an S3 bucket name"),
    # legacy endpoint: private (RFC 1918) or globally routable, nothing else
    ({"LEGACY_ENDPOINT": "100.64.0.1"}, "LEGACY_ENDPOINT", "carrier-grade NAT"),
    ({"LEGACY_ENDPOINT": "127.0.0.1"}, "LEGACY_ENDPOINT", "loopback"),
    ({"LEGACY_ENDPOINT": "0.0.0.0"}, "LEGACY_ENDPOINT", "unspecified"),
    ({"LEGACY_ENDPOINT": "169.254.169.254"}, "LEGACY_ENDPOINT", "link-local"),
    ({"LEGACY_ENDPOINT": "224.0.0.251"}, "LEGACY_ENDPOINT", "multicast"),
    ({"LEGACY_ENDPOINT": "239.255.255.250"}, "LEGACY_ENDPOINT", "multicast"),
    ({"LEGACY_ENDPOINT": "192.0.2.10"}, "LEGACY_ENDPOINT", "TEST-NET-1"),
    ({"LEGACY_ENDPOINT": "198.51.100.7"}, "LEGACY_ENDPOINT", "TEST-NET-2"),
    ({"LEGACY_ENDPOINT": "203.0.113.10"}, "LEGACY_ENDPOINT", "TEST-NET-3"),
    ({"LEGACY_ENDPOINT": "198.18.0.1"}, "LEGACY_ENDPOINT", "benchmarking"),
    ({"LEGACY_ENDPOINT": "240.0.0.1"}, "LEGACY_ENDPOINT", "reserved"),
    ({"LEGACY_ENDPOINT": "255.255.255.255"}, "LEGACY_ENDPOINT", "broadcast"),
    ({"LEGACY_ENDPOINT": "192.0.0.9"}, "LEGACY_ENDPOINT", "IETF protocol assignments"),
    ({"LEGACY_ENDPOINT": "52.94.76.10,100.64.0.1"}, "LEGACY_ENDPOINT", "100.64.0.1 is carrier-grade NAT"),
    ({"LEGACY_ENDPOINT": "192.168.50.10,192.168.50.10"}, "LEGACY_ENDPOINT", "more than once"),
    ({"LEGACY_ENDPOINT": "52.94.76.10, 52.94.76.10"}, "LEGACY_ENDPOINT", "more than once"),
    ({"LEGACY_ENDPOINT": "192.168.50.10,52.94.76.10"}, "LEGACY_ENDPOINT", "mixes private"),
    ({"LEGACY_ENDPOINT": "10.40.0.9"}, "LEGACY_ENDPOINT", "inside VPC_CIDR"),
    ({"LEGACY_ENDPOINT": "52.94.76.10,not-an-ip"}, "LEGACY_ENDPOINT", "IPv4 addresses only"),
    ({"LEGACY_ENDPOINT": "legacy.example.com,legacy2.example.com"}, "LEGACY_ENDPOINT", "IPv4 addresses only"),
    ({"LEGACY_ENDPOINT": "999.999.999.999"}, "LEGACY_ENDPOINT", "neither an IPv4 address nor a host name"),
    ({"LEGACY_ENDPOINT": "10.0.0"}, "LEGACY_ENDPOINT", "neither an IPv4 address nor a host name"),
    ({"LEGACY_ENDPOINT": "legacy.example.123"}, "LEGACY_ENDPOINT", "neither an IPv4 address nor a host name"),
    ({"LEGACY_ENDPOINT": "2001:db8::1"}, "LEGACY_ENDPOINT", "IPv4 only"),
    ({"LEGACY_ENDPOINT": "bad_host!"}, "LEGACY_ENDPOINT", "host name"),
    ({"LEGACY_ENDPOINT": "-legacy.example.com"}, "LEGACY_ENDPOINT", "inner hyphens"),
    ({"LEGACY_ENDPOINT": "legacy..example.com"}, "LEGACY_ENDPOINT", "empty labels"),
    ({"LEGACY_ENDPOINT": "l" * 64 + ".example.com"}, "LEGACY_ENDPOINT", "1-63"),
    # Route53
    ({"HOSTED_ZONE_NAME": "localhost"}, "HOSTED_ZONE_NAME", "two labels"),
    ({"HOSTED_ZONE_NAME": "payments..internal"}, "HOSTED_ZONE_NAME", "empty labels"),
    ({"HOSTED_ZONE_NAME": "amazonaws.com"}, "HOSTED_ZONE_NAME", "AWS service domain amazonaws.com"),
    ({"HOSTED_ZONE_NAME": "us-east-1.rds.amazonaws.com"}, "HOSTED_ZONE_NAME", "AWS service domain amazonaws.com"),
    ({"HOSTED_ZONE_NAME": "dms.cn-north-1.amazonaws.com.cn"}, "HOSTED_ZONE_NAME", "amazonaws.com.cn"),
    ({"HOSTED_ZONE_NAME": "lambda-url.us-east-1.on.aws"}, "HOSTED_ZONE_NAME", "AWS service domain aws"),
    ({"HOSTED_ZONE_NAME": "payments.api.aws"}, "HOSTED_ZONE_NAME", "AWS service domain"),
    ({"HOSTED_ZONE_NAME": "aws.amazon.com"}, "HOSTED_ZONE_NAME", "amazon.com"),
    ({"HOSTED_ZONE_NAME": "ec2.internal"}, "HOSTED_ZONE_NAME", "ec2.internal"),
    ({"HOSTED_ZONE_ID": "12345"}, "HOSTED_ZONE_ID", "hosted zone id"),
    ({"HOSTED_ZONE_ID": "Z0123456789ABC"}, "HOSTED_ZONE_NAME", "required with HOSTED_ZONE_ID"),
    ({"HOSTED_ZONE_ID": "Z0123456789ABC", "HOSTED_ZONE_NAME": " "}, "HOSTED_ZONE_NAME", "required with HOSTED_ZONE_ID"),
    ({"API_RECORD_NAME": "api.v1"}, "API_RECORD_NAME", "one DNS label"),
    ({"API_RECORD_NAME": "-api"}, "API_RECORD_NAME", "one DNS label"),
    # contacts and tags
    ({"ALARM_EMAIL": "ops"}, "ALARM_EMAIL", "e-mail"),
    ({"ALARM_EMAIL": "ops@localhost"}, "ALARM_EMAIL", "e-mail"),
    ({"ALARM_EMAIL": "ops@example.c0m"}, "ALARM_EMAIL", "e-mail"),
    ({"ALARM_EMAIL": "ops@@example.com"}, "ALARM_EMAIL", "e-mail"),
    ({"ALARM_EMAIL": "ops team@example.com"}, "ALARM_EMAIL", "e-mail"),
    ({"COST_CENTER": "x" * 129}, "COST_CENTER", "1-128"),
    ({"OWNER": "team;drop"}, "OWNER", "1-128"),
    # availability zones: pinned by zone id
    ({"AWS_REGION": "ap-east-1"}, "AVAILABILITY_ZONE_IDS", "required in ap-east-1"),
    ({"AVAILABILITY_ZONE_IDS": "use1-az1,use1-az2"}, "AVAILABILITY_ZONE_IDS", "3 distinct"),
    ({"AVAILABILITY_ZONE_IDS": "use1-az1,use1-az1,use1-az2"}, "AVAILABILITY_ZONE_IDS", "3 distinct"),
    ({"AVAILABILITY_ZONE_IDS": "us-east-1a,us-east-1b,us-east-1c"}, "AVAILABILITY_ZONE_IDS", "Availability Zone ids"),
    ({"AVAILABILITY_ZONE_IDS": "euc1-az1,euc1-az2,euc1-az3"}, "AVAILABILITY_ZONE_IDS", "start with use1-"),
    # the way to on-premises
    ({**AWS_TARGET, "ONPREM_CUSTOMER_GATEWAY_IP": ""}, "ONPREM_CUSTOMER_GATEWAY_IP", "required on TARGET=aws"),
    (
        {"TARGET": "aws", "ENVIRONMENT": "prod", "CERTIFICATE_ARN": CERT_US_EAST_1, "ALB_INTERNAL": "true"},
        "ONPREM_CUSTOMER_GATEWAY_IP",
        "ONPREM_ROUTES_MANAGED_OUTSIDE=true",
    ),
    ({"ONPREM_CUSTOMER_GATEWAY_IP": "192.168.1.1"}, "ONPREM_CUSTOMER_GATEWAY_IP", "private (RFC 1918)"),
    ({"ONPREM_CUSTOMER_GATEWAY_IP": "100.64.0.1"}, "ONPREM_CUSTOMER_GATEWAY_IP", "carrier-grade NAT"),
    ({"ONPREM_CUSTOMER_GATEWAY_IP": "203.0.113.5"}, "ONPREM_CUSTOMER_GATEWAY_IP", "TEST-NET-3"),
    ({"ONPREM_CUSTOMER_GATEWAY_IP": "vpn.example.com"}, "ONPREM_CUSTOMER_GATEWAY_IP", "globally routable IPv4"),
    ({"ONPREM_BGP_ASN": "65000"}, "ONPREM_BGP_ASN", "needs ONPREM_CUSTOMER_GATEWAY_IP"),
    ({"ONPREM_CUSTOMER_GATEWAY_IP": "52.94.76.200", "ONPREM_BGP_ASN": "7224"}, "ONPREM_BGP_ASN", "AWS reserves"),
    ({"ONPREM_CUSTOMER_GATEWAY_IP": "52.94.76.200", "ONPREM_BGP_ASN": "0"}, "ONPREM_BGP_ASN", "from 1 to"),
    ({"ONPREM_CUSTOMER_GATEWAY_IP": "52.94.76.200", "ONPREM_BGP_ASN": "٦٥٠٠٠"}, "ONPREM_BGP_ASN", "BGP ASN"),
    ({"ONPREM_TRANSIT_GATEWAY_ID": "tgw-xyz"}, "ONPREM_TRANSIT_GATEWAY_ID", "Transit Gateway id"),
    (
        {"ONPREM_CUSTOMER_GATEWAY_IP": "52.94.76.200", "ONPREM_TRANSIT_GATEWAY_ID": "tgw-0123456789abcdef0"},
        "ONPREM_TRANSIT_GATEWAY_ID",
        "one path",
    ),
    (
        {"ONPREM_TRANSIT_GATEWAY_ID": "tgw-0123456789abcdef0", "ONPREM_ROUTES_MANAGED_OUTSIDE": "true"},
        "ONPREM_ROUTES_MANAGED_OUTSIDE",
        "builds the path itself",
    ),
    ({"ONPREM_DB_HOST": "pg01.corp.example.com"}, "ONPREM_DNS_SERVERS", "required with the host name"),
    ({"ONPREM_DNS_SERVERS": "192.168.0.2"}, "ONPREM_DNS_SERVERS", "only used with a host name"),
    (
        {"ONPREM_DB_HOST": "pg01.corp.example.com", "ONPREM_DNS_SERVERS": "10.9.0.2"},
        "ONPREM_DNS_SERVERS",
        "inside ONPREM_CIDR",
    ),
    (
        {"ONPREM_DB_HOST": "pg01.corp.example.com", "ONPREM_DNS_SERVERS": "192.168.0.2,192.168.0.2"},
        "ONPREM_DNS_SERVERS",
        "distinct",
    ),
    # prod-only rules
    ({"ENVIRONMENT": "prod", "DB_READERS": "0"}, "DB_READERS", "at least 1 in prod"),
    ({"ENVIRONMENT": "prod", "DB_BACKUP_RETENTION_DAYS": "7"}, "DB_BACKUP_RETENTION_DAYS", "35 in prod"),
    ({"DB_BACKUP_RETENTION_DAYS": "36"}, "DB_BACKUP_RETENTION_DAYS", "from 1 to 35"),
    ({"ENVIRONMENT": "prod", "LOG_RETENTION_DAYS": "180"}, "LOG_RETENTION_DAYS", "at least 365 in prod"),
    ({"ENVIRONMENT": "prod", "LOG_RETENTION_DAYS": "1"}, "LOG_RETENTION_DAYS", "at least 365 in prod"),
    ({"ENVIRONMENT": "prod", "DELETION_PROTECTION": "false"}, "DELETION_PROTECTION", "true in prod"),
    ({"ENVIRONMENT": "prod", "DELETION_PROTECTION": "no"}, "DELETION_PROTECTION", "true in prod"),
]


def _case_id(case) -> str:
    environ, name, _ = case
    return f"{name}={environ.get(name, '<unset>')!r}"


@pytest.mark.parametrize(("environ", "name", "allowed"), INVALID, ids=[_case_id(case) for case in INVALID])
def test_invalid_setting_is_one_line_naming_setting_value_and_rule(environ, name, allowed):
    with pytest.raises(ConfigError) as raised:
        load_settings(environ)
    message = str(raised.value)
    assert message.startswith(f"{name}={environ.get(name, '')!r} is invalid: "), message
    assert allowed in message
    assert "\n" not in message


def test_the_invalid_table_covers_dozens_of_values_and_most_settings():
    assert len(INVALID) >= 100
    named = {name for _, name, _ in INVALID}
    assert len(named) >= 35


VALID = [
    ({"ALARM_EMAIL": "ops@Example.COM"}, "alarm_email", "ops@Example.COM"),
    (
        {"ALARM_EMAIL": "first.last+alerts@payments.example.co.uk"},
        "alarm_email",
        "first.last+alerts@payments.example.co.uk",
    ),
    ({**WRITE_IPS, "LEGACY_ENDPOINT": "legacy.example.com."}, "legacy_endpoint", "legacy.example.com"),
    ({**WRITE_IPS, "LEGACY_ENDPOINT": "Legacy-Payments.Example.com"}, "legacy_endpoint", "legacy-payments.example.com"),
    (
        {"ONPREM_DB_HOST": "db01.corp.example.com.", "ONPREM_DNS_SERVERS": "192.168.0.2"},
        "onprem_db_host",
        "db01.corp.example.com",
    ),
    ({"ONPREM_DB_HOST": "192.168.7.20"}, "onprem_db_host", "192.168.7.20"),
    ({"HOSTED_ZONE_NAME": "Payments.Example.COM."}, "hosted_zone_name", "payments.example.com"),
    ({"HOSTED_ZONE_NAME": "payments.amazonaws-like.com"}, "hosted_zone_name", "payments.amazonaws-like.com"),
    ({"API_RECORD_NAME": "API"}, "api_record_name", "api"),
    ({"TERRAFORM_STATE_BUCKET": "tap-state.bucket-01"}, "state_bucket", "tap-state.bucket-01"),
    ({"DMS_INSTANCE_CLASS": "dms.r6i.large"}, "dms_instance_class", "dms.r6i.large"),
    ({"DMS_INSTANCE_CLASS": "dms.c6i.32xlarge"}, "dms_instance_class", "dms.c6i.32xlarge"),
    ({"DMS_ENGINE_VERSION": "3.5.4"}, "dms_engine_version", "3.5.4"),
    ({"DB_NAME": "payments_v2"}, "db_name", "payments_v2"),
    ({"DB_NAME": "int"}, "db_name", "int"),  # a non-reserved keyword is a valid database name
    ({"DB_MAX_ACU": "256"}, "db_max_acu", 256.0),
    ({"DB_MIN_ACU": " 1.5 ", "DB_MAX_ACU": "4.0"}, "db_min_acu", 1.5),
    ({"NAT_GATEWAYS": "03"}, "nat_gateways", 3),
    ({"VPC_CIDR": "172.20.0.0/16"}, "vpc_cidr", "172.20.0.0/16"),
    (
        {"AWS_REGION": "eu-central-1", "CERTIFICATE_ARN": "arn:aws:acm:eu-central-1:123456789012:certificate/a-b"},
        "certificate_arn",
        "arn:aws:acm:eu-central-1:123456789012:certificate/a-b",
    ),
    (
        {
            "AWS_REGION": "cn-north-1",
            "AVAILABILITY_ZONE_IDS": "cnn1-az1,cnn1-az2,cnn1-az4",
            "CERTIFICATE_ARN": "arn:aws-cn:acm:cn-north-1:123456789012:certificate/x",
        },
        "certificate_arn",
        "arn:aws-cn:acm:cn-north-1:123456789012:certificate/x",
    ),
    (
        {"AWS_REGION": "us-gov-west-1", "AVAILABILITY_ZONE_IDS": "usgw1-az1,usgw1-az2,usgw1-az3"},
        "aws_region",
        "us-gov-west-1",
    ),
    ({"ALB_INTERNAL": "YES"}, "alb_internal", True),
    (
        {"CLIENT_CA_BUNDLE_S3_URI": "s3://trust.bucket-01/ca/bundle v2.pem", "CERTIFICATE_ARN": CERT_US_EAST_1},
        "client_ca_bundle_location",
        ("trust.bucket-01", "ca/bundle v2.pem"),
    ),
    (
        {"CLIENT_CA_BUNDLE_S3_URI": "s3://trust-bucket/ca.pem", "CERTIFICATE_ARN": CERT_US_EAST_1},
        "client_identity",
        "mtls",
    ),
    ({**AWS_TARGET, "ENVIRONMENT": "prod", "ALB_INTERNAL": "true"}, "client_identity", "header"),
    (
        {**AWS_TARGET, "ENVIRONMENT": "prod", "CLIENT_CA_BUNDLE_S3_URI": "s3://trust-bucket/ca.pem"},
        "client_identity",
        "mtls",
    ),
    ({**AWS_TARGET, "CLIENT_IDENTITY": "header"}, "client_identity", "header"),
    ({"PAYMENT_API_RESERVED_CONCURRENCY": "off"}, "payment_api_reserved_concurrency", None),
    ({"PAYMENT_API_RESERVED_CONCURRENCY": "None"}, "payment_api_reserved_concurrency", None),
    ({"PAYMENT_API_RESERVED_CONCURRENCY": "0"}, "payment_api_reserved_concurrency", None),
    ({"PAYMENT_API_RESERVED_CONCURRENCY": "200"}, "payment_api_reserved_concurrency", 200),
    (
        {"HOSTED_ZONE_ID": "Z0123456789ABC", "HOSTED_ZONE_NAME": "corp.example.com"},
        "hosted_zone_name",
        "corp.example.com",
    ),
]


@pytest.mark.parametrize(
    ("environ", "attribute", "expected"), VALID, ids=[f"{case[1]}={list(case[0].values())[-1]!r}" for case in VALID]
)
def test_valid_setting_is_accepted(environ, attribute, expected):
    assert getattr(load_settings(environ), attribute) == expected


def test_blank_optional_settings_count_as_unset():
    blank = load_settings(
        {
            "TERRAFORM_STATE_BUCKET": "",
            "LEGACY_ENDPOINT": "  ",
            "ALARM_EMAIL": "\t",
            "NAT_GATEWAYS": " ",
            "CERTIFICATE_ARN": "",
        }
    )
    assert blank == load_settings({})


def test_defaults_are_the_dev_profile():
    settings = load_settings({})
    assert (settings.environment_suffix, settings.environment, settings.aws_region, settings.target) == (
        "dev",
        "dev",
        "us-east-1",
        "local",
    )
    assert settings.stack_name == "TapStackdev"
    assert settings.nat_gateways == 1
    assert (settings.db_min_acu, settings.db_max_acu) == (0.5, 2.0)
    assert settings.db_engine_version == "15.10"
    assert settings.dms_engine_version == "3.6.1"
    assert settings.listener_ports == (80,)
    assert settings.new_system_weight == 100
    assert settings.payment_api_reserved_concurrency == 50
    assert settings.hosted_zone_name == "payments-dev.internal"
    assert settings.onprem_db_host == "192.168.0.10"


def test_prod_profile_defaults():
    settings = load_settings({"ENVIRONMENT": "prod"})
    assert settings.nat_gateways == 3
    assert (settings.db_min_acu, settings.db_max_acu) == (1.0, 8.0)
    assert settings.db_backup_retention_days == 35
    assert settings.db_readers >= 1
    assert settings.log_retention_days >= 365
    assert settings.dms_instance_class == "dms.r5.large"


def test_default_suffix_follows_the_environment_so_prod_never_shares_dev_state():
    prod = load_settings({"ENVIRONMENT": "prod"})
    assert (prod.environment_suffix, prod.stack_name, prod.hosted_zone_name) == (
        "prod",
        "TapStackprod",
        "payments-prod.internal",
    )
    assert load_settings({"ENVIRONMENT": "prod", "ENVIRONMENT_SUFFIX": "pr4821"}).stack_name == "TapStackpr4821"
    assert load_settings({}).stack_name == "TapStackdev"


def test_certificate_opens_https_and_redirect_ports():
    settings = load_settings({"CERTIFICATE_ARN": CERT_US_EAST_1})
    assert settings.listener_ports == (80, 443)


def test_client_identity_follows_the_ca_bundle():
    assert load_settings({}).client_identity == "header"
    assert load_settings({}).client_ca_bundle_location is None
    aws = AWS_TARGET
    assert load_settings(aws).client_identity == "header"  # dev on AWS: no trust store, so no mutual TLS
    assert load_settings({**aws, "CLIENT_CA_BUNDLE_S3_URI": "s3://trust-bucket/ca.pem"}).client_identity == "mtls"


def test_https_is_required_on_aws_and_optional_locally():
    assert load_settings(AWS_TARGET).listener_ports == (80, 443)
    assert load_settings({"TARGET": "local"}).certificate_arn is None


def test_no_stack_creates_the_account_wide_dms_roles_by_default():
    # Issue 9 #2: a second suffix failed with EntityAlreadyExists: dms-vpc-role. The roles are the account's.
    assert load_settings({}).create_dms_service_roles is False
    assert load_settings({"ENVIRONMENT": "prod"}).create_dms_service_roles is False
    assert load_settings(AWS_TARGET).create_dms_service_roles is False
    assert load_settings({"CREATE_DMS_SERVICE_ROLES": "true"}).create_dms_service_roles is True


def test_deletion_protection_defaults_on_in_prod_only():
    aws = AWS_TARGET
    assert load_settings({}).deletion_protection is False
    assert load_settings(aws).deletion_protection is False
    assert load_settings({"ENVIRONMENT": "prod"}).deletion_protection is True
    assert load_settings({**aws, "ENVIRONMENT": "prod", "ALB_INTERNAL": "true"}).deletion_protection is True
    assert load_settings({"DELETION_PROTECTION": "true"}).deletion_protection is True


def test_secret_recovery_window_lets_non_prod_redeploy_at_once():
    assert load_settings({}).secret_recovery_window_days == 0
    assert load_settings(AWS_TARGET).secret_recovery_window_days == 0
    assert load_settings({"ENVIRONMENT": "prod"}).secret_recovery_window_days == 30


def test_private_legacy_addresses_are_not_health_checked():
    settings = load_settings({"LEGACY_ENDPOINT": "192.168.50.10, 192.168.50.11"})
    assert settings.new_system_weight == 0
    assert settings.legacy_ips == ("192.168.50.10", "192.168.50.11")
    assert settings.legacy_health_checked_ips == ()
    elsewhere = {"LEGACY_ENDPOINT": "172.20.0.5,172.16.1.1", "ONPREM_CIDR": "172.16.0.0/12"}
    assert load_settings(elsewhere).legacy_health_checked_ips == ()


def test_globally_routable_legacy_addresses_are_health_checked():
    settings = load_settings({"LEGACY_ENDPOINT": "52.94.76.10,52.94.76.11", **WRITE_IPS})
    assert settings.legacy_ips == ("52.94.76.10", "52.94.76.11")
    assert settings.legacy_health_checked_ips == settings.legacy_ips


def test_legacy_host_name_has_no_addresses():
    settings = load_settings({"LEGACY_ENDPOINT": "legacy.example.com", **WRITE_IPS})
    assert (settings.legacy_ips, settings.legacy_health_checked_ips) == ((), ())
    assert settings.new_system_weight == 0


def test_region_partitions_come_from_botocore_data():
    assert region_partition("us-east-1") == "aws"
    assert region_partition("cn-northwest-1") == "aws-cn"
    assert region_partition("us-gov-east-1") == "aws-us-gov"


def test_api_fqdn_is_gone_from_settings():
    assert not hasattr(load_settings({}), "api_fqdn")


# --- the spec table ----------------------------------------------------------------------


def test_every_settings_field_is_declared_by_one_spec_with_a_unique_variable():
    specs = setting_specs()
    assert [name for name, _ in specs] == list(Settings.__dataclass_fields__)
    envs = [spec.env for _, spec in specs]
    assert len(envs) == len(set(envs)) > 30
    for _, spec in specs:
        assert spec.description and spec.parser.allowed


def test_constant_defaults_are_values_their_own_parser_accepts():
    for _, spec in setting_specs():
        for default in (spec.dev, spec.prod):
            if default is not None and not isinstance(default, Derived):
                assert spec.parser.parse(spec.parser.render(default)) == default, spec.env


class _RecordingEnviron(dict):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read: list[str] = []

    def get(self, key, default=None):
        self.read.append(key)
        return super().get(key, default)


def test_load_settings_reads_exactly_the_declared_variables_in_order():
    environ = _RecordingEnviron()
    load_settings(environ)
    assert environ.read == [spec.env for _, spec in setting_specs()]


def test_a_new_setting_is_one_spec_entry_and_make_docs(monkeypatch):
    # Issue 14 "done when": a Settings subclass with one more declaration stands in for adding that line to
    # Settings itself. Nothing else changes, yet loading, refusals, the fingerprint of the synth cache, the
    # scan profiles' environment and the README table all carry it; only the committed README goes stale.
    from tools import settings_doc, stack  # noqa: PLC0415 - tools import lib.config themselves
    from tools.scan_profiles import profile_environment  # noqa: PLC0415

    declaration = setting(
        "QUEUE_DEPTH", Integer(1, 64), dev=4, prod=16, description="depth of an example queue (test only)"
    )
    extended = make_dataclass("Settings", [("queue_depth", int, declaration)], bases=(Settings,), frozen=True)
    monkeypatch.setattr(lib.config, "Settings", extended)

    assert [name for name, _ in setting_specs()][-1] == "queue_depth"
    assert asdict(load_settings({}))["queue_depth"] == 4
    assert asdict(load_settings({"ENVIRONMENT": "prod"}))["queue_depth"] == 16
    assert asdict(load_settings({"QUEUE_DEPTH": " 9 "}))["queue_depth"] == 9
    with pytest.raises(ConfigError) as refused:
        load_settings({"QUEUE_DEPTH": "65"})
    assert str(refused.value) == "QUEUE_DEPTH='65' is invalid: must be a whole number from 1 to 64"
    assert '"queue_depth": 9' in stack.settings_fingerprint(load_settings({"QUEUE_DEPTH": "9"}))
    assert "QUEUE_DEPTH" not in profile_environment("scandev", {"QUEUE_DEPTH": "9", "PATH": "/bin"})
    row = "| `QUEUE_DEPTH` | `4` | `16` | a whole number from 1 to 64 | depth of an example queue (test only) |"
    readme = settings_doc.README.read_text()
    assert row in settings_doc.settings_table() and row not in readme
    assert settings_doc.with_settings_table(readme) != readme, "the committed README is now stale"
    assert row in settings_doc.with_settings_table(readme)


# --- engine versions: the tables are data; no test reads the wall clock --------------------


def test_defaults_are_open_versions_on_the_day_the_tables_were_read():
    for profile in ({}, {"ENVIRONMENT": "prod"}):
        settings = load_settings(profile)
        assert settings.db_engine_version in AURORA_POSTGRES_VERSIONS
        assert settings.dms_engine_version in DMS_ENGINE_VERSIONS
        assert version_warnings(settings, RELEASES_READ_ON) == []


def test_closed_dms_versions_are_documented_but_not_allowed():
    closed = {release.version for release in DMS_RELEASES if release.closes and release.closes <= RELEASES_READ_ON}
    assert closed == {"3.5.2", "3.5.3", "3.6.0"}
    assert not closed & set(DMS_ENGINE_VERSIONS)
    assert DMS_ENGINE_VERSIONS == ("3.5.4", "3.6.1")


def test_version_warning_starts_sixty_days_before_the_date():
    settings = load_settings({"DMS_ENGINE_VERSION": "3.5.4"})  # no new instances from 2027-01-31
    closes = date(2027, 1, 31)
    assert version_warnings(settings, closes - timedelta(days=61)) == []
    [line] = version_warnings(settings, closes - timedelta(days=60))
    assert line == (
        "warning: DMS_ENGINE_VERSION=3.5.4: its AWS DMS no-new-instance date is 2027-01-31 (in 60 days); choose 3.6.1"
    )
    [today] = version_warnings(settings, closes)
    assert "(today)" in today


def test_version_warning_past_the_date_never_fails_the_synth():
    settings = load_settings({"DMS_ENGINE_VERSION": "3.5.4"})
    [line] = version_warnings(settings, date(2027, 3, 2))
    assert "2027-01-31 (30 days ago)" in line and "\n" not in line


def test_release_warning_covers_any_table_and_a_version_without_a_date():
    releases = (EngineRelease("15.8", date(2024, 9, 1), date(2026, 3, 31)), EngineRelease("15.10", None, None))
    line = release_warning(
        "DB_ENGINE_VERSION", "15.8", releases, "Aurora end-of-standard-support date", date(2026, 3, 1)
    )
    assert line == (
        "warning: DB_ENGINE_VERSION=15.8: its Aurora end-of-standard-support date is 2026-03-31 "
        "(in 30 days); choose 15.10"
    )
    assert release_warning("DB_ENGINE_VERSION", "15.10", releases, "x", date(2030, 1, 1)) is None


# --- the command line ----------------------------------------------------------------------


BAD_SETTINGS = (
    {"ENVIRONMENT_SUFFIX": "Bad Suffix!"},
    {"LEGACY_ENDPOINT": "100.64.0.1"},
    {"TARGET": "aws"},
    {"DB_MAX_ACU": "NaN"},
)


def _environ_id(environ):
    return ",".join(f"{key}={value}" for key, value in environ.items())


def _synth_with(environ):
    return subprocess.run(
        [sys.executable, "main.py"],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def bad_synths():
    """main.py with each bad setting, the processes side by side (each refuses before the bindings load)."""
    with ThreadPoolExecutor(max_workers=len(BAD_SETTINGS)) as pool:
        return dict(zip(map(_environ_id, BAD_SETTINGS), pool.map(_synth_with, BAD_SETTINGS), strict=True))


@pytest.mark.parametrize("environ", BAD_SETTINGS, ids=_environ_id)
def test_bad_setting_makes_synth_exit_2_with_one_line_and_no_traceback(bad_synths, environ):
    result = bad_synths[_environ_id(environ)]
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and " is invalid: " in lines[0]
    assert "Traceback" not in result.stderr


# --- what the stack makes of it (profiles synthesized once per session) -----------------------


def test_private_legacy_address_gets_its_record_but_no_health_check(synth_all):
    private = synth_all["aws_s3_backend"]
    records = {record["set_identifier"]: record for record in private.resources("aws_route53_record").values()}
    assert records["legacy"]["records"] == ["192.168.50.10"]
    assert not records["legacy"].get("health_check_id")
    assert not private.resources("aws_route53_health_check")
    assert synth_all["https"].resources("aws_route53_health_check")


def test_secret_recovery_window_reaches_the_dms_secrets(dev, prod):
    for profile, days in ((dev, 0), (prod, 30)):
        secrets = profile.resources("aws_secretsmanager_secret").values()
        assert {secret["recovery_window_in_days"] for secret in secrets} == {days}


# --- the cutover's settings (issue 11) ---------------------------------------------------------

CUTOVER_INVALID = [
    # writes reach legacy through the ALB's IP target group: private addresses only
    ({"LEGACY_ENDPOINT": "52.94.76.10"}, "LEGACY_WRITE_IPS", "required with LEGACY_ENDPOINT=52.94.76.10"),
    ({"LEGACY_ENDPOINT": "legacy.example.com"}, "LEGACY_WRITE_IPS", "required with LEGACY_ENDPOINT"),
    (
        {"LEGACY_ENDPOINT": "52.94.76.10", "LEGACY_WRITE_IPS": "52.94.76.10"},
        "LEGACY_WRITE_IPS",
        "52.94.76.10 is not private",
    ),
    (
        {"LEGACY_ENDPOINT": "52.94.76.10", "LEGACY_WRITE_IPS": "192.168.50.20,192.168.50.20"},
        "LEGACY_WRITE_IPS",
        "distinct private IPv4",
    ),
    (
        {"LEGACY_ENDPOINT": "52.94.76.10", "LEGACY_WRITE_IPS": "legacy.internal"},
        "LEGACY_WRITE_IPS",
        "private IPv4 addresses",
    ),
    ({"LEGACY_ENDPOINT": "52.94.76.10", "LEGACY_WRITE_IPS": "10.40.1.9"}, "LEGACY_WRITE_IPS", "inside ONPREM_CIDR"),
    (
        {"LEGACY_ENDPOINT": "52.94.76.10", "LEGACY_WRITE_IPS": "192.168.50.20,10.20.0.5"},
        "LEGACY_WRITE_IPS",
        "10.20.0.5 must lie inside ONPREM_CIDR (192.168.0.0/16)",
    ),
    ({"LEGACY_WRITE_IPS": "192.168.50.20"}, "LEGACY_WRITE_IPS", "only used with LEGACY_ENDPOINT"),
    # the reverse task carries back only what the forward task replicates
    ({"CUTOVER_TABLES": "public.%"}, "CUTOVER_TABLES", "no wildcard"),
    ({"CUTOVER_TABLES": "Public.Payments"}, "CUTOVER_TABLES", "lower-case"),
    ({"CUTOVER_TABLES": "public.payments,public.payments"}, "CUTOVER_TABLES", "more than once"),
    (
        {"DMS_TABLE_MAPPINGS": "billing.%", "CUTOVER_TABLES": "public.payments"},
        "CUTOVER_TABLES",
        "public.payments not replicated by DMS_TABLE_MAPPINGS (billing.%)",
    ),
    ({"CUTOVER_MAX_PAUSE_SECONDS": "4"}, "CUTOVER_MAX_PAUSE_SECONDS", "from 5 to 120"),
    # an internet-facing ALB's records live in the public zone the clients resolve in
    (
        {"TARGET": "aws", "CERTIFICATE_ARN": CERT_US_EAST_1, "ONPREM_CUSTOMER_GATEWAY_IP": "52.94.76.200"},
        "HOSTED_ZONE_ID",
        "required on TARGET=aws for an internet-facing ALB",
    ),
    (
        {
            "TARGET": "aws",
            "CERTIFICATE_ARN": CERT_US_EAST_1,
            "ONPREM_CUSTOMER_GATEWAY_IP": "52.94.76.200",
            "ALB_INTERNAL": "false",
        },
        "HOSTED_ZONE_ID",
        "a private zone created by the stack is only for ALB_INTERNAL=true",
    ),
]


@pytest.mark.parametrize(
    ("environ", "name", "allowed"), CUTOVER_INVALID, ids=[_case_id(case) for case in CUTOVER_INVALID]
)
def test_invalid_cutover_setting_is_one_line_naming_setting_value_and_rule(environ, name, allowed):
    test_invalid_setting_is_one_line_naming_setting_value_and_rule(environ, name, allowed)


def test_private_legacy_addresses_are_where_writes_go_by_default():
    assert load_settings({"LEGACY_ENDPOINT": "192.168.50.10,192.168.50.11"}).legacy_write_ips == (
        "192.168.50.10",
        "192.168.50.11",
    )
    assert load_settings({}).legacy_write_ips is None
    # a public legacy endpoint names its private addresses; RFC 6598 shared space is allowed for ALB IP targets
    settings = load_settings(
        {"LEGACY_ENDPOINT": "52.94.76.10", "LEGACY_WRITE_IPS": "100.64.1.5, 100.64.2.5", "ONPREM_CIDR": "100.64.0.0/16"}
    )
    assert settings.legacy_write_ips == ("100.64.1.5", "100.64.2.5")


def test_cutover_defaults():
    settings = load_settings({})
    assert (settings.cutover_tables, settings.cutover_max_pause_seconds) == (("public.payments",), 20)
    assert load_settings(
        {"CUTOVER_TABLES": "public.payments, billing.refunds", "DMS_TABLE_MAPPINGS": "public.%,billing.refunds"}
    ).cutover_tables == ("public.payments", "billing.refunds")


def test_a_private_zone_only_for_an_internal_alb_on_aws():
    base = {"TARGET": "aws", "CERTIFICATE_ARN": CERT_US_EAST_1, "ONPREM_CUSTOMER_GATEWAY_IP": "52.94.76.200"}
    assert load_settings({**base, "ALB_INTERNAL": "true"}).hosted_zone_id is None
    assert (
        load_settings({**base, "HOSTED_ZONE_ID": "Z0123456789ABC", "HOSTED_ZONE_NAME": "example.com"}).hosted_zone_id
        == "Z0123456789ABC"
    )
    assert load_settings({}).hosted_zone_id is None  # the local target keeps its private zone
