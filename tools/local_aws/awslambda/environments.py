"""Runtime environments: the interpreter and SDK a function's declared runtime gets on AWS Lambda.

Only python3.12 runs locally. Its environment is a virtualenv of the machine's python3.12 with
the AWS SDK pinned to what the python3.12 runtime ships, built once (from PyPI, by the launcher,
never by the serving emulator) and cached under build/lambda-runtimes/. The project's own 3.11
virtualenv is never used: a handler must not see packages the real runtime lacks.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tools.local_aws.common import PROJECT_ROOT, EmulatorError

CACHE_ROOT = PROJECT_ROOT / "build" / "lambda-runtimes"
INSTALL_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class PythonRuntime:
    identifier: str
    version: str  # major.minor of the interpreter
    packages: tuple[str, ...]  # exact pins, installed with --no-deps

    @property
    def environment_dir(self) -> Path:
        digest = hashlib.sha256("\n".join(self.packages).encode()).hexdigest()[:12]
        return CACHE_ROOT / f"{self.identifier}-{digest}"

    @property
    def python(self) -> Path:
        return self.environment_dir / "bin" / "python"


# Lambda's python3.12 runtime bundles boto3/botocore; AWS no longer publishes one version for it ("the
# version of the AWS SDK included in the Python runtime depends on the runtime version and your AWS
# Region", https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html#python-sdk-included).
# These are the versions its runtime table last listed for python3.12, with the dependencies of
# that release; nothing newer than what the runtime could have is available to a handler.
PYTHON312 = PythonRuntime(
    identifier="python3.12",
    version="3.12",
    packages=(
        "boto3==1.34.145",
        "botocore==1.34.145",
        "s3transfer==0.10.2",
        "jmespath==1.0.1",
        "python-dateutil==2.9.0.post0",
        "six==1.16.0",
        "urllib3==1.26.19",
    ),
)
RUNTIMES = {runtime.identifier: runtime for runtime in (PYTHON312,)}


class UnsupportedRuntime(EmulatorError):
    """The function declares a runtime the local emulator cannot run."""


def runtime_for(identifier: str | None) -> PythonRuntime:
    runtime = RUNTIMES.get(identifier or "")
    if runtime is None:
        raise UnsupportedRuntime(
            f"the runtime {identifier!r} does not run on the local emulator; supported: {', '.join(sorted(RUNTIMES))}"
        )
    return runtime


def _interpreter_version(candidate: str) -> str | None:
    try:
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    return probe.stdout.strip() if probe.returncode == 0 else None


def find_interpreter(version: str) -> str:
    """A working python<version> on this machine (a pyenv shim that refuses to run is skipped)."""
    candidates = [
        shutil.which(f"python{version}"),
        f"/usr/bin/python{version}",
        f"/usr/local/bin/python{version}",
        *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}"))),
    ]
    for candidate in filter(None, candidates):
        if Path(candidate).exists() and _interpreter_version(candidate) == version:
            return candidate
    raise EmulatorError(
        f"python{version} was not found on this machine; the local emulator runs "
        f"{version} Lambda functions with it (looked at: {', '.join(filter(None, candidates))})"
    )


def is_prepared(runtime: PythonRuntime) -> bool:
    return (runtime.environment_dir / ".complete").exists()


def prepare(runtime: PythonRuntime) -> Path:
    """Build the runtime's cached virtualenv unless it exists; returns its python. Safe to run concurrently."""
    if is_prepared(runtime):
        return runtime.python
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / f".{runtime.identifier}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_prepared(runtime):
            _build(runtime)
    return runtime.python


def _build(runtime: PythonRuntime) -> None:
    target = runtime.environment_dir
    building = target.with_name(target.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    steps = [
        [find_interpreter(runtime.version), "-m", "venv", str(building)],
        [
            str(building / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-input",
            "--disable-pip-version-check",
            "--no-deps",
            *runtime.packages,
        ],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False)
        if result.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            raise EmulatorError(
                f"could not prepare the {runtime.identifier} Lambda runtime: "
                f"{' '.join(step[:4])} ... failed:\n{result.stderr.strip()[-2000:]}"
            )
    # venv writes its own absolute path into the scripts; only bin/python is used, so a rename is safe.
    building.rename(target)
    (target / ".complete").write_text("\n".join(runtime.packages) + "\n")


def prepare_all() -> None:
    for runtime in RUNTIMES.values():
        if not is_prepared(runtime):
            print(
                f"preparing the {runtime.identifier} Lambda runtime ({', '.join(runtime.packages[:2])}) "
                f"in {runtime.environment_dir}",
                file=sys.stderr,
                flush=True,
            )
            prepare(runtime)
