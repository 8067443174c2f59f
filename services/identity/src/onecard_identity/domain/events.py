"""Identity events. None carries an ssn, a name or a card number in clear.

Cards are the `card` aggregate, streamed as `card-<card_key>` where the card key is a keyed hash of
the card's subject (see onecard_contracts.ecard_code.card_subject); each verification is its own
`verification-<id>` stream.
`VerificationRecorded` is public: the reporting service builds on exactly its fields.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from onecard_events.model import DomainEvent
from onecard_events.registry import EventRegistry
from pydantic import BaseModel, ConfigDict

registry = EventRegistry()


@registry.register
class CardRegistered(DomainEvent):
    event_type: ClassVar[str] = "onecard.identity.card_registered"
    card_key: str
    issuer_region: str
    # Keyed hashes: comparable inside the platform, not reversible without the personal-data key.
    ssn_hash: str
    name_hash: str
    holder_key: str
    registered_at: str
    # keyed_hash(card_no, "card-account"): how the bank (and payments) name the card's account.
    # Optional: cards registered before it was added carry None.
    account_ref: str | None = None


@registry.register
class CardStatusChanged(DomainEvent):
    event_type: ClassVar[str] = "onecard.identity.card_status_changed"
    card_key: str
    status: Literal["active", "lost", "cancelled"]
    previous: Literal["active", "lost", "cancelled"]
    changed_at: str


@registry.register
class ECardIssued(DomainEvent):
    event_type: ClassVar[str] = "onecard.identity.ecard_issued"
    card_key: str
    issued_at: str


@registry.register
class SigningKeyPublished(DomainEvent):
    """A public key of our region for e-card codes (stream `signing-key-<kid>`), so services that
    accept codes (payments) can check them without calling identity. Recorded before the first
    code signed with the key is handed out."""

    event_type: ClassVar[str] = "onecard.identity.signing_key_published"
    region: str
    kid: str
    public_key: str  # base64 of the 32 raw Ed25519 bytes, as GET /identity/v1/keys
    published_at: str


class OfflineTap(BaseModel):
    """How a tap made at an offline validator was decided there, and what the platform found on
    upload (docs/offline-validators.md). The event's own `verified`/`reason` are the platform's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    terminal_sequence: int
    validator_verified: bool
    validator_reason: str | None
    bundle_version: int | None
    finding: str | None  # onecard_contracts.offline_taps.FINDINGS, None when both decisions agree
    uploaded_at: str


@registry.register
class VerificationRecorded(DomainEvent):
    event_type: ClassVar[str] = "onecard.identity.verification_recorded"
    verification_id: str
    venue_id: str
    terminal_id: str
    item_id: str
    jurisdiction: str
    method: Literal["physical", "electronic"]
    verified: bool
    reason: str | None
    issuer_region: str | None
    cross_region: bool
    partner_region: str | None
    holder_key: str | None
    occurred_at: str
    # The e-card code this verification used up (also when refused for the card, or replayed): the
    # keyed hash of its `iss:jti` (ADR 0012), which payments projects into its nonce table.
    code_use: str | None = None
    # Set on a tap uploaded by an offline validator (`occurred_at` is then the tap's time, however
    # late it arrives); None for a live verification. Optional: version-1 payloads stay valid.
    offline: OfflineTap | None = None
