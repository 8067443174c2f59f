"""Identity's cards and signing keys as payments sees them, and the e-card code reader built on them.

`IdentityView` is a projection fed by identity's events (`runtime.add_projection(.., ["identity"])`):
card registered / status changed / e-card issued, and signing key published. It keeps only
pseudonymous fields: identity's card key (a keyed hash of the card's public subject, the code's
`sub`), the bank's account reference and the holder key, both keyed hashes. A verification that
used an e-card code (`code_use`, the keyed hash of the code's `iss:jti`) puts it into
`ecard_nonces`, so the code no longer pays (one use platform-wide, docs/adr/0012).

`IdentityEcardReader` checks a code in identity's format (docs/identity-qr.md) against that view:
signature with our region's published key for the kid, expiry, then the card. Single use is
`payment_rows.consume_nonce`, an insert into `ecard_nonces` in the payment's own unit of work,
keyed by the code's use hash (`ecard_code.CODE_USE_PURPOSE`), as identity's are.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from onecard_contracts import ecard_code
from onecard_contracts.regions import province_of
from onecard_events.database import Database
from onecard_events.model import RecordedEvent
from onecard_events.sql import insert_for, upsert
from onecard_service.privacy import PersonalDataKeys
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.ports import CardState, EcardHolder, EcardRefusal
from .tables import ecard_nonces, identity_cards, identity_signing_keys


class IdentityView:
    """Keeps identity_cards and identity_signing_keys current from identity's events."""

    name = "payments_identity_view"

    async def apply(self, conn: AsyncConnection, event: RecordedEvent) -> None:
        d = event.data
        match event.event_type:
            case "onecard.identity.card_registered":
                row = {
                    "card_key": d["card_key"],
                    "account_ref": d.get("account_ref"),
                    "holder_key": d["holder_key"],
                    "issuer_region": d["issuer_region"],
                    "status": "active",
                    "ecard": False,
                }
                statement = insert_for(conn, identity_cards).values(**row)
                # A re-delivered registration must not undo a later status change or e-card.
                await conn.execute(statement.on_conflict_do_nothing(index_elements=["card_key"]))
            case "onecard.identity.card_status_changed":
                await conn.execute(
                    update(identity_cards)
                    .where(identity_cards.c.card_key == d["card_key"])
                    .values(status=d["status"])
                )
            case "onecard.identity.ecard_issued":
                await conn.execute(
                    update(identity_cards)
                    .where(identity_cards.c.card_key == d["card_key"])
                    .values(ecard=True)
                )
            case "onecard.identity.signing_key_published":
                row = {"region": d["region"], "kid": d["kid"], "public_key": d["public_key"]}
                await conn.execute(upsert(conn, identity_signing_keys, row, ["region", "kid"]))
            case "onecard.identity.verification_recorded" if d.get("code_use"):
                row = {"nonce": d["code_use"], "consumed_at": d["occurred_at"]}
                used = insert_for(conn, ecard_nonces).values(**row)
                await conn.execute(used.on_conflict_do_nothing(index_elements=["nonce"]))

    async def reset(self, conn: AsyncConnection) -> None:
        await conn.execute(delete(identity_cards))
        await conn.execute(delete(identity_signing_keys))
        # ecard_nonces stays: it also holds the codes payments used itself; a replay re-inserts nothing.


class IdentityEcardReader:
    """Reads identity's e-card codes for bill pull; also answers card status for card_account."""

    def __init__(
        self,
        db: Database,
        keys: PersonalDataKeys,
        region: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.keys = keys
        self.province = ecard_code.province_code(region)
        # Tests move it to check expiry.
        self.clock = clock
        self._public: dict[tuple[str, str], Ed25519PublicKey] = {}

    def code_use(self, code: ecard_code.UnverifiedQr) -> str:
        """What single use is keyed on, here and at identity: a keyed hash of `iss:jti`."""
        return self.keys.keyed_hash(ecard_code.code_use_input(code), ecard_code.CODE_USE_PURPOSE)

    def card_key(self, subject: str) -> str:
        """Identity's key of a card: a keyed hash of its public subject."""
        return self.keys.keyed_hash(subject, "card")

    async def read(self, qr: str) -> EcardHolder | EcardRefusal:
        try:
            code = ecard_code.parse_qr(qr)
        except ecard_code.QrMalformed:
            return EcardRefusal("qr_malformed")
        async with self.db.reads.connect() as conn:
            # Only our region's codes: a partner's card has no account payments could pull from.
            claims = code.claims
            if claims.iss != self.province or province_of(claims.reg) != province_of(claims.iss):
                return EcardRefusal("qr_bad_signature")
            key = await self._public_key(conn, claims.iss, code.kid)
            if key is None or not ecard_code.signature_valid(code, key):
                return EcardRefusal("qr_bad_signature")
            if ecard_code.time_refusal(claims, int(self.clock())) is not None:
                return EcardRefusal("qr_expired")
            card = (
                await conn.execute(
                    select(identity_cards).where(identity_cards.c.card_key == self.card_key(claims.sub))
                )
            ).first()
        # From here on the code itself is good: it is consumed whatever the card's state.
        used = self.code_use(code)
        if card is None:
            return EcardRefusal("unknown_card", used)
        if card.status in ("lost", "cancelled"):
            return EcardRefusal(f"card_{card.status}", used)
        if not card.ecard:
            return EcardRefusal("no_ecard", used)
        if card.account_ref is None:
            return EcardRefusal("no_card_account", used)
        return EcardHolder(card.holder_key, card.issuer_region, card.account_ref, used)

    async def card_state(self, card_no: str, issuer_region: str) -> CardState | None:
        subject = ecard_code.card_subject(ecard_code.province_code(issuer_region), card_no)
        async with self.db.reads.connect() as conn:
            row = (
                await conn.execute(
                    select(identity_cards.c.status, identity_cards.c.ecard).where(
                        identity_cards.c.card_key == self.card_key(subject)
                    )
                )
            ).first()
        return None if row is None else CardState(row.status, bool(row.ecard))

    async def _public_key(self, conn: AsyncConnection, region: str, kid: str) -> Ed25519PublicKey | None:
        cached = self._public.get((region, kid))
        if cached is not None:
            return cached
        text = (
            await conn.execute(
                select(identity_signing_keys.c.public_key).where(
                    identity_signing_keys.c.region == region, identity_signing_keys.c.kid == kid
                )
            )
        ).scalar()
        if text is None:
            return None
        try:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
        except (ValueError, binascii.Error):
            return None
        self._public[(region, kid)] = key
        return key
