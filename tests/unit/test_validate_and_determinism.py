"""The synthesized JSON passes `terraform validate` against the real provider schema, and the
same commit synthesizes byte-identical output."""

import hashlib
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.unit.conftest import PROFILES, synthesize
from tools import terraform


VALIDATED_PROFILES = ("dev", "prod", "https")


def _init_and_validate(stack_dir):
    init = terraform.run(stack_dir, ["init", "-backend=false", "-input=false", "-no-color"], capture=True)
    if init.returncode != 0:
        return init
    return terraform.run(stack_dir, ["validate", "-no-color"], capture=True)


@pytest.fixture(scope="module")
def validations(synth_all, tmp_path_factory):
    """Validates the profiles concurrently: each run is mostly the provider loading its schema."""
    folders = {}
    for profile in VALIDATED_PROFILES:
        folders[profile] = tmp_path_factory.mktemp(f"validate-{profile}") / "stack"
        shutil.copytree(synth_all[profile].stack_dir, folders[profile])
    with ThreadPoolExecutor(max_workers=len(folders)) as pool:
        results = dict(zip(folders, pool.map(_init_and_validate, folders.values())))
    return results


@pytest.mark.parametrize("profile", VALIDATED_PROFILES)
def test_terraform_validate_passes_offline(validations, profile):
    result = validations[profile]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The configuration is valid" in result.stdout


def test_cli_config_uses_the_provider_mirror_when_present(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(mirror))
    assert terraform.find_provider_mirror() == mirror
    assert f'path    = "{mirror}"' in terraform.cli_config_text(mirror)
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(tmp_path / "missing"))
    assert terraform.find_provider_mirror() is None
    assert "filesystem_mirror" not in terraform.cli_config_text(None)


def _peak_concurrency(monkeypatch, stack_dir, args, calls=4):
    """How many `terraform args` ran at once when `calls` threads start them together."""
    running, peak, guard = 0, 0, threading.Lock()

    def fake_terraform(command, **_):
        nonlocal running, peak
        with guard:
            running += 1
            peak = max(peak, running)
        time.sleep(0.1)
        with guard:
            running -= 1
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(terraform.subprocess, "run", fake_terraform)
    with ThreadPoolExecutor(max_workers=calls) as pool:
        list(pool.map(lambda _: terraform.run(stack_dir, args), range(calls)))
    return peak


def test_inits_take_turns_on_the_shared_plugin_cache(monkeypatch, tmp_path):
    assert _peak_concurrency(monkeypatch, tmp_path, ["init", "-backend=false"]) == 1
    assert _peak_concurrency(monkeypatch, tmp_path, ["validate"]) > 1


def _tree_digest(folder):
    digest = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def test_same_commit_synthesizes_byte_identical_output(synth_all, tmp_path):
    again = synthesize(tmp_path / "again", PROFILES["dev"])
    first = synth_all["dev"].stack_dir
    assert (again / "cdk.tf.json").read_bytes() == (first / "cdk.tf.json").read_bytes()
    assert _tree_digest(again) == _tree_digest(first)
    assert str(tmp_path) not in (again / "cdk.tf.json").read_text()
