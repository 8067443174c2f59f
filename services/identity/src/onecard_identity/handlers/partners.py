"""Partner regions: their public keys for e-card codes, and their hotlists of lost/cancelled cards."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from onecard_events.model import RecordedEvent
from onecard_service.problems import Problem, invalid, not_found
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters import queries
from ..adapters.keys import BadPublicKey, parse_public_key
from ..context import Identity
from ..domain.cards import CARD_NO, card_subject

log = logging.getLogger(__name__)

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
    await ctx.keys.put_partner_key(region, kid, key)


def _subject_of(change: HotlistChange) -> str:
    if change.card_no is not None:
        if not CARD_NO.match(change.card_no):
            raise invalid("card_no", "must be 9 characters, digits or upper-case letters")
        return card_subject(change.region, change.card_no)
    if change.card_subject:
        return change.card_subject
    raise Problem(
        422,
        "name the card by card_no or card_subject",
        title="Validation failed",
        type_="urn:onecard:problem:validation",
        errors=[{"field": "card_no", "message": "card_no or card_subject is required"}],
    )


async def apply_partner_hotlist(
    ctx: Identity, change: HotlistChange, conn: AsyncConnection | None = None
) -> None:
    """Apply one hotlist change; in the caller's transaction when `conn` is given (the inbound
    stream consumer stores its offset with it), else in a transaction of its own."""
    _check_partner(ctx, change.region)
    key = ctx.personal_data.keyed_hash(_subject_of(change), "card")
    if conn is not None:
        await queries.set_hotlist(conn, change.region, key, change.status, change.changed_at)
        return
    async with ctx.db.engine.begin() as own:
        await queries.set_hotlist(own, change.region, key, change.status, change.changed_at)


PARTNER_HOTLIST_CHANGED = "onecard.reporting.partner_hotlist_changed"


class PartnerHotlistProjection:
    """Follows the partner hotlists the reporting service accepted from the partners' inbound
    streams (`onecard.reporting.partner_hotlist_changed` {region, card_key, status}) into
    identity's hotlist, through `apply_partner_hotlist`, in the runner's transaction.

    The stream's `card_key` is the partner's public card reference, the card subject (the `sub`
    of its e-card codes; docs/identity-qr.md): a partner cannot compute our keyed hash. Identity
    keys its hotlist by `keyed_hash(subject, "card")`, as for the admin endpoint's `card_subject`.
    The change takes the time reporting recorded it (its event carries no `changed_at`), so a
    later admin entry with an earlier `changed_at` does not undo it.
    """

    name = "identity_partner_hotlist"

    def __init__(self, ctx: Identity) -> None:
        self.ctx = ctx

    async def apply(self, conn: AsyncConnection, event: RecordedEvent) -> None:
        if event.event_type != PARTNER_HOTLIST_CHANGED:
            return
        data = event.data
        change = HotlistChange(
            region=str(data["region"]),
            status=data["status"],
            changed_at=event.recorded_at,
            card_subject=str(data["card_key"]),
        )
        try:
            await apply_partner_hotlist(self.ctx, change, conn)
        except Problem as exc:  # not a partner of ours (any more): nothing to apply, move on
            log.warning("partner hotlist change for %s skipped: %s", change.region, exc.detail)

    async def reset(self, conn: AsyncConnection) -> None:
        """Nothing to drop: the hotlist also holds entries made through the admin endpoint, and
        replaying the changes is harmless (an upsert that keeps the newest `changed_at`)."""
