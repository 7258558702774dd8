"""The settings profiles the unit suite synthesizes (and tools/addresses.py records): environment values each."""

# Legacy addresses of the two allowed classes (documentation ranges such as 203.0.113.0/24 are refused).
GLOBAL_LEGACY_IP = "52.94.76.10"
PRIVATE_LEGACY_IP = "192.168.50.10"
# The private address of a legacy API published under a public address or a host name.
LEGACY_WRITE_IP = "192.168.50.20"
# The public address of an on-premises VPN device (globally routable, like a real one).
VPN_PEER_IP = "52.94.76.200"

PROFILES: dict[str, dict[str, str]] = {
    "dev": {},
    # The source database by host name, found through DNS forwarding to on-premises; an existing Transit Gateway
    # routes to it.
    "prod": {
        "ENVIRONMENT": "prod",
        "AWS_REGION": "eu-central-1",
        "ENVIRONMENT_SUFFIX": "pr4821",
        "ONPREM_TRANSIT_GATEWAY_ID": "tgw-0123456789abcdef0",
        "ONPREM_DB_HOST": "pg01.corp.example.com",
        "ONPREM_DNS_SERVERS": "192.168.0.2,192.168.0.3",
    },
    "https": {
        "AWS_REGION": "eu-central-1",
        "CERTIFICATE_ARN": "arn:aws:acm:eu-central-1:123456789012:certificate/abc",
        "LEGACY_ENDPOINT": GLOBAL_LEGACY_IP,  # globally routable: gets a Route53 health check
        "LEGACY_WRITE_IPS": LEGACY_WRITE_IP,  # where the ALB sends writes while legacy is the writer (over the VPN)
        "ONPREM_CUSTOMER_GATEWAY_IP": VPN_PEER_IP,  # a statically routed Site-to-Site VPN
        # Mutual TLS: a trust store from this bundle, client certificates verified on 443.
        "CLIENT_CA_BUNDLE_S3_URI": "s3://payments-trust-eu/clients/ca-bundle.pem",
    },
    "legacy_hostname": {
        "LEGACY_ENDPOINT": "legacy-payments.example.com",
        "NEW_SYSTEM_WEIGHT": "10",
        "LEGACY_WRITE_IPS": LEGACY_WRITE_IP,
    },
    # A real account: a certificate and a way to on-premises are required there (here a VPN with BGP); the
    # existing zone comes with its name; the legacy system is private (RFC 1918), reached over the VPN, with no
    # health check.
    "aws_s3_backend": {
        "TARGET": "aws",
        "TERRAFORM_STATE_BUCKET": "tap-state-bucket",
        "CERTIFICATE_ARN": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
        "CREATE_DMS_SERVICE_ROLES": "false",
        "HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ",
        "HOSTED_ZONE_NAME": "payments-dev.internal",
        "LEGACY_ENDPOINT": PRIVATE_LEGACY_IP,
        "ONPREM_CUSTOMER_GATEWAY_IP": VPN_PEER_IP,
        "ONPREM_BGP_ASN": "65010",
    },
}

# `terraform validate` loads the provider schema, the slowest step of the unit suite. prod and https
# together hold every resource type and attribute that dev and aws_s3_backend synthesize
# (test_validate_and_determinism.py checks it), so validating those too would only load the schema again.
VALIDATED_PROFILES = ("prod", "https")
COVERED_PROFILES = ("dev", "aws_s3_backend")
