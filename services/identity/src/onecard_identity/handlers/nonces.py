"""Forgetting the nonces of e-card codes long expired, and verifications' Idempotency-Keys a day old."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from onecard_events.waiting import wait_or_stop

from ..adapters.context import Identity
from ..adapters.queries import purge_nonces, purge_request_keys
from .verification import KEY_SCOPE

# Nonces are kept well past their code's expiry: an expired code is refused as expired anyway.
NONCE_RETENTION = timedelta(minutes=10)
# A venue retries a lost answer within seconds or minutes; a day covers a terminal that was offline.
KEY_RETENTION = timedelta(hours=24)


async def purge_expired_nonces(ctx: Identity) -> int:
    async with ctx.store.unit_of_work() as uow:
        purged = await purge_nonces(uow.connection, ctx.now() - NONCE_RETENTION)
        purged += await purge_request_keys(uow.connection, KEY_SCOPE, ctx.now() - KEY_RETENTION)
        await uow.save()
    return purged


async def keep_purging_nonces(ctx: Identity, stop: asyncio.Event, every: float = 60.0) -> None:
    """The `nonce-purge` worker."""
    while not stop.is_set():
        await purge_expired_nonces(ctx)
        await wait_or_stop(stop, every)
