"""`make versions-check`: the release-table warnings for the configured engine versions, as of today.

    python -m tools.versions_check [--fail-on-finding]

One line per configured version (DB_ENGINE_VERSION, DMS_ENGINE_VERSION) within 60 days of, or past, its
published date in the release tables of lib/config.py; one line saying so when none is. It reads the wall
clock on purpose (synth and the tests never do) and exits 0: a date must never turn a build red. Only the
weekly scheduled workflow (.github/workflows/versions-check.yml) passes --fail-on-finding, and then a
warning (or settings it cannot check) exits 1, so that its failed run makes someone re-read the release
pages in time; the deploy preflight (tools/preflight.py) asks AWS itself whether a version can still be
created.
"""

from __future__ import annotations

import sys
from datetime import date

from lib.config import RELEASES_READ_ON, ConfigError, load_settings, version_warnings

USAGE = "usage: python -m tools.versions_check [--fail-on-finding]"


def check(today: date) -> tuple[list[str], bool]:
    """The lines to print, and whether they are a finding (a warning, or settings that cannot be checked)."""
    try:
        settings = load_settings()
    except ConfigError as error:
        return [f"versions-check: the settings are invalid, nothing checked: {error}"], True
    warnings = version_warnings(settings, today)
    if warnings:
        return warnings + [
            f"versions-check: the release tables were read on {RELEASES_READ_ON}; re-read the "
            "sources cited in lib/config.py and update the tables"
        ], True
    return [
        f"versions-check: DB_ENGINE_VERSION={settings.db_engine_version} and DMS_ENGINE_VERSION="
        f"{settings.dms_engine_version} are more than 60 days from their published dates on {today} "
        f"(release tables read on {RELEASES_READ_ON})"
    ], False


def report(today: date) -> list[str]:
    return check(today)[0]


def main(argv: list[str] | None = None, today: date | None = None) -> int:
    options = list(argv or [])
    fail_on_finding = "--fail-on-finding" in options
    if any(option != "--fail-on-finding" for option in options):
        print(USAGE, file=sys.stderr)
        return 2
    lines, finding = check(today or date.today())
    for line in lines:
        print(line)
    return 1 if finding and fail_on_finding else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
