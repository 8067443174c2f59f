"""SimulatedEcardWallet: the e-card wallet side, simulated behind `EcardCodeReader`.

In production the e-card code is minted and signed by the identity service (or a partner
region's platform) and payments would verify it with their published keys; that wiring is
pending. Until then, in the embedded mode and in tests, this wallet both issues codes and reads
them: an Ed25519-signed payload naming the payer pseudonymously, valid 60 seconds, usable once.
The signing key is derived from the platform's personal-data key, so every process of one
deployment (and a test holding the same key) agrees on it.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from onecard_events.database import Database
from onecard_events.model import utcnow
from onecard_service.privacy import PersonalDataKeys
from sqlalchemy.exc import IntegrityError

from ..domain.ports import EcardHolder, EcardRefusal
from ..tables import ecard_codes_used

PREFIX = "SIMEC1"
VALIDITY_S = 60


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SimulatedEcardWallet:
    def __init__(self, keys: PersonalDataKeys, db: Database | None = None) -> None:
        seed = bytes.fromhex(keys.keyed_hash("simulated-ecard-wallet", "simulated-ecard"))
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = self._key.public_key()
        self.db = db

    def issue(self, payer_key: str, issuer_region: str, account_ref: str, *, now: float | None = None) -> str:
        """A dynamic code for the holder (what the wallet app would display)."""
        payload = {
            "cid": uuid.uuid4().hex,
            "pk": payer_key,
            "rg": issuer_region,
            "ac": account_ref,
            "exp": int((now or time.time()) + VALIDITY_S),
        }
        body = _b64(orjson.dumps(payload))
        return f"{PREFIX}.{body}.{_b64(self._key.sign(body.encode()))}"

    async def read(self, qr: str) -> EcardHolder | EcardRefusal:
        payload = self._verified_payload(qr)
        if isinstance(payload, EcardRefusal):
            return payload
        if payload["exp"] < time.time():
            return EcardRefusal("qr_expired")
        if not await self._use_once(str(payload["cid"])):
            return EcardRefusal("qr_reused")
        return EcardHolder(str(payload["pk"]), str(payload["rg"]), str(payload["ac"]))

    def _verified_payload(self, qr: str) -> dict[str, Any] | EcardRefusal:
        parts = qr.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            return EcardRefusal("qr_malformed")
        try:
            self._public.verify(_unb64(parts[2]), parts[1].encode())
        except (InvalidSignature, binascii.Error, ValueError):
            return EcardRefusal("qr_bad_signature")
        try:
            payload = orjson.loads(_unb64(parts[1]))
        except (orjson.JSONDecodeError, binascii.Error, ValueError):
            return EcardRefusal("qr_malformed")
        if not isinstance(payload, dict) or not {"cid", "pk", "rg", "ac", "exp"} <= payload.keys():
            return EcardRefusal("qr_malformed")
        return payload

    async def _use_once(self, code_id: str) -> bool:
        """Marks the code used; False when it was used before (a replayed screenshot)."""
        if self.db is None:
            raise RuntimeError("reading codes needs the payments database")
        try:
            async with self.db.engine.begin() as conn:
                await conn.execute(
                    ecard_codes_used.insert().values(code_id=code_id, used_at=utcnow().isoformat())
                )
        except IntegrityError:
            return False
        return True
