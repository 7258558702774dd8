"""The sample profiles `make scan` synthesizes: what a real account deploys (TARGET=aws), dev and prod.

    python -m tools.scan_profiles          synthesize each profile (cdktf.out/stacks/TapStack<suffix>/)
    python -m tools.scan_profiles --files  print the cdk.tf.json path of each, for tools/scan.py

Each profile holds the values a real account must supply itself, as placeholders of the right kind: an
ACM certificate, a way to on-premises, the source database and its DNS, a state bucket, the alarm e-mail,
and in prod the client CA bundle of mutual TLS.
Nothing in them turns off what a real deploy needs or would refuse: no CREATE_DMS_SERVICE_ROLES=true, no
ONPREM_ROUTES_MANAGED_OUTSIDE=true, no private legacy address pretending to be health-checked. Replace
every value with your account's before a real deploy; the scan judges the shape, the preflight
(tools/preflight.py) asks the account.

Only the profile's variables are set: settings in the caller's environment do not leak into the scan.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lib.config import setting_specs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"  # placeholder: the account the stack is deployed to

PROFILES: dict[str, dict[str, str]] = {
    # dev in a real account: a statically routed Site-to-Site VPN to the data centre, the source database by
    # address, legacy reached privately over the VPN (no health check).
    "scandev": {
        "ENVIRONMENT": "dev",
        "TARGET": "aws",
        "AWS_REGION": "us-east-1",
        "CERTIFICATE_ARN": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0b5e4c1d-2f3a-4b6c-8d9e-1a2b3c4d5e6f",
        "TERRAFORM_STATE_BUCKET": f"payments-terraform-state-{ACCOUNT}",
        "ONPREM_CIDR": "192.168.0.0/16",
        "ONPREM_CUSTOMER_GATEWAY_IP": "52.94.76.200",  # the public address of your VPN device
        "ONPREM_DB_HOST": "192.168.10.20",
        "LEGACY_ENDPOINT": "192.168.50.10",
        # the existing public zone the API's clients resolve in (the ALB is internet-facing)
        "HOSTED_ZONE_ID": "Z0123456789DEVZONE0",
        "HOSTED_ZONE_NAME": "payments-dev.example.com",
        "ALARM_EMAIL": "payments-oncall@example.com",
    },
    # prod in a real account: an existing Transit Gateway, the source database by host name (resolved by the
    # data centre's DNS servers through a Route53 Resolver endpoint), legacy on public addresses (health-checked).
    "scanprod": {
        "ENVIRONMENT": "prod",
        "TARGET": "aws",
        "AWS_REGION": "us-east-1",
        "CERTIFICATE_ARN": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/7c6d5e4f-3a2b-4c1d-9e8f-6a5b4c3d2e1f",
        # A public prod ALB verifies client certificates: the CA bundle of the merchants' certificates.
        "CLIENT_CA_BUNDLE_S3_URI": f"s3://payments-client-trust-{ACCOUNT}/merchants/ca-bundle.pem",
        "TERRAFORM_STATE_BUCKET": f"payments-terraform-state-{ACCOUNT}",
        "ONPREM_CIDR": "192.168.0.0/16",
        "ONPREM_TRANSIT_GATEWAY_ID": "tgw-0a1b2c3d4e5f60718",  # shared with the account through RAM
        "ONPREM_DB_HOST": "pg-payments01.dc1.corp.example.com",
        "ONPREM_DNS_SERVERS": "192.168.0.2,192.168.0.3",
        "LEGACY_ENDPOINT": "52.94.76.10,52.94.76.11",
        "LEGACY_WRITE_IPS": "192.168.50.10,192.168.50.11",  # the same API's private addresses over the Transit Gateway
        "HOSTED_ZONE_ID": "Z0123456789PRODZONE",
        "HOSTED_ZONE_NAME": "payments.example.com",
        "ALARM_EMAIL": "payments-oncall@example.com",
    },
}


def stack_file(suffix: str) -> Path:
    return PROJECT_ROOT / "cdktf.out" / "stacks" / f"TapStack{suffix}" / "cdk.tf.json"


def profile_environment(suffix: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any setting, plus the profile and its suffix."""
    settings = {spec.env for _, spec in setting_specs()}
    kept = {name: value for name, value in (os.environ if base is None else base).items() if name not in settings}
    return {**kept, **PROFILES[suffix], "ENVIRONMENT_SUFFIX": suffix}


def synthesize(suffix: str) -> int:
    print(f"scan profile {suffix}: synthesizing", flush=True)
    return subprocess.run(
        [sys.executable, "-m", "tools.stack", "synth"], cwd=PROJECT_ROOT, env=profile_environment(suffix), check=False
    ).returncode


def main(argv: list[str]) -> int:
    if argv == ["--files"]:
        print(" ".join(str(stack_file(suffix).relative_to(PROJECT_ROOT)) for suffix in PROFILES))
        return 0
    if argv:
        print("usage: python -m tools.scan_profiles [--files]", file=sys.stderr)
        return 2
    for suffix in PROFILES:
        code = synthesize(suffix)
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
