"""Deciding a tap offline from a bundle, and what the platform finds when it re-checks it.

A validator's rules (docs/offline-validators.md), in order, the first failure being the refusal:
no bundle, or the tap outside the bundle's window (± skew) -> `bundle_expired`; then, for a code,
the checks of docs/identity-qr.md with the bundle's keys and the offline clock-skew tolerance
(`qr_malformed`, `qr_bad_signature`, `qr_expired`), the validator's own single-use cache
(`qr_reused`), and the hotlist by card subject (`card_lost`, `card_cancelled` for ours,
`partner_hotlisted` for a partner's); for a physical card the card number's form, the issuer's
province (`invalid_card`, `unknown_issuer`) and the hotlist. Only the platform knows whether a card
exists, carries an e-card or belongs to the ssn: it re-checks every tap on upload.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .ecard_code import QR_TTL_SECONDS, QrClaims, QrMalformed, card_subject, parse_qr, signature_valid
from .offline_bundle import Bundle
from .regions import province_code

# What the platform finds where the validator's decision and its own differ (or where only the
# whole picture shows something): one finding per tap at most, the first that applies.
Finding = Literal[
    "bad_signature",  # the validator accepted a code whose signature does not verify
    "outside_bundle_validity",  # accepted on a bundle the tap's time lies outside (or no bundle)
    "code_used_twice",  # the code was used before, at another validator or online
    "hotlisted_after_bundle",  # the card was hotlisted before the tap, after the tap's bundle
    "decision_differs",  # any other difference between the two decisions
]
FINDINGS: tuple[Finding, ...] = (
    "bad_signature",
    "outside_bundle_validity",
    "code_used_twice",
    "hotlisted_after_bundle",
    "decision_differs",
)
_CARD_NO = re.compile(r"^[0-9A-Z]{9}$")
_REGION = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class OfflineDecision:
    accepted: bool
    reason: str | None
    nonce: str | None = None  # the code's `iss:jti`, for the validator's single-use cache


def offline_time_refusal(claims: QrClaims, now: int, skew: int) -> str | None:
    """`qr_expired` unless iat - skew <= now < exp + skew (and the issuer granted ≤ 60 s)."""
    if claims.exp - claims.iat > QR_TTL_SECONDS or claims.exp <= claims.iat:
        return "qr_expired"
    if now >= claims.exp + skew or now + skew < claims.iat:
        return "qr_expired"
    return None


def public_key_of(bundle: Bundle, iss: str, kid: str) -> Ed25519PublicKey | None:
    for key in bundle.code_keys:
        if key.iss == iss and key.kid == kid:
            try:
                return Ed25519PublicKey.from_public_bytes(base64.b64decode(key.public_key))
            except (ValueError, binascii.Error):
                return None
    return None


def _hotlist_refusal(bundle: Bundle, iss: str, subject: str) -> str | None:
    status = bundle.hotlisted(subject)
    if status is None:
        return None
    if iss != bundle.iss:
        return "partner_hotlisted"
    return "card_lost" if status == "lost" else "card_cancelled"


def decide_code(bundle: Bundle | None, qr: str, now: int, used: Callable[[str], bool]) -> OfflineDecision:
    """A code shown at an offline validator; `used(nonce)` asks its single-use cache."""
    if bundle is None or not bundle.valid_at(now):
        return OfflineDecision(False, "bundle_expired")
    try:
        code = parse_qr(qr)
    except QrMalformed:
        return OfflineDecision(False, "qr_malformed")
    claims = code.claims
    key = public_key_of(bundle, claims.iss, code.kid)
    if province_code(claims.reg) != claims.iss or key is None or not signature_valid(code, key):
        return OfflineDecision(False, "qr_bad_signature")
    expired = offline_time_refusal(claims, now, bundle.skew)
    if expired:
        return OfflineDecision(False, expired)
    if used(code.nonce):
        return OfflineDecision(False, "qr_reused", code.nonce)
    refusal = _hotlist_refusal(bundle, claims.iss, claims.sub)
    return OfflineDecision(refusal is None, refusal, code.nonce)


def decide_card(bundle: Bundle | None, card_no: str, issuer_region: str, now: int) -> OfflineDecision:
    """A physical card read at an offline validator (its chip authenticated by the terminal)."""
    if bundle is None or not bundle.valid_at(now):
        return OfflineDecision(False, "bundle_expired")
    if not _CARD_NO.match(card_no) or not _REGION.match(issuer_region):
        return OfflineDecision(False, "invalid_card")
    iss = province_code(issuer_region)
    if iss not in bundle.regions:
        return OfflineDecision(False, "unknown_issuer")
    refusal = _hotlist_refusal(bundle, iss, card_subject(iss, card_no))
    return OfflineDecision(refusal is None, refusal)
