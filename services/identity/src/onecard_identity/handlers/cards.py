"""Registering cards, changing their status, issuing e-cards and their dynamic codes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from onecard_contracts.ecard_code import QR_TTL_SECONDS, QrClaims, sign_qr
from onecard_events.times import rfc3339
from onecard_service.privacy import mask_card_no, mask_name, mask_ssn
from onecard_service.problems import Problem, not_found

from ..adapters import queries
from ..adapters.context import Identity
from ..adapters.offline.hotlist import note_change
from ..domain.cards import Card, Status, card_stream, card_subject, check_new_card
from ..domain.events import CardRegistered
from .keys import signing_key


@dataclass(frozen=True)
class CardView:
    """A card as answered: personal fields masked."""

    card_no: str
    ssn: str
    name: str
    issuer_region: str
    status: str
    ecard: bool


@dataclass(frozen=True)
class Code:
    qr: str
    expires_at: str


def _view(ctx: Identity, row: Any) -> CardView:
    def clear(column: str) -> str:
        return ctx.personal_data.decrypt(getattr(row, f"{column}_enc"), _context(row.card_key, column))

    return CardView(
        card_no=mask_card_no(clear("card_no")),
        ssn=mask_ssn(clear("ssn")),
        name=mask_name(clear("name")),
        issuer_region=row.issuer_region,
        status=row.status,
        ecard=bool(row.ecard),
    )


def _context(key: str, column: str) -> str:
    # Binds each ciphertext to its row and column: a value copied elsewhere does not decrypt.
    return f"identity:card:{key}:{column}"


def _unknown(card_no: str) -> Problem:
    return not_found("card", mask_card_no(card_no))


async def register_card(ctx: Identity, card_no: str, ssn: str, name: str, issuer_region: str) -> CardView:
    check_new_card(card_no, ssn, name, issuer_region, ctx.region)
    key = ctx.card_key(ctx.province, card_no)
    pd = ctx.personal_data
    now = ctx.now()
    event = CardRegistered(
        card_key=key,
        issuer_region=issuer_region,
        ssn_hash=pd.keyed_hash(ssn, "ssn"),
        name_hash=pd.keyed_hash(name, "name"),
        holder_key=pd.keyed_hash(ssn, "holder"),
        registered_at=rfc3339(now),
        account_ref=pd.keyed_hash(card_no, "card-account"),
    )
    row = {
        "card_key": key,
        "issuer_region": issuer_region,
        "status": "active",
        "ecard": False,
        "ssn_hash": event.ssn_hash,
        "holder_key": event.holder_key,
        "card_no_enc": pd.encrypt(card_no, _context(key, "card_no")),
        "ssn_enc": pd.encrypt(ssn.upper(), _context(key, "ssn")),
        "name_enc": pd.encrypt(name, _context(key, "name")),
        "version": 1,
        "updated_at": now,
    }
    async with ctx.store.unit_of_work() as uow:
        card = await uow.get(card_stream(key), Card(key))
        card.register(event)
        await queries.insert_card(uow.connection, row)
        await uow.save()
    return CardView(
        mask_card_no(card_no), mask_ssn(ssn), mask_name(name), issuer_region, "active", ecard=False
    )


async def _change(ctx: Identity, card_no: str, status: Status | None = None) -> CardView:
    """Load the card, let it decide, append its events and update its row together.
    With a status: change to it; without: issue the e-card."""
    key = ctx.card_key(ctx.province, card_no)
    at = rfc3339(ctx.now())
    async with ctx.store.unit_of_work() as uow:
        card = await uow.get(card_stream(key), Card(key))
        if not card.registered:
            raise _unknown(card_no)
        if status is not None:
            card.change_status(status, at)
        else:
            card.issue_ecard(at)
        if await uow.flush():
            await queries.update_card(
                uow.connection,
                key,
                status=card.status,
                ecard=card.ecard,
                version=card.version,
                updated_at=ctx.now(),
            )
            if status is not None:  # for offline validators' bundles (docs/offline-validators.md)
                subject = card_subject(ctx.province, card_no)
                await note_change(uow.connection, ctx.personal_data, ctx.province, subject, status, ctx.now())
        row = await queries.card_row(uow.connection, key)
        await uow.save()
    return _view(ctx, row)


async def change_status(ctx: Identity, card_no: str, status: Status) -> CardView:
    return await _change(ctx, card_no, status)


async def issue_ecard(ctx: Identity, card_no: str) -> CardView:
    return await _change(ctx, card_no)


async def show_card(ctx: Identity, card_no: str) -> CardView:
    key = ctx.card_key(ctx.province, card_no)
    row = await queries.stored_card_row(ctx.db, key)
    if row is None:
        raise _unknown(card_no)
    return _view(ctx, row)


async def issue_code(ctx: Identity, card_no: str) -> Code:
    """A fresh dynamic code for the holder's e-card: signed, 60 s, with a random nonce."""
    province = ctx.province
    key = ctx.card_key(province, card_no)
    record = await queries.stored_card_record(ctx.db, key)
    if record is None:
        raise _unknown(card_no)
    Card(key, record.status, record.ecard).check_can_show_code()
    signing = await signing_key(ctx)
    now = int(ctx.now().timestamp())
    claims = QrClaims(
        iss=province,
        sub=card_subject(province, card_no),
        reg=record.issuer_region,
        iat=now,
        exp=now + QR_TTL_SECONDS,
        jti=secrets.token_urlsafe(16),
    )
    expires = datetime.fromtimestamp(claims.exp, UTC)
    return Code(sign_qr(claims, signing.kid, signing.key), rfc3339(expires))
