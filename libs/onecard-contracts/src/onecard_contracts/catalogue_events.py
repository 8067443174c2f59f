"""The catalogue's events: items, jurisdictions, venues, terminals, merchants and API clients.

These are the catalogue's published language: every other service keeps its own view of the
catalogue from them (`onecard_contracts.catalog_view`), every service feeds its revocation list
from `ClientRevoked`, and reporting computes identity and payment depth from them. The catalog
service records them; nothing else does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from onecard_events.model import DomainEvent

# The roles a client (and the credential it is handed) can have.
ROLES: tuple[str, ...] = ("admin", "operator", "venue", "merchant", "department", "partner")


class JurisdictionAdded(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.jurisdiction_added"
    code: str
    name: str
    kind: str


class ItemPublished(DomainEvent):
    """A new version of an item is in force from `valid_from` (the first version creates it)."""

    event_type: ClassVar[str] = "onecard.catalog.item_published"
    item: dict[str, Any]
    version: int
    valid_from: str


class ItemRetired(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.item_retired"
    item_id: str
    version: int
    valid_from: str


class VenueRegistered(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.venue_registered"
    venue_id: str
    name: str
    jurisdiction: str
    item_id: str


class _Terminal(DomainEvent):
    venue_id: str
    terminal_id: str


class TerminalDeployed(_Terminal):
    event_type: ClassVar[str] = "onecard.catalog.terminal_deployed"
    card_forms: list[str]


class TerminalDecommissioned(_Terminal):
    event_type: ClassVar[str] = "onecard.catalog.terminal_decommissioned"


class MerchantRegistered(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.merchant_registered"
    merchant_id: str
    name: str
    jurisdiction: str
    item_id: str


class _MerchantEvent(DomainEvent):
    merchant_id: str


class MerchantJoinedAgreement(_MerchantEvent):
    event_type: ClassVar[str] = "onecard.catalog.merchant_joined_agreement"


class MerchantLeftAgreement(_MerchantEvent):
    event_type: ClassVar[str] = "onecard.catalog.merchant_left_agreement"


class ClientRegistered(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.client_registered"
    client_id: str
    role: str
    name: str
    venues: list[str] = []
    merchants: list[str] = []
    department: str | None = None
    jurisdiction: str | None = None
    region: str | None = None


class ClientRevoked(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.client_revoked"
    client_id: str


CATALOGUE_EVENTS: tuple[type[DomainEvent], ...] = (
    ClientRegistered,
    ClientRevoked,
    JurisdictionAdded,
    ItemPublished,
    ItemRetired,
    VenueRegistered,
    TerminalDeployed,
    TerminalDecommissioned,
    MerchantRegistered,
    MerchantJoinedAgreement,
    MerchantLeftAgreement,
)
__all__ = [
    "CATALOGUE_EVENTS",
    "ROLES",
    "ClientRegistered",
    "ClientRevoked",
    "ItemPublished",
    "ItemRetired",
    "JurisdictionAdded",
    "MerchantJoinedAgreement",
    "MerchantLeftAgreement",
    "MerchantRegistered",
    "TerminalDecommissioned",
    "TerminalDeployed",
    "VenueRegistered",
]
