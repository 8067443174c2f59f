"""Reads the read models into a `Snapshot`: the aggregated facts every report is computed from.

Counting happens here, in SQL, per item and jurisdiction; the reports (report.py) then only add
up, pick catalogue versions and apply the level rules, so a request never scans the fact tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, distinct, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import tables as t
from .domain.levels import CHONGQING_PREFIX, aware

ACTIVE_WINDOW = timedelta(days=30)
Key = tuple[str, str]


@dataclass(frozen=True)
class VenueFacts:
    venues: int = 0
    accepting: int = 0
    physical: int = 0
    electronic: int = 0
    active: int = 0

    def __add__(self, other: VenueFacts) -> VenueFacts:
        return VenueFacts(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, int, int, int, int]:
        return (self.venues, self.accepting, self.physical, self.electronic, self.active)


@dataclass(frozen=True)
class MerchantFacts:
    merchants: int = 0
    agreement: int = 0

    def __add__(self, other: MerchantFacts) -> MerchantFacts:
        return MerchantFacts(self.merchants + other.merchants, self.agreement + other.agreement)


@dataclass(frozen=True)
class PaymentFirsts:
    card_account_at: datetime | None = None
    ecard_at: datetime | None = None
    agreement_ecard_at: datetime | None = None

    def __add__(self, other: PaymentFirsts) -> PaymentFirsts:
        return PaymentFirsts(
            _earliest(self.card_account_at, other.card_account_at),
            _earliest(self.ecard_at, other.ecard_at),
            _earliest(self.agreement_ecard_at, other.agreement_ecard_at),
        )


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min((x for x in (a, b) if x is not None), default=None)


ItemVersion = tuple[datetime, int, bool, dict[str, Any]]


@dataclass
class Snapshot:
    as_of: datetime
    now: datetime
    items: dict[str, list[ItemVersion]] = field(default_factory=dict)
    venues: dict[Key, VenueFacts] = field(default_factory=dict)
    merchants: dict[Key, MerchantFacts] = field(default_factory=dict)
    payments: dict[Key, PaymentFirsts] = field(default_factory=dict)
    # (item, jurisdiction, year) -> (card-account beneficiaries, paid beneficiaries); the
    # jurisdiction "500000*" holds the municipal roll-up (distinct across districts).
    beneficiaries: dict[tuple[str, str, int], tuple[int, int]] = field(default_factory=dict)
    # (partner, direction, item, jurisdiction) -> uses
    uses: dict[tuple[str, str, str, str], int] = field(default_factory=dict)

    # per item: the jurisdictions with figures (filled by `index`)
    by_item: dict[str, set[str]] = field(default_factory=dict)
    # memo of computed reports (a snapshot never changes once loaded)
    memo: dict[Any, Any] = field(default_factory=dict)

    def index(self) -> Snapshot:
        for keys in (self.venues, self.merchants, self.payments):
            for i, j in keys:
                self.by_item.setdefault(i, set()).add(j)
        for i, j, _ in self.beneficiaries:
            if not j.endswith("*"):
                self.by_item.setdefault(i, set()).add(j)
        return self

    def jurisdictions_of(self, item_id: str) -> set[str]:
        return self.by_item.get(item_id, set())


ROLLUP = "500000*"


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


async def _venues(conn: AsyncConnection, since: datetime) -> dict[Key, VenueFacts]:
    tm = t.terminals.c
    per_venue = (
        select(
            tm.venue_id,
            func.max(case((and_(tm.active, tm.physical), 1), else_=0)).label("p"),
            func.max(case((and_(tm.active, tm.electronic), 1), else_=0)).label("e"),
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
        .where(p.jurisdiction.startswith(CHONGQING_PREFIX))
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
