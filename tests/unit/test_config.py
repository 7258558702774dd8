"""Every invalid setting fails before any construct exists, naming the setting, value and rule."""

import subprocess
import sys
from pathlib import Path

import pytest

from lib.config import AURORA_POSTGRES_VERSIONS, ConfigError, load_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]

INVALID = [
    ({"ENVIRONMENT_SUFFIX": "Bad Suffix!"}, "ENVIRONMENT_SUFFIX", "lowercase"),
    ({"ENVIRONMENT_SUFFIX": "a" * 17}, "ENVIRONMENT_SUFFIX", "32 characters"),
    ({"ENVIRONMENT_SUFFIX": "pr--1"}, "ENVIRONMENT_SUFFIX", "single hyphens"),
    ({"ENVIRONMENT_SUFFIX": "pr-"}, "ENVIRONMENT_SUFFIX", "single hyphens"),
    ({"ENVIRONMENT": "staging"}, "ENVIRONMENT", "dev, prod"),
    ({"AWS_REGION": "useast1"}, "AWS_REGION", "region name"),
    ({"AWS_REGION": "us-east-1a"}, "AWS_REGION", "region name"),
    ({"TARGET": "gcp"}, "TARGET", "local, aws"),
    ({"VPC_CIDR": "10.0.0.0/33"}, "VPC_CIDR", "CIDR"),
    ({"VPC_CIDR": "10.0.0.1/16"}, "VPC_CIDR", "no host bits"),
    ({"VPC_CIDR": "10.0.0.0/24"}, "VPC_CIDR", "/16 to /20"),
    ({"ONPREM_CIDR": "10.40.128.0/17"}, "ONPREM_CIDR", "must not overlap VPC_CIDR"),
    ({"NAT_GATEWAYS": "0"}, "NAT_GATEWAYS", "from 1 to 3"),
    ({"NAT_GATEWAYS": "4"}, "NAT_GATEWAYS", "from 1 to 3"),
    ({"NAT_GATEWAYS": "two"}, "NAT_GATEWAYS", "whole number"),
    ({"LOG_RETENTION_DAYS": "8"}, "LOG_RETENTION_DAYS", "must be one of"),
    ({"TERRAFORM_STATE_BUCKET": "Bad_Bucket"}, "TERRAFORM_STATE_BUCKET", "S3 bucket name"),
    ({"TERRAFORM_STATE_BUCKET_REGION": "mars"}, "TERRAFORM_STATE_BUCKET_REGION", "region name"),
    ({"DB_ENGINE_VERSION": "15.4"}, "DB_ENGINE_VERSION", ", ".join(AURORA_POSTGRES_VERSIONS)),
    ({"DB_MIN_ACU": "0.3"}, "DB_MIN_ACU", "steps of 0.5"),
    ({"DB_MAX_ACU": "1.25"}, "DB_MAX_ACU", "steps of 0.5"),
    ({"DB_MAX_ACU": "lots"}, "DB_MAX_ACU", "steps of 0.5"),
    ({"DB_MIN_ACU": "4", "DB_MAX_ACU": "2"}, "DB_MIN_ACU", "must not exceed DB_MAX_ACU"),
    ({"ENVIRONMENT": "prod", "DB_READERS": "0"}, "DB_READERS", "at least 1 in prod"),
    ({"DB_READERS": "16"}, "DB_READERS", "from 0 to 15"),
    ({"ENVIRONMENT": "prod", "DB_BACKUP_RETENTION_DAYS": "7"}, "DB_BACKUP_RETENTION_DAYS", "35 in prod"),
    ({"DB_BACKUP_RETENTION_DAYS": "36"}, "DB_BACKUP_RETENTION_DAYS", "from 1 to 35"),
    ({"DB_NAME": "Payments-DB"}, "DB_NAME", "PostgreSQL identifier"),
    ({"DMS_INSTANCE_CLASS": "r5.large"}, "DMS_INSTANCE_CLASS", "dms.r5.large"),
    ({"DMS_ENGINE_VERSION": "3.4.7"}, "DMS_ENGINE_VERSION", "3.5.3"),
    ({"CREATE_DMS_SERVICE_ROLES": "maybe"}, "CREATE_DMS_SERVICE_ROLES", "true or false"),
    ({"ONPREM_DB_HOST": "10.1.2.3"}, "ONPREM_DB_HOST", "inside ONPREM_CIDR"),
    ({"ONPREM_DB_HOST": "bad host!"}, "ONPREM_DB_HOST", "hostname"),
    ({"ONPREM_DB_PORT": "70000"}, "ONPREM_DB_PORT", "from 1 to 65535"),
    ({"ONPREM_DB_SECRET_ARN": "secret"}, "ONPREM_DB_SECRET_ARN", "Secrets Manager secret ARN"),
    ({"DMS_TABLE_MAPPINGS": "payments"}, "DMS_TABLE_MAPPINGS", "schema.table"),
    ({"DMS_TABLE_MAPPINGS": "public.x;drop"}, "DMS_TABLE_MAPPINGS", "schema.table"),
    ({"CERTIFICATE_ARN": "arn:aws:iam::123456789012:server-certificate/x"}, "CERTIFICATE_ARN", "ACM certificate ARN"),
    ({"CERTIFICATE_ARN": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}, "CERTIFICATE_ARN",
     "stack's region us-east-1"),
    ({"ALB_INTERNAL": "sometimes"}, "ALB_INTERNAL", "true or false"),
    ({"LEGACY_ENDPOINT": "203.0.113.10,not-an-ip"}, "LEGACY_ENDPOINT", "hostname or a comma-separated list"),
    ({"LEGACY_ENDPOINT": "bad_host!"}, "LEGACY_ENDPOINT", "hostname"),
    ({"HOSTED_ZONE_NAME": "localhost"}, "HOSTED_ZONE_NAME", "two labels"),
    ({"HOSTED_ZONE_ID": "12345"}, "HOSTED_ZONE_ID", "hosted zone id"),
    ({"API_RECORD_NAME": "api.v1"}, "API_RECORD_NAME", "one DNS label"),
    ({"NEW_SYSTEM_WEIGHT": "101"}, "NEW_SYSTEM_WEIGHT", "from 0 to 100"),
    ({"NEW_SYSTEM_WEIGHT": "-1"}, "NEW_SYSTEM_WEIGHT", "from 0 to 100"),
    ({"PAYMENT_API_RESERVED_CONCURRENCY": "10"}, "PAYMENT_API_RESERVED_CONCURRENCY", "from 50 to 1000"),
    ({"CDC_LATENCY_THRESHOLD_SECONDS": "0"}, "CDC_LATENCY_THRESHOLD_SECONDS", "from 1 to 86400"),
    ({"LOCAL_AWS_PORT": "80"}, "LOCAL_AWS_PORT", "from 1024 to 65535"),
    ({"ALARM_EMAIL": "ops"}, "ALARM_EMAIL", "e-mail"),
    ({"COST_CENTER": "x" * 129}, "COST_CENTER", "1-128"),
]


@pytest.mark.parametrize(("environ", "name", "allowed"), INVALID,
                         ids=[f"{case[1]}={list(case[0].values())[-1]}" for case in INVALID])
def test_invalid_setting_names_setting_value_and_rule(environ, name, allowed):
    with pytest.raises(ConfigError) as raised:
        load_settings(environ)
    message = str(raised.value)
    assert message.startswith(f"{name}={environ[name]!r} is invalid: ")
    assert allowed in message


def test_defaults_are_the_dev_profile():
    settings = load_settings({})
    assert (settings.environment_suffix, settings.environment, settings.aws_region, settings.target) == (
        "dev", "dev", "us-east-1", "local")
    assert settings.nat_gateways == 1
    assert (settings.db_min_acu, settings.db_max_acu) == (0.5, 2.0)
    assert settings.db_engine_version == "15.8"
    assert settings.listener_ports == (80,)
    assert settings.new_system_weight == 100


def test_prod_profile_defaults():
    settings = load_settings({"ENVIRONMENT": "prod"})
    assert settings.nat_gateways == 3
    assert (settings.db_min_acu, settings.db_max_acu) == (1.0, 8.0)
    assert settings.db_backup_retention_days == 35
    assert settings.db_readers >= 1


def test_legacy_endpoint_defaults_all_traffic_to_legacy():
    settings = load_settings({"LEGACY_ENDPOINT": "203.0.113.10, 203.0.113.11"})
    assert settings.new_system_weight == 0
    assert settings.legacy_ips == ("203.0.113.10", "203.0.113.11")
    assert load_settings({"LEGACY_ENDPOINT": "legacy.example.com"}).legacy_ips == ()


def test_certificate_opens_https_and_redirect_ports():
    settings = load_settings({"CERTIFICATE_ARN": "arn:aws:acm:us-east-1:123456789012:certificate/abc"})
    assert settings.listener_ports == (80, 443)


def test_dms_service_roles_created_by_default_only_on_the_emulator():
    assert load_settings({}).create_dms_service_roles is True
    assert load_settings({"TARGET": "aws"}).create_dms_service_roles is False


def test_bad_setting_makes_synth_exit_with_one_line_and_no_traceback():
    environ = {"PATH": "/usr/bin:/bin", "ENVIRONMENT_SUFFIX": "Bad Suffix!"}
    result = subprocess.run([sys.executable, "main.py"], cwd=PROJECT_ROOT, env=environ,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "ENVIRONMENT_SUFFIX='Bad Suffix!'" in lines[0]
    assert "Traceback" not in result.stderr


def test_deletion_protection_defaults_on_for_real_accounts_and_prod():
    assert load_settings({}).deletion_protection is False
    assert load_settings({"TARGET": "aws"}).deletion_protection is True
    assert load_settings({"ENVIRONMENT": "prod"}).deletion_protection is True
    assert load_settings({"TARGET": "aws", "DELETION_PROTECTION": "false"}).deletion_protection is False
    with pytest.raises(ConfigError, match="DELETION_PROTECTION='soon' is invalid: must be true or false"):
        load_settings({"DELETION_PROTECTION": "soon"})
