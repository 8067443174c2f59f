"""Creating a disbursement program for a catalogue item."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from onecard_contracts.catalog_view import find_item
from onecard_events.store import NO_STREAM
from onecard_events.times import utcnow
from onecard_service.auth import Principal

from ..adapters import rows
from ..domain.errors import conflict, invalid
from ..domain.events import ProgramCreated, program_stream
from ..domain.program import item_refusal, jurisdiction_fits
from .context import Context, authorise, once


@dataclass(frozen=True)
class CreateProgram:
    program_id: str
    item_id: str
    name: str
    jurisdiction: str


async def create_program(
    ctx: Context, caller: Principal, cmd: CreateProgram, key: str | None
) -> tuple[int, dict[str, Any]]:
    # A refusal on the item rests on the catalogue view: first let it catch up (outside the
    # transaction, whose snapshot would not see what the view applies meanwhile).
    await ctx.views.read("catalog", lambda: _item(ctx, cmd.item_id), ok=lambda i: item_refusal(i) is None)
    async with ctx.store.unit_of_work() as uow:
        conn = uow.connection

        async def effect() -> tuple[int, dict[str, Any]]:
            item = await find_item(conn, cmd.item_id)
            refusal = item_refusal(item)
            if refusal is not None or item is None:
                raise invalid("item_id", refusal or "no such item")
            if not jurisdiction_fits(item["jurisdiction"], cmd.jurisdiction):
                raise invalid("jurisdiction", f"the item belongs to {item['jurisdiction']}")
            department = item.get("department") or ""
            authorise(caller, department, cmd.jurisdiction)
            if await rows.program_row(conn, cmd.program_id) is not None:
                raise conflict(f"program {cmd.program_id!r} exists already")
            await rows.insert_program(conn, {**asdict(cmd), "department": department, "created_at": utcnow()})
            uow.record(program_stream(cmd.program_id), [ProgramCreated(**asdict(cmd))], NO_STREAM)
            return 201, {**asdict(cmd), "department": department}

        answer = await once(conn, f"programs|{caller.client_id}", key, asdict(cmd), effect)
        await uow.save()
    return answer


async def _item(ctx: Context, item_id: str) -> dict[str, Any] | None:
    async with ctx.db.reads.connect() as conn:
        return await find_item(conn, item_id)
