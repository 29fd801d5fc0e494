"""Free loopback ports for tests that start servers.

A port the kernel gives for ``bind(port 0)`` comes from its ephemeral range,
the range every outgoing connection also takes its local port from: between
the probe and the server's own bind, a connecting socket (the test's own
subscriber, say) can take it, and the server fails with "Address already in
use". Ports are therefore drawn below that range, where only an explicit bind
puts anything.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_LOWEST = 10_000  # below this lie the ports services are configured on


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default; macOS and Windows start theirs higher still


def free_port() -> int:
    """A loopback TCP port nothing is bound to, outside the kernel's ephemeral range."""
    start = _ephemeral_start()
    for _ in range(200):
        port = random.randrange(_LOWEST, start) if start > _LOWEST + 1000 else 0
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError(f"no free loopback port between {_LOWEST} and {start}")


def free_endpoint() -> str:
    """``tcp://127.0.0.1:PORT`` with a :func:`free_port`."""
    return f"tcp://127.0.0.1:{free_port()}"
