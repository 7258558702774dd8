"""tools.stack without a deployment: state separation, synth and init caching, outputs, exit codes."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lib.config import load_settings
from tools import shared_files, stack, terraform

REPO_ROOT = Path(__file__).resolve().parents[2]


def settings_for(**environ):
    return load_settings({"ENVIRONMENT_SUFFIX": "unit", **environ})


def aws_settings(**fields):
    """The aws target without the settings a real account needs: these tests are about tools."""
    return dataclasses.replace(settings_for(), target="aws", **fields)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """tools.stack's folders pointed at an empty project in tmp_path."""
    monkeypatch.setattr(stack, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(stack, "STATE_DIR", tmp_path / "state")
    monkeypatch.setattr(stack, "CDKTF_OUT", tmp_path / "cdktf.out")
    monkeypatch.setattr(stack, "SYNTH_RECORDS", tmp_path / "build" / "synth")
    monkeypatch.setattr(stack, "OUTPUTS_FILE", tmp_path / "cfn-outputs" / "flat-outputs.json")
    monkeypatch.setattr(shared_files, "SHARED_FILES_LOCK", tmp_path / "build" / "locks" / "shared-files.lock")
    return tmp_path


def run_stack(*arguments, **environ):
    return subprocess.run(
        [sys.executable, "-m", "tools.stack", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **environ},
    )


# --- state ------------------------------------------------------------------------------


def test_local_and_aws_targets_never_share_a_state_file(project):
    local, aws = settings_for(), aws_settings()
    assert stack.state_file(local) == project / "state" / "local" / "TapStackunit.tfstate"
    assert stack.state_file(aws) == project / "state" / "aws" / "TapStackunit.tfstate"


def test_the_state_path_is_the_backend_path_tap_stack_synthesizes():
    # tests/unit/test_tap_stack.py checks the synthesized path: ../../../state/local/TapStackdev.tfstate
    settings = settings_for()
    backend = stack.stack_dir(settings) / "../../../state/local/TapStackunit.tfstate"
    state = stack.state_file(settings)
    assert state is not None and backend.resolve() == state.resolve()


def test_no_state_file_with_a_state_bucket(project):
    settings = aws_settings(state_bucket="tap-state-bucket")
    assert stack.state_file(settings) is None
    assert stack.describe_state(settings).startswith("state: s3://tap-state-bucket/TapStackunit/")


def test_aws_without_a_state_bucket_says_plainly_that_state_is_local(project, monkeypatch):
    monkeypatch.chdir(project)
    line = stack.describe_state(aws_settings())
    assert "LOCAL FILE state/aws/TapStackunit.tfstate" in line and "TERRAFORM_STATE_BUCKET" in line


def write_states(project):
    for target in ("local", "aws"):
        path = project / "state" / target / "TapStackunit.tfstate"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")


def test_a_new_emulator_removes_only_the_local_targets_state(project, monkeypatch):
    write_states(project)
    started = []

    def run(command, **kwargs):
        started.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(stack, "emulator_running", lambda settings: False)
    monkeypatch.setattr(stack.subprocess, "run", run)
    stack.ensure_emulator(settings_for())
    assert not (project / "state" / "local" / "TapStackunit.tfstate").exists()
    assert (project / "state" / "aws" / "TapStackunit.tfstate").exists()
    assert started and "start" in started[0]


def test_the_emulator_is_never_started_for_the_aws_target(project, monkeypatch):
    write_states(project)
    monkeypatch.setattr(stack, "emulator_running", lambda settings: False)
    with pytest.raises(stack.StackError, match="TARGET=local"):
        stack.ensure_emulator(aws_settings())
    assert (project / "state" / "aws" / "TapStackunit.tfstate").exists()
    assert (project / "state" / "local" / "TapStackunit.tfstate").exists()


def test_state_from_before_the_split_stops_every_command(project):
    old = project / "state" / "TapStackunit.tfstate"
    old.parent.mkdir(parents=True)
    old.write_text("{}")
    with pytest.raises(stack.StackError, match="state/aws/TapStackunit.tfstate if it describes a real account"):
        stack.prepare_state(settings_for())


# --- synth cache ------------------------------------------------------------------------

FAKE_APP = """
import json, os, pathlib
stack = "TapStack" + os.environ.get("ENVIRONMENT_SUFFIX", "dev")
out = pathlib.Path("cdktf.out/stacks") / stack
out.mkdir(parents=True, exist_ok=True)
(out / "cdk.tf.json").write_text(json.dumps({"resource": {}}))
with open("runs.txt", "a") as runs:
    runs.write("synth\\n")
"""


@pytest.fixture
def fake_app(project):
    (project / "main.py").write_text(FAKE_APP)
    (project / "lib").mkdir()
    (project / "lib" / "thing.py").write_text("VALUE = 1\n")
    return project


def synth_runs(project):
    runs = project / "runs.txt"
    return len(runs.read_text().splitlines()) if runs.exists() else 0


def test_synth_runs_again_only_when_its_inputs_change(fake_app, monkeypatch, capsys):
    monkeypatch.setenv("ENVIRONMENT_SUFFIX", "unit")
    settings = settings_for()
    stack.synth(settings)
    stack.synth(settings)
    assert synth_runs(fake_app) == 1
    assert "up to date" in capsys.readouterr().out

    (fake_app / "lib" / "thing.py").write_text("VALUE = 2\n")
    stack.synth(settings)
    assert synth_runs(fake_app) == 2

    stack.synth(settings_for(DB_NAME="ledger"))  # a setting is an input too
    assert synth_runs(fake_app) == 3

    (fake_app / "cdktf.out" / "stacks" / "TapStackunit" / "cdk.tf.json").write_text("{}")  # changed by hand
    stack.synth(settings_for(DB_NAME="ledger"))
    assert synth_runs(fake_app) == 4


def test_synth_ignores_bytecode_caches(fake_app):
    settings = settings_for()
    before = stack.synth_inputs_digest(settings, fake_app)
    (fake_app / "lib" / "__pycache__").mkdir()
    (fake_app / "lib" / "__pycache__" / "thing.cpython-311.pyc").write_bytes(b"\0")
    assert stack.synth_inputs_digest(settings, fake_app) == before


def test_every_synth_input_exists_in_the_repository():
    assert all((REPO_ROOT / name).exists() for name in stack.SYNTH_INPUTS)


# --- init cache -------------------------------------------------------------------------


def write_stack(directory: Path, terraform_block: dict, resources: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cdk.tf.json").write_text(json.dumps({"terraform": terraform_block, "resource": resources}))


def test_init_digest_follows_providers_backend_and_lock_not_resources(tmp_path):
    block = {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}}
    write_stack(tmp_path, block, {"terraform_data": {"a": {}}})
    digest = terraform.init_inputs_digest(tmp_path, ["init"])
    write_stack(tmp_path, block, {"terraform_data": {"a": {}, "b": {}}})
    assert terraform.init_inputs_digest(tmp_path, ["init"]) == digest
    assert terraform.init_inputs_digest(tmp_path, ["init", "-backend-config=path=x"]) != digest
    (tmp_path / ".terraform.lock.hcl").write_text("# lock\n")
    assert terraform.init_inputs_digest(tmp_path, ["init"]) != digest
    (tmp_path / ".terraform.lock.hcl").unlink()
    write_stack(tmp_path, {**block, "backend": {"local": {"path": "other"}}}, {})
    assert terraform.init_inputs_digest(tmp_path, ["init"]) != digest


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_second_init_with_the_same_inputs_is_skipped(tmp_path, capsys):
    directory = tmp_path / "stack"
    write_stack(
        directory,
        {"backend": {"local": {"path": str(tmp_path / "x.tfstate")}}},
        {"terraform_data": {"a": {"input": "1"}}},
    )
    settings = settings_for()
    stack.init(settings, directory=directory)
    assert "terraform init: running" in capsys.readouterr().out
    stack.init(settings, directory=directory)
    assert "terraform init: up to date" in capsys.readouterr().out
    shutil.rmtree(directory / ".terraform")
    stack.init(settings, directory=directory)
    assert "terraform init: running" in capsys.readouterr().out


# --- outputs ----------------------------------------------------------------------------


def test_outputs_leave_out_sensitive_values_as_cdktf_does(monkeypatch):
    raw = {
        "b": {"value": [1, 2], "sensitive": False},
        "a": {"value": "x", "sensitive": False},
        "password": {"value": "s3cret", "sensitive": True},
    }
    monkeypatch.setattr(
        stack, "run_terraform", lambda *args, **kwargs: subprocess.CompletedProcess(args, 0, json.dumps(raw), "")
    )
    assert stack.stack_outputs(settings_for()) == {"a": "x", "b": [1, 2]}


def test_outputs_file_is_rendered_like_cdktf_output_writes_it():
    text = stack.render_outputs({"TapStackunit": {"b": {"z": 1, "a": "é"}, "a": [1]}})
    # JSON.stringify(outputs, null, 2): two-space indent, UTF-8 as is, no trailing newline.
    assert (
        text == '{\n  "TapStackunit": {\n    "a": [\n      1\n    ],\n    "b": {\n      "a": "é",\n'
        '      "z": 1\n    }\n  }\n}'
    )


def test_deploy_and_destroy_keep_the_other_stacks_outputs(project):
    stack.save_all_outputs({"TapStackother": {"x": 1}, "TapStackunit": {"y": 2}})
    stack.forget_outputs(settings_for())
    assert json.loads(stack.OUTPUTS_FILE.read_text()) == {"TapStackother": {"x": 1}}
    stack.forget_outputs(settings_for(ENVIRONMENT_SUFFIX="other"))
    assert not stack.OUTPUTS_FILE.exists()


def test_suffixes_writing_their_outputs_at_once_keep_each_other_s_entries(project):
    def deploy_and_destroy(suffix: str) -> None:
        for round_ in range(15):
            stack.update_outputs_entry(f"TapStack{suffix}", {"round": round_})
            stack.update_outputs_entry(f"TapStack{suffix}-gone", {"round": round_})
            stack.update_outputs_entry(f"TapStack{suffix}-gone", None)

    suffixes = [f"s{number}" for number in range(6)]
    workers = [threading.Thread(target=deploy_and_destroy, args=(suffix,)) for suffix in suffixes]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert json.loads(stack.OUTPUTS_FILE.read_text()) == {f"TapStack{suffix}": {"round": 14} for suffix in suffixes}


def test_one_plan_summary_file_per_stack():
    assert stack.plan_summary_file(settings_for()).name == "plan-summary-TapStackunit.md"
    assert stack.plan_summary_file(settings_for(ENVIRONMENT_SUFFIX="other")).name == "plan-summary-TapStackother.md"


# --- exit codes -------------------------------------------------------------------------


def test_bad_setting_exits_2_with_one_line():
    result = run_stack("plan", ENVIRONMENT_SUFFIX="Bad Suffix!")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "ENVIRONMENT_SUFFIX" in result.stderr


def test_unknown_command_exits_2():
    assert run_stack("launch").returncode == 2


def test_base_that_names_no_commit_exits_2_before_anything_runs():
    result = run_stack("plan", "--base", "no-such-ref-anywhere", ENVIRONMENT_SUFFIX="unitbase")
    assert result.returncode == 2
    assert "BASE='no-such-ref-anywhere' is not a commit" in result.stderr
    assert not (REPO_ROOT / "build" / "base-plan" / "TapStackunitbase" / "base").exists()


def test_base_on_the_aws_target_is_a_usage_error():
    with pytest.raises(stack.UsageError, match="needs TARGET=local"):
        stack.plan(aws_settings(), base="HEAD")
