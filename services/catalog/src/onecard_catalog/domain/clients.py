"""API clients (stream `client-<client_id>`): who may call, in which scope, until revoked.

The catalogue records the scope and the revocation, never the token: a token is handed out once
and every service checks it against the public key and the revocation list.
"""

from __future__ import annotations

from dataclasses import dataclass

from onecard_contracts.catalogue_events import ROLES
from onecard_events.aggregate import Aggregate
from onecard_events.model import DomainEvent

from .errors import invalid_fields, unknown
from .events import ClientRegistered, ClientRevoked
from .places import CODE, LOCAL_ID

# Scope fields each role needs (all of them) and may carry; anything else is refused so that a
# token never carries a scope that no check reads (a "venue" client with a department, say).
_NEEDS: dict[str, tuple[str, ...]] = {
    "admin": (),
    "operator": (),
    "venue": ("venues",),
    "merchant": ("merchants",),
    "department": ("department",),
    "partner": ("region",),
}
_MAY: dict[str, tuple[str, ...]] = {"department": ("department", "jurisdiction")}
SCOPE_FIELDS = ("venues", "merchants", "department", "jurisdiction", "region")


@dataclass(frozen=True)
class ClientRequest:
    role: str
    name: str
    venues: tuple[str, ...] = ()
    merchants: tuple[str, ...] = ()
    department: str | None = None
    jurisdiction: str | None = None
    region: str | None = None


def _scope_errors(request: ClientRequest) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    needs = _NEEDS[request.role]
    may = _MAY.get(request.role, needs)
    for name in SCOPE_FIELDS:
        present = bool(getattr(request, name))
        if name in needs and not present:
            errors.append((name, f"a {request.role} client needs {name}"))
        elif present and name not in may:
            errors.append((name, f"a {request.role} client carries no {name}"))
    return errors


def _id_errors(
    request: ClientRequest, partner_regions: set[str], jurisdictions: set[str]
) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    for name in ("venues", "merchants"):
        for index, value in enumerate(getattr(request, name)):
            if not LOCAL_ID.match(value):
                errors.append((f"{name}.{index}", "not a valid id"))
    if request.region and request.region not in partner_regions:
        errors.append(("region", f"{request.region} is not a partner region"))
    if request.jurisdiction and (
        not CODE.match(request.jurisdiction) or request.jurisdiction not in jurisdictions
    ):
        errors.append(("jurisdiction", f"{request.jurisdiction} is not a known jurisdiction"))
    return errors


@dataclass
class Client(Aggregate):
    client_id: str
    registered: bool = False
    revoked: bool = False

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, ClientRegistered):
            self.registered = True
        elif isinstance(event, ClientRevoked):
            self.revoked = True

    def register(
        self, request: ClientRequest, partner_regions: set[str], jurisdictions: set[str]
    ) -> ClientRegistered:
        if request.role not in ROLES:
            raise invalid_fields([("role", f"must be one of {', '.join(ROLES)}")])
        errors = _scope_errors(request) or _id_errors(request, partner_regions, jurisdictions)
        if not request.name.strip():
            errors.append(("name", "is required"))
        if errors:
            raise invalid_fields(errors)
        return self.trigger(
            ClientRegistered(
                client_id=self.client_id,
                role=request.role,
                name=request.name.strip(),
                venues=sorted(set(request.venues)),
                merchants=sorted(set(request.merchants)),
                department=request.department,
                jurisdiction=request.jurisdiction,
                region=request.region,
            )
        )

    def revoke(self) -> ClientRevoked | None:
        """Nothing when the client is revoked already (DELETE is idempotent)."""
        if not self.registered:
            raise unknown("client", self.client_id)
        if self.revoked:
            return None
        return self.trigger(ClientRevoked(client_id=self.client_id))
