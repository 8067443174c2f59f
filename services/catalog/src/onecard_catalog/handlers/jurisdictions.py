"""Jurisdictions: the divisions the catalogue knows, and adding one."""

from __future__ import annotations

from typing import Any

from ..adapters import queries
from ..domain.places import Jurisdiction
from .context import Catalog, commit, read


async def list_jurisdictions(cat: Catalog) -> list[dict[str, Any]]:
    return await read(cat, queries.list_jurisdictions)


async def add_jurisdiction(cat: Catalog, code: str, name: str, kind: str) -> dict[str, Any]:
    async with cat.store.unit_of_work() as uow:
        jurisdiction = await uow.get(f"jurisdiction-{code}", Jurisdiction(code))
        added = jurisdiction.add(name, kind)
        await commit(uow)
    return {"code": added.code, "name": added.name, "kind": added.kind}
