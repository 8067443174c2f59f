"""Which partner region a cross-region event concerns (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from onecard_contracts.regions import province_code
from onecard_events.model import RecordedEvent


def partner_of(record: RecordedEvent, partners: Sequence[str]) -> str | None:
    d = record.data
    if not d.get("cross_region"):
        return None
    if record.event_type == "onecard.identity.verification_recorded":
        region = d.get("partner_region") or province_code(d.get("issuer_region") or "")
    elif record.event_type == "onecard.payments.payment_settled":
        region = province_code(d.get("issuer_region") or "")
    else:
        return None
    return region if region in partners else None
