"""A throwaway PostgreSQL server for tests: initdb into a temp dir, pg_ctl start/stop.

PostgreSQL refuses to run as root, so when the tests run as root the server commands run
as the `postgres` user (or `nobody`) through subprocess's user/group switching.
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tools.local_aws.loopback import free_port

COMMAND_TIMEOUT_SECONDS = 120


class PostgresError(RuntimeError):
    pass


def unprivileged_account():
    """(uid, gid) to run the server as when we are root, else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise PostgresError("running as root and no 'postgres' or 'nobody' account to run PostgreSQL")


class PostgresServer:
    user = "postgres"
    host = "127.0.0.1"

    def __init__(self):
        self.base_dir = None
        self.port = None
        self._account = unprivileged_account()

    @property
    def data_dir(self):
        return self.base_dir / "data"

    @property
    def log_file(self):
        return self.base_dir / "postgres.log"

    def _run(self, *args, check=True):
        executable = shutil.which(args[0])
        if executable is None:
            raise PostgresError(f"{args[0]} not found on PATH (PostgreSQL server binaries are required)")
        kwargs = {}
        if self._account:
            kwargs = {"user": self._account[0], "group": self._account[1], "extra_groups": []}
        result = subprocess.run(
            [executable, *map(str, args[1:])], cwd=self.base_dir, capture_output=True, text=True,
            timeout=COMMAND_TIMEOUT_SECONDS, env={**os.environ, "LC_ALL": "C"}, **kwargs,
        )
        if check and result.returncode != 0:
            raise PostgresError(f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
                                f"{result.stdout}\n{result.stderr}\n{self._log_tail()}")
        return result

    def _log_tail(self):
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def start(self):
        self.base_dir = Path(tempfile.mkdtemp(prefix="lambda-pg-"))
        if self._account:
            os.chown(self.base_dir, *self._account)
        self._run("initdb", "-D", self.data_dir, "-U", self.user, "--auth=trust",
                  "--encoding=UTF8", "--no-locale", "--no-sync")
        last_error = None
        for _ in range(3):  # the free port may be taken between probing and binding
            self.port = free_port()
            options = (f"-p {self.port} -k {self.base_dir} -c listen_addresses={self.host} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            try:
                self._run("pg_ctl", "-D", self.data_dir, "-l", self.log_file, "-w", "-t", "60",
                          "-o", options, "start")
                return self
            except PostgresError as error:
                last_error = error
                self._kill_leftover()
        raise last_error

    def _postmaster_pid(self):
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _kill_leftover(self):
        pid = self._postmaster_pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def stop(self):
        """Stops the server (fast, then immediate, then SIGKILL) and removes its files. Idempotent."""
        if self.base_dir is None:
            return
        try:
            if self._postmaster_pid() is not None:
                stopped = self._run("pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "-t", "30",
                                    "stop", check=False)
                if stopped.returncode != 0:
                    self._run("pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "-t", "30",
                              "stop", check=False)
                self._kill_leftover()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def connect(self, database="postgres"):
        import pg8000.native

        return pg8000.native.Connection(
            user=self.user, host=self.host, port=self.port, database=database, timeout=30
        )
