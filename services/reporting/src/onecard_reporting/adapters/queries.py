"""Reading queries: the read models into a `Snapshot` (aggregated in SQL, per item and
jurisdiction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from onecard_contracts.regions import province_of
from sqlalchemy import Integer, String, and_, case, cast, distinct, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.facts import (
    ACTIVE_WINDOW,
    ROLLUP,
    ItemVersion,
    Key,
    MerchantFacts,
    PaymentFirsts,
    Snapshot,
    VenueFacts,
)
from ..domain.levels import MUNICIPAL, aware
from . import tables as t


async def load_snapshot(conn: AsyncConnection, as_of: datetime, now: datetime) -> Snapshot:
    snap = Snapshot(as_of=as_of, now=now)
    snap.items = await _items(conn)
    snap.venues = await _venues(conn, now - ACTIVE_WINDOW)
    snap.merchants = await _merchants(conn)
    snap.payments = await _payments(conn)
    snap.beneficiaries = await _beneficiaries(conn)
    snap.uses = await _uses(conn)
    return snap.index()


async def _items(conn: AsyncConnection) -> dict[str, list[ItemVersion]]:
    out: dict[str, list[ItemVersion]] = {}
    for row in await conn.execute(select(t.item_versions)):
        out.setdefault(row.item_id, []).append(
            (aware(row.valid_from), row.version, bool(row.retired), row.item)
        )
    return out


def _flag(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _accepts(card_forms: Any, form: str) -> Any:
    """Whether a terminal's card forms (a JSON list of "physical" / "electronic") hold `form`."""
    return cast(card_forms, String).contains(f'"{form}"', autoescape=True)


async def _venues(conn: AsyncConnection, since: datetime) -> dict[Key, VenueFacts]:
    tm = t.terminals.c
    per_venue = (
        select(
            tm.venue_id,
            func.max(case((and_(tm.active, _accepts(tm.card_forms, "physical")), 1), else_=0)).label("p"),
            func.max(case((and_(tm.active, _accepts(tm.card_forms, "electronic")), 1), else_=0)).label("e"),
        )
        .group_by(tm.venue_id)
        .subquery()
    )
    v, a = t.venues.c, t.venue_activity.c
    query = (
        select(
            v.item_id,
            v.jurisdiction,
            func.count().label("venues"),
            _flag((per_venue.c.p + per_venue.c.e) > 0),
            _flag(per_venue.c.p > 0),
            _flag(per_venue.c.e > 0),
            _flag(a.last_verified_at >= since),
        )
        .select_from(
            t.venues.outerjoin(per_venue, per_venue.c.venue_id == v.venue_id).outerjoin(
                t.venue_activity, a.venue_id == v.venue_id
            )
        )
        .group_by(v.item_id, v.jurisdiction)
    )
    return {(r[0], r[1]): VenueFacts(*(int(x or 0) for x in r[2:])) for r in await conn.execute(query)}


async def _merchants(conn: AsyncConnection) -> dict[Key, MerchantFacts]:
    m = t.merchants.c
    query = select(m.item_id, m.jurisdiction, func.count(), _flag(m.agreement)).group_by(
        m.item_id, m.jurisdiction
    )
    return {(r[0], r[1]): MerchantFacts(int(r[2]), int(r[3] or 0)) for r in await conn.execute(query)}


async def _payments(conn: AsyncConnection) -> dict[Key, PaymentFirsts]:
    out: dict[Key, PaymentFirsts] = {}
    for r in await conn.execute(select(t.payment_firsts)):
        times = (r.card_account_at, r.ecard_at, r.agreement_ecard_at)
        out[(r.item_id, r.jurisdiction)] = PaymentFirsts(*(aware(x) if x else None for x in times))
    return out


async def _beneficiaries(conn: AsyncConnection) -> dict[tuple[str, str, int], tuple[int, int]]:
    p = t.payees.c
    paid = p.outcome == "paid"
    card = func.count(distinct(case((and_(paid, p.channel == "card_account"), p.beneficiary_key))))
    anyone = func.count(distinct(case((paid, p.beneficiary_key))))
    exact = select(p.item_id, p.jurisdiction, p.year, card, anyone).group_by(
        p.item_id, p.jurisdiction, p.year
    )
    rollup = (
        select(p.item_id, literal(ROLLUP), p.year, card, anyone)
        .where(p.jurisdiction.startswith(province_of(MUNICIPAL)))
        .group_by(p.item_id, p.year)
    )
    out: dict[tuple[str, str, int], tuple[int, int]] = {}
    for query in (exact, rollup):
        for r in await conn.execute(query):
            out[(r[0], r[1], int(r[2]))] = (int(r[3]), int(r[4]))
    return out


async def _uses(conn: AsyncConnection) -> dict[tuple[str, str, str, str], int]:
    u = t.cross_region_uses.c
    query = select(u.partner, u.direction, u.item_id, u.jurisdiction, func.count().cast(Integer)).group_by(
        u.partner, u.direction, u.item_id, u.jurisdiction
    )
    return {(r[0], r[1], r[2], r[3]): int(r[4]) for r in await conn.execute(query)}
