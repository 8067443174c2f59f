"""Which day a settlement or refund counts on, for the merchants' daily reconciliation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

# Merchants close their books on Beijing time (UTC+8, no daylight saving), not on UTC.
BUSINESS_TZ = timezone(timedelta(hours=8), "CST")


def business_day(moment_rfc3339: str) -> str:
    moment = datetime.fromisoformat(moment_rfc3339.replace("Z", "+00:00"))
    return moment.astimezone(BUSINESS_TZ).date().isoformat()
