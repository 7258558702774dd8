"""Writes the README settings table from the setting declarations in lib/config.py.

    python -m tools.settings_doc           rewrite README.md between the markers (`make docs`)
    python -m tools.settings_doc --check   exit 1 when README.md is stale

The table is never edited by hand: change the declaration, then run `make docs`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lib.config import setting_specs

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- settings table: generated from lib/config.py by `make docs`; do not edit by hand -->"
END = "<!-- end of settings table -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _plain(text: str) -> str:
    """Plain text (no code spans): <placeholders> must not be read as HTML tags."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def settings_table() -> str:
    rows = ["| name | dev default | prod default | allowed | meaning |", "|---|---|---|---|---|"]
    for _, spec in setting_specs():
        rows.append(
            "| "
            + " | ".join(
                _cell(cell)
                for cell in (
                    f"`{spec.env}`",
                    spec.render_default("dev"),
                    spec.render_default("prod"),
                    _plain(spec.parser.allowed),
                    spec.description,
                )
            )
            + " |"
        )
    return "\n".join(rows)


def with_settings_table(readme: str) -> str:
    """`readme` with the text between the markers replaced by the current table."""
    head, begin, rest = readme.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"README.md lacks the markers {BEGIN!r} ... {END!r}")
    return f"{head}{BEGIN}\n{settings_table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    current = README.read_text()
    wanted = with_settings_table(current)
    if argv == ["--check"]:
        if wanted != current:
            print("README.md settings table is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    if argv:
        print("usage: python -m tools.settings_doc [--check]", file=sys.stderr)
        return 2
    if wanted != current:
        README.write_text(wanted)
        print("README.md settings table updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
