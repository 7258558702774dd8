"""`terraform validate` of the validated profiles, run in the background while the rest of the suite goes on.

Its own module, not conftest.py: pytest imports a conftest under a name of its own, so a stash key
defined there would be a different object in a test module that imports it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
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


def shape(node: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path of a block (list items and values ignored): what validation checks against the schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "//":
                yield path + (key,)
                yield from shape(value, path + (key,))
    elif isinstance(node, list):
        for item in node:
            yield from shape(item, path)


def validation_root(configs: dict[str, dict]) -> tuple[dict, dict[str, dict]]:
    """(root module, child module per profile) for synthesized configurations by profile.

    The root configures the provider once, with the first profile's block; the modules inherit it.
    One provider configuration starts one provider process: a block per module started one each,
    to validate blocks that differ only in values. So the blocks must have one shape. The modules
    drop the backend too, which only a root module may carry (`init -backend=false` skips it).
    """
    first = next(iter(configs.values()))
    provider_shape = set(shape(first["provider"]))
    for profile, config in configs.items():
        if set(shape(config["provider"])) != provider_shape:
            raise ValueError(
                f"{profile} configures the provider with other settings than {next(iter(configs))}: "
                "one validation run checks one provider block; validate it in a run of its own"
            )
    modules = {
        profile: {
            **{section: blocks for section, blocks in config.items() if section != "provider"},
            "terraform": {key: value for key, value in config["terraform"].items() if key != "backend"},
        }
        for profile, config in configs.items()
    }
    root = {
        "terraform": {"required_providers": first["terraform"]["required_providers"]},
        "provider": first["provider"],
        "module": {profile: {"source": f"./{profile}"} for profile in configs},
    }
    return root, modules


def write_validation_root(*, synthesized: dict[str, Synthesized], root: Path) -> Path:
    """The validation root for every validated profile, with each module's assets; returns its folder."""
    root_config, modules = validation_root({profile: synthesized[profile].json for profile in VALIDATED_PROFILES})
    for profile, config in modules.items():
        stack_dir = synthesized[profile].stack_dir
        assert stack_dir is not None, f"{profile} was not synthesized to a folder"
        shutil.copytree(stack_dir, root / profile)
        (root / profile / "cdk.tf.json").write_text(json.dumps(config, indent=2))
    (root / "main.tf.json").write_text(json.dumps(root_config, indent=2))
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
