"""Personal data: keyed hashes for comparison, encryption at rest, masking, pseudonyms.

An ssn, a card number or a name never leaves a service in clear: events and responses carry keyed
hashes or per-recipient pseudonyms; logs are masked (and a log filter masks anything that looks
like an identity number as a last line of defence).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SSN_PATTERN = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[0-9Xx](?![0-9A-Za-z])"
)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def ssn_check_character(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of GB 11643 (the resident identity number)."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def ssn_is_valid(ssn: str) -> bool:
    if len(ssn) != 18 or not ssn[:17].isdigit():
        return False
    return ssn[17].upper() == ssn_check_character(ssn[:17])


def mask_ssn(ssn: str) -> str:
    return ssn[:3] + "*" * 11 + ssn[-4:] if len(ssn) == 18 else "*" * len(ssn)


def mask_card_no(card_no: str) -> str:
    return card_no[:1] + "*" * max(0, len(card_no) - 3) + card_no[-2:] if len(card_no) > 3 else "***"


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


class PersonalDataKeys:
    """Keys derived from one master secret, one per purpose, so a leak of one use leaks no other."""

    def __init__(self, master: bytes) -> None:
        if len(master) < 32:
            raise ValueError("the personal-data master key must be at least 32 bytes")
        self._master = master
        self._derived: dict[str, bytes] = {}
        self._aead: AESGCM | None = None

    def _derive(self, purpose: str) -> bytes:
        key = self._derived.get(purpose)
        if key is None:
            key = self._derived[purpose] = hmac.new(self._master, purpose.encode(), hashlib.sha256).digest()
        return key

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            self._aead = AESGCM(self._derive("encrypt"))
        return self._aead

    def keyed_hash(self, value: str, purpose: str = "lookup") -> str:
        """Deterministic, keyed: equal inputs compare equal, yet the value cannot be recovered."""
        return hmac.new(self._derive(purpose), value.upper().encode(), hashlib.sha256).hexdigest()

    def pseudonym(self, person: str, recipient: str) -> str:
        """A holder reference stable per recipient (venue system, partner) and unlinkable across them."""
        digest = hmac.new(
            self._derive("pseudonym"), f"{recipient}|{person}".encode(), hashlib.sha256
        ).digest()
        return "h_" + base64.b32encode(digest[:15]).decode().lower()

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._cipher().encrypt(nonce, plaintext.encode(), context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, context: str) -> str:
        raw = base64.urlsafe_b64decode(token.encode())
        return self._cipher().decrypt(raw[:12], raw[12:], context.encode()).decode()


class RedactingFilter(logging.Filter):
    """Masks identity numbers in any log record, whatever the code logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if SSN_PATTERN.search(message):
            record.msg = SSN_PATTERN.sub(lambda m: mask_ssn(m.group(0)), message)
            record.args = ()
        return True
