"""Development helper (tests and demos only): a partner region's side of the e-card code.

A partner region (Sichuan, 510000) signs codes for its own cards with its own Ed25519 key; we check
them with the public key registered under PUT /identity/v1/partners/{region}/keys/{kid}.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from onecard_contracts.ecard_code import QR_TTL_SECONDS, QrClaims, sign_qr
from onecard_contracts.regions import province_code

from ..domain.cards import card_subject


@dataclass
class PartnerRegion:
    region: str = "510000"
    kid: str = "510000-dev-1"
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    def public_key_b64(self) -> str:
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def public_key_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def mint(
        self, card_no: str, issuer_region: str, *, now: int | None = None, ttl: int = QR_TTL_SECONDS
    ) -> str:
        """A code for one of this region's cards, as that region's e-card platform would show it."""
        return mint_qr(self.key, self.kid, card_no, issuer_region, now=now, ttl=ttl)


def mint_qr(
    key: Ed25519PrivateKey,
    kid: str,
    card_no: str,
    issuer_region: str,
    *,
    now: int | None = None,
    ttl: int = QR_TTL_SECONDS,
) -> str:
    iat = int(time.time()) if now is None else now
    province = province_code(issuer_region)
    claims = QrClaims(
        iss=province,
        sub=card_subject(province, card_no),
        reg=issuer_region,
        iat=iat,
        exp=iat + ttl,
        jti=secrets.token_urlsafe(16),
    )
    return sign_qr(claims, kid, key)
