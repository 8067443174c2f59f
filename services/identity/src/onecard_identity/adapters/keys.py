"""Ed25519 keys for e-card codes: our region's signing keys and partner regions' public keys.

Signing keys are generated once and kept (encrypted) in the identity database, so every replica
signs with the same key and checks every other replica's codes; rotation adds a key under a new
kid and keeps the old ones verifying. Lookups are cached briefly and reloaded on a miss, so a key
added on another replica is found at once. Writes run on the caller's connection (a handler's unit
of work, handlers/keys.py and handlers/partners.py); the caches change once it has committed.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from onecard_events.database import Database
from onecard_events.sql import insert_ignoring_duplicates, upsert
from onecard_events.times import utcnow
from onecard_service.privacy import PersonalDataKeys
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import partner_keys, signing_keys

CACHE_SECONDS = 30.0
MISS_SECONDS = 1.0


class BadPublicKey(ValueError):
    pass


def raw_public(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A partner's key as base64 of the 32 raw bytes, or as a PEM SubjectPublicKeyInfo."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
            if isinstance(key, Ed25519PublicKey):
                return key
            raise BadPublicKey("not an Ed25519 public key")
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise BadPublicKey("not an Ed25519 public key (base64 of 32 raw bytes or PEM)") from exc


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: Ed25519PrivateKey


class KeyRing:
    def __init__(self, db: Database, personal_data: PersonalDataKeys, region: str) -> None:
        self.db = db
        self.personal_data = personal_data
        self.region = region
        self._signing: tuple[SigningKey, float] | None = None
        self._public: dict[tuple[str, str], tuple[Ed25519PublicKey | None, float]] = {}
        # Kids whose SigningKeyPublished this process has seen stored.
        self.published_kids: set[str] = set()

    # -- our region -------------------------------------------------------------------------

    def cached_signing_key(self) -> SigningKey | None:
        cached = self._signing
        if cached and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        return None

    def remember_signing_key(self, key: SigningKey) -> None:
        """Cache `key` (once the transaction that read or made it has committed)."""
        self._signing = (key, time.monotonic())

    async def current_signing_key(self, conn: AsyncConnection) -> SigningKey:
        """The newest active signing key, made on first use."""
        return await self._newest_active(conn) or await self._create(conn, f"{self.region}-k1")

    async def rotate(self, conn: AsyncConnection) -> SigningKey:
        """A new signing key; earlier ones stay valid for checking codes already shown."""
        await conn.execute(update(signing_keys).values(active=False))
        return await self._create(conn, f"{self.region}-{uuid.uuid4().hex[:10]}")

    async def published(self) -> list[dict[str, str | bool]]:
        """Our public keys, for partner regions to check our codes."""
        async with self.db.reads.connect() as conn:
            rows = (await conn.execute(select(signing_keys).order_by(signing_keys.c.created_at))).all()
        return [
            {"region": r.region, "kid": r.kid, "public_key": r.public_key, "active": bool(r.active)}
            for r in rows
        ]

    async def _newest_active(self, conn: AsyncConnection) -> SigningKey | None:
        row = (
            await conn.execute(
                select(signing_keys.c.kid, signing_keys.c.private_key_enc)
                .where(signing_keys.c.active.is_(True))
                .order_by(signing_keys.c.created_at.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            return None
        raw = self.personal_data.decrypt(row.private_key_enc, _context(row.kid))
        return SigningKey(row.kid, Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw)))

    async def _create(self, conn: AsyncConnection, kid: str) -> SigningKey:
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        row = {
            "kid": kid,
            "region": self.region,
            "private_key_enc": self.personal_data.encrypt(base64.b64encode(raw).decode(), _context(kid)),
            "public_key": raw_public(private.public_key()),
            "created_at": utcnow(),
            "active": True,
        }
        # Replicas starting together race to create the first key; the loser reads the winner's.
        await conn.execute(insert_ignoring_duplicates(conn, signing_keys).values(**row))
        found = await self._newest_active(conn)
        assert found is not None
        return found

    # -- checking codes ------------------------------------------------------------------------

    async def public_key(
        self, region: str, kid: str, conn: AsyncConnection | None = None
    ) -> Ed25519PublicKey | None:
        """Cached; on a miss read on `conn` if given (on SQLite a second connection would wait for
        the caller's lock), else on a connection of its own."""
        cached = self._public.get((region, kid))
        now = time.monotonic()
        if cached and now - cached[1] < (CACHE_SECONDS if cached[0] else MISS_SECONDS):
            return cached[0]
        if conn is not None:
            key = await self._load_public(conn, region, kid)
        else:
            async with self.db.reads.connect() as own:
                key = await self._load_public(own, region, kid)
        self._public[(region, kid)] = (key, now)
        return key

    async def _load_public(self, conn: AsyncConnection, region: str, kid: str) -> Ed25519PublicKey | None:
        if region == self.region:
            query = select(signing_keys.c.public_key).where(signing_keys.c.kid == kid)
        else:
            query = select(partner_keys.c.public_key).where(
                partner_keys.c.region == region, partner_keys.c.kid == kid
            )
        text = (await conn.execute(query)).scalar()
        return parse_public_key(text) if text else None

    async def put_partner_key(
        self, conn: AsyncConnection, region: str, kid: str, key: Ed25519PublicKey
    ) -> None:
        row = {"region": region, "kid": kid, "public_key": raw_public(key), "updated_at": utcnow()}
        await conn.execute(upsert(conn, partner_keys, row, ["region", "kid"]))

    def forget_public_key(self, region: str, kid: str) -> None:
        """Drop a cached key (once its change has committed)."""
        self._public.pop((region, kid), None)


def _context(kid: str) -> str:
    return f"identity:signing-key:{kid}"
