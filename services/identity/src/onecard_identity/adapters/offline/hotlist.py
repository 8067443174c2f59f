"""The hotlist history of every card, ours and partners', numbered in commit order.

Written in the transaction of the change itself (a card's status, a partner's hotlist entry:
handlers/cards.py, handlers/partners.py), read to build bundles and to judge uploaded taps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from onecard_events.sql import insert_ignoring_duplicates
from onecard_events.times import aware
from onecard_service.privacy import PersonalDataKeys
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain.offline.recheck import StatusChange
from .tables import counters, hotlist_changes

COUNTER = "hotlist"


@dataclass(frozen=True)
class HotlistEntry:
    region: str
    subject: str
    change: StatusChange


async def note_change(
    conn: AsyncConnection,
    personal_data: PersonalDataKeys,
    region: str,
    subject: str,
    status: str,
    changed_at: datetime,
) -> int:
    """Record a card's new hotlist status (`active` lifts it); returns the change's number."""
    await conn.execute(insert_ignoring_duplicates(conn, counters).values(name=COUNTER, value=0))
    bumped = update(counters).where(counters.c.name == COUNTER).values(value=counters.c.value + 1)
    seq = int((await conn.execute(bumped.returning(counters.c.value))).scalar_one())
    card_key = personal_data.keyed_hash(subject, "card")
    row = {
        "seq": seq,
        "region": region,
        "card_key": card_key,
        "subject_enc": personal_data.encrypt(subject, _context(card_key)),
        "status": status,
        "changed_at": changed_at,
    }
    await conn.execute(hotlist_changes.insert().values(**row))
    return seq


async def current_version(conn: AsyncConnection) -> int:
    """The last committed change's number: every change up to it is committed."""
    value = (await conn.execute(select(counters.c.value).where(counters.c.name == COUNTER))).scalar()
    return int(value or 0)


async def entries_upto(
    conn: AsyncConnection, personal_data: PersonalDataKeys, version: int, keep: Callable[[StatusChange], bool]
) -> list[HotlistEntry]:
    """The cards whose latest change up to `version` passes `keep`, subject in clear (to build a
    bundle: only those are decrypted)."""
    query = select(hotlist_changes).where(hotlist_changes.c.seq <= version)
    latest: dict[str, tuple[str, str, StatusChange]] = {}
    for row in await conn.execute(query):
        change = StatusChange(int(row.seq), str(row.status), aware(row.changed_at))
        known = latest.get(row.card_key)
        if known is None or (change.changed_at, change.seq) > (known[2].changed_at, known[2].seq):
            latest[row.card_key] = (row.region, row.subject_enc, change)
    return [
        HotlistEntry(region, personal_data.decrypt(secret, _context(key)), change)
        for key, (region, secret, change) in latest.items()
        if keep(change)
    ]


async def histories(conn: AsyncConnection, card_keys: Iterable[str]) -> dict[str, list[StatusChange]]:
    """The changes of several cards, by card key (to judge a batch of taps)."""
    wanted = sorted(set(card_keys))
    found: dict[str, list[StatusChange]] = defaultdict(list)
    if not wanted:
        return found
    query = select(
        hotlist_changes.c.card_key,
        hotlist_changes.c.seq,
        hotlist_changes.c.status,
        hotlist_changes.c.changed_at,
    ).where(hotlist_changes.c.card_key.in_(wanted))
    for row in await conn.execute(query):
        found[row.card_key].append(StatusChange(int(row.seq), str(row.status), aware(row.changed_at)))
    return found


def _context(card_key: str) -> str:
    return f"identity:offline-hotlist:{card_key}"
