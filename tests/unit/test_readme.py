"""The README stays true: its two commands come first, and every setting is documented."""

import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _setting_names() -> set[str]:
    source = (PROJECT_ROOT / "lib" / "config.py").read_text()
    return set(re.findall(r'(?:env\.\w+\(|_\w+\(env, )"([A-Z][A-Z0-9_]+)"', source))


def test_every_setting_is_in_the_readme_table():
    readme = (PROJECT_ROOT / "README.md").read_text()
    names = _setting_names()
    assert len(names) > 30
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))
    assert names - documented == set()


def test_readme_starts_with_the_main_job_and_the_test_command():
    commands = re.findall(r"^make (\w+)", (PROJECT_ROOT / "README.md").read_text(), re.MULTILINE)
    assert commands[:2] == ["deploy", "test"]


def test_ci_runs_the_readme_test_command():
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_construct_table_names_every_group_the_plan_summary_shows(dev):
    from tools.plan_summary import construct_index_from_synth  # noqa: PLC0415

    groups = set(construct_index_from_synth(dev.json).values())
    readme = (PROJECT_ROOT / "README.md").read_text()
    table = readme.split("| construct id |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE))
    assert documented == groups


def test_readme_names_the_python_version_and_the_first_deploy_time():
    readme = (PROJECT_ROOT / "README.md").read_text()
    pipfile = (PROJECT_ROOT / "Pipfile").read_text()
    version = re.search(r'python_version = "([0-9.]+)"', pipfile).group(1)
    assert f"Python {version}" in readme
    assert re.search(r"first deploy[^.]*\d+ min \d+ s", readme)
