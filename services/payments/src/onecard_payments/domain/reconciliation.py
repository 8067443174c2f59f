"""Which day a settlement or refund counts on, for the merchants' daily reconciliation."""

from __future__ import annotations

from datetime import timedelta, timezone

from onecard_events.times import parse_rfc3339

# Merchants close their books on Beijing time (UTC+8, no daylight saving), not on UTC.
BUSINESS_TZ = timezone(timedelta(hours=8), "CST")


def business_day(moment_rfc3339: str) -> str:
    return parse_rfc3339(moment_rfc3339).astimezone(BUSINESS_TZ).date().isoformat()
