"""Aggregates whose methods record the events they trigger, and the one refusal a domain raises.

An aggregate's state is the fold of its events (`apply`). A decision method checks the rules and
calls `self.trigger(event)`, which applies the event at once and keeps it as pending; the unit of
work appends what is pending at the version the aggregate was loaded at. Callers never apply or
re-fold by hand. No I/O here: domain packages import this module, never the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self, TypeVar

from .model import DomainEvent

E = TypeVar("E", bound=DomainEvent)


class Refused(Exception):
    """A command the domain does not allow, in terms the HTTP edge maps to problem+json once.

    `status` follows the contract: 422 for input that is well formed but unacceptable, 409 for a
    command that conflicts with what is recorded, 404 for a target that does not exist. `code` is
    a stable machine-readable reason; `errors` lists (field, message) pairs for field problems.
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int = 409,
        code: str | None = None,
        field: str | None = None,
        errors: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code
        self.errors = errors if errors is not None else ([(field, detail)] if field else [])

    @property
    def field(self) -> str | None:
        return self.errors[0][0] if len(self.errors) == 1 else None


class Aggregate:
    """Base of event-sourced aggregates. Subclasses implement `apply(event)`; decisions call
    `trigger(event)`. `version` is the stream version the aggregate was loaded at."""

    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        raise NotImplementedError

    def trigger(self, event: E) -> E:
        """Apply `event` to this aggregate now and keep it for the unit of work to append."""
        self.apply(event)
        self._pending().append(event)
        return event

    def replay(self, history: Iterable[DomainEvent], version: int | None = None) -> Self:
        """Fold recorded events into this (fresh) aggregate; nothing becomes pending."""
        count = 0
        for event in history:
            self.apply(event)
            count += 1
        # object.__setattr__: frozen dataclass aggregates are folded the same way.
        object.__setattr__(self, "version", count if version is None else version)
        return self

    @property
    def pending_events(self) -> list[DomainEvent]:
        return list(self._pending())

    def collect_events(self) -> list[DomainEvent]:
        """The pending events, handed over once (the unit of work calls this when it saves)."""
        pending = self._pending()
        out = list(pending)
        pending.clear()
        return out

    def _pending(self) -> list[DomainEvent]:
        # Kept in the instance dict so dataclass aggregates need no field for it.
        state: dict[str, Any] = self.__dict__
        return state.setdefault("_pending_events", [])  # type: ignore[no-any-return]
