"""The card aggregate, its input rules and the identifiers derived from a card number."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from onecard_events.model import DomainEvent

# The card reference and the province code belong to the e-card code format, shared with payments.
from onecard_service.ecard_code import card_subject as card_subject
from onecard_service.ecard_code import province_code as province_code
from onecard_service.privacy import ssn_is_valid

from .events import CardRegistered, CardStatusChanged, ECardIssued

Status = Literal["active", "lost", "cancelled"]
STATUSES: tuple[Status, ...] = ("active", "lost", "cancelled")
CARD_NO = re.compile(r"^[0-9A-Z]{9}$")
REGION = re.compile(r"^\d{6}$")


class CardRuleBroken(Exception):
    """A command the card's current state does not allow (HTTP 409)."""


def card_field_errors(card_no: str, ssn: str, name: str, issuer_region: str) -> list[dict[str, str]]:
    """Field-level problems of a card as registered; messages never echo the value."""
    errors: list[dict[str, str]] = []
    if not CARD_NO.match(card_no):
        errors.append({"field": "card_no", "message": "must be 9 characters, digits or upper-case letters"})
    if not ssn_is_valid(ssn):
        errors.append({"field": "ssn", "message": "must be 18 characters with a valid check character"})
    if not name.strip() or len(name) > 100:
        errors.append({"field": "name", "message": "must be 1 to 100 characters"})
    if not REGION.match(issuer_region):
        errors.append({"field": "issuer_region", "message": "must be a 6-digit division code"})
    return errors


def province_of(region: str) -> str:
    return region[:2]


@dataclass(frozen=True)
class Card:
    card_key: str
    status: Status
    ecard: bool

    @classmethod
    def from_events(cls, events: Sequence[DomainEvent]) -> Card | None:
        card: Card | None = None
        for event in events:
            card = _apply(card, event)
        return card

    def change_status(self, status: Status, at: str) -> list[DomainEvent]:
        if self.status == "cancelled":
            raise CardRuleBroken("the card is cancelled; a cancelled card cannot change")
        if status == self.status:
            return []
        return [CardStatusChanged(card_key=self.card_key, status=status, previous=self.status, changed_at=at)]

    def issue_ecard(self, at: str) -> list[DomainEvent]:
        if self.status != "active":
            raise CardRuleBroken(f"the card is {self.status}; only an active card gets an e-card")
        return [] if self.ecard else [ECardIssued(card_key=self.card_key, issued_at=at)]

    def check_can_show_code(self) -> None:
        if self.status != "active":
            raise CardRuleBroken(f"the card is {self.status}")
        if not self.ecard:
            raise CardRuleBroken("no e-card has been issued for this card")


def _apply(card: Card | None, event: DomainEvent) -> Card | None:
    match event:
        case CardRegistered():
            return Card(event.card_key, "active", False)
        case CardStatusChanged() if card is not None:
            return Card(card.card_key, event.status, card.ecard)
        case ECardIssued() if card is not None:
            return Card(card.card_key, card.status, True)
    return card
