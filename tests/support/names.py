"""Unique names for what tests create on shared servers (schemas, databases, topic prefixes)."""

from __future__ import annotations

import uuid


def unique(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
