"""Jurisdictions, venues (with their terminals), merchants: aggregates and the rules they keep.

Rules that span aggregates (the item a venue serves must exist, be active and be an identity
item; its jurisdiction must be known) take the facts they need as arguments; the handlers read
those facts from the query tables in the same transaction, so the domain stays free of I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from onecard_contracts.regions import covers
from onecard_events.aggregate import Aggregate
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
from .items import CARD_FORMS, check_jurisdiction

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


# -- jurisdictions -------------------------------------------------------------------------------


@dataclass
class Jurisdiction(Aggregate):
    code: str
    added: bool = False

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, JurisdictionAdded):
            self.added = True

    def add(self, name: str, kind: str) -> JurisdictionAdded:
        errors: list[tuple[str, str]] = []
        if not CODE.match(self.code):
            errors.append(("code", "must be a 6-digit administrative division code"))
        if not name.strip():
            errors.append(("name", "is required"))
        if kind not in JURISDICTION_KINDS:
            errors.append(("kind", f"must be one of {', '.join(JURISDICTION_KINDS)}"))
        if errors:
            raise invalid_fields(errors)
        if self.added:
            raise duplicate("jurisdiction", self.code)
        return self.trigger(JurisdictionAdded(code=self.code, name=name.strip(), kind=kind))


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
    # A venue or merchant serves an item of its own jurisdiction, or of the province-level one
    # above it (a Shapingba library offers the municipal library item 500000:30).
    if not covers(item.jurisdiction, jurisdiction):
        raise invalid(
            "jurisdiction", f"{jurisdiction} is outside the item's jurisdiction {item.jurisdiction}"
        )


# The category of item each kind of place serves.
SERVES = {"venue": "identity", "merchant": "payment"}


def check_new_place(
    use: str,
    place_id: str,
    registered: bool,
    jurisdiction: str,
    known: bool,
    item_id: str,
    item: ItemFacts | None,
) -> None:
    """A venue or merchant registration: a valid new id, a known jurisdiction (`known`) and an
    item (`item`: its facts, None if it does not exist) that the place can serve."""
    check_local_id(f"{use}_id", place_id)
    if registered:
        raise duplicate(use, place_id)
    check_jurisdiction(known, jurisdiction)
    check_item_for(use, SERVES[use], item, item_id, jurisdiction)


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
class Venue(Aggregate):
    venue_id: str
    registered: bool = False
    terminals: dict[str, bool] = field(default_factory=dict)

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, VenueRegistered):
            self.registered = True
        elif isinstance(event, TerminalDeployed):
            self.terminals[event.terminal_id] = True
        elif isinstance(event, TerminalDecommissioned):
            self.terminals[event.terminal_id] = False

    def register(
        self, name: str, jurisdiction: str, item_id: str, known: bool, item: ItemFacts | None
    ) -> VenueRegistered:
        check_new_place("venue", self.venue_id, self.registered, jurisdiction, known, item_id, item)
        return self.trigger(
            VenueRegistered(venue_id=self.venue_id, name=name, jurisdiction=jurisdiction, item_id=item_id)
        )

    def deploy_terminal(self, terminal_id: str, card_forms: list[str]) -> TerminalDeployed:
        """A new terminal, or one decommissioned earlier put back into service."""
        if not self.registered:
            raise unknown("venue", self.venue_id)
        check_local_id("terminal_id", terminal_id)
        check_card_forms(card_forms)
        if self.terminals.get(terminal_id):
            raise duplicate("terminal", terminal_id)
        return self.trigger(
            TerminalDeployed(venue_id=self.venue_id, terminal_id=terminal_id, card_forms=card_forms)
        )

    def decommission_terminal(self, terminal_id: str) -> TerminalDecommissioned | None:
        """Nothing when the terminal is decommissioned already (DELETE is idempotent)."""
        if not self.registered:
            raise unknown("venue", self.venue_id)
        if terminal_id not in self.terminals:
            raise unknown("terminal", terminal_id)
        if not self.terminals[terminal_id]:
            return None
        return self.trigger(TerminalDecommissioned(venue_id=self.venue_id, terminal_id=terminal_id))


# -- merchants -----------------------------------------------------------------------------------


@dataclass
class Merchant(Aggregate):
    merchant_id: str
    registered: bool = False
    agreement: bool = False

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, MerchantRegistered):
            self.registered = True
        elif isinstance(event, MerchantJoinedAgreement):
            self.agreement = True
        elif isinstance(event, MerchantLeftAgreement):
            self.agreement = False

    def register(
        self, name: str, jurisdiction: str, item_id: str, known: bool, item: ItemFacts | None
    ) -> MerchantRegistered:
        check_new_place("merchant", self.merchant_id, self.registered, jurisdiction, known, item_id, item)
        return self.trigger(
            MerchantRegistered(
                merchant_id=self.merchant_id, name=name, jurisdiction=jurisdiction, item_id=item_id
            )
        )

    def set_agreement(self, joined: bool) -> DomainEvent | None:
        """Join or leave the e-card agreement; nothing when the merchant is there already."""
        if not self.registered:
            raise unknown("merchant", self.merchant_id)
        if self.agreement == joined:
            return None
        if joined:
            return self.trigger(MerchantJoinedAgreement(merchant_id=self.merchant_id))
        return self.trigger(MerchantLeftAgreement(merchant_id=self.merchant_id))
