"""The platform's bundle-signing key: made on the first bundle, kept encrypted like the e-card keys,
published at GET /identity/v1/keys with `use: "offline-bundle"` so a validator can check bundles."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from onecard_contracts.offline_bundle import BUNDLE_KEY_USE
from onecard_events.database import Database
from onecard_events.sql import insert_ignoring_duplicates
from onecard_events.times import utcnow
from onecard_service.privacy import PersonalDataKeys
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..keys import SigningKey, raw_public
from .tables import bundle_keys


class BundleKeys:
    def __init__(self, db: Database, personal_data: PersonalDataKeys, region: str) -> None:
        self.db = db
        self.personal_data = personal_data
        self.first_kid = f"{region}-bundle-k1"
        self._current: SigningKey | None = None

    async def current(self) -> SigningKey:
        if self._current is None:
            async with self.db.engine.begin() as conn:
                key = await self._stored(conn)
                if key is None:
                    await self._create(conn)
                    key = await self._stored(conn)
            assert key is not None
            self._current = key
        return self._current

    async def _stored(self, conn: AsyncConnection) -> SigningKey | None:
        query = select(bundle_keys).order_by(bundle_keys.c.created_at.desc()).limit(1)
        row = (await conn.execute(query)).first()
        if row is None:
            return None
        raw = self.personal_data.decrypt(row.private_key_enc, _context(row.kid))
        return SigningKey(row.kid, Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw)))

    async def _create(self, conn: AsyncConnection) -> None:
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        kid = self.first_kid
        secret = self.personal_data.encrypt(base64.b64encode(raw).decode(), _context(kid))
        # Replicas serving their first bundle together race; the loser reads the winner's key.
        await conn.execute(
            insert_ignoring_duplicates(conn, bundle_keys).values(
                kid=kid,
                private_key_enc=secret,
                public_key=raw_public(private.public_key()),
                created_at=utcnow(),
            )
        )


async def published_bundle_keys(db: Database, region: str) -> list[dict[str, str | bool]]:
    """The bundle keys as GET /identity/v1/keys lists them (none before the first bundle)."""
    async with db.reads.connect() as conn:
        rows = (await conn.execute(select(bundle_keys).order_by(bundle_keys.c.created_at))).all()
    return [
        {"region": region, "kid": r.kid, "public_key": r.public_key, "active": True, "use": BUNDLE_KEY_USE}
        for r in rows
    ]


def _context(kid: str) -> str:
    return f"identity:bundle-key:{kid}"
