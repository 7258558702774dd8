"""The payments schema migrations outside the function that applies them.

lib/lambda/schema_migrations/migrations/NNNN_<name>.sql are applied on Aurora at deploy time by
the schema_migrations function (Terraform invokes it whenever `digest()` changes). Anything else
that needs the same schema reads it here, parsed by the function's own module, so both sides of
the replication have one schema: the local runtime builds the legacy stand-in from
`statements()`.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from types import ModuleType

FUNCTION_DIR = Path(__file__).resolve().parent / "lambda" / "schema_migrations"
MIGRATIONS_DIR = FUNCTION_DIR / "migrations"


@lru_cache(maxsize=1)
def _migration_files() -> ModuleType:
    # lib/lambda is not a package ("lambda" is a keyword): load the function's module by path.
    spec = importlib.util.spec_from_file_location("payments_migration_files", FUNCTION_DIR / "migration_files.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def migrations(folder: Path = MIGRATIONS_DIR) -> list[dict]:
    """[{"version", "name", "checksum", "statements"}] in version order; raises MigrationError
    (a ValueError-like refusal naming the file) for a malformed set of files."""
    return _migration_files().load_migrations(folder)


def digest(folder: Path = MIGRATIONS_DIR) -> str:
    """SHA-256 over the files (`sha256sum *.sql | sha256sum` inside the folder): what the deploy-time
    invocation is keyed on and what the function checks its own package against."""
    module = _migration_files()
    return module.migrations_digest(module.load_migrations(folder))


def statements(folder: Path = MIGRATIONS_DIR) -> list[str]:
    """Every statement of every migration, in the order the function applies them."""
    return [statement for migration in migrations(folder) for statement in migration["statements"]]
