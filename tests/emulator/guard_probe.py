"""A pytest plugin for test_loopback.py: reports whether the loopback guard is active in a suite's session."""

import socket


def pytest_collection_finish(session):
    active = getattr(socket.socket.connect, "_loopback_guard", False)
    print(f"loopback guard active: {active}")
