"""tools/cdktf: the pinned cdktf CLI with the project's environment (deploy/output/destroy run in e2e)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from lib.config import load_settings
from tools import cdktf_cli, stack, terraform

REPO_ROOT = Path(__file__).resolve().parents[2]
WRAPPER = REPO_ROOT / "tools" / "cdktf"


def settings_for(**environ):
    return load_settings({"ENVIRONMENT_SUFFIX": "unit", **environ})


@pytest.mark.parametrize(
    "args, command",
    [
        (["deploy", "--auto-approve"], "deploy"),
        (["--auto-approve", "destroy"], "destroy"),
        (["--version"], None),
    ],
)
def test_subcommand_is_the_first_word_that_is_not_an_option(args, command):
    assert cdktf_cli.subcommand(args) == command


@pytest.mark.parametrize(
    "args", [["output", "--outputs-file", "cfn-outputs/x.json"], ["output", "--outputs-file=cfn-outputs/x.json"]]
)
def test_outputs_file_in_both_spellings(args):
    assert cdktf_cli.outputs_file_argument(args) == stack.PROJECT_ROOT / "cfn-outputs" / "x.json"


def test_environment_has_the_projects_terraform_config_and_no_calls_home():
    env = cdktf_cli.cdktf_env(settings_for())
    assert env["TF_CLI_CONFIG_FILE"] == str(terraform.CLI_CONFIG) and terraform.CLI_CONFIG.is_file()
    assert env["CHECKPOINT_DISABLE"] == "1"
    assert env["CDKTF_DISABLE_PLUGIN_CACHE_ENV"] == "1"
    assert env["AWS_ACCESS_KEY_ID"] == "local" and env["AWS_SECRET_ACCESS_KEY"] == "local"


def test_the_aws_target_gets_no_emulator_credentials(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    env = cdktf_cli.cdktf_env(dataclasses.replace(settings_for(), target="aws"))
    assert "AWS_ACCESS_KEY_ID" not in env


def test_crash_reports_are_off_and_the_app_runs_from_the_project_venv():
    config = json.loads((REPO_ROOT / "cdktf.json").read_text())
    assert config["sendCrashReports"] == "false"
    assert config["app"] == ".venv/bin/python main.py"


def test_other_stacks_in_the_outputs_file_are_kept(tmp_path):
    outputs = tmp_path / "flat-outputs.json"
    outputs.write_text(json.dumps({"TapStackunit": {"a": 2}}, indent=2))  # what cdktf just wrote
    cdktf_cli.keep_other_stacks(outputs, {"TapStackother": {"b": 1}, "TapStackunit": {"a": 1}})
    assert json.loads(outputs.read_text()) == {"TapStackother": {"b": 1}, "TapStackunit": {"a": 2}}


def test_destroy_without_a_running_emulator_has_nothing_to_do(monkeypatch, capsys):
    monkeypatch.setattr(stack, "emulator_running", lambda settings: False)
    monkeypatch.setattr(stack, "check_state_layout", lambda settings: None)
    assert cdktf_cli.prepare(settings_for(), "destroy") is False
    assert "nothing to destroy" in capsys.readouterr().out


def test_synth_and_output_never_start_the_emulator(monkeypatch):
    monkeypatch.setattr(stack, "ensure_emulator", lambda settings: pytest.fail("emulator started"))
    monkeypatch.setattr(stack, "check_state_layout", lambda settings: None)
    assert cdktf_cli.prepare(settings_for(), "synth") and cdktf_cli.prepare(settings_for(), "output")


def run_wrapper(*args, **environ):
    return subprocess.run(
        [str(WRAPPER), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", **environ},
    )


def test_a_bad_setting_stops_before_cdktf_with_one_line():
    result = run_wrapper("synth", ENVIRONMENT_SUFFIX="Bad Suffix!")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "ENVIRONMENT_SUFFIX" in result.stderr


def test_missing_node_modules_says_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cdktf_cli, "CDKTF_BIN", tmp_path / "cdktf")
    assert cdktf_cli.run(["synth"]) == 2
    assert "make install" in capsys.readouterr().err


@pytest.mark.skipif(not cdktf_cli.CDKTF_BIN.is_file(), reason="node_modules not installed (make install)")
def test_the_pinned_cli_runs_without_a_terminal_or_a_prompt():
    result = run_wrapper("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[0] == "0.20.12"
    assert "canceled" not in result.stderr and "terraformrc" not in result.stderr


@pytest.mark.parametrize(
    "args, recorded",
    [
        (["synth"], True),
        (["deploy", "--auto-approve"], True),
        (["deploy", "--skip-synth"], False),
        (["synth", "-o", "x"], False),
        (["--version"], False),
    ],
)
def test_a_cdktf_synth_is_recorded_so_make_reuses_it(monkeypatch, tmp_path, args, recorded):
    recorded_inputs = []
    monkeypatch.setattr(cdktf_cli, "CDKTF_BIN", tmp_path / "cdktf")
    cdktf_cli.CDKTF_BIN.write_text("")
    monkeypatch.setattr(cdktf_cli, "prepare", lambda settings, command: True)
    monkeypatch.setattr(stack, "record_synth", lambda settings, inputs: recorded_inputs.append(inputs))
    monkeypatch.setattr(cdktf_cli.subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(command, 0))
    monkeypatch.setenv("ENVIRONMENT_SUFFIX", "unit")
    assert cdktf_cli.run(args) == 0
    assert bool(recorded_inputs) is recorded
