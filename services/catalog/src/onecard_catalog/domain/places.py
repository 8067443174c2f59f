"""Jurisdictions, venues (with their terminals), merchants: aggregates and the rules they keep.

Rules that span aggregates (the item a venue serves must exist, be active and be an identity
item) take the facts they need as arguments; the handlers read those facts from the query tables
in the same transaction, so the domain stays free of I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from onecard_events.model import DomainEvent

from .errors import duplicate, invalid, invalid_fields, unknown
from .events import (
    JurisdictionAdded,
    MerchantJoinedAgreement,
    MerchantLeftAgreement,
    MerchantRegistered,
    TerminalDecommissioned,
    TerminalDeployed,
    VenueRegistered,
)
from .items import CARD_FORMS

JURISDICTION_KINDS = ("municipal", "district", "county", "partner")
CODE = re.compile(r"^\d{6}$")
# Venue, terminal and merchant ids are chosen by the venue systems; keep them URL- and log-safe.
LOCAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")


@dataclass(frozen=True)
class ItemFacts:
    """What a venue or merchant registration needs to know about the item it serves."""

    item_id: str
    jurisdiction: str
    status: str
    categories: tuple[str, ...]


def _replay(state: Any, events: list[DomainEvent]) -> Any:
    for event in events:
        state.apply(event)
    return state


# -- jurisdictions -------------------------------------------------------------------------------


def add_jurisdiction(exists: bool, code: str, name: str, kind: str) -> JurisdictionAdded:
    errors: list[tuple[str, str]] = []
    if not CODE.match(code):
        errors.append(("code", "must be a 6-digit administrative division code"))
    if not name.strip():
        errors.append(("name", "is required"))
    if kind not in JURISDICTION_KINDS:
        errors.append(("kind", f"must be one of {', '.join(JURISDICTION_KINDS)}"))
    if errors:
        raise invalid_fields(errors)
    if exists:
        raise duplicate("jurisdiction", code)
    return JurisdictionAdded(code=code, name=name.strip(), kind=kind)


def within(place: str, item_jurisdiction: str) -> bool:
    """A venue or merchant serves an item of its own jurisdiction, or of the province-level one
    above it (a Shapingba library offers the municipal library item 500000:30)."""
    if place == item_jurisdiction:
        return True
    return item_jurisdiction.endswith("0000") and place[:2] == item_jurisdiction[:2]


def check_item_for(
    use: str, needed_category: str, item: ItemFacts | None, item_id: str, jurisdiction: str
) -> None:
    """Refuse an item that a venue (identity) or merchant (payment) cannot serve.

    A retired item is refused with 422 on the item_id field: the request names an item that can
    no longer take new places, which is a fault of the input rather than a race.
    """
    if item is None:
        raise invalid("item_id", f"item {item_id!r} does not exist")
    if item.status != "active":
        raise invalid("item_id", f"item {item_id!r} is retired and takes no new {use}s")
    if needed_category not in item.categories:
        raise invalid("item_id", f"item {item_id!r} has no {needed_category} category; a {use} needs one")
    if not within(jurisdiction, item.jurisdiction):
        raise invalid(
            "jurisdiction", f"{jurisdiction} is outside the item's jurisdiction {item.jurisdiction}"
        )


def check_local_id(name: str, value: str) -> None:
    if not LOCAL_ID.match(value):
        raise invalid(name, "1–100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")


def check_card_forms(card_forms: list[str]) -> None:
    errors = [
        (f"card_forms.{i}", f"{f!r} is not one of physical, electronic")
        for i, f in enumerate(card_forms)
        if f not in CARD_FORMS
    ]
    if not card_forms:
        errors.append(("card_forms", "a terminal accepts at least one card form"))
    elif len(set(card_forms)) != len(card_forms):
        errors.append(("card_forms", "lists a value twice"))
    if errors:
        raise invalid_fields(errors)


# -- venues and terminals ------------------------------------------------------------------------


@dataclass
class Venue:
    venue_id: str
    registered: bool = False
    terminals: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def from_events(cls, venue_id: str, events: list[DomainEvent]) -> Venue:
        venue: Venue = _replay(cls(venue_id), events)
        return venue

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, VenueRegistered):
            self.registered = True
        elif isinstance(event, TerminalDeployed):
            self.terminals[event.terminal_id] = True
        elif isinstance(event, TerminalDecommissioned):
            self.terminals[event.terminal_id] = False


def register_venue(state: Venue, name: str, jurisdiction: str, item_id: str) -> VenueRegistered:
    check_local_id("venue_id", state.venue_id)
    if state.registered:
        raise duplicate("venue", state.venue_id)
    return VenueRegistered(venue_id=state.venue_id, name=name, jurisdiction=jurisdiction, item_id=item_id)


def deploy_terminal(state: Venue, terminal_id: str, card_forms: list[str]) -> TerminalDeployed:
    """A new terminal, or one decommissioned earlier put back into service."""
    if not state.registered:
        raise unknown("venue", state.venue_id)
    check_local_id("terminal_id", terminal_id)
    check_card_forms(card_forms)
    if state.terminals.get(terminal_id):
        raise duplicate("terminal", terminal_id)
    return TerminalDeployed(venue_id=state.venue_id, terminal_id=terminal_id, card_forms=card_forms)


def decommission_terminal(state: Venue, terminal_id: str) -> TerminalDecommissioned | None:
    if not state.registered:
        raise unknown("venue", state.venue_id)
    if terminal_id not in state.terminals:
        raise unknown("terminal", terminal_id)
    if not state.terminals[terminal_id]:
        return None
    return TerminalDecommissioned(venue_id=state.venue_id, terminal_id=terminal_id)


# -- merchants -----------------------------------------------------------------------------------


@dataclass
class Merchant:
    merchant_id: str
    registered: bool = False
    agreement: bool = False

    @classmethod
    def from_events(cls, merchant_id: str, events: list[DomainEvent]) -> Merchant:
        merchant: Merchant = _replay(cls(merchant_id), events)
        return merchant

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, MerchantRegistered):
            self.registered = True
        elif isinstance(event, MerchantJoinedAgreement):
            self.agreement = True
        elif isinstance(event, MerchantLeftAgreement):
            self.agreement = False


def register_merchant(state: Merchant, name: str, jurisdiction: str, item_id: str) -> MerchantRegistered:
    check_local_id("merchant_id", state.merchant_id)
    if state.registered:
        raise duplicate("merchant", state.merchant_id)
    return MerchantRegistered(
        merchant_id=state.merchant_id, name=name, jurisdiction=jurisdiction, item_id=item_id
    )


def set_agreement(state: Merchant, joined: bool) -> DomainEvent | None:
    """Join or leave the e-card agreement; None when the merchant is there already."""
    if not state.registered:
        raise unknown("merchant", state.merchant_id)
    if state.agreement == joined:
        return None
    if joined:
        return MerchantJoinedAgreement(merchant_id=state.merchant_id)
    return MerchantLeftAgreement(merchant_id=state.merchant_id)
