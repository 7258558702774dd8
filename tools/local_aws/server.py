"""`serve`: the patched moto server on 127.0.0.1, in the foreground, until signalled or idle."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.local_aws import loopback
from tools.local_aws.awslambda.invocations import WORKER_APP_ID
from tools.local_aws.common import endpoint
from tools.local_aws.control import ControlMiddleware
from tools.local_aws.moto_guard import CLASS, MOTO_VERSION
from tools.local_aws.patches import apply_patches
from tools.local_aws.process import read_pid
from tools.local_aws.retries import RetryReplay

# moto's own server pieces, used as they are.
SERVER_INTERNALS = {
    "moto.moto_server.werkzeug_app.DomainDispatcherApplication": CLASS,
    "moto.moto_server.werkzeug_app.MotoRequestHandler": CLASS,
    "moto.moto_server.werkzeug_app.create_backend_app": (),
}


class ActivityTracker:
    """WSGI middleware remembering when the last request of a user arrived.

    The emulator's own Lambda functions call it too (a schedule runs the validator every few
    minutes); their requests say so in the user agent and do not keep it alive."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.last_request = time.monotonic()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if f"app/{WORKER_APP_ID}" not in environ.get("HTTP_USER_AGENT", ""):
            self.touch()
        return self.app(environ, start_response)

    def touch(self) -> None:
        self.last_request = time.monotonic()

    def idle_seconds(self) -> float:
        return time.monotonic() - self.last_request


def _stop_when_idle(server: Any, activity: ActivityTracker, idle_timeout: float) -> None:
    while activity.idle_seconds() < idle_timeout:
        time.sleep(min(1.0, idle_timeout))
    print(f"no request for {idle_timeout:g} s: stopping", file=sys.stderr, flush=True)
    server.shutdown()


def _raise_exit(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def serve(port: int, idle_timeout: float, state_dir: Path, onprem_seed_rows: int, pidfile: Path | None = None) -> None:
    """Run the patched moto server and the local runtime on 127.0.0.1:port until signalled or idle.

    state_dir holds what the runtime runs (unpacked functions); it is emptied at start and removed at stop."""
    loopback.install()  # nothing this process does may reach beyond 127.0.0.1
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # before moto is imported
    os.environ["MOTO_PORT"] = str(port)
    apply_patches(also_requires=SERVER_INTERNALS)
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from tools.local_aws.iam import ensure_account_roles
    from tools.local_aws.runtime import start_runtime, stop_runtime

    ensure_account_roles()  # the account-wide roles a real account has (tools/local_aws/iam.py)
    running = start_runtime(port, state_dir, onprem_seed_rows)
    activity = ActivityTracker(RetryReplay(ControlMiddleware(DomainDispatcherApplication(create_backend_app))))
    running.load_balancers.on_request = activity.touch  # requests to a listener's own port are activity too
    server = make_server(loopback.HOST, port, activity, threaded=True, request_handler=MotoRequestHandler)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGINT, _raise_exit)
    threading.Thread(target=_stop_when_idle, args=(server, activity, idle_timeout), daemon=True).start()
    print(f"serving on {endpoint(port)} (moto {MOTO_VERSION}, patched)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        stop_runtime()
        if pidfile is not None and read_pid(pidfile) == os.getpid():
            pidfile.unlink(missing_ok=True)
