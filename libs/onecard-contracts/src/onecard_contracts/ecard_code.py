"""The dynamic e-card code: a compact JWS (EdDSA / Ed25519) with a key id, valid 60 s, used once.

Format (docs/identity-qr.md): base64url(header) "." base64url(claims) "." base64url(signature), no
padding; header {"alg":"EdDSA","typ":"onecard-qr","kid":...}; claims {iss, sub, reg, iat, exp, jti}.
Any JOSE library of a partner region can produce and check it. Identity mints and verifies codes,
payments reads them for bill pull: both use this one definition of the format.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .regions import province_code as province_code

QR_TTL_SECONDS = 60
CLOCK_SKEW_SECONDS = 5
# One use platform-wide (docs/adr/0012): a code's use is known, in every nonce table and on every
# event that tells another service of it, by `keyed_hash(code_use_input(qr), CODE_USE_PURPOSE)`,
# never by its raw `iss:jti`.
CODE_USE_PURPOSE = "ecard-code-use"
TYP = "onecard-qr"
_REGION = re.compile(r"^\d{6}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


class QrMalformed(ValueError):
    pass


@dataclass(frozen=True)
class QrClaims:
    iss: str  # the issuing region's province code, e.g. "500000", "510000"
    sub: str  # card_subject(iss, card_no)
    reg: str  # the card's 6-digit issuer_region
    iat: int
    exp: int
    jti: str  # the nonce: a code is accepted once

    def as_dict(self) -> dict[str, Any]:
        return {
            "iss": self.iss,
            "sub": self.sub,
            "reg": self.reg,
            "iat": self.iat,
            "exp": self.exp,
            "jti": self.jti,
        }


@dataclass(frozen=True)
class UnverifiedQr:
    kid: str
    claims: QrClaims
    signing_input: bytes
    signature: bytes

    @property
    def nonce(self) -> str:
        """What single use is keyed on: a jti is unique per issuing region."""
        return f"{self.claims.iss}:{self.claims.jti}"


def code_use_input(qr: UnverifiedQr) -> str:
    """What a code's use is hashed from: its `iss:jti`, hex-encoded, since the platform's keyed
    hash folds case and a jti is case-sensitive base64url."""
    return qr.nonce.encode().hex()


def card_subject(province: str, card_no: str) -> str:
    """The public, issuer-independent reference of a card, carried as `sub` in e-card codes.

    Both regions compute it from the card number alone, so a partner's code and its hotlist meet
    on the same key without the card number travelling in either (docs/identity-qr.md).
    """
    digest = hashlib.sha256(f"onecard-card/v1|{province}|{card_no.upper()}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise QrMalformed("bad base64url") from exc


def _json(raw: bytes) -> Any:
    return json.loads(raw)


def sign_qr(claims: QrClaims, kid: str, key: Ed25519PrivateKey) -> str:
    header = {"alg": "EdDSA", "typ": TYP, "kid": kid}
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims.as_dict(), separators=(",", ":")).encode())
    signing_input = f"{head}.{body}".encode()
    return f"{head}.{body}.{_b64(key.sign(signing_input))}"


def parse_qr(qr: str) -> UnverifiedQr:
    """Split and decode a code without trusting it yet; QrMalformed when it is not one of ours."""
    parts = qr.strip().split(".")
    if len(parts) != 3 or len(qr) > 2048:
        raise QrMalformed("not a compact JWS")
    try:
        header, raw = _json(_unb64(parts[0])), _json(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise QrMalformed("bad JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != "EdDSA" or header.get("typ") != TYP:
        raise QrMalformed("unexpected header")
    kid = header.get("kid")
    if not isinstance(kid, str) or not _TOKEN.match(kid):
        raise QrMalformed("bad kid")
    return UnverifiedQr(kid, _claims(raw), f"{parts[0]}.{parts[1]}".encode(), _unb64(parts[2]))


def _claims(raw: Any) -> QrClaims:
    if not isinstance(raw, dict):
        raise QrMalformed("claims are not an object")
    try:
        claims = QrClaims(
            iss=str(raw["iss"]),
            sub=str(raw["sub"]),
            reg=str(raw["reg"]),
            iat=int(raw["iat"]),
            exp=int(raw["exp"]),
            jti=str(raw["jti"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise QrMalformed("missing or bad claim") from exc
    if not (_REGION.match(claims.iss) and _REGION.match(claims.reg)):
        raise QrMalformed("bad region code")
    if not (_TOKEN.match(claims.sub) and _TOKEN.match(claims.jti)):
        raise QrMalformed("bad sub or jti")
    return claims


def signature_valid(qr: UnverifiedQr, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(qr.signature, qr.signing_input)
    except InvalidSignature:
        return False
    return True


def time_refusal(claims: QrClaims, now: int) -> str | None:
    """`qr_expired` outside [iat, exp) (with a little skew for the issuer's clock) or when the
    issuer granted more than the 60 s the scheme allows."""
    if claims.exp - claims.iat > QR_TTL_SECONDS or claims.exp <= claims.iat:
        return "qr_expired"
    if now >= claims.exp or now + CLOCK_SKEW_SECONDS < claims.iat:
        return "qr_expired"
    return None
