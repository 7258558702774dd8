"""The settings profiles the unit suite synthesizes (and tools/addresses.py records): environment values each."""

# Legacy addresses of the two allowed classes (documentation ranges such as 203.0.113.0/24 are refused).
GLOBAL_LEGACY_IP = "52.94.76.10"
PRIVATE_LEGACY_IP = "192.168.50.10"

PROFILES: dict[str, dict[str, str]] = {
    "dev": {},
    "prod": {"ENVIRONMENT": "prod", "AWS_REGION": "eu-central-1", "ENVIRONMENT_SUFFIX": "pr4821"},
    "https": {
        "AWS_REGION": "eu-central-1",
        "CERTIFICATE_ARN": "arn:aws:acm:eu-central-1:123456789012:certificate/abc",
        "LEGACY_ENDPOINT": GLOBAL_LEGACY_IP,  # globally routable: gets a Route53 health check
        # Mutual TLS: a trust store from this bundle, client certificates verified on 443.
        "CLIENT_CA_BUNDLE_S3_URI": "s3://payments-trust-eu/clients/ca-bundle.pem",
    },
    "legacy_hostname": {"LEGACY_ENDPOINT": "legacy-payments.example.com", "NEW_SYSTEM_WEIGHT": "10"},
    # A real account: a certificate is required there; the existing zone comes with its name;
    # the legacy system is private (RFC 1918), reached over the VPN, with no health check.
    "aws_s3_backend": {"TARGET": "aws", "TERRAFORM_STATE_BUCKET": "tap-state-bucket",
                       "CERTIFICATE_ARN": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
                       "CREATE_DMS_SERVICE_ROLES": "false", "HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ",
                       "HOSTED_ZONE_NAME": "payments-dev.internal", "LEGACY_ENDPOINT": PRIVATE_LEGACY_IP},
}
