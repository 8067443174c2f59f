"""Verifying a card at a venue: the hot path.

Reads happen on one pooled connection, released before the write; the write (event + nonce) goes
through the group committer, so concurrent verifications share one transaction and each answer
is given only once its record is durable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from onecard_service.auth import Principal
from onecard_service.problems import Problem, not_found
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters import queries
from ..context import Identity
from ..domain.cards import province_code
from ..domain.qr import QrClaims, QrMalformed, parse_qr, signature_valid, time_refusal
from ..domain.verification import (
    Method,
    Outcome,
    hotlist_refusal,
    origin_of,
    own_card_refusal,
    physical_format_refusal,
    recorded,
    refused,
)
from .common import card_key, rfc3339


@dataclass(frozen=True)
class CardRead:
    """What a terminal read from a physical card's chip."""

    card_no: str
    ssn: str
    name: str
    issuer_region: str


@dataclass(frozen=True)
class Verification:
    verification_id: str
    verified: bool
    reason: str | None
    holder_ref: str | None
    cross_region: bool


async def verify(
    ctx: Identity,
    caller: Principal,
    venue_id: str,
    terminal_id: str,
    method: Method,
    card: CardRead | None = None,
    qr: str | None = None,
) -> Verification:
    if not caller.may_use_venue(venue_id):
        raise Problem(403, "this client may not verify cards at that venue")
    async with ctx.db.engine.connect() as conn:
        where = await queries.venue_terminal(conn, venue_id, terminal_id)
        if where is None:
            raise not_found("venue", venue_id)
        if method not in where.card_forms:
            outcome = refused("no_terminal")
        elif card is not None:
            outcome = await _physical(ctx, conn, card)
        else:
            outcome = await _electronic(ctx, conn, qr or "")
    event = recorded(str(uuid.uuid4()), where, method, outcome, rfc3339(ctx.now()))
    final = await ctx.committer.submit(event, outcome.nonce, outcome.nonce_expires_at)
    ctx.metrics.observe(final)
    person = outcome.person_key
    return Verification(
        final.verification_id,
        final.verified,
        final.reason,
        ctx.personal_data.pseudonym(person, caller.client_id) if person else None,
        final.cross_region,
    )


async def _physical(ctx: Identity, conn: AsyncConnection, card: CardRead) -> Outcome:
    reason = physical_format_refusal(card.card_no, card.ssn, card.issuer_region)
    if reason:
        return refused(reason)
    pd = ctx.personal_data
    origin = origin_of(card.issuer_region, ctx.region, ctx.partners)
    region = card.issuer_region
    if origin.kind == "foreign":
        return refused("unknown_issuer", issuer_region=region)
    key = card_key(ctx, province_code(region), card.card_no)
    holder = pd.keyed_hash(card.ssn, "holder")
    if origin.kind == "partner":
        assert origin.partner_region is not None
        status = await queries.hotlist_status(conn, origin.partner_region, key)
        known = Outcome(True, None, region, origin.partner_region, holder, holder)
        return _refusal_or(known, hotlist_refusal(status))
    record = await queries.card_record(conn, key)
    reason = own_card_refusal(record, pd.keyed_hash(card.ssn, "ssn"))
    if record is None or reason in ("unknown_card", "ssn_mismatch"):
        return refused(reason or "unknown_card", issuer_region=region)
    known = Outcome(True, None, record.issuer_region, None, record.holder_key, record.holder_key)
    return _refusal_or(known, reason)


async def _electronic(ctx: Identity, conn: AsyncConnection, qr: str) -> Outcome:
    try:
        code = parse_qr(qr)
    except QrMalformed:
        return refused("qr_malformed")
    claims = code.claims
    origin = origin_of(claims.iss, ctx.region, ctx.partners)
    if origin.kind == "foreign" or province_code(claims.reg) != claims.iss:
        # A region signs only its own cards' codes.
        return refused("qr_bad_signature", issuer_region=claims.reg)
    public = await ctx.keys.public_key(conn, claims.iss, code.kid)
    if public is None or not signature_valid(code, public):
        return refused("qr_bad_signature", issuer_region=claims.reg)
    expired = time_refusal(claims, int(ctx.now().timestamp()))
    if expired:
        return refused(expired, issuer_region=claims.reg, partner_region=origin.partner_region)
    key = ctx.personal_data.keyed_hash(claims.sub, "card")
    if origin.kind == "partner":
        assert origin.partner_region is not None
        status = await queries.hotlist_status(conn, origin.partner_region, key)
        # A partner's code names no person we know; the card key stands in for the holder.
        known = Outcome(True, None, claims.reg, origin.partner_region, None, key)
        return _spends(claims, _refusal_or(known, hotlist_refusal(status)))
    record = await queries.card_record(conn, key)
    reason = own_card_refusal(record, None)
    if record is None:
        return _spends(claims, refused("unknown_card", issuer_region=claims.reg))
    known = Outcome(True, None, record.issuer_region, None, record.holder_key, record.holder_key)
    return _spends(claims, _refusal_or(known, reason))


def _refusal_or(known: Outcome, reason: str | None) -> Outcome:
    return known.refused_as(reason) if reason else known


def _spends(claims: QrClaims, outcome: Outcome) -> Outcome:
    """A genuine, current code is used up by this verification, whatever the card's status."""
    return replace(outcome, nonce=f"{claims.iss}:{claims.jti}", nonce_expires_at=claims.exp)
