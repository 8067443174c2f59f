"""API clients: registering one (its token is handed out once, never stored), reading its scope,
revoking it on every service."""

from __future__ import annotations

import uuid
from typing import Any

from onecard_service.auth import Principal

from ..adapters import queries
from ..domain.clients import SCOPE_FIELDS, Client, ClientRequest
from .context import Catalog, commit, found, read


async def register_client(cat: Catalog, request: ClientRequest) -> dict[str, Any]:
    """Record the client and hand out its token once; the token itself is never stored."""
    client_id = f"cl_{uuid.uuid4().hex}"
    # Fail before recording anything when this process cannot sign (no private key configured).
    signer = cat.signer()
    async with cat.store.unit_of_work() as uow:
        kinds = await queries.jurisdiction_kinds(uow.connection)
        partners = {code for code, kind in kinds.items() if kind == "partner"}
        client = await uow.get(f"client-{client_id}", Client(client_id))
        registered = client.register(request, partners, set(kinds))
        await commit(uow)
    principal = Principal(
        client_id=client_id,
        role=registered.role,
        venues=frozenset(registered.venues),
        merchants=frozenset(registered.merchants),
        department=registered.department,
        jurisdiction=registered.jurisdiction,
        region=registered.region,
    )
    scope = {k: getattr(registered, k) for k in SCOPE_FIELDS if getattr(registered, k)}
    return {
        "client_id": client_id,
        "token": signer.issue(principal),
        "role": registered.role,
        "name": registered.name,
        **scope,
    }


async def get_client(cat: Catalog, client_id: str) -> dict[str, Any]:
    return found(await read(cat, queries.get_client, client_id), "client", client_id)


async def revoke_client(cat: Catalog, client_id: str) -> None:
    async with cat.store.unit_of_work() as uow:
        client = await uow.get(f"client-{client_id}", Client(client_id))
        client.revoke()
        await commit(uow)
