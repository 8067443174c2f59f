"""Event types, their schema versions and the upcasters that lift old payloads to the current one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from .model import DomainEvent, RecordedEvent

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
E = TypeVar("E", bound=type[DomainEvent])


class UnknownEventType(LookupError):
    pass


class EventRegistry:
    """Knows every event type a service records or reads.

    Stored payloads keep the version they were written with; reading lifts them step by step
    (v1 -> v2 -> ...) so the domain only ever sees the current model.
    """

    def __init__(self) -> None:
        self._types: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, cls: E) -> E:
        existing = self._types.get(cls.event_type)
        if existing is not None and existing is not cls:
            raise ValueError(f"event type {cls.event_type!r} registered twice")
        self._types[cls.event_type] = cls
        return cls

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: a function turning a payload of `from_version` into `from_version + 1`."""

        def decorate(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return decorate

    def include(self, other: EventRegistry) -> None:
        for cls in other._types.values():
            self.register(cls)
        self._upcasters.update(other._upcasters)

    def types(self) -> list[str]:
        return sorted(self._types)

    def knows(self, event_type: str) -> bool:
        return event_type in self._types

    def current_version(self, event_type: str) -> int:
        return self.model(event_type).schema_version

    def model(self, event_type: str) -> type[DomainEvent]:
        try:
            return self._types[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def upcast(self, event_type: str, version: int, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Lift a payload to the newest version this registry has upcasters for."""
        target = self._types[event_type].schema_version if event_type in self._types else version
        while version < target:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise LookupError(f"no upcaster for {event_type} v{version}")
            data = step(dict(data))
            version += 1
        return version, data

    def upcast_record(self, record: RecordedEvent) -> RecordedEvent:
        if not self.knows(record.event_type):
            return record
        version, data = self.upcast(record.event_type, record.schema_version, record.data)
        if version == record.schema_version:
            return record
        return replace(record, schema_version=version, data=data)

    def load(self, record: RecordedEvent) -> DomainEvent:
        """The domain event for a record, validated by its model after upcasting."""
        lifted = self.upcast_record(record)
        return self.model(lifted.event_type).model_validate(lifted.data)

    def event_types(self) -> dict[str, type[DomainEvent]]:
        return dict(self._types)
