"""Deterministic Lambda deployment zips.

The same sources give the same bytes on any machine and checkout: entries are
sorted, timestamps and permissions fixed, caches left out. Terraform's
``source_code_hash`` comes from those bytes, so an unchanged function never diffs.

A zip also carries the modules of lib/lambda/shared that the function imports
(directly, or through another shared module) at its root, next to its handler.py,
so handlers import them as top-level modules; the others stay out of its code and
its cold start. A file name that is both the function's and a shared one is an
error, never a silent overwrite.
"""

from __future__ import annotations

import ast
import base64
import functools
import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SHARED_SOURCE = Path(__file__).resolve().parent / "lambda" / "shared"
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644 << 16
EXCLUDED_PARTS = {"__pycache__", ".pytest_cache", "tests"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}


@dataclass(frozen=True)
class LambdaPackage:
    path: Path
    sha256_base64: str
    size: int


def package_files(source_dir: Path) -> list[Path]:
    files = [
        path
        for path in source_dir.rglob("*")
        if path.is_file()
        and not EXCLUDED_PARTS.intersection(path.relative_to(source_dir).parts)
        and path.suffix not in EXCLUDED_SUFFIXES
    ]
    return sorted(files, key=lambda path: path.relative_to(source_dir).as_posix())


class PackageClashError(ValueError):
    """Two source folders would put a file under the same name in one zip."""


def imported_top_level_names(module: Path) -> frozenset[str]:
    """The top-level names a Python file imports absolutely, anywhere in it (function bodies included)."""
    return _imported_names_in(module.read_bytes(), str(module))


@functools.lru_cache(maxsize=256)
def _imported_names_in(source: bytes, filename: str) -> frozenset[str]:
    # Keyed on the bytes, so an edited file is parsed again; every build of a stack packages the same
    # few files, and parsing them each time cost a process that builds many stacks (the unit suite) seconds.
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return frozenset(names)


def top_level_name(name_in_zip: str) -> str:
    """`helper.py` and `helper/...` are both imported as `helper`."""
    return name_in_zip.partition("/")[0].removesuffix(".py")


def shared_names_imported(own_files: list[Path], shared: dict[str, list[Path]]) -> set[str]:
    """Names of the shared modules the function's Python files import, and those these import in turn."""
    needed: set[str] = set()
    pending = [path for path in own_files if path.suffix == ".py"]
    while pending:
        for name in imported_top_level_names(pending.pop()) & (shared.keys() - needed):
            needed.add(name)
            pending += [path for path in shared[name] if path.suffix == ".py"]
    return needed


def package_entries(source_dir: Path, shared_dirs: Sequence[Path] = (SHARED_SOURCE,)) -> list[tuple[str, Path]]:
    """(name in the zip, file) for the function's files and the shared ones it imports, sorted by name."""
    own_files = package_files(source_dir)
    if not any(path.name == "handler.py" for path in own_files):
        raise FileNotFoundError(f"{source_dir} has no handler.py; a Lambda package needs its handler")
    sources = [(source_dir, own_files)]
    for shared_dir in map(Path, shared_dirs):
        if not shared_dir.is_dir():
            raise FileNotFoundError(f"shared Lambda source folder {shared_dir} does not exist")
        sources.append((shared_dir, package_files(shared_dir)))
    entries: dict[str, Path] = {}
    for root, files in sources:
        for path in files:
            name = path.relative_to(root).as_posix()
            if name in entries:
                raise PackageClashError(
                    f"{source_dir.name}: {name} is both {entries[name]} and {path}; shared modules sit at "
                    "the zip root next to the function's own files, so one of them must be renamed"
                )
            entries[name] = path
    own_names = {path.relative_to(source_dir).as_posix() for path in own_files}
    shared: dict[str, list[Path]] = {}
    for name, path in entries.items():
        if name not in own_names:
            shared.setdefault(top_level_name(name), []).append(path)
    wanted = shared_names_imported(own_files, shared)
    return sorted((name, path) for name, path in entries.items() if name in own_names or top_level_name(name) in wanted)


def zip_bytes(source_dir: Path, shared_dirs: Sequence[Path] = (SHARED_SOURCE,)) -> bytes:
    """The function's zip: its own files plus the shared modules at the root, byte-for-byte reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in package_entries(source_dir, shared_dirs):
            entry = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            entry.external_attr = FILE_MODE
            entry.create_system = 3  # Unix: the same header bytes whatever the build OS
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def build_package(source_dir: Path, build_dir: Path, shared_dirs: Sequence[Path] = (SHARED_SOURCE,)) -> LambdaPackage:
    """Writes <build_dir>/<function>.zip (only when its bytes change) and returns its hash."""
    data = zip_bytes(source_dir, shared_dirs)
    build_dir.mkdir(parents=True, exist_ok=True)
    destination = build_dir / f"{source_dir.name}.zip"
    if not destination.exists() or destination.read_bytes() != data:
        destination.write_bytes(data)
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    return LambdaPackage(path=destination, sha256_base64=digest, size=len(data))
