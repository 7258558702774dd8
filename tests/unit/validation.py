"""`terraform validate` of the validated profiles, run in the background while the rest of the suite goes on.

Its own module, not conftest.py: pytest imports a conftest under a name of its own, so a stash key
defined there would be a different object in a test module that imports it.
"""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.unit.profiles import VALIDATED_PROFILES
from tools import terraform

if TYPE_CHECKING:
    from tests.unit.synthesized import Synthesized

Runs = dict[str, Future[subprocess.CompletedProcess]]  # by profile
VALIDATIONS = pytest.StashKey[Runs]()


def init_and_validate(stack_dir: Path) -> subprocess.CompletedProcess:
    init = terraform.run(stack_dir, ["init", "-backend=false", "-input=false", "-no-color"], capture=True)
    if init.returncode != 0:
        return init
    return terraform.run(stack_dir, ["validate", "-no-color"], capture=True)


def start_validations(*, synthesized: dict[str, Synthesized], root: Path) -> Runs:
    """`terraform validate` of each validated profile, each in its own copy of the stack folder."""
    folders = {}
    for profile in VALIDATED_PROFILES:
        stack_dir = synthesized[profile].stack_dir
        assert stack_dir is not None, f"{profile} was not synthesized to a folder"
        folders[profile] = root / profile / "stack"
        shutil.copytree(stack_dir, folders[profile])
    pool = ThreadPoolExecutor(max_workers=len(folders), thread_name_prefix="terraform-validate")
    runs = {profile: pool.submit(init_and_validate, folder) for profile, folder in folders.items()}
    pool.shutdown(wait=False)  # the runs go on; the threads end with them
    return runs
