"""Loopback ports."""

from __future__ import annotations

import random
import socket

# Below Linux's ephemeral range (32768-60999), so that a server restarted on its port can always
# bind it again: a port inside the range can be held by a client's TCP self-connect while the
# server is down (deploy/local/README.md). The local servers use 25432, 29092 and 29093.
_LOW, _HIGH = 20000, 32767
_TAKEN_BY_SERVERS = {25432, 29092, 29093}


def free_port() -> int:
    """A port free on 127.0.0.1 at the time of the call, outside the ephemeral range."""
    for _ in range(200):
        port = random.randint(_LOW, _HIGH)
        if port in _TAKEN_BY_SERVERS:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on 127.0.0.1 in {_LOW}-{_HIGH}")
