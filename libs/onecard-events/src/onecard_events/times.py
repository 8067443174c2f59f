"""RFC 3339 times, the one format every event, response and query parameter uses (UTC, "Z").

Dates alone ("2025-06-01") are accepted where a moment is asked for and mean that day's start in
UTC; naive datetimes (SQLite hands them back) are taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    return aware(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")


def now_rfc3339() -> str:
    return rfc3339(utcnow())


# What an RFC 3339 moment looks like, for schemas (a query parameter's `pattern`): pydantic's own
# datetime would also take a number as seconds since the epoch.
RFC3339_TIME = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"


def parse_rfc3339(value: str) -> datetime:
    """An aware datetime from an RFC 3339 moment or a plain date; ValueError if it is neither."""
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    return aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
