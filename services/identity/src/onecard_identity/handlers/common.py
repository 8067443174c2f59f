"""Small helpers the handlers share."""

from __future__ import annotations

from datetime import UTC, datetime

from ..context import Identity
from ..domain.cards import card_subject, province_code


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def card_key(ctx: Identity, province: str, card_no: str) -> str:
    """Our key of any card (ours or a partner's): a keyed hash of its public subject, so it cannot
    be recomputed from a card number outside the platform."""
    return ctx.personal_data.keyed_hash(card_subject(province, card_no), "card")


def own_province(ctx: Identity) -> str:
    return province_code(ctx.region)


def card_stream(key: str) -> str:
    return f"card-{key}"
