"""Verifying a card at a venue: the hot path.

A verification makes no database round trip of its own: the venue and terminal come from a cache
(adapters/venues.py), public keys from the key ring's cache, and everything that depends on the
card's current status (our card's row, a partner's hotlist) is read by the group committer in the
transaction that records the verification, for the whole batch at once (adapters/group_commit.py).
So a card reported lost or cancelled is refused by the next batch, on this replica and every other.

A venue that lost an answer retries with the same `Idempotency-Key` and is told the first answer;
nothing is recorded twice (the key is claimed in the batch's transaction, adapters/group_commit.py).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace

import orjson
from onecard_contracts.ecard_code import (
    CODE_USE_PURPOSE,
    QrClaims,
    QrMalformed,
    code_use_input,
    parse_qr,
    signature_valid,
    time_refusal,
)
from onecard_contracts.regions import province_code
from onecard_events import consistency
from onecard_events.times import rfc3339
from onecard_service.auth import Principal
from onecard_service.idempotency import check_key
from onecard_service.problems import Problem, not_found

from ..adapters.context import Identity
from ..adapters.group_commit import Decision, Reads, RequestKey
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
    idempotency_key: str | None = None,
) -> Verification:
    check_key(idempotency_key)
    if not caller.may_use_venue(venue_id):
        raise Problem(403, "this client may not verify cards at that venue")
    where = await ctx.venues.get(venue_id, terminal_id)
    if where is None or method not in where.card_forms:
        # Refused on the catalogue view's word: only once it has what the catalog has now.
        await ctx.views.catch_up("catalog")
        where = await ctx.venues.get(venue_id, terminal_id, fresh=True)
    if where is None:
        raise not_found("venue", venue_id)
    if method not in where.card_forms:
        decision = Decision(refused("no_terminal"))
    elif card is not None:
        decision = _physical(ctx, card)
    else:
        decision = await _electronic(ctx, qr or "")
    verification_id, occurred_at = str(uuid.uuid4()), rfc3339(ctx.now())
    request = None
    if idempotency_key is not None:
        body: dict[str, object] = {"at": [venue_id, terminal_id], "method": method, "card": card, "qr": qr}
        request = RequestKey(f"{KEY_SCOPE}{caller.client_id}", idempotency_key, _digest(ctx, body))
    answer = await ctx.committer.submit(
        decision, lambda outcome: recorded(verification_id, where, method, outcome, occurred_at), request
    )
    if answer.recorded is not None:
        ctx.metrics.observe(answer.recorded)
    if answer.position is not None:
        consistency.note_stream("identity", f"verification-{answer.verification_id}", answer.position)
    # The venue is answered at commit, not once on Kafka. Payments' one refusal that rests on a
    # verification (`qr_reused` for a code used here, ADR 0012) is a 201 declined within its
    # projection's lag; a client that sends this answer's token on is still answered after it.
    consistency.answer_early()
    person = answer.person_key
    return Verification(
        answer.verification_id,
        answer.verified,
        answer.reason,
        ctx.personal_data.pseudonym(person, caller.client_id) if person else None,
        answer.cross_region,
    )


KEY_SCOPE = "verification:"


def _digest(ctx: Identity, body: dict[str, object]) -> str:
    """A keyed digest of the request: it is kept with the key, and the body names a person."""
    plain = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)  # a CardRead as its fields
    return ctx.personal_data.keyed_hash(hashlib.sha256(plain).hexdigest(), "idempotency")


def _physical(ctx: Identity, card: CardRead) -> Decision:
    reason = physical_format_refusal(card.card_no, card.ssn, card.issuer_region)
    if reason:
        return Decision(refused(reason))
    pd = ctx.personal_data
    origin = origin_of(card.issuer_region, ctx.region, ctx.partners)
    region = card.issuer_region
    if origin.kind == "foreign":
        return Decision(refused("unknown_issuer", issuer_region=region))
    key = ctx.card_key(province_code(region), card.card_no)
    holder = pd.keyed_hash(card.ssn, "holder")
    partner = origin.partner_region
    if partner is not None:
        known = Outcome(True, None, region, partner, holder, holder)
        return Decision(
            hotlist=(partner, key),
            decide=lambda reads: _refusal_or(known, hotlist_refusal(reads.hotlist.get((partner, key)))),
        )
    ssn_hash = pd.keyed_hash(card.ssn, "ssn")

    def decide(reads: Reads) -> Outcome:
        record = reads.cards.get(key)
        reason = own_card_refusal(record, ssn_hash)
        if record is None or reason in ("unknown_card", "ssn_mismatch"):
            return refused(reason or "unknown_card", issuer_region=region)
        known = Outcome(True, None, record.issuer_region, None, record.holder_key, record.holder_key)
        return _refusal_or(known, reason)

    return Decision(card_key=key, decide=decide)


async def _electronic(ctx: Identity, qr: str) -> Decision:
    try:
        code = parse_qr(qr)
    except QrMalformed:
        return Decision(refused("qr_malformed"))
    claims = code.claims
    origin = origin_of(claims.iss, ctx.region, ctx.partners)
    if origin.kind == "foreign" or province_code(claims.reg) != claims.iss:
        # A region signs only its own cards' codes.
        return Decision(refused("qr_bad_signature", issuer_region=claims.reg))
    public = await ctx.keys.public_key(claims.iss, code.kid)
    if public is None or not signature_valid(code, public):
        return Decision(refused("qr_bad_signature", issuer_region=claims.reg))
    expired = time_refusal(claims, int(ctx.now().timestamp()))
    if expired:
        return Decision(refused(expired, issuer_region=claims.reg, partner_region=origin.partner_region))
    use = ctx.personal_data.keyed_hash(code_use_input(code), CODE_USE_PURPOSE)
    if ctx.code_uses is not None and not ctx.code_uses.claim(use, "identity"):
        # Embedded: payments took this code (ADR 0012); from here on a code counts as used anyway.
        reused = refused("qr_reused", issuer_region=claims.reg, partner_region=origin.partner_region)
        return Decision(_spends(claims, use, reused))
    key = ctx.personal_data.keyed_hash(claims.sub, "card")
    partner = origin.partner_region
    if partner is not None:
        # A partner's code names no person we know; the card key stands in for the holder.
        known = Outcome(True, None, claims.reg, partner, None, key)
        return Decision(
            hotlist=(partner, key),
            decide=lambda reads: _spends(
                claims, use, _refusal_or(known, hotlist_refusal(reads.hotlist.get((partner, key))))
            ),
        )

    def decide(reads: Reads) -> Outcome:
        record = reads.cards.get(key)
        if record is None:
            return _spends(claims, use, refused("unknown_card", issuer_region=claims.reg))
        known = Outcome(True, None, record.issuer_region, None, record.holder_key, record.holder_key)
        return _spends(claims, use, _refusal_or(known, own_card_refusal(record, None)))

    return Decision(card_key=key, decide=decide)


def _refusal_or(known: Outcome, reason: str | None) -> Outcome:
    return known.refused_as(reason) if reason else known


def _spends(claims: QrClaims, use: str, outcome: Outcome) -> Outcome:
    """A genuine, current code is used up by this verification, whatever the card's status; its
    use is known by a keyed hash of `iss:jti`, here, in the event and at payments (ADR 0012)."""
    return replace(outcome, nonce=use, nonce_expires_at=claims.exp)
