"""One scenario, both modes: an event recorded by one service reaches another service's read model
(through the stores' logs embedded, through the relay and Kafka distributed), and a revoked
credential stops working everywhere."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from onecard_events.model import DomainEvent, RecordedEvent
from onecard_events.subscription import ProjectionRunner
from onecard_service.auth import ClientRevoked, Principal
from onecard_service.problems import Problem
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.catalogue import seed_catalog
from tests.support.platform import RunningPlatform
from tests.support.waiting import eventually


class Noted(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.test_noted"
    n: int


class NotedTable:
    name = "e2e_noted"

    async def apply(self, conn: AsyncConnection, event: RecordedEvent) -> None:
        if event.event_type == Noted.event_type:
            await conn.execute(text("INSERT INTO e2e_noted (n) VALUES (:n)"), {"n": event.data["n"]})

    async def reset(self, conn: AsyncConnection) -> None:
        await conn.execute(text("DELETE FROM e2e_noted"))


async def test_events_cross_services_and_revocation_applies(any_mode: RunningPlatform) -> None:
    reporting = any_mode.runtime("reporting")
    async with reporting.db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE e2e_noted (n integer PRIMARY KEY)"))
    runner = ProjectionRunner(NotedTable(), any_mode.platform.events_of(["catalog"], "e2e"), reporting.db)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))

    signer = any_mode.platform.token_signer()
    token = signer.issue(Principal("client-e2e", "operator"))
    assert any_mode.platform.token_verifier.verify(token).role == "operator"

    await seed_catalog(any_mode, *(Noted(n=i) for i in range(50)), ClientRevoked(client_id="client-e2e"))

    async def all_applied() -> bool:
        async with reporting.db.engine.connect() as conn:
            return (await conn.execute(text("SELECT count(*) FROM e2e_noted"))).scalar_one() == 50

    await eventually(all_applied, timeout=30)

    def revoked() -> bool:
        try:
            any_mode.platform.token_verifier.verify(token)
        except Problem as problem:
            return problem.status == 401
        return False

    async def check_revoked() -> bool:
        return revoked()

    await eventually(check_revoked, timeout=5)
    stop.set()
    await task
