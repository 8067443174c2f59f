"""Registering cards, changing their status, issuing e-cards and their dynamic codes."""

from __future__ import annotations

import secrets
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from onecard_events.model import NewEvent
from onecard_events.store import NO_STREAM, ConcurrencyError
from onecard_service.ecard_code import QR_TTL_SECONDS, QrClaims, sign_qr
from onecard_service.privacy import mask_card_no, mask_name, mask_ssn
from onecard_service.problems import Problem, conflict, not_found

from ..adapters import queries
from ..adapters.keys import KeyRing, SigningKey, raw_public
from ..context import Identity
from ..domain.cards import Card, CardRuleBroken, Status, card_field_errors, card_subject, province_of
from ..domain.events import CardRegistered, SigningKeyPublished
from .common import card_key, card_stream, own_province, rfc3339


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


def _check_new_card(ctx: Identity, card_no: str, ssn: str, name: str, issuer_region: str) -> None:
    errors = card_field_errors(card_no, ssn, name, issuer_region)
    if not errors and province_of(issuer_region) != province_of(ctx.region):
        errors.append({"field": "issuer_region", "message": f"must lie in this region ({ctx.region})"})
    if errors:
        raise Problem(
            422,
            "the card is not valid",
            title="Validation failed",
            type_="urn:onecard:problem:validation",
            errors=errors,
        )


async def register_card(ctx: Identity, card_no: str, ssn: str, name: str, issuer_region: str) -> CardView:
    _check_new_card(ctx, card_no, ssn, name, issuer_region)
    key = card_key(ctx, own_province(ctx), card_no)
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
    async with ctx.db.engine.begin() as conn:
        if await queries.card_row(conn, key) is not None:
            raise conflict("this card is registered already")
        await ctx.store.append(conn, card_stream(key), [event], NO_STREAM)
        await queries.insert_card(conn, row)
    return CardView(
        mask_card_no(card_no), mask_ssn(ssn), mask_name(name), issuer_region, "active", ecard=False
    )


async def _change(ctx: Identity, card_no: str, status: Status | None = None) -> CardView:
    """Load the card's stream, let the aggregate decide, append and update the row together.
    With a status: change to it; without: issue the e-card."""
    key = card_key(ctx, own_province(ctx), card_no)
    at = rfc3339(ctx.now())
    async with ctx.db.engine.begin() as conn:
        history, version = await ctx.store.load(conn, card_stream(key))
        card = Card.from_events(history)
        if card is None:
            raise not_found("card", mask_card_no(card_no))
        try:
            new = card.change_status(status, at) if status is not None else card.issue_ecard(at)
        except CardRuleBroken as exc:
            raise conflict(str(exc)) from None
        if new:
            await ctx.store.append(conn, card_stream(key), new, version)
            after = Card.from_events([*history, *new])
            assert after is not None
            await queries.update_card(
                conn,
                key,
                status=after.status,
                ecard=after.ecard,
                version=version + len(new),
                updated_at=ctx.now(),
            )
        row = await queries.card_row(conn, key)
    return _view(ctx, row)


async def change_status(ctx: Identity, card_no: str, status: Status) -> CardView:
    return await _change(ctx, card_no, status)


async def issue_ecard(ctx: Identity, card_no: str) -> CardView:
    return await _change(ctx, card_no)


async def show_card(ctx: Identity, card_no: str) -> CardView:
    key = card_key(ctx, own_province(ctx), card_no)
    async with ctx.db.engine.connect() as conn:
        row = await queries.card_row(conn, key)
    if row is None:
        raise not_found("card", mask_card_no(card_no))
    return _view(ctx, row)


async def issue_code(ctx: Identity, card_no: str) -> Code:
    """A fresh dynamic code for the holder's e-card: signed, 60 s, with a random nonce."""
    province = own_province(ctx)
    key = card_key(ctx, province, card_no)
    async with ctx.db.engine.connect() as conn:
        record = await queries.card_record(conn, key)
    if record is None:
        raise not_found("card", mask_card_no(card_no))
    try:
        Card(key, record.status, record.ecard).check_can_show_code()
    except CardRuleBroken as exc:
        raise conflict(str(exc)) from None
    signing = await ctx.keys.signing_key()
    await _publish_key(ctx, signing)
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


# Kids whose SigningKeyPublished this process has seen stored, per key ring (one per service).
_published: weakref.WeakKeyDictionary[KeyRing, set[str]] = weakref.WeakKeyDictionary()


async def _publish_key(ctx: Identity, signing: SigningKey) -> None:
    """Record the public key as an event before the first code signed with it leaves, so services
    that accept codes (payments) learn it from identity's stream. Once per kid and process: the
    deterministic event id makes a repeat (another replica, a restart) a no-op."""
    done = _published.setdefault(ctx.keys, set())
    if signing.kid in done:
        return
    event = SigningKeyPublished(
        region=own_province(ctx),  # the `iss` of the codes it signs
        kid=signing.kid,
        public_key=raw_public(signing.key.public_key()),
        published_at=rfc3339(ctx.now()),
    )
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"onecard:identity:signing-key:{ctx.region}:{signing.kid}"))
    try:
        async with ctx.db.engine.begin() as conn:
            await ctx.store.append(
                conn, f"signing-key-{signing.kid}", [NewEvent(event, event_id=event_id)], NO_STREAM
            )
    except ConcurrencyError:
        pass  # another replica recorded it at the same moment
    done.add(signing.kid)
