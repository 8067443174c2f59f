"""E-card code checks without a platform: a partner region's codes as devtools mints them, their
signature, their time window and a code that is not one."""

from __future__ import annotations

import pytest
from onecard_contracts.ecard_code import QrMalformed, parse_qr, signature_valid, time_refusal
from onecard_identity.adapters.devtools import PartnerRegion, mint_qr
from onecard_identity.domain.cards import card_subject

NOW = 1_800_000_000


def test_a_partner_code_names_its_card_and_checks_with_its_key() -> None:
    partner = PartnerRegion()
    code = parse_qr(partner.mint("S12345678", "510100", now=NOW))
    assert code.kid == partner.kid
    claims = code.claims
    assert (claims.iss, claims.reg, claims.sub) == ("510000", "510100", card_subject("510000", "S12345678"))
    assert "S12345678" not in claims.sub
    assert signature_valid(code, partner.key.public_key())
    assert not signature_valid(code, PartnerRegion().key.public_key())
    assert time_refusal(claims, NOW + 30) is None


def test_time_window() -> None:
    partner = PartnerRegion()
    assert (
        time_refusal(parse_qr(partner.mint("S12345678", "510100", now=NOW)).claims, NOW + 61) == "qr_expired"
    )
    ahead = parse_qr(partner.mint("S12345678", "510100", now=NOW + 120)).claims
    assert time_refusal(ahead, NOW) == "qr_expired"
    long_lived = parse_qr(mint_qr(partner.key, partner.kid, "S12345678", "510100", now=NOW, ttl=3600)).claims
    assert time_refusal(long_lived, NOW) == "qr_expired"


def test_every_code_is_fresh_and_a_forgery_fails() -> None:
    partner = PartnerRegion()
    one, two = (partner.mint("S12345678", "510100", now=NOW) for _ in range(2))
    assert parse_qr(one).claims.jti != parse_qr(two).claims.jti
    head, claims, signature = one.split(".")
    forged = parse_qr(f"{head}.{claims}.{signature[:-4]}AAAA")
    assert not signature_valid(forged, partner.key.public_key())
    with pytest.raises(QrMalformed):
        parse_qr("not-a-code")
