"""`terraform validate` of the validated profiles, run in the background while the rest of the suite goes on.

Its own module, not conftest.py: pytest imports a conftest under a name of its own, so a stash key
defined there would be a different object in a test module that imports it.
"""

from __future__ import annotations

import json
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

VALIDATION = pytest.StashKey[Future[subprocess.CompletedProcess]]()


def init_and_validate(root_dir: Path) -> subprocess.CompletedProcess:
    init = terraform.run(root_dir, ["init", "-backend=false", "-input=false", "-no-color"], capture=True)
    if init.returncode != 0:
        return init
    return terraform.run(root_dir, ["validate", "-no-color"], capture=True)


def copy_as_module(stack_dir: Path, module_dir: Path) -> None:
    """The synthesized stack as a child module: the same blocks, without the backend (which only a root
    module may carry; `init -backend=false` never reads it either)."""
    shutil.copytree(stack_dir, module_dir)
    config = module_dir / "cdk.tf.json"
    blocks = json.loads(config.read_text())
    blocks["terraform"].pop("backend", None)
    config.write_text(json.dumps(blocks, indent=2))


def write_validation_root(*, synthesized: dict[str, Synthesized], root: Path) -> Path:
    """A root module that calls every validated profile as a child module; returns its folder."""
    modules = {}
    for profile in VALIDATED_PROFILES:
        stack_dir = synthesized[profile].stack_dir
        assert stack_dir is not None, f"{profile} was not synthesized to a folder"
        copy_as_module(stack_dir, root / profile)
        modules[profile] = {"source": f"./{profile}"}
    (root / "main.tf.json").write_text(json.dumps({"module": modules}, indent=2))
    return root


def start_validation(*, synthesized: dict[str, Synthesized], root: Path) -> Future[subprocess.CompletedProcess]:
    """One `terraform validate` of every validated profile, in the background.

    Validation is mostly Terraform loading the AWS provider's schema: one run over a root that calls
    each profile as a module loads it once for all of them (a run per profile cost a schema load each,
    on a two-core machine, beside the suite). Errors name the module, so they still say which profile.
    """
    folder = write_validation_root(synthesized=synthesized, root=root)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="terraform-validate")
    run = pool.submit(init_and_validate, folder)
    pool.shutdown(wait=False)  # the run goes on; the thread ends with it
    return run
