"""Reads and writes of the identity tables and the catalogue view, on the caller's connection
(the `stored_*` reads open a read-only connection of their own)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from onecard_contracts.catalog_view import catalog_terminals, catalog_venues
from onecard_events.database import Database
from onecard_events.sql import any_of, insert_for
from onecard_events.tables import idempotency_keys
from onecard_events.times import utcnow
from sqlalchemy import and_, delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.verification import CardRecord, VenueTerminal
from .tables import cards, partner_hotlist, qr_nonces


async def venue_terminal(conn: AsyncConnection, venue_id: str, terminal_id: str) -> VenueTerminal | None:
    """The venue and, when active, the terminal's card forms; one round trip on the hot path."""
    query = (
        select(
            catalog_venues.c.jurisdiction,
            catalog_venues.c.item_id,
            catalog_terminals.c.card_forms,
            catalog_terminals.c.active,
        )
        .select_from(
            catalog_venues.outerjoin(
                catalog_terminals,
                and_(
                    catalog_terminals.c.venue_id == catalog_venues.c.venue_id,
                    catalog_terminals.c.terminal_id == terminal_id,
                ),
            )
        )
        .where(catalog_venues.c.venue_id == venue_id)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    forms = tuple(row.card_forms) if row.active and row.card_forms else ()
    return VenueTerminal(venue_id, terminal_id, row.item_id, row.jurisdiction, forms)


async def card_record(conn: AsyncConnection, card_key: str) -> CardRecord | None:
    return (await card_records(conn, [card_key])).get(card_key)


async def card_records(conn: AsyncConnection, card_keys: Iterable[str]) -> dict[str, CardRecord]:
    """Several cards in one round trip (a verification batch's cards)."""
    query = select(
        cards.c.card_key,
        cards.c.issuer_region,
        cards.c.status,
        cards.c.ecard,
        cards.c.ssn_hash,
        cards.c.holder_key,
    ).where(any_of(conn, cards.c.card_key, list(card_keys)))  # one statement whatever the batch size
    return {
        row.card_key: CardRecord(
            row.card_key, row.issuer_region, row.status, bool(row.ecard), row.ssn_hash, row.holder_key
        )
        for row in await conn.execute(query)
    }


async def card_row(conn: AsyncConnection, card_key: str) -> Any:
    return (await conn.execute(select(cards).where(cards.c.card_key == card_key))).first()


async def stored_card_row(db: Database, card_key: str) -> Any:
    async with db.reads.connect() as conn:
        return await card_row(conn, card_key)


async def stored_card_record(db: Database, card_key: str) -> CardRecord | None:
    async with db.reads.connect() as conn:
        return await card_record(conn, card_key)


async def insert_card(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(cards.insert().values(**row))


async def update_card(conn: AsyncConnection, card_key: str, **values: Any) -> None:
    await conn.execute(update(cards).where(cards.c.card_key == card_key).values(**values))


async def hotlist_statuses(
    conn: AsyncConnection, entries: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The hotlist status of several (region, card key) pairs in one round trip."""
    wanted = set(entries)
    query = select(partner_hotlist.c.region, partner_hotlist.c.card_key, partner_hotlist.c.status).where(
        any_of(conn, partner_hotlist.c.card_key, sorted({key for _, key in wanted}))
    )
    found = {(row.region, row.card_key): str(row.status) for row in await conn.execute(query)}
    return {pair: status for pair, status in found.items() if pair in wanted}


async def set_hotlist(
    conn: AsyncConnection, region: str, card_key: str, status: str, changed_at: datetime
) -> None:
    """Upsert a hotlist entry; an older change arriving late does not undo a newer one."""
    row = {"region": region, "card_key": card_key, "status": status, "changed_at": changed_at}
    statement = insert_for(conn, partner_hotlist).values(**row)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["region", "card_key"],
            set_={"status": status, "changed_at": changed_at},
            where=partner_hotlist.c.changed_at <= changed_at,
        )
    )


async def consume_nonces(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert the nonces; returns those that were new. A nonce another transaction holds makes
    PostgreSQL wait for it, then skip: exactly one transaction ever gets a given nonce."""
    if not rows:
        return set()
    statement = (
        insert_for(conn, qr_nonces).values(list(rows)).on_conflict_do_nothing().returning(qr_nonces.c.nonce)
    )
    return set((await conn.execute(statement)).scalars())


async def claim_request_keys(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    """Claim verifications' Idempotency-Keys; returns the (scope, key) pairs that were new. As with
    nonces, a key another transaction is claiming makes PostgreSQL wait for it, then skip."""
    created_at = utcnow()
    statement = (
        insert_for(conn, idempotency_keys)
        .values([{**row, "created_at": created_at} for row in rows])
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.scope, idempotency_keys.c.key)
    )
    return {(row.scope, row.key) for row in await conn.execute(statement)}


async def stored_request_keys(
    conn: AsyncConnection, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Any]:
    """The rows of keys claimed before, by (scope, key)."""
    if not pairs:
        return {}
    query = select(idempotency_keys).where(
        tuple_(idempotency_keys.c.scope, idempotency_keys.c.key).in_(list(pairs))
    )
    return {(row.scope, row.key): row for row in await conn.execute(query)}


async def purge_request_keys(conn: AsyncConnection, scope_prefix: str, before: datetime) -> int:
    result = await conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.scope.startswith(scope_prefix), idempotency_keys.c.created_at < before
        )
    )
    return int(result.rowcount or 0)


async def purge_nonces(conn: AsyncConnection, before: datetime) -> int:
    result = await conn.execute(delete(qr_nonces).where(qr_nonces.c.expires_at < before))
    return int(result.rowcount or 0)
