"""Catalogue events: the items, jurisdictions, venues, terminals and merchants, as recorded.

These are public: every other service keeps its own view of the catalogue from them
(`onecard_service.catalog_view`), and reporting computes identity and payment depth from them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from onecard_events.model import DomainEvent
from onecard_events.registry import EventRegistry
from onecard_service.auth import ClientRegistered, ClientRevoked

registry = EventRegistry()
registry.register(ClientRegistered)
registry.register(ClientRevoked)


@registry.register
class JurisdictionAdded(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.jurisdiction_added"
    code: str
    name: str
    kind: str


@registry.register
class ItemPublished(DomainEvent):
    """A new version of an item is in force from `valid_from` (the first version creates it)."""

    event_type: ClassVar[str] = "onecard.catalog.item_published"
    item: dict[str, Any]
    version: int
    valid_from: str


@registry.register
class ItemRetired(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.item_retired"
    item_id: str
    version: int
    valid_from: str


@registry.register
class VenueRegistered(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.venue_registered"
    venue_id: str
    name: str
    jurisdiction: str
    item_id: str


@registry.register
class TerminalDeployed(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.terminal_deployed"
    venue_id: str
    terminal_id: str
    card_forms: list[str]


@registry.register
class TerminalDecommissioned(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.terminal_decommissioned"
    venue_id: str
    terminal_id: str


@registry.register
class MerchantRegistered(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.merchant_registered"
    merchant_id: str
    name: str
    jurisdiction: str
    item_id: str


@registry.register
class MerchantJoinedAgreement(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.merchant_joined_agreement"
    merchant_id: str


@registry.register
class MerchantLeftAgreement(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.merchant_left_agreement"
    merchant_id: str
