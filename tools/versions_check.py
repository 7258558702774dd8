"""`make versions-check`: the release-table warnings for the configured engine versions, as of today.

    python -m tools.versions_check

One line per configured version (DB_ENGINE_VERSION, DMS_ENGINE_VERSION) within 60 days of, or past, its
published date in the release tables of lib/config.py; one line saying so when none is. It reads the wall
clock on purpose (synth and the tests never do) and always exits 0: a date must never turn CI red. The
weekly scheduled workflow job runs it so that someone re-reads the release pages in time; the deploy
preflight (tools/preflight.py) asks AWS itself whether a version can still be created.
"""

from __future__ import annotations

import sys
from datetime import date

from lib.config import RELEASES_READ_ON, ConfigError, load_settings, version_warnings


def report(today: date) -> list[str]:
    try:
        settings = load_settings()
    except ConfigError as error:
        return [f"versions-check: the settings are invalid, nothing checked: {error}"]
    warnings = version_warnings(settings, today)
    if warnings:
        return warnings + [f"versions-check: the release tables were read on {RELEASES_READ_ON}; re-read the "
                           "sources cited in lib/config.py and update the tables"]
    return [f"versions-check: DB_ENGINE_VERSION={settings.db_engine_version} and DMS_ENGINE_VERSION="
            f"{settings.dms_engine_version} are more than 60 days from their published dates on {today} "
            f"(release tables read on {RELEASES_READ_ON})"]


def main(argv: list[str] | None = None, today: date | None = None) -> int:
    if argv:
        print("usage: python -m tools.versions_check", file=sys.stderr)
    for line in report(today or date.today()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
