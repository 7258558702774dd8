"""Deterministic Lambda deployment zips.

The same sources give the same bytes on any machine and checkout: entries are
sorted, timestamps and permissions fixed, caches left out. Terraform's
``source_code_hash`` comes from those bytes, so an unchanged function never diffs.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

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
    files = [path for path in source_dir.rglob("*")
             if path.is_file() and not EXCLUDED_PARTS.intersection(path.relative_to(source_dir).parts)
             and path.suffix not in EXCLUDED_SUFFIXES]
    return sorted(files, key=lambda path: path.relative_to(source_dir).as_posix())


def zip_bytes(source_dir: Path) -> bytes:
    files = package_files(source_dir)
    if not any(path.name == "handler.py" for path in files):
        raise FileNotFoundError(f"{source_dir} has no handler.py; a Lambda package needs its handler")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in files:
            entry = zipfile.ZipInfo(path.relative_to(source_dir).as_posix(), date_time=FIXED_TIMESTAMP)
            entry.external_attr = FILE_MODE
            entry.create_system = 3  # Unix: the same header bytes whatever the build OS
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def build_package(source_dir: Path, build_dir: Path) -> LambdaPackage:
    """Writes <build_dir>/<function>.zip (only when its bytes change) and returns its hash."""
    data = zip_bytes(source_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    destination = build_dir / f"{source_dir.name}.zip"
    if not destination.exists() or destination.read_bytes() != data:
        destination.write_bytes(data)
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    return LambdaPackage(path=destination, sha256_base64=digest, size=len(data))
