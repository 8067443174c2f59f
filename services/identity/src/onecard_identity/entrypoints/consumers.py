"""Consumers of other services' events."""

from __future__ import annotations

import logging
from datetime import timedelta

from onecard_contracts.ecard_code import CLOCK_SKEW_SECONDS, QR_TTL_SECONDS
from onecard_events.aggregate import Refused
from onecard_events.model import RecordedEvent
from onecard_service.problems import Problem
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters.context import Identity
from ..adapters.queries import consume_nonces
from ..handlers.partners import HotlistChange, apply_partner_hotlist

log = logging.getLogger(__name__)

PARTNER_HOTLIST_CHANGED = "onecard.reporting.partner_hotlist_changed"
PAYMENT_INITIATED = "onecard.payments.payment_initiated"
# A code payments checked as current expires at most this long after (exp <= iat + 60 <= now + 65).
_CODE_LIFETIME = timedelta(seconds=QR_TTL_SECONDS + CLOCK_SKEW_SECONDS)


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
        except (Problem, Refused) as exc:  # not a partner of ours (any more): nothing to apply, move on
            log.warning("partner hotlist change for %s skipped: %s", change.region, exc.detail)

    async def reset(self, conn: AsyncConnection) -> None:
        """Nothing to drop: the hotlist also holds entries made through the admin endpoint, and
        replaying the changes is harmless (an upsert that keeps the newest `changed_at`)."""


class PaymentCodeUses:
    """The e-card codes payments used (`payment_initiated.code_use`, the keyed hash of the code's
    `iss:jti`) into identity's nonce table, in the runner's transaction: a code that paid a bill is
    then refused `qr_reused` at a venue (docs/adr/0012). The row expires when the code surely has;
    the nonce purge forgets it with identity's own."""

    name = "identity_payment_code_uses"

    async def apply(self, conn: AsyncConnection, event: RecordedEvent) -> None:
        used = event.data.get("code_use") if event.event_type == PAYMENT_INITIATED else None
        if used:
            expires_at = event.recorded_at + _CODE_LIFETIME
            await consume_nonces(conn, [{"nonce": str(used), "expires_at": expires_at}])

    async def reset(self, conn: AsyncConnection) -> None:
        """Nothing to drop: the table holds identity's own uses too, and a replay inserts nothing new."""
