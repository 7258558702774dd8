"""Process management: start `serve` detached, keep its pidfile, stop it, report its state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tools.local_aws.common import PROJECT_ROOT, EmulatorError, endpoint

START_TIMEOUT = 30.0
STOP_GRACE = 10.0


def answers_as_moto(port: int, timeout: float = 2.0) -> bool:
    """True when a moto server answers HTTP on 127.0.0.1:port."""
    try:
        with urllib.request.urlopen(f"{endpoint(port)}/moto-api/config", timeout=timeout) as response:
            return 200 <= response.status < 300
    except (OSError, urllib.error.URLError):
        return False


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def is_emulator_process(pid: int) -> bool:
    """True when pid is a live (not zombie) `tools.local_aws serve` process."""
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():  # no procfs: best effort
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    try:
        status_lines = (proc / "status").read_text().splitlines()
        state = next(line for line in status_lines if line.startswith("State:"))
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
    except (OSError, StopIteration):
        return False
    return "Z" not in state.split()[1] and b"tools.local_aws" in cmdline and b"serve" in cmdline


def running_pid(pidfile: Path) -> int | None:
    pid = read_pid(pidfile)
    return pid if pid is not None and is_emulator_process(pid) else None


def _log_tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _already_running(port: int, pidfile: Path) -> bool:
    """True (and says so) when an emulator answers at port; raises when pidfile's runs elsewhere."""
    pid = running_pid(pidfile)
    answering = answers_as_moto(port)
    if pid is not None and not answering:
        raise EmulatorError(
            f"local AWS emulator from {pidfile} runs (pid {pid}) but does not answer at "
            f"{endpoint(port)}: stop it first, or start on its port"
        )
    if pid is not None:
        print(f"local AWS emulator already running at {endpoint(port)} (pid {pid}, {pidfile}): nothing to do")
    elif answering:
        print(f"local AWS emulator already answers at {endpoint(port)} (not started from {pidfile}): nothing to do")
    return answering


def _spawn_serve(port: int, pidfile: Path, log: Path, serve_options: list[str]) -> subprocess.Popen[bytes]:
    """`serve` in its own session, detached from this terminal, writing to log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "tools.local_aws",
        "serve",
        "--port",
        str(port),
        "--pidfile",
        str(pidfile.resolve()),
        *serve_options,
    ]
    with log.open("w") as log_stream:
        return subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log_stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_until_answering(child: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not answers_as_moto(port, timeout=1.0):
        if child.poll() is not None:
            raise EmulatorError(
                f"local AWS emulator exited with code {child.returncode} while starting; {log}:\n{_log_tail(log)}"
            )
        if time.monotonic() > deadline:
            _terminate(child.pid)
            raise EmulatorError(
                f"local AWS emulator did not answer at {endpoint(port)} within "
                f"{START_TIMEOUT:g} s; {log}:\n{_log_tail(log)}"
            )
        time.sleep(0.2)


def start(port: int, pidfile: Path, log: Path, serve_options: list[str]) -> None:
    """Start `serve --port port <serve_options>` detached unless an emulator already answers there."""
    if _already_running(port, pidfile):
        return
    pidfile.unlink(missing_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    child = _spawn_serve(port, pidfile, log, serve_options)
    _wait_until_answering(child, port, log)
    pidfile.write_text(f"{child.pid}\n")
    print(f"local AWS emulator running at {endpoint(port)} (pid {child.pid})")


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while is_emulator_process(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _terminate(pid: int) -> None:
    """SIGTERM, then SIGKILL after STOP_GRACE seconds."""
    for sig, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(pid, grace):
            return
    raise EmulatorError(f"local AWS emulator (pid {pid}) survived SIGKILL")


def stop(pidfile: Path) -> None:
    pid = running_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        print(f"local AWS emulator not running ({pidfile}): nothing to stop")
        return
    _terminate(pid)
    pidfile.unlink(missing_ok=True)
    print(f"local AWS emulator stopped (pid {pid})")


def status(port: int, pidfile: Path) -> int:
    """Print the state; exit code 0 when it answers, 3 when not running, 1 when alive but not answering."""
    pid = running_pid(pidfile)
    answering = answers_as_moto(port)
    if pid is not None and answering:
        print(f"local AWS emulator running at {endpoint(port)} (pid {pid})")
        return 0
    if pid is not None:
        print(f"local AWS emulator process {pid} is alive but does not answer at {endpoint(port)}")
        return 1
    if answering:
        print(f"local AWS emulator answers at {endpoint(port)} (not started from {pidfile})")
        return 0
    print(f"local AWS emulator not running ({pidfile}, {endpoint(port)})")
    return 3
