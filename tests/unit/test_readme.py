"""The README stays true: its two commands come first, and its settings table is the one
generated from the setting declarations in lib/config.py."""

import importlib
import re
from pathlib import Path

import pytest

from lib.config import setting_specs
from tools.plan_summary import TOP_LEVEL_GROUP
from tools.settings_doc import BEGIN, END, settings_table, with_settings_table
from tools.settings_doc import main as settings_doc_main

PROJECT_ROOT = Path(__file__).resolve().parents[2]
README = (PROJECT_ROOT / "README.md").read_text()


def test_readme_settings_table_is_generated_from_the_specs():
    assert with_settings_table(README) == README, "README.md settings table is stale: run `make docs`"


def test_every_setting_is_in_the_readme_table():
    table = README.split(BEGIN, 1)[1].split(END, 1)[0]
    documented = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, re.MULTILINE)
    assert documented == [spec.env for _, spec in setting_specs()]


def test_a_stale_table_is_detected_and_regenerated():
    stale = README.replace("| `NAT_GATEWAYS` | `1` |", "| `NAT_GATEWAYS` | `2` |", 1)
    assert stale != README
    assert with_settings_table(stale) == README
    assert settings_table() in README


def test_docs_check_passes_on_the_committed_readme():
    assert settings_doc_main(["--check"]) == 0


def test_missing_markers_are_an_error():
    with pytest.raises(ValueError, match="markers"):
        with_settings_table("# README without a settings table\n")


def test_readme_starts_with_the_main_job_and_the_test_command():
    commands = re.findall(r"^make (\w+)", README, re.MULTILINE)
    assert commands[:2] == ["deploy", "test"]


def test_ci_runs_the_readme_test_command():
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_construct_table_names_every_group_the_plan_summary_shows(synth_all):
    from tools.plan_summary import construct_index_from_synth  # noqa: PLC0415

    # Every profile: some groups (connectivity) build nothing on the local default.
    groups = {group for profile in synth_all.values() for group in construct_index_from_synth(profile.json).values()}
    readme = (PROJECT_ROOT / "README.md").read_text()
    table = readme.split("| construct id |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE))
    assert documented == groups


def test_construct_table_names_the_class_and_file_that_build_each_group(dev):
    # A plan-summary group leads to its file and class: the file is named after the construct id, the class
    # is defined there, and the stack's child of that id is an instance of it.
    table = README.split("| construct id |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| `(\w+)`, `([^`]+)\.py` \|", table, re.MULTILINE)
    assert len(rows) == table.count("\n| `")
    for construct_id, class_name, path in rows:
        module = importlib.import_module(path.replace("/", "."))
        built = dev.stack if construct_id == TOP_LEVEL_GROUP else dev.stack.node.find_child(construct_id)
        assert getattr(module, class_name).__module__ == module.__name__, f"{class_name} is not defined in {path}"
        assert isinstance(built, getattr(module, class_name)), construct_id
        assert construct_id == TOP_LEVEL_GROUP or Path(path).name == construct_id


def test_readme_names_the_python_version_and_the_first_deploy_time():
    readme = (PROJECT_ROOT / "README.md").read_text()
    pipfile = (PROJECT_ROOT / "Pipfile").read_text()
    required = re.search(r'python_version = "([0-9.]+)"', pipfile)
    assert required, "the Pipfile names no python_version"
    version = required.group(1)
    assert f"Python {version}" in readme
    assert re.search(r"first deploy[^.]*\d+ min \d+ s", readme)
