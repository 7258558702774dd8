"""`make versions-check` (tools/versions_check.py): warnings for the configured versions on a given day, and
exit 0 whatever the calendar says. The day is passed in: no test reads the wall clock."""

from __future__ import annotations

from datetime import date

from tools import versions_check


def test_a_version_near_its_date_prints_the_warning_and_exits_0(monkeypatch, capsys):
    monkeypatch.setenv("DMS_ENGINE_VERSION", "3.5.4")  # no new instances from 2027-01-31
    assert versions_check.main([], today=date(2027, 1, 1)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "warning: DMS_ENGINE_VERSION=3.5.4: its AWS DMS no-new-instance date is 2027-01-31 (in 30 days); choose 3.6.1"
    )
    assert "re-read the sources cited in lib/config.py" in lines[1]


def test_a_version_past_its_date_still_exits_0(monkeypatch, capsys):
    monkeypatch.setenv("DMS_ENGINE_VERSION", "3.5.4")
    assert versions_check.main([], today=date(2027, 6, 1)) == 0
    assert "(121 days ago)" in capsys.readouterr().out


def test_the_defaults_far_from_their_dates_say_so_in_one_line(monkeypatch, capsys):
    for name in ("DMS_ENGINE_VERSION", "DB_ENGINE_VERSION", "ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    assert versions_check.main([], today=date(2026, 11, 27)) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("versions-check: DB_ENGINE_VERSION=15.10 and DMS_ENGINE_VERSION=3.6.1 are more than 60")


def test_invalid_settings_are_reported_but_never_fail_the_job(monkeypatch, capsys):
    monkeypatch.setenv("DMS_ENGINE_VERSION", "9.9.9")
    assert versions_check.main([], today=date(2027, 1, 1)) == 0
    assert capsys.readouterr().out.startswith(
        "versions-check: the settings are invalid, nothing checked: DMS_ENGINE_VERSION='9.9.9' is invalid"
    )


def test_the_weekly_job_fails_on_a_warning(monkeypatch, capsys):
    monkeypatch.setenv("DMS_ENGINE_VERSION", "3.5.4")
    assert versions_check.main(["--fail-on-finding"], today=date(2027, 1, 1)) == 1
    assert capsys.readouterr().out.startswith("warning: DMS_ENGINE_VERSION=3.5.4")


def test_the_weekly_job_fails_when_nothing_could_be_checked(monkeypatch):
    monkeypatch.setenv("DMS_ENGINE_VERSION", "9.9.9")
    assert versions_check.main(["--fail-on-finding"], today=date(2027, 1, 1)) == 1


def test_the_weekly_job_passes_far_from_the_dates(monkeypatch, capsys):
    for name in ("DMS_ENGINE_VERSION", "DB_ENGINE_VERSION", "ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    assert versions_check.main(["--fail-on-finding"], today=date(2026, 11, 27)) == 0


def test_an_unknown_option_is_refused(capsys):
    assert versions_check.main(["--strict"], today=date(2026, 11, 27)) == 2
    assert "usage: python -m tools.versions_check [--fail-on-finding]" in capsys.readouterr().err
