"""Every function folder is zipped with the shared modules at its root and runs on python3.12
with only stdlib + boto3/botocore besides those shared modules."""

import ast
import sys
from pathlib import Path

import pytest

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lib" / "lambda"
SHARED_DIR = LAMBDA_DIR / "shared"
FUNCTIONS = ("payment_api", "migration_validator", "traffic_shifter", "rollback", "schema_migrations")
SHARED_MODULES = {path.stem for path in SHARED_DIR.glob("*.py")}
ALLOWED_THIRD_PARTY = {"boto3", "botocore"}
REMOVED_IN_PYTHON_312 = {"distutils", "imp", "asynchat", "asyncore", "smtpd"}
SOURCES = sorted(LAMBDA_DIR.rglob("*.py"))


def imported_modules(tree):
    """(top-level module, line, relative?) for every import statement."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno, False
        elif isinstance(node, ast.ImportFrom):
            yield (node.module or "").split(".")[0], node.lineno, node.level > 0


def dynamic_imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("__import__", "import_module"):
                yield node.lineno


def test_every_function_folder_has_a_handler():
    assert sorted(p.name for p in LAMBDA_DIR.iterdir() if p.is_dir()
                  and not p.name.startswith("__")) == sorted((*FUNCTIONS, SHARED_DIR.name))
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
    tree = ast.parse(path.read_text(), filename=str(path))
    problems = []
    for module, line, relative in imported_modules(tree):
        if relative:
            problems.append(f"line {line}: relative import (modules sit at the zip root)")
        elif module in REMOVED_IN_PYTHON_312:
            problems.append(f"line {line}: {module} is not in the python3.12 standard library")
        elif (module not in sys.stdlib_module_names and module not in ALLOWED_THIRD_PARTY
              and module not in SHARED_MODULES):
            problems.append(f"line {line}: {module} is neither stdlib, boto3/botocore nor a shared module")
    problems += [f"line {line}: dynamic import" for line in dynamic_imports(tree)]
    assert problems == []


def test_checker_catches_forbidden_imports():
    tree = ast.parse("import psycopg2\nfrom pg8000 import native\nfrom . import sibling\n"
                     "import os\nimport boto3\n")
    found = [(m, r) for m, _, r in imported_modules(tree)
             if r or (m not in sys.stdlib_module_names and m not in ALLOWED_THIRD_PARTY)]
    assert found == [("psycopg2", False), ("pg8000", False), ("", True)]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_loaded_copy_has_its_own_client_cache(name, load_lambda):
    # The shared module loads once; a fresh handler copy (a new container) must not see old clients.
    first, second = load_lambda(name), load_lambda(name)
    marker = object()
    first._clients["sts"] = marker
    assert first.aws_client("sts") is marker
    assert "sts" not in second._clients
    assert second.aws_client.cache is second._clients
