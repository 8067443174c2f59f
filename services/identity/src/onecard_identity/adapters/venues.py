"""The venue/terminal lookup of the verification hot path, cached in the process.

The catalogue view (catalog_venues/catalog_terminals) changes only when a catalogue event is
applied, which is rare next to verifications. An entry is used while both hold:

- the local catalogue-view projection has applied nothing since the entry was read (its runner's
  `applied` counter, bumped after each commit): a change this process applies takes effect on the
  next verification;
- it is younger than `ttl` (`miss_ttl` for an unknown venue): bounds the staleness when another
  replica applied the change to the shared view.
"""

from __future__ import annotations

import asyncio
import time

from onecard_events.database import Database
from onecard_events.subscription import ProjectionRunner

from ..domain.verification import VenueTerminal
from .queries import venue_terminal

MAX_ENTRIES = 100_000


class VenueTerminals:
    def __init__(self, db: Database, *, ttl: float = 5.0, miss_ttl: float = 1.0) -> None:
        self.db = db
        self.ttl = ttl
        self.miss_ttl = miss_ttl
        self.view: ProjectionRunner | None = None
        self._entries: dict[tuple[str, str], tuple[VenueTerminal | None, float, int]] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[VenueTerminal | None]] = {}

    def follow(self, view: ProjectionRunner) -> None:
        """Drop entries whenever this catalogue-view runner applies events."""
        self.view = view

    def _generation(self) -> int:
        return self.view.applied if self.view is not None else 0

    async def get(self, venue_id: str, terminal_id: str, *, fresh: bool = False) -> VenueTerminal | None:
        """The venue's terminal; `fresh` reads the view past the cache (after a catch-up)."""
        key = (venue_id, terminal_id)
        entry = None if fresh else self._entries.get(key)
        generation = self._generation()
        if entry is not None:
            value, loaded_at, seen = entry
            if seen == generation and time.monotonic() - loaded_at < (self.ttl if value else self.miss_ttl):
                return value
        loading = None if fresh else self._loading.get(key)
        if loading is not None:  # concurrent misses share one read
            return await asyncio.shield(loading)
        future: asyncio.Future[VenueTerminal | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            loaded_at = time.monotonic()
            async with self.db.reads.connect() as conn:
                value = await venue_terminal(conn, venue_id, terminal_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters (if any) get it; none is fine too
            raise
        finally:
            self._loading.pop(key, None)
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (value, loaded_at, generation)
        future.set_result(value)
        return value
