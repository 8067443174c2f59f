"""Events the reporting service records: what the partner regions told us, validated.

Partner streams come in through Kafka; reporting keeps what it accepted in its own store, so the
depth projection (and a rebuild) reads them like any other event, and identity can follow the
partner hotlists from `onecard.reporting.partner_hotlist_changed`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from onecard_events.model import DomainEvent
from onecard_events.registry import EventRegistry

registry = EventRegistry()


@registry.register
class PartnerCardUsed(DomainEvent):
    """A partner region reported one of our cards used there (outbound cross-region use)."""

    event_type: ClassVar[str] = "onecard.reporting.partner_card_used"
    region: str
    partner_event_id: str
    kind: Literal["verification", "payment"]
    item_id: str
    issuer_region: str
    method: str
    holder_ref: str | None = None
    occurred_at: str


@registry.register
class PartnerHotlistChanged(DomainEvent):
    """A partner region's card was reported lost or cancelled (or reactivated)."""

    event_type: ClassVar[str] = "onecard.reporting.partner_hotlist_changed"
    region: str
    card_key: str
    status: Literal["lost", "cancelled", "active"]
