"""Loopback ports."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port free on 127.0.0.1 at the time of the call."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
