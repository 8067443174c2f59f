"""Partner regions: their public keys for e-card codes, and their hotlists of lost/cancelled cards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from onecard_events.aggregate import Refused
from onecard_service.problems import invalid, not_found
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters import queries
from ..adapters.context import Identity
from ..adapters.keys import BadPublicKey, parse_public_key
from ..adapters.offline.hotlist import note_change
from ..domain.cards import CARD_NO, CARD_NO_RULE, card_subject

HotlistStatus = Literal["lost", "cancelled", "active"]


@dataclass(frozen=True)
class HotlistChange:
    """One change of a partner's hotlist, as its inbound stream or the admin endpoint gives it.

    The card is named by its number or, when the partner streams only that, by its public subject
    (the `sub` of its e-card codes); `active` takes a card off the hotlist.
    """

    region: str
    status: HotlistStatus
    changed_at: datetime
    card_no: str | None = None
    card_subject: str | None = None


def _check_partner(ctx: Identity, region: str) -> None:
    if region not in ctx.partners:
        raise not_found("partner region", region)


async def put_partner_key(ctx: Identity, region: str, kid: str, public_key: str) -> None:
    _check_partner(ctx, region)
    try:
        key = parse_public_key(public_key)
    except BadPublicKey as exc:
        raise invalid("public_key", str(exc)) from None
    async with ctx.store.unit_of_work() as uow:
        await ctx.keys.put_partner_key(uow.connection, region, kid, key)
        await uow.save()
    ctx.keys.forget_public_key(region, kid)


def _subject_of(change: HotlistChange) -> str:
    if change.card_no is not None:
        if not CARD_NO.match(change.card_no):
            raise Refused(f"card_no: {CARD_NO_RULE}", status=422, field="card_no")
        return card_subject(change.region, change.card_no)
    if change.card_subject:
        return change.card_subject
    raise Refused(
        "name the card by card_no or card_subject",
        status=422,
        errors=[("card_no", "card_no or card_subject is required")],
    )


async def apply_partner_hotlist(ctx: Identity, change: HotlistChange, conn: AsyncConnection) -> None:
    """Apply one hotlist change in the caller's transaction (the inbound stream consumer stores its
    offset with it; the admin endpoint's unit of work in `change_partner_hotlist`)."""
    _check_partner(ctx, change.region)
    subject = _subject_of(change)
    key = ctx.personal_data.keyed_hash(subject, "card")
    await queries.set_hotlist(conn, change.region, key, change.status, change.changed_at)
    # Its history, for offline validators' bundles and taps (docs/offline-validators.md).
    await note_change(conn, ctx.personal_data, change.region, subject, change.status, change.changed_at)


async def change_partner_hotlist(ctx: Identity, change: HotlistChange) -> None:
    async with ctx.store.unit_of_work() as uow:
        await apply_partner_hotlist(ctx, change, uow.connection)
        await uow.save()
