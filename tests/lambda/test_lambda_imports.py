"""Every function folder is zipped with the shared modules at its root and runs on python3.12
with only stdlib + boto3/botocore besides those shared modules."""

import ast
from pathlib import Path

import pytest

from lib.lambda_imports import import_problems

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lib" / "lambda"
SHARED_DIR = LAMBDA_DIR / "shared"
FUNCTIONS = ("payment_api", "migration_validator", "traffic_shifter", "rollback", "schema_migrations")
SHARED_MODULES = {path.stem for path in SHARED_DIR.glob("*.py")}
SOURCES = sorted(LAMBDA_DIR.rglob("*.py"))


def test_every_function_folder_has_a_handler():
    assert sorted(p.name for p in LAMBDA_DIR.iterdir() if p.is_dir() and not p.name.startswith("__")) == sorted(
        (*FUNCTIONS, SHARED_DIR.name)
    )
    assert not (SHARED_DIR / "handler.py").exists()  # shared is not a function
    assert {"lambda_support", "route53_weights"} <= SHARED_MODULES
    for name in FUNCTIONS:
        tree = ast.parse((LAMBDA_DIR / name / "handler.py").read_text())
        handlers = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "handler"]
        assert len(handlers) == 1, name
        assert [a.arg for a in handlers[0].args.args] == ["event", "context"], name


def test_sources_found():
    assert len(SOURCES) >= len(FUNCTIONS)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(LAMBDA_DIR)))
def test_only_stdlib_and_boto3_imports(path):
    # The zip root holds the function's own modules and the shared ones.
    assert import_problems(path, SHARED_MODULES | {p.stem for p in path.parent.glob("*.py")}) == []


def test_checker_catches_forbidden_imports():
    source = (
        "import psycopg2\nfrom pg8000 import native\nfrom . import sibling\nimport os\nimport boto3\n"
        "import distutils\nimport lambda_support\n__import__('yaml')\n"
    )
    assert import_problems("probe.py", {"lambda_support"}, text=source) == [
        "line 1: psycopg2 is neither stdlib, boto3/botocore nor a module at the zip root",
        "line 2: pg8000 is neither stdlib, boto3/botocore nor a module at the zip root",
        "line 3: relative import (modules sit at the zip root)",
        "line 6: distutils is not in the python3.12 standard library",
        "line 8: dynamic import",
    ]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_loaded_copy_has_its_own_client_cache(name, load_lambda):
    # The shared module loads once; a fresh handler copy (a new container) must not see old clients.
    first, second = load_lambda(name), load_lambda(name)
    marker = object()
    first._clients["sts"] = marker
    assert first.aws_client("sts") is marker
    assert "sts" not in second._clients
    assert second.aws_client.cache is second._clients
