"""Forgetting e-card code uses long expired: payments' own, and those projected from identity's
verifications (docs/adr/0012), which would otherwise grow `ecard_nonces` with every venue scan."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from onecard_events.times import rfc3339, utcnow
from onecard_events.waiting import wait_or_stop

from ..adapters import payment_rows
from .context import PaymentsContext

log = logging.getLogger(__name__)

# Kept well past any code's expiry (60 s): an expired code is refused as expired anyway.
NONCE_RETENTION = timedelta(minutes=10)


async def purge_expired_nonces(ctx: PaymentsContext, now: datetime | None = None) -> int:
    async with ctx.store.unit_of_work() as uow:
        before = rfc3339((now or utcnow()) - NONCE_RETENTION)
        purged = await payment_rows.purge_nonces(uow.connection, before)
        await uow.save()
    return purged


async def keep_purging_nonces(ctx: PaymentsContext, stop: asyncio.Event, every: float = 60.0) -> None:
    """The `nonce-purge` worker; on every replica (a delete that another replica repeats is harmless)."""
    while not stop.is_set():
        try:
            await purge_expired_nonces(ctx)
        except Exception:
            log.exception("purging e-card code uses failed; retrying")
        await wait_or_stop(stop, every)
