"""The migration files: migrations/NNNN_<name>.sql, their statements and their digest.

Standard library only and independent of the function's runtime helpers, so the same code
reads the files wherever they are needed: the schema_migrations function (this module sits at
its zip root), the stack (the digest its deploy-time invocation is keyed on) and the local
runtime (the legacy stand-in is built from the same statements); lib/migrations.py is their
entry point outside the function.
"""

import hashlib
import re
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_FILE_PATTERN = re.compile(r"([0-9]{4})_([a-z0-9]+(?:_[a-z0-9]+)*)\.sql")


class MigrationError(Exception):
    """A refusal with a clear reason; the run changed nothing."""


def split_statements(sql):
    """The statements of a SQL script, split at the ';' outside quotes, quoted identifiers,
    dollar quotes and comments. Raises ValueError for an unterminated quote or comment."""
    statements, start, i, length, has_code = [], 0, 0, len(sql), False
    while i < length:
        char = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = length if end < 0 else end + 1
            continue
        if sql.startswith("/*", i):
            i = _comment_end(sql, i)
            continue
        if char == ";":
            if has_code:
                statements.append(sql[start:i].strip())
            start, has_code, i = i + 1, False, i + 1
            continue
        if not char.isspace():
            has_code = True
        if char == "'":
            i = _string_end(sql, i, backslash_escapes=_is_escape_string(sql, i))
        elif char == '"':
            i = _quoted_end(sql, i, '"')
        elif char == "$":
            i = _dollar_quote_end(sql, i)
        else:
            i += 1
    if has_code:
        statements.append(sql[start:].strip())
    return statements


def _comment_end(sql, i):
    depth = 0
    while i < len(sql):
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    raise ValueError("unterminated /* comment")


def _is_escape_string(sql, i):
    """True for E'...' (backslash escapes), the E not ending a longer identifier."""
    return i > 0 and sql[i - 1] in "Ee" and (i < 2 or not (sql[i - 2].isalnum() or sql[i - 2] in "_$"))


def _string_end(sql, i, *, backslash_escapes):
    i += 1
    while i < len(sql):
        if backslash_escapes and sql[i] == "\\":
            i += 2
        elif sql[i] == "'":
            if sql.startswith("''", i):
                i += 2
            else:
                return i + 1
        else:
            i += 1
    raise ValueError("unterminated string literal")


def _quoted_end(sql, i, quote):
    i += 1
    while i < len(sql):
        if sql[i] == quote:
            if sql.startswith(quote * 2, i):
                i += 2
            else:
                return i + 1
        else:
            i += 1
    raise ValueError("unterminated quoted identifier")


DOLLAR_TAG_PATTERN = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def _dollar_quote_end(sql, i):
    """After a $tag$...$tag$ body; a '$' that opens no dollar quote ($1, a$b) is one character."""
    if i > 0 and (sql[i - 1].isalnum() or sql[i - 1] in "_$"):
        return i + 1
    tag = DOLLAR_TAG_PATTERN.match(sql, i)
    if not tag:
        return i + 1
    end = sql.find(tag.group(), tag.end())
    if end < 0:
        raise ValueError(f"unterminated dollar quote {tag.group()}")
    return end + len(tag.group())


def load_migrations(folder=None):
    """[{"version", "name", "checksum", "statements"}] of the migration files (default: the
    package's migrations/), in version order. Versions must run 1, 2, 3, ... without gaps or
    duplicates; every file must hold a statement."""
    migrations = []
    for path in sorted(Path(folder or MIGRATIONS_DIR).iterdir()):
        match = MIGRATION_FILE_PATTERN.fullmatch(path.name)
        if not match or not path.is_file():
            raise MigrationError(f"migrations/{path.name}: migration files are named NNNN_<lowercase_words>.sql")
        data = path.read_bytes()
        try:
            statements = split_statements(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise MigrationError(f"migrations/{path.name}: {error}") from None
        if not statements:
            raise MigrationError(f"migrations/{path.name}: no SQL statement")
        migrations.append(
            {
                "version": int(match.group(1)),
                "name": path.name,
                "checksum": hashlib.sha256(data).hexdigest(),
                "statements": statements,
            }
        )
    versions = [migration["version"] for migration in migrations]
    if versions != list(range(1, len(migrations) + 1)):
        raise MigrationError(
            f"migration versions must be 1, 2, 3, ... without gaps or duplicates; found "
            f"{', '.join(f'{version:04d}' for version in versions) or 'none'}"
        )
    return migrations


def migrations_digest(migrations):
    """SHA-256 of the lines "<file sha256>  <file name>" (sha256sum's format), in name order."""
    lines = "".join(f"{m['checksum']}  {m['name']}\n" for m in sorted(migrations, key=lambda m: m["name"]))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()
