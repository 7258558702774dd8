"""Every test suite (unit, lambda, tools, emulator, integration, teardown): nothing leaves 127.0.0.1.

Any socket connect, or name lookup, beyond 127.0.0.0/8 and ::1 fails at once with
LoopbackViolation, before a packet is sent (tools/local_aws/loopback.py). The emulator and
its Lambda workers install the same guard in their own processes.
"""

from tools.local_aws import loopback


def pytest_configure(config):
    loopback.install()
