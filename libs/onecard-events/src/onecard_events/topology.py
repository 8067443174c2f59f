"""The platform's services, named once: topics, schemas, checkpoints and tests derive from this."""

from __future__ import annotations

SERVICES: tuple[str, ...] = ("catalog", "identity", "payments", "disbursement", "reporting")
