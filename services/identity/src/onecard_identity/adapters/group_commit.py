"""Group commit for the verification hot path.

Each verification must be durably recorded (its event, and the e-card code's nonce) before the
venue gets its answer, and must be decided on the card's current status. One transaction (and a
pooled connection) per request would make the database the bottleneck, so a request does all it
can without the database (venue from a cache, signature check, hashing), then enqueues a
`Decision` and awaits a future. Flushers take *everything* that has queued up (up to `max_batch`)
and, in one transaction:

1. read the status of every card the batch names (one SELECT of our cards, one of partner
   hotlists), so a status change committed anywhere is seen by the next batch, on every replica;
2. decide each verification and insert every code's nonce (one INSERT .. ON CONFLICT DO NOTHING);
3. append every `VerificationRecorded` (one INSERT; ids are fresh uuid4s, so no duplicate check);
4. commit, then answer every request of the batch.

A verification sent with an `Idempotency-Key` claims the key in step 2, before its code's nonce
(one INSERT .. ON CONFLICT DO NOTHING for the batch's keys): a key claimed before answers the
retry with the verification it recorded then, and records nothing, consumes nothing.

The transaction is a unit of work whose loose appends (`uow.record`) are saved as that one
`append_batch`; no aggregate is loaded on this path.

While one flusher commits, the next batch gathers; a lone request waits at most `linger` for company.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from onecard_events.database import Database
from onecard_events.group_commit import Batching, GroupCommit
from onecard_events.model import NewEvent, Position
from onecard_events.store import NO_STREAM, EventStore
from onecard_events.unit_of_work import UnitOfWork
from onecard_service.problems import conflict
from opentelemetry import propagate
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.events import VerificationRecorded
from ..domain.verification import CardRecord, Outcome
from .queries import card_records, claim_request_keys, consume_nonces, hotlist_statuses, stored_request_keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reads:
    """What a batch read in its transaction: our cards by key, partner hotlist by (region, key)."""

    cards: dict[str, CardRecord]
    hotlist: dict[tuple[str, str], str]


@dataclass(frozen=True)
class Decision:
    """A verification as far as it can go without the database.

    Either `outcome` is known already (a refusal on format, signature, expiry or terminal), or
    `decide` turns the batch's reads into it, given the card it depends on: ours (`card_key`) or a
    partner's (`hotlist` = (region, card key)).
    """

    outcome: Outcome | None = None
    card_key: str | None = None
    hotlist: tuple[str, str] | None = None
    decide: Callable[[Reads], Outcome] | None = None

    def resolve(self, reads: Reads) -> Outcome:
        if self.outcome is not None:
            return self.outcome
        assert self.decide is not None
        return self.decide(reads)


Build = Callable[[Outcome], VerificationRecorded]


@dataclass(frozen=True)
class RequestKey:
    """A verification's `Idempotency-Key`, scoped to its client, with a keyed digest of its body."""

    scope: str
    key: str
    digest: str


@dataclass(frozen=True)
class Answer:
    """What the venue is told; `recorded` is None when a retry is answered from the first request."""

    verification_id: str
    verified: bool
    reason: str | None
    cross_region: bool
    person_key: str | None
    recorded: VerificationRecorded | None
    # Where the event landed in the store (for the answer's consistency token); None on a replay.
    position: Position | None = None

    @classmethod
    def of(cls, event: VerificationRecorded, person_key: str | None, *, replay: bool = False) -> Answer:
        return cls(
            event.verification_id,
            event.verified,
            event.reason,
            event.cross_region,
            person_key,
            None if replay else event,
        )


def _trace_context() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@dataclass
class PendingWrite:
    decision: Decision
    build: Build
    request: RequestKey | None = None
    # The request's trace context: the flusher appends outside it, so the event carries it along.
    trace: dict[str, str] = field(default_factory=_trace_context)


def _replayed(event: VerificationRecorded) -> VerificationRecorded:
    return event.model_copy(update={"verified": False, "reason": "qr_reused"})


class GroupCommitter:
    """Verifications through the shared group commit (onecard_events.group_commit), each batch
    written by `_write`."""

    def __init__(
        self,
        db: Database,
        store: EventStore,
        *,
        max_batch: int = 500,
        flushers: int = 2,
        linger: float = 0.002,
    ) -> None:
        self.db = db
        self.store = store
        # SQLite has one writer at a time: a second flusher would only wait on the file lock.
        batching = Batching(max_batch, flushers if db.is_postgres else 1, linger)
        self.commits: GroupCommit[PendingWrite, Answer] = GroupCommit("verifications", self._write, batching)

    async def submit(self, decision: Decision, build: Build, request: RequestKey | None = None) -> Answer:
        """The answer as recorded (a replayed code turns into a `qr_reused` refusal), or the first
        answer to this request's key."""
        return await self.commits.submit(PendingWrite(decision, build, request))

    async def run(self, stop: asyncio.Event) -> None:
        await self.commits.run(stop)

    async def _write(self, batch: Sequence[PendingWrite]) -> list[Answer | Exception]:
        async with self.store.unit_of_work() as uow:
            conn = uow.connection
            reads = await _read(conn, (p.decision for p in batch))
            results: dict[int, Answer | Exception] = {}
            decided, retries = await self._claim_keys(
                uow, [(i, p, p.decision.resolve(reads)) for i, p in enumerate(batch)], results
            )
            wanted = {
                o.nonce: {
                    "nonce": o.nonce,
                    "expires_at": datetime.fromtimestamp(o.nonce_expires_at or 0, UTC),
                }
                for _, _, o, _ in decided
                if o.nonce is not None
            }
            fresh = await consume_nonces(conn, list(wanted.values()))
            for i, pending, outcome, event in decided:
                if outcome.nonce is not None:
                    if outcome.nonce in fresh:
                        fresh.discard(outcome.nonce)  # the first in the batch has it; later ones replay
                    else:
                        event = _replayed(event)
                results[i] = Answer.of(event, outcome.person_key)
                # The id is the verification id, a uuid4 made for this request: fresh, so the
                # store skips its look-up of already stored ids. All of the batch's appends go
                # into one INSERT when the unit of work saves.
                uow.record(
                    f"verification-{event.verification_id}",
                    [NewEvent(event, event_id=event.verification_id, metadata=pending.trace, fresh_id=True)],
                    expected_version=NO_STREAM,
                )
            await uow.save()
        landed = {r.event_id: r.position for r in uow.recorded}
        for i, answer in results.items():
            if isinstance(answer, Answer) and answer.recorded is not None:
                results[i] = replace(answer, position=landed.get(answer.verification_id))
        for i, first in retries.items():
            results[i] = _same_as(results[first], batch[first].request, batch[i].request)
        return [results[i] for i in range(len(batch))]

    async def _claim_keys(
        self,
        uow: UnitOfWork,
        decided: list[tuple[int, PendingWrite, Outcome]],
        results: dict[int, Answer | Exception],
    ) -> tuple[list[tuple[int, PendingWrite, Outcome, VerificationRecorded]], dict[int, int]]:
        """The verifications to record: those without a key, and those whose key this batch claims.
        The others are answered (in `results`) from the verification their key recorded before, or
        are retries of one in this batch (returned: retry's index -> first's index)."""
        built = [(i, p, o, p.build(o)) for i, p, o in decided]
        claims: dict[tuple[str, str], dict[str, Any]] = {}
        first: dict[tuple[str, str], int] = {}
        for i, p, o, event in built:
            if p.request is not None and (p.request.scope, p.request.key) not in claims:
                first[(p.request.scope, p.request.key)] = i
                claims[(p.request.scope, p.request.key)] = {
                    "scope": p.request.scope,
                    "key": p.request.key,
                    "request_hash": p.request.digest,
                    "status_code": 200,
                    "response": orjson.dumps(
                        {"verification_id": event.verification_id, "person_key": o.person_key}
                    ),
                }
        if not claims:
            return built, {}
        claimed = await claim_request_keys(uow.connection, list(claims.values()))
        earlier = await stored_request_keys(uow.connection, [k for k in claims if k not in claimed])
        keep: list[tuple[int, PendingWrite, Outcome, VerificationRecorded]] = []
        retries: dict[int, int] = {}
        for entry in built:
            i, p, _, _ = entry
            if p.request is None:
                keep.append(entry)
                continue
            where = (p.request.scope, p.request.key)
            if where in claimed:
                if first[where] == i:
                    keep.append(entry)
                else:
                    retries[i] = first[where]
                continue
            results[i] = await self._earlier_answer(uow, earlier[where], p.request)
        return keep, retries

    async def _earlier_answer(self, uow: UnitOfWork, row: Any, request: RequestKey) -> Answer | Exception:
        if row.request_hash != request.digest:
            return conflict("Idempotency-Key was used before with a different request body")
        first = orjson.loads(row.response)
        events, _ = await self.store.load(uow.connection, f"verification-{first['verification_id']}")
        recorded = events[0]
        assert isinstance(recorded, VerificationRecorded)
        return Answer.of(recorded, first["person_key"], replay=True)


def _same_as(
    earlier: Answer | Exception, first: RequestKey | None, retry: RequestKey | None
) -> Answer | Exception:
    """The answer to a retry that came in the same batch as its first request."""
    if first is None or retry is None or first.digest != retry.digest:
        return conflict("Idempotency-Key was used before with a different request body")
    return earlier if isinstance(earlier, Exception) else replace(earlier, recorded=None)


async def _read(conn: AsyncConnection, decisions: Iterable[Decision]) -> Reads:
    keys: set[str] = set()
    partner: set[tuple[str, str]] = set()
    for d in decisions:
        if d.outcome is not None:
            continue
        if d.card_key is not None:
            keys.add(d.card_key)
        if d.hotlist is not None:
            partner.add(d.hotlist)
    cards = await card_records(conn, keys) if keys else {}
    hotlist = await hotlist_statuses(conn, partner) if partner else {}
    return Reads(cards, hotlist)
