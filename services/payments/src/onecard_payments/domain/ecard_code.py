"""Identity's dynamic e-card code, as payments reads it (format: docs/identity-qr.md).

A compact JWS signed with Ed25519: base64url(header) "." base64url(claims) "." base64url(sig),
header {"alg": "EdDSA", "typ": "onecard-qr", "kid"}, claims {iss, sub, reg, iat, exp, jti}. This
module only parses and checks; the keys and the cards come from payments' view of identity's events.
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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

QR_TTL_SECONDS = 60
CLOCK_SKEW_SECONDS = 5
TYP = "onecard-qr"
_REGION = re.compile(r"^\d{6}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


class CodeMalformed(ValueError):
    pass


@dataclass(frozen=True)
class Code:
    kid: str
    iss: str
    sub: str
    reg: str
    iat: int
    exp: int
    jti: str
    signing_input: bytes
    signature: bytes

    @property
    def nonce(self) -> str:
        """What single use is keyed on: the nonce is unique per issuing region."""
        return f"{self.iss}:{self.jti}"


def province_code(region: str) -> str:
    return region[:2] + "0000"


def card_subject(province: str, card_no: str) -> str:
    """The card's public reference, as identity computes it (the code's `sub`)."""
    digest = hashlib.sha256(f"onecard-card/v1|{province}|{card_no.upper()}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CodeMalformed("bad base64url") from exc


def parse(qr: str) -> Code:
    """Split and decode a code without trusting it yet."""
    parts = qr.strip().split(".")
    if len(parts) != 3 or len(qr) > 2048:
        raise CodeMalformed("not a compact JWS")
    try:
        header: Any = json.loads(_unb64(parts[0]))
        raw: Any = json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CodeMalformed("bad JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != "EdDSA" or header.get("typ") != TYP:
        raise CodeMalformed("unexpected header")
    kid = header.get("kid")
    if not isinstance(kid, str) or not _TOKEN.match(kid) or not isinstance(raw, dict):
        raise CodeMalformed("bad kid or claims")
    try:
        code = Code(
            kid=kid,
            iss=str(raw["iss"]),
            sub=str(raw["sub"]),
            reg=str(raw["reg"]),
            iat=int(raw["iat"]),
            exp=int(raw["exp"]),
            jti=str(raw["jti"]),
            signing_input=f"{parts[0]}.{parts[1]}".encode(),
            signature=_unb64(parts[2]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CodeMalformed("missing or bad claim") from exc
    if not (_REGION.match(code.iss) and _REGION.match(code.reg)):
        raise CodeMalformed("bad region code")
    if not (_TOKEN.match(code.sub) and _TOKEN.match(code.jti)):
        raise CodeMalformed("bad sub or jti")
    return code


def signature_valid(code: Code, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(code.signature, code.signing_input)
    except InvalidSignature:
        return False
    return True


def expired(code: Code, now: int) -> bool:
    """Outside [iat, exp) (allowing the issuer's clock a little skew), or valid longer than 60 s."""
    if code.exp - code.iat > QR_TTL_SECONDS or code.exp <= code.iat:
        return True
    return now >= code.exp or now + CLOCK_SKEW_SECONDS < code.iat
