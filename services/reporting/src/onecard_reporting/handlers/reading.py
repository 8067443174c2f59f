"""What every report answers with: the current snapshot, and the time up to which it reflects
every event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from onecard_events.times import rfc3339

from ..adapters.snapshot import ReportingState
from ..domain.facts import Snapshot


@dataclass(frozen=True)
class Stamped:
    snapshot: Snapshot
    as_of: datetime
    lag_seconds: float

    def head(self) -> dict[str, Any]:
        return {"as_of": rfc3339(self.as_of), "lag_seconds": self.lag_seconds}


async def current(state: ReportingState) -> Stamped:
    snap, as_of = await state.current()
    return Stamped(snap, as_of, state.lag_seconds(as_of))
