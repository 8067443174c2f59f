"""Recording taps an offline validator uploads: each once, judged as of its own time.

A batch is recorded in chunks, each in one unit of work: the taps' rows are claimed first (primary
key (venue, terminal, sequence): a retried or split batch, or two replicas given the same batch,
record nothing twice; a crash mid-batch leaves whole chunks recorded and the retry records the
rest), then the platform's decision and the finding of each new tap (domain/offline/recheck.py),
the codes' uses in the nonce table (a code used at another validator, or online, is `qr_reused`:
`code_used_twice`), and one `verification_recorded` per tap, marked `offline`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from onecard_contracts.ecard_code import (
    CODE_USE_PURPOSE,
    QrMalformed,
    code_use_input,
    parse_qr,
    signature_valid,
)
from onecard_contracts.offline_bundle import OFFLINE_CLOCK_SKEW_SECONDS, VALIDITY_SECONDS
from onecard_contracts.offline_taps import offline_time_refusal
from onecard_contracts.regions import province_code
from onecard_events.model import NewEvent
from onecard_events.sql import chunks
from onecard_events.store import NO_STREAM
from onecard_events.times import aware, rfc3339, utcnow
from onecard_service.auth import Principal
from onecard_service.problems import Problem, not_found
from sqlalchemy.ext.asyncio import AsyncConnection

from ...adapters import queries
from ...adapters.offline import hotlist, taps
from ...adapters.offline.context import Offline
from ...domain import verification as rules
from ...domain.cards import STATUSES
from ...domain.events import OfflineTap, VerificationRecorded
from ...domain.offline.recheck import Judged, StatusChange, finding_of, status_at, within_bundle
from ...domain.verification import CardRecord, Method, Outcome, VenueTerminal, refused
from ..verification import CardRead

CHUNK = 250
# A code's use is kept as long as another validator's tap of it may still arrive: the validity of
# the bundle it was decided on, twice over (the online nonce retention is 10 minutes).
NONCE_KEPT_SECONDS = 2 * VALIDITY_SECONDS


@dataclass(frozen=True)
class UploadedTap:
    sequence: int
    validator_reason: str | None
    occurred_at: datetime
    validator_verified: bool
    method: Method
    bundle_version: int | None = None
    bundle_issued_at: int | None = None
    qr: str | None = None
    card: CardRead | None = None


@dataclass(frozen=True)
class TapAnswer:
    sequence: int
    reason: str | None
    verification_id: str
    finding: str | None
    recorded: bool  # False: recorded by an earlier upload, answered from its row
    verified: bool


@dataclass(frozen=True)
class _Judgement:
    tap: UploadedTap
    outcome: Outcome
    hotlist_seq: int | None = None


def tap_verification_id(venue_id: str, terminal_id: str, sequence: int) -> str:
    """Derived from the tap's identity: a tap recorded twice would collide in the store too."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"onecard-offline-tap|{venue_id}|{terminal_id}|{sequence}"))


async def upload_taps(
    off: Offline, caller: Principal, venue_id: str, terminal_id: str, uploaded: Sequence[UploadedTap]
) -> list[TapAnswer]:
    ctx = off.identity
    if not caller.may_use_venue(venue_id):
        raise Problem(403, "this client may not upload taps of that venue")
    if len({t.sequence for t in uploaded}) != len(uploaded):
        raise Problem(422, "a sequence number appears twice in the batch")
    where = await ctx.venues.get(venue_id, terminal_id)
    if where is None or not where.card_forms:
        await ctx.views.catch_up("catalog")
        where = await ctx.venues.get(venue_id, terminal_id, fresh=True)
    if where is None:
        raise not_found("venue", venue_id)
    answers: list[TapAnswer] = []
    for chunk in chunks(sorted(uploaded, key=lambda t: t.sequence), CHUNK):
        answers += await _record_chunk(off, where, chunk)
    return answers


async def _record_chunk(off: Offline, where: VenueTerminal, chunk: Sequence[UploadedTap]) -> list[TapAnswer]:
    ctx = off.identity
    uploaded_at = utcnow()
    async with ctx.store.unit_of_work() as uow:
        conn = uow.connection
        version = await hotlist.current_version(conn)
        # A retry is answered from the rows, without judging again what was recorded before.
        sequences = [t.sequence for t in chunk]
        earlier = await taps.stored_taps(conn, where.venue_id, where.terminal_id, sequences)
        known = {int(row.sequence) for row in earlier}
        judged = await _Judge.read(off, conn, [t for t in chunk if t.sequence not in known])
        rows = {j.tap.sequence: _row(where, j, version, uploaded_at) for j in judged}
        claimed = await taps.claim_taps(conn, list(rows.values()))
        # Recorded meanwhile by a concurrent upload of the same taps (its commit came first).
        earlier += await taps.stored_taps(
            conn, where.venue_id, where.terminal_id, [s for s in rows if s not in claimed]
        )
        mine = [j for j in judged if j.tap.sequence in claimed]
        mine = await _spend_codes(off, conn, mine)
        corrected = {}
        for j in mine:
            row = _row(where, j, version, uploaded_at)
            if row["reason"] != rows[j.tap.sequence]["reason"]:
                corrected[j.tap.sequence] = {k: row[k] for k in ("verified", "reason", "finding")}
            rows[j.tap.sequence] = row
        await taps.correct_taps(conn, where.venue_id, where.terminal_id, corrected)
        for j in mine:
            event = _event(where, j, rows[j.tap.sequence], uploaded_at)
            uow.record(
                f"verification-{event.verification_id}",
                [NewEvent(event, event_id=event.verification_id)],
                expected_version=NO_STREAM,
            )
        await uow.save()
    for j in mine:
        row = rows[j.tap.sequence]
        off.metrics.observe(j.tap.method, row["finding"], j.outcome.partner_region)
    answers = [_answer(rows[j.tap.sequence], True) for j in mine]
    answers += [_answer(row._mapping, False) for row in earlier]
    return sorted(answers, key=lambda a: a.sequence)


def _answer(row: Any, new: bool) -> TapAnswer:
    return TapAnswer(
        int(row["sequence"]),
        reason=row["reason"],
        verification_id=row["verification_id"],
        finding=row["finding"],
        recorded=new,
        verified=bool(row["verified"]),
    )


def _row(where: VenueTerminal, j: _Judgement, version: int, uploaded_at: datetime) -> dict[str, Any]:
    tap, outcome = j.tap, j.outcome
    in_bundle = within_bundle(
        int(tap.occurred_at.timestamp()), tap.bundle_issued_at, tap.bundle_version, version
    )
    platform = Judged(outcome.verified, outcome.reason, j.hotlist_seq)
    return {
        "venue_id": where.venue_id,
        "terminal_id": where.terminal_id,
        "sequence": tap.sequence,
        "verification_id": tap_verification_id(where.venue_id, where.terminal_id, tap.sequence),
        "method": tap.method,
        "occurred_at": tap.occurred_at,
        "bundle_version": tap.bundle_version,
        "validator_verified": tap.validator_verified,
        "validator_reason": tap.validator_reason,
        "verified": outcome.verified,
        "reason": outcome.reason,
        "finding": finding_of(tap.validator_verified, platform, in_bundle, tap.bundle_version),
        "partner_region": outcome.partner_region,
        "uploaded_at": uploaded_at,
    }


def _event(
    where: VenueTerminal, j: _Judgement, row: dict[str, Any], uploaded_at: datetime
) -> VerificationRecorded:
    tap = j.tap
    event = rules.recorded(row["verification_id"], where, tap.method, j.outcome, rfc3339(tap.occurred_at))
    mark = OfflineTap(
        terminal_sequence=tap.sequence,
        validator_verified=tap.validator_verified,
        validator_reason=tap.validator_reason,
        bundle_version=tap.bundle_version,
        finding=row["finding"],
        uploaded_at=rfc3339(uploaded_at),
    )
    return event.model_copy(update={"offline": mark})


async def _spend_codes(off: Offline, conn: AsyncConnection, mine: list[_Judgement]) -> list[_Judgement]:
    """Consume the codes' uses in tap order; a use already there (another validator, online, an
    earlier tap of this batch, or payments) turns the tap into `qr_reused`."""
    ctx = off.identity
    wanted: dict[str, dict[str, Any]] = {}
    for j in sorted(mine, key=lambda j: j.tap.occurred_at):
        nonce = j.outcome.nonce
        if nonce is not None and nonce not in wanted:
            expires = datetime.fromtimestamp((j.outcome.nonce_expires_at or 0) + NONCE_KEPT_SECONDS, UTC)
            wanted[nonce] = {"nonce": nonce, "expires_at": expires}
    fresh = await queries.consume_nonces(conn, list(wanted.values()))
    result = []
    for j in sorted(mine, key=lambda j: j.tap.occurred_at):
        nonce = j.outcome.nonce
        if nonce is not None:
            shared = ctx.code_uses is None or ctx.code_uses.claim(nonce, "identity")
            if nonce in fresh and shared:
                fresh.discard(nonce)  # the earliest tap has it; later ones are replays
            else:
                j = replace(j, outcome=j.outcome.refused_as("qr_reused"), hotlist_seq=None)
        result.append(j)
    return result


class _Judge:
    """Judges a chunk's taps as of their times, on what one round of reads gave."""

    def __init__(self, off: Offline, conn: AsyncConnection) -> None:
        self.ctx = off.identity
        self.conn = conn
        self.cards: dict[str, CardRecord] = {}
        self.hotlist: dict[tuple[str, str], str] = {}
        self.histories: dict[str, list[StatusChange]] = {}

    @classmethod
    async def read(
        cls, off: Offline, conn: AsyncConnection, chunk: Sequence[UploadedTap]
    ) -> list[_Judgement]:
        judge = cls(off, conn)
        keys = {tap.sequence: judge.card_key(tap) for tap in chunk}
        known = {k for k in keys.values() if k is not None}
        judge.cards = await queries.card_records(conn, known)
        partners = [(region, k) for region in judge.ctx.partners for k in known]
        judge.hotlist = await queries.hotlist_statuses(conn, partners)
        judge.histories = await hotlist.histories(conn, known)
        return [await judge.judge(tap, keys[tap.sequence]) for tap in chunk]

    def card_key(self, tap: UploadedTap) -> str | None:
        if tap.card is not None:
            region = tap.card.issuer_region
            return self.ctx.card_key(province_code(region), tap.card.card_no) if len(region) == 6 else None
        try:
            return self.ctx.personal_data.keyed_hash(parse_qr(tap.qr or "").claims.sub, "card")
        except QrMalformed:
            return None

    def _status_then(self, key: str, tap: UploadedTap, current: str | None) -> tuple[str | None, int | None]:
        status, seq = status_at(self.histories.get(key, []), aware(tap.occurred_at))
        return (status, seq) if status is not None else (current, None)

    async def judge(self, tap: UploadedTap, key: str | None) -> _Judgement:
        if tap.card is not None:
            return self._physical(tap, tap.card, key)
        return await self._electronic(tap, key)

    def _physical(self, tap: UploadedTap, card: CardRead, key: str | None) -> _Judgement:
        region = card.issuer_region
        failed = rules.physical_format_refusal(card.card_no, card.ssn, region)
        origin = rules.origin_of(region, self.ctx.region, self.ctx.partners)
        if failed or key is None:
            return _Judgement(tap, refused(failed or "invalid_card"))
        if origin.kind == "foreign":
            return _Judgement(tap, refused("unknown_issuer", issuer_region=region))
        holder = self.ctx.personal_data.keyed_hash(card.ssn, "holder")
        if origin.partner_region is not None:
            known = Outcome(True, None, region, origin.partner_region, holder, holder)
            return self._partner(tap, key, known)
        return self._own(tap, key, self.ctx.personal_data.keyed_hash(card.ssn, "ssn"), region)

    async def _electronic(self, tap: UploadedTap, key: str | None) -> _Judgement:
        try:
            code = parse_qr(tap.qr or "")
        except QrMalformed:
            return _Judgement(tap, refused("qr_malformed"))
        claims = code.claims
        origin = rules.origin_of(claims.iss, self.ctx.region, self.ctx.partners)
        public = None
        if origin.kind != "foreign" and province_code(claims.reg) == claims.iss:
            public = await self.ctx.keys.public_key(claims.iss, code.kid, self.conn)
        if key is None or public is None or not signature_valid(code, public):
            return _Judgement(tap, refused("qr_bad_signature", issuer_region=claims.reg))
        partner = origin.partner_region
        tap_at = int(tap.occurred_at.timestamp())
        expired = offline_time_refusal(claims, tap_at, OFFLINE_CLOCK_SKEW_SECONDS)
        if expired:
            return _Judgement(tap, refused(expired, issuer_region=claims.reg, partner_region=partner))
        if partner is not None:
            judged = self._partner(tap, key, Outcome(True, None, claims.reg, partner, None, key))
        else:
            judged = self._own(tap, key, None, claims.reg)
        use = self.ctx.personal_data.keyed_hash(code_use_input(code), CODE_USE_PURPOSE)
        return replace(judged, outcome=replace(judged.outcome, nonce=use, nonce_expires_at=claims.exp))

    def _partner(self, tap: UploadedTap, key: str, known: Outcome) -> _Judgement:
        assert known.partner_region is not None
        status, seq = self._status_then(key, tap, self.hotlist.get((known.partner_region, key)))
        reason = rules.hotlist_refusal(status)
        return _Judgement(tap, known.refused_as(reason) if reason else known, seq if reason else None)

    def _own(self, tap: UploadedTap, key: str, ssn_hash: str | None, region: str) -> _Judgement:
        record = self.cards.get(key)
        if record is None:
            return _Judgement(tap, refused("unknown_card", issuer_region=region))
        status, seq = self._status_then(key, tap, record.status)
        then = record if status not in STATUSES else replace(record, status=status)
        reason = rules.own_card_refusal(then, ssn_hash)
        if reason == "ssn_mismatch":
            return _Judgement(tap, refused(reason, issuer_region=region))
        known = Outcome(True, None, record.issuer_region, None, record.holder_key, record.holder_key)
        hotlisted = reason in ("card_lost", "card_cancelled")
        return _Judgement(tap, known.refused_as(reason) if reason else known, seq if hotlisted else None)
