"""The synthesized JSON passes `terraform validate` against the real provider schema, and the
same commit synthesizes byte-identical output."""

import contextlib
import copy
import hashlib
import json
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.unit.conftest import synthesize
from tests.unit.profiles import COVERED_PROFILES, PROFILES, VALIDATED_PROFILES
from tests.unit.validation import VALIDATION, shape, validation_root, write_validation_root
from tools import terraform


def _blocks(synthesized):
    """What validate checks against the schema: blocks by type (names dropped), provider, moved."""
    by_type = {
        section: {block_type: list(blocks.values()) for block_type, blocks in synthesized.json.get(section, {}).items()}
        for section in ("resource", "data")
    }
    return {**by_type, "provider": synthesized.json["provider"], "moved": synthesized.json.get("moved", [])}


def test_the_validated_profiles_hold_every_attribute_the_others_use(synth_all):
    validated = set().union(*(shape(_blocks(synth_all[profile])) for profile in VALIDATED_PROFILES))
    for profile in COVERED_PROFILES:
        assert set(shape(_blocks(synth_all[profile]))) - validated == set(), profile


def test_the_validated_root_holds_every_validated_profile_as_synthesized(synth_all, tmp_path):
    root = write_validation_root(synthesized=synth_all, root=tmp_path)
    [first, *_] = VALIDATED_PROFILES
    assert json.loads((root / "main.tf.json").read_text()) == {
        "terraform": {"required_providers": synth_all[first].json["terraform"]["required_providers"]},
        "provider": synth_all[first].json["provider"],
        "module": {profile: {"source": f"./{profile}"} for profile in VALIDATED_PROFILES},
    }
    for profile in VALIDATED_PROFILES:
        module = json.loads((root / profile / "cdk.tf.json").read_text())
        synthesized = synth_all[profile].json
        # The provider is configured in the root, and a backend is a root module's setting (init -backend=false
        # skips it): the rest is as synthesized.
        settings = {key: value for key, value in synthesized["terraform"].items() if key != "backend"}
        assert module == {
            **{section: blocks for section, blocks in synthesized.items() if section != "provider"},
            "terraform": settings,
        }
        assert sorted(path.name for path in (root / profile / "assets").iterdir()) == sorted(
            path.name for path in (synth_all[profile].stack_dir / "assets").iterdir()
        )


def test_profiles_that_configure_the_provider_differently_are_not_validated_in_one_run(synth_all):
    configs = {profile: synth_all[profile].json for profile in VALIDATED_PROFILES}
    [first, second, *_] = VALIDATED_PROFILES
    other_tags = copy.deepcopy(configs[second])
    other_tags["provider"]["aws"][0]["default_tags"][0]["tags"]["Environment"] = "elsewhere"
    validation_root({**configs, second: other_tags})  # other values, one shape: one provider block serves both
    assume_role = copy.deepcopy(configs[second])
    assume_role["provider"]["aws"][0]["assume_role"] = [{"role_arn": "arn:aws:iam::123456789012:role/deploy"}]
    with pytest.raises(ValueError, match=f"{second} configures the provider with other settings than {first}"):
        validation_root({**configs, second: assume_role})


def test_cli_config_uses_the_provider_mirror_when_present(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(mirror))
    assert terraform.find_provider_mirror() == mirror
    assert f'path    = "{mirror}"' in terraform.cli_config_text(mirror)
    assert "plugin_cache_dir" not in terraform.cli_config_text(mirror)  # init links the mirror itself
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(tmp_path / "missing"))
    assert terraform.find_provider_mirror() is None
    assert "filesystem_mirror" not in terraform.cli_config_text(None)
    assert "plugin_cache_dir" in terraform.cli_config_text(None)


PEAK_THREADS = "peak-concurrency"


def _peak_concurrency(monkeypatch, stack_dir, commands):
    """Per command name, how many ran at once when one thread per command starts them together.

    Readers (validate) wait for each other at a barrier: where they may share, they meet at once; where
    they may not, the barrier times out and the peak says 1. An init stays a moment for others to overlap.
    """
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    guard = threading.Lock()
    readers = threading.Barrier(sum(args == ["validate"] for args in commands))

    real_run = subprocess.run

    def fake_terraform(command, **options):
        if not threading.current_thread().name.startswith(PEAK_THREADS):  # the suite's background validation
            return real_run(command, **options)
        name = command[1]
        with guard:
            running[name] = running.get(name, 0) + 1
            overlapping = sum(running.values())
            peak[name] = max(peak.get(name, 0), overlapping)
        if name == "validate":
            with contextlib.suppress(threading.BrokenBarrierError):
                readers.wait(timeout=2)
        else:
            time.sleep(0.05)
        with guard:
            running[name] -= 1
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(terraform.subprocess, "run", fake_terraform)
    monkeypatch.setattr(terraform, "CLI_CONFIG", stack_dir / "terraform.rc")
    monkeypatch.setattr(terraform, "PLUGIN_CACHE_LOCK", stack_dir / "plugin-cache.lock")
    with ThreadPoolExecutor(max_workers=len(commands), thread_name_prefix=PEAK_THREADS) as pool:
        list(pool.map(lambda args: terraform.run(stack_dir, args), commands))
    return peak


def test_with_a_plugin_cache_an_init_runs_alone_and_readers_share(monkeypatch, tmp_path):
    monkeypatch.setattr(terraform, "find_provider_mirror", lambda: None)
    assert _peak_concurrency(monkeypatch, tmp_path, [["init"]] * 3) == {"init": 1}
    assert _peak_concurrency(monkeypatch, tmp_path, [["validate"]] * 3)["validate"] > 1
    assert _peak_concurrency(monkeypatch, tmp_path, [["init"], ["validate"], ["validate"]])["init"] == 1


def test_with_a_mirror_there_is_no_cache_to_guard(monkeypatch, tmp_path):
    monkeypatch.setattr(terraform, "find_provider_mirror", lambda: tmp_path)
    assert _peak_concurrency(monkeypatch, tmp_path, [["init"]] * 3)["init"] > 1


def _tree_digest(folder):
    digest = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def test_same_commit_synthesizes_byte_identical_output(synth_all, tmp_path):
    _, again = synthesize(tmp_path / "again", PROFILES["dev"])
    first = synth_all["dev"].stack_dir
    assert (again / "cdk.tf.json").read_bytes() == (first / "cdk.tf.json").read_bytes()
    assert _tree_digest(again) == _tree_digest(first)
    assert str(tmp_path) not in (again / "cdk.tf.json").read_text()


# Last, in the file tests/unit runs last: the validation synth_all started runs beside every test before it.
@pytest.fixture(scope="module")
def validation(request, synth_all):
    """The validation synth_all started (concurrently, beside the rest of the suite), awaited."""
    return request.config.stash[VALIDATION].result()


def test_terraform_validate_passes_offline(validation):
    output = validation.stdout + validation.stderr
    assert validation.returncode == 0, output
    assert "Success! The configuration is valid." in validation.stdout and "Warning" not in output, output
