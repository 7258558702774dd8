"""127.0.0.1 only: free local ports, and a guard that refuses any connect beyond the loopback.

Standard library only, so the Lambda worker bootstrap (a different Python, without this
project on its path) loads this very file as well.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

HOST = "127.0.0.1"
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class LoopbackViolation(ConnectionRefusedError):
    """A connect to an address beyond 127.0.0.0/8 and ::1 was refused before any packet left."""


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1, an IPv4-mapped loopback and the usual names of localhost."""
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _checked(address: Any, family: int) -> None:
    if family not in (socket.AF_INET, socket.AF_INET6):
        return  # Unix sockets and the like never leave the machine
    host = address[0] if isinstance(address, tuple) else str(address)
    if not is_loopback(str(host)):
        raise LoopbackViolation(
            f"refused to connect to {host}: only 127.0.0.0/8 and ::1 may be reached "
            "from this process (the project never sends traffic beyond the loopback)"
        )


def install() -> None:
    """Make every socket connect (and name lookup) of this process refuse non-loopback addresses."""
    if getattr(socket.socket.connect, "_loopback_guard", False):
        return
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> None:
        _checked(address, self.family)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        _checked(address, self.family)
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        # Clients look an address up before they connect: an address is refused here already, and a
        # lookup of any other name would ask a resolver, which is traffic beyond the loopback too.
        name = host.decode() if isinstance(host, bytes) else host
        if name not in (None, "") and not is_loopback(str(name)):
            if _is_address(str(name)):
                _checked((str(name), 0), socket.AF_INET6 if ":" in str(name) else socket.AF_INET)
            raise LoopbackViolation(f"refused to resolve {host!r}: only loopback addresses may be used")
        return getaddrinfo(host, *args, **kwargs)

    for guarded in (guarded_connect, guarded_connect_ex, guarded_getaddrinfo):
        guarded._loopback_guard = True  # type: ignore[union-attr]  # the mark install() looks for
    # The guard replaces the methods of the socket class itself; it takes any socket.socket and any address.
    socket.socket.connect = guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = guarded_getaddrinfo
