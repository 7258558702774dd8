"""A PostgreSQL 15 server of our own: initdb into a folder, pg_ctl start/stop, 127.0.0.1 only.

The server listens on 127.0.0.1 (password logins, scram-sha-256) and on a Unix socket in a
short private folder (the superuser `postgres`, trusted). PostgreSQL refuses to run as
root, so when we are root the server commands run as the `postgres` user (or `nobody`).
Logical replication is on (wal_level=logical) so DMS can be emulated with it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.local_aws.common import EmulatorError
from tools.local_aws.loopback import HOST, free_port

COMMAND_TIMEOUT_SECONDS = 120
SUPERUSER = "postgres"
SERVER_SETTINGS = {
    "listen_addresses": HOST,
    # fsync off: fast, and nothing here must survive a crash. synchronous_commit stays on, as on Aurora:
    # after a commit returns, pg_current_wal_lsn() is past it (a flip position taken then is exact).
    "fsync": "off",
    "full_page_writes": "off",
    "wal_level": "logical",
    "max_replication_slots": "20",
    "max_wal_senders": "20",
    "max_logical_replication_workers": "12",
    "max_worker_processes": "24",
    "max_sync_workers_per_subscription": "2",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "wal_sender_timeout": "60s",
    "wal_receiver_status_interval": "1s",
    "password_encryption": "scram-sha-256",
}
HBA = """\
# local (Unix socket): the emulator's superuser; TCP on 127.0.0.1: password logins only
local   all             all                                     trust
local   replication     all                                     trust
host    all             all             127.0.0.1/32            scram-sha-256
host    replication     all             127.0.0.1/32            scram-sha-256
"""


class PostgresError(EmulatorError):
    pass


def unprivileged_account() -> tuple[int, int] | None:
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


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# RDS's role whose members may create and drop replication slots (Aurora clusters have it, see rds/clusters.py).
RDS_REPLICATION = "rds_replication"


def apply_rds_replication(admin: Any, username: str) -> None:
    """Gives a (non-superuser) login REPLICATION while it is a member of rds_replication, and takes it away
    otherwise, as RDS's membership works; `admin` is a superuser connection."""
    rows = admin.run(
        "SELECT rolreplication, pg_has_role(oid, :group, 'MEMBER') FROM pg_roles "
        "WHERE rolname = :role AND NOT rolsuper",
        group=RDS_REPLICATION,
        role=username,
    )
    if rows and rows[0][0] != rows[0][1]:
        admin.run(f"ALTER ROLE {quote_identifier(username)} {'REPLICATION' if rows[0][1] else 'NOREPLICATION'}")


def ensure_rds_replication_role(admin: Any) -> None:
    if not admin.run("SELECT 1 FROM pg_roles WHERE rolname = :role", role=RDS_REPLICATION):
        admin.run(f"CREATE ROLE {RDS_REPLICATION} NOLOGIN")


class PostgresServer:
    """One PostgreSQL server; `base_dir` None means a temporary folder removed at stop."""

    host = HOST

    def __init__(self, base_dir: Path | None = None) -> None:
        self._given_dir = base_dir
        self.base_dir: Path | None = None
        self.socket_dir: Path | None = None
        self.port: int | None = None
        self._account = unprivileged_account()

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "postgres.log"

    def _run(self, *args: Any, check: bool = True) -> subprocess.CompletedProcess[str]:
        executable = shutil.which(str(args[0]))
        if executable is None:
            raise PostgresError(f"{args[0]} not found on PATH (PostgreSQL 15 server binaries are required)")
        kwargs: dict[str, Any] = {}
        if self._account:
            kwargs = {"user": self._account[0], "group": self._account[1], "extra_groups": []}
        result = subprocess.run(
            [executable, *map(str, args[1:])],
            cwd=self.base_dir,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            env={**os.environ, "LC_ALL": "C"},
            **kwargs,
        )
        if check and result.returncode != 0:
            raise PostgresError(
                f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{self._log_tail()}"
            )
        return result

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def last_error(self, mentioning: str) -> str | None:
        """The last ERROR in the server log of a process whose lines mention `mentioning`, with its DETAIL."""
        lines = self._log_tail_lines()
        for index in range(len(lines) - 1, -1, -1):
            if "ERROR:" in lines[index] and any(mentioning in line for line in lines[max(0, index - 2) : index + 3]):
                detail = next(
                    (line.split("DETAIL:", 1)[1].strip() for line in lines[index + 1 : index + 3] if "DETAIL:" in line),
                    None,
                )
                message = lines[index].split("ERROR:", 1)[1].strip()
                return f"{message} ({detail})" if detail else message
        return None

    def _log_tail_lines(self) -> list[str]:
        try:
            return self.log_file.read_text(errors="replace").splitlines()[-400:]
        except (OSError, AssertionError):
            return []

    def _own(self, path: Path) -> None:
        if self._account:
            os.chown(path, *self._account)

    def _make_base_dir(self) -> Path:
        """The given folder; as root, a private temporary one the server's account owns (the given
        folder's parents may not let it in), linked from the given folder's place."""
        if self._given_dir is not None and not self._account:
            self._given_dir.mkdir(parents=True, exist_ok=True)
            return self._given_dir
        base_dir = Path(tempfile.mkdtemp(prefix="local-pg-"))
        if self._given_dir is not None:
            self._given_dir.parent.mkdir(parents=True, exist_ok=True)
            self._given_dir.symlink_to(base_dir, target_is_directory=True)
        return base_dir

    def start(self) -> PostgresServer:
        self.base_dir = self._make_base_dir()
        self.socket_dir = Path(tempfile.mkdtemp(prefix="pgsock-"))  # short: socket paths are limited to 107 bytes
        for path in (self.base_dir, self.socket_dir):
            self._own(path)
        self._run(
            "initdb",
            "-D",
            self.data_dir,
            "-U",
            SUPERUSER,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        (self.data_dir / "pg_hba.conf").write_text(HBA)
        last_error: PostgresError | None = None
        for _ in range(3):  # the free port may be taken between probing and binding
            self.port = free_port()
            options = " ".join(
                [
                    f"-p {self.port}",
                    f"-k {self.socket_dir}",
                    *(f"-c {name}={value}" for name, value in SERVER_SETTINGS.items()),
                ]
            )
            try:
                self._run("pg_ctl", "-D", self.data_dir, "-l", self.log_file, "-w", "-t", "60", "-o", options, "start")
                return self
            except PostgresError as error:
                last_error = error
                self._kill_leftover()
        assert last_error is not None
        raise last_error

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError, AssertionError):
            return None

    def _kill_leftover(self) -> None:
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

    def stop(self) -> None:
        """Stops the server (fast, then immediate, then SIGKILL) and removes its files. Idempotent."""
        if self.base_dir is None:
            return
        try:
            if self._postmaster_pid() is not None:
                stopped = self._run("pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "-t", "30", "stop", check=False)
                if stopped.returncode != 0:
                    self._run("pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "-t", "30", "stop", check=False)
                self._kill_leftover()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            if self._given_dir is not None and self._given_dir.is_symlink():
                self._given_dir.unlink()
            if self.socket_dir is not None:
                shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.base_dir = self.socket_dir = None

    def connect(self, database: str = "postgres") -> Any:
        """A connection as the superuser, over the trusted Unix socket."""
        import pg8000.native

        assert self.socket_dir is not None
        return pg8000.native.Connection(
            user=SUPERUSER, unix_sock=str(self.socket_dir / f".s.PGSQL.{self.port}"), database=database, timeout=30
        )

    def login(self, database: str, user: str, password: str) -> Any:
        """A connection that authenticates with user and password over TCP on 127.0.0.1, as a client would."""
        import pg8000.native

        return pg8000.native.Connection(
            user=user, password=password, host=self.host, port=self.port, database=database, timeout=30
        )

    def superuser_conninfo(self, database: str) -> str:
        """A libpq connection string for the server itself (logical replication subscriptions)."""
        return f"host={self.socket_dir} port={self.port} user={SUPERUSER} dbname={database}"
