"""Verification decisions: which refusal, if any, a card read or an e-card code earns.

Refusals are answers, not errors: every verification becomes a `VerificationRecorded` event, and
the order of the checks below is the order in which the reasons are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from onecard_contracts.regions import is_cross_region, province_code, province_of
from onecard_service.privacy import ssn_is_valid

from .cards import CARD_NO, REGION, Status
from .events import VerificationRecorded

Method = Literal["physical", "electronic"]
HOTLIST_STATUSES = ("lost", "cancelled")


@dataclass(frozen=True)
class VenueTerminal:
    venue_id: str
    terminal_id: str
    item_id: str
    jurisdiction: str
    card_forms: tuple[str, ...]  # empty when the terminal is unknown or decommissioned


@dataclass(frozen=True)
class CardRecord:
    """What the verification needs of one of our cards (the identity_cards row)."""

    card_key: str
    issuer_region: str
    status: Status
    ecard: bool
    ssn_hash: str
    holder_key: str


@dataclass(frozen=True)
class Origin:
    kind: Literal["own", "partner", "foreign"]
    partner_region: str | None = None


@dataclass(frozen=True)
class Outcome:
    verified: bool
    reason: str | None
    issuer_region: str | None = None
    partner_region: str | None = None
    holder_key: str | None = None  # platform-internal: keyed_hash(ssn, "holder")
    person_key: str | None = None  # what the caller's holder_ref is derived from
    nonce: str | None = None  # an e-card code's use: keyed hash of "<iss>:<jti>", consumed with the event
    nonce_expires_at: int | None = None

    def refused_as(self, reason: str) -> Outcome:
        return replace(self, verified=False, reason=reason)


def refused(
    reason: str,
    *,
    issuer_region: str | None = None,
    partner_region: str | None = None,
    holder_key: str | None = None,
    person_key: str | None = None,
) -> Outcome:
    return Outcome(False, reason, issuer_region, partner_region, holder_key, person_key)


def origin_of(region: str, own_region: str, partners: tuple[str, ...]) -> Origin:
    if province_of(region) == province_of(own_region):
        return Origin("own")
    code = province_code(region)
    return Origin("partner", code) if code in partners else Origin("foreign")


def physical_format_refusal(card_no: str, ssn: str, issuer_region: str) -> str | None:
    if not ssn_is_valid(ssn):
        return "invalid_ssn"
    if not CARD_NO.match(card_no) or not REGION.match(issuer_region):
        return "invalid_card"
    return None


def own_card_refusal(card: CardRecord | None, ssn_hash: str | None) -> str | None:
    """Our own card: known, belonging to this person (physical reads), and in use."""
    if card is None:
        return "unknown_card"
    if ssn_hash is not None and ssn_hash != card.ssn_hash:
        return "ssn_mismatch"
    if card.status == "lost":
        return "card_lost"
    if card.status == "cancelled":
        return "card_cancelled"
    if ssn_hash is None and not card.ecard:
        return "no_ecard"
    return None


def hotlist_refusal(hotlist_status: str | None) -> str | None:
    return "partner_hotlisted" if hotlist_status in HOTLIST_STATUSES else None


# The event names the place and the outcome by their own field names.
_PLACE_FIELDS = ("venue_id", "terminal_id", "item_id", "jurisdiction")
_OUTCOME_FIELDS = ("verified", "reason", "issuer_region", "partner_region", "holder_key")


def recorded(
    verification_id: str, where: VenueTerminal, method: Method, outcome: Outcome, occurred_at: str
) -> VerificationRecorded:
    fields: dict[str, Any] = {name: getattr(where, name) for name in _PLACE_FIELDS}
    fields.update({name: getattr(outcome, name) for name in _OUTCOME_FIELDS})
    return VerificationRecorded(
        verification_id=verification_id,
        method=method,
        cross_region=is_cross_region(outcome.issuer_region, where.jurisdiction),
        occurred_at=occurred_at,
        code_use=outcome.nonce,
        **fields,
    )
