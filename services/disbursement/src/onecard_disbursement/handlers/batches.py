"""Batches: creating one, adding payees in bulk, submitting it to the bank.

The batch is state-stored (ADR 0010): each handler changes its rows set-based, on the unit of
work's connection, and records the events it publishes for other services in the same
transaction. The batch row's lock, not an expected stream version, orders the changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from onecard_events.model import NewEvent
from onecard_events.sql import chunks
from onecard_events.store import NO_STREAM
from onecard_events.times import utcnow
from onecard_events.unit_of_work import UnitOfWork
from onecard_service.auth import Principal
from onecard_service.idempotency import request_hash_in_turns
from onecard_service.privacy import mask_card_no, mask_name, mask_ssn
from onecard_service.uploads import Turns, collector_paused
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters import batch_rows
from ..adapters.rows import (
    batch_exists,
    batch_row,
    batch_view,
    figures_values,
    insert_batch,
    program_row,
    to_batch,
)
from ..domain.batch import OPEN, SUBMITTED, Batch, Figures
from ..domain.errors import conflict, invalid
from ..domain.events import AcceptedPayee, BatchCreated, BatchSubmitted, PayeesAccepted, batch_stream
from ..domain.payees import MAX_AMOUNT_FEN, Candidate, Rejection, Room, Sealed, admit, screen
from .context import Context, authorise, once

# Kafka refuses messages over 1 MB by default; 2,000 payee rows make an event of about 300 kB.
PAYEES_PER_EVENT = 2000
# Payee rows checked and sealed between two looks at the clock (uploads.Turns).
PREPARED_AT_ONCE = 20


@dataclass(frozen=True)
class CreateBatch:
    batch_id: str
    program_id: str
    period: str
    control_count: int
    control_total_fen: int


async def create_batch(
    ctx: Context, caller: Principal, cmd: CreateBatch, key: str | None
) -> tuple[int, dict[str, Any]]:
    if cmd.control_total_fen > cmd.control_count * MAX_AMOUNT_FEN:
        raise invalid("control_total_fen", "exceeds control_count times the largest amount")
    async with ctx.store.unit_of_work() as uow:
        conn = uow.connection

        async def effect() -> tuple[int, dict[str, Any]]:
            program = await program_row(conn, cmd.program_id)
            if program is None:
                raise invalid("program_id", "no such program")
            authorise(caller, program.department, program.jurisdiction)
            if await batch_exists(conn, cmd.batch_id):
                raise conflict(f"batch {cmd.batch_id!r} exists already")
            row = {
                **asdict(cmd),
                "item_id": program.item_id,
                "jurisdiction": program.jurisdiction,
                "department": program.department,
                "status": OPEN,
                **figures_values(Figures()),
                "created_at": utcnow(),
            }
            await insert_batch(conn, row)
            created = BatchCreated(**asdict(cmd), item_id=program.item_id, jurisdiction=program.jurisdiction)
            uow.record(batch_stream(cmd.batch_id), [created], NO_STREAM)
            return 201, batch_view(await batch_row(conn, cmd.batch_id))

        answer = await once(conn, f"batches|{caller.client_id}", key, asdict(cmd), effect)
        await uow.save()
    return answer


def seal(ctx: Context, c: Candidate) -> Sealed:
    return Sealed(
        mask_ssn(c.ssn),
        mask_card_no(c.card_no) if c.card_no else "",
        mask_name(c.name),
        ctx.keys.encrypt(f"{c.card_no}\x1f{c.name}", context=c.reference_id),
    )


async def add_payees(
    ctx: Context, caller: Principal, batch_id: str, rows: Sequence[Any], key: str | None
) -> dict[str, Any]:
    # Left once the call's candidates and sealed rows are freed, with _add_payees's frame.
    with collector_paused():
        return await _add_payees(ctx, caller, batch_id, rows, key)


async def _add_payees(
    ctx: Context, caller: Principal, batch_id: str, rows: Sequence[Any], key: str | None
) -> dict[str, Any]:
    # CPU work (checks, hashing, sealing) happens before the transaction, so the batch lock is
    # short, and in parts that give the event loop back: 50,000 rows take seconds, in which the
    # process keeps answering other requests. (Not a thread: a CPU-bound thread makes the loop
    # wait for the GIL at every await, which is worse for the other requests' latency.)
    turns = Turns()
    candidates, invalid_rows, sealed = await _prepare(ctx, rows, turns)
    digest = await request_hash_in_turns({"payees": rows}, turns) if key else None
    async with ctx.store.unit_of_work() as uow:
        conn = uow.connection
        row = await batch_row(conn, batch_id, lock=True)
        authorise(caller, row.department, row.jurisdiction)

        async def effect() -> tuple[int, dict[str, Any]]:
            if row.status != OPEN:
                raise conflict(f"batch {batch_id!r} is {row.status}; only an open batch takes payees")
            accepted, refused = await _admit(conn, row, candidates)
            await _record(uow, row, accepted, sealed, turns)
            rejected = [r._asdict() for r in (*invalid_rows, *refused)]
            return 200, {"accepted": len(accepted), "rejected": rejected}

        scope = f"payees|{batch_id}|{caller.client_id}"
        _, answer = await once(conn, scope, key, {"payees": rows}, effect, digest=digest)
        await uow.save()
    answer = dict(answer)
    ctx.metrics.accepted.inc(answer["accepted"])
    for r in answer["rejected"]:
        ctx.metrics.rejected.labels(r["reason"]).inc()
    return answer


async def _prepare(
    ctx: Context, rows: Sequence[Any], turns: Turns
) -> tuple[list[Candidate], list[Rejection], dict[str, Sealed]]:
    """The rows screened and the candidates sealed, PREPARED_AT_ONCE rows at a time, in turns."""
    candidates: list[Candidate] = []
    invalid_rows: list[Rejection] = []
    sealed: dict[str, Sealed] = {}
    references: set[str] = set()
    people: set[str] = set()
    for part in chunks(rows, PREPARED_AT_ONCE):
        screened, refused = screen(part, ctx.beneficiary_key, references, people)
        candidates += screened
        invalid_rows += refused
        sealed.update((c.reference_id, seal(ctx, c)) for c in screened)
        await turns.take()
    return candidates, invalid_rows, sealed


async def _admit(
    conn: AsyncConnection, row: Row[Any], candidates: Sequence[Candidate]
) -> tuple[list[Candidate], list[Rejection]]:
    used, claimed = await batch_rows.used_and_claimed(conn, row, candidates)
    f = to_batch(row).figures
    room = Room(row.control_count - f.accepted, row.control_total_fen - f.accepted_total_fen)
    return admit(candidates, used, claimed, room)


async def _record(
    uow: UnitOfWork, row: Row[Any], accepted: Sequence[Candidate], sealed: dict[str, Sealed], turns: Turns
) -> None:
    """Payee rows, claims, counters and the payees_accepted events, all set-based."""
    if not accepted:
        return
    await batch_rows.insert_accepted(uow.connection, row, accepted, sealed)
    for part in chunks(accepted, PAYEES_PER_EVENT):
        # An event appended at a time (each after the stream's last version, read in this
        # transaction): the store serialises one event's payees per statement, not the call's.
        uow.record(batch_stream(row.batch_id), [_accepted_event(row.batch_id, part)], None)
        await uow.flush()
        await turns.take()


def _accepted_event(batch_id: str, part: Sequence[Candidate]) -> PayeesAccepted:
    return PayeesAccepted(
        batch_id=batch_id,
        payees=[
            AcceptedPayee(
                reference_id=c.reference_id,
                beneficiary_key=c.beneficiary_key,
                channel=c.channel,
                amount_fen=c.amount_fen,
            )
            for c in part
        ],
    )


async def submit_batch(ctx: Context, caller: Principal, batch_id: str, key: str | None) -> dict[str, Any]:
    async with ctx.store.unit_of_work() as uow:
        conn = uow.connection
        row = await batch_row(conn, batch_id, lock=True)
        authorise(caller, row.department, row.jurisdiction)

        async def effect() -> tuple[int, dict[str, Any]]:
            batch: Batch = to_batch(row)
            refusal = batch.submission_refusal()
            if refusal is not None:
                raise conflict(refusal)
            await batch_rows.write_batch(conn, batch_id, {"status": SUBMITTED, "submitted_at": utcnow()})
            uow.record(batch_stream(batch_id), [NewEvent(BatchSubmitted(batch_id=batch_id))], None)
            return 202, batch_view(await batch_row(conn, batch_id))

        _, answer = await once(
            conn, f"submit|{batch_id}|{caller.client_id}", key, {"batch_id": batch_id}, effect
        )
        await uow.save()
    ctx.dispatch_nudge.set()
    return dict(answer)
