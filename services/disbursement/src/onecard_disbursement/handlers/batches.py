"""Batches: creating one, adding payees in bulk, submitting it to the bank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from onecard_events.model import NewEvent, utcnow
from onecard_events.store import NO_STREAM, StreamAppend
from onecard_service.auth import Principal
from onecard_service.privacy import mask_card_no, mask_name, mask_ssn
from onecard_service.problems import conflict, invalid
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.batch import OPEN, SUBMITTED, Batch, Figures
from ..domain.events import AcceptedPayee, BatchCreated, BatchSubmitted, PayeesAccepted, batch_stream
from ..domain.payees import MAX_AMOUNT_FEN, Candidate, Rejection, Room, admit, screen
from ..tables import batches, claims, payees, programs
from .bulk import existing, insert_columns
from .context import Context, authorise, batch_row, batch_view, chunks, figures_values, once, to_batch

# Kafka refuses messages over 1 MB by default; 2,000 payee rows make an event of about 300 kB.
PAYEES_PER_EVENT = 2000


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
    async with ctx.db.engine.begin() as conn:

        async def effect() -> tuple[int, dict[str, Any]]:
            program = (
                await conn.execute(select(programs).where(programs.c.program_id == cmd.program_id))
            ).first()
            if program is None:
                raise invalid("program_id", "no such program")
            authorise(caller, program.department, program.jurisdiction)
            exists = select(batches.c.batch_id).where(batches.c.batch_id == cmd.batch_id)
            if (await conn.execute(exists)).first() is not None:
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
            await conn.execute(batches.insert().values(**row))
            created = BatchCreated(**asdict(cmd), item_id=program.item_id, jurisdiction=program.jurisdiction)
            await ctx.store.append(conn, batch_stream(cmd.batch_id), [created], NO_STREAM)
            return 201, batch_view(await batch_row(conn, cmd.batch_id))

        return await once(conn, f"batches|{caller.client_id}", key, asdict(cmd), effect)


@dataclass(frozen=True)
class Sealed:
    """What is kept of a candidate: masks for display, the account sealed for the bank."""

    ssn_masked: str
    card_no_masked: str
    name_masked: str
    account_sealed: str


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
    # CPU work (hashing, sealing) happens before the transaction, so the batch lock is short.
    candidates, invalid_rows = screen(rows, ctx.beneficiary_key)
    sealed = {c.reference_id: seal(ctx, c) for c in candidates}
    async with ctx.db.engine.begin() as conn:
        row = await batch_row(conn, batch_id, lock=True)
        authorise(caller, row.department, row.jurisdiction)

        async def effect() -> tuple[int, dict[str, Any]]:
            if row.status != OPEN:
                raise conflict(f"batch {batch_id!r} is {row.status}; only an open batch takes payees")
            accepted, refused = await _admit(conn, row, candidates)
            await _record(ctx, conn, row, accepted, sealed)
            rejected = [asdict(r) for r in (*invalid_rows, *refused)]
            return 200, {"accepted": len(accepted), "rejected": rejected}

        status, answer = await once(
            conn, f"payees|{batch_id}|{caller.client_id}", key, {"payees": rows}, effect
        )
    del status
    answer = dict(answer)
    ctx.metrics.accepted.inc(answer["accepted"])
    for r in answer["rejected"]:
        ctx.metrics.rejected.labels(r["reason"]).inc()
    return answer


async def _admit(
    conn: AsyncConnection, row: Row[Any], candidates: Sequence[Candidate]
) -> tuple[list[Candidate], list[Rejection]]:
    """Two set queries, whatever the size of the call: references used before, people claimed."""
    used = await existing(conn, payees.c.reference_id, [c.reference_id for c in candidates])
    claimed = await existing(
        conn,
        claims.c.beneficiary_key,
        [c.beneficiary_key for c in candidates],
        claims.c.program_id == row.program_id,
        claims.c.period == row.period,
    )
    f = to_batch(row).figures
    room = Room(row.control_count - f.accepted, row.control_total_fen - f.accepted_total_fen)
    return admit(candidates, used, claimed, room)


async def _record(
    ctx: Context,
    conn: AsyncConnection,
    row: Row[Any],
    accepted: Sequence[Candidate],
    sealed: dict[str, Sealed],
) -> None:
    """Payee rows, claims, counters and the payees_accepted events, all set-based."""
    if not accepted:
        return
    refs = [c.reference_id for c in accepted]
    people = [c.beneficiary_key for c in accepted]
    kept = [sealed[ref] for ref in refs]
    await insert_columns(
        conn,
        payees,
        {
            "reference_id": refs,
            "beneficiary_key": people,
            "channel": [c.channel for c in accepted],
            "amount_fen": [c.amount_fen for c in accepted],
            "ssn_masked": [s.ssn_masked for s in kept],
            "card_no_masked": [s.card_no_masked for s in kept],
            "name_masked": [s.name_masked for s in kept],
            "account_sealed": [s.account_sealed for s in kept],
        },
        {
            "batch_id": row.batch_id,
            "program_id": row.program_id,
            "period": row.period,
            "status": "pending",
            "reason": "",
            "accepted_at": utcnow(),
            "settled_at": None,
        },
    )
    await insert_columns(
        conn,
        claims,
        {"beneficiary_key": people, "reference_id": refs},
        {"program_id": row.program_id, "period": row.period},
    )
    f = to_batch(row).figures
    total = sum(c.amount_fen for c in accepted)
    await conn.execute(
        update(batches)
        .where(batches.c.batch_id == row.batch_id)
        .values(accepted=f.accepted + len(accepted), accepted_total_fen=f.accepted_total_fen + total)
    )
    events = [
        PayeesAccepted(
            batch_id=row.batch_id,
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
        for part in chunks(accepted, PAYEES_PER_EVENT)
    ]
    await ctx.store.append_batch(conn, [StreamAppend(batch_stream(row.batch_id), events, None)])


async def submit_batch(ctx: Context, caller: Principal, batch_id: str, key: str | None) -> dict[str, Any]:
    async with ctx.db.engine.begin() as conn:
        row = await batch_row(conn, batch_id, lock=True)
        authorise(caller, row.department, row.jurisdiction)

        async def effect() -> tuple[int, dict[str, Any]]:
            batch: Batch = to_batch(row)
            refusal = batch.submission_refusal()
            if refusal is not None:
                raise conflict(refusal)
            await conn.execute(
                update(batches)
                .where(batches.c.batch_id == batch_id)
                .values(status=SUBMITTED, submitted_at=utcnow())
            )
            await ctx.store.append(
                conn, batch_stream(batch_id), [NewEvent(BatchSubmitted(batch_id=batch_id))], None
            )
            return 202, batch_view(await batch_row(conn, batch_id))

        _, answer = await once(
            conn, f"submit|{batch_id}|{caller.client_id}", key, {"batch_id": batch_id}, effect
        )
    ctx.dispatch_nudge.set()
    return dict(answer)
