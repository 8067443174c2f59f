"""Residents, cards and payees: valid resident ids (GB 11643 check character), card numbers."""

from __future__ import annotations

import uuid
from typing import Any

from onecard_service.privacy import ssn_check_character


def ssn(serial: int, region: str = "500106", born: str = "19900101") -> str:
    """A valid 18-character resident id: region, date of birth, `serial % 1000`, check character."""
    first17 = f"{region}{born}{serial % 1000:03d}"
    return first17 + ssn_check_character(first17)


def distinct_ssn(i: int, region: str = "500155") -> str:
    """A different valid resident id for every i up to about 12 million (the birth date varies)."""
    born = f"{1950 + i // 336_000}{1 + (i // 28_000) % 12:02d}{1 + (i // 1000) % 28:02d}"
    return ssn(i, region, born)


def card_no(serial: int, prefix: str = "C", digits: int = 8) -> str:
    return f"{prefix}{serial:0{digits}d}"


def card(
    serial: int,
    region: str = "500106",
    *,
    prefix: str = "C",
    name: str = "张三",
    born: str = "19900101",
    digits: int = 8,
) -> dict[str, str]:
    """A card as the APIs take it: card number, resident id, name, issuing region."""
    return {
        "card_no": card_no(serial, prefix, digits),
        "ssn": ssn(serial, region, born),
        "name": name,
        "issuer_region": region,
    }


def person(
    i: int, *, ref: str | None = None, amount: int = 10_000, channel: str = "card_account"
) -> dict[str, Any]:
    """A disbursement payee row; every i a different person."""
    return {
        "reference_id": ref or f"R{uuid.uuid4().hex[:12]}",
        "ssn": distinct_ssn(i),
        "card_no": card_no(i),
        "name": f"王小明{i}",
        "amount_fen": amount,
        "channel": channel,
    }
