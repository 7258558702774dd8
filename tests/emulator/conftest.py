"""One emulator for the whole emulator suite, started with the real CLI and stopped at the end.

Tests that need an emulator of their own (lifecycle, idle stop) start it themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.emulator.harness import REGION, Emulator, start_emulator, stop_emulator, unique
from tools.local_aws.client import LocalAwsControl


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    running, started = start_emulator(tmp_path_factory.mktemp("emulator"))
    assert started.returncode == 0, started.stderr
    yield running
    stop_emulator(running)


@pytest.fixture(scope="session")
def aws(emulator: Emulator) -> Callable[[str], Any]:
    return emulator.client


@pytest.fixture(scope="session")
def network(aws: Callable[[str], Any]) -> dict[str, Any]:
    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")
        for i, zone in enumerate("ab", start=1)
    ]
    subnet_ids = [subnet["Subnet"]["SubnetId"] for subnet in subnets]
    return {"vpc_id": vpc_id, "subnet_ids": subnet_ids}


@pytest.fixture(scope="session")
def control(emulator: Emulator) -> LocalAwsControl:
    """The emulator's control endpoints, with Lambda's async retry delays shortened for the session."""
    control = LocalAwsControl(emulator.port)
    control.set_retry_delays(0.1, 0.1)  # Lambda waits 1 and 2 minutes; the behaviour is the same
    return control


@pytest.fixture(scope="session")
def records_bucket(aws: Callable[[str], Any]) -> str:
    """Where the probe function records the events it receives."""
    name = unique("probe-records")
    aws("s3").create_bucket(Bucket=name)
    return name
