"""What the use cases share: the catalog context, reads, and the commit every command ends with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Concatenate, ParamSpec, TypeVar

from onecard_events.database import Database
from onecard_events.model import RecordedEvent
from onecard_events.store import EventStore
from onecard_events.unit_of_work import UnitOfWork
from onecard_service.auth import TokenSigner
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters import read_model
from ..domain.errors import unknown


@dataclass
class Catalog:
    """What the use cases need: the database, the store, the token signer, change listeners."""

    db: Database
    store: EventStore
    signer: Callable[[], TokenSigner]
    on_items_changed: list[Callable[[], None]] = field(default_factory=list)

    def items_changed(self) -> None:
        for listener in self.on_items_changed:
            listener()


P = ParamSpec("P")
T = TypeVar("T")


async def read(
    cat: Catalog,
    query: Callable[Concatenate[AsyncConnection, P], Awaitable[T]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """A read of the query tables (adapters.queries), outside any command."""
    async with cat.db.reads.connect() as conn:
        return await query(conn, *args, **kwargs)


def found(value: T | None, what: str, ident: str) -> T:
    """`value`, or a 404 refusal naming what does not exist."""
    if value is None:
        raise unknown(what, ident)
    return value


async def commit(uow: UnitOfWork) -> list[RecordedEvent]:
    """Append what the aggregates triggered at the versions they were loaded at (a concurrent
    writer gets a 409), update the query tables from what the store actually recorded, commit."""
    recorded = await uow.flush()
    await read_model.record(uow.connection, recorded)
    await uow.save()
    return recorded
