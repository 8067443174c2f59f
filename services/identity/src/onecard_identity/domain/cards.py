"""The card aggregate, its input rules and the identifiers derived from a card number."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# The card reference belongs to the e-card code format, shared with payments.
from onecard_contracts.ecard_code import card_subject as card_subject
from onecard_contracts.regions import province_of
from onecard_events.aggregate import Aggregate, Refused
from onecard_events.model import DomainEvent
from onecard_service.privacy import ssn_is_valid

from .events import CardRegistered, CardStatusChanged, ECardIssued

Status = Literal["active", "lost", "cancelled"]
STATUSES: tuple[Status, ...] = ("active", "lost", "cancelled")
CARD_NO = re.compile(r"^[0-9A-Z]{9}$")
REGION = re.compile(r"^\d{6}$")
CARD_NO_RULE = "must be 9 characters, digits or upper-case letters"


def card_field_errors(card_no: str, ssn: str, name: str, issuer_region: str) -> list[tuple[str, str]]:
    """Field-level problems of a card as registered; messages never echo the value."""
    errors: list[tuple[str, str]] = []
    if not CARD_NO.match(card_no):
        errors.append(("card_no", CARD_NO_RULE))
    if not ssn_is_valid(ssn):
        errors.append(("ssn", "must be 18 characters with a valid check character"))
    if not name.strip() or len(name) > 100:
        errors.append(("name", "must be 1 to 100 characters"))
    if not REGION.match(issuer_region):
        errors.append(("issuer_region", "must be a 6-digit division code"))
    return errors


def check_new_card(card_no: str, ssn: str, name: str, issuer_region: str, own_region: str) -> None:
    """Refuse (422, field by field) a card this region may not register."""
    errors = card_field_errors(card_no, ssn, name, issuer_region)
    if not errors and province_of(issuer_region) != province_of(own_region):
        errors.append(("issuer_region", f"must lie in this region ({own_region})"))
    if errors:
        raise Refused("the card is not valid", status=422, errors=errors)


@dataclass
class Card(Aggregate):
    """One card (stream `card-<card_key>`). `status` is None until the card is registered."""

    card_key: str
    status: Status | None = None
    ecard: bool = False

    @property
    def registered(self) -> bool:
        return self.status is not None

    def apply(self, event: DomainEvent) -> None:
        match event:
            case CardRegistered():
                self.status, self.ecard = "active", False
            case CardStatusChanged():
                self.status = event.status
            case ECardIssued():
                self.ecard = True

    def register(self, registered: CardRegistered) -> None:
        if self.registered:
            raise Refused("this card is registered already")
        self.trigger(registered)

    def change_status(self, status: Status, at: str) -> None:
        current = self._current()
        if current == "cancelled":
            raise Refused("the card is cancelled; a cancelled card cannot change")
        if status != current:
            self.trigger(
                CardStatusChanged(card_key=self.card_key, status=status, previous=current, changed_at=at)
            )

    def issue_ecard(self, at: str) -> None:
        if self.status != "active":
            raise Refused(f"the card is {self.status}; only an active card gets an e-card")
        if not self.ecard:
            self.trigger(ECardIssued(card_key=self.card_key, issued_at=at))

    def check_can_show_code(self) -> None:
        if self.status != "active":
            raise Refused(f"the card is {self.status}")
        if not self.ecard:
            raise Refused("no e-card has been issued for this card")

    def _current(self) -> Status:
        if self.status is None:
            raise Refused("the card is not registered", status=404)
        return self.status


def card_stream(card_key: str) -> str:
    return f"card-{card_key}"
