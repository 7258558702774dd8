"""What a Lambda package may import, and what importing its handler loads.

Two checks, one place: `import_problems` reads a source file and names every import the
python3.12 runtime cannot satisfy (only the standard library, boto3/botocore and the
modules at the zip root are there); `import_packaged_handler` unzips a package and imports
its handler.py in a fresh interpreter with the package alone first on sys.path, as the
runtime does with /var/task, and reports the time it took and the modules it loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

RUNTIME_THIRD_PARTY = frozenset({"boto3", "botocore"})
# In the 3.11 standard library this checker runs on, gone from the python3.12 runtime.
REMOVED_IN_PYTHON_312 = frozenset({"distutils", "imp", "asynchat", "asyncore", "smtpd"})
# Runs in a fresh interpreter: sys.path[0] is the unzipped package, as /var/task in Lambda.
IMPORT_PROBE = """
import json, sys, time
sys.path[0] = sys.argv[1]
start = time.perf_counter()
import handler
seconds = time.perf_counter() - start
assert callable(handler.handler), "handler.py has no callable handler"
print(json.dumps({"seconds": seconds, "modules": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def imported_modules(tree: ast.AST) -> Iterator[tuple[str, int, bool]]:
    """(top-level module, line, relative?) for every import statement."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno, False
        elif isinstance(node, ast.ImportFrom):
            yield (node.module or "").split(".")[0], node.lineno, node.level > 0


def dynamic_imports(tree: ast.AST) -> Iterator[int]:
    """Lines that call __import__ or import_module: imports no static check can follow."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
            if name in ("__import__", "import_module"):
                yield node.lineno


def import_problems(source: Path | str, zip_root_modules: set[str], *, text: str | None = None) -> list[str]:
    """One line per import of `source` that the runtime cannot satisfy (empty when all are fine)."""
    tree = ast.parse(Path(source).read_text() if text is None else text, filename=str(source))
    problems = []
    for module, line, relative in imported_modules(tree):
        if relative:
            problems.append(f"line {line}: relative import (modules sit at the zip root)")
        elif module in REMOVED_IN_PYTHON_312:
            problems.append(f"line {line}: {module} is not in the python3.12 standard library")
        elif (
            module not in sys.stdlib_module_names
            and module not in RUNTIME_THIRD_PARTY
            and module not in zip_root_modules
        ):
            problems.append(f"line {line}: {module} is neither stdlib, boto3/botocore nor a module at the zip root")
    return problems + [f"line {line}: dynamic import" for line in dynamic_imports(tree)]


@dataclass(frozen=True)
class HandlerImport:
    seconds: float
    modules: frozenset[str]  # top-level names in sys.modules once `import handler` returned


class HandlerImportError(RuntimeError):
    """`import handler` failed in the unzipped package."""


def import_packaged_handler(package: Path, workdir: Path) -> HandlerImport:
    """Unzips package into workdir/<zip name> and imports its handler there in a fresh interpreter.

    -B: nothing is written to __pycache__, so every run compiles as a cold start does.
    """
    unzipped = workdir / package.stem
    with zipfile.ZipFile(package) as archive:
        archive.extractall(unzipped)
    result = subprocess.run(
        [sys.executable, "-B", "-c", IMPORT_PROBE, str(unzipped)],
        cwd=unzipped,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise HandlerImportError(f"import handler from {package.name} failed:\n{result.stderr.strip()}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return HandlerImport(seconds=report["seconds"], modules=frozenset(report["modules"]))
