"""The version guard (tools/local_aws/moto_guard.py): moto 5.2.5 exactly, every patched internal in place."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.emulator.harness import ROOT, listening_addresses
from tools.local_aws import moto_guard
from tools.local_aws.common import EmulatorError
from tools.local_aws.loopback import free_port
from tools.local_aws.patches import all_patches
from tools.local_aws.server import SERVER_INTERNALS


def nothing() -> None:
    """The body of a test patch: only its declarations are checked."""


def test_check_accepts_the_installed_pinned_moto_and_every_declared_internal() -> None:
    moto_guard.check_moto(all_patches(), also_requires=SERVER_INTERNALS)


def test_every_patch_declares_what_it_relies_on() -> None:
    patches = all_patches()
    assert len({patch.name for patch in patches}) == len(patches)
    assert all(patch.requires for patch in patches), [p.name for p in patches if not p.requires]


def test_check_refuses_another_moto_version() -> None:
    with pytest.raises(EmulatorError) as refused:
        moto_guard.check_moto(all_patches(), version="5.2.6")
    message = str(refused.value)
    assert "refuses to start" in message and "moto 5.2.6 is installed" in message and "5.2.5" in message


@pytest.mark.parametrize(
    ("requires", "adds", "problem"),
    [
        (
            {"moto.dms.models.FakeReplicationTask.no_such_method": ()},
            (),
            "moto.dms.models.FakeReplicationTask.no_such_method is missing",
        ),
        (
            {"moto.elbv2.models.ELBv2Backend.create_load_balancer": ("no_such_param",)},
            (),
            "create_load_balancer no longer takes no_such_param",
        ),
        (
            {
                "moto.rds.models.DBCluster.status": moto_guard.PROPERTY,
                "moto.rds.models.DBCluster.failover": moto_guard.PROPERTY,
            },
            (),
            "moto.rds.models.DBCluster.failover is no longer a property",
        ),
        (
            {"moto.rds.models.DBCluster.__init__": moto_guard.CLASS},
            (),
            "moto.rds.models.DBCluster.__init__ is no longer a class",
        ),
        (
            {},
            ("moto.rds.responses.RDSResponse.create_db_cluster",),
            "moto.rds.responses.RDSResponse.create_db_cluster already exists",
        ),
    ],
)
def test_check_refuses_internals_not_where_expected(
    requires: dict[str, Any], adds: tuple[str, ...], problem: str
) -> None:
    broken = moto_guard.moto_patch(requires=requires, adds=adds)(nothing)
    with pytest.raises(EmulatorError) as refused:
        moto_guard.check_moto([*all_patches(), broken], version=moto_guard.MOTO_VERSION)
    assert "refuses to start" in str(refused.value) and problem in str(refused.value)


def test_serve_refuses_to_start_on_a_version_mismatch() -> None:
    port = free_port()
    refused = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from tools.local_aws import cli, moto_guard; moto_guard.MOTO_VERSION = '0.0.0'; "
            f"sys.exit(cli.main(['serve', '--port', '{port}', '--idle-timeout', '30']))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "refuses to start" in refused.stderr and "0.0.0" in refused.stderr
    assert listening_addresses(port) == set()
