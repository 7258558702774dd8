"""Files that every suffix of one checkout shares, written safely when two suffixes work side by side.

`cdktf.out/manifest.json` is rewritten by every synth of the app, and `cfn-outputs/flat-outputs.json`
holds one entry per deployed stack. `make e2e` deploys a second suffix while the first suffix's
tests run `make plan` and `cdktf output`, so their writers take one exclusive lock, and files are
replaced whole, never truncated in place.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_FILES_LOCK = PROJECT_ROOT / "build" / "locks" / "shared-files.lock"


@contextmanager
def locked(path: Path, *, exclusive: bool = True, waiting: str | None = None) -> Iterator[None]:
    """Holds an advisory lock on `path`; prints `waiting` first when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    with path.open("w") as lock:
        try:
            fcntl.flock(lock, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                print(waiting, flush=True)
            fcntl.flock(lock, mode)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def shared_files_lock() -> Iterator[None]:
    """For a synth of the app (it rewrites cdktf.out/manifest.json) and for changes to the outputs file."""
    waiting = "waiting: another synth or outputs write of this checkout is running (it holds build/locks/)"
    with locked(SHARED_FILES_LOCK, waiting=waiting):
        yield


def replace_text(path: Path, text: str) -> None:
    """Writes `text` to `path` whole: a reader sees the old file or the new one, never a part of either."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
