"""Our region's signing keys: the current one (made on first use), rotation, and publishing each
key as an event before the first code signed with it leaves."""

from __future__ import annotations

import uuid

from onecard_events.model import NewEvent
from onecard_events.store import NO_STREAM, ConcurrencyError
from onecard_events.times import rfc3339

from ..adapters.context import Identity
from ..adapters.keys import SigningKey, raw_public
from ..domain.events import SigningKeyPublished


async def signing_key(ctx: Identity) -> SigningKey:
    """The key to sign codes with, published (once per kid and process) before it is used."""
    signing = ctx.keys.cached_signing_key()
    if signing is None:
        async with ctx.store.unit_of_work() as uow:
            signing = await ctx.keys.current_signing_key(uow.connection)
            await uow.save()
        ctx.keys.remember_signing_key(signing)
    await _publish(ctx, signing)
    return signing


async def rotate_signing_key(ctx: Identity) -> str:
    """A new signing key; earlier ones keep verifying the codes already shown."""
    async with ctx.store.unit_of_work() as uow:
        signing = await ctx.keys.rotate(uow.connection)
        await uow.save()
    ctx.keys.remember_signing_key(signing)
    return signing.kid


async def _publish(ctx: Identity, signing: SigningKey) -> None:
    """Record the public key as an event (stream `signing-key-<kid>`), so services that accept
    codes (payments) learn it from identity's stream. The deterministic event id makes a repeat
    (another replica, a restart) a no-op."""
    if signing.kid in ctx.keys.published_kids:
        return
    event = SigningKeyPublished(
        region=ctx.province,  # the `iss` of the codes it signs
        kid=signing.kid,
        public_key=raw_public(signing.key.public_key()),
        published_at=rfc3339(ctx.now()),
    )
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"onecard:identity:signing-key:{ctx.region}:{signing.kid}"))
    try:
        async with ctx.store.unit_of_work() as uow:
            uow.record(f"signing-key-{signing.kid}", [NewEvent(event, event_id=event_id)], NO_STREAM)
            await uow.save()
    except ConcurrencyError:
        pass  # another replica recorded it at the same moment
    ctx.keys.published_kids.add(signing.kid)
