"""What operations see of the offline taps: those with a finding, newest upload first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from onecard_events.times import aware, rfc3339
from onecard_service.auth import Principal

from ...adapters.offline import taps
from ...adapters.offline.context import Offline


async def offline_findings(
    off: Offline,
    caller: Principal,
    venue_id: str | None,
    finding: str | None,
    since: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Staff see every venue's; a venue client only its own venues'."""
    venues: list[str] | None = None if caller.is_staff else sorted(caller.venues)
    if venue_id is not None:
        venues = [venue_id] if venues is None or venue_id in venues else []
    async with off.identity.db.reads.connect() as conn:
        rows = await taps.findings(conn, venues, finding, since, limit)
    return [
        {
            "venue_id": r.venue_id,
            "terminal_id": r.terminal_id,
            "sequence": int(r.sequence),
            "verification_id": r.verification_id,
            "method": r.method,
            "occurred_at": rfc3339(aware(r.occurred_at)),
            "uploaded_at": rfc3339(aware(r.uploaded_at)),
            "bundle_version": r.bundle_version,
            "finding": r.finding,
            "validator": {"verified": bool(r.validator_verified), "reason": r.validator_reason},
            "platform": {"verified": bool(r.verified), "reason": r.reason},
            "partner_region": r.partner_region,
        }
        for r in rows
    ]
