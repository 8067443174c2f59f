"""Recording what the partner regions told us, and how far the partner streams got.

Accepted partner events are recorded in reporting's store (the depth projection counts the
outbound use; identity follows `onecard.reporting.partner_hotlist_changed`) in the same unit of
work as the stream's offsets, so a message is recorded once however often it is delivered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from onecard_events.checkpoint import Checkpoint, save_checkpoints
from onecard_events.model import NewEvent
from onecard_events.store import EventStore

from ..adapters.partners.messages import Accepted


def partner_stream(region: str, accepted: Accepted) -> str:
    return f"partner-{region}-{accepted.event_id}"


async def record_partner_reports(
    store: EventStore,
    reader: str,
    accepted: Sequence[tuple[str, Accepted]],
    positions: Mapping[str, Checkpoint],
) -> int:
    """Record the accepted (region, event) reports and the reader's new offsets; returns how many
    reports were new to this batch (a repeat within one batch is recorded once)."""
    async with store.unit_of_work() as uow:
        seen: set[str] = set()
        for region, ok in accepted:
            if ok.event_id in seen:
                continue
            seen.add(ok.event_id)
            uow.record(partner_stream(region, ok), [NewEvent(ok.event, ok.event_id)], expected_version=0)
        await save_checkpoints(uow.connection, reader, dict(positions))
        await uow.save()
    return len(seen)


async def remember_positions(store: EventStore, reader: str, positions: Mapping[str, Checkpoint]) -> None:
    """Store how far a reader got (after what it read was handled)."""
    async with store.unit_of_work() as uow:
        await save_checkpoints(uow.connection, reader, dict(positions))
        await uow.save()
