"""API clients: registering one (its token is handed out once, never stored), reading its scope,
revoking it on every service."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from onecard_events.times import rfc3339, utcnow
from onecard_service.auth import Principal, TokenSigner
from onecard_service.problems import conflict

from ..adapters import queries
from ..domain.clients import SCOPE_FIELDS, Client, ClientRequest
from .context import Catalog, commit, found, read


async def register_client(
    cat: Catalog, request: ClientRequest, expires_in: int | None = None
) -> dict[str, Any]:
    """Record the client and hand out its token once; the token itself is never stored. With
    `expires_in` (seconds) the token is refused once that time has passed."""
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
        **_token(signer, principal, expires_in),
        "role": registered.role,
        "name": registered.name,
        **scope,
    }


async def issue_token(cat: Catalog, client_id: str, expires_in: int | None = None) -> dict[str, Any]:
    """Another token for a registered client, with its recorded scope: the tokens it holds
    already stay valid until they expire or the client is revoked, so a credential is rotated
    without downtime (the new one deployed, then the old one left to expire)."""
    signer = cat.signer()
    client = found(await read(cat, queries.get_client, client_id), "client", client_id)
    if client["status"] != "active":
        raise conflict(f"client {client_id!r} is revoked")
    principal = Principal(
        client_id=client_id,
        role=client["role"],
        venues=frozenset(client.get("venues", ())),
        merchants=frozenset(client.get("merchants", ())),
        department=client.get("department"),
        jurisdiction=client.get("jurisdiction"),
        region=client.get("region"),
    )
    return _token(signer, principal, expires_in)


def _token(signer: TokenSigner, principal: Principal, expires_in: int | None) -> dict[str, Any]:
    answer: dict[str, Any] = {"client_id": principal.client_id, "token": signer.issue(principal, expires_in)}
    if expires_in is not None:
        answer["expires_at"] = rfc3339(utcnow() + timedelta(seconds=expires_in))
    return answer


async def get_client(cat: Catalog, client_id: str) -> dict[str, Any]:
    return found(await read(cat, queries.get_client, client_id), "client", client_id)


async def revoke_client(cat: Catalog, client_id: str) -> None:
    async with cat.store.unit_of_work() as uow:
        client = await uow.get(f"client-{client_id}", Client(client_id))
        client.revoke()
        await commit(uow)
