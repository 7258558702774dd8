"""Synthesizes each settings profile once per test session and hands out the parsed JSON.

Loading the provider's jsii assembly dominates synth time, so every profile is
synthesized in this one process (the assembly loads once).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib.config import load_settings
from lib.toolchain import use_supported_node

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
    },
    "legacy_hostname": {"LEGACY_ENDPOINT": "legacy-payments.example.com", "NEW_SYSTEM_WEIGHT": "10"},
    # A real account: a certificate is required there; the existing zone comes with its name;
    # the legacy system is private (RFC 1918), reached over the VPN, with no health check.
    "aws_s3_backend": {"TARGET": "aws", "TERRAFORM_STATE_BUCKET": "tap-state-bucket",
                       "CERTIFICATE_ARN": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
                       "CREATE_DMS_SERVICE_ROLES": "false", "HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ",
                       "HOSTED_ZONE_NAME": "payments-dev.internal", "LEGACY_ENDPOINT": PRIVATE_LEGACY_IP},
}


def synthesize(outdir: Path, environ: dict[str, str]) -> Path:
    """Synthesizes the app for one set of environment values; returns the stack folder."""
    use_supported_node()
    from cdktf import App  # noqa: PLC0415 - jsii must start on the supported Node

    from lib.tap_stack import TapStack  # noqa: PLC0415

    settings = load_settings(environ)
    outdir.mkdir(parents=True, exist_ok=True)
    app = App(outdir=str(outdir))
    TapStack(app, settings.stack_name, settings=settings)
    app.synth()
    return outdir / "stacks" / settings.stack_name


class Synthesized:
    """One synthesized profile: its folder and its parsed cdk.tf.json."""

    def __init__(self, stack_dir: Path):
        self.stack_dir = stack_dir
        self.text = (stack_dir / "cdk.tf.json").read_text()
        self.json = json.loads(self.text)

    def resources(self, resource_type: str) -> dict[str, dict]:
        return self.json.get("resource", {}).get(resource_type, {})

    def one(self, resource_type: str) -> dict:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.values()))

    def data(self, data_type: str) -> dict[str, dict]:
        return self.json.get("data", {}).get(data_type, {})

    @property
    def outputs(self) -> dict[str, dict]:
        return self.json.get("output", {})


@pytest.fixture(scope="session")
def synth_all(tmp_path_factory) -> dict[str, Synthesized]:
    root = tmp_path_factory.mktemp("synth")
    return {name: Synthesized(synthesize(root / name, env)) for name, env in PROFILES.items()}


@pytest.fixture(scope="session")
def dev(synth_all) -> Synthesized:
    return synth_all["dev"]


@pytest.fixture(scope="session")
def prod(synth_all) -> Synthesized:
    return synth_all["prod"]


@pytest.fixture(scope="session")
def https(synth_all) -> Synthesized:
    return synth_all["https"]
