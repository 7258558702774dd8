"""The settings profiles the unit suite synthesizes (and tools/addresses.py records): environment values each."""

PROFILES: dict[str, dict[str, str]] = {
    "dev": {},
    "prod": {"ENVIRONMENT": "prod", "AWS_REGION": "eu-central-1", "ENVIRONMENT_SUFFIX": "pr4821"},
    "https": {
        "AWS_REGION": "eu-central-1",
        "CERTIFICATE_ARN": "arn:aws:acm:eu-central-1:123456789012:certificate/abc",
        "LEGACY_ENDPOINT": "203.0.113.10",
    },
    "legacy_hostname": {"LEGACY_ENDPOINT": "legacy-payments.example.com", "NEW_SYSTEM_WEIGHT": "10"},
    "aws_s3_backend": {"TARGET": "aws", "TERRAFORM_STATE_BUCKET": "tap-state-bucket",
                       "CREATE_DMS_SERVICE_ROLES": "false", "HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ"},
}
